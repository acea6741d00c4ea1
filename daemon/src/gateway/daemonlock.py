"""One daemon per data directory: an OS lock on ``<data_dir>/daemon.lock`` for the process's life.

Why: two daemons on one data dir share one order journal, and the second one's start settles
the first one's orders in flight (``SENT`` → ``UNKNOWN``) while they are still on the wire.
So ``mtgateway run`` takes this lock before it opens anything in the data dir, and a second
one stops at once with the running one's pid.

The lock is the operating system's, so it goes with the process, however it ends (a crash or
``kill -9`` leaves no stale lock to clean up): ``fcntl.flock`` on POSIX, ``msvcrt.locking`` on
Windows. On Windows the locked byte is far past the pid text, because a locked region cannot
be read by another process and the second daemon reads the pid to name it. The file is never
deleted: unlinking it while another process opens it would let two daemons each hold a lock
on a different file.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Final

from mtgateway_base.files import create_private_file, ensure_private_dir

from .errors import GatewayError

__all__ = ["LOCK_NAME", "DaemonLock", "DataDirInUse"]

LOCK_NAME: Final = "daemon.lock"
#: Windows: the offset of the one locked byte (the pid is written at offset 0).
_WINDOWS_LOCK_OFFSET: Final = 1 << 20


class DataDirInUse(GatewayError):
    """Another process holds the data directory's lock."""

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        who = f"another mtgateway (pid {pid})" if pid is not None else "another mtgateway"
        super().__init__(f"the data dir {data_dir} is in use by {who}; stop it first, or give "
                         "this daemon its own data_dir")
        self.pid = pid


def _try_lock(fd: int) -> bool:
    """Take the lock without waiting; False when another process holds it."""
    try:
        if sys.platform == "win32":
            import msvcrt

            os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


class DaemonLock:
    """The lock of one data directory. :meth:`acquire` once; :meth:`release` (or process
    exit) gives it up."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock and write this process's pid into the file.

        Raises:
            DataDirInUse: another process holds it (the message names its pid).
            InsecurePath: the data directory or the lock file is not private (checked, and
                created 0700/0600, as every data file: ``mtgateway_base/files.py``).
            OSError: the data directory or the file cannot be created.
        """
        ensure_private_dir(self.data_dir)
        create_private_file(self.path)
        fd = os.open(self.path, os.O_RDWR | getattr(os, "O_BINARY", 0)
                     | getattr(os, "O_NOFOLLOW", 0))
        if not _try_lock(fd):
            os.close(fd)
            raise DataDirInUse(self.data_dir, _read_pid(self.path))
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".ljust(16).encode("ascii"))
        self._fd = fd

    def release(self) -> None:
        """Give the lock up; idempotent."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                _unlock(self._fd)
            os.close(self._fd)
            self._fd = None

"""Private files: the data directory and every file in it are the user's alone.

What is in the data directory is enough to act as the user: ``authority.sqlite3`` holds each
token's SHA-256 and hint, which is all an EA needs to pass the bridge handshake (the MAC is
keyed with the hash); the key files sign records and decrypt account passwords; the journal
says what was traded. So, on POSIX:

- the directory is created 0700 and refused at start if group or others have any access to it
  (a directory the user made 0755 lets anyone list it, and reach any file left readable);
- every file is created 0600 with ``O_CREAT | O_EXCL``, then ``fchmod``-ed to exactly 0600 so
  the umask (0 on some service managers, 0277 elsewhere) decides nothing. SQLite gives a
  database's ``-wal``, ``-shm`` and ``-journal`` files the mode of the database file itself
  (``findCreateFileMode`` and ``unixOpenSharedMemory`` in ``os_unix.c``), so creating the
  database file 0600 before SQLite opens it makes its side files 0600 too;
- an existing file with group/other bits, owned by another user, or that is not a regular file
  (a symbolic link: ``O_NOFOLLOW`` alone would fail with a cryptic "too many levels of symbolic
  links") is refused with one line that says what to run.

On Windows mode bits mean nothing: the default data directory is under ``%LOCALAPPDATA%``,
whose inherited ACL admits only the user, SYSTEM and administrators, and these checks are
skipped (``docs/security.md`` says what an operator choosing another directory must do). Every
POSIX-only call is guarded, so the module imports and runs on win32.

This module lives in ``gateway.authority`` because the authority must stand alone; the daemon's
secret store and journal use it too.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from pathlib import Path
from typing import Final

__all__ = ["SQLITE_SIDE_SUFFIXES", "InsecurePath", "check_private_file", "create_private_file",
           "ensure_private_dir", "prepare_private_db", "read_private_file"]

#: The files SQLite keeps beside a database (WAL mode and rollback mode).
SQLITE_SIDE_SUFFIXES: Final = ("-wal", "-shm", "-journal")
_POSIX: Final = sys.platform != "win32"
_OPEN_PRIVATE: Final = (os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0)
                        | getattr(os, "O_NOFOLLOW", 0))


class InsecurePath(PermissionError):
    """A data directory or file that others could read, or that is not what it should be.

    The message is one line naming the path and the command that fixes it; the daemon, the
    console and the CLI print it and exit instead of starting.
    """


def _check_mode(path: Path, info: os.stat_result, *, directory: bool) -> None:
    if not _POSIX:
        return
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        mode = stat.S_IMODE(info.st_mode)
        fix = "chmod 700" if directory else "chmod 600"
        raise InsecurePath(f"{path} is accessible to group or others (mode {mode:o}); refusing "
                           f"to use it. Run: {fix} {path}")
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise InsecurePath(f"{path} belongs to another user (uid {info.st_uid}); refusing to "
                           "use it")


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and any missing parent) 0700 if missing, whatever the umask; refuse
    it if group or others can get in.

    A symbolic link to a directory is followed (a data directory on another disk is normal);
    the check applies to the directory it points to.

    Raises:
        InsecurePath: group/other permission bits, another owner, or not a directory.
    """
    missing = []
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for new in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            new.mkdir(mode=0o700)
            if _POSIX:
                new.chmod(0o700)  # exactly: a umask such as 0277 would leave it unwritable
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise InsecurePath(f"{path} is not a directory")
    _check_mode(path, info, directory=True)


def check_private_file(path: Path) -> bool:
    """Whether ``path`` exists; if it does, that it is a private regular file.

    Raises:
        InsecurePath: a symbolic link or other non-regular file, group/other permission bits,
            or another owner.
    """
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(info.st_mode):
        raise InsecurePath(f"{path} is a symbolic link; data and key files must be regular "
                           "files (move the file itself into the data directory)")
    if not stat.S_ISREG(info.st_mode):
        raise InsecurePath(f"{path} is not a regular file")
    _check_mode(path, info, directory=False)
    return True


def create_private_file(path: Path, data: bytes = b"") -> bool:
    """Create ``path`` holding ``data``, mode exactly 0600, fsynced; False if it existed.

    Raises:
        InsecurePath: (when it existed) as :func:`check_private_file`.
    """
    try:
        fd = os.open(path, _OPEN_PRIVATE, 0o600)
    except FileExistsError:
        check_private_file(path)
        return False
    try:
        if _POSIX:
            os.fchmod(fd, 0o600)  # the umask may have taken the owner's bits too
        if data:
            os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def read_private_file(path: Path) -> bytes | None:
    """The bytes of a private file, or None if there is none.

    Raises:
        InsecurePath: as :func:`check_private_file` (checked again on the open descriptor, so a
            file swapped between the check and the open is refused too).
        OSError: it cannot be read.
    """
    if not check_private_file(path):
        return None
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InsecurePath(f"{path} is not a regular file")
        _check_mode(path, info, directory=False)
        return fh.read()


def prepare_private_db(path: Path) -> None:
    """Make ``path`` ready for SQLite: its directory private, the database file created 0600
    before SQLite first opens it (so its side files inherit 0600), and any side files left by
    an earlier run checked.

    Raises:
        InsecurePath: the directory, the database or a side file is not private.
    """
    ensure_private_dir(path.parent)
    create_private_file(path)
    for suffix in SQLITE_SIDE_SUFFIXES:
        check_private_file(path.with_name(path.name + suffix))

"""Why a test does not run on Windows: one reason per key, as docs/windows.md lists them.

A test that cannot run on Windows says so with ``@pytest.mark.not_on_windows("key")`` (or a
module's ``pytestmark``), never with a ``skipif`` of its own: ``conftest.py`` turns the
marker into a skip on win32 whose reason starts with :data:`PREFIX` and carries the key and the
text below, refuses an unknown key on every platform, and the Windows stage
(``tests/windows/stage.py``) fails on any skip whose reason does not start so. A fixture that
cannot be had on Windows (the throw-away PostgreSQL server) skips with :func:`skip_reason` too.
So every test the stage leaves out is counted and has its reason in one table, which
``tests/windows/test_reasons.py`` holds equal to the table in docs/windows.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["PREFIX", "REASONS", "skip_reason"]

PREFIX: Final = "not on Windows"

REASONS: Final[Mapping[str, str]] = {
    "posix-modes": "checks POSIX file modes (0600, 0700, group and other bits), which Windows "
                   "files do not have: there the data directory's ACL protects them",
    "posix-signals": "stops or freezes a child process with a POSIX signal (SIGTERM, SIGKILL, "
                     "SIGSTOP), which Windows does not have: there a child is stopped by "
                     "Ctrl-Break, tested on its own",
    "unix-socket": "serves or reaches the daemon on a UNIX socket file, which the "
                   "configuration refuses on Windows (the refusal itself is tested there)",
    "rlimit": "fits the connection budget to RLIMIT_NOFILE, a POSIX limit that Windows does "
              "not have",
    "so-reuseport": "spreads one port's connections over console processes with SO_REUSEPORT, "
                    "which Linux has and Windows does not",
    "systemd": "verifies and installs the systemd user unit (systemd-analyze, systemctl), "
               "Linux's service manager; the Windows log-on task is tested beside it",
    "postgresql": "tests the console on PostgreSQL (on the throw-away server tests/pgkit.py "
                  "starts from Debian's binaries, or refusing a database it cannot reach); on "
                  "Windows the console's store is tested on SQLite",
    "symlinks": "creates symbolic links, which need a privilege on Windows",
    "shell": "runs a POSIX shell script (sh, bash)",
    "venv": "builds the distributions and installs them into new virtual environments, and "
            "the embeddable Windows CPython the stage runs on has no venv module",
    "third-party": "runs code written for the MetaTrader5 package (its documentation's "
                   "examples, aiomql, pdmt5, mt5cli, the agent servers), whose dependencies "
                   "(pandas, matplotlib, pandas-ta) the Windows stage does not install",
    "proc": "reads processes' sockets and threads from /proc, which Linux has",
    "installed-set": "maps every module the distributions import to the distribution installed "
                     "for it, and the Windows stage installs neither uvloop (an event loop "
                     "for Linux and macOS) nor the compiled build's mypy_extensions",
    "type-checker": "runs mypy over a bot's source, a development tool (the dev extra) the "
                    "Windows stage does not install; the stubs it reads are the same files on "
                    "every platform",
}


def skip_reason(key: str) -> str:
    """The skip reason for ``key``: :data:`PREFIX`, the key and its text."""
    return f"{PREFIX} ({key}): {REASONS[key]}"

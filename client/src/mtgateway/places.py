"""Where this user's MT Gateway files are, and the one a bot reads when it is told nothing.

``mtgateway setup`` leaves ``check.json`` (the daemon's address and the token of the terminal
it set up last) in the user's data directory. A bot written for the ``MetaTrader5`` package
calls ``initialize()`` with no token and no URL, and the client cannot ask the owner for one:
so when no argument, no ``MTGATEWAY_*`` variable and no state file names where to connect,
the client reads that file (:func:`setup_check_file`, :func:`read_setup_check`), and
``mtgateway check`` does the same through the client.

The data directory's rule lives here, in the client, because the client is the one
distribution a bot has (it depends on nothing, so it cannot stand on the daemon's ground
floor) and both services already stand on it for what a bot shares with them (the token's
proofs, :mod:`mtgateway.credential`): the daemon's and the console's ``data_dir`` default is
:func:`user_data_dir`, so setup writes where a bot looks.

The file holds a live token, so only a file that is this user's alone is read. On POSIX that
is checked on the open descriptor: a regular file (not a symbolic link), owned by the process's
effective user, with no group or other permission bits; another user's file (a bot run with
``sudo`` and another ``HOME``) or one others can read is refused, by name, never read. On
Windows the file is in ``%LOCALAPPDATA%``, inside the profile, whose ACL admits only the user,
SYSTEM and administrators; mode bits mean nothing there, so nothing more is checked.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

__all__ = ["CHECK_FILE", "DATA_DIR_NAME", "SetupCheckRefused", "default_data_dir",
           "read_setup_check", "setup_check_file", "user_data_dir"]

#: The file ``mtgateway setup`` writes into the data directory for ``mtgateway check`` and
#: bots: ``{"rpc_url": ..., "token": ...}``.
CHECK_FILE: Final = "check.json"
#: The data directory's own folder below the platform's per-user data folder.
DATA_DIR_NAME: Final = "mtgateway"
_OPEN_READ: Final = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)


class SetupCheckRefused(PermissionError):
    """The setup's file is there but is not this user's alone (or not a file): not read."""


#: Per platform: the variable naming the per-user data folder, the home variable, and the
#: data folder below the home when the first is unset.
_PLACES: Final = {True: ("LOCALAPPDATA", "USERPROFILE", ("AppData", "Local")),
                  False: ("XDG_DATA_HOME", "HOME", (".local", "share"))}


def _named_base(env: Mapping[str, str], windows: bool) -> Path | None:
    """The per-user data folder as ``env`` names it, or None when it names neither it nor
    the home folder."""
    own, home, below = _PLACES[windows]
    if env.get(own):
        return Path(env[own])
    if env.get(home):
        return Path(env[home]).joinpath(*below)
    return None


def _own_base(windows: bool) -> Path:
    """The per-user data folder of this process's environment, its account's home the last
    resort."""
    return _named_base(os.environ, windows) or Path.home().joinpath(*_PLACES[windows][2])


def default_data_dir() -> Path:
    """This process's per-user data directory (:func:`user_data_dir`): where the daemon and
    the console keep their files when no ``data_dir`` is configured, and so where setup's
    ``check.json`` is."""
    return _own_base(sys.platform == "win32") / DATA_DIR_NAME


def user_data_dir(environ: Mapping[str, str] | None = None,
                  platform: str | None = None) -> Path | None:
    """The per-user data directory: ``%LOCALAPPDATA%\\mtgateway`` on Windows,
    ``$XDG_DATA_HOME/mtgateway`` (``~/.local/share/mtgateway``) elsewhere.

    ``environ`` and ``platform`` default to this process's (then it is
    :func:`default_data_dir`); a test passes its own. With an injected ``environ`` the place
    comes from its variables alone (``LOCALAPPDATA`` or ``USERPROFILE``; ``XDG_DATA_HOME`` or
    ``HOME``), never from this account's home, so None when it names none.
    """
    windows = (platform or sys.platform) == "win32"
    base = _own_base(windows) if environ is None else _named_base(environ, windows)
    return None if base is None else base / DATA_DIR_NAME


def setup_check_file(environ: Mapping[str, str] | None = None,
                     platform: str | None = None) -> Path | None:
    """Where ``mtgateway setup`` writes ``check.json`` for this user (the daemon's default
    data directory): the last place the client looks when it is told nothing."""
    folder = user_data_dir(environ, platform)
    return None if folder is None else folder / CHECK_FILE


def _check_private(path: Path, info: os.stat_result) -> None:
    """Refuse what is not a regular file of this user's alone (POSIX; see the module)."""
    if not stat.S_ISREG(info.st_mode):
        raise SetupCheckRefused(f"{path} is not a regular file: not read")
    if sys.platform == "win32":
        return
    if info.st_uid != os.geteuid():
        raise SetupCheckRefused(f"{path} belongs to another user (uid {info.st_uid}): its "
                                "token is not yours, not read")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SetupCheckRefused(
            f"{path} can be read by others (mode {stat.S_IMODE(info.st_mode):o}): not read; "
            f"run `chmod 600 {path}`, or `mtgateway setup` again, which writes it so")


def read_setup_check(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path`` if it is this user's private file; None if there is none.

    Raises:
        SetupCheckRefused: a symbolic link or other non-regular file, another user's file, or
            one group or others can read (POSIX).
        OSError: it cannot be read.
        ValueError: it is not a JSON object.
    """
    try:
        fd = os.open(path, _OPEN_READ)
    except FileNotFoundError:
        return None
    except OSError:
        if path.is_symlink():  # O_NOFOLLOW's "too many levels of symbolic links", said plainly
            raise SetupCheckRefused(f"{path} is a symbolic link: not read") from None
        raise
    with os.fdopen(fd, "rb") as fh:
        _check_private(path, os.fstat(fh.fileno()))
        state = json.loads(fh.read().decode("utf-8"))
    if not isinstance(state, dict):
        raise ValueError(f"{path} holds no JSON object")
    return state

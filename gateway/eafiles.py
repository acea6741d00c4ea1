"""The MQL5 Expert Advisor's source files: where they ship, and copying them into a terminal.

The EA ships inside the ``ea_bridge`` package (``ea_bridge/mql/MQL5``), so ``pip install``
brings the EA matching this daemon's protocol. ``mtgateway ea path`` prints that folder;
``mtgateway ea install --terminal-dir DIR`` copies the files into a terminal's data folder
(MetaTrader: *File → Open Data Folder*), where MetaEditor compiles them (docs/terminal.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

__all__ = ["EA_FILES", "InstallError", "Installed", "ea_source_dir", "install_ea"]

#: The EA's files, relative to an MQL5 folder.
EA_FILES = (
    "Experts/MTGateway.mq5",
    "Include/MTGateway/Bytes.mqh",
    "Include/MTGateway/Crypto.mqh",
    "Include/MTGateway/Encode5.mqh",
    "Include/MTGateway/Events5.mqh",
    "Include/MTGateway/History5.mqh",
    "Include/MTGateway/Ids.mqh",
    "Include/MTGateway/Json.mqh",
    "Include/MTGateway/Methods5.mqh",
    "Include/MTGateway/Session.mqh",
    "Indicators/MTGateway/Helper.mq5",
)

#: The includes the MQL4 EA shares with the MQL5 one (the same text compiles in both
#: languages), relative to an MQL5 or MQL4 folder: they ship once, under ``mql/MQL5``.
SHARED_INCLUDES = (
    "Include/MTGateway/Bytes.mqh",
    "Include/MTGateway/Crypto.mqh",
    "Include/MTGateway/Json.mqh",
)

#: The MQL4 EA's own files, relative to an MQL4 folder (``mql/MQL4``).
EA4_FILES = (
    "Experts/MTGateway.mq4",
    "Include/MTGateway/Encode4.mqh",
    "Include/MTGateway/Events4.mqh",
    "Include/MTGateway/Methods4.mqh",
    "Include/MTGateway/Session4.mqh",
    "Include/MTGateway/Winsock4.mqh",
)


class InstallError(Exception):
    """The target is not a terminal's data folder, or a file could not be written."""


@dataclass(frozen=True)
class Installed:
    """What ``install_ea`` did: the MQL5 folder used and each file written (replaced or new)."""

    mql5_dir: Path
    written: tuple[tuple[Path, bool], ...]


def ea_source_dir() -> Path:
    """The ``MQL5`` folder of the EA that ships with this installation."""
    return Path(str(files("ea_bridge").joinpath("mql", "MQL5")))


def _mql5_dir(terminal_dir: Path) -> Path:
    """The terminal's ``MQL5`` folder: ``terminal_dir/MQL5``, or ``terminal_dir`` itself."""
    if not terminal_dir.is_dir():
        raise InstallError(f"{terminal_dir} is not a folder; in MetaTrader use File > Open Data "
                           "Folder and pass that folder")
    for candidate in (terminal_dir / "MQL5", terminal_dir):
        if candidate.name == "MQL5" and (candidate / "Experts").is_dir():
            return candidate
    raise InstallError(f"{terminal_dir} has no MQL5/Experts folder: it is not a MetaTrader 5 "
                       "data folder (in MetaTrader: File > Open Data Folder)")


def _refuse_link(path: Path) -> None:
    if path.is_symlink():
        raise InstallError(f"{path} is a symbolic link; ea install never writes through links "
                           "(it would change the file or folder the link points to). Remove "
                           "the link, or copy the files by hand from `mtgateway ea path`")


def _write_file(origin: Path, dest: Path) -> None:
    """Copy ``origin`` to ``dest`` through a temporary file and a rename: a rename replaces
    what is at ``dest`` itself, so a link put there meanwhile is replaced, never followed."""
    tmp = dest.with_name(f".{dest.name}.mtgateway-tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
                 | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(origin.read_bytes())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def install_ea(terminal_dir: Path, source: Path | None = None) -> Installed:
    """Copy the EA into ``terminal_dir``'s MQL5 folder, replacing older copies.

    Nothing is written through a symbolic link (issue: a link placed at
    ``MQL5/Include/MTGateway`` or ``MQL5/Experts/MTGateway.mq5`` would make the install write
    wherever it points): every folder and file on the way below the MQL5 folder is checked
    before anything is written, and each file is written as a new file renamed into place.

    Raises:
        InstallError: not a data folder, a source file missing, a link on the way, or a copy
            failing.
    """
    src = source or ea_source_dir()
    target = _mql5_dir(terminal_dir)
    for rel in EA_FILES:
        origin = src / rel
        if not origin.is_file():
            raise InstallError(f"the EA source {origin} is missing: reinstall mtgateway")
        step = target
        for part in Path(rel).parts:
            step = step / part
            _refuse_link(step)
    written: list[tuple[Path, bool]] = []
    for rel in EA_FILES:
        dest = target / rel
        existed = dest.exists()
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            _refuse_link(dest.parent)
            _write_file(src / rel, dest)
        except OSError as exc:
            raise InstallError(f"cannot write {dest}: {exc.strerror or exc}") from None
        written.append((dest, existed))
    return Installed(target, tuple(written))

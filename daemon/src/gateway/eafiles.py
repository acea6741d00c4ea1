"""The Expert Advisors' source files: where they ship, and copying them into a terminal.

The EAs ship inside the ``ea_bridge`` package (``ea_bridge/mql/MQL5`` and ``mql/MQL4``), so
``pip install`` brings the EA matching this daemon's protocol. ``mtgateway ea path`` prints the
MQL5 and the MQL4 folder (``--mt5``/``--mt4``: that one alone, for scripts); ``mtgateway ea
install --terminal-dir DIR`` copies the EA into a terminal's data folder (MetaTrader: *File →
Open Data Folder*): the MQL5 EA into an ``MQL5`` folder, the MQL4 EA (with the includes it
shares with the MQL5 one) into an ``MQL4`` folder, where MetaEditor compiles them
(docs/terminal.md). It removes the compiled files of the programs it replaces
(:data:`COMPILED`): the EA carries its helper as a resource, and an old ``Helper.ex5`` left
beside a new ``Helper.mq5`` would be built into the next EA compiled without the helper first;
with it gone, that compile fails ("resource file not found") instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

__all__ = ["COMPILED", "EA4_FILES", "EA_FILES", "SHARED_INCLUDES", "InstallError", "Installed",
           "ea4_source_dir", "ea_source_dir", "install_ea"]

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


#: The compiled programs each platform's install makes stale, relative to its MQL folder.
COMPILED = {
    "MT5": ("Experts/MTGateway.ex5", "Indicators/MTGateway/Helper.ex5"),
    "MT4": ("Experts/MTGateway.ex4",),
}


class InstallError(Exception):
    """The target is not a terminal's data folder, or a file could not be written."""


@dataclass(frozen=True)
class Installed:
    """What ``install_ea`` did: the MQL5 or MQL4 folder used, the platform it belongs to
    (``"MT5"``/``"MT4"``), each file written (replaced or new) and each compiled file removed."""

    mql_dir: Path
    platform: str
    written: tuple[tuple[Path, bool], ...]
    removed: tuple[Path, ...] = ()


def ea_source_dir() -> Path:
    """The ``MQL5`` folder of the EA that ships with this installation."""
    return Path(str(files("ea_bridge").joinpath("mql", "MQL5")))


def ea4_source_dir() -> Path:
    """The ``MQL4`` folder of the MQL4 EA that ships with this installation (its
    :data:`SHARED_INCLUDES` are under :func:`ea_source_dir`)."""
    return ea_source_dir().parent / "MQL4"


def _mql_dir(terminal_dir: Path) -> Path:
    """The terminal's ``MQL5`` or ``MQL4`` folder: ``terminal_dir/MQL5`` or ``terminal_dir/MQL4``,
    or ``terminal_dir`` itself when it is one of them."""
    if not terminal_dir.is_dir():
        raise InstallError(f"{terminal_dir} is not a folder; in MetaTrader use File > Open Data "
                           "Folder and pass that folder")
    found = [c for c in (terminal_dir / "MQL5", terminal_dir / "MQL4", terminal_dir)
             if c.name in ("MQL5", "MQL4") and (c / "Experts").is_dir()]
    if len(found) > 1:
        raise InstallError(f"{terminal_dir} has both MQL5/ and MQL4/ folders: pass the one of "
                           "the terminal to install into (MQL5 for MetaTrader 5, MQL4 for 4)")
    if not found:
        raise InstallError(f"{terminal_dir} has no MQL5/Experts or MQL4/Experts folder: it is "
                           "not a MetaTrader 5 or MetaTrader 4 data folder (in MetaTrader: File "
                           "> Open Data Folder)")
    return found[0]


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
    """Copy the EA of the terminal's platform into its MQL5 or MQL4 folder, replacing older
    copies. ``source`` is the MQL5 folder the EAs ship in (its sibling ``MQL4`` holds the MT4
    EA's own files; the includes both EAs share ship once, in the MQL5 folder).

    The compiled files of the replaced programs (:data:`COMPILED`) are removed afterwards, so
    an EA compiled from the new sources never carries an old helper.

    Nothing is written through a symbolic link (issue: a link placed at
    ``MQL5/Include/MTGateway`` or ``MQL5/Experts/MTGateway.mq5`` would make the install write
    wherever it points): every folder and file on the way below the MQL5 folder is checked
    before anything is written, and each file is written as a new file renamed into place.

    Raises:
        InstallError: not a data folder, a source file missing, a link on the way, or a copy
            failing.
    """
    src = source or ea_source_dir()
    target = _mql_dir(terminal_dir)
    platform = "MT5" if target.name == "MQL5" else "MT4"
    if target.name == "MQL5":
        files = [(src / rel, rel) for rel in EA_FILES]
    else:
        files = [(src.parent / "MQL4" / rel, rel) for rel in EA4_FILES]  # ea4_source_dir()
        files += [(src / rel, rel) for rel in SHARED_INCLUDES]
    for origin, rel in files:
        if not origin.is_file():
            raise InstallError(f"the EA source {origin} is missing: reinstall mtgateway")
        step = target
        for part in Path(rel).parts:
            step = step / part
            _refuse_link(step)
    written: list[tuple[Path, bool]] = []
    for origin, rel in files:
        dest = target / rel
        existed = dest.exists()
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            _refuse_link(dest.parent)
            _write_file(origin, dest)
        except OSError as exc:
            raise InstallError(f"cannot write {dest}: {exc.strerror or exc}") from None
        written.append((dest, existed))
    removed: list[Path] = []
    for rel in COMPILED[platform]:
        stale = target / rel
        _refuse_link(stale.parent)
        try:
            if stale.is_file() or stale.is_symlink():
                stale.unlink()
                removed.append(stale)
        except OSError as exc:
            raise InstallError(f"cannot remove {stale} (compiled from the sources just "
                               f"replaced): {exc.strerror or exc}") from None
    return Installed(target, platform, tuple(written), tuple(removed))

"""The MetaTrader terminals on this machine, found where MetaTrader keeps them.

A MetaTrader 5 or 4 terminal installed the usual way keeps its data (the ``MQL5`` or ``MQL4``
folder the EA goes into, its ``config``, its logs) in a folder of its own under
``%APPDATA%\\MetaQuotes\\Terminal\\``, named by a 32-character hash of its install path, with an
``origin.txt`` there naming that install folder (the one holding ``terminal64.exe`` and
``metaeditor64.exe``, or ``terminal.exe`` and ``metaeditor.exe`` for MetaTrader 4). *File →
Open Data Folder* in the terminal opens it. A terminal started with ``/portable`` keeps its data
in its install folder instead: such a folder is given by hand (``--terminal-dir``).

On Linux and macOS MetaTrader runs under Wine (``wine``), and a terminal is looked for in each
Wine prefix where MetaQuotes' installs put one: the same data folders under the prefix's
``drive_c/users/<user>/AppData/Roaming/MetaQuotes/Terminal``, whose ``origin.txt`` names a
Windows path of that prefix (``C:\\Program Files\\MetaTrader 5``), and install folders under
its ``Program Files`` that hold the terminal and its ``MQL5`` (or ``MQL4``) folder: Wine has no
User Account Control, so a terminal installed there keeps its data beside itself. An install
folder that a data folder's ``origin.txt`` also names is one terminal, not two: the folder it
last wrote its daily log in (``logs\\YYYYMMDD.log``) is the one it uses, the install folder
when neither has a log.

The account the terminal last logged into is read from its ``config\\common.ini`` (``[Common]``
``Login`` and ``Server``) when it is there, as a suggestion the owner confirms: the token must
name exactly the account the terminal is logged into, and only the owner knows which that is.
"""

from __future__ import annotations

import configparser
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from . import wine

__all__ = ["METAEDITOR", "TERMINAL_EXE", "Terminal", "find_terminals", "read_text", "searched",
           "terminal_at", "terminals_root"]

Platform = Literal["MT5", "MT4"]
#: Each platform's MetaEditor, in the terminal's install folder.
METAEDITOR: Final[dict[Platform, str]] = {"MT5": "metaeditor64.exe", "MT4": "metaeditor.exe"}
#: Each platform's terminal, which marks an install folder.
TERMINAL_EXE: Final[dict[Platform, str]] = {"MT5": "terminal64.exe", "MT4": "terminal.exe"}


@dataclass(frozen=True)
class Terminal:
    """One terminal's data folder and what it says about itself."""

    data_dir: Path
    platform: Platform
    #: The install folder ``origin.txt`` names (None: no ``origin.txt``, a portable terminal
    #: or a folder given by hand; then its data folder is where MetaEditor would be).
    install_dir: Path | None
    #: The account ``config\\common.ini`` names, when it does.
    login: int | None = None
    server: str = ""
    #: The Wine prefix the terminal is in (None: on Windows, or not in one): its MetaEditor is
    #: started under Wine there, with Windows paths.
    prefix: Path | None = None

    @property
    def id(self) -> str:
        """The data folder's name: MetaTrader's hash of the install path."""
        return self.data_dir.name

    @property
    def mql_dir(self) -> Path:
        return self.data_dir / ("MQL5" if self.platform == "MT5" else "MQL4")

    @property
    def metaeditor(self) -> Path | None:
        """This terminal's MetaEditor, when it is where MetaTrader installs it."""
        for folder in (self.install_dir, self.data_dir):
            if folder is not None and (folder / METAEDITOR[self.platform]).is_file():
                return folder / METAEDITOR[self.platform]
        return None

    @property
    def portable(self) -> bool:
        """Whether the terminal keeps its data in its install folder (started with
        ``/portable``, or a Wine install under ``Program Files``): its MetaEditor must be
        started with ``/portable`` too, or it takes a data folder under ``AppData``, where
        the EA's sources are not."""
        return self.install_dir is None or self.install_dir.resolve() == self.data_dir.resolve()

    @property
    def where(self) -> str:
        """The folder an owner knows the terminal by: where MetaTrader is installed (the
        data folder's name is a hash no owner has seen), else the folder given by hand."""
        return str(self.install_dir or self.data_dir)

    def describe(self) -> str:
        """One line naming the terminal as its owner knows it: "MetaTrader 5 in C:\\Program
        Files\\MetaTrader 5 (last account 5012345 @ MTG-Demo)"."""
        account = f" (last account {self.login} @ {self.server})" if self.login else ""
        return f"MetaTrader {self.platform[2]} in {self.where}{account}"


def read_text(path: Path) -> str:
    """A text file MetaTrader wrote: UTF-16 with its byte-order mark (as it writes
    ``origin.txt``, ``common.ini``, presets and logs), else UTF-8."""
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    return raw.decode("utf-8-sig", errors="replace")


def terminals_root() -> Path:
    """``%APPDATA%\\MetaQuotes\\Terminal``, where a Windows terminal's data folder is."""
    appdata = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
    return Path(appdata) / "MetaQuotes" / "Terminal"


def searched() -> str:
    """Where :func:`find_terminals` looks on this machine, in the owner's words (for "no
    terminal found")."""
    if sys.platform == "win32":
        return "under %APPDATA%\\MetaQuotes\\Terminal"
    places = "$WINEPREFIX, ~/.wine and ~/.mt5"
    if sys.platform == "darwin":
        places += (", the MetaTrader apps' ~/Library/Application Support/"
                   "net.metaquotes.wine.metatrader5 (and 4) and CrossOver's bottles")
    return f"in the Wine prefixes {places}"


def _in_prefix(prefix: Path) -> list[Path]:
    """The folders of ``prefix`` a terminal may keep its data in: each user's
    ``AppData\\Roaming\\MetaQuotes\\Terminal\\<hash>`` with an ``origin.txt`` (``Application
    Data`` in older Wine), then each install folder under ``Program Files`` (and ``(x86)``)
    holding the terminal."""
    folders: list[Path] = []
    users = prefix / "drive_c" / "users"
    for user in sorted(users.iterdir()) if users.is_dir() else []:
        for roaming in (Path("AppData") / "Roaming", Path("Application Data")):
            base = user / roaming / "MetaQuotes" / "Terminal"
            if base.is_dir():
                folders += [f for f in sorted(base.iterdir())
                            if f.is_dir() and (f / "origin.txt").is_file()]
    for programs in ("Program Files", "Program Files (x86)"):
        base = prefix / "drive_c" / programs
        if base.is_dir():
            folders += [f for f in sorted(base.iterdir())
                        if any((f / exe).is_file() for exe in TERMINAL_EXE.values())]
    return folders


def _account(data_dir: Path) -> tuple[int | None, str]:
    path = data_dir / "config" / "common.ini"
    if not path.is_file():
        return None, ""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(read_text(path))
        login = parser.get("Common", "Login", fallback="").strip()
        server = parser.get("Common", "Server", fallback="").strip()
    except (configparser.Error, OSError, UnicodeError):
        return None, ""
    return (int(login), server) if login.isdigit() and int(login) > 0 and server else (None, "")


def terminal_at(folder: Path, prefix: Path | None = None) -> Terminal | None:
    """The terminal whose data folder is ``folder`` (or its ``MQL5``/``MQL4`` folder), None
    when it is not one: no ``MQL5\\Experts`` or ``MQL4\\Experts`` folder in it. ``prefix``: the
    Wine prefix it is in (by default, the one its path lies in, if any), whose drives its
    ``origin.txt`` is read with. A folder holding the terminal itself is its own install
    folder."""
    if folder.name in ("MQL5", "MQL4"):
        folder = folder.parent
    platforms = [p for p, mql in (("MT5", "MQL5"), ("MT4", "MQL4"))
                 if (folder / mql / "Experts").is_dir()]
    if len(platforms) != 1:
        return None
    platform: Platform = "MT5" if platforms[0] == "MT5" else "MT4"
    if prefix is None and sys.platform != "win32":
        prefix = wine.prefix_of(folder.absolute())
    install: Path | None = None
    origin = folder / "origin.txt"
    if origin.is_file():
        try:
            named = read_text(origin).strip().splitlines()
        except OSError:
            named = []
        if named and named[0].strip():
            written = named[0].strip()
            mapped = wine.unix_path(written, prefix) if prefix is not None else None
            install = mapped if mapped is not None else Path(written)
    elif (folder / TERMINAL_EXE[platform]).is_file():
        install = folder
    login, server = _account(folder)
    return Terminal(folder, platform, install, login, server, prefix)


def find_terminals(root: Path | None = None, extra: Iterable[Path] = ()) -> list[Terminal]:
    """The terminals on this machine, then the folders in ``extra``, each once: on Windows
    every data folder under ``root`` (:func:`terminals_root` by default) that holds an
    ``origin.txt``; elsewhere (``root`` not given) those of each Wine prefix
    (:func:`gateway.setup.wine.prefixes`), in its users' ``AppData`` and its ``Program
    Files``."""
    candidates: list[tuple[Path, Path | None]] = []
    if root is not None or sys.platform == "win32":
        base = root if root is not None else terminals_root()
        if base.is_dir():
            candidates += [(f, None) for f in sorted(base.iterdir(), key=lambda p: p.name)
                           if f.is_dir() and (f / "origin.txt").is_file()]
    else:
        for each in wine.prefixes():
            candidates += [(f, each) for f in _in_prefix(each)]
    scanned = [t for t in (terminal_at(f, p) for f, p in candidates) if t is not None]
    found: list[Terminal] = []
    seen: set[Path] = set()
    for terminal in [*_one_per_install(scanned), *(terminal_at(f) for f in extra)]:
        if terminal is not None and terminal.data_dir.resolve() not in seen:
            found.append(terminal)
            seen.add(terminal.data_dir.resolve())
    return found


def _last_log(terminal: Terminal) -> float:
    """When the terminal last wrote its daily log (0: never)."""
    logs = terminal.data_dir / "logs"
    try:
        return max((entry.stat().st_mtime for entry in logs.iterdir()), default=0.0)
    except OSError:
        return 0.0


def _one_per_install(found: list[Terminal]) -> list[Terminal]:
    """``found`` less the terminals that are another one's install too: under Wine an
    install folder may hold ``MQL5`` while a data folder under ``AppData`` names it in its
    ``origin.txt``; the one the terminal last logged in stays (the install folder, where it
    keeps its data under Wine, when neither has a log)."""
    kept = list(found)
    for terminal in found:
        if terminal.portable or terminal.install_dir is None:
            continue
        home = next((t for t in found if t.portable and t is not terminal
                     and t.data_dir.resolve() == terminal.install_dir.resolve()), None)
        if home is not None:
            stale = home if _last_log(terminal) > _last_log(home) else terminal
            if stale in kept:
                kept.remove(stale)
    return kept

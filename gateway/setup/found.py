"""The MetaTrader terminals on this machine, found where MetaTrader keeps them.

A MetaTrader 5 or 4 terminal installed the usual way keeps its data (the ``MQL5`` or ``MQL4``
folder the EA goes into, its ``config``, its logs) in a folder of its own under
``%APPDATA%\\MetaQuotes\\Terminal\\``, named by a 32-character hash of its install path, with an
``origin.txt`` there naming that install folder (the one holding ``terminal64.exe`` and
``metaeditor64.exe``, or ``terminal.exe`` and ``metaeditor.exe`` for MetaTrader 4). *File →
Open Data Folder* in the terminal opens it. A terminal started with ``/portable`` keeps its data
in its install folder instead: such a folder is given by hand (``--terminal-dir``).

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

__all__ = ["METAEDITOR", "Terminal", "find_terminals", "read_text", "terminal_at",
           "terminals_root"]

Platform = Literal["MT5", "MT4"]
#: Each platform's MetaEditor, in the terminal's install folder.
METAEDITOR: Final[dict[Platform, str]] = {"MT5": "metaeditor64.exe", "MT4": "metaeditor.exe"}


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
    """``%APPDATA%\\MetaQuotes\\Terminal`` on Windows; elsewhere the same folder inside the
    default Wine prefix (``$WINEPREFIX`` or ``~/.wine``), where MetaTrader runs on Linux."""
    if sys.platform == "win32":
        appdata = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
        return Path(appdata) / "MetaQuotes" / "Terminal"
    prefix = Path(os.environ.get("WINEPREFIX") or Path.home() / ".wine")
    user = os.environ.get("USER") or "root"
    return prefix / "drive_c" / "users" / user / "AppData" / "Roaming" / "MetaQuotes" / "Terminal"


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


def terminal_at(folder: Path) -> Terminal | None:
    """The terminal whose data folder is ``folder`` (or its ``MQL5``/``MQL4`` folder), None
    when it is not one: no ``MQL5\\Experts`` or ``MQL4\\Experts`` folder in it."""
    if folder.name in ("MQL5", "MQL4"):
        folder = folder.parent
    platforms = [p for p, mql in (("MT5", "MQL5"), ("MT4", "MQL4"))
                 if (folder / mql / "Experts").is_dir()]
    if len(platforms) != 1:
        return None
    install: Path | None = None
    origin = folder / "origin.txt"
    if origin.is_file():
        try:
            named = read_text(origin).strip().splitlines()
        except OSError:
            named = []
        if named and named[0].strip():
            install = Path(named[0].strip())
    login, server = _account(folder)
    platform: Platform = "MT5" if platforms[0] == "MT5" else "MT4"
    return Terminal(folder, platform, install, login, server)


def find_terminals(root: Path | None = None, extra: Iterable[Path] = ()) -> list[Terminal]:
    """Every terminal's data folder under ``root`` (:func:`terminals_root` by default) that
    holds an ``origin.txt``, then the folders in ``extra``, in that order, each once."""
    found: list[Terminal] = []
    base = root if root is not None else terminals_root()
    if base.is_dir():
        for folder in sorted(base.iterdir(), key=lambda p: p.name):
            if folder.is_dir() and (folder / "origin.txt").is_file():
                terminal = terminal_at(folder)
                if terminal is not None:
                    found.append(terminal)
    seen = {t.data_dir.resolve() for t in found}
    for folder in extra:
        terminal = terminal_at(folder)
        if terminal is not None and terminal.data_dir.resolve() not in seen:
            found.append(terminal)
            seen.add(terminal.data_dir.resolve())
    return found

"""MetaTrader under Wine, on Linux and macOS: where its prefixes are, their Windows paths, and
how a Windows program of theirs is started with the command line it would get on Windows.

MetaQuotes ships MetaTrader for Linux and macOS as the Windows program in a Wine prefix (a
folder holding a ``drive_c`` and the ``dosdevices`` that map drive letters to folders):

- **Linux**: MetaQuotes' install script (``mt5ubuntu.sh``) makes the prefix ``~/.mt5`` and
  installs into ``drive_c/Program Files/MetaTrader 5``; an install by hand goes into Wine's
  default prefix ``~/.wine``, or into the one ``$WINEPREFIX`` names.
- **macOS**: the *MetaTrader 5* app keeps its prefix in ``~/Library/Application
  Support/net.metaquotes.wine.metatrader5`` (*MetaTrader 4*: ``…metatrader4``, installed into
  ``drive_c/Program Files (x86)/MetaTrader 4``), and runs it with the Wine inside the app
  (``/Applications/MetaTrader 5.app/Contents/SharedSupport/wine/bin/wine64``), which is not on
  ``PATH``. A CrossOver bottle (``~/Library/Application Support/CrossOver/Bottles/<name>``) is
  a prefix too.

Wine has no User Account Control, so a terminal installed under ``Program Files`` may keep its
data (the ``MQL5`` folder) in its install folder rather than under ``AppData`` (``found``
looks in both).

A path's Windows name is read from the prefix's ``dosdevices`` (``c:`` → ``../drive_c``,
``z:`` → ``/``), as ``winepath -w`` reads it, without starting Wine. MetaEditor reads its
switches from its raw command line (``/compile:"C:\\…\\Helper.mq5"``: quotes after the
colon), and Wine quotes and escapes every argument it is given that holds a blank or a quote
(``"/compile:\\"…\\""``), which MetaEditor does not read. So the command line is handed over
whole, in an environment variable ``cmd /c`` expands before it parses the line: what runs is
exactly the line Windows would run, blanks and non-ASCII names included (Wine converts the
environment from UTF-8; a batch file would be read in the console's code page).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path, PureWindowsPath
from typing import Final

__all__ = ["COMMAND_VARIABLE", "cmd_argv", "is_prefix", "prefix_of", "prefixes", "unix_path",
           "wine_environment", "wine_program", "windows_path"]

#: The environment variable ``cmd /c`` expands into the command line it runs.
COMMAND_VARIABLE: Final = "MTGATEWAY_WINE_COMMAND"
_MAC_SUPPORT: Final = Path("Library") / "Application Support"
#: The prefixes MetaQuotes' macOS apps make, and the app whose Wine runs each.
_MAC_APPS: Final = (("net.metaquotes.wine.metatrader5", "MetaTrader 5.app"),
                    ("net.metaquotes.wine.metatrader4", "MetaTrader 4.app"))


def is_prefix(folder: Path) -> bool:
    """A Wine prefix: a folder with a ``drive_c`` (its ``dosdevices`` and registry are made
    by Wine at its first start, and read here only when there)."""
    return (folder / "drive_c").is_dir()


def prefixes(environ: Mapping[str, str] | None = None, home: Path | None = None,
             platform: str = sys.platform) -> list[Path]:
    """The Wine prefixes on this machine where MetaTrader may be, each once, in this order:
    ``$WINEPREFIX``, ``~/.wine``, ``~/.mt5`` (MetaQuotes' Linux script), then on macOS the
    MetaTrader apps' prefixes and CrossOver's bottles. None on Windows."""
    if platform == "win32":
        return []
    env = os.environ if environ is None else environ
    base = Path.home() if home is None else home
    found: list[Path] = []
    candidates: list[Path] = []
    if env.get("WINEPREFIX"):
        candidates.append(Path(env["WINEPREFIX"]).expanduser())
    candidates += [base / ".wine", base / ".mt5"]
    if platform == "darwin":
        support = base / _MAC_SUPPORT
        candidates += [support / name for name, _ in _MAC_APPS]
        for bottles in (support / "CrossOver" / "Bottles", support / "MetaTrader 5" / "Bottles"):
            if bottles.is_dir():
                candidates += sorted(p for p in bottles.iterdir() if p.is_dir())
    for candidate in candidates:
        if is_prefix(candidate) and all(candidate.resolve() != f.resolve() for f in found):
            found.append(candidate)
    return found


def prefix_of(path: Path) -> Path | None:
    """The Wine prefix ``path`` lies in (a folder given by hand), or None."""
    for folder in (path, *path.parents):
        if folder.name == "drive_c":
            return folder.parent
    return None


def _drives(prefix: Path) -> list[tuple[str, Path]]:
    """The prefix's drive letters and the folders they map to, longest folder first (so
    ``c:`` wins over ``z:`` for a path inside ``drive_c``); ``c:`` and ``z:`` as Wine makes
    them when the prefix has no ``dosdevices``."""
    drives: list[tuple[str, Path]] = []
    devices = prefix / "dosdevices"
    if devices.is_dir():
        for link in devices.iterdir():
            if len(link.name) == 2 and link.name[1] == ":" and link.name[0].isalpha():
                try:
                    drives.append((link.name[0].upper(), (devices / link).resolve()))
                except OSError:
                    continue
    if not drives:
        drives = [("C", (prefix / "drive_c").resolve()), ("Z", Path("/"))]
    return sorted(drives, key=lambda d: len(d[1].parts), reverse=True)


def windows_path(path: Path, prefix: Path) -> str:
    """``path`` as the Windows programs of ``prefix`` name it: ``C:\\Program Files\\…`` inside
    ``drive_c``, ``Z:\\home\\…`` elsewhere (Wine's ``z:`` is ``/``), as ``winepath -w``."""
    absolute = path.resolve()
    for letter, folder in _drives(prefix):
        if absolute == folder or folder in absolute.parents:
            rest = absolute.relative_to(folder).parts
            return f"{letter}:\\" + "\\".join(rest)
    return "Z:" + str(absolute).replace("/", "\\")


def _walk(folder: Path, parts: tuple[str, ...]) -> Path:
    """``folder/parts``, each part matched without regard to case when not found as written
    (Windows names are case-insensitive; Wine finds ``c:\\program files`` as well)."""
    for part in parts:
        exact = folder / part
        if not exact.exists() and folder.is_dir():
            exact = next((child for child in folder.iterdir()
                          if child.name.casefold() == part.casefold()), exact)
        folder = exact
    return folder


def unix_path(windows: str, prefix: Path) -> Path | None:
    """The folder a Windows path of ``prefix`` names (``C:\\Program Files\\MetaTrader 5`` →
    ``<prefix>/drive_c/Program Files/MetaTrader 5``), or None when it is not a drive path."""
    pure = PureWindowsPath(windows.strip())
    if not pure.drive or len(pure.drive) != 2:
        return None
    letter = pure.drive[0].upper()
    for drive, folder in _drives(prefix):
        if drive == letter:
            return _walk(folder, pure.parts[1:])
    return None


def wine_program(prefix: Path, environ: Mapping[str, str] | None = None,
                 platform: str = sys.platform) -> str | None:
    """The Wine that runs ``prefix``'s programs: ``$WINE`` when set; for a MetaTrader app's
    prefix on macOS, the Wine inside the app (the one it was made with); else ``wine`` (or
    ``wine64``) on ``PATH``. None when there is none."""
    env = os.environ if environ is None else environ
    if env.get("WINE"):
        return env["WINE"]
    if platform == "darwin":
        for name, app in _MAC_APPS:
            if prefix.name == name:
                for root in (Path("/Applications"), Path.home() / "Applications"):
                    for binary in ("wine64", "wine"):
                        candidate = root / app / "Contents" / "SharedSupport" / "wine" / "bin"
                        if (candidate / binary).is_file():
                            return str(candidate / binary)
    return shutil.which("wine") or shutil.which("wine64")


def wine_environment(prefix: Path, command_line: str,
                     environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment to run ``command_line`` in ``prefix`` with :func:`cmd_argv`: this one,
    with the prefix, Wine's debug output off and the line in :data:`COMMAND_VARIABLE`."""
    env = dict(os.environ if environ is None else environ)
    env.update(WINEPREFIX=str(prefix), WINEDEBUG="-all")
    env[COMMAND_VARIABLE] = command_line
    return env


def cmd_argv(wine: str) -> list[str]:
    """``wine cmd /c %MTGATEWAY_WINE_COMMAND%``: a word without blanks or quotes, which Wine
    passes on as it is, and which ``cmd`` expands into the whole command line before it
    parses it (quotes where Windows has them). ``cmd`` waits for the program it starts from
    a command line it was given, as it does in a batch file."""
    return [wine, "cmd", "/c", f"%{COMMAND_VARIABLE}%"]

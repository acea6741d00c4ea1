"""Compiling the EA with the terminal's own MetaEditor, from its command line.

MetaEditor compiles without its window when started as ``metaeditor64.exe /compile:"<source>"
/inc:"<MQL5 folder>" /log:"<log file>"`` (``metaeditor.exe`` for MetaTrader 4; MetaQuotes'
MetaEditor help, "Integration with IDE"). It writes the log in UTF-16LE with a byte-order mark:
a line per message (``file(line,col) : error 123: text``) and a last line ``Result: 2 errors,
0 warnings, 96 msec elapsed``. Its exit code says nothing reliable (it is not the error count),
so the log's ``Result`` line and a fresh compiled file decide.

The helper indicator is compiled before the EA: the EA carries the compiled ``Helper.ex5`` as a
resource, and without it the EA does not compile (docs/terminal.md).
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from .found import read_text

__all__ = ["COMPILE_ORDER", "Compiled", "command_line", "compile_source", "read_log"]

#: What is compiled, in order, relative to the MQL folder.
COMPILE_ORDER: Final[dict[Literal["MT5", "MT4"], tuple[str, ...]]] = {
    "MT5": ("Indicators/MTGateway/Helper.mq5", "Experts/MTGateway.mq5"),
    "MT4": ("Experts/MTGateway.mq4",),
}
_RESULT = re.compile(r"Result:\s*(\d+)\s+errors?,\s*(\d+)\s+warnings?", re.IGNORECASE)
_MESSAGE = re.compile(r":\s*(error|warning)\s+\d+\s*:", re.IGNORECASE)
#: How long one compile may take (MetaEditor compiles the EA in seconds).
TIMEOUT_S: Final = 300.0


@dataclass(frozen=True)
class Compiled:
    """One source's compile: the counts from the log's ``Result`` line (None: the log had no
    such line), its error and warning lines, and whether the compiled file is new."""

    source: Path
    errors: int | None
    warnings: int | None
    messages: tuple[str, ...]
    built: bool
    log: Path

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.built


def command_line(metaeditor: Path, source: Path, include: Path, log: Path) -> str:
    """The command line, written as MetaEditor's help writes it: each path in quotes after
    its switch (``/compile:"C:\\...\\Helper.mq5"``), so a path with blanks stays whole."""
    return (f'"{metaeditor}" /compile:"{source}" /inc:"{include}" /log:"{log}"')


def read_log(path: Path) -> tuple[int | None, int | None, tuple[str, ...]]:
    """The log's error and warning counts (from its last ``Result`` line) and its error and
    warning lines; ``(None, None, ())`` for a log that is not there."""
    try:
        text = read_text(path)
    except OSError:
        return None, None, ()
    errors = warnings = None
    for match in _RESULT.finditer(text):
        errors, warnings = int(match.group(1)), int(match.group(2))
    messages = tuple(line.strip() for line in text.splitlines() if _MESSAGE.search(line))
    return errors, warnings, messages


def compile_source(metaeditor: Path, mql_dir: Path, relative: str, log: Path) -> Compiled:
    """Compile ``mql_dir/relative`` with ``metaeditor``, the log written to ``log``.

    Raises:
        OSError: MetaEditor could not be started.
        subprocess.TimeoutExpired: it ran longer than :data:`TIMEOUT_S`.
    """
    source = mql_dir / Path(relative)
    compiled = source.with_suffix(".ex5" if source.suffix == ".mq5" else ".ex4")
    before = compiled.stat().st_mtime_ns if compiled.is_file() else None
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    line = command_line(metaeditor, source, mql_dir, log)
    # On Windows the line goes to CreateProcess as written; elsewhere (tests) it is split.
    argv: str | list[str] = line if sys.platform == "win32" else [
        str(metaeditor), f"/compile:{source}", f"/inc:{mql_dir}", f"/log:{log}"]
    subprocess.run(argv, check=False, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    errors, warnings, messages = read_log(log)
    after = compiled.stat().st_mtime_ns if compiled.is_file() else None
    return Compiled(source, errors, warnings, messages, after is not None and after != before,
                    log)

"""Compiling the EA with the terminal's own MetaEditor, from its command line, and judging the
compile by what MetaEditor did.

MetaEditor compiles without its window when started as ``metaeditor64.exe /compile:"<source>"
/inc:"<MQL5 folder>" /log:"<log file>"`` (``metaeditor.exe`` for MetaTrader 4; MetaQuotes'
MetaEditor help, "Integration with IDE"), with ``/portable`` for a terminal that keeps its
data in its install folder (else MetaEditor takes a data folder under ``AppData``). Its exit
code says nothing reliable (it is not the error count), so what MetaEditor did decides:

- **the program**: MetaEditor writes the ``.ex5``/``.ex4`` only from a compile without errors
  (MQL5 reference, "MQL5 programs"), so a compile succeeded when the compiled file is new
  since this run began and the log has no error line;
- **the log**: UTF-16LE with a byte-order mark, a line per message (``file(line,col) : error
  123: text``) and a summary, ``Result: 2 errors, 0 warnings, 96 msec elapsed`` (older builds:
  ``0 error(s), 0 warning(s)``). Both summary forms are read, and a log in UTF-8 (with or
  without its mark) too.

MetaEditor writes its log in its owner's language. No public log of a non-English MetaEditor
shows which words it translates: the scripts and editor plugins that read these logs, Russian
authors' among them, look only for the English keywords (``: information: compiling``,
``: error 123:``, ``Result:``). So setup reads the English words where they are, and never
guesses at others: a log without a summary setup can read (another language, another build)
or one that is not text it can decode is shown to the owner, its path and its lines, and the
compile is judged by the program alone, saying so. A log that is missing, with no program
either, means MetaEditor did nothing: that, like a MetaEditor that cannot be started or runs
past :data:`TIMEOUT_S`, is :class:`NotRun`, for setup to say in one line with the next step.

The helper indicator is compiled before the EA: the EA carries the compiled ``Helper.ex5`` as a
resource, and without it the EA does not compile (docs/terminal.md).

Off Windows MetaEditor runs under Wine (``gateway.setup.wine``), given the same command line
with the prefix's Windows paths; a MetaEditor that is not a Windows program (a stand-in
script) is run as it is, with this machine's paths.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from . import wine

__all__ = ["COMPILE_ORDER", "SHOWN_LINES", "TIMEOUT_S", "CompileLog", "Compiled", "NotRun",
           "command_line", "compile_source", "decode_log", "read_log"]

#: What is compiled, in order, relative to the MQL folder.
COMPILE_ORDER: Final[dict[Literal["MT5", "MT4"], tuple[str, ...]]] = {
    "MT5": ("Indicators/MTGateway/Helper.mq5", "Experts/MTGateway.mq5"),
    "MT4": ("Experts/MTGateway.mq4",),
}
#: The summary, in both forms MetaEditor has written: "Result: 2 errors, 0 warnings, ..." and
#: older builds' "0 error(s), 0 warning(s)" (the "Result:" may be missing there).
_SUMMARY = re.compile(r"^\s*(?:result\s*:\s*)?(\d+)\s+errors?(?:\(s\))?\s*,\s*(\d+)\s+"
                      r"warnings?(?:\(s\))?(?![a-z])", re.IGNORECASE)
_MESSAGE = re.compile(r":\s*(error|warning)\s+\d+\s*:", re.IGNORECASE)
#: How long one compile may take (MetaEditor compiles the EA in seconds).
TIMEOUT_S: Final = 300.0
#: How many of a log's lines are shown to the owner.
SHOWN_LINES: Final = 20

#: How setup read a log: ``read`` (a summary in English), ``unread`` (text, but no summary
#: setup reads: another language, another build), ``undecodable`` (neither UTF-16 nor UTF-8),
#: ``missing`` (no log, or an empty one).
LogState = Literal["read", "unread", "undecodable", "missing"]


class NotRun(Exception):
    """MetaEditor did not compile: it could not be started (the system refused it, or there
    is no Wine to start it with), ran past :data:`TIMEOUT_S`, or wrote neither a log nor the
    program. The message says which, in one line."""


@dataclass(frozen=True)
class CompileLog:
    """What setup read in one compile's log."""

    path: Path
    state: LogState
    #: The log's non-empty lines (an undecodable one's with its bytes replaced), for showing.
    lines: tuple[str, ...]
    #: The counts of its last summary line (None: it has no summary setup reads).
    errors: int | None = None
    warnings: int | None = None
    #: Its error and warning lines, each as MetaEditor wrote it.
    messages: tuple[str, ...] = ()

    @property
    def error_lines(self) -> tuple[str, ...]:
        """Its lines that say ``error`` (the English keyword)."""
        return tuple(line for line in self.messages
                     if (found := _MESSAGE.search(line)) and found.group(1).lower() == "error")


def decode_log(raw: bytes) -> str | None:
    """A log's text: UTF-16 by its byte-order mark (as MetaEditor writes it), UTF-8 by its
    mark or without one, UTF-16LE without a mark when every other byte is zero; None when the
    bytes are none of these."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        codec = "utf-16"
    elif raw.startswith(b"\xef\xbb\xbf"):
        codec = "utf-8-sig"
    elif len(raw) >= 2 and raw[1::2].count(0) * 2 >= len(raw[1::2]):
        codec = "utf-16-le"
    else:
        codec = "utf-8"
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def read_log(path: Path) -> CompileLog:
    """The log at ``path``: its counts from the last summary line (either form), its error
    and warning lines, and its lines to show when setup cannot read it."""
    try:
        raw = path.read_bytes()
    except OSError:
        raw = b""
    if not raw.strip(b"\x00\r\n \t\xff\xfe\xef\xbb\xbf"):
        return CompileLog(path, "missing", ())
    text = decode_log(raw)
    if text is None:
        shown = raw.decode("utf-8", errors="replace")
        return CompileLog(path, "undecodable", _lines(shown))
    lines = _lines(text)
    errors = warnings = None
    for line in lines:
        if (summary := _SUMMARY.match(line)) is not None:
            errors, warnings = int(summary.group(1)), int(summary.group(2))
    messages = tuple(line for line in lines if _MESSAGE.search(line))
    return CompileLog(path, "read" if errors is not None else "unread", lines, errors,
                      warnings, messages)


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.lstrip("\ufeff").splitlines() if line.strip())


@dataclass(frozen=True)
class Compiled:
    """One source's compile: its log as read, whether MetaEditor wrote the program this run,
    and the command line it was given."""

    source: Path
    log: CompileLog
    built: bool
    command: str

    @property
    def program(self) -> Path:
        """The compiled file MetaEditor writes beside the source."""
        return self.source.with_suffix(".ex5" if self.source.suffix == ".mq5" else ".ex4")

    @property
    def ok(self) -> bool:
        """The program is new and nothing in the log says an error."""
        return self.built and not self.log.error_lines and not self.log.errors


def command_line(metaeditor: str, source: str, include: str, log: str,
                 portable: bool = False) -> str:
    """The command line, written as MetaEditor's help writes it: each path in quotes after
    its switch (``/compile:"C:\\...\\Helper.mq5"``), so a path with blanks stays whole;
    ``/portable`` last when the terminal keeps its data in its install folder."""
    line = f'"{metaeditor}" /compile:"{source}" /inc:"{include}" /log:"{log}"'
    return line + (" /portable" if portable else "")


def _is_windows_program(path: Path) -> bool:
    """A Windows executable (it starts with the ``MZ`` of every such file), which off Windows
    only Wine runs."""
    try:
        with path.open("rb") as stream:
            return stream.read(2) == b"MZ"
    except OSError:
        return False


@dataclass(frozen=True)
class _Launch:
    argv: str | list[str]
    env: dict[str, str] | None
    command: str


def _launch(metaeditor: Path, source: Path, mql_dir: Path, log: Path, portable: bool,
            prefix: Path | None) -> _Launch:
    """How to start MetaEditor here: on Windows the command line as written (CreateProcess
    reads it so); off Windows a Windows program under Wine, with the prefix's paths; any other
    program as it is (a stand-in), its switches split into words.

    Raises:
        NotRun: MetaEditor needs Wine and there is none, or no prefix to run it in.
    """
    if sys.platform == "win32":
        line = command_line(str(metaeditor), str(source), str(mql_dir), str(log), portable)
        return _Launch(line, None, line)
    if not _is_windows_program(metaeditor):
        argv = [str(metaeditor), f"/compile:{source}", f"/inc:{mql_dir}", f"/log:{log}"]
        argv += ["/portable"] if portable else []
        return _Launch(argv, None, " ".join(argv))
    where = prefix or wine.prefix_of(metaeditor.absolute()) or next(iter(wine.prefixes()), None)
    if where is None:
        raise NotRun(f"{metaeditor.name} is a Windows program and no Wine prefix was found to "
                     "run it in (set WINEPREFIX)")
    program = wine.wine_program(where)
    if program is None:
        raise NotRun(f"{metaeditor.name} is a Windows program and Wine is not installed (no "
                     "`wine` on PATH; set WINE to the one MetaTrader runs with)")
    named = [wine.windows_path(p, where) for p in (metaeditor, source, mql_dir, log)]
    line = command_line(named[0], named[1], named[2], named[3], portable)
    return _Launch(wine.cmd_argv(program), wine.wine_environment(where, line),
                   f"WINEPREFIX={where} {program} cmd /c {line}")


def _run(launch: _Launch, timeout: float) -> str:
    """Run MetaEditor to its end; what it (or Wine) printed.

    Raises:
        NotRun: it could not be started, or ran past ``timeout`` (then it is ended, with what
            it started: under Wine, MetaEditor is a child of ``cmd``).
    """
    try:
        proc = subprocess.Popen(launch.argv, env=launch.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=sys.platform != "win32")
    except OSError as exc:
        # Windows' own words name the program "%1" ("%1 is not a valid Win32 application")
        reason = (exc.strerror or str(exc)).replace("%1", "it").rstrip(".")
        raise NotRun(f"MetaEditor could not be started ({reason})") from exc
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        if sys.platform != "win32":
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
        else:
            proc.kill()
        proc.communicate()
        raise NotRun(f"MetaEditor was still compiling after {timeout:g} s and was "
                     "stopped") from None
    return out.decode("utf-8", errors="replace")


def compile_source(metaeditor: Path, mql_dir: Path, relative: str, log: Path, *,
                   portable: bool = False, prefix: Path | None = None,
                   timeout: float | None = None) -> Compiled:
    """Compile ``mql_dir/relative`` with ``metaeditor``, the log written to ``log``
    (``portable``: with ``/portable``; ``prefix``: the Wine prefix it runs in off Windows).

    Raises:
        NotRun: MetaEditor could not be started, ran longer than ``timeout``
            (:data:`TIMEOUT_S`), or wrote neither a log nor the program.
    """
    source = mql_dir / Path(relative)
    compiled = source.with_suffix(".ex5" if source.suffix == ".mq5" else ".ex4")
    before = compiled.stat().st_mtime_ns if compiled.is_file() else None
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    launch = _launch(metaeditor, source, mql_dir, log, portable, prefix)
    said = _run(launch, TIMEOUT_S if timeout is None else timeout)
    reading = read_log(log)
    after = compiled.stat().st_mtime_ns if compiled.is_file() else None
    built = after is not None and after != before
    if reading.state == "missing" and not built:
        # what it (or Wine's cmd) said last is the reason, when it said anything
        last = next((line.strip() for line in reversed(said.splitlines()) if line.strip()), "")
        raise NotRun(f"MetaEditor wrote neither a log nor {compiled.name}"
                     + (f" ({last})" if last else ""))
    return Compiled(source, reading, built, launch.command)

"""Speed work where it belongs: a copy of a helper written in for speed only in a module whose
path a bench row counts, and no per-call cost accounting in the product's comments.

Two habits made the product's code harder to read than its speed needed:

* **A helper's steps copied into its caller** ("``_disarm``, in place", "written out: every
  read") to save an interpreted call. A copy may drift from the helper it copies, and each one
  makes the next reader check that both still agree. It is worth that only where a bench row
  counts the call it saves, on every call of that row: :data:`COPIES` lists those modules, each
  with its rows (the daemon's edge, its token check and the shared HTTP edge on every ``/rpc``
  call; the console's database door on every transaction, its device proof on every device
  call, the connection guard on every connection). Being compiled with mypyc is not the
  reason: an interpreted module's saved call is counted as well, and a compiled one off a
  counted path saves nothing a row sees. The console's entry points (``routes/``, ``web/``,
  ``mt4api/``) and its ``service/`` are never listed: what a reader reads to learn a call stays
  plain, and a saving there is found in a plainer form. Every other module calls the helper.
  Where a copy stays, its comment says why in one line, and the helper's says where its copy is.
* **Per-call cost figures** in comments and docstrings (microseconds, "Python calls",
  "~3x", "ms per call", the counting benches cited as the reason). They are true of one machine,
  one interpreter and one library version, and go stale unseen (one said a library's HKDF cost
  twice the Python calls of the hand-written one; by the time it was read the library's cost
  less). The code says why in words; the figures, with their dates, are kept in
  ``docs/history/performance-notes.md``. Limits, timeouts and behaviour constants stated in ms
  or s are not cost accounting and stay.

What it reads: the Python sources of the four distributions (``base/src``, ``client/src``,
``console/src``, ``daemon/src``), each ``#`` comment block (consecutive comment lines, read as
one text) and each string that stands alone as a statement (docstrings). A copy's note is
"in place", "written out" or "inlined" in a clause (up to the next ``.``, ``;``, ``:`` or
parenthesis) that names code (````name````, ``:meth:`name```) or a helper; "in place of" (one
thing for another) and "rewrites ... in place" (a file, links reset where they stand) are
English, not notes.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Final, cast

from bench.authority import _calls
from bench.callwork import CARRIED, NEW_CONNECTION
from bench.consoles import Provisioned
from bench.rpcwork import _parser as rpcwork_parser
from bench.rpcwork import group_of

ROOT: Final = Path(__file__).resolve().parent.parent

#: The product's Python sources.
SOURCES: Final = ("base/src", "client/src", "console/src", "daemon/src")

#: A bench row: the bench (``bench.callwork``: Python calls on the console's loop per call;
#: ``bench.rpcwork``: on the daemon's, per ``/rpc`` call) and the row as it prints it.
Row = tuple[str, str]

#: ``bench.rpcwork``'s rows: its call on a kept connection, and on a connection of its own.
RPC: Final[Row] = ("bench.rpcwork", "/rpc")
RPC_NEW_CONNECTION: Final[Row] = ("bench.rpcwork", "/rpc --new-connections")
#: ``bench.callwork``'s rows of the device calls that go through the proof and the database
#: (every row but ``/v1/keys``, which asks neither).
DEVICE_CALLS: Final[tuple[Row, ...]] = tuple(
    ("bench.callwork", row) for row in ("/v1/records/lookup", "/v1/records/refresh",
                                        "/v1/terminals/report", "/v1/device/status",
                                        CARRIED, NEW_CONNECTION))

#: The modules where a copy of a helper may stay, each with the bench rows that count its
#: path (a copy there saves a call on every call of those rows). The one list: a copy anywhere
#: else fails, and a module joins only with the row that counts what its copy saves.
COPIES: Final[Mapping[str, tuple[Row, ...]]] = {
    # the shared HTTP edge, compiled: every request of the daemon and of the console
    "base/src/mtgateway_base/httpedge.py": (RPC, *DEVICE_CALLS),
    "base/src/mtgateway_base/httpassembly.py": (RPC, *DEVICE_CALLS),
    # the daemon's door, compiled: every /rpc call
    "daemon/src/gateway/edge/door.py": (RPC,),
    # the daemon's token check, compiled: every /rpc call
    "daemon/src/gateway/auth/service.py": (RPC,),
    # the console's database door: every transaction, so every device call that asks one
    "console/src/mtgateway_console/database/engine.py": DEVICE_CALLS,
    # the console's device proof and fair share: every device call
    "console/src/mtgateway_console/door/callers.py": DEVICE_CALLS,
    # the connection guard: every connection, the daemon's and the console's
    "base/src/mtgateway_base/guard.py": (("bench.callwork", NEW_CONNECTION),
                                         RPC_NEW_CONNECTION),
}
#: Where a copy never stays, whatever counts it: the console's entry points and its service.
NEVER_COPIES: Final = tuple(f"console/src/mtgateway_console/{package}/"
                            for package in ("routes", "web", "mt4api", "service"))

#: Reviewed exceptions to the cost-accounting rule: ``(path, the exact text matched)``.
ACCOUNTING_LISTED: Final[frozenset[tuple[str, str]]] = frozenset()

#: A copy's note: the words, in a clause that names code or a helper.
_COPY_WORDS: Final = re.compile(r"\b(?:in\s+place|written\s+out|inlined)\b", re.IGNORECASE)
#: The same words in their plain English senses: one thing in place of another; a file
#: rewritten, or links reset, where they stand.
_NOT_A_COPY: Final = (re.compile(r"\bin\s+place\s+of\b", re.IGNORECASE),
                      re.compile(r"\b(?:rewrites?|reset)\s+(?:\w+\s+){0,2}in\s+place\b",
                                 re.IGNORECASE))
#: Code named in a comment: ````name````, ```name```, ``:meth:`name```.
_CODE: Final = re.compile(r"(?::[\w.]+:)?``?[^`\n]+``?")
#: Where a clause ends (read once code is masked, so a name's dots and colons do not count).
_CLAUSE_END: Final = re.compile(r"[.;:!?](?=\s|$)|[()]")
_HELPER: Final = re.compile(r"\bhelpers?\b|\brather than called\b", re.IGNORECASE)
_MASK: Final = "\x01"
#: The kind of a copy's note out of place.
COPY_KIND: Final = "a copy's note in a module no bench row names"

#: Per-call cost accounting, by kind.
ACCOUNTING: Final = (
    ("microseconds", re.compile(r"(?:\b\d+(?:[.,]\d+)?(?:\s?-\s?\d+(?:[.,]\d+)?)?\s?)?µs"
                                r"|\b\d+(?:[.,]\d+)?(?:\s?-\s?\d+(?:[.,]\d+)?)?\s?(?:us|ns)\b")),
    ("Python calls", re.compile(r"\bPython\s+calls?\b")),
    ("a ratio of costs", re.compile(r"~\s?\d+(?:\.\d+)?\s?x\b")),
    ("ms a call", re.compile(r"\b\d+(?:\.\d+)?\s?ms\s+(?:per|a|an|each)\s+"
                             r"(?!second|minute|hour|day)\w+")),
    ("instructions", re.compile(r"\b\d[\d,]*\s+instructions\b")),
    ("a call's CPU share", re.compile(r"\d\s?%\s+of\s+(?:[^\s.%]+\s+){0,3}CPU\s+per\b")),
    ("a counting bench as the reason", re.compile(r"\bbench\.(?:callwork|rpcwork)\b")),
)


@dataclass(frozen=True)
class Note:
    """One note out of place: where, which rule, and the words that broke it."""

    path: str
    line: int
    kind: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind} {self.text!r}"


def allowed_copies() -> frozenset[str]:
    """The modules where a copy may stay (:data:`COPIES`)."""
    return frozenset(COPIES)


def bench_rows() -> frozenset[Row]:
    """Every row the two counting benches print: ``bench.callwork``'s calls (its paths, in
    the order ``bench.authority`` makes them), the carried report and the report on a new
    connection; ``bench.rpcwork``'s call, and with ``--new-connections``."""
    daemon = cast(Provisioned, SimpleNamespace(login=1, token_hint="0" * 32, token_id="t"))
    rows = {("bench.callwork", path) for _, path, _ in _calls(daemon)}
    rows |= {("bench.callwork", CARRIED), ("bench.callwork", NEW_CONNECTION), RPC}
    if "--new-connections" in {option for action in rpcwork_parser()._actions
                               for option in action.option_strings}:
        rows.add(RPC_NEW_CONNECTION)
    return frozenset(rows)


def _texts(source: str) -> Iterator[tuple[int, str]]:
    """Each comment block (consecutive ``#`` lines, their marks taken off) and each string
    standing alone as a statement (its source lines), with its first line."""
    block: list[str] = []
    first = last = 0
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        line = token.start[0]
        if block and line != last + 1:
            yield first, "\n".join(block)
            block = []
        if not block:
            first = line
        block.append(re.sub(r"^#+:?\s?", "", token.string))
        last = line
    if block:
        yield first, "\n".join(block)
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            end = node.end_lineno or node.lineno
            yield node.lineno, "\n".join(lines[node.lineno - 1:end])


def _copies(text: str) -> Iterator[re.Match[str]]:
    """The copies' notes in one comment block or docstring."""
    masked = _CODE.sub(lambda m: _MASK * len(m.group(0)), text)
    english = [m.span() for idiom in _NOT_A_COPY for m in idiom.finditer(masked)]
    start = 0
    for end in [m.start() for m in _CLAUSE_END.finditer(masked)] + [len(masked)]:
        clause = masked[start:end]
        if _MASK in clause or _HELPER.search(clause):
            for match in _COPY_WORDS.finditer(masked, start, end):
                if not any(a <= match.start() < b for a, b in english):
                    yield match
        start = end + 1


def notes_in(path: Path, relative: str, allowed: frozenset[str]) -> list[Note]:
    """The copies' notes outside ``allowed`` and the cost accounting of one source file."""
    found: list[Note] = []
    for first, text in _texts(path.read_text(encoding="utf-8")):
        if relative not in allowed:
            for match in _copies(text):
                found.append(Note(relative, first + text.count("\n", 0, match.start()),
                                  COPY_KIND, " ".join(match.group(0).split())))
        for kind, pattern in ACCOUNTING:
            for match in pattern.finditer(text):
                said = " ".join(match.group(0).split())
                if (relative, said) not in ACCOUNTING_LISTED:
                    found.append(Note(relative, first + text.count("\n", 0, match.start()),
                                      kind, said))
    return sorted(set(found), key=lambda note: (note.line, note.kind, note.text))


def speed_notes(root: Path = ROOT) -> list[Note]:
    """Every copy's note outside :data:`COPIES`' modules, and every piece of per-call cost
    accounting, in the product's Python sources under ``root``."""
    allowed = allowed_copies()
    found: list[Note] = []
    for top in SOURCES:
        for path in sorted((root / top).rglob("*.py")):
            if "__pycache__" not in path.parts:
                found.extend(notes_in(path, path.relative_to(root).as_posix(), allowed))
    return found


def test_no_copy_off_a_counted_path_and_no_cost_accounting() -> None:
    notes = speed_notes()
    assert not notes, (
        f"{len(notes)} notes of speed work out of place. A copy of a helper belongs only in a "
        f"module a bench row counts (COPIES: {', '.join(sorted(allowed_copies()))}): "
        "elsewhere call the helper. Per-call figures belong in "
        "docs/history/performance-notes.md: say why in words here.\n"
        + "\n".join(map(str, notes)))


def test_each_listed_copy_names_rows_the_benches_print() -> None:
    """Each module of :data:`COPIES` exists and names at least one row, each a row its bench
    prints; a module counted by ``bench.rpcwork`` is on the daemon's path (one of its groups);
    none is one of the console's entry points or its service."""
    printed = bench_rows()
    for path, rows in COPIES.items():
        assert (ROOT / path).is_file(), path
        assert rows, path
        assert set(rows) <= printed, (path, sorted(set(rows) - printed))
        if any(bench == "bench.rpcwork" for bench, _ in rows):
            assert group_of("/" + path) != "other", path
        assert not path.startswith(NEVER_COPIES), path


def test_each_listed_module_still_holds_a_copy() -> None:
    """A listed module whose copies are gone leaves the list: left there, it would let a new
    copy in unseen."""
    for path in COPIES:
        assert any(note.kind == COPY_KIND
                   for note in notes_in(ROOT / path, path, frozenset())), path


def test_every_listed_exception_is_still_there() -> None:
    """A listed exception whose text is gone is stale: it would let the note back in unseen."""
    for path, text in sorted(ACCOUNTING_LISTED):
        assert text in (ROOT / path).read_text(encoding="utf-8"), (path, text)


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_the_check_finds_each_planted_note_and_spares_the_rest(tmp_path: Path) -> None:
    """A copy's note in a module :data:`COPIES` does not list (an entry point of the console,
    and a module compiled in the compiled build but not listed), and each kind of cost figure
    anywhere (a listed module's too), are found at their lines; a copy in a listed module
    (the compiled edge, the interpreted guard), the English senses of the words, timeouts and
    limits in ms or s, and strings that are not docstrings are not."""
    # (compiled, and no longer a reason: the check reads COPIES, not the build's list)
    _write(tmp_path, "daemon/pyproject.toml", '[tool.mtgateway]\n'
           'compiled = ["src/gateway/edge/door.py", "src/gateway/rpc.py"]\n')
    _write(tmp_path, "base/src/mtgateway_base/httpedge.py",
           "X = 1  # (``_write``, in place: each answer)\n")
    _write(tmp_path, "daemon/src/gateway/rpc.py",
           "X = 1  # (``_dispatch``, written out: every call)\n")
    _write(tmp_path, "base/src/mtgateway_base/guard.py", '''"""The guard.

A walk cost ~5 ms an admission, and ``ipaddress`` is some twenty Python
calls; each header is a Python call. The timeout is 2 s (``TIMEOUT_S``).
"""
TIMEOUT_S = 2.0  # seconds, a limit: not a cost


def closed() -> None:
    if timer is not None:  # (``_disarm``, in place)
        timer.cancel()
    # (written out, not through the helpers below: a report
    # costs less, counted by ``bench.callwork``)
    # :meth:`_follow` and :meth:`_arrives` in place, the same steps
''')
    _write(tmp_path, "console/src/mtgateway_console/routes/terminals.py",
           '''async def report_terminals() -> None:
    # (``_believed`` and ``_report_answer``, in place: every report)
    """The helpers below, written out."""
''')
    _write(tmp_path, "daemon/src/gateway/trading/gate.py", '''def check() -> None:
    """:func:`_other_token`, written out: this runs on every read (~0.4 us of a ~3 us
    call; a frozen one costs ~3x; 1,100 instructions; ~2 % of the daemon's CPU per /rpc
    call; 1.8 µs a row)."""
    HELP = "Python calls: ~3x, 2 us"  # a message, not a docstring
''')
    _write(tmp_path, "daemon/src/gateway/setup/preset.py", '''"""``values`` in place of
the defaults; ``python -m x`` rewrites them in place; reset the links in place while
``squatter`` is set. A profit with its sign written out: ``+12.30``. A keep-alive of 5 ms,
``MAX_POLL_S`` 55 s, one poll every 30 s, 10 ms a second at most."""
''')
    found = {(note.path, note.line, note.text) for note in speed_notes(tmp_path)}
    guard, gate = "base/src/mtgateway_base/guard.py", "daemon/src/gateway/trading/gate.py"
    route, rpc = "console/src/mtgateway_console/routes/terminals.py", "daemon/src/gateway/rpc.py"
    assert found == {
        (guard, 3, "5 ms an admission"), (guard, 3, "Python calls"), (guard, 4, "Python call"),
        (guard, 13, "bench.callwork"),
        (route, 2, "in place"), (route, 3, "written out"),
        (rpc, 1, "written out"),
        (gate, 2, "written out"), (gate, 2, "0.4 us"), (gate, 2, "3 us"),
        (gate, 3, "~3x"), (gate, 3, "1,100 instructions"),
        (gate, 3, "2 % of the daemon's CPU per"), (gate, 4, "1.8 µs"),
    }

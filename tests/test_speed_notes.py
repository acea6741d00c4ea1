"""Speed work where it belongs: a copy of a helper written in for speed only on the compiled hot
path, and no per-call cost accounting in the product's comments.

Two habits made the product's code harder to read than its speed needed:

* **A helper's steps copied into its caller** ("``_disarm``, in place", "written out: every
  read") to save an interpreted call. A copy may drift from the helper it copies, and each one
  makes the next reader check that both still agree. It is worth that only where the module is
  compiled with mypyc in the compiled build (``[tool.mtgateway] compiled`` in
  ``daemon/pyproject.toml``, ``[tool.mtgateway-base] compiled`` in ``base/pyproject.toml``) and
  a bench row counts it (``bench.rpcwork``'s groups): the edge, the door, the dispatcher. Every
  other module calls the helper. Where a copy stays, its comment says why in one line.
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
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.rpcwork import group_of

ROOT: Final = Path(__file__).resolve().parent.parent

#: The product's Python sources.
SOURCES: Final = ("base/src", "client/src", "console/src", "daemon/src")

#: Where each distribution lists its modules compiled with mypyc: the project file and the keys
#: of the list (its paths are relative to the project file's folder).
COMPILED_LISTS: Final = (("daemon/pyproject.toml", ("tool", "mtgateway", "compiled")),
                         ("base/pyproject.toml", ("tool", "mtgateway-base", "compiled")))

#: Reviewed exceptions to the cost-accounting rule: ``(path, the exact text matched)``.
ACCOUNTING_LISTED: Final[frozenset[tuple[str, str]]] = frozenset({
    # In the console's service package, which another change was rewriting when this rule
    # came: its notes (a coroutine level "a Python call again", a record's signing time) move
    # out with that change.
    ("console/src/mtgateway_console/service/common.py", "Python call"),
    ("console/src/mtgateway_console/service/__init__.py", "Python call"),
    ("console/src/mtgateway_console/service/records.py", "0.1 ms a record"),
})

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


def allowed_copies(root: Path = ROOT) -> frozenset[str]:
    """The modules where a copy may stay: compiled in the compiled build, and in a group a
    ``bench.rpcwork`` row names."""
    modules: set[str] = set()
    for project, keys in COMPILED_LISTS:
        table = tomllib.loads((root / project).read_text(encoding="utf-8"))
        for key in keys:
            table = table[key]
        folder = Path(project).parent
        for module in table:
            path = (folder / module).as_posix()
            if group_of("/" + path) != "other":
                modules.add(path)
    return frozenset(modules)


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
                                  "a copy's note outside the compiled hot path",
                                  " ".join(match.group(0).split())))
        for kind, pattern in ACCOUNTING:
            for match in pattern.finditer(text):
                said = " ".join(match.group(0).split())
                if (relative, said) not in ACCOUNTING_LISTED:
                    found.append(Note(relative, first + text.count("\n", 0, match.start()),
                                      kind, said))
    return sorted(set(found), key=lambda note: (note.line, note.kind, note.text))


def speed_notes(root: Path = ROOT) -> list[Note]:
    """Every copy's note outside the compiled hot path, and every piece of per-call cost
    accounting, in the product's Python sources under ``root``."""
    allowed = allowed_copies(root)
    found: list[Note] = []
    for top in SOURCES:
        for path in sorted((root / top).rglob("*.py")):
            if "__pycache__" not in path.parts:
                found.extend(notes_in(path, path.relative_to(root).as_posix(), allowed))
    return found


def test_no_copy_off_the_compiled_hot_path_and_no_cost_accounting() -> None:
    notes = speed_notes()
    assert not notes, (
        f"{len(notes)} notes of speed work out of place. A copy of a helper belongs only in a "
        f"compiled module a bench row counts ({', '.join(sorted(allowed_copies()))}): "
        "elsewhere call the helper. Per-call figures belong in "
        "docs/history/performance-notes.md: say why in words here.\n"
        + "\n".join(map(str, notes)))


def test_the_allowed_copies_are_the_compiled_edge_and_its_path() -> None:
    """The list comes from the build's own lists: the edge modules are in it, the guard (on
    every connection, but interpreted) and the console (no compiled module) are not."""
    allowed = allowed_copies()
    assert {"base/src/mtgateway_base/httpedge.py", "base/src/mtgateway_base/httpassembly.py",
            "daemon/src/gateway/edge/door.py", "daemon/src/gateway/edge/llhttp.py",
            "daemon/src/gateway/rpc.py"} <= allowed
    assert "base/src/mtgateway_base/guard.py" not in allowed
    assert not any(path.startswith("console/") for path in allowed)


def test_every_listed_exception_is_still_there() -> None:
    """A listed exception whose text is gone is stale: it would let the note back in unseen."""
    for path, text in sorted(ACCOUNTING_LISTED):
        assert text in (ROOT / path).read_text(encoding="utf-8"), (path, text)


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_the_check_finds_each_planted_note_and_spares_the_rest(tmp_path: Path) -> None:
    """A copy's note in an interpreted module, and each kind of cost figure anywhere, are
    found at their lines; a copy in a compiled module on a counted path, the English senses
    of the words, timeouts and limits in ms or s, and strings that are not docstrings are
    not."""
    _write(tmp_path, "base/pyproject.toml", '[tool.mtgateway-base]\n'
           'compiled = ["src/mtgateway_base/httpedge.py"]\n')
    _write(tmp_path, "daemon/pyproject.toml", '[tool.mtgateway]\n'
           'compiled = ["src/gateway/edge/door.py"]\n')
    _write(tmp_path, "base/src/mtgateway_base/httpedge.py",
           "X = 1  # (``_write``, in place: each answer)\n")
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
    assert found == {
        (guard, 3, "5 ms an admission"), (guard, 3, "Python calls"), (guard, 4, "Python call"),
        (guard, 10, "in place"),
        (guard, 12, "written out"), (guard, 13, "bench.callwork"),
        (guard, 14, "in place"),
        (gate, 2, "written out"), (gate, 2, "0.4 us"), (gate, 2, "3 us"),
        (gate, 3, "~3x"), (gate, 3, "1,100 instructions"),
        (gate, 3, "2 % of the daemon's CPU per"), (gate, 4, "1.8 µs"),
    }

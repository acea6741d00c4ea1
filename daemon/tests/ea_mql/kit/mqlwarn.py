r"""mqlwarn: MetaEditor's warnings in a program's own code, by MetaEditor's numbers and words.

MetaEditor compiles a program with warnings ("Compiler warnings are shown for informational
purposes only and are not error messages": the reference's *Compiler Warnings* table, MQL5's and
MQL4's alike), and an owner compiling the EA sees every one; the release checklist asks for
``0 errors, 0 warnings``. The kit's build (``daemon/tests/ea_mql/eakit.py``, ``eakit4.py``) refuses
what MetaEditor warns about in a program's own code, as it refuses what MetaEditor refuses,
and reports each in MetaEditor's form, ``file(line,col) : warning 43: possible loss of data due
to type conversion from 'long' to 'int'``, with the g++ text behind it.

Two judges find them:

* **g++**, by the warnings whose rule is MQL's (:data:`KINDS` says which flag gives which
  warning): the program is compiled with ``-Wconversion -Wsign-conversion -Wsign-compare
  -Wshadow`` on top of ``-Wall -Wextra``, ``[[nodiscard]]`` on the functions whose result
  MetaEditor says "should be checked", and ``-Werror``. The kit's headers are system headers
  (``-isystem``), so only the program's own code is judged. :func:`from_gcc` reads g++'s
  diagnostics in the program's files and names each by MetaEditor's number and words; a g++
  warning MetaEditor has no number for is reported as g++'s own (the kit is stricter there).
* **the reader** (this module's own checks, on the program as ``mqlpre.py`` reads it), where
  g++'s rule is not MQL's: g++ says nothing of a ``string``, array or structure declared and
  never used (a C++ class with a constructor), which MetaEditor warns as 31; and g++'s
  "may be used uninitialized" comes from its optimizer, which proves paths MetaEditor does not
  (``int x; if(c) x = 1; Print(x);`` passes g++ at -O2 when it can fold the branch), so a
  local scalar is followed as MetaEditor's flow check follows it (:class:`_Flow`).

Where C++'s conversion rules are not MQL's, the kit's types make them MQL's: ``datetime`` is its
own class (a ``long`` converts only by a cast), a string and a number do not add, an integer
never becomes an enumeration silently. C++ refuses those last two outright where MetaEditor
warns ("implicit conversion from 'number' to 'string'", "implicit conversion from 'number' to
'enum ...'", "implicit enum conversion"): the build fails either way, and :func:`from_gcc`
names the enumeration ones by MetaEditor's words. MQL converts ``long`` to ``double`` with
warning 43 as C++ with ``-Wconversion`` does, and ``int`` to ``uint`` with "sign mismatch"
where C++ needs ``-Wsign-conversion``, which the build adds.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from daemon.tests.ea_mql.kit.mqlref import Proto

from . import mqlgate, mqlpre
from .mqllex import Token
from .mqlparse import NOT_A_TYPE, QUALIFIERS, Parsed, declarations, skip_brackets

__all__ = ["KINDS", "Kind", "EditorWarning", "explain", "from_gcc", "reader_warnings", "report"]

KIT = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Kind:
    """One warning MetaEditor gives: its number in the reference's *Compiler Warnings* table
    (None where the table has none), the reference's description of that number, the words
    MetaEditor's log writes (``{name}``, ``{source}``, ``{target}`` filled in), and how the
    build finds it."""

    key: str
    number: int | None
    described: str
    words: str
    how: str
    #: whether ``words`` are MetaEditor's log's own (False: the reference's description stands
    #: in for words not known)
    logged: bool = True


#: The warnings judged, in the reference's order. ``described`` is the reference's table text
#: (daemon/tests/ea_mql/test_mqlwarn.py holds it to the pinned copy); ``words`` is what MetaEditor's
#: log writes for it.
KINDS: tuple[Kind, ...] = (
    Kind("not-used", 31, "The variable is declared but is not used anywhere",
         "variable '{name}' not used",
         "g++ -Wunused-variable and -Wunused-but-set-variable (scalars); the reader, for every "
         "local (a string, array or structure too)"),
    Kind("loss-of-data", 43, "Possible loss of data at typecasting",
         "possible loss of data due to type conversion from '{source}' to '{target}'",
         "g++ -Wconversion, -Wfloat-conversion: a value that may not fit (long to int, long to "
         "double, double to int or float)"),
    Kind("constant-truncated", 44, "Loss of accuracy (of data) when converting a constant",
         "truncation of constant value",
         "g++ -Wfloat-conversion, -Woverflow, -Wsign-conversion: a constant whose value changes "
         "(int x = 3.7; uchar c = 300; uint u = -1)"),
    Kind("sign-mismatch", 45, "Difference between the signs of operands in the operations of "
         "comparison", "sign mismatch",
         "g++ -Wsign-compare (a signed and an unsigned operand compared) and -Wsign-conversion "
         "(a signed value given to an unsigned type or the reverse: int to uint, long to ulong)"),
    Kind("uninitialized", 60, "Probably, the variable is not initialized",
         "possible use of uninitialized variable '{name}'",
         "the reader, for a local scalar read before every path to it assigns it (MetaEditor's "
         "38, 'a non-initialized variable is used', is the same finding, certain); g++ "
         "-Wuninitialized and -Wmaybe-uninitialized"),
    Kind("hides-local", 61, "This declaration makes it impossible to refer to the local "
         "variable declared on the specified line",
         "declaration of '{name}' hides local variable", "g++ -Wshadow (a previous local, a "
         "parameter)"),
    Kind("hides-global", 62, "This declaration makes it impossible to refer to the global "
         "variable declared on the specified line",
         "declaration of '{name}' hides global variable", "g++ -Wshadow (a global declaration)"),
    Kind("always", 65, "The value of the expression is always true / false",
         "the value of the expression is always {name}",
         "g++ -Wtype-limits, -Wtautological-compare, -Wbool-compare", logged=False),
    Kind("empty-statement", 69, "Empty controlled statement found",
         "empty controlled statement found", "g++ -Wempty-body"),
    Kind("hides-member", 72, "This declaration makes direct access to the member of a class "
         "declared in the specified string impossible",
         "declaration of '{name}' hides member", "g++ -Wshadow (a member, the class's or a "
         "base's)"),
    Kind("shift", 75, "Negative or too large shift value in shift bitwise operation, execution "
         "result is undefined", "negative or too large shift value in shift bitwise operation, "
         "execution result is undefined",
         "g++ -Wshift-count-overflow, -Wshift-count-negative, -Wshift-negative-value",
         logged=False),
    Kind("not-all-paths", 78, "Not all control paths return a value",
         "not all control paths return a value", "g++ -Wreturn-type"),
    Kind("precedence", 80, "Check operator precedence for possible error; use parentheses to "
         "clarify precedence",
         "check operator precedence for possible error; use parentheses to clarify precedence",
         "g++ -Wparentheses"),
    Kind("return-unchecked", 83, "Return value of the function should be checked",
         "return value of '{name}' should be checked",
         "g++ -Wunused-result: the kit declares [[nodiscard]] exactly the functions of "
         ":data:`RETURN_CHECKED`"),
    Kind("enum-from-number", None, "", "implicit conversion from '{source}' to 'enum {target}'",
         "g++ refuses it (an error: C++ converts no integer to an enumeration silently); named "
         "by MetaEditor's words"),
    Kind("enum-conversion", None, "", "implicit enum conversion",
         "g++ refuses it (an error: one enumeration to another); named by MetaEditor's words"),
    Kind("gcc", None, "", "{name}",
         "a g++ warning MetaEditor has no number for, in the program's own code: the kit is "
         "stricter than MetaEditor there", logged=False),
)
KIND = {k.key: k for k in KINDS}

#: The functions whose result MetaEditor says "should be checked" (warning 83), by language.
#: The reference lists no such functions; these are the trade functions MetaEditor's logs
#: name (MQL5's OrderSend, the first review's B-1; MQL4's trade calls under #property strict),
#: whose failure a program must see. The kit declares these, and only these of MQL's,
#: [[nodiscard]] (daemon/tests/ea_mql/test_mqlwarn.py); a real log's 83 on another function is
#: one to add (docs/terminal.md, release checklist step 1).
RETURN_CHECKED: Mapping[str, frozenset[str]] = {
    "mql5": frozenset({"OrderSend", "OrderCheck"}),
    "mql4": frozenset({"OrderSend", "OrderSelect", "OrderClose", "OrderModify", "OrderDelete",
                       "OrderCloseBy"}),
}


@dataclass(frozen=True, order=True)
class EditorWarning:
    """One warning at a place of the program's tree (``file`` relative to the tree, as
    MetaEditor's log names it)."""

    file: str
    line: int
    col: int
    key: str
    text: str
    #: where it came from: "g++" or "reader", with g++'s own words when g++ found it
    source: str = field(default="reader", compare=False)

    @property
    def kind(self) -> Kind:
        return KIND[self.key]

    def __str__(self) -> str:
        number = self.kind.number
        label = f"warning {number}" if number is not None else "warning"
        return f"{self.file}({self.line},{self.col}) : {label}: {self.text}"


# ---- g++'s diagnostics, by MetaEditor's numbers ------------------------------------------------

_DIAG = re.compile(r"^(?P<path>[^\n:]+):(?P<line>\d+):(?P<col>\d+): (?P<sev>warning|error): "
                   r"(?P<msg>.*?)(?: \[(?P<flag>-W[^\]]*|-fpermissive)\])?$", re.M)
_QUOTED = r"'((?:[^'{}]|\{aka [^}]*\})*?)'(?: \{aka '[^']*'\})?"
#: C++'s spelling of MQL's built-in types as g++ writes them (the kit's typedefs keep MQL's own
#: names: uint, uchar, ushort, ulong, color).
_CPP_NAMES = {"long int": "long", "long unsigned int": "ulong", "unsigned int": "uint",
              "short int": "short", "short unsigned int": "ushort", "unsigned char": "uchar",
              "signed char": "char", "mqlstring": "string", "char16_t": "ushort"}
_NAMESPACE = re.compile(r"\b(?:mqlp_\w+|mqlfb)::")


def mql_type(cpp: str) -> str:
    """An MQL type's name for g++'s spelling of it: namespaces the kit adds dropped, C++'s
    built-in names as MQL spells them."""
    name = _NAMESPACE.sub("", cpp.strip()).removeprefix("const ").strip()
    return _CPP_NAMES.get(name, name)


def _quoted(msg: str) -> list[str]:
    return [m.group(1) for m in re.finditer(_QUOTED, msg)]


def _classify(msg: str, flag: str, enums: frozenset[str],
              literal: bool = False) -> tuple[str, dict[str, str]] | None:
    """(kind, fields) for one g++ diagnostic of the program's code; None for one that is no
    warning MetaEditor gives (an error of C++'s own). ``literal``: the code at the diagnostic's
    column is a number as written."""
    q = _quoted(msg)
    if flag in ("conversion", "float-conversion", "overflow", "sign-conversion") \
            and "changes value" in msg:
        return "constant-truncated", {}
    if flag in ("conversion", "float-conversion") and msg.startswith("conversion from") \
            and len(q) >= 2:
        return "loss-of-data", {"source": mql_type(q[0]), "target": mql_type(q[1])}
    if flag == "sign-conversion" or flag == "sign-compare":
        return "sign-mismatch", {}
    if flag == "shadow" and q:
        if "shadows a member" in msg:
            return "hides-member", {"name": q[0]}
        if "shadows a global" in msg:
            return "hides-global", {"name": q[0]}
        return "hides-local", {"name": q[0]}
    if flag in ("unused-variable", "unused-but-set-variable") and q:
        return "not-used", {"name": q[0]}
    if flag in ("uninitialized", "maybe-uninitialized") and q:
        return "uninitialized", {"name": q[0].split(".")[0]}
    if flag == "unused-result":
        called = re.search(r"ignoring return value of '(?:[^'(]*?[\s:])?(\w+)\(", msg)
        name = called.group(1) if called else ""
        if any(name in names for names in RETURN_CHECKED.values()):
            return "return-unchecked", {"name": name}
    if flag == "parentheses":
        return "precedence", {}
    if flag == "empty-body":
        return "empty-statement", {}
    if flag in ("type-limits", "tautological-compare", "bool-compare"):
        return "always", {"name": "true" if "always true" in msg else "false"}
    if flag.startswith("shift-"):
        return "shift", {}
    if flag == "return-type":
        return "not-all-paths", {}
    if flag and flag != "fpermissive":
        return "gcc", {"name": f"{msg} [-W{flag}]"}
    enum = _enum_conversion(msg, q, enums, literal)
    if enum is not None:
        return enum
    return None


def _enum_conversion(msg: str, q: list[str], enums: frozenset[str], literal: bool) \
        -> tuple[str, dict[str, str]] | None:
    """g++'s refusal of an implicit conversion to an enumeration, as MetaEditor words it: from
    a number written in the code (``literal``) 'number', from a variable its type."""
    if len(q) < 2 or not (msg.startswith("invalid conversion from")
                          or msg.startswith("cannot convert")):
        return None
    source, target = mql_type(q[0]), mql_type(q[1])
    if target not in enums:
        return None
    if source in enums:
        return "enum-conversion", {}
    return "enum-from-number", {"source": "number" if literal else source, "target": target}


_LITERAL = re.compile(r"[-+]?\s*(?:\d|\.\d)")


@cache
def kit_enums() -> frozenset[str]:
    """The enumerations the kit's headers declare (the reference's, as the kit models them)."""
    names: set[str] = set()
    for path in sorted(KIT.rglob("*.h")):
        names.update(re.findall(r"\benum\s+(?:class\s+)?(\w+)", path.read_text(encoding="utf-8")))
    return frozenset(names)


def from_gcc(output: str, tree: Path, enums: Iterable[str] = ()) -> list[EditorWarning]:
    """MetaEditor's warnings among g++'s diagnostics ``output`` that stand in the program's own
    files (those under ``tree``, the preprocessed tree g++ compiled; the kit's headers and the
    harness are not the program's), each named by MetaEditor's number and words. ``enums``:
    the program's own enumerations, beside the kit's."""
    known = kit_enums() | frozenset(enums)
    root = tree.resolve()
    out: set[EditorWarning] = set()
    texts: dict[Path, list[str]] = {}
    for m in _DIAG.finditer(output.replace("\u2018", "'").replace("\u2019", "'")):
        path = Path(m.group("path"))
        if not path.is_absolute() or not path.resolve().is_relative_to(root):
            continue
        rel = path.resolve().relative_to(root).as_posix()
        if not rel.endswith((".mq5", ".mq4", ".mqh")):
            continue
        flag = m.group("flag") or ""
        flag = flag.removeprefix("-Werror=").removeprefix("-W")
        if m.group("sev") == "error" and not (m.group("flag") or "").startswith("-Werror="):
            flag = ""                 # an error of C++'s own, unless an enumeration's
        line, col = int(m.group("line")), int(m.group("col"))
        if path not in texts:
            texts[path] = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        there = texts[path][line - 1][col - 1:] if line <= len(texts[path]) else ""
        found = _classify(m.group("msg"), flag, known, bool(_LITERAL.match(there)))
        if found is None:
            continue
        key, fields = found
        out.add(EditorWarning(rel, line, col, key, KIND[key].words.format(**fields),
                              f"g++: {m.group('msg')}"))
    return sorted(out)


# ---- the reader's checks -----------------------------------------------------------------------

#: MQL's scalar types: a local of one of these declared without a value holds anything until it
#: is assigned ("If a variable is not initialized explicitly, the value stored in this variable
#: can be any. Implicit initialization is not used": the reference's Initialization of
#: Variables). Strings and arrays are objects with constructors; a static local without a value
#: takes zero ("variables of the static storage class are taking zero initial values": Static
#: Variables).
SCALARS = frozenset({"bool", "char", "uchar", "short", "ushort", "int", "uint", "long", "ulong",
                     "float", "double", "datetime", "color"})


@dataclass(frozen=True)
class _Local:
    """A local variable's declaration: its name token and index, its statement's end (the
    ``;``), the close of the scope it lives in, its type's word, whether it has a value and
    whether it is an array or a static."""

    name: Token
    at: int
    end: int
    close: int
    type: str
    valued: bool
    array: bool
    static: bool


def _statement_end(code: list[Token], i: int, stop: int) -> int:
    """The index of the ``;`` ending the statement at ``i`` (brackets skipped), or ``stop``."""
    while i < stop:
        t = code[i]
        if t.kind == "op" and t.text in ("(", "[", "{"):
            i = skip_brackets(code, i)
            continue
        if t.kind == "op" and t.text in (";", "}"):
            return i
        i += 1
    return stop


def _locals(code: list[Token], parsed: Parsed) -> Iterator[_Local]:
    """Every variable a function body declares (parameters are not: MetaEditor warns of no
    unused parameter)."""
    index = {id(t): i for i, t in enumerate(code)}
    for d in declarations(code):
        if d.what != "variable":
            continue
        j = index[id(d.token)]
        if parsed.enclosing(j, "function") is None or parsed.kind_at(j) in ("class", "enum",
                                                                            "init"):
            continue
        before = code[j - 1].text if j else ""
        if before in ("*", "&"):
            continue                  # 'a * b;' 'a & b;': an expression, not a declaration
        start = parsed.starts[j]
        words = code[start:j]
        if words and words[0].text == "for":
            words = words[2:]
        lead = [t for t in words if t.kind == "id" and t.text not in QUALIFIERS]
        if not lead or lead[0].text in NOT_A_TYPE:
            continue
        scope = parsed.scopes[parsed.scope_of[j]]
        close = scope.close if scope.close > 0 else len(code)
        nxt = code[j + 1].text if j + 1 < len(code) else ""
        end = _statement_end(code, j, close)
        yield _Local(d.token, j, end, close, lead[0].text, nxt in ("=", "("), nxt == "[",
                     any(t.text == "static" for t in words))


def _used(code: list[Token], local: _Local) -> bool:
    """Whether the name occurs again in its scope, other than as a member (``x.name``) or a
    global (``::name``)."""
    name = local.name.text
    for k in range(local.at + 1, local.close):
        t = code[k]
        if t.kind == "id" and t.text == name and code[k - 1].text not in (".", "->", "::"):
            return True
    return False


class _Flow:
    """MetaEditor's "possible use of uninitialized variable" for one local scalar: the
    statements after its declaration walked in order, its state "assigned on every path so far"
    carried through ``if``/``else`` (assigned after both branches, or after the one that falls
    through), loops (a body may run no time: what it assigns does not count after it, and it
    reads with the state before it), ``switch`` (each ``case`` starts from the state before
    the switch) and ``return``/``break``/``continue`` (no path goes on). An assignment counts
    where it always runs: ``x = ...`` not behind ``&&``, ``||`` or ``?``, or the variable
    given whole to a function's non-``const`` reference parameter (``SymbolInfoInteger``'s
    ``long &`` form, a program's own ``int &n``); every other use is a read."""

    def __init__(self, code: list[Token], name: str,
                 out_params: Mapping[str, Forms]) -> None:
        self.code = code
        self.name = name
        self.out_params = out_params
        self.found: int | None = None

    def run(self, start: int, close: int) -> int | None:
        self.block(start, close, False)
        return self.found

    def block(self, i: int, end: int, assigned: bool,
              entry: bool | None = None) -> tuple[bool, bool]:
        """The statements from ``i`` to ``end``; ``entry``: the state at a ``case`` label (a
        switch's body). Returns (assigned, whether no path falls out of the block's end)."""
        code, ended = self.code, False
        while i < end and self.found is None:
            t = code[i]
            if entry is not None and t.kind == "id" and t.text in ("case", "default"):
                while i < end and code[i].text != ":":
                    i += 1
                i += 1
                assigned, ended = entry, False
                continue
            if ended:                                   # unreachable until the next label
                i = self.skip(i, end)
                continue
            i, assigned, ended = self.statement(i, end, assigned)
        return assigned, ended

    def skip(self, i: int, end: int) -> int:
        t = self.code[i]
        if t.kind == "op" and t.text == "{":
            return skip_brackets(self.code, i)
        return _statement_end(self.code, i, end) + 1

    def statement(self, i: int, end: int, assigned: bool) -> tuple[int, bool, bool]:
        """One statement at ``i``: (the index after it, assigned after it, whether it never
        falls through)."""
        code = self.code
        t = code[i]
        word = t.text if t.kind in ("id", "op") else ""
        if word == "{":
            close = skip_brackets(code, i) - 1
            assigned, ended = self.block(i + 1, close, assigned)
            return close + 1, assigned, ended
        if word == ";":
            return i + 1, assigned, False
        if word in ("if", "while", "switch", "for"):
            open_ = i + 1
            close = skip_brackets(code, open_) - 1
            if word == "for":
                parts = self.split(open_ + 1, close)
                assigned = self.expr(parts[0][0], parts[0][1], assigned)
                assigned = self.expr(parts[1][0], parts[1][1], assigned)
                after, body, ended = self.statement(close + 1, end, assigned)
                self.expr(parts[2][0], parts[2][1], assigned if ended else body)
                return after, assigned, False
            assigned = self.expr(open_ + 1, close, assigned)
            if word == "switch":
                body_close = skip_brackets(code, close + 1) - 1
                self.block(close + 2, body_close, assigned, entry=assigned)
                return body_close + 1, assigned, False
            after, then, then_ended = self.statement(close + 1, end, assigned)
            if word == "while":
                return after, assigned, False
            other, other_ended = assigned, False
            if after < end and code[after].text == "else":
                after, other, other_ended = self.statement(after + 1, end, assigned)
            return after, (then or then_ended) and (other or other_ended), \
                then_ended and other_ended
        if word == "do":
            after, body, ended = self.statement(i + 1, end, assigned)
            open_ = after + 1                           # code[after] is 'while'
            close = skip_brackets(code, open_) - 1
            assigned = self.expr(open_ + 1, close, assigned if ended else body)
            return close + 2, assigned, False
        stop = _statement_end(code, i, end)
        if word in ("return", "break", "continue"):
            self.expr(i + 1, stop, assigned)
            return stop + 1, assigned, True
        return stop + 1, self.expr(i, stop, assigned), False

    def split(self, i: int, close: int) -> list[tuple[int, int]]:
        """A ``for``'s three parts, as (start, end) ranges."""
        parts, start = [], i
        while i < close:
            t = self.code[i]
            if t.kind == "op" and t.text in ("(", "[", "{"):
                i = skip_brackets(self.code, i)
                continue
            if t.text == ";":
                parts.append((start, i))
                start = i + 1
            i += 1
        parts.append((start, close))
        return (parts + [(close, close)] * 3)[:3]

    def expr(self, i: int, end: int, assigned: bool) -> bool:
        """The tokens ``i``..``end`` of one expression: a read while not ``assigned`` is the
        finding; returns whether the variable is assigned after it."""
        code, conditional, sets = self.code, False, False
        for k in range(i, end):
            t = code[k]
            if t.kind == "op" and t.text in ("&&", "||", "?"):
                conditional = True
            if t.kind != "id" or t.text != self.name or code[k - 1].text in (".", "->", "::"):
                continue
            nxt = code[k + 1].text if k + 1 < len(code) else ""
            if nxt == "=" or self.out_argument(k):
                sets = sets or not conditional
                continue
            if not assigned and self.found is None:
                self.found = k
            return True                                 # found, or read after assignment
        return assigned or sets

    def out_argument(self, k: int) -> bool:
        """Whether the token at ``k`` is a whole argument the function called may assign: one
        given to a non-``const`` reference parameter of a form of that many arguments, or to
        a function whose forms are not known here (a terminal function the kit does not model
        in that form: g++ then refuses the call, and the reader claims nothing of it)."""
        code = self.code
        if code[k - 1].text not in ("(", ",") or code[k + 1].text not in (")", ","):
            return False
        depth, position, j = 0, 0, k - 1
        while j >= 0:
            t = code[j]
            if t.kind == "op" and t.text in (")", "]", "}"):
                depth += 1
            elif t.kind == "op" and t.text in ("(", "[", "{"):
                if depth == 0:
                    break
                depth -= 1
            elif t.text == "," and depth == 0:
                position += 1
            j -= 1
        if j <= 0 or code[j].text != "(" or code[j - 1].kind != "id":
            return False
        name = code[j - 1].text
        forms = self.out_params.get(name)
        if forms is None:
            return name not in BY_VALUE
        count = position + 1 + sum(1 for t in code[k + 1:skip_brackets(code, j) - 1]
                                   if t.text == ",") - self._nested_commas(k + 1, j)
        fitting = [refs for low, high, refs in forms if low <= count <= high]
        return not fitting or any(position in refs for refs in fitting)

    def _nested_commas(self, i: int, open_: int) -> int:
        """The commas from ``i`` to the call's ``)`` (opened at ``open_``) inside brackets."""
        code, depth, nested = self.code, 0, 0
        for t in code[i:skip_brackets(code, open_) - 1]:
            if t.kind == "op" and t.text in ("(", "[", "{"):
                depth += 1
            elif t.kind == "op" and t.text in (")", "]", "}"):
                depth -= 1
            elif t.text == "," and depth > 0:
                nested += 1
        return nested


#: The terminal's functions of any number of arguments, each taken by value (what the kit
#: declares as a C++ template its declarations' reader does not read).
BY_VALUE = frozenset({"Print", "PrintFormat", "printf", "Comment", "Alert", "StringFormat"})

#: A function's forms: (least arguments, most arguments, the non-``const`` reference
#: parameters' positions) of each.
Forms = list[tuple[int, int, frozenset[int]]]


def _out_params(lang: str, parsed: Iterable[Parsed]) -> dict[str, Forms]:
    """Each function's forms, by name: the program's own (any class's method of that name) and
    the kit's models of the terminal's."""
    out: dict[str, Forms] = {}
    for p in parsed:
        for f in p.functions:
            refs = frozenset(k for k, param in enumerate(f.params) if param.ref
                             and not any(t.text == "const" for t in param.tokens))
            low = sum(1 for param in f.params if param.default is None)
            out.setdefault(f.name.text, []).append((low, len(f.params), refs))
    for name, protos in _kit_functions(lang).items():
        for proto in protos:
            refs = frozenset(k for k, kp in enumerate(proto.params) if kp.ref and not kp.const)
            low, high = proto.arity
            out.setdefault(name, []).append((low, high, refs))
    return out


def _kit_functions(lang: str) -> Mapping[str, list[Proto]]:
    """The kit's declarations of the terminal's functions (``mqlref.kit_functions``, which
    needs the tests package: the build imports this module from it)."""
    from daemon.tests.ea_mql.kit import mqlref
    return mqlref.kit_functions(lang)


def _column(lines: list[str], code: list[Token], at: int) -> int:
    """The column (from 1) of the token ``code[at]`` in the file's text: the tokens carry their
    line only, so the column is that of the word's n-th whole-word occurrence on the line,
    n counted among the line's tokens (1 when the line does not hold it: a macro's word)."""
    token = code[at]
    nth = sum(1 for t in code[:at] if t.line == token.line and t.text == token.text
              and not t.via)
    if 0 < token.line <= len(lines):
        found = list(re.finditer(rf"\b{re.escape(token.text)}\b", lines[token.line - 1]))
        if nth < len(found):
            return found[nth].start() + 1
    return 1


def reader_warnings(root: Path, lang: str = "mql5") -> list[EditorWarning]:
    """The reader's warnings in every program and include under ``root`` (an MQL5 or MQL4
    folder), each file read as its programs' compiler reads it: 31 for a local never used
    again, 60 for a local scalar read before every path to it assigns it."""
    files = mqlgate.sources(root, lang)
    ext = "." + lang.replace("mql", "mq")
    units = mqlpre.read_tree(root, [p for p in files if p.suffix == ext], files, lang)
    parsed = {path: Parsed(unit.code) for path, unit in units.items()}
    out_params = _out_params(lang, parsed.values())
    enums = frozenset(kit_enums()) | {t.text for p in parsed.values()
                                      for i, t in enumerate(p.code[1:], 1)
                                      if p.code[i - 1].text == "enum" and t.kind == "id"}
    found: list[EditorWarning] = []
    for path, unit in units.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        code = unit.code
        for local in _locals(code, parsed[path]):
            name = local.name
            if not _used(code, local):
                found.append(EditorWarning(
                    unit.shown, name.line, _column(lines, code, local.at), "not-used",
                    KIND["not-used"].words.format(name=name.text)))
                continue
            scalar = local.type in SCALARS or local.type in enums
            if local.valued or local.array or local.static or not scalar:
                continue
            read = _Flow(code, name.text, out_params).run(local.end + 1, local.close)
            if read is not None:
                found.append(EditorWarning(
                    unit.shown, code[read].line, _column(lines, code, read), "uninitialized",
                    KIND["uninitialized"].words.format(name=name.text)))
    return sorted(set(found))


def program_enums(root: Path, lang: str) -> frozenset[str]:
    """The enumerations the programs under ``root`` declare (for :func:`from_gcc`)."""
    names: set[str] = set()
    for path in mqlgate.sources(root, lang):
        names.update(re.findall(r"\benum\s+(\w+)", path.read_text(encoding="utf-8")))
    return frozenset(names)


# ---- the report --------------------------------------------------------------------------------


def merge(*groups: Iterable[EditorWarning]) -> list[EditorWarning]:
    """The warnings of both judges, one per place and kind (g++ and the reader may both find an
    unused or uninitialized scalar)."""
    seen: dict[tuple[str, int, str, str], EditorWarning] = {}
    for w in (w for g in groups for w in g):
        seen.setdefault((w.file, w.line, w.key, w.text), w)
    return sorted(seen.values())


def report(warnings: list[EditorWarning]) -> str:
    """The warnings as MetaEditor's log writes them, one a line, and the count."""
    lines = [str(w) for w in warnings]
    count = f"{len(warnings)} warning{'' if len(warnings) == 1 else 's'}"
    lines.append(f"{count} of MetaEditor's kinds (its log's 'Result: N errors, N warnings' "
                 "counts them the same way: one a line)")
    return "\n".join(lines)


def explain(gcc_output: str, tree: Path, reader: list[EditorWarning],
            enums: Iterable[str] = ()) -> str:
    """A failed build's message: MetaEditor's warnings first (the reader's and those of g++'s
    diagnostics in the program's files), then g++'s own output, which names every error."""
    warnings = merge(reader, from_gcc(gcc_output, tree, enums))
    if not warnings:
        return gcc_output.strip()
    head = "MetaEditor would warn:\n" + report(warnings)
    return head + ("\n\ng++:\n" + gcc_output.strip() if gcc_output.strip() else "")


def main(argv: list[str]) -> int:
    """``python -m daemon.tests.ea_mql.kit.mqlwarn [--lang mql4]``: the shipped program's warnings
    (the MQL5 EA with its helper, or the MQL4 EA), as MetaEditor's log writes them, built as CI
    builds them: what to compare with a MetaEditor build's log (docs/terminal.md, the release
    checklist)."""
    lang = argv[2] if len(argv) == 3 and argv[1] == "--lang" else "mql5"
    from daemon.tests.ea_mql import eakit, eakit4
    what = "the MQL4 EA" if lang == "mql4" else "the MQL5 EA and its helper"
    try:
        if lang == "mql4":
            eakit4.build_ea4()
        else:
            eakit.build_ea()
    except eakit.BuildError as exc:
        print(f"{what}: the build refused it\n{exc}")
        return 1
    print(f"{what}: built\n{report([])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

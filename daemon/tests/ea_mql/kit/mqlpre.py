r"""mqlpre: what the compiler reads after MQL's preprocessor, so the gate's rules see it too.

"The #define directive substitutes expression for all further found entries of identifier in
the source text" (https://www.mql5.com/en/docs/basis/preprosessor/constant): a word a rule
refuses can reach the compiler through a macro (``#define KIND input`` then ``int KIND;``).
So the gate reads each program as the compiler does: from the program's first line, following
its ``#include`` lines into the included files (``<...>`` from the tree's ``Include`` folder,
``"..."`` beside the including file), keeping ``#ifdef``/``#ifndef``/``#else``/``#endif``
(``__MQL5__`` or ``__MQL4__`` predefined for the language, as the conditional-compilation page
says) and replacing every macro, object-like or parametric, by its expansion. Each file's code
is its own :class:`Unit`, so a fault still names the file and line where the word stands; a
word that came out of a macro carries the macro's name (:attr:`Token.via`) and the line of its
use. A file no program includes is read alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

try:
    from .mqllex import Token, tokenize
except ImportError:          # run as a script (mqlpp.py), its folder on sys.path
    from mqllex import Token, tokenize  # type: ignore[no-redef]

__all__ = ["Macro", "Unit", "read_text", "read_tree"]

#: The macros the compiler defines itself (https://www.mql5.com/en/docs/basis/preprosessor/
#: conditional_compilation): "__MQL5__ macro is defined when compiling *.mq5 file, __MQL4__
#: macro is defined when compiling *.mq4 one".
PREDEFINED = {"mql5": "__MQL5__", "mql4": "__MQL4__"}


@dataclass(frozen=True)
class Macro:
    """One ``#define``: its parameters (None for the parameter-free form) and body."""

    name: str
    params: tuple[str, ...] | None
    body: tuple[Token, ...]
    line: int


@dataclass
class Unit:
    """One file as the compiler reads it: the code of its active lines with every macro
    expanded, and its active preprocessor lines."""

    shown: str
    code: list[Token] = field(default_factory=list)
    pp: list[Token] = field(default_factory=list)
    #: a program's (or a file read alone's) code as the compiler reads it, its includes' code in
    #: place: (token, the file it stands in, whether an #import block holds it)
    stream: list[tuple[Token, str, bool]] = field(default_factory=list)


def macro_of(d: Token) -> Macro | None:
    """The macro a ``#define`` line declares (None when it names nothing)."""
    if d.text != "#define" or len(d.parts) < 2 or d.parts[1].kind != "id":
        return None
    name = d.parts[1]
    rest = list(d.parts[2:])
    after = d.raw.split(name.text, 1)[1] if name.text in d.raw else ""
    if rest and rest[0].text == "(" and after.startswith("("):   # '(' right after the name
        close = next((k for k, t in enumerate(rest) if t.text == ")"), len(rest) - 1)
        params = tuple(t.text for t in rest[1:close] if t.kind == "id" or t.text == "...")
        return Macro(name.text, params, tuple(rest[close + 1:]), d.line)
    return Macro(name.text, None, tuple(rest), d.line)


#: "The special type of resource variable bitmap informs the compiler that the resource is an
#: image. In this case the resource variable gets the uint type" (MetaTrader 5 build 1403's
#: notes on resource variables).
RESOURCE_TYPES = {"bitmap": "uint"}


def resource_declaration(d: Token) -> list[Token]:
    """The declaration a ``#resource "path" as TYPE NAME[[]...]`` line makes, as the code
    tokens the compiler reads (``const TYPE NAME[];``), so the program's uses of NAME resolve
    (https://www.mql5.com/en/docs/runtime/resources, "Resource variables": "Resources can be
    declared using the resource variables and treated as if they are variables of the
    corresponding type"); [] for any other ``#resource`` line. Only the reader's stream holds
    them: the rules over the file's own tokens see the directive as written."""
    parts = d.parts
    if len(parts) < 5 or parts[2].text != "as" or parts[3].kind != "id" or parts[4].kind != "id":
        return []
    kind = parts[3]
    if kind.text in RESOURCE_TYPES:
        kind = replace(kind, text=RESOURCE_TYPES[kind.text])
    out = [Token("id", "const", d.line), kind, parts[4]]
    rest = parts[5:]
    while len(rest) >= 2 and rest[0].text == "[" and rest[1].text == "]":
        out += [rest[0], rest[1]]
        rest = rest[2:]
    return [*out, Token("op", ";", d.line)]


class _Reader:
    """The preprocessor over one program (or one file read alone)."""

    def __init__(self, lang: str, resolve: Callable[[Path | None, Token], Path | None],
                 units: dict[Path, Unit], shown: Callable[[Path], str]) -> None:
        self.macros: dict[str, Macro] = {PREDEFINED[lang]: Macro(PREDEFINED[lang], None, (), 0)}
        self.resolve = resolve
        self.units = units
        self.shown = shown
        self.entered: set[Path] = set()
        self.stream: list[tuple[Token, str, bool]] = []
        self.importing = False

    def read(self, path: Path | None, text: str, unit: Unit) -> None:
        """Every token of ``text`` (the file ``path``) into ``unit``, included files into
        their own units."""
        active: list[bool] = []           # per open #if: whether its branch is read
        run: list[Token] = []             # code since the last directive
        for t in tokenize(text):
            on = all(active)
            if t.kind != "pp":
                if on:
                    run.append(t)
                continue
            if on:
                self.flush(unit, run)
            run = []
            word = t.parts[0].text if t.parts else ""
            if word in ("ifdef", "ifndef"):
                name = t.parts[1].text if len(t.parts) > 1 else ""
                active.append((name in self.macros) == (word == "ifdef"))
            elif word == "else" and active:
                active[-1] = not active[-1]
            elif word == "endif" and active:
                active.pop()
            if not (on or word in ("else", "endif") and all(active)):
                continue
            unit.pp.append(t)
            if word == "define":
                macro = macro_of(t)
                if macro is not None:
                    self.macros[macro.name] = macro
            elif word == "undef" and len(t.parts) > 1:
                self.macros.pop(t.parts[1].text, None)
            elif word == "import":
                self.importing = len(t.parts) > 1
            elif word == "include":
                self.include(path, t)
            elif word == "resource":
                self.stream += [(tok, unit.shown, False) for tok in resource_declaration(t)]
        if all(active):
            self.flush(unit, run)

    def flush(self, unit: Unit, run: list[Token]) -> None:
        code = self.expand(run, frozenset())
        unit.code += code
        self.stream += [(tok, unit.shown, self.importing) for tok in code]

    def include(self, path: Path | None, d: Token) -> None:
        target = self.resolve(path, d)
        if target is None or not target.is_file() or target in self.entered:
            return
        self.entered.add(target)
        unit = self.units.get(target)
        first = unit is None
        unit = Unit(self.shown(target)) if first else Unit(unit.shown)
        self.read(target, target.read_text(encoding="utf-8"), unit)
        self.entered.discard(target)
        if first:
            self.units[target] = unit

    def expand(self, seq: list[Token], busy: frozenset[str]) -> list[Token]:
        """``seq`` with every macro replaced, rescanned (a macro is not expanded inside its
        own expansion)."""
        out: list[Token] = []
        i = 0
        while i < len(seq):
            t = seq[i]
            m = self.macros.get(t.text) if t.kind == "id" and t.text not in busy else None
            if m is None or m.params is not None and (i + 1 >= len(seq) or
                                                      seq[i + 1].text != "("):
                out.append(t)
                i += 1
                continue
            via = t.via or m.name
            if m.params is None:
                body = [replace(b, line=t.line, via=via) for b in m.body]
                out += self.expand(body, busy | {m.name})
                i += 1
                continue
            args, i = _arguments(seq, i + 1)
            body = _substitute(m, [self.expand(a, busy) for a in args], args)
            out += self.expand([replace(b, line=t.line, via=via) for b in body],
                               busy | {m.name})
        return out


def _arguments(seq: list[Token], open_: int) -> tuple[list[list[Token]], int]:
    """The arguments of a macro call whose '(' is at ``open_``, and the index after ')'."""
    args: list[list[Token]] = [[]]
    depth, i = 0, open_
    while i < len(seq):
        t = seq[i]
        if t.text in "([{" and t.kind == "op":
            depth += 1
            if depth > 1:
                args[-1].append(t)
        elif t.text in ")]}" and t.kind == "op":
            depth -= 1
            if depth == 0:
                return args, i + 1
            args[-1].append(t)
        elif t.text == "," and depth == 1:
            args.append([])
        else:
            args[-1].append(t)
        i += 1
    return args, i


def _substitute(m: Macro, expanded: list[list[Token]], raw: list[list[Token]]) -> list[Token]:
    """A parametric macro's body with its parameters replaced (``#p`` makes a string,
    ``a ## b`` joins two tokens into one name)."""
    params = {p: k for k, p in enumerate(m.params or ())}
    out: list[Token] = []
    body = list(m.body)
    k = 0
    while k < len(body):
        b = body[k]
        if b.text == "#" and k + 1 < len(body) and body[k + 1].text in params:
            words = " ".join(t.text for t in raw[params[body[k + 1].text]])
            out.append(Token("str", '"' + words.replace('"', '\\"') + '"', b.line))
            k += 2
            continue
        if b.text == "##" and out and k + 1 < len(body):
            nxt = body[k + 1]
            right = (raw[params[nxt.text]] if nxt.text in params and params[nxt.text] < len(raw)
                     else [nxt])
            joined = out.pop().text + (right[0].text if right else "")
            out.append(Token("id", joined, b.line))
            out += right[1:]
            k += 2
            continue
        if b.kind == "id" and b.text in params:
            at = params[b.text]
            out += expanded[at] if at < len(expanded) else []
        else:
            out.append(b)
        k += 1
    return out


def _tree_resolver(root: Path) -> Callable[[Path | None, Token], Path | None]:
    def resolve(path: Path | None, d: Token) -> Path | None:
        rest = "".join(p.text for p in d.parts[1:])
        if rest.startswith("<") and rest.endswith(">"):
            return root.joinpath("Include", *rest[1:-1].replace("\\", "/").split("/"))
        if len(d.parts) == 2 and d.parts[1].kind == "str" and path is not None:
            name = d.parts[1].text[1:-1].replace("\\\\", "/").replace("\\", "/")
            return path.parent.joinpath(*name.split("/"))
        return None
    return resolve


def read_tree(root: Path, programs: list[Path], files: list[Path],
              lang: str) -> dict[Path, Unit]:
    """Every file of ``files`` (programs and includes under ``root``) as the compiler reads it:
    each program from its first line through its includes, then each file no program
    included, alone."""
    units: dict[Path, Unit] = {}

    def shown(p: Path) -> str:
        return p.relative_to(root).as_posix() if p.is_relative_to(root) else str(p)

    resolve = _tree_resolver(root)
    for program in programs:
        unit = Unit(shown(program))
        reader = _Reader(lang, resolve, units, shown)
        reader.entered.add(program)
        reader.read(program, program.read_text(encoding="utf-8"), unit)
        unit.stream = reader.stream
        units.setdefault(program, unit)
    for path in files:
        if path not in units:
            unit = Unit(shown(path))
            alone = _Reader(lang, resolve, units, shown)
            alone.read(path, path.read_text(encoding="utf-8"), unit)
            unit.stream = alone.stream
            units[path] = unit
    return units


def read_text(text: str, shown: str, lang: str) -> Unit:
    """One file's text read alone (its ``#include`` lines are not followed)."""
    unit = Unit(shown)
    reader = _Reader(lang, lambda _p, _d: None, {}, lambda p: str(p))
    reader.read(None, text, unit)
    unit.stream = reader.stream
    return unit

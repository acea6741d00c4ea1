r"""mqlgate: hold MQL source to the language MetaEditor compiles, before g++ sees it.

The kit compiles the EAs as C++ (``mqlpp.py`` rewrites the few forms C++ cannot parse). C++
accepts much that MetaEditor refuses: a local array named ``input`` (a reserved word of MQL4
and MQL5) compiled here and stopped both EAs in MetaEditor. So every shipped source passes this
gate first, and an EA build that fails it fails like a g++ error, naming file, line and word.

The gate reads what the compiler reads: each program from its first line through its
``#include`` lines, every macro replaced by its expansion (``mqlpre.py``; a word that reached the
code through a macro is refused at the line that uses it, naming the macro), cut into tokens
the way MQL cuts them (``mqllex.py``: a ``$`` or a letter outside a-z is a character of its own,
``1'000`` one number, ``u8"x"`` one literal), with the structure the rules need (``mqlparse.py``:
which ``{`` is a class body, a function body, an initializer; every function declarator and
its parameters).

Two readers refuse. ``mqlgrammar.py`` reads each program by MQL's grammar and resolves every
name it uses against the program's declarations and the language's reference words
(``lang/<lang>.words.toml``): whatever is not one of MQL's forms, and whatever name is neither
declared nor MQL's, is refused by construction (``GRAMMAR_RULES``), so a new variant of a
family needs no new rule. ``RULES`` is the table of the kinds a page names one by one, each with
a message of its own. Each rule names the page it comes from: a page of
the MQL5 or MQL4 reference (or its compile-error table) for the language's own rules; the kit
file whose limit it is for what MQL allows but the kit cannot model (object pointers, includes
other than the EA's own); and, for the one rule of form, the reference's page that shows it
(``class-form``: methods are declared in the class and defined after it, as MetaQuotes'
Standard Library writes every class, so no method body calls a member declared further down,
an order no page settles). The words of each language (reserved words, directives,
``#property`` names, ``#import`` modules, the terminal's function names) are data:
``lang/mql5.toml`` and ``lang/mql4.toml``, each list with the page it is copied from.

What the gate cannot guarantee is in ``docs/terminal.md`` ("What the language gate
guarantees"): it refuses the kinds listed there, each probed by ``test_gate.py``; it does not
type-check, resolve overloads or convert as MetaEditor does (g++ judges those, by C++'s rules),
so a MetaEditor build stays the proof.

Usage: ``python mqlgate.py [--lang mql5|mql4] ROOT`` (ROOT is an ``MQL5`` or ``MQL4`` folder):
prints every fault as ``file:line: 'word': why (page)`` and exits 2, or exits 0.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

try:
    from . import mqlgrammar, mqllex, mqlparse, mqlpre
except ImportError:          # run as a script, or imported by mqlpp.py run as one
    import mqlgrammar  # type: ignore[no-redef]
    import mqllex  # type: ignore[no-redef]
    import mqlparse  # type: ignore[no-redef]
    import mqlpre  # type: ignore[no-redef]

DIGRAPHS, LexError, Token, tokenize = (mqllex.DIGRAPHS, mqllex.LexError, mqllex.Token,
                                       mqllex.tokenize)
BUILTIN_TYPES, NOT_A_TYPE, QUALIFIERS = (mqlparse.BUILTIN_TYPES, mqlparse.NOT_A_TYPE,
                                         mqlparse.QUALIFIERS)
Declared, Parsed, declarations = mqlparse.Declared, mqlparse.Parsed, mqlparse.declarations
skip_brackets, template_end = mqlparse.skip_brackets, mqlparse.template_end

__all__ = ["BUILTIN_TYPES", "CPP_ONLY", "LANG_PAGES", "RULES", "Declared", "Fault", "Language",
           "LexError", "Rule", "Token", "aliases", "check_file", "check_text", "check_tree",
           "declarations", "language", "macros", "sources", "tokenize"]

LANG_DIR = Path(__file__).resolve().parent / "lang"
MAX_IDENT = 63
MAX_PARAMS = 64         # "Maximum 64 parameters can be passed into a function"
MAX_MACRO_PARAMS = 8    # "When using the parametric form, maximum 8 parameters are allowed"
MAX_STRING = 65534      # compile error 159 "String-constant has more than 65534 characters"
#: MQL5's predefined variables (mql5.com/en/docs/predefined); any other name starting with '_'
#: is the kit's own (the EA must not reach into it), but for the predefined macros.
PREDEFINED = frozenset({"_Symbol", "_Digits", "_Point", "_Period", "_LastError", "_StopFlag",
                        "_UninitReason", "_RandomSeed", "_IsX64", "_AppliedTo"})
#: The predefined macros the kit gives their MQL meaning (``mqlpp.py``): the function's name
#: and signature, the file's name and path, the line
#: (https://www.mql5.com/en/docs/constants/namedconstants/compilemacro).
KIT_MACROS = frozenset({"__FUNCTION__", "__FUNCSIG__", "__FILE__", "__PATH__", "__LINE__",
                        "__MQL5__", "__MQL4__"})
#: The page's other predefined macros: MQL, but values the kit does not give.
OTHER_MACROS = frozenset({"__DATE__", "__DATETIME__", "__MQLBUILD__", "__MQL5BUILD__",
                          "__MQL4BUILD__", "__COUNTER__", "__RANDOM__", "__CPU_ARCHITECTURE__",
                          "_DEBUG", "_RELEASE"})
#: C++ keywords MQL's reserved-word pages do not list: in MQL each is no keyword at all, so C++
#: that uses one means something else, or nothing, to MetaEditor. Words MQL documents elsewhere
#: (``typedef``, ``union``, ``namespace``, ``export``) are taken out per language. (``printf`` is
#: not here: it is the reference's other name of ``PrintFormat``, an alias the gate takes.)
CPP_ONLY = frozenset({
    "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "catch", "char16_t",
    "char32_t", "char8_t", "compl", "concept", "consteval", "constexpr", "constinit",
    "const_cast", "co_await", "co_return", "co_yield", "decltype", "explicit", "export",
    "friend", "goto", "inline", "mutable", "namespace", "noexcept", "not", "not_eq", "nullptr",
    "or", "or_eq", "register", "reinterpret_cast", "requires", "signed", "static_assert",
    "static_cast", "thread_local", "throw", "try", "typeid", "union", "unsigned", "using",
    "volatile", "wchar_t", "xor", "xor_eq", "int8_t", "int16_t", "int32_t", "int64_t",
    "uint8_t", "uint16_t", "uint32_t", "uint64_t", "size_t"})
#: The characters of MQL's operations and punctuation (basis/operations, basis/syntax); '@'
#: is MQL5's matrix product.
PUNCTUATION = frozenset("+-*/%=<>!&|^~?:;,.()[]{}")
KIT_PAGE = "daemon/tests/ea_mql/kit/mqlpp.py"
FORM_PAGE = {"mql5": "https://www.mql5.com/en/docs/basis/types/classes",
             "mql4": "https://docs.mql4.com/basis/types/classes"}


def _pages(base: str) -> dict[str, str]:
    return {key: base + path for key, path in {
        "identifiers": "basis/syntax/identifiers", "syntax": "basis/syntax",
        "operations": "basis/operations", "types": "basis/types",
        "errors": "constants/errorswarnings/errorscompile",
        "include": "basis/preprosessor/include", "chars": "basis/types/integer/symbolconstants",
        "strings": "basis/types/stringconst", "if": "basis/operators/if",
        "init": "basis/variables/initialization", "formal": "basis/variables/formal",
        "static": "basis/variables/static", "print": "common/print",
        "macros": "basis/preprosessor/constant", "classes": "basis/types/classes",
        "staticmembers": "basis/oop/staticmembers", "virtual": "basis/oop/virtual",
        "properties": "basis/preprosessor/compilation", "variables": "basis/variables",
        "predefined": "predefined", "integer": "basis/types/integer",
        "datetime": "basis/types/integer/datetime", "basis": "basis",
        "resources": "runtime/resources",
        "warnings": "constants/errorswarnings/warningscompile"}.items()}


LANG_PAGES = {"mql5": _pages("https://www.mql5.com/en/docs/"),
              "mql4": _pages("https://docs.mql4.com/")}
#: The DLLs an MQL4 program may import here: the kit models ws2_32.dll and advapi32.dll's
#: RtlGenRandom (kit/mql4/mql4_winsock.h) and nothing else. MQL5 programs import nothing (the
#: EA uses MQL5's own sockets).
KIT_IMPORTS: dict[str, frozenset[str]] = {"mql5": frozenset(),
                                          "mql4": frozenset({"ws2_32.dll", "advapi32.dll"})}


# ---- the languages' words ------------------------------------------------------------------


@dataclass(frozen=True)
class Language:
    """One language's words, from ``lang/<name>.toml``."""

    name: str
    reserved: dict[str, tuple[str, str]]   # word -> (group, page)
    directives: frozenset[str]
    directives_page: str
    properties: frozenset[str]
    properties_page: str
    modules: tuple[str, ...]
    import_page: str
    functions: frozenset[str]              # the terminal's functions (error 271)
    functions_page: str

    @property
    def cpp_only(self) -> frozenset[str]:
        return CPP_ONLY - {w for w in self.reserved if not w.startswith("#")}

    def page(self, key: str) -> str:
        return LANG_PAGES[self.name][key]


@cache
def language(name: str) -> Language:
    data = tomllib.loads((LANG_DIR / f"{name}.toml").read_text(encoding="utf-8"))
    res = data["reserved"]
    reserved: dict[str, tuple[str, str]] = {}
    for group, words in res.items():
        if isinstance(words, list) and group != "elsewhere":
            for word in words:
                reserved[word] = (group.replace("_", " "), res["page"])
    for extra in res.get("elsewhere", []):
        for word in extra["words"]:
            reserved.setdefault(word, ("documented keyword", extra["page"]))
    pre, props, imp, fns = (data["preprocessor"], data["properties"], data["import"],
                            data["functions"])
    return Language(name, reserved, frozenset(pre["directives"]), pre["page"],
                    frozenset(props["names"]) | frozenset(props.get("accepted", [])),
                    props["page"], tuple(imp["modules"]), imp["page"],
                    frozenset(fns["names"]), fns["page"])


@cache
def _words_data(name: str) -> dict[str, Any]:
    return tomllib.loads((LANG_DIR / f"{name}.words.toml").read_text(encoding="utf-8"))


@cache
def aliases(name: str) -> dict[str, str]:
    """The reference's other names of its functions in ``name`` (``sqrt`` -> ``MathSqrt``,
    ``printf`` -> ``PrintFormat``: ``lang/<name>.words.toml``'s ``aliases``): the gate takes
    each as a function of the language, and the rewriting (``mqlpp.py``) hands the kit's
    forwarder of its function, not the C library's function of the same name, to g++."""
    table = _words_data(name).get("aliases", {})
    assert isinstance(table, dict)
    return {str(k): str(v) for k, v in table.items()}


@cache
def words(name: str) -> mqlgrammar.Words:
    """The words the allow-list takes for ``name``: the terminal's functions
    (``lang/<name>.toml``) and the reference's other names for them (its aliases), the
    reference's constants, types, predefined variables and its structures' fields
    (``lang/<name>.words.toml``, made from the pinned reference by ``mqlref.py``), the
    predefined macros."""
    lang = language(name)
    data = _words_data(name)
    predefined = frozenset(data["variables"]) | (PREDEFINED if name == "mql5" else frozenset())
    types = frozenset(data["types"])
    functions = lang.functions | frozenset(data["functions"]) | frozenset(aliases(name))
    free = (functions | frozenset(data["constants"]) | types | predefined | KIT_MACROS
            | OTHER_MACROS)
    return mqlgrammar.Words(name, free, types, frozenset(data["members"]), predefined,
                            functions, lang.functions_page)


#: The rules of the grammar and the names (``mqlgrammar.py``), whose pages: the reference's for
#: the language, the kit's file for its limit.
GRAMMAR_RULES: dict[str, tuple[str, str]] = {
    "grammar": ("language", "basis"), "undeclared": ("language", "identifiers"),
    "array-size": ("language", "variables"), "constant-initializer": ("language", "init"),
    "read-only": ("language", "predefined"), "zero-memory": ("language", "errors"),
    "number-form": ("language", "integer"), "literal": ("language", "datetime"),
    "kit-macro-declaration": ("kit", KIT_PAGE)}
#: The kinds the reader refuses one by one, each with MetaEditor's number and words from the
#: compile-error table (a predefined variable's name declared: the warnings' table). The
#: reader knows each name's type, array size and function's parameters, which a rule over
#: tokens does not: these are the eighth review's last kinds that built.
#: ``daemon/tests/ea_mql/test_gate_controls.py`` probes each.
KIND_RULES: dict[str, tuple[str, str]] = {
    "array-assignment": ("language", "errors"), "array-index": ("language", "errors"),
    "union-member": ("language", "classes"), "predefined-name": ("language", "warnings"),
    "reference-type": ("language", "errors")}


def _grammar(stream: list[tuple[Token, str, bool]], lang: str,
             resolve: bool) -> tuple[list[Fault], mqlgrammar.Facts]:
    tokens = [s[0] for s in stream]
    found, facts = mqlgrammar.parse(tokens, [s[1] for s in stream], [s[2] for s in stream],
                                    words(lang), resolve=resolve)
    out = []
    for g in found:
        owner, key = (GRAMMAR_RULES | KIND_RULES)[g.rule]
        page = key if owner == "kit" else language(lang).page(key)
        why = g.why + (f" (the word comes from the macro {g.token.via})" if g.token.via else "")
        out.append(Fault(g.file, g.token.line, g.token.text, why, page, g.rule))
    return out, facts


def _merge(first: list[Fault], more: list[Fault]) -> list[Fault]:
    """``first`` and the faults of ``more`` at a word no fault of ``first`` names already
    (one fault per word: the rule that names its kind, then the grammar's), in line order."""
    seen = {(f.file, f.line, f.word) for f in first}
    out = list(first)
    for f in more:
        if (f.file, f.line, f.word) not in seen:
            seen.add((f.file, f.line, f.word))
            out.append(f)
    return sorted(out, key=lambda f: (f.line, f.word, f.why))


def macros(pp: list[Token]) -> Iterator[Declared]:
    """The names ``#define`` declares (the macro and its parameters)."""
    for d in pp:
        m = mqlpre.macro_of(d)
        if m is None:
            continue
        yield Declared(d.parts[1], "macro")
        if m.params is not None:
            for p in d.parts[3:]:
                if p.text == ")":
                    break
                if p.kind == "id":
                    yield Declared(p, "macro parameter")


# ---- what the rules see ------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One refusal: where, the word, why, and the page the rule comes from."""

    file: str
    line: int
    word: str
    why: str
    page: str
    rule: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: '{self.word}': {self.why} ({self.page})"


@dataclass
class Tree:
    """What the rules need from every file of a program: the types declared (name -> class,
    struct, interface, union or enum), the static members defined at global scope, and the
    functions each ``#import`` block declares (name -> the module, as written)."""

    root: Path | None = None
    types: dict[str, str] = field(default_factory=dict)
    statics: set[tuple[str, str]] = field(default_factory=set)
    imports: dict[str, str] = field(default_factory=dict)

    def learn(self, code: list[Token], pp: list[Token] | tuple[Token, ...] = ()) -> None:
        self.imports.update(imported_functions(code, pp))
        for i, t in enumerate(code[:-1]):
            if t.text in ("class", "struct", "interface", "union", "enum") and \
                    code[i + 1].kind == "id" and not (i and code[i - 1].text in ("<", ",")):
                self.types.setdefault(code[i + 1].text, t.text)
            if t.text == "::" and 0 < i < len(code) - 2 and code[i + 2].text in ("=", ";", "[") \
                    and code[i - 1].kind == "id" and code[i + 1].kind == "id":
                self.statics.add((code[i - 1].text, code[i + 1].text))


@dataclass
class Source:
    """One file as the rules see it: its code as the compiler reads it (macros expanded), its
    active preprocessor lines, its structure and what it declares."""

    shown: str
    lang: Language
    program: bool              # an .mq4/.mq5 (a program) rather than an .mqh
    code: list[Token]
    pp: list[Token]
    declared: list[Declared]
    parsed: Parsed
    tree: Tree
    path: Path | None = None


Check = Callable[[Source], Iterator[tuple[Token, str, str]]]  # (token, why, page)


@dataclass(frozen=True)
class Rule:
    """One row of the table: an id the tests probe by, whose rule it is (the language's; the
    kit's limit; the form the sources keep), and the check."""

    id: str
    owner: str     # "language", "kit" or "form"
    check: Check


# ---- the rules: words ------------------------------------------------------------------------


def _reserved_names(src: Source) -> Iterator[tuple[Token, str, str]]:
    for d in src.declared:
        hit = src.lang.reserved.get(d.token.text)
        if hit is not None:
            group, page = hit
            yield (d.token, f"a reserved word of {src.lang.name.upper()} ({group}) declared "
                   f"as a {d.what}: reserved words \"cannot be used in another meaning\"", page)


def _long_names(src: Source) -> Iterator[tuple[Token, str, str]]:
    for t in [*src.code, *(p for d in src.pp for p in d.parts)]:
        if t.kind == "id" and len(t.text) > MAX_IDENT:
            yield (t, f"{len(t.text)} characters: \"The length of the identifier can not "
                   f"exceed {MAX_IDENT} characters\"", src.lang.page("identifiers"))


def _cpp_words(src: Source) -> Iterator[tuple[Token, str, str]]:
    only = src.lang.cpp_only
    for t in src.code:
        if t.kind == "id" and t.text in only:
            yield (t, f"C++ has this word, {src.lang.name.upper()} does not: it is not among "
                   "the reserved words", src.lang.reserved["int"][1])


def _std(src: Source) -> Iterator[tuple[Token, str, str]]:
    for a, b in zip(src.code, src.code[1:], strict=False):
        if a.text == "std" and b.text == "::":
            yield (a, "the C++ standard library is not MQL", src.lang.page("syntax"))


def _compound_types(src: Source) -> Iterator[tuple[Token, str, str]]:
    for a, b in zip(src.code, src.code[1:], strict=False):
        if (a.text, b.text) in (("long", "long"), ("long", "int"), ("long", "double"),
                                ("short", "int"), ("int", "short"), ("int", "long")):
            yield (b, f"'{a.text} {b.text}' is a C++ type; MQL's integer types are char, "
                   "short, int, long and their u- forms, each one word", src.lang.page("types"))


# ---- the rules: characters and literals ------------------------------------------------------


def _characters(src: Source) -> Iterator[tuple[Token, str, str]]:
    allowed = PUNCTUATION | ({"@"} if src.lang.name == "mql5" else set())
    for t in src.code:
        if t.kind == "op" and not set(t.text) <= allowed and t.text not in DIGRAPHS:
            yield (t, "not a character of MQL: identifiers are \"figures 0-9, the Latin "
                   "uppercase and lowercase letters a-z and A-Z ... the underscore character\"",
                   src.lang.page("identifiers"))


def _digit_separators(src: Source) -> Iterator[tuple[Token, str, str]]:
    for t in src.code:
        if t.kind == "num" and "'" in t.text:
            yield (t, "a C++ digit separator: in MQL a quote opens a character constant, "
                   "\"any single character in quotation marks\"", src.lang.page("chars"))


def _literal_prefixes(src: Source) -> Iterator[tuple[Token, str, str]]:
    for t in src.code:
        if t.kind in ("str", "chr") and t.text[0] not in "\"'":
            yield (t, f"a C++ literal prefix ({t.text.split(t.text[-1])[0]}): an MQL string "
                   "constant is \"a sequence of Unicode characters enclosed in double quotes\"",
                   src.lang.page("strings"))


def _digraphs(src: Source) -> Iterator[tuple[Token, str, str]]:
    for t in src.code:
        if t.kind == "op" and t.text in DIGRAPHS:
            yield (t, "a C++ digraph: not an MQL operation or separator",
                   src.lang.page("operations"))


def _long_strings(src: Source) -> Iterator[tuple[Token, str, str]]:
    for t in src.code:
        if t.kind == "str" and t.text.startswith('"'):
            chars = len(re.sub(r"\\(x[0-9A-Fa-f]+|u[0-9A-Fa-f]{4}|.)", "c", t.text[1:-1]))
            if chars > MAX_STRING:
                yield (Token(t.kind, t.text[:12] + "...", t.line, via=t.via),
                       f"{chars} characters: compile error 159 \"String-constant has more "
                       f"than {MAX_STRING} characters\"", src.lang.page("errors"))


# ---- the rules: declarations ---------------------------------------------------------------


def _lambdas(src: Source) -> Iterator[tuple[Token, str, str]]:
    c = src.code
    for i, t in enumerate(c):
        if t.text != "[" or t.kind != "op":
            continue
        prev = c[i - 1] if i else None
        if prev is not None and not (prev.kind == "op" and prev.text not in (")", "]")
                                     or prev.text == "return"):
            continue
        j = skip_brackets(c, i)
        if j < len(c) and c[j].text in ("(", "{", "mutable"):
            yield (t, "a C++ lambda; MQL has none", src.lang.page("syntax"))


def _arrow(src: Source) -> Iterator[tuple[Token, str, str]]:
    for t in src.code:
        if t.text == "->":
            yield (t, "'->' is not an MQL operation: members are reached with '.', through an "
                   "object pointer too", src.lang.page("operations"))


def _anonymous_enum(src: Source) -> Iterator[tuple[Token, str, str]]:
    for a, b in zip(src.code, src.code[1:], strict=False):
        if a.text == "enum" and b.text in ("{", ":"):
            yield (a, "an anonymous enumeration cannot be declared", src.lang.page("syntax"))
        elif a.text == "enum" and b.text in ("class", "struct"):
            yield (b, "a C++ scoped enumeration ('enum class'); MQL's enumerations are "
                   "'enum name { ... }'", src.lang.page("syntax"))


def _bases(c: list[Token], i: int) -> tuple[int, list[Token]]:
    """For ``class NAME [final] : ...`` at ``i``: where the base list starts (0: none) and the
    base names."""
    j = i + 2
    if j < len(c) and c[j].text == "final":
        j += 1
    if j >= len(c) or c[j].text != ":":
        return 0, []
    names: list[Token] = []
    k, expect = j + 1, True
    while k < len(c) and c[k].text not in ("{", ";"):
        if c[k].text == "<":          # a template argument list's commas are its own
            while k < len(c) and c[k].text != ">":
                k += 1
        elif c[k].text == ",":
            expect = True
        elif expect and c[k].kind == "id" and c[k].text not in ("public", "protected",
                                                                 "private", "virtual"):
            names.append(c[k])
            expect = False
        k += 1
    return j, names


def _multiple_inheritance(src: Source) -> Iterator[tuple[Token, str, str]]:
    c = src.code
    for i, t in enumerate(c[:-2]):
        if t.text in ("class", "struct", "interface") and c[i + 1].kind == "id":
            _, bases = _bases(c, i)
            if len(bases) > 1:
                yield (c[i + 1], "more than one base class: MQL has no multiple "
                       "inheritance", src.lang.page("syntax"))


def _inheritance_kind(src: Source) -> Iterator[tuple[Token, str, str]]:
    c = src.code
    families = {"class": "class", "interface": "class", "struct": "struct"}
    for i, t in enumerate(c[:-2]):
        if t.text not in families or c[i + 1].kind != "id":
            continue
        for base in _bases(c, i)[1]:
            kind = src.tree.types.get(base.text)
            if kind in families and families[kind] != families[t.text]:
                number, words = (266, "Class cannot be inherited from a structure") \
                    if families[t.text] == "class" else \
                    (267, "Structure cannot be inherited from a class")
                yield (base, f"a {t.text} derived from a {kind}: compile error {number} "
                       f"\"{words}\"", src.lang.page("classes"))


def _pointer_to_builtin(src: Source) -> Iterator[tuple[Token, str, str]]:
    c = src.code
    for i in range(len(c) - 2):
        if c[i].text in BUILTIN_TYPES and c[i + 1].text == "*" and c[i + 2].kind == "id" and (
                i == 0 or c[i - 1].text != "("):
            yield (c[i + 2], f"a pointer to {c[i].text}: \"A pointer can be declared only for "
                   "a class or structure\" (compile error 253)", src.lang.page("errors"))


def _type_end(c: list[Token], i: int, end: int) -> int:
    """Where the type of a declaration starting at ``i`` ends (after qualifiers, the type, its
    template arguments and a trailing const), or -1 when the statement declares nothing."""
    while i < end and c[i].text in QUALIFIERS:
        i += 1
    if i >= end or c[i].kind != "id" or c[i].text in NOT_A_TYPE:
        return -1
    i += 1
    if i < end and c[i].text == "<":
        i = template_end(c, i)
    if i < end and c[i].text == "const":
        i += 1
    if i >= end or not (c[i].kind == "id" or c[i].text in ("&", "*")):
        return -1
    return i


def _references(src: Source) -> Iterator[tuple[Token, str, str]]:
    c, p = src.code, src.parsed
    params = [(f.open, f.close) for f in p.functions]
    why = ("a reference outside a parameter list: \"A reference cannot be declared in this "
           "place\" (compile error 229)")
    for i, t in enumerate(c):
        if t.text != "&" or i + 1 >= len(c) or c[i + 1].kind != "id" or i == 0:
            continue
        if any(a < i < b for a, b in params):
            continue
        start = p.starts[i]
        # a for-init clause is a statement of its own
        k = i
        depth = 0
        while k > start:
            k -= 1
            if c[k].text in (")", "]"):
                depth += 1
            elif c[k].text in ("(", "["):
                if depth == 0:
                    if c[k].text == "(" and k > 0 and c[k - 1].text == "for":
                        start = k + 1
                    break
                depth -= 1
        type_end = _type_end(c, start, i + 1)
        if type_end < 0:
            continue
        if type_end == i:
            yield (c[i + 1], why, src.lang.page("errors"))
            continue
        depth = 0
        for k in range(start, i):
            depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(c[k].text, 0)
        if depth == 0 and c[i - 1].text == ",":
            yield (c[i + 1], why, src.lang.page("errors"))


def _condition_declarations(src: Source) -> Iterator[tuple[Token, str, str]]:
    c = src.code
    for i, t in enumerate(c[:-2]):
        if t.text not in ("if", "while", "switch") or c[i + 1].text != "(":
            continue
        close = skip_brackets(c, i + 1) - 1
        end = _type_end(c, i + 2, close)
        if end > 0 and c[end].text in ("&", "*"):
            end += 1
        if end > 0 and end + 1 < close and c[end].kind == "id" and c[end + 1].text == "=":
            yield (c[end], f"a declaration inside '{t.text} ( )': its parentheses hold an "
                   "expression only", src.lang.page("if"))
            continue
        depth = 0
        for k in range(i + 2, close):
            depth += {"(": 1, ")": -1}.get(c[k].text, 0)
            if depth == 0 and c[k].text == ";":
                yield (c[k], f"a C++17 init-statement inside '{t.text} ( )'",
                       src.lang.page("if"))
                break


def _designated_initializers(src: Source) -> Iterator[tuple[Token, str, str]]:
    c, p = src.code, src.parsed
    for i, t in enumerate(c[:-2]):
        if t.text == "." and i and c[i - 1].text in ("{", ",") and c[i + 1].kind == "id" \
                and c[i + 2].text == "=" and p.kind_at(i) == "init":
            yield (c[i + 1], "a designated initializer: MQL's initializing sequences are "
                   "positional", src.lang.page("init"))


def _is_struct(src: Source, name: str) -> bool:
    return src.tree.types.get(name) in ("struct", "class", "interface", "union") or \
        name.startswith("Mql")


def _parameters(src: Source) -> Iterator[tuple[Token, str, str, str]]:
    """(token, why, page, rule) of every parameter rule, per function declarator."""
    formal = src.lang.page("formal")
    for f in src.parsed.functions:
        if len(f.params) > MAX_PARAMS:
            yield (f.name, f"{len(f.params)} parameters: \"Maximum {MAX_PARAMS} parameters "
                   "can be passed into a function\" (compile error 147)", formal,
                   "parameter-count")
        for prm in f.params:
            word = prm.name or prm.type
            if word is None:
                continue
            if prm.array and not prm.ref:
                yield (word, "an array parameter without '&': \"Arrays of any type and data "
                       "of the structure type are always passed by reference\" (compile error "
                       "294)", formal, "array-by-value")
            elif not prm.ref and not prm.array and prm.type is not None and \
                    _is_struct(src, prm.type.text):
                yield (word, f"a {prm.type.text} parameter without '&': structures and "
                       "classes are \"always passed by reference\" (compile error 293)",
                       formal, "object-by-value")
            if prm.ref and prm.default is not None:
                yield (word, "a default on a reference parameter: \"Parameters passed by "
                       "reference can't be initialized by default values\"", formal,
                       "reference-default")


def _param_rule(rule: str) -> Check:
    def check(src: Source) -> Iterator[tuple[Token, str, str]]:
        for tok, why, page, which in _parameters(src):
            if which == rule:
                yield tok, why, page
    return check


def _local_functions(src: Source) -> Iterator[tuple[Token, str, str]]:
    for f in src.parsed.functions:
        if src.parsed.scopes[f.scope].kind in ("function", "block"):
            yield (f.name, "a function declared inside a function: compile error 325 \"The "
                   "function can be declared only in the global scope\"",
                   src.lang.page("errors"))


def _static_locals(src: Source) -> Iterator[tuple[Token, str, str]]:
    c, p = src.code, src.parsed
    for i, t in enumerate(c):
        if t.text != "static" or p.starts[i] != i or p.kind_at(i) not in ("function", "block"):
            continue
        fn = p.enclosing(i, "function")
        if fn is None:
            continue
        heads = [f for f in p.functions if f.scope == fn.parent and f.body and f.close < fn.open]
        lo = max(heads, key=lambda f: f.close).open if heads else fn.open
        local = {d.token.text for d in declarations(c[lo:i])}
        end = i
        while end < len(c) and c[end].text != ";":
            end += 1
        eq = next((k for k in range(i, end) if c[k].text == "="), None)
        if eq is None:
            continue
        for k in range(eq + 1, end):
            x = c[k]
            call = k + 1 < end and c[k + 1].text == "(" and x.text != "sizeof"
            if x.kind == "id" and (x.text in local or call):
                yield (x, "a static variable initialized from a "
                       f"{'call' if call else 'local variable or parameter'}: \"A static "
                       "variable can be initialized by a constant or constant expression\" "
                       "(compile error 327)", src.lang.page("static"))
                break


def _print_arguments(src: Source) -> Iterator[tuple[Token, str, str]]:
    c = src.code
    for i, t in enumerate(c[:-1]):
        if t.text in ("Print", "Comment", "Alert") and c[i + 1].text == "(" and \
                (i == 0 or c[i - 1].text not in (".", "::")):
            close = skip_brackets(c, i + 1) - 1
            depth, args = 0, 1
            for k in range(i + 2, close):
                depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(c[k].text, 0)
                args += depth == 0 and c[k].text == ","
            if args > MAX_PARAMS:
                yield (t, f"{args} arguments: \"The number of parameters cannot exceed "
                       f"{MAX_PARAMS}\"", src.lang.page("print"))


def _system_functions(src: Source) -> Iterator[tuple[Token, str, str]]:
    lang = src.lang
    for f in src.parsed.functions:
        if f.owner or src.parsed.scopes[f.scope].kind not in ("global", "namespace"):
            continue
        if f.name.text in lang.functions:
            yield (f.name, f"{f.name.text} is a function of the terminal: compile error 271 "
                   "\"Overloading of system functions (terminal functions) is prohibited\"",
                   lang.functions_page)


def _struct_virtual(src: Source) -> Iterator[tuple[Token, str, str]]:
    p = src.parsed
    for i, t in enumerate(src.code):
        if t.text == "virtual":
            scope = p.scopes[p.scope_of[i]]
            if scope.kind == "class" and scope.tag == "struct":
                yield (t, "\"Structures cannot have virtual functions\" (compile error 269)",
                       src.lang.page("virtual"))


def _static_members(src: Source) -> Iterator[tuple[Token, str, str]]:
    c, p = src.code, src.parsed
    for i, t in enumerate(c):
        if t.text != "static" or p.starts[i] != i:
            continue
        scope = p.scopes[p.scope_of[i]]
        if scope.kind != "class":
            continue
        end = i
        while end < len(c) and c[end].text not in (";", "(", "{"):
            end += 1
        if end >= len(c) or c[end].text != ";":
            continue                           # a static method
        names = [d.token for d in declarations(c[i:end + 1]) if d.what == "variable"]
        for name in names:
            if (scope.name, name.text) not in src.tree.statics:
                yield (name, f"a static member never defined: \"Static member of a class has "
                       "to be explicitly initialized ... in global scope\" "
                       f"({scope.name}::{name.text}; compile error 370)",
                       src.lang.page("staticmembers"))


def _method_pointers(src: Source) -> Iterator[tuple[Token, str, str]]:
    c = src.code
    for i, t in enumerate(c):
        if t.text == "::" and i + 1 < len(c) and c[i + 1].text == "*" or t.text in (".*",
                                                                                    "->*"):
            yield (t, "a pointer to a member: compile error 386 \"Pointers to methods are not "
                   "supported\"", src.lang.page("errors"))


def _type_names_reused(src: Source) -> Iterator[tuple[Token, str, str]]:
    for d in src.declared:
        if d.what in ("variable", "parameter", "function") and \
                src.tree.types.get(d.token.text) in ("struct", "class", "interface"):
            yield (d.token, f"the name of a {src.tree.types[d.token.text]} declared as a "
                   f"{d.what}: \"The structure name can't be used as an identifier\" "
                   "(compile error 281)", src.lang.page("classes"))


def _class_form(src: Source) -> Iterator[tuple[Token, str, str]]:
    for f in src.parsed.functions:
        if f.body and src.parsed.scopes[f.scope].kind == "class":
            yield (f.name, "a method defined in its class body: declare it there and define "
                   f"it after the class ({f.owner}::{f.name.text}), as the reference's own "
                   "classes and MetaQuotes' Standard Library do, so no body calls a member "
                   "declared further down", FORM_PAGE[src.lang.name])


# ---- the rules: the preprocessor ---------------------------------------------------------------


def _directives(src: Source) -> Iterator[tuple[Token, str, str]]:
    for d in src.pp:
        name = d.parts[0].text if d.parts else ""
        if name not in src.lang.directives:
            yield (d, f"'#{name}' is not a directive of {src.lang.name.upper()}'s "
                   "preprocessor", src.lang.directives_page)


def _macro_parameters(src: Source) -> Iterator[tuple[Token, str, str]]:
    for d in src.pp:
        m = mqlpre.macro_of(d)
        if m is not None and m.params is not None and len(m.params) > MAX_MACRO_PARAMS:
            yield (d.parts[1], f"{len(m.params)} macro parameters: \"When using the "
                   f"parametric form, maximum {MAX_MACRO_PARAMS} parameters are allowed\"",
                   src.lang.page("macros"))


def _properties(src: Source) -> Iterator[tuple[Token, str, str]]:
    for d in src.pp:
        if d.text != "#property" or len(d.parts) < 2:
            continue
        name = d.parts[1].text
        if re.sub(r"\d+$", "", name) not in src.lang.properties:
            yield (d.parts[1], f"not a property of {src.lang.name.upper()}",
                   src.lang.properties_page)
        elif not src.program:
            yield (d.parts[1], "a #property in an included file: \"Properties described in "
                   "included files are completely ignored\"", src.lang.properties_page)


#: The type of each property's value, from the table of the properties page (basis/preprosessor/
#: compilation, MQL5 and MQL4): "string", a number ("int", "double", "color": a number, a
#: constant's name or a color constant), or "none" (the property takes no value). A numbered
#: property (indicator_label1, indicator_color2, ...) is its name without the number.
PROPERTY_VALUES: dict[str, str] = {
    "copyright": "string", "link": "string", "version": "string", "description": "string",
    "icon": "string", "tester_indicator": "string", "tester_file": "string",
    "tester_library": "string", "tester_set": "string", "optimization_chart_mode": "string",
    "indicator_label": "string", "stacksize": "int", "indicator_applied_price": "int",
    "indicator_height": "int", "indicator_buffers": "int", "indicator_plots": "int",
    "indicator_width": "int", "indicator_style": "int", "indicator_type": "int",
    "indicator_levelwidth": "int", "indicator_levelstyle": "int", "indicator_minimum": "double",
    "indicator_maximum": "double", "indicator_level": "double", "indicator_color": "color",
    "indicator_levelcolor": "color", "library": "none", "indicator_chart_window": "none",
    "indicator_separate_window": "none", "script_show_confirm": "none",
    "script_show_inputs": "none", "tester_no_cache": "none", "tester_everytick_calculate": "none",
    "service": "none", "strict": "none"}


def _property_values(src: Source) -> Iterator[tuple[Token, str, str]]:
    """A property given a value of the wrong type: a string where the table says a number or a
    color, a number or a color where it says a string, no value where it takes one (compile
    error 289 "Incorrect value of a property"), one of the reference's constants where it says
    a string. A macro of the program's is left to what it stands for."""
    defined = {d.token.text for d in src.declared if d.what == "macro"}
    constants = words(src.lang.name).free
    for d in src.pp:
        if d.text != "#property" or len(d.parts) < 2:
            continue
        kind = PROPERTY_VALUES.get(re.sub(r"\d+$", "", d.parts[1].text))
        if kind is None or kind == "none":
            continue
        value = d.parts[2] if len(d.parts) > 2 else None
        if value is not None and value.text == "-" and len(d.parts) > 3:
            value = d.parts[3]
        if value is None:
            wrong = "no value"
        elif kind == "string" and (value.kind in ("num", "clr", "chr", "dt") or (
                value.kind == "id" and value.text in constants and value.text not in defined)):
            wrong = f"the {'number' if value.kind == 'num' else 'constant'} {value.text}"
        elif kind != "string" and value.kind == "str":
            wrong = f"the string {value.text}"
        else:
            continue
        yield (value if value is not None else d.parts[1], f"'#property {d.parts[1].text}' takes "
               f"{'a string' if kind == 'string' else 'a ' + kind}, given {wrong}: compile error "
               "289 \"Incorrect value of a property\"", src.lang.properties_page)


def _icon(src: Source) -> Iterator[tuple[Token, str, str]]:
    if src.path is None or src.tree.root is None:
        return
    for d in src.pp:
        if d.text == "#property" and len(d.parts) > 2 and d.parts[1].text == "icon" \
                and d.parts[2].kind == "str":
            path = d.parts[2].text[1:-1].replace("\\\\", "/").replace("\\", "/")
            where = (src.tree.root.joinpath(*path.lstrip("/").split("/")) if path.startswith("/")
                     else src.path.parent.joinpath(*path.split("/")))
            if not where.is_file():
                yield (d.parts[2], "compile error 341 \"Could not open the icon file at the "
                       "specified path\" (\"Path specification rules are the same as for "
                       "resources\")", src.lang.page("properties"))


def _import_blocks(src: Source) -> Iterator[tuple[Token, str, str]]:
    open_: Token | None = None
    for d in src.pp:
        if d.text != "#import":
            continue
        if open_ is not None:
            if len(d.parts) > 1:
                yield (d, "an '#import' block is closed by a bare '#import'",
                       src.lang.import_page)
            open_ = None
            continue
        if len(d.parts) != 2 or d.parts[1].kind != "str":
            yield (d, "'#import' opens with the quoted name of a module", src.lang.import_page)
            continue
        module = d.parts[1].text.strip('"').lower()
        if not module.endswith(src.lang.modules):
            yield (d.parts[1], f"modules are {' or '.join(src.lang.modules)} files",
                   src.lang.import_page)
        open_ = d
    if open_ is not None:
        yield (open_, "this '#import' block is never closed (compile error 300)",
               src.lang.import_page)


def _resource_path_fault(token: Token) -> str:
    """Why a ``#resource`` path is not one the Resources page takes ("" when it is): "The length
    of the constant string <path_resource_name> can't exceed 63 characters", and no "..\\" or
    ":\\" in it."""
    path = token.text[1:-1].replace("\\\\", "\\")
    if len(path) > 63 or "..\\" in path or ":\\" in path:
        return ("a resource path has at most 63 characters and no '..\\' or ':\\' (MetaEditor: "
                "compile error 313 \"Incorrect path to the resource file\")")
    return ""


def _resource_form(src: Source) -> Iterator[tuple[Token, str, str]]:
    """``#resource "path"`` alone, or MQL5's resource variable ``#resource "path" as TYPE
    NAME`` (``NAME[]``, ``NAME[][]`` for an array): "#resource path_to_resource_file as
    resource_variable_type resource_variable_name" (runtime/resources), the path as the page
    allows it. MQL4's Resources page declares no resource variables, so there the ``as`` form
    is refused."""
    for d in src.pp:
        if d.text != "#resource":
            continue
        parts = d.parts
        if len(parts) < 2 or parts[1].kind != "str":
            yield (d, "'#resource' takes the resource file's path in quotes",
                   src.lang.page("resources"))
            continue
        why = _resource_path_fault(parts[1])
        if why:
            yield (parts[1], why, src.lang.page("resources"))
            continue
        if len(parts) == 2 or (len(parts) == 3 and parts[2].text == ";"):
            continue
        if src.lang.name == "mql4":
            yield (parts[2], "a resource variable ('#resource ... as'): MQL4's Resources page "
                   "has none (MQL5's has)", src.lang.page("resources"))
            continue
        shape = [p.text for p in parts[5:]]
        if parts[2].text != "as" or len(parts) < 5 or parts[3].kind != "id" or \
                parts[4].kind != "id" or shape not in ([], ["[", "]"], ["[", "]", "[", "]"]):
            yield (parts[2], "a resource variable is '#resource \"path\" as TYPE NAME' (or "
                   "NAME[], NAME[][])", src.lang.page("resources"))


def _include_form(src: Source) -> Iterator[tuple[Token, str, str]]:
    for d in src.pp:
        if d.text != "#include":
            continue
        rest = "".join(p.text for p in d.parts[1:])
        if not (rest.startswith("<") and rest.endswith(">")) and not (
                len(d.parts) == 2 and d.parts[1].kind == "str"):
            yield (d, "#include takes <file> or \"file\"", src.lang.page("include"))


# -- the kit's limits: MQL allows these, the kit cannot give them MQL's meaning


def _kit_imports(src: Source) -> Iterator[tuple[Token, str, str]]:
    """A call of a function imported from a module the kit does not model. Declaring the
    import is MQL the kit builds (the function is declared, never defined); a call would need
    the DLL's behaviour, which the kit has only for MQL4's ws2_32.dll and advapi32.dll."""
    allowed = KIT_IMPORTS[src.lang.name]
    blocks = import_blocks(src.pp)
    c = src.code
    for i, t in enumerate(c[:-1]):
        module = src.tree.imports.get(t.text)
        if module is None or module in allowed or t.kind != "id" or c[i + 1].text != "(" or \
                any(first < t.line < last for first, last, _ in blocks) or \
                (i and c[i - 1].text in (".", "::")):
            continue
        yield (t, f"a call of {t.text}, imported from {module}: {src.lang.name.upper()} "
               f"programs here import only {sorted(allowed) or 'nothing'} for what they call "
               "(the kit models no other module; an import only declared is taken)",
               "daemon/tests/ea_mql/kit/mql4/mql4_winsock.h")


#: The resource variables the kit carries: a file's text as a string, its bytes as an array of
#: numbers (daemon/tests/ea_mql/kit/mqlpp.py writes them into the program, as MetaEditor puts
#: the file into the .ex5).
KIT_RESOURCE_NUMBERS = frozenset({"char", "uchar", "short", "ushort", "int", "uint", "long",
                                  "ulong", "float", "double"})


def _kit_resources(src: Source) -> Iterator[tuple[Token, str, str]]:
    """What the kit carries of ``#resource``: an indicator (``"\\Indicators\\X.ex5"``, built
    from its .mq5), and the variables ``as string NAME`` and ``as <number> NAME[]``; an image
    (``bitmap``), a structure array, a sound or a picture resource has no form in the kit."""
    for d in src.pp:
        if d.text != "#resource" or len(d.parts) < 2 or d.parts[1].kind != "str" or \
                _resource_path_fault(d.parts[1]):
            continue
        parts = d.parts
        path = parts[1].text[1:-1].replace("\\\\", "\\")
        if len(parts) == 2 or (len(parts) == 3 and parts[2].text == ";"):
            if not (path.startswith("\\Indicators\\") and path.endswith(".ex5")):
                yield (parts[1], "the kit carries indicators only as plain resources "
                       "(\"\\\\Indicators\\\\<path>.ex5\"), and resource variables 'as "
                       "string' and 'as <number type> NAME[]'", KIT_PAGE)
            continue
        if len(parts) < 5 or parts[2].text != "as":
            continue
        array = [p.text for p in parts[5:]] == ["[", "]"]
        if not ((parts[3].text == "string" and len(parts) == 5) or
                (parts[3].text in KIT_RESOURCE_NUMBERS and array)):
            yield (parts[3], f"a resource variable 'as {parts[3].text}"
                   f"{' ' + parts[4].text if len(parts) > 4 else ''}"
                   f"{''.join(p.text for p in parts[5:])}': the kit carries 'as string NAME' and "
                   "'as <number type> NAME[]' only (no images, no structures)", KIT_PAGE)


def _kit_includes(src: Source) -> Iterator[tuple[Token, str, str]]:
    for d in src.pp:
        if d.text != "#include":
            continue
        rest = "".join(p.text for p in d.parts[1:]).replace("\\", "/")
        if not re.fullmatch(r"<MTGateway/\w+\.mqh>", rest):
            yield (d, "only <MTGateway\\*.mqh> may be included (no Standard Library: the kit "
                   "cannot check it)", KIT_PAGE)


def _kit_pointers(src: Source) -> Iterator[tuple[Token, str, str]]:
    c = src.code
    for i, t in enumerate(c):
        if t.text == "new" and i + 1 < len(c) and c[i + 1].kind == "id":
            yield (t, "object pointers (new) are not modelled by the kit", KIT_PAGE)
        elif t.text == "delete":
            yield (t, "object pointers (delete) are not modelled by the kit", KIT_PAGE)
        elif t.text == "this" and i + 1 < len(c) and c[i + 1].text == ".":
            yield (t, "use members without 'this.' (the kit's 'this' is a C++ pointer)",
                   KIT_PAGE)
        elif (t.text == "*" and 0 < i < len(c) - 2 and c[i - 1].kind == "id"
              and c[i - 1].text not in NOT_A_TYPE and c[i - 1].text not in QUALIFIERS
              and c[i + 1].kind == "id" and c[i + 2].text in (";", "=", ",", ")")
              and (i < 2 or c[i - 2].text in ("(", ",", ";", "{", "}", "const", "static"))):
            yield (c[i + 1], "pointer declarators are not modelled by the kit", KIT_PAGE)


def _kit_arrays(src: Source) -> Iterator[tuple[Token, str, str]]:
    c = src.code
    names = {d.token for d in src.declared if d.what in ("variable", "parameter")}
    for i, t in enumerate(c):
        if t in names and i + 1 < len(c) and c[i + 1].text == "[":
            j = skip_brackets(c, i + 1)
            if j < len(c) and c[j].text == "[":
                yield (t, "multi-dimensional arrays are not modelled by the kit", KIT_PAGE)


def _kit_underscore(src: Source) -> Iterator[tuple[Token, str, str]]:
    for t in src.code:
        if t.kind != "id" or not t.text.startswith("_") or len(t.text) < 2 \
                or t.text in PREDEFINED or t.text in KIT_MACROS:
            continue
        if t.text in OTHER_MACROS:
            yield (t, "a predefined macro of MQL whose value the kit does not give", KIT_PAGE)
        else:
            yield (t, "names starting with '_' other than the predefined variables and "
                   "macros are the kit's", KIT_PAGE)


def _kit_strict(src: Source) -> Iterator[tuple[Token, str, str]]:
    if src.lang.name != "mql4" or not src.program:
        return
    if not any(d.text == "#property" and len(d.parts) > 1 and d.parts[1].text == "strict"
               for d in src.pp):
        yield (Token("pp", "#property strict", 1), "missing: an MQL4 program without "
               "'#property strict' compiles in MQL4's legacy mode, whose rules the kit does "
               "not model", KIT_PAGE)


RULES: tuple[Rule, ...] = (
    Rule("reserved-name", "language", _reserved_names),
    Rule("long-identifier", "language", _long_names),
    Rule("cpp-word", "language", _cpp_words),
    Rule("std", "language", _std),
    Rule("compound-type", "language", _compound_types),
    Rule("character", "language", _characters),
    Rule("digit-separator", "language", _digit_separators),
    Rule("literal-prefix", "language", _literal_prefixes),
    Rule("digraph", "language", _digraphs),
    Rule("long-string", "language", _long_strings),
    Rule("lambda", "language", _lambdas),
    Rule("arrow", "language", _arrow),
    Rule("anonymous-enum", "language", _anonymous_enum),
    Rule("multiple-inheritance", "language", _multiple_inheritance),
    Rule("inheritance-kind", "language", _inheritance_kind),
    Rule("pointer-to-builtin", "language", _pointer_to_builtin),
    Rule("reference-outside-parameters", "language", _references),
    Rule("condition-declaration", "language", _condition_declarations),
    Rule("designated-initializer", "language", _designated_initializers),
    Rule("array-by-value", "language", _param_rule("array-by-value")),
    Rule("object-by-value", "language", _param_rule("object-by-value")),
    Rule("reference-default", "language", _param_rule("reference-default")),
    Rule("parameter-count", "language", _param_rule("parameter-count")),
    Rule("local-function", "language", _local_functions),
    Rule("static-initializer", "language", _static_locals),
    Rule("print-arguments", "language", _print_arguments),
    Rule("system-function", "language", _system_functions),
    Rule("struct-virtual", "language", _struct_virtual),
    Rule("static-member", "language", _static_members),
    Rule("method-pointer", "language", _method_pointers),
    Rule("type-name-reused", "language", _type_names_reused),
    Rule("directive", "language", _directives),
    Rule("macro-parameters", "language", _macro_parameters),
    Rule("property", "language", _properties),
    Rule("property-value", "language", _property_values),
    Rule("icon", "language", _icon),
    Rule("import-form", "language", _import_blocks),
    Rule("resource-form", "language", _resource_form),
    Rule("include-form", "language", _include_form),
    Rule("class-form", "form", _class_form),
    Rule("kit-imports", "kit", _kit_imports),
    Rule("kit-resources", "kit", _kit_resources),
    Rule("kit-includes", "kit", _kit_includes),
    Rule("kit-pointers", "kit", _kit_pointers),
    Rule("kit-arrays", "kit", _kit_arrays),
    Rule("kit-underscore", "kit", _kit_underscore),
    Rule("kit-strict", "kit", _kit_strict),
)


def import_blocks(pp: list[Token] | tuple[Token, ...]) -> list[tuple[int, int, str]]:
    """Each ``#import "module"`` ... ``#import`` block of a file: its first and last lines and
    its module (lower case, as written)."""
    blocks: list[tuple[int, int, str]] = []
    opened: Token | None = None
    for d in pp:
        if d.text != "#import":
            continue
        if opened is None and len(d.parts) == 2 and d.parts[1].kind == "str":
            opened = d
        elif opened is not None and len(d.parts) == 1:
            blocks.append((opened.line, d.line, opened.parts[1].text.strip('"').lower()))
            opened = None
    return blocks


def imported_functions(code: list[Token], pp: list[Token] | tuple[Token, ...]) -> dict[str, str]:
    """The functions the file's ``#import`` blocks declare: name -> module."""
    out: dict[str, str] = {}
    for first, last, module in import_blocks(pp):
        for i, t in enumerate(code[:-1]):
            if first < t.line < last and t.kind == "id" and code[i + 1].text == "(" and \
                    i and code[i - 1].kind == "id":
                out[t.text] = module
    return out


# ---- running it --------------------------------------------------------------------------------


#: :func:`_faults` of a file already checked, by what the rules read of it: its code and
#: preprocessor lines, whether it is a program, and the program's types and statics. A tree
#: checked again with one file edited (each probe of the gate's tests, a rebuild after an
#: edit) re-reads only what the edit changed; the rules are pure functions of that key, save
#: the icon rule, which looks on disk, so a file with an ``icon`` property is never kept.
_CHECKED: dict[tuple[object, ...], list[Fault]] = {}
_CHECKED_MOST = 256


def _faults(unit: mqlpre.Unit, lang: str, program: bool, tree: Tree,
            path: Path | None) -> list[Fault]:
    on_disk = any(d.text == "#property" and len(d.parts) > 1 and d.parts[1].text == "icon"
                  for d in unit.pp)
    key = (unit.shown, lang, program, tuple(unit.code), tuple(unit.pp),
           tuple(sorted(tree.types.items())), tuple(sorted(tree.statics)),
           tuple(sorted(tree.imports.items())))
    if not on_disk and (known := _CHECKED.get(key)) is not None:
        return list(known)
    found = _check_unit(unit, lang, program, tree, path)
    if not on_disk:
        if len(_CHECKED) >= _CHECKED_MOST:
            del _CHECKED[next(iter(_CHECKED))]
        _CHECKED[key] = found
    return list(found)


def _check_unit(unit: mqlpre.Unit, lang: str, program: bool, tree: Tree,
                path: Path | None) -> list[Fault]:
    declared = [*declarations(unit.code), *macros(unit.pp)]
    src = Source(unit.shown, language(lang), program, unit.code, unit.pp, declared,
                 Parsed(unit.code), tree, path)
    faults = set()
    for rule in RULES:
        for tok, why, page in rule.check(src):
            if tok.via:
                why += f" (the word comes from the macro {tok.via})"
            faults.add(Fault(unit.shown, tok.line, tok.text, why, page, rule.id))
    return sorted(faults, key=lambda f: (f.line, f.word, f.why))


def _lex_faults(text: str, shown: str, lang: str) -> list[Fault]:
    try:
        tokenize(text)
    except LexError as exc:
        return [Fault(shown, exc.line, "", exc.why, language(lang).page("syntax"), "lexer")]
    return []


def check_text(text: str, shown: str, lang: str = "mql5", program: bool = False) -> list[Fault]:
    """The faults of one file's text read alone (its includes not followed), in line order;
    its names are resolved when it is a whole ``program``."""
    bad = _lex_faults(text, shown, lang)
    if bad:
        return bad
    unit = mqlpre.read_text(text, shown, lang)
    tree = Tree()
    tree.learn(unit.code, unit.pp)
    more, _ = _grammar(unit.stream, lang, resolve=program)
    return _merge(_faults(unit, lang, program, tree, None), more)


def check_file(path: Path, shown: str, lang: str = "mql5") -> list[Fault]:
    program = path.suffix in (".mq4", ".mq5")
    return check_text(path.read_text(encoding="utf-8"), shown, lang, program)


def sources(root: Path, lang: str) -> list[Path]:
    """The programs (``.mq5`` or ``.mq4``) and includes under ``root``."""
    ext = "." + lang.replace("mql", "mq")
    return sorted([*root.rglob("*" + ext), *root.rglob("*.mqh")])


def construction_faults(text: str, shown: str, lang: str = "mql5") -> list[Fault]:
    """The faults of one program's text by the grammar and the names alone, none of the rules
    of :data:`RULES` (what the gate refuses by construction, each kind's rule aside)."""
    unit = mqlpre.read_text(text, shown, lang)
    return _grammar(unit.stream, lang, resolve=True)[0]


def analyse_text(text: str, shown: str, lang: str = "mql5") -> tuple[list[Fault],
                                                                       mqlgrammar.Facts]:
    """One file's text read alone: its faults (its names unresolved) and its facts."""
    bad = _lex_faults(text, shown, lang)
    if bad:
        return bad, mqlgrammar.Facts()
    unit = mqlpre.read_text(text, shown, lang)
    tree = Tree()
    tree.learn(unit.code, unit.pp)
    more, facts = _grammar(unit.stream, lang, resolve=False)
    return _merge(_faults(unit, lang, False, tree, None), more), facts


def check_tree(root: Path, lang: str = "mql5") -> list[Fault]:
    """Every fault of every program and include under ``root`` (an MQL5 or MQL4 folder), each
    file read as its programs' compiler reads it."""
    return analyse_tree(root, lang)[0]


def analyse_tree(root: Path, lang: str = "mql5") -> tuple[list[Fault], mqlgrammar.Facts]:
    """:func:`check_tree`'s faults, and where the programs declare what ``mqlpp.py``
    rewrites (their inputs, arrays and interfaces: :class:`mqlgrammar.Facts`)."""
    files = sources(root, lang)
    facts = mqlgrammar.Facts()
    bad = [f for path in files for f in _lex_faults(path.read_text(encoding="utf-8"),
                                                     path.relative_to(root).as_posix(), lang)]
    if bad:
        return bad, facts
    ext = "." + lang.replace("mql", "mq")
    programs = [p for p in files if p.suffix == ext]
    units = mqlpre.read_tree(root, programs, files, lang)
    tree = Tree(root)
    for unit in units.values():
        tree.learn(unit.code, unit.pp)
    more: list[Fault] = []
    for path in files:
        if units[path].stream:
            found, each = _grammar(units[path].stream, lang, resolve=path.suffix == ext)
            more += found
            facts.update(each)
    out: list[Fault] = []
    for path in files:
        shown = units[path].shown
        out += _merge(_faults(units[path], lang, path.suffix == ext, tree, path),
                      [f for f in more if f.file == shown])
    return out, facts


def main(argv: list[str]) -> int:
    lang = "mql5"
    if len(argv) == 4 and argv[1] == "--lang" and argv[2] in LANG_PAGES:
        lang, argv = argv[2], [argv[0], argv[3]]
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    faults = check_tree(Path(argv[1]), lang)
    for fault in faults:
        print(f"mqlgate: {fault}", file=sys.stderr)
    return 2 if faults else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

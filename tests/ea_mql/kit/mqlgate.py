r"""mqlgate: hold MQL source to the language MetaEditor compiles, before g++ sees it.

The kit compiles the EAs as C++ (``mqlpp.py`` rewrites the few forms C++ cannot parse). C++
accepts much that MetaEditor refuses: a local array named ``input`` (a reserved word of MQL4
and MQL5) compiled here and stopped both EAs in MetaEditor. So every shipped source passes this
gate first, and an EA build that fails it fails like a g++ error, naming file, line and word.

The source is read as tokens (comments, strings, character literals and preprocessor lines are
told apart), so a declaration is seen whole whatever its layout: ``uchar raw[], input[];``, a
parameter list over several lines, an enum's values, a macro's name.

``RULES`` is the one table of what is refused. Each rule names the page it comes from: a page of
the MQL5 or MQL4 reference for the language's own rules, or the kit file whose limit it is for
what MQL allows but the kit cannot model (object pointers, includes other than the EA's own).
The words of each language (reserved words, preprocessor directives, ``#property`` names,
``#import`` modules) are data: ``lang/mql5.toml`` and ``lang/mql4.toml``, each list with the
reference page it is copied from.

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

LANG_DIR = Path(__file__).resolve().parent / "lang"
MAX_IDENT = 63
#: MQL5's predefined variables (mql5.com/en/docs/predefined); any other name starting with '_'
#: is the kit's own (the EA must not reach into it).
PREDEFINED = frozenset({"_Symbol", "_Digits", "_Point", "_Period", "_LastError", "_StopFlag",
                        "_UninitReason", "_RandomSeed", "_IsX64", "_AppliedTo"})
#: C++ keywords MQL's reserved-word pages do not list: in MQL each is no keyword at all, so C++
#: that uses one means something else, or nothing, to MetaEditor. Words MQL documents elsewhere
#: (``typedef``, ``union``, ``namespace``, ``export``) are taken out per language.
CPP_ONLY = frozenset({
    "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "catch", "char16_t",
    "char32_t", "char8_t", "compl", "concept", "consteval", "constexpr", "constinit",
    "const_cast", "co_await", "co_return", "co_yield", "decltype", "explicit", "export",
    "friend", "goto", "inline", "mutable", "namespace", "noexcept", "not", "not_eq", "nullptr",
    "or", "or_eq", "register", "reinterpret_cast", "requires", "signed", "static_assert",
    "static_cast", "thread_local", "throw", "try", "typeid", "union", "unsigned", "using",
    "volatile", "wchar_t", "xor", "xor_eq", "int8_t", "int16_t", "int32_t", "int64_t",
    "uint8_t", "uint16_t", "uint32_t", "uint64_t", "size_t", "printf"})
QUALIFIERS = frozenset({"const", "static", "virtual", "input", "sinput", "extern", "public",
                        "private", "protected", "typedef"})
NOT_A_TYPE = frozenset({"return", "case", "else", "new", "delete", "sizeof", "do", "goto",
                        "throw", "if", "while", "for", "switch", "break", "continue", "default",
                        "operator", "this", "true", "false", "template", "typename", "enum",
                        "class", "struct", "interface", "union", "namespace", "dynamic_cast"})
BUILTIN_TYPES = frozenset({"bool", "char", "uchar", "short", "ushort", "int", "uint", "long",
                           "ulong", "float", "double", "string", "color", "datetime", "void"})
DECL_END = frozenset({";", ",", "=", "[", "(", ")"})
KIT_PAGE = "tests/ea_mql/kit/mqlpp.py"
LANG_PAGES = {
    "mql5": {"identifiers": "https://www.mql5.com/en/docs/basis/syntax/identifiers",
             "syntax": "https://www.mql5.com/en/docs/basis/syntax",
             "operations": "https://www.mql5.com/en/docs/basis/operations",
             "types": "https://www.mql5.com/en/docs/basis/types",
             "pointers": "https://www.mql5.com/en/docs/constants/errorswarnings/errorscompile",
             "include": "https://www.mql5.com/en/docs/basis/preprosessor/include"},
    "mql4": {"identifiers": "https://docs.mql4.com/basis/syntax/identifiers",
             "syntax": "https://docs.mql4.com/basis/syntax",
             "operations": "https://docs.mql4.com/basis/operations",
             "types": "https://docs.mql4.com/basis/types",
             "pointers": "https://docs.mql4.com/constants/errorswarnings/errorscompile",
             "include": "https://docs.mql4.com/basis/preprosessor/include"},
}
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
    pre, props, imp = data["preprocessor"], data["properties"], data["import"]
    return Language(name, reserved, frozenset(pre["directives"]), pre["page"],
                    frozenset(props["names"]), props["page"], tuple(imp["modules"]), imp["page"])


# ---- tokens ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """One token: ``kind`` is id, num, str, chr, op or pp (a whole preprocessor line, whose
    tokens are ``parts``)."""

    kind: str
    text: str
    line: int
    parts: tuple[Token, ...] = field(default=())
    raw: str = ""      # a preprocessor line's text after '#', continuations joined


OPS = sorted(["->", "::", "++", "--", "<<=", ">>=", "<<", ">>", "<=", ">=", "==", "!=", "&&",
              "||", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "..."], key=len, reverse=True)
NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[A-Za-z0-9_]*")
WORD = re.compile(r"[A-Za-z_]\w*")


class LexError(Exception):
    """A string, character literal or comment that never ends: where, and what."""

    def __init__(self, line: int, why: str) -> None:
        super().__init__(f"{line}: {why}")
        self.line = line
        self.why = why


def tokenize(text: str) -> list[Token]:
    """The tokens of one MQL file; comments are dropped, preprocessor lines kept whole."""
    out: list[Token] = []
    i, n, line = 0, len(text), 1
    at_line_start = True
    while i < n:
        c = text[i]
        if c == "\n":
            line, i, at_line_start = line + 1, i + 1, True
            continue
        if c in " \t\r\f\v":
            i += 1
            continue
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise LexError(line, "a /* comment never ends")
            line += text.count("\n", i, j)
            i = j + 2
            continue
        if c == "#" and at_line_start:
            first = line
            body: list[str] = []
            while True:   # the directive runs to the end of the line, '\' continues it
                j = text.find("\n", i)
                j = n if j < 0 else j
                piece = text[i:j]
                if piece.rstrip().endswith("\\") and j < n:
                    body.append(piece.rstrip()[:-1])
                    i, line = j + 1, line + 1
                    continue
                body.append(piece)
                i = j
                break
            raw = "\n".join(body)[1:]
            parts = tuple(Token(t.kind, t.text, t.line + first - 1) for t in tokenize(raw))
            out.append(Token("pp", "#" + (parts[0].text if parts else ""), first, parts, raw))
            continue
        at_line_start = False
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                if text[j] == "\n":
                    kind = "string" if c == '"' else "character"
                    raise LexError(line, f"a {kind} literal is not closed on its line")
                j += 2 if text[j] == "\\" else 1
            if j >= n:
                raise LexError(line, "a literal never ends")
            out.append(Token("str" if c == '"' else "chr", text[i:j + 1], line))
            i = j + 1
            continue
        m = WORD.match(text, i)
        if m:
            out.append(Token("id", m.group(), line))
            i = m.end()
            continue
        m = NUMBER.match(text, i)
        if m and m.end() > i:
            out.append(Token("num", m.group(), line))
            i = m.end()
            continue
        op = next((o for o in OPS if text.startswith(o, i)), c)
        out.append(Token("op", op, line))
        i += len(op)
    return out


# ---- what a file declares --------------------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """A name the source declares, and as what."""

    token: Token
    what: str


def _typeish(t: Token) -> bool:
    return t.kind == "id" and t.text not in NOT_A_TYPE and t.text not in QUALIFIERS


def _skip_brackets(code: list[Token], i: int) -> int:
    """The index after the bracket group opening at ``i``."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    want = [pairs[code[i].text]]
    i += 1
    while i < len(code) and want:
        t = code[i].text
        if code[i].kind == "op" and t in pairs:
            want.append(pairs[t])
        elif code[i].kind == "op" and t == want[-1]:
            want.pop()
        i += 1
    return i


def declarations(code: list[Token]) -> Iterator[Declared]:
    """Every name ``code`` declares: variables, parameters, members, functions, types, labels,
    enum values (macros are read from the preprocessor lines by :func:`macros`)."""
    n = len(code)
    for i, t in enumerate(code):
        nxt = code[i + 1] if i + 1 < n else None
        prev = code[i - 1] if i > 0 else None
        if t.kind != "id":
            continue
        # class / struct / interface / union / enum NAME
        if t.text in ("class", "struct", "interface", "union", "enum") and nxt is not None \
                and nxt.kind == "id":
            yield Declared(nxt, "type")
            if t.text == "enum":
                j = i + 2
                while j < n and code[j].text != "{" and code[j].text != ";":
                    j += 1
                if j < n and code[j].text == "{":
                    end = _skip_brackets(code, j) - 1
                    k = j + 1
                    expect = True
                    depth = 0
                    while k < end:
                        tk = code[k]
                        if tk.text in "([{":
                            depth += 1
                        elif tk.text in ")]}":
                            depth -= 1
                        elif depth == 0 and tk.text == ",":
                            expect = True
                        elif expect and tk.kind == "id":
                            yield Declared(tk, "enum value")
                            expect = False
                        else:
                            expect = False
                        k += 1
            continue
        # a label: NAME ':' at the start of a statement
        if nxt is not None and nxt.text == ":" and prev is not None \
                and prev.text in (";", "{", "}") and t.text not in (
                    "public", "private", "protected", "default", "case"):
            yield Declared(t, "label")
            continue
        # TYPE [const] [&|*] NAME followed by ; , = [ ( )
        if not _typeish(t):
            continue
        j = i + 1
        if j < n and code[j].text == "const":
            j += 1
        if j < n and code[j].text in ("&", "*"):
            j += 1
        if j >= n or code[j].kind != "id" or j + 1 >= n or code[j + 1].text not in DECL_END:
            continue
        if prev is not None and (prev.text in (".", "::", "->") or prev.kind == "num"):
            continue
        name = code[j]
        at = i - 2 if prev is not None and prev.text == "const" else i - 1
        opener = code[at] if at >= 0 else None
        in_for = opener is not None and opener.text == "(" and at > 0 and code[at - 1].text == "for"
        what = ("function" if code[j + 1].text == "(" else
                "parameter" if opener is not None and opener.text in ("(", ",") and not in_for
                else "variable")
        yield Declared(name, what)
        if what != "variable":
            continue
        # the rest of a declaration list: ', [&|*] NAME' at this depth until ';' or a closer
        k = j + 1
        while k < n:
            tk = code[k].text
            if tk in ("(", "[", "{"):
                k = _skip_brackets(code, k)
                continue
            if tk in (";", ")", "}", "]"):
                break
            if tk == ",":
                m = k + 1
                if m < n and code[m].text in ("&", "*"):
                    m += 1
                if m < n and code[m].kind == "id" and m + 1 < n and code[m + 1].text in DECL_END:
                    yield Declared(code[m], "variable")
                    k = m + 1
                    continue
                # a ',' followed by a type starts the next parameter: the caller sees it
                break
            k += 1


def macros(pp: list[Token]) -> Iterator[Declared]:
    """The names ``#define`` declares (the macro and its parameters)."""
    for d in pp:
        if d.text != "#define" or len(d.parts) < 2:
            continue
        yield Declared(d.parts[1], "macro")
        # a function-like macro: '(' right after the name, no space between
        if re.match(r"\s*define\s+\w+\(", d.raw):
            for p in d.parts[3:]:
                if p.text == ")":
                    break
                if p.kind == "id":
                    yield Declared(p, "macro parameter")


# ---- the rules -------------------------------------------------------------------------------


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
class Source:
    """One file as the rules see it."""

    shown: str
    lang: Language
    program: bool              # an .mq4/.mq5 (a program) rather than an .mqh
    code: list[Token]
    pp: list[Token]
    declared: list[Declared]


Check = Callable[[Source], Iterator[tuple[Token, str, str]]]  # (token, why, page)


@dataclass(frozen=True)
class Rule:
    """One row of the table: an id the tests probe by, whose rule it is (the language's, or
    the kit's limit), and the check."""

    id: str
    owner: str     # "language" or "kit"
    check: Check


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


def _long_long(src: Source) -> Iterator[tuple[Token, str, str]]:
    for a, b in zip(src.code, src.code[1:], strict=False):
        if a.text == "long" and b.text in ("long", "int", "double"):
            yield (b, f"'long {b.text}' is a C++ type; MQL's integer types are char, short, "
                   "int, long and their u- forms", src.lang.page("types"))


def _lambdas(src: Source) -> Iterator[tuple[Token, str, str]]:
    c = src.code
    for i in range(len(c) - 2):
        if c[i].text != "[":
            continue
        j = i + 1
        if c[j].text in ("&", "="):
            j += 1
        if j + 1 < len(c) and c[j].text == "]" and c[j + 1].text in ("(", "{") and (
                i == 0 or c[i - 1].kind == "op" and c[i - 1].text not in (")", "]")):
            yield (c[i], "a C++ lambda; MQL has none", src.lang.page("syntax"))


def _arrow(src: Source) -> Iterator[tuple[Token, str, str]]:
    for t in src.code:
        if t.text == "->":
            yield (t, "'->' is not an MQL operation: members are reached with '.', through an "
                   "object pointer too", src.lang.page("operations"))


def _anonymous_enum(src: Source) -> Iterator[tuple[Token, str, str]]:
    for a, b in zip(src.code, src.code[1:], strict=False):
        if a.text == "enum" and b.text == "{":
            yield (a, "an anonymous enumeration cannot be declared", src.lang.page("syntax"))


def _multiple_inheritance(src: Source) -> Iterator[tuple[Token, str, str]]:
    c = src.code
    for i, t in enumerate(c):
        if t.text in ("class", "struct", "interface") and i + 2 < len(c) and c[i + 2].text == ":":
            j = i + 3
            while j < len(c) and c[j].text not in ("{", ";"):
                if c[j].text == "<":          # a template argument list's commas are its own
                    while j < len(c) and c[j].text != ">":
                        j += 1
                if c[j].text == ",":
                    yield (c[i + 1], "more than one base class: MQL has no multiple "
                           "inheritance", src.lang.page("syntax"))
                    break
                j += 1


def _pointer_to_builtin(src: Source) -> Iterator[tuple[Token, str, str]]:
    c = src.code
    for i in range(len(c) - 2):
        if c[i].text in BUILTIN_TYPES and c[i + 1].text == "*" and c[i + 2].kind == "id" and (
                i == 0 or c[i - 1].text != "("):
            yield (c[i + 2], f"a pointer to {c[i].text}: \"A pointer can be declared only for "
                   "a class or structure\" (compile error 253)", src.lang.page("pointers"))


def _reference_outside_parameters(src: Source) -> Iterator[tuple[Token, str, str]]:
    c = src.code
    depth = 0
    for i, t in enumerate(c):
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
        if depth or t.text != "&" or i == 0 or i + 2 >= len(c):
            continue
        if _typeish(c[i - 1]) and c[i + 1].kind == "id" and c[i + 2].text in ("=", ";", ",", "["):
            before = c[i - 2].text if i >= 2 else ";"
            if before in (";", "{", "}", "const", "static", ":") or c[i - 2].kind == "pp":
                yield (c[i + 1], "a reference outside a parameter list: \"A reference cannot "
                       "be declared in this place\" (compile error 229)", src.lang.page("pointers"))


def _directives(src: Source) -> Iterator[tuple[Token, str, str]]:
    for d in src.pp:
        name = d.parts[0].text if d.parts else ""
        if name not in src.lang.directives:
            yield (d, f"'#{name}' is not a directive of {src.lang.name.upper()}'s "
                   "preprocessor", src.lang.directives_page)


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
    allowed = KIT_IMPORTS[src.lang.name]
    for d in src.pp:
        if d.text == "#import" and len(d.parts) == 2 and d.parts[1].kind == "str":
            module = d.parts[1].text.strip('"')
            if module.lower() not in allowed:
                yield (d.parts[1], f"{src.lang.name.upper()} programs here import only "
                       f"{sorted(allowed) or 'nothing'} (the kit models no other module)",
                       "tests/ea_mql/kit/mql4/mql4_winsock.h")


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
        elif (t.text == "*" and 0 < i < len(c) - 2 and _typeish(c[i - 1])
              and c[i + 1].kind == "id" and c[i + 2].text in (";", "=", ",", ")")
              and (i < 2 or c[i - 2].text in ("(", ",", ";", "{", "}", "const", "static"))):
            yield (c[i + 1], "pointer declarators are not modelled by the kit", KIT_PAGE)


def _kit_arrays(src: Source) -> Iterator[tuple[Token, str, str]]:
    c = src.code
    names = {d.token for d in src.declared if d.what in ("variable", "parameter")}
    for i, t in enumerate(c):
        if t in names and i + 1 < len(c) and c[i + 1].text == "[":
            j = _skip_brackets(c, i + 1)
            if j < len(c) and c[j].text == "[":
                yield (t, "multi-dimensional arrays are not modelled by the kit", KIT_PAGE)


def _kit_input_group(src: Source) -> Iterator[tuple[Token, str, str]]:
    for a, b in zip(src.code, src.code[1:], strict=False):
        if a.text in ("input", "sinput") and b.text == "group":
            yield (b, "'input group' has no form in the kit", KIT_PAGE)


def _kit_underscore(src: Source) -> Iterator[tuple[Token, str, str]]:
    for t in src.code:
        if t.kind == "id" and t.text.startswith("_") and len(t.text) > 1 \
                and t.text not in PREDEFINED:
            yield (t, "names starting with '_' other than the predefined variables are the "
                   "kit's", KIT_PAGE)


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
    Rule("long-long", "language", _long_long),
    Rule("lambda", "language", _lambdas),
    Rule("arrow", "language", _arrow),
    Rule("anonymous-enum", "language", _anonymous_enum),
    Rule("multiple-inheritance", "language", _multiple_inheritance),
    Rule("pointer-to-builtin", "language", _pointer_to_builtin),
    Rule("reference-outside-parameters", "language", _reference_outside_parameters),
    Rule("directive", "language", _directives),
    Rule("property", "language", _properties),
    Rule("import-form", "language", _import_blocks),
    Rule("include-form", "language", _include_form),
    Rule("kit-imports", "kit", _kit_imports),
    Rule("kit-includes", "kit", _kit_includes),
    Rule("kit-pointers", "kit", _kit_pointers),
    Rule("kit-arrays", "kit", _kit_arrays),
    Rule("kit-input-group", "kit", _kit_input_group),
    Rule("kit-underscore", "kit", _kit_underscore),
    Rule("kit-strict", "kit", _kit_strict),
)


# ---- running it --------------------------------------------------------------------------------


def _code_between_imports(tokens: list[Token]) -> list[Token]:
    return [t for t in tokens if t.kind != "pp"]


def check_text(text: str, shown: str, lang: str = "mql5", program: bool = False) -> list[Fault]:
    """The faults of one file's text, in line order."""
    try:
        tokens = tokenize(text)
    except LexError as exc:
        return [Fault(shown, exc.line, "", exc.why, language(lang).page("syntax"), "lexer")]
    code = _code_between_imports(tokens)
    pp = [t for t in tokens if t.kind == "pp"]
    src = Source(shown, language(lang), program, code, pp,
                 [*declarations(code), *macros(pp)])
    faults = {Fault(shown, tok.line, tok.text, why, page, rule.id)
              for rule in RULES for tok, why, page in rule.check(src)}
    return sorted(faults, key=lambda f: (f.line, f.word, f.why))


def check_file(path: Path, shown: str, lang: str = "mql5") -> list[Fault]:
    program = path.suffix in (".mq4", ".mq5")
    return check_text(path.read_text(encoding="utf-8"), shown, lang, program)


def sources(root: Path, lang: str) -> list[Path]:
    """The programs (``.mq5`` or ``.mq4``) and includes under ``root``."""
    ext = "." + lang.replace("mql", "mq")
    return sorted([*root.rglob("*" + ext), *root.rglob("*.mqh")])


def check_tree(root: Path, lang: str = "mql5") -> list[Fault]:
    """Every fault of every program and include under ``root`` (an MQL5 or MQL4 folder)."""
    return [f for path in sources(root, lang)
            for f in check_file(path, str(path.relative_to(root)), lang)]


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

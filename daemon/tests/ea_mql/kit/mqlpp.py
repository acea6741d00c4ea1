r"""mqlpp: rewrite the few MQL forms C++ cannot parse, and refuse what the kit cannot check.

The EA is MQL5; the test kit compiles it as C++17 against the kit's model of the language
(``common/``) and of the terminal (``mql5/``). Most MQL5 is
already C++ (classes, structs, enums, references, default arguments, ``#define``, include
guards). What is not:

    T a[] / const T &a[]            ->  MqlArray<T> a / const MqlArray<T> &a
    T a[N]                          ->  MqlArray<T> a{_MqlFixed, N}
    T a[] = {x, y}                  ->  MqlArray<T> a = _mql_list<T>{x, y}
    T a[N] = {x}                    ->  MqlArray<T> a = _mql_list<T, N>{x}
    "text"                          ->  "text"_s   (an MQL string, so "a" + 5 stays a compile error)
    D'2024.01.02 03:04'             ->  datetime((long)1704164640)   (seconds since 1970)
    C'128,0,255'                    ->  ((color)0xff0080)   (0x00BBGGRR)
    input T name = v;               ->  const T &name = _mql_input<T>(MQL_PROGRAM, "name", v);
                                        (inputs are read-only to the program: assigning one is
                                        MetaEditor's error 189, and a C++ error here; the
                                        terminal, here the harness, sets them)
    extern T name = v;  (MQL4)      ->  T &name = _mql_input<T>(...)  (MQL4's extern variables
                                        are inputs the program may change:
                                        docs.mql4.com/basis/variables/externvariables)
    interface I { T M(...); };      ->  struct I { virtual T M(...) = 0; };  (an interface's
                                        methods are public and pure virtual: basis/types/classes)
    #include <MTGateway\X.mqh>      ->  #include <MTGateway/X.mqh>
    #resource "\\Indicators\\X.ex5"  ->  the program's declaration of the indicator it carries
                                        (:func:`resource`: iCustom's "::Indicators\\X.ex5")
    #resource "f" as string NAME    ->  static const string NAME = "<the file's text>"_s;
    #resource "f" as int NAME[]     ->  the file's bytes as a constant MqlArray<int> (each number
                                        type likewise; :func:`resource_variable`)
    input group "Name"              ->  blank (it orders the properties window only)
    sqrt(x), printf(...), rand()    ->  _mql_sqrt(x), ...: the reference's other names of its
                                        functions (:func:`_aliases`), forwarded by the kit
    typename(T), typename(x)        ->  _MQL_TYPENAME_T(T), _MQL_TYPENAME_E(x), as the reader
                                        read each (a type, an expression)
    enum E { A, B };                ->  the same, then a function naming A and B for
                                        EnumToString (:func:`_enum_names`)
    s2 = s1;  (simple structures    ->  _mql_struct_copy(s2, s1)  (a copy of the smaller's
               of two types)            bytes, as MQL copies; the reader found the pair)
    #property NAME value            ->  dropped (the gate has checked NAME)
    __FUNCTION__, __FUNCSIG__       ->  the function's name and signature as MQL strings
    __FILE__, __PATH__              ->  the file's name and its path in the tree, MQL strings
                                        (https://www.mql5.com/en/docs/constants/namedconstants/
                                        compilemacro; __LINE__ is C++'s own; the kit's language
                                        header defines __MQL5__ or __MQL4__)

Before any rewriting, the whole tree passes the language gate (``mqlgate.py``): what MetaEditor
refuses and C++ accepts (reserved words as names, C++-only words, pointers to built-in types,
unknown ``#property`` names...) and what the kit cannot model (object pointers, includes other
than the EA's own) stop the build there, every fault listed as ``file:line: 'word': why (page)``,
exit status 2. The gate's reader also says where the program declares its inputs, arrays and
interfaces (``mqlgrammar.Facts``), and only those declarations are rewritten: by scope, not by a
line's look (an ``input`` inside a function, an array sized by a variable or of size 0 never
reach here: the gate refuses them). Line numbers are kept, so compiler errors point at the
``.mq5``/``.mqh`` line.

MQL4 (``--lang mql4``): ``#import "ws2_32.dll"`` blocks become the kit's model of each declared
function, checked to have exactly the declared type. A module the kit does not model (any
other DLL, MQL5's every DLL) has its functions declared and never defined: the gate refuses a
call of one, so a program that only declares them builds, as in MetaEditor.

Usage: ``python mqlpp.py [--lang mql5|mql4] SOURCE_ROOT OUT_ROOT`` (both are the language's ``MQL5``
(or ``MQL4``) folders).
"""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path

import mqlgate
import mqlgrammar

IDENT = r"[A-Za-z_]\w*"
KEYWORDS = frozenset({"return", "case", "else", "delete", "new", "goto", "sizeof", "typedef",
                      "do", "operator", "struct", "class", "enum", "if", "while", "for"})
DECL = re.compile(rf"(?P<const>\bconst\s+)?\b(?P<type>{IDENT})(?:\s*(?P<ref>&)\s*|\s+)"
                  rf"(?P<name>{IDENT})\s*\[\s*(?P<size>[A-Za-z0-9_]*)\s*\](?P<more>\s*\[)?"
                  r"(?P<init>\s*=\s*\{)?")
LIST = re.compile(rf"^(?P<ind>\s*)(?P<static>static\s+)?(?P<type>{IDENT})\s+"
                  rf"(?P<items>{IDENT}\s*\[\s*\]\s*(?:,\s*{IDENT}\s*\[\s*\]\s*)+);")
INCLUDE = re.compile(r"^\s*#\s*include\s*<(?P<path>[^>]+)>\s*$")
PROPERTY = re.compile(r"^\s*#\s*property\s+(?P<name>\w+)")
INPUT = re.compile(rf"^(?P<ind>\s*)(?P<word>sinput|input|extern)\s+(?P<type>{IDENT})\s+"
                   rf"(?P<name>{IDENT})\s*(?:=\s*(?P<value>[^;]+?))?\s*;\s*(?://.*)?$")
RESOURCE = re.compile(r'^\s*#\s*resource\s+"(?P<path>[^"]*)"\s*(?:as\s+(?P<type>\w+)\s+'
                      r'(?P<name>\w+)\s*(?P<array>\[\s*\])?\s*)?;?\s*(?://.*)?$')
IMPORT = re.compile(r'^\s*#\s*import\b\s*(?:"(?P<lib>[^"]*)")?\s*(?://.*)?$')
IMPORTED = re.compile(rf"^\s*(?P<ret>{IDENT})\s+(?P<name>{IDENT})\s*\((?P<params>[^)]*)\)\s*;\s*(?://.*)?$")


class Refused(Exception):
    """A construct the rewriting cannot give MQL meaning to (the gate refuses most first):
    one line per fault, each naming file and line."""

    def __init__(self, *faults: str) -> None:
        super().__init__("\n".join(faults))
        self.faults = faults


def split_code(line: str, in_block: bool) -> tuple[list[tuple[str, str]], bool]:
    """Cut a line into (kind, text) pieces: code, str, chr, comment; tracks /* */."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(line)
    while i < n:
        if in_block:
            j = line.find("*/", i)
            if j < 0:
                out.append(("comment", line[i:]))
                return out, True
            out.append(("comment", line[i:j + 2]))
            i, in_block = j + 2, False
            continue
        if line.startswith("//", i):
            out.append(("comment", line[i:]))
            break
        if line.startswith("/*", i):
            in_block = True
            continue
        c = line[i]
        if c in "\"'":
            j = i + 1
            while j < n and line[j] != c:
                j += 2 if line[j] == "\\" else 1
            out.append(("str" if c == '"' else "chr", line[i:j + 1]))
            i = j + 1
            continue
        j = i
        while (j < n and line[j] not in "\"'" and not line.startswith("//", j)
               and not line.startswith("/*", j)):
            j += 1
        out.append(("code", line[i:j]))
        i = j
    return out, in_block


def _rewrite_decl(m: re.Match[str], where: str,
                  arrays: dict[str, mqlgrammar.ArrayFact] | None = None,
                  done: set[str] | None = None) -> str:
    """One array declarator as the kit's ``MqlArray``. ``arrays``: the gate's array declarators
    of this line by name (None: every match is one, as inside ``#import``); a match that is none
    of them is left as it is; ``done`` collects the names rewritten."""
    if m.group("type") in KEYWORDS:
        return m.group(0)
    if arrays is not None and m.group("name") not in arrays:
        return m.group(0)
    if done is not None:
        done.add(m.group("name"))
    if m.group("more"):
        raise Refused(f"{where}: multi-dimensional arrays are not allowed")
    const, kind = m.group("const") or "", m.group("type")
    name, size = m.group("name"), m.group("size")
    fact = arrays.get(name) if arrays is not None else None
    if m.group("ref"):
        return f"{const}MqlArray<{kind}> &{name}"
    if fact is not None and fact.init_here is not None:
        if not fact.init_here or not m.group("init"):
            raise Refused(f"{where}: '{name}': the kit rewrites an array's initializer whose "
                          "'= {' is on the declarator's line")
        return f"{const}MqlArray<{kind}> {name} = _mql_list<{kind}{', ' + size if size else ''}>{{"
    if size:
        return f"{const}MqlArray<{kind}> {name}{{_MqlFixed, {size}}}"
    return f"{const}MqlArray<{kind}> {name}"


def _literals(code: str) -> str:
    """``code`` with every string literal made an MQL string (``"a"`` -> ``"a"_s``)."""
    pieces, _ = split_code(code, False)
    return "".join(t + "_s" if kind == "str" else t for kind, t in pieces)


def resource(line: str, where: str, root: Path | None, here: Path | None = None) -> str | None:
    """``#resource "<path>"`` as the kit's record of what the program carries, or None when
    ``line`` is no such directive. The reference (mql5.com/en/docs/runtime/resources): the
    path is at most 63 characters, has no "..\\" and no ":\\", is relative to the MQL5
    folder when it starts with a backslash, and names the resource without that backslash;
    a missing file fails the compile. The kit carries indicators (an indicator's ``.ex5`` is
    built from its ``.mq5`` under ``root``, so that is what must exist) and resource variables
    (:func:`resource_variable`; ``here``: the folder of the file the line is in)."""
    m = RESOURCE.match(line)
    if not m:
        return None
    path = m.group("path").replace("\\\\", "\\")
    if len(path) > 63 or "..\\" in path or ":\\" in path:
        raise Refused(f"{where}: '#resource \"{m.group('path')}\"': a resource path has at most "
                      "63 characters and no '..\\' or ':\\'")
    if m.group("type"):
        return resource_variable(m, path, where, root, here)
    name = path.removeprefix("\\")
    parts = name.split("\\")
    if not path.startswith("\\") or parts[0] != "Indicators" or not name.endswith(".ex5"):
        raise Refused(f"{where}: '#resource \"{m.group('path')}\"': the kit carries indicators "
                      "only, as \"\\\\Indicators\\\\<path>.ex5\"")
    if root is not None and not root.joinpath(*parts).with_suffix(".mq5").is_file():
        raise Refused(f"{where}: resource file '{name}' not found (no {'/'.join(parts[:-1])}/"
                      f"{Path(parts[-1]).with_suffix('.mq5')} to build it from)")
    line_no = where.rsplit(":", 1)[-1]
    return (f"static const bool mqlp_resource_{line_no} = _mql_resource(MQL_PROGRAM, "
            f"{_c_text(name)});")


def resource_variable(m: re.Match[str], path: str, where: str, root: Path | None,
                      here: Path | None) -> str:
    """``#resource "path" as string NAME`` or ``as <number type> NAME[]``: the file, read now as
    MetaEditor reads it into the program, made the constant variable NAME. "For string files,
    the BOM (header) encoding is detected automatically. If there is no BOM, the encoding is
    determined by the contents. The ANSI, UTF-8 and UTF-16 encodings are supported"; for an
    array, "if the size of the resource file is not a multiple of the array element size, the
    rest of the data is cut" (MetaTrader 5 build 1403's notes on resource variables). The gate
    refuses the forms the kit does not carry (mqlgate.py ``kit-resources``)."""
    parts = path.removeprefix("\\").split("\\")
    base = root if path.startswith("\\") else here
    found = base.joinpath(*parts) if base is not None else None
    if found is None or not found.is_file():
        raise Refused(f"{where}: resource file '{path}' not found (MetaEditor: compile error 310 "
                      "\"Resource file opening error\")")
    data = found.read_bytes()
    kind, name = m.group("type"), m.group("name")
    if kind == "string":
        return f"static const string {name} = {_c_bytes(_resource_text(data).encode())}_s;"
    return (f"static const MqlArray<{kind}> {name} = _mql_resource_array<{kind}>"
            f"({_c_bytes(data)}, {len(data)});")


def _resource_text(data: bytes) -> str:
    """A resource file's text: UTF-16 or UTF-8 by its BOM; without one, UTF-8 when it reads as
    UTF-8, else ANSI (Windows-1252, a Western terminal's code page)."""
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"),
                       (b"\xef\xbb\xbf", "utf-8")):
        if data.startswith(bom):
            return data[len(bom):].decode(codec, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _c_bytes(data: bytes) -> str:
    """``data`` as a C string literal, every byte an octal escape (no escape runs into the next
    character, a NUL is a byte like any other)."""
    return '"' + "".join(f"\\{b:03o}" for b in data) + '"'


def _macros(code: str, shown: str) -> str:
    """``code`` with MQL's predefined macros of a function and a file given their MQL
    meaning (strings of MQL's type, not C++ character arrays)."""
    values = {"__FUNCTION__": "_S(__func__)", "__FUNCSIG__": "_S(__PRETTY_FUNCTION__)",
              "__FILE__": _c_text(Path(shown).name) + "_s", "__PATH__": _c_text(shown) + "_s"}
    return re.sub(r"\b(__FUNCTION__|__FUNCSIG__|__FILE__|__PATH__)\b",
                  lambda m: values[m.group(1)], code)


def _aliases(code: str, lang: str) -> str:
    """``code`` with each of the reference's other names of its functions (``sqrt``,
    ``printf``, ``rand``: :func:`mqlgate.aliases`) written as the kit's ``_mql_<alias>``, which
    calls the function the reference names: to g++ the bare name is the C library's function,
    another one (C's ``rand`` is not MQL's generator). Every occurrence is renamed, so a program
    that declares such a name itself keeps its meaning too."""
    names = mqlgate.aliases(lang)
    if not names:
        return code
    pattern = _alias_pattern(tuple(names))
    return pattern.sub(lambda m: "_mql_" + m.group(0), code)


@functools.cache
def _alias_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(sorted(names, key=len, reverse=True)) +
                      r")\b")


#: ``input group "Name"`` (MQL5: basis/variables/inputvariables).
GROUP = re.compile(r'\binput\s+group\s*"(?:[^"\\]|\\.)*"\s*;?')
#: The typename operator: ``typename(`` (not the word of a template's parameter list).
TYPENAME = re.compile(r"\btypename(?=\s*\()")


def _typename(m: re.Match[str], forms: list[str], where: str) -> str:
    """The next typename operator of the line, as the kit's macro for a type or for an
    expression (the reader said which: mqlgrammar.Facts.typenames)."""
    if not forms:
        raise Refused(f"{where}: a typename operator the gate's reader did not read")
    return "_MQL_TYPENAME_T" if forms.pop(0) == "type" else "_MQL_TYPENAME_E"


def _copy_pattern(left: str, right: str) -> re.Pattern[str]:
    """``left = right`` as one structure assigned to another (not ``==``, ``<=``...)."""
    return re.compile(rf"(?<![\w.]){re.escape(left)}\s*=(?!=)\s*{re.escape(right)}(?![\w(\[.])")


def _enum_names(e: mqlgrammar.EnumFact) -> str:
    """What EnumToString reads of a program's enumeration (kit/common/mql_lang.h): a function
    naming each value, found by argument-dependent lookup (a friend for an enumeration a class
    holds); a value with no name is "ENUM::value", as MQL writes it (convert/enumtostring)."""
    tests = "".join(f"_mql_v == {v} ? {_c_text(v)}_s : " for v in e.values)
    head = "friend" if e.member else "inline"
    return (f" {head} string _mql_enum_name({e.name} _mql_v) {{ return {tests}"
            f"_mql_enum_unknown({_c_text(e.name)}, (long)(int)_mql_v); }}")


def _c_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(chr_text: str, code: str) -> tuple[str, str] | None:
    """A ``D'...'`` or ``C'...'`` constant whose quote starts ``chr_text`` right after ``code``'s
    last letter: (``code`` without that letter, the constant in C++), or None."""
    m = re.search(r"(?<![A-Za-z0-9_])([DC])$", code)
    if m is None:
        return None
    whole = m.group(1) + chr_text
    if m.group(1) == "D":
        return code[:-1], f"datetime((long){mqlgrammar.datetime_value(whole)})"
    return code[:-1], f"((color){mqlgrammar.color_value(whole):#x})"


def process(path: Path, shown: str, lang: str = "mql5", root: Path | None = None,
            facts: mqlgrammar.Facts | None = None) -> str:
    """The C++ form of one MQL file; raises :class:`Refused` with ``shown:line``. ``root``:
    the language folder, where ``#resource`` files are looked for; ``facts``: where the gate's
    reader found the program's inputs, arrays and interfaces (None: this file's own, read alone
    by the gate now)."""
    if facts is None:
        _, facts = mqlgate.analyse_text(path.read_text(encoding="utf-8"), shown, lang)
    arrays: dict[int, dict[str, mqlgrammar.ArrayFact]] = {}
    for (file, no, name), fact in facts.arrays.items():
        if file == shown:
            arrays.setdefault(no, {})[name] = fact
    inputs = {(no, name): word for (file, no, name), word in facts.inputs.items() if file == shown}
    interfaces = {no for file, no in facts.interfaces if file == shown}
    abstract_first = {first for file, first, _ in facts.abstract if file == shown}
    abstract_last = {last for file, _, last in facts.abstract if file == shown}
    typenames = {no: forms for (file, no), forms in facts.typenames.items() if file == shown}
    enums = {no: found for (file, no), found in facts.enums.items() if file == shown}
    copies = {no: pairs for (file, no), pairs in facts.struct_copies.items() if file == shown}
    groups = {no for file, no in facts.groups if file == shown}
    out: list[str] = []
    in_block = False
    importing: str | None = None
    rewritten: set[tuple[int, str]] = set()
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{shown}:{no}"
        imp = IMPORT.match(line) if not in_block else None
        if imp:
            lib = (imp.group("lib") or "").lower()
            importing = None if importing is not None else lib
            out.append("")
            continue
        if importing is not None:
            out.append(_imported(line, importing, where, lang))
            continue                            # (its array parameters all rewritten there)
        if PROPERTY.match(line) and not in_block:
            out.append("")
            continue
        carried = resource(line, where, root, path.parent) if not in_block else None
        if carried is not None:
            out.append(carried)
            continue
        inc = INCLUDE.match(line)
        if inc and not in_block:
            target = inc.group("path").replace("\\", "/")
            out.append(f"#include <{target}>")
            continue
        inp = INPUT.match(line) if not in_block else None
        if inp and (inp.group("word") != "extern" or lang == "mql4"):
            kind, name = inp.group("type"), inp.group("name")
            if (no, name) not in inputs:
                raise Refused(f"{where}: '{inp.group('word')} {kind} {name}' is no input "
                              "variable the gate read at global scope")
            if sum(at == no for at, _ in inputs) != 1:
                raise Refused(f"{where}: the kit rewrites one input per declaration")
            rewritten.add((no, name))
            value = _literals(inp.group("value")) if inp.group("value") else f"{kind}()"
            const = "" if inp.group("word") == "extern" else "const "
            out.append(f"{inp.group('ind')}{const}{kind} &{name} = "
                       f"_mql_input<{kind}>(MQL_PROGRAM, \"{name}\", ({kind})({value}));")
            continue
        if no in groups and not in_block:
            # 'input group "Name"' orders the properties window; the program has nothing of it
            line = GROUP.sub(lambda g: " " * len(g.group(0)), line, count=1)
        pieces, in_block = split_code(line, in_block)
        code_only = " ".join(t for k, t in pieces if k == "code")
        lm = LIST.match(code_only)
        if lm:
            names = re.findall(IDENT + r"(?=\s*\[)", lm.group("items"))
            if not all(n in arrays.get(no, {}) for n in names):
                raise Refused(f"{where}: arrays the gate did not read as declarators")
            static = lm.group("static") or ""
            out.append(lm.group("ind") + " ".join(
                f"{static}MqlArray<{lm.group('type')}> {n};" for n in names))
            continue
        text = ""
        here = arrays.get(no, {})
        done: set[str] = set()                  # the array declarators rewritten on this line
        semicolon = -1                          # the last ';' of the line's code
        forms = list(typenames.get(no, []))     # this line's typename operators, in order
        for kind, t in pieces:
            if kind == "code":
                t = _aliases(_macros(t, shown), lang)
                t = TYPENAME.sub(lambda m, f=forms, at=where: _typename(m, f, at), t)
                if no in interfaces:
                    t = re.sub(r"\binterface\b", "struct", t, count=1)
                t = DECL.sub(lambda m, at=where, on=here, d=done: _rewrite_decl(m, at, on, d), t)
                if ";" in t:
                    semicolon = len(text) + t.rindex(";")
                text += t
            elif kind == "str":
                text += t + "_s"
            elif kind == "chr" and (lit := _literal(t, text)) is not None:
                text = lit[0] + lit[1]
            else:
                text += t
        missed = set(here) - done
        if missed:
            raise Refused(f"{where}: array {', '.join(sorted(missed))}: the kit rewrites an array "
                          "declarator written with its type on its line ('T name[...]')")
        if forms:
            raise Refused(f"{where}: a typename operator the kit did not find on its line")
        if no in enums:
            if semicolon < 0:
                raise Refused(f"{where}: the kit names an enumeration's values after its ';'")
            names = "".join(_enum_names(e) for e in enums[no])
            text = text[:semicolon + 1] + names + text[semicolon + 1:]
        if no in abstract_last and semicolon >= 0:
            text = text[:semicolon] + " = 0" + text[semicolon:]
        for left, right in copies.get(no, []):
            text, hits = _copy_pattern(left, right).subn(
                f"_mql_struct_copy({left}, {right})", text, count=1)
            if not hits:
                raise Refused(f"{where}: '{left} = {right}': the kit copies one structure into "
                              "another written 'a = b' on one line")
        if no in abstract_first:
            text = re.sub(r"^(\s*)", r"\1virtual ", text, count=1)
        out.append(text)
    missed_inputs = sorted(set(inputs) - rewritten)
    if missed_inputs:
        raise Refused(*(f"{shown}:{no}: input {name}: the kit rewrites an input declared on one "
                        "line, alone ('input T name = value;')" for no, name in missed_inputs))
    return "\n".join(out) + "\n"


def _imported(line: str, lib: str, where: str, lang: str = "mql4") -> str:
    """One declaration inside ``#import "lib"``: the kit's model of that DLL function, whose
    type must be exactly the declared one (a wrong parameter type passes the wrong bytes). A
    module the kit does not model (mqlgate.KIT_IMPORTS) is declared and never defined: the
    gate refuses every call of its functions, so a program that only declares them builds."""
    code = " ".join(t for k, t in split_code(line, False)[0] if k == "code").strip()
    if not code:
        return ""
    m = IMPORTED.match(code)
    if not m:
        raise Refused(f"{where}: not a function declaration inside #import")
    space = lib.removesuffix(".dll")
    params = m.group("params").strip()

    def rewrite(d: re.Match[str]) -> str:
        return _rewrite_decl(d, where)

    params = "" if params == "void" else DECL.sub(rewrite, params)
    if lib not in mqlgate.KIT_IMPORTS[lang]:
        return f"{m.group('ret')} {m.group('name')}({params});"
    kind = f"{m.group('ret')}({params})"
    return (f"using {space}::{m.group('name')}; static_assert(std::is_same_v<decltype({space}::"
            f"{m.group('name')}), {kind}>, \"{where}: the declaration of {m.group('name')} does "
            f"not match {lib}'s\");")


def convert(src_root: Path, out_root: Path, lang: str = "mql5") -> list[Path]:
    """Rewrite every program and include under ``src_root`` into ``out_root``; returns them.

    Raises:
        Refused: the language gate found faults (all of them are in the message, one a line),
            or a line could not be rewritten.
    """
    faults, facts = mqlgate.analyse_tree(src_root, lang)
    if faults:
        raise Refused(*(str(f) for f in faults))
    written = []
    for f in mqlgate.sources(src_root, lang):
        rel = f.relative_to(src_root)
        dst = out_root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(process(f, rel.as_posix(), lang, src_root, facts), encoding="utf-8")
        written.append(dst)
    return written


def main(argv: list[str]) -> int:
    lang = "mql5"
    if len(argv) == 5 and argv[1] == "--lang" and argv[2] in mqlgate.LANG_PAGES:
        lang, argv = argv[2], [argv[0], *argv[3:]]
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        convert(Path(argv[1]), Path(argv[2]), lang)
    except Refused as exc:
        for line in exc.faults:
            print(f"mqlpp: refused: {line}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""mqlpp: rewrite the few MQL5 forms C++ cannot parse, and refuse what the shim cannot check.

The EA is MQL5; the test kit compiles it as C++17 against ``mql5_shim.h``. Most MQL5 is
already C++ (classes, structs, enums, references, default arguments, ``#define``, include
guards). What is not:

    T a[] / const T &a[]            ->  MqlArray<T> a / const MqlArray<T> &a
    T a[N]                          ->  MqlArray<T> a{MqlFixed, N}
    "text"                          ->  "text"_s   (an MQL string, so "a" + 5 stays a compile error)
    #property ...                   ->  dropped

It REFUSES, with file:line and exit status 2, what would compile in C++ but mean something
else, or not compile, in MetaEditor: object pointers (``new``, ``*`` declarators, ``->``,
``this.``), multi-dimensional arrays, ``input group``, C++-only words (``auto``, ``nullptr``,
``std::``, ``namespace``, ``try``, casts with ``_cast``, ``long long``, ...), includes of
anything but ``MTGateway/*.mqh``, and names starting with ``_`` other than MQL5's predefined
variables (so the EA cannot reach into the shim's internals). Line numbers are kept, so
compiler errors point at the ``.mq5``/``.mqh`` line.

Usage: ``python mqlpp.py SOURCE_ROOT OUT_ROOT`` (both are ``MQL5`` folders).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

IDENT = r"[A-Za-z_]\w*"
KEYWORDS = frozenset({"return", "case", "else", "delete", "new", "goto", "sizeof", "typedef",
                      "do", "operator", "struct", "class", "enum", "if", "while", "for"})
DECL = re.compile(rf"(?P<const>\bconst\s+)?\b(?P<type>{IDENT})(?:\s*(?P<ref>&)\s*|\s+)"
                  rf"(?P<name>{IDENT})\s*\[\s*(?P<size>[A-Za-z0-9_]*)\s*\](?P<more>\s*\[)?")
LIST = re.compile(rf"^(?P<ind>\s*)(?P<static>static\s+)?(?P<type>{IDENT})\s+"
                  rf"(?P<items>{IDENT}\s*\[\s*\]\s*(?:,\s*{IDENT}\s*\[\s*\]\s*)+);")
PREDEFINED = frozenset({"_Symbol", "_Digits", "_Point", "_Period", "_LastError", "_StopFlag",
                        "_UninitReason", "_RandomSeed", "_IsX64", "_AppliedTo"})
REFUSE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"\bnew\s+{IDENT}"), "object pointers (new) are not allowed"),
    (re.compile(r"\bdelete\b"), "object pointers (delete) are not allowed"),
    (re.compile(r"->"), "'->' is not MQL5"),
    (re.compile(r"\bthis\s*\."), "use members without 'this.' (pointer '.' is MQL-only)"),
    (re.compile(r"^\s*input\s+group\b"), "'input group' has no C++ form"),
    (re.compile(rf"\b{IDENT}\s*\*\s*{IDENT}\s*[;=,)]"), "pointer declarators are not allowed"),
    (re.compile(r"\b(auto|nullptr|namespace|using|try|catch|throw|constexpr|mutable|friend|"
                r"goto|typename|noexcept|decltype|char16_t|size_t|int64_t|uint64_t|printf)\b"),
     "C++-only word, not MQL5"),
    (re.compile(r"\bstd\s*::"), "the C++ standard library is not MQL5"),
    (re.compile(r"\b\w+_cast\s*<"), "C++ casts are not MQL5: use (type)value"),
    (re.compile(r"\blong\s+long\b|\bunsigned\b|\bsigned\b"),
     "use MQL5's long/ulong/uint instead of C++ integer spellings"),
    (re.compile(r"\[\s*[&=]?\s*\]\s*\("), "lambdas are not MQL5"),
]
UNDERSCORE = re.compile(r"(?<![\w.])(_[A-Za-z]\w*)")
INCLUDE = re.compile(r"^\s*#\s*include\s*<(?P<path>[^>]+)>\s*$")


class Refused(Exception):
    """A construct the shim cannot give MQL5 meaning to."""


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


def _rewrite_decl(m: re.Match[str], where: str) -> str:
    if m.group("type") in KEYWORDS:
        return m.group(0)
    if m.group("more"):
        raise Refused(f"{where}: multi-dimensional arrays are not allowed")
    const, kind = m.group("const") or "", m.group("type")
    name, size = m.group("name"), m.group("size")
    if m.group("ref"):
        return f"{const}MqlArray<{kind}> &{name}"
    if size:
        return f"{const}MqlArray<{kind}> {name}{{MqlFixed, {size}}}"
    return f"{const}MqlArray<{kind}> {name}"


def process(path: Path, shown: str) -> str:
    """The C++ form of one MQL5 file; raises :class:`Refused` with ``shown:line``."""
    out: list[str] = []
    in_block = False
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{shown}:{no}"
        if re.match(r"^\s*#\s*property\b", line):
            out.append("")
            continue
        inc = INCLUDE.match(line)
        if inc:
            if not inc.group("path").startswith("MTGateway/"):
                raise Refused(f"{where}: only MTGateway/*.mqh may be included "
                              "(no Standard Library: the shim cannot check it)")
            out.append(line)
            continue
        pieces, in_block = split_code(line, in_block)
        code_only = " ".join(t for k, t in pieces if k == "code")
        for rx, why in REFUSE:
            if rx.search(code_only):
                raise Refused(f"{where}: {why}")
        for name in UNDERSCORE.findall(code_only):
            if name not in PREDEFINED:
                raise Refused(f"{where}: '{name}': names starting with '_' are reserved")
        lm = LIST.match(code_only)
        if lm:
            names = re.findall(IDENT + r"(?=\s*\[)", lm.group("items"))
            static = lm.group("static") or ""
            out.append(lm.group("ind") + " ".join(
                f"{static}MqlArray<{lm.group('type')}> {n};" for n in names))
            continue
        text = ""
        for kind, t in pieces:
            if kind == "code":
                text += DECL.sub(lambda m, at=where: _rewrite_decl(m, at), t)
            elif kind == "str":
                text += t + "_s"
            else:
                text += t
        out.append(text)
    return "\n".join(out) + "\n"


def convert(src_root: Path, out_root: Path) -> list[Path]:
    """Rewrite every .mq5/.mqh under ``src_root`` into ``out_root``; returns the outputs."""
    written = []
    for f in sorted([*src_root.rglob("*.mq5"), *src_root.rglob("*.mqh")]):
        rel = f.relative_to(src_root)
        dst = out_root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(process(f, str(rel)), encoding="utf-8")
        written.append(dst)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        convert(Path(argv[1]), Path(argv[2]))
    except Refused as exc:
        print(f"mqlpp: refused: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

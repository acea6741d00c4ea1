"""The language gate (kit/mqlgate.py): every shipped MQL source is held to what MetaEditor
compiles before g++ sees it (review A-1, D-1: both EAs declared locals named ``input``, a
reserved word, and the kit compiled them; D6-1: 35 more kinds MetaEditor refuses built here).

Each rule of the gate's table is probed by an edit of a copy of the shipped tree, and the
refusal must name the file, the line and the word, and the page the rule comes from; the
shipped sources pass, and so does valid MQL the gate once refused. What the gate guarantees,
and what it cannot, is in docs/terminal.md."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from daemon.tests.ea_mql.conftest import make_fixture
from daemon.tests.ea_mql.eakit import KIT, MQL5_DIR, ROOT, BuildError, build_ea, build_probe
from daemon.tests.ea_mql.eakit4 import assemble, build_ea4
from daemon.tests.ea_mql.kit import mqlgate

CRYPTO = "Include/MTGateway/Crypto.mqh"
EXPERT5 = "Experts/MTGateway.mq5"
EXPERT4 = "Experts/MTGateway.mq4"
HELPER = "Indicators/MTGateway/Helper.mq5"
SAME = "   int diff = 0;\n"                       # a statement inside SameText (Crypto.mqh)
LONG_NAME = "N" * 64


def _old_crypto(tree: Path) -> list[int]:
    """Crypto.mqh as it shipped before the fix (its two ``joined`` locals named ``input``);
    returns the lines that declare them."""
    path = tree / CRYPTO
    text = path.read_text(encoding="utf-8").replace("joined", "input")
    path.write_text(text, encoding="utf-8")
    return [n for n, line in enumerate(text.splitlines(), 1) if "input[]" in line]


def test_the_old_crypto_fails_the_build_naming_input(tmp_path: Path) -> None:
    """A-1: the EA build refuses a local array named ``input`` the way MetaEditor does, with
    the file, the line and the word (g++ alone accepted it: this test failed before the gate)."""
    tree = tmp_path / "MQL5"
    shutil.copytree(MQL5_DIR, tree)
    lines = _old_crypto(tree)
    assert len(lines) == 2
    with pytest.raises(BuildError) as info:
        build_ea(tree, tmp_path / "bin")
    text = str(info.value)
    for line in lines:
        assert re.search(rf"Crypto\.mqh:{line}: 'input': a reserved word of MQL5", text), text


def test_the_old_crypto_fails_the_mt4_build_too(tmp_path: Path) -> None:
    """A-1 in the MT4 EA, which compiles the same Crypto.mqh with MQL4's words."""
    src = tmp_path / "MQL5"
    shutil.copytree(MQL5_DIR, src)
    lines = _old_crypto(src)
    with pytest.raises(BuildError) as info:
        build_ea4(mql5_dir=src, out_dir=tmp_path / "bin")
    for line in lines:
        assert re.search(rf"Crypto\.mqh:{line}: 'input': a reserved word of MQL4",
                         str(info.value)), str(info.value)


def test_the_shipped_sources_pass(tmp_path: Path) -> None:
    """Both EAs, every include and the helper indicator, each with its language's words."""
    assert (MQL5_DIR / HELPER).exists()
    assert mqlgate.check_tree(MQL5_DIR, "mql5") == []
    checked = [p.relative_to(MQL5_DIR).as_posix() for p in mqlgate.sources(MQL5_DIR, "mql5")]
    assert EXPERT5 in checked and HELPER in checked and CRYPTO in checked
    tree = assemble(tmp_path / "mt4")
    assert mqlgate.check_tree(tree, "mql4") == []
    assert EXPERT4 in [p.relative_to(tree).as_posix() for p in mqlgate.sources(tree, "mql4")]


@dataclass(frozen=True)
class Probe:
    """One edit of a shipped file (``old`` replaced by ``new`` once) and the refusal expected:
    rule, word, and the line of ``new`` the word is on (``where``: a text on that line, when
    the word stands elsewhere too or is shown cut)."""

    rule: str
    file: str
    old: str
    new: str
    word: str
    lang: str = "mql5"
    line: int = 0       # where the refusal points when not at the edit
    where: str = ""


DEF = "#define MTGW_CRYPTO_MQH"
HEX = "bool IsHex64(const string text)"
SAMETEXT = "bool SameText("
POOL = "class EntropyPool\n"
BIG = "x" * 70000
MANY = ", ".join(f"int p{k}" for k in range(65))
PROBES = [
    # reserved words as every kind of declared name, a macro's expansion included
    Probe("reserved-name", CRYPTO, "uchar raw[], joined[], digest[];",
          "uchar raw[],\n         input[], digest[];", "input"),
    Probe("reserved-name", CRYPTO, "bool SameText(const string a,",
          "bool SameText(const string sinput,", "sinput"),
    Probe("reserved-name", CRYPTO, "   ulong             stirs;", "   ulong             group;",
          "group"),
    Probe("reserved-name", CRYPTO, "bool IsHex64(", "bool interface(", "interface"),
    Probe("reserved-name", CRYPTO, "class EntropyPool", "class override", "override"),
    Probe("reserved-name", CRYPTO, SAME, SAME + "extern:\n", "extern"),
    Probe("reserved-name", CRYPTO, SAME, "   enum Kinds { first, template, last };\n" + SAME,
          "template"),
    Probe("reserved-name", CRYPTO, DEF, DEF + "\n#define datetime 5", "datetime"),
    Probe("reserved-name", CRYPTO, DEF, DEF + "\n#define Twice(color) 2", "color"),
    Probe("reserved-name", CRYPTO, "   ulong             stirs;", "   ulong             strict;",
          "strict", "mql4"),
    Probe("reserved-name", CRYPTO, SAMETEXT, "#define KIND input\nint KIND = 1;\n" + SAMETEXT,
          "input", where="int KIND"),
    Probe("reserved-name", CRYPTO, DEF, DEF + "\ntemplate<typename input>\nvoid Same(void);",
          "input", where="template<"),
    Probe("reserved-name", CRYPTO, SAME, SAME + "   Box<int> input;\n", "input"),
    Probe("reserved-name", CRYPTO, SAMETEXT, "#define KIND input\nint KIND = 1;\n" + SAMETEXT,
          "input", "mql4", where="int KIND"),
    Probe("long-identifier", CRYPTO, "bool SameText(", f"bool {LONG_NAME}(", LONG_NAME),
    Probe("cpp-word", CRYPTO, SAME, "   auto diff = 0;\n", "auto"),
    Probe("cpp-word", CRYPTO, "if(n != StringLen(b) || n == 0)",
          "if(n != StringLen(b) || nullptr)", "nullptr"),
    Probe("cpp-word", CRYPTO, SAME, SAME + "   goto done;\n", "goto"),
    Probe("cpp-word", CRYPTO, SAME, "   int diff = static_cast<int>(0);\n", "static_cast"),
    Probe("cpp-word", CRYPTO, SAME, "   constexpr int diff = 0;\n", "constexpr"),
    Probe("cpp-word", CRYPTO, SAME, SAME + "   try { diff = 1; } catch(...) { }\n", "try"),
    Probe("cpp-word", CRYPTO, "class EntropyPool", "namespace Gw { }\nclass EntropyPool",
          "namespace", "mql4"),
    Probe("cpp-word", CRYPTO, SAMETEXT, "#define LET auto\nLET fallback = 1;\n" + SAMETEXT,
          "auto", where="LET fallback"),
    Probe("std", CRYPTO, SAME, SAME + "   std::string s;\n", "std"),
    Probe("compound-type", CRYPTO, SAME, "   long long diff = 0;\n", "long"),
    Probe("compound-type", CRYPTO, SAME, "   short int diff = 0;\n", "int"),
    # characters and literals MQL has no form for
    Probe("character", CRYPTO, SAME, "   int di$ff = 0;\n", "$"),
    Probe("character", CRYPTO, SAME, "   int caf\u00e9 = 0;\n", "\u00e9"),
    Probe("character", CRYPTO, SAME, "   int caf\u00e9 = 0;\n", "\u00e9", "mql4"),
    Probe("digit-separator", CRYPTO, SAME, "   int diff = 1'000'000;\n", "1'000'000"),
    Probe("literal-prefix", CRYPTO, SAME, SAME + '   string raw = R"(x)";\n', 'R"(x)"'),
    Probe("literal-prefix", CRYPTO, SAME, SAME + '   string utf = u8"x";\n', 'u8"x"'),
    Probe("digraph", CRYPTO, SAME, SAME + "   if(n > 1) <% diff = 1; %>\n", "<%"),
    Probe("long-string", CRYPTO, SAME, SAME + f'   string big = "{BIG}";\n',
          '"xxxxxxxxxxx...', where="string big"),
    # declarations
    Probe("lambda", CRYPTO, SAME, SAME + "   int k = [&](int x) { return x; }(1);\n", "["),
    Probe("lambda", CRYPTO, SAME, SAME + "   int k = [n](int x) { return x; }(1);\n", "["),
    Probe("arrow", CRYPTO, "diff |= (", "diff |= this->Bit() + (", "->"),
    Probe("anonymous-enum", CRYPTO, SAME, "   enum { A, B };\n" + SAME, "enum"),
    Probe("anonymous-enum", CRYPTO, SAME, "   enum : int { A, B };\n" + SAME, "enum"),
    Probe("multiple-inheritance", CRYPTO, POOL,
          "class Base1 { };\nclass Base2 { };\nclass EntropyPool : public Base1, public Base2\n",
          "EntropyPool"),
    Probe("multiple-inheritance", CRYPTO, POOL, "class Base1 { };\nclass Base2 { };\n"
          "class EntropyPool final : public Base1, public Base2\n", "EntropyPool"),
    Probe("inheritance-kind", CRYPTO, POOL,
          "struct Base { int a; };\nclass EntropyPool : public Base\n", "Base"),
    Probe("pointer-to-builtin", CRYPTO, SAME, SAME + "   int *where;\n", "where"),
    Probe("reference-outside-parameters", CRYPTO, SAME, SAME + "   int &alias = diff;\n",
          "alias"),
    Probe("reference-outside-parameters", CRYPTO, SAMETEXT, "bool &SameText(", "SameText"),
    Probe("reference-outside-parameters", CRYPTO, SAME,
          SAME + "   for(int &r = diff; r < 1; r++) { }\n", "r", where="for(int &r"),
    Probe("reference-outside-parameters", CRYPTO, SAME, SAME + "   int a1 = 1, &b1 = a1;\n",
          "b1"),
    Probe("condition-declaration", CRYPTO, SAME, SAME + "   if(int k = n) diff = k;\n", "k"),
    Probe("designated-initializer", CRYPTO, SAME, SAME + "   Pair p = {.first = 1};\n",
          "first"),
    Probe("array-by-value", CRYPTO, HEX, "bool IsHex64(const string text, const int data[])",
          "data"),
    Probe("array-by-value", CRYPTO, HEX, "bool IsHex64(const string text, const int data[])",
          "data", "mql4"),
    Probe("object-by-value", CRYPTO, HEX, "bool IsHex64(const string text, MqlTick tick)",
          "tick"),
    Probe("object-by-value", CRYPTO, HEX,
          "bool IsHex64(const string text, const EntropyPool pool)", "pool"),
    Probe("reference-default", CRYPTO, HEX, "bool IsHex64(const string text, int &count = 2)",
          "count"),
    Probe("parameter-count", CRYPTO, HEX, f"bool IsHex64({MANY})", "IsHex64"),
    Probe("local-function", CRYPTO, SAME, SAME + "   int Later(int x);\n", "Later"),
    Probe("static-initializer", CRYPTO, SAME, SAME + "   static int first = n;\n", "n",
          where="static int"),
    Probe("static-initializer", CRYPTO, SAME, SAME + "   static int first = StringLen(a);\n",
          "StringLen"),
    Probe("print-arguments", CRYPTO, SAME, SAME + "   Print(" + "1, " * 64 + "1);\n", "Print"),
    Probe("system-function", CRYPTO, DEF, DEF + "\nbool SendNotification(const string text);",
          "SendNotification"),
    Probe("system-function", CRYPTO, DEF, DEF + "\nbool SendNotification(const string text);",
          "SendNotification", "mql4"),
    Probe("struct-virtual", CRYPTO, POOL, "struct Probe { virtual void Go(void); };\n" + POOL,
          "virtual"),
    Probe("static-member", CRYPTO, "   ulong             stirs;",
          "   static ulong      stirs;", "stirs"),
    Probe("method-pointer", CRYPTO, POOL, POOL.replace("class", "typedef void (EntropyPool::*"
          "Stirrer)(void);\nclass"), "::", where="typedef"),
    Probe("type-name-reused", CRYPTO, SAME, SAME + "   int EntropyPool = 0;\n", "EntropyPool",
          where="int EntropyPool"),
    # the preprocessor
    Probe("directive", CRYPTO, DEF, DEF + "\n#pragma once", "#pragma"),
    Probe("directive", CRYPTO, DEF, DEF + "\n#if 1\n#endif", "#if"),
    Probe("macro-parameters", CRYPTO, DEF, DEF + "\n#define SUM9(a,b,c,d,e,f,g,h,i) a", "SUM9"),
    Probe("property", EXPERT5, "#property version", "#property show_inputs\n#property version",
          "show_inputs"),
    Probe("property", CRYPTO, DEF, DEF + "\n#property copyright \"x\"", "copyright"),
    Probe("property-value", EXPERT5, '#property copyright "MT Gateway"',
          "#property copyright 2024", "2024"),
    Probe("property-value", EXPERT5, "#property version   \"1.00\"", "#property version",
          "version"),
    Probe("property-value", HELPER, "#property indicator_buffers 0",
          '#property indicator_buffers "0"', '"0"'),
    Probe("icon", EXPERT5, "#property version",
          '#property icon "\\\\Images\\\\gateway.ico"\n#property version',
          '"\\\\Images\\\\gateway.ico"'),
    Probe("import-form", CRYPTO, DEF,
          DEF + "\n#import \"libfoo.so\"\nint Foo(int x);\n#import", '"libfoo.so"'),
    Probe("import-form", CRYPTO, DEF,
          DEF + "\n#import \"user32.dll\"\nint Foo(int x);", "#import"),
    Probe("resource-form", EXPERT4, "#property strict\n",
          '#property strict\n#resource "probe.txt" as string ProbeText\n', "as", "mql4"),
    Probe("resource-form", EXPERT5, "#property version",
          '#resource "probe.txt" as string\n#property version', "as"),
    Probe("include-form", CRYPTO, "#include <MTGateway\\Bytes.mqh>",
          "#include <MTGateway\\Bytes.mqh>\n#include MTGateway", "#include"),
    # the form the sources keep: methods defined after their class
    Probe("class-form", CRYPTO, "   void              Mix(const string sample);",
          "   void              Mix(const string sample) { }", "Mix"),
    Probe("class-form", CRYPTO, "   void              Mix(const string sample);",
          "   void              Mix(const string sample) { }", "Mix", "mql4"),
    # the kit's limits
    Probe("kit-imports", CRYPTO, DEF,
          DEF + "\n#import \"user32.dll\"\nint MessageBoxW(int h);\n#import\n"
          "int CallBox(void);\nint CallBox(void)\n  {\n   return MessageBoxW(0);\n  }",
          "MessageBoxW",
          where="return MessageBoxW"),
    Probe("kit-resources", EXPERT5, "#property version",
          '#resource "\\\\Images\\\\logo.bmp" as bitmap Logo[]\n#property version', "bitmap"),
    Probe("kit-resources", EXPERT5, "#property version",
          '#resource "\\\\Files\\\\probe.txt"\n#property version', '"\\\\Files\\\\probe.txt"'),
    Probe("kit-includes", CRYPTO, "#include <MTGateway\\Bytes.mqh>",
          "#include <MTGateway\\Bytes.mqh>\n#include <Trade\\Trade.mqh>", "#include"),
    Probe("kit-pointers", CRYPTO, SAME, SAME + "   EntropyPool *p = new EntropyPool();\n", "new"),
    Probe("kit-arrays", CRYPTO, SAME, SAME + "   double grid[2][3];\n", "grid"),
    Probe("kit-underscore", CRYPTO, SAME, SAME + "   int _secret = 1;\n", "_secret"),
    Probe("kit-underscore", CRYPTO, SAME, SAME + "   datetime built = __DATE__;\n", "__DATE__"),
    Probe("kit-strict", EXPERT4, "#property strict\n", "\n", "#property strict", "mql4", line=1),
]


def _probe_tree(tmp_path: Path, probe: Probe) -> tuple[Path, int]:
    """A copy of the language's tree with the probe's edit; returns it and the word's line."""
    tree = (shutil.copytree(MQL5_DIR, tmp_path / "MQL5") if probe.lang == "mql5"
            else assemble(tmp_path / "mt4"))
    path = Path(tree) / probe.file
    text = path.read_text(encoding="utf-8")
    assert probe.old in text, (probe.file, probe.old)
    at = text.index(probe.old)
    edited = text[:at] + probe.new + text[at + len(probe.old):]
    path.write_text(edited, encoding="utf-8")
    if probe.line:
        return Path(tree), probe.line
    word_at = probe.new.index(probe.where) if probe.where else probe.new.rindex(probe.word)
    return Path(tree), edited[:at].count("\n") + probe.new[:word_at].count("\n") + 1


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: f"{p.rule}-{p.lang}-{p.word[:12]}")
def test_each_rule_refuses_its_probe_naming_file_line_word_and_page(tmp_path: Path,
                                                                    probe: Probe) -> None:
    """The probe's edit is refused by its rule, at the edited line, naming the word and the
    page the rule comes from: a reference page for the language's rules and the form rule,
    the kit's file for the kit's limits."""
    tree, line = _probe_tree(tmp_path, probe)
    faults = mqlgate.check_tree(tree, probe.lang)
    mine = [f for f in faults if f.rule == probe.rule]
    assert any(f.file == probe.file and f.line == line and f.word == probe.word for f in mine), \
        "\n".join(map(str, faults)) or "no fault"
    fault = next(f for f in mine if f.line == line and f.word == probe.word)
    assert str(fault).startswith(f"{probe.file}:{line}: '{probe.word}': "), str(fault)
    owner = next(r.owner for r in mqlgate.RULES if r.id == probe.rule)
    if owner == "kit":
        assert (ROOT / fault.page).is_file(), fault.page
    else:
        site = "https://www.mql5.com/en/docs/" if probe.lang == "mql5" else \
            "https://docs.mql4.com/"
        assert fault.page.startswith(site), fault.page


def test_every_rule_has_a_probe() -> None:
    """A rule added to the table without a probe fails here."""
    assert {p.rule for p in PROBES} == {r.id for r in mqlgate.RULES}


def test_a_word_from_a_macro_of_another_file_is_refused_where_it_is_used(
        tmp_path: Path) -> None:
    """The gate reads a program as the compiler does, through its includes: a macro defined
    in Bytes.mqh that puts a reserved word into Crypto.mqh is refused at Crypto.mqh's line,
    naming the macro; the same macro never used is no fault."""
    tree = shutil.copytree(MQL5_DIR, tmp_path / "MQL5")
    bytes_ = tree / "Include/MTGateway/Bytes.mqh"
    bytes_.write_text(bytes_.read_text(encoding="utf-8").replace(
        "#define MTGW_BYTES_MQH", "#define MTGW_BYTES_MQH\n#define MTGW_KIND input", 1),
        encoding="utf-8")
    assert mqlgate.check_tree(tree, "mql5") == []
    crypto = tree / CRYPTO
    text = crypto.read_text(encoding="utf-8").replace(SAME, SAME + "   int MTGW_KIND = 1;\n", 1)
    crypto.write_text(text, encoding="utf-8")
    line = text.splitlines().index("   int MTGW_KIND = 1;") + 1
    faults = mqlgate.check_tree(tree, "mql5")
    assert [(f.file, f.line, f.word, f.rule) for f in faults] == \
        [(CRYPTO, line, "input", "reserved-name")], faults
    assert "the macro MTGW_KIND" in faults[0].why


def test_what_is_not_compiled_is_not_read() -> None:
    """Lines an #ifdef leaves out are not compiled, so not refused; the language's own macro
    (__MQL5__, __MQL4__) is defined, as the conditional-compilation page says."""
    text = ("#ifdef __MQL4__\nint input = 1;\n#else\nint kept = 1;\n#endif\n"
            "#ifdef __MQL5__\nint auto = 2;\n#endif\n")
    assert [(f.line, f.word) for f in mqlgate.check_text(text, "x.mqh", "mql5")] == [(7, "auto")]
    assert [(f.line, f.word) for f in mqlgate.check_text(text, "x.mqh", "mql4")] == \
        [(2, "input")]


VALID = {
    # MQL5: MetaEditor 5 takes MQL4's strict property; the predefined macros are MQL's own
    "mql5": ('#property version "1.00"\n#property strict\n'
             "int OnInit(void)\n  {\n   Print(__FUNCTION__, \" \", __FILE__, \":\", __LINE__);\n"
             "#ifdef __MQL5__\n   Print(__FUNCSIG__);\n#endif\n"
             "   static int calls = 0;\n   calls += 1 + (int)sizeof(calls);\n"
             "   return calls > 0 ? INIT_SUCCEEDED : INIT_FAILED;\n  }\n"
             "void OnDeinit(const int reason) { }\n"),
    # MQL4: unions are documented (docs.mql4.com/basis/types/classes, "Unions (union)")
    "mql4": ("union LongDouble\n  {\n   long l;\n   double d;\n  };\n"
             "int Bits(void)\n  {\n   LongDouble v;\n   v.d = 1.0;\n   return (int)(v.l >> 52);\n"
             "  }\n"),
}


@pytest.mark.parametrize("lang", sorted(VALID))
def test_valid_mql_the_gate_once_refused_passes(lang: str) -> None:
    """D6-4: `#property strict` in MQL5, `union` in MQL4 and the predefined macros
    (__FUNCTION__, __LINE__, ...) are MQL; the gate refused them (this test failed before)."""
    program = lang == "mql5"
    assert mqlgate.check_text(VALID[lang], "Probe.mq5" if program else "x.mqh", lang,
                              program=program) == []


# A whole uncached build of a probe program: on a loaded 2-core machine g++ alone can pass the
# default 60 s, which is there to catch hangs, not slow builds.
@pytest.mark.timeout(240)
async def test_the_kit_gives_the_predefined_macros_their_mql_meaning(tmp_path: Path) -> None:
    """The kit builds a program using __FUNCTION__, __FILE__ and __LINE__ and prints what
    MQL prints: the function's name, the file's name, the line."""
    binary = build_probe(tmp_path / "build", VALID["mql5"])
    fixture, _ = make_fixture(tmp_path)
    proc = await asyncio.create_subprocess_exec(
        str(binary), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env={"MTGW_FIXTURE": str(fixture)})
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        while not any("OnInit" in line for line in seen):
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line, f"the probe exited: {seen}"
            seen.append(line.decode(errors="replace").strip())
    finally:
        proc.terminate()
        await proc.wait()
    assert any(line.endswith("OnInit Probe.mq5:5") for line in seen), seen


def test_comments_strings_and_character_literals_are_not_code() -> None:
    """The words of a comment, a string or a character literal are never taken for names."""
    text = ('// uchar input[];\n/* int auto = 1;\n goto x; */\nstring s = "input[] nullptr";\n'
            "ushort q = '\\'';\nint ok = 1;\n")
    assert mqlgate.check_text(text, "x.mqh") == []
    assert [f.word for f in mqlgate.check_text(text + "int input = 2;\n", "x.mqh")] == ["input"]


def test_a_declaration_is_seen_across_lines() -> None:
    """A parameter list and a declaration list laid over several lines are read whole."""
    text = ("bool Join(const uchar &head[],\n          const uchar &extern[],\n"
            "          uchar &out[])\n  {\n   uchar a[],\n         b[],\n         static_[];\n"
            "   return true;\n  }\n")
    faults = mqlgate.check_text(text, "x.mqh")
    assert [(f.line, f.word) for f in faults] == [(2, "extern")], faults


def test_the_language_data_name_their_pages() -> None:
    """The reserved words are data, each list with the reference page it is copied from."""
    for lang, page in (("mql5", "https://www.mql5.com/en/docs/basis/syntax/reserved"),
                       ("mql4", "https://docs.mql4.com/basis/syntax/reserved")):
        data = tomllib.loads((KIT / "lang" / f"{lang}.toml").read_text(encoding="utf-8"))
        assert data["reserved"]["page"] == page
        words = mqlgate.language(lang).reserved
        assert words["input"] == ("memory classes", page)
        assert all(extra["page"].startswith(page.split("/basis")[0])
                   for extra in data["reserved"]["elsewhere"])
    assert "strict" in mqlgate.language("mql4").reserved
    assert "sinput" in mqlgate.language("mql5").reserved


def test_a_literal_or_comment_that_never_ends_is_a_fault_at_its_line(tmp_path: Path) -> None:
    """What the tokenizer cannot read is refused like any rule, with the line it starts on;
    the preprocessor's command line prints each fault on a line of its own."""
    text = 'int ok = 1;\nstring s = "open;\nint x = 2;\n'
    faults = mqlgate.check_text(text, "x.mqh")
    assert [(f.file, f.line, f.rule) for f in faults] == [("x.mqh", 2, "lexer")], faults
    assert "literal is not closed" in faults[0].why
    assert [(f.line, f.why) for f in mqlgate.check_text("int a;\n\n/* open\n", "y.mqh")] == \
        [(3, "a /* comment never ends")]
    tree = tmp_path / "MQL5"
    shutil.copytree(MQL5_DIR, tree)
    (tree / CRYPTO).write_text((tree / CRYPTO).read_text(encoding="utf-8").replace(
        SAME, SAME + "   int auto = 1;\n   int goto = 2;\n", 1), encoding="utf-8")
    run = subprocess.run([sys.executable, str(KIT / "mqlpp.py"), str(tree), str(tmp_path / "out")],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 2
    lines = run.stderr.splitlines()
    assert len(lines) == 2, run.stderr
    assert all(line.startswith(f"mqlpp: refused: {CRYPTO}:") for line in lines), run.stderr
    assert "'auto'" in lines[0] and "'goto'" in lines[1], run.stderr

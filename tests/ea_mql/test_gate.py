"""The language gate (kit/mqlgate.py): every shipped MQL source is held to what MetaEditor
compiles before g++ sees it, so C++ that MQL refuses cannot ship again (review A-1, D-1: both EAs
declared locals named ``input``, a reserved word, and the kit compiled them).

Each rule of the gate's table is probed by an edit of a copy of the shipped tree, and the
refusal must name the file, the line and the word; the shipped sources pass."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ea_mql.eakit import KIT, MQL5_DIR, ROOT, BuildError, build_ea
from tests.ea_mql.eakit4 import assemble, build_ea4
from tests.ea_mql.kit import mqlgate

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
    rule, word, and the line of ``new`` the word is on."""

    rule: str
    file: str
    old: str
    new: str
    word: str
    lang: str = "mql5"
    line: int = 0       # where the refusal points when not at the edit


DEF = "#define MTGW_CRYPTO_MQH"
PROBES = [
    # reserved words as every kind of declared name
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
    Probe("std", CRYPTO, SAME, SAME + "   std::string s;\n", "std"),
    Probe("long-long", CRYPTO, SAME, "   long long diff = 0;\n", "long"),
    Probe("lambda", CRYPTO, SAME, SAME + "   int k = [&](int x) { return x; }(1);\n", "["),
    Probe("arrow", CRYPTO, "diff |= (", "diff |= this->Bit() + (", "->"),
    Probe("anonymous-enum", CRYPTO, SAME, "   enum { A, B };\n" + SAME, "enum"),
    Probe("multiple-inheritance", CRYPTO, "class EntropyPool\n",
          "class Base1 { };\nclass Base2 { };\nclass EntropyPool : public Base1, public Base2\n",
          "EntropyPool"),
    Probe("pointer-to-builtin", CRYPTO, SAME, SAME + "   int *where;\n", "where"),
    Probe("reference-outside-parameters", CRYPTO, SAME, SAME + "   int &alias = diff;\n",
          "alias"),
    Probe("directive", CRYPTO, "#define MTGW_CRYPTO_MQH", "#define MTGW_CRYPTO_MQH\n#pragma once",
          "#pragma"),
    Probe("directive", CRYPTO, "#define MTGW_CRYPTO_MQH", "#define MTGW_CRYPTO_MQH\n#if 1\n#endif",
          "#if"),
    Probe("property", EXPERT5, "#property version", "#property strict\n#property version",
          "strict"),
    Probe("property", CRYPTO, "#define MTGW_CRYPTO_MQH",
          "#define MTGW_CRYPTO_MQH\n#property copyright \"x\"", "copyright"),
    Probe("import-form", CRYPTO, "#define MTGW_CRYPTO_MQH",
          "#define MTGW_CRYPTO_MQH\n#import \"libfoo.so\"\nint Foo(int x);\n#import",
          '"libfoo.so"'),
    Probe("import-form", CRYPTO, "#define MTGW_CRYPTO_MQH",
          "#define MTGW_CRYPTO_MQH\n#import \"user32.dll\"\nint Foo(int x);", "#import"),
    Probe("include-form", CRYPTO, "#include <MTGateway\\Bytes.mqh>",
          "#include <MTGateway\\Bytes.mqh>\n#include MTGateway", "#include"),
    Probe("kit-imports", CRYPTO, "#define MTGW_CRYPTO_MQH",
          "#define MTGW_CRYPTO_MQH\n#import \"user32.dll\"\nint MessageBoxW(int h);\n#import",
          '"user32.dll"'),
    Probe("kit-includes", CRYPTO, "#include <MTGateway\\Bytes.mqh>",
          "#include <MTGateway\\Bytes.mqh>\n#include <Trade\\Trade.mqh>", "#include"),
    Probe("kit-pointers", CRYPTO, SAME, SAME + "   EntropyPool *p = new EntropyPool();\n", "new"),
    Probe("kit-arrays", CRYPTO, SAME, SAME + "   double grid[2][3];\n", "grid"),
    Probe("kit-input-group", EXPERT5, "input string AuthToken",
          "input group \"Gateway\"\ninput string AuthToken",
          "group"),
    Probe("kit-underscore", CRYPTO, SAME, SAME + "   int _secret = 1;\n", "_secret"),
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
    word_at = probe.new.rindex(probe.word)
    return Path(tree), edited[:at].count("\n") + probe.new[:word_at].count("\n") + 1


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: f"{p.rule}-{p.lang}-{p.word[:12]}")
def test_each_rule_refuses_its_probe_naming_file_line_and_word(tmp_path: Path,
                                                               probe: Probe) -> None:
    tree, line = _probe_tree(tmp_path, probe)
    faults = mqlgate.check_tree(tree, probe.lang)
    mine = [f for f in faults if f.rule == probe.rule]
    assert any(f.file == probe.file and f.line == line and f.word == probe.word for f in mine), \
        "\n".join(map(str, faults)) or "no fault"
    shown = str(next(f for f in mine if f.line == line and f.word == probe.word))
    assert shown.startswith(f"{probe.file}:{line}: '{probe.word}': "), shown


def test_every_rule_has_a_probe_and_names_its_page() -> None:
    """A rule added to the table without a probe fails here; a language rule cites a page of
    the MQL5 or MQL4 reference, a kit rule the kit file whose limit it is."""
    assert {p.rule for p in PROBES} == {r.id for r in mqlgate.RULES}
    pages = {f.rule: f.page for p in PROBES for f in _faults_of(p)}
    for rule in mqlgate.RULES:
        page = pages[rule.id]
        if rule.owner == "language":
            assert re.match(r"https://(www\.mql5\.com/en/docs|docs\.mql4\.com)/", page), page
        else:
            assert (ROOT / page).is_file(), page


def _faults_of(probe: Probe) -> list[mqlgate.Fault]:
    path = MQL5_DIR / probe.file
    if not path.exists():
        path = ROOT / "ea_bridge" / "mql" / "MQL4" / probe.file
    text = path.read_text(encoding="utf-8").replace(probe.old, probe.new, 1)
    return [f for f in mqlgate.check_text(text, probe.file, probe.lang,
                                          program=probe.file.startswith("Experts/"))
            if f.rule == probe.rule]


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

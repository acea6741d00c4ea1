"""``mtgateway ea install`` into a MetaTrader 4 data folder, as a user runs it (real processes):
the MT4 EA and the includes it shares with the MQL5 EA land under MQL4/, and that tree alone
compiles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from daemon.tests.ea_mql.eakit import MQL5_DIR, ROOT, mtgateway
from daemon.tests.ea_mql.eakit4 import MQL4_DIR, build_ea4
from gateway.eafiles import EA4_FILES, SHARED_INCLUDES


def test_the_shipped_mt4_file_list_is_the_whole_ea() -> None:
    """Every .mq4/.mqh of the MT4 EA is in EA4_FILES, and the shared includes exist once, in
    the MQL5 tree (a new include cannot be left out of installs)."""
    on_disk = sorted(str(p.relative_to(MQL4_DIR)) for p in MQL4_DIR.rglob("*.mq*"))
    assert on_disk == sorted(EA4_FILES)
    assert all((MQL5_DIR / rel).is_file() and not (MQL4_DIR / rel).exists()
               for rel in SHARED_INCLUDES)


def test_every_dll_the_mt4_ea_imports_is_named_where_an_owner_reads() -> None:
    """E-7: the EA imports ws2_32.dll and advapi32.dll (RtlGenRandom), and the terminal shows
    both in its Dependencies tab when the EA is attached; its header, its
    ``#property description`` and docs/terminal.md's MetaTrader 4 section named only the
    first ("the one DLL it imports"). Each DLL an ``#import`` names is in all three."""
    sources = "".join(p.read_text(encoding="utf-8") for p in MQL4_DIR.rglob("*.mq*"))
    dlls = set(re.findall(r'^#import "([^"]+\.dll)"', sources, re.MULTILINE))
    assert dlls == {"ws2_32.dll", "advapi32.dll"}
    ea = (MQL4_DIR / "Experts" / "MTGateway.mq4").read_text(encoding="utf-8")
    header = ea[:ea.index("#property")]
    [description] = re.findall(r'^#property description "(.*)"$', ea, re.MULTILINE)
    docs = (ROOT / "docs" / "terminal.md").read_text(encoding="utf-8")
    mt4 = docs[docs.index("## MetaTrader 4"):]
    mt4 = mt4[:mt4.index("### Install, compile, attach")]
    for dll in dlls:
        assert dll in header and dll in description and dll in mt4, dll
    assert "the one DLL" not in mt4


# A whole uncached build of the installed tree: on a loaded 2-core machine g++ alone can pass
# the default 60 s, which is there to catch hangs, not slow builds.
@pytest.mark.timeout(240)
def test_install_into_an_mt4_data_folder_compiles(tmp_path: Path) -> None:
    data = tmp_path / "Terminal" / "0123456789"
    (data / "MQL4" / "Experts").mkdir(parents=True)
    first = mtgateway("ea", "install", "--terminal-dir", str(data))
    assert first.returncode == 0, first.stderr
    for rel in (*EA4_FILES, *SHARED_INCLUDES):
        installed = data / "MQL4" / rel
        origin = (MQL4_DIR if rel in EA4_FILES else MQL5_DIR) / rel
        assert installed.read_bytes() == origin.read_bytes()
        assert f"installed {installed}" in first.stdout
    assert "MTGateway.mq4" in first.stdout and "Allow DLL imports" in first.stdout
    assert not (data / "MQL4" / "Experts" / "MTGateway.mq5").exists()
    only_installed = tmp_path / "only"
    (data / "MQL4").rename(only_installed)
    assert build_ea4(only_installed, tmp_path / "build").is_file()


def test_install_refuses_a_folder_with_both_platforms(tmp_path: Path) -> None:
    (tmp_path / "MQL4" / "Experts").mkdir(parents=True)
    (tmp_path / "MQL5" / "Experts").mkdir(parents=True)
    done = mtgateway("ea", "install", "--terminal-dir", str(tmp_path))
    assert done.returncode == 2 and "both MQL5/ and MQL4/" in done.stderr
    assert not list((tmp_path / "MQL4" / "Experts").iterdir())

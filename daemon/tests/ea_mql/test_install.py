"""``mtgateway ea path`` and ``mtgateway ea install`` as a user runs them (real processes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.tests.ea_mql.eakit import MQL5_DIR, build_ea, mtgateway
from gateway.eafiles import EA_FILES, ea_source_dir


def test_the_shipped_file_list_is_the_whole_ea() -> None:
    """Every .mq5/.mqh of the EA is in EA_FILES (a new include cannot be left out of installs)."""
    on_disk = sorted(str(p.relative_to(MQL5_DIR)) for p in MQL5_DIR.rglob("*.mq*"))
    assert on_disk == sorted(EA_FILES)
    assert ea_source_dir() == MQL5_DIR


def test_ea_path_prints_the_sources() -> None:
    """m18 (review round 4): `ea path` printed only the MQL5 folder, and an MT4 user was not
    told where MTGateway.mq4 is. It names both, each file under it there; `--mt5`/`--mt4`
    print one bare path for scripts."""
    done = mtgateway("ea", "path")
    assert done.returncode == 0
    assert f"MetaTrader 5: {MQL5_DIR}" in done.stdout
    mql4 = MQL5_DIR.parent / "MQL4"
    assert f"MetaTrader 4: {mql4}" in done.stdout and "MTGateway.mq4" in done.stdout
    assert (mql4 / "Experts" / "MTGateway.mq4").is_file()
    for flag, folder in (("--mt5", MQL5_DIR), ("--mt4", mql4)):
        done = mtgateway("ea", "path", flag)
        assert done.returncode == 0 and Path(done.stdout.strip()) == folder


# A whole uncached build of the installed tree: on a loaded 2-core machine g++ alone can pass
# the default 60 s, which is there to catch hangs, not slow builds.
@pytest.mark.timeout(240)
def test_install_copies_a_complete_ea_that_compiles(tmp_path: Path) -> None:
    """Into a data folder: every file lands under MQL5/, each path is printed, and the
    installed tree alone builds (nothing it includes was left behind); a second install says
    it replaced the files."""
    data = tmp_path / "Terminal" / "ABCDEF"
    (data / "MQL5" / "Experts").mkdir(parents=True)
    first = mtgateway("ea", "install", "--terminal-dir", str(data))
    assert first.returncode == 0, first.stderr
    for rel in EA_FILES:
        installed = data / "MQL5" / rel
        assert installed.read_bytes() == (MQL5_DIR / rel).read_bytes()
        assert f"installed {installed}" in first.stdout
    assert "MetaEditor" in first.stdout and "docs/terminal.md" in first.stdout
    assert build_ea(data / "MQL5", out_dir=tmp_path / "build").is_file()
    again = mtgateway("ea", "install", "--terminal-dir", str(data / "MQL5"))
    assert again.returncode == 0 and again.stdout.count("replaced ") == len(EA_FILES)


def test_install_refuses_what_is_not_a_data_folder(tmp_path: Path) -> None:
    for target in (tmp_path / "missing", tmp_path):
        done = mtgateway("ea", "install", "--terminal-dir", str(target))
        assert done.returncode == 2 and "Open Data Folder" in done.stderr
        assert not (tmp_path / "MQL5").exists()


@pytest.mark.parametrize("platform", ["MQL5", "MQL4"])
def test_install_removes_the_compiled_files_it_makes_stale(tmp_path: Path, platform: str) -> None:
    """E6-2: an update replaced Helper.mq5 and left the old Helper.ex5 beside it; compiling
    only the EA, the natural step after an update, embedded the old helper (the EA carries the
    compiled helper as a resource), which wrote none of what the new EA reads. The install now
    removes the compiled files of the sources it replaces and says so: compiled without a
    fresh helper the EA fails to compile ("resource file not found") instead. Files it does
    not make stale stay."""
    data = tmp_path / "Terminal" / "ABCDEF"
    folder = data / platform
    (folder / "Experts").mkdir(parents=True)
    ext = ".ex5" if platform == "MQL5" else ".ex4"
    stale = [folder / "Experts" / f"MTGateway{ext}"]
    if platform == "MQL5":
        stale.append(folder / "Indicators" / "MTGateway" / "Helper.ex5")
    kept = folder / "Experts" / f"Other{ext}"
    for path in [*stale, kept]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"compiled before")
    done = mtgateway("ea", "install", "--terminal-dir", str(data))
    assert done.returncode == 0, done.stderr
    for path in stale:
        assert not path.exists()
        assert f"removed {path}" in done.stdout
    assert kept.read_bytes() == b"compiled before"
    again = mtgateway("ea", "install", "--terminal-dir", str(data))
    assert again.returncode == 0 and "removed " not in again.stdout

"""Issue 16 F13: `mtgateway ea install` never writes through a symbolic link (real process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.eafiles import EA_FILES, ea_source_dir

pytestmark = pytest.mark.not_on_windows("symlinks")


def _install(data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", "ea", "install", "--terminal-dir",
                           str(data)], capture_output=True, text=True, timeout=60, check=False)


def _data_folder(tmp_path: Path) -> Path:
    data = tmp_path / "Terminal" / "ABCDEF"
    (data / "MQL5" / "Experts").mkdir(parents=True)
    return data


def test_a_linked_include_folder_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    """MQL5/Include/MTGateway as a link to another folder: exit 2 naming the link, nothing
    written there or anywhere else."""
    data = _data_folder(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (data / "MQL5" / "Include").mkdir()
    (data / "MQL5" / "Include" / "MTGateway").symlink_to(elsewhere, target_is_directory=True)
    done = _install(data)
    assert done.returncode == 2, done.stdout
    assert "symbolic link" in done.stderr and "Include/MTGateway" in done.stderr
    assert list(elsewhere.iterdir()) == []
    assert not (data / "MQL5" / "Experts" / "MTGateway.mq5").exists()


def test_a_linked_ea_file_is_refused_and_its_target_kept(tmp_path: Path) -> None:
    """MQL5/Experts/MTGateway.mq5 as a link to a file: refused, the file it points to kept."""
    data = _data_folder(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n", encoding="utf-8")
    (data / "MQL5" / "Experts" / "MTGateway.mq5").symlink_to(victim)
    done = _install(data)
    assert done.returncode == 2 and "symbolic link" in done.stderr
    assert victim.read_text(encoding="utf-8") == "keep me\n"


def test_a_plain_install_writes_regular_files_only(tmp_path: Path) -> None:
    """Without links every file lands as a regular file equal to the source, with no
    temporary file left beside it."""
    data = _data_folder(tmp_path)
    done = _install(data)
    assert done.returncode == 0, done.stderr
    for rel in EA_FILES:
        dest = data / "MQL5" / rel
        assert not dest.is_symlink() and dest.read_bytes() == (ea_source_dir() / rel).read_bytes()
    assert not [p for p in (data / "MQL5").rglob("*") if "mtgateway-tmp" in p.name]

"""``python -m bench --ea --quick`` runs end to end (the harness is proven; no speed asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.ea_mql.eakit import ROOT


@pytest.mark.timeout(180)
def test_ea_bench_runs_and_writes_its_section(tmp_path: Path, ea_binary: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--ea", "--quick", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=170, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    data = orjson.loads(out.read_bytes())
    ea = data["ea_path"]
    for side in ("hop", "emulator", "compiled_ea", "compiled_ea_mt4"):
        assert ea[side][0]["n"] > 0, side
    assert ea["ea_spaced"][0]["n"] > 0
    # stamped ticks went EA -> daemon -> /ws client, for 1 and 20 symbols, woken and timer only
    runs = {(r["symbols"], r["wake"]): r["n"] for r in ea["ea_ticks"]}
    assert set(runs) == {(1, True), (1, False), (20, True), (20, False)}
    assert all(n > 0 for n in runs.values()), runs
    summary = data["ea_summary"]
    assert summary["target"]["rule"].startswith("compiled EA adds <= 1 ms p50")
    assert "| p50 (us) |" in proc.stdout and "compiled EA" in proc.stdout
    assert "compiled MT4 EA" in proc.stdout and summary["compiled_ea_mt4_p50_us"] > 0
    assert "| 20 Market Watch symbol(s), woken on each tick |" in proc.stdout

"""``python -m bench --ea --quick`` runs end to end (the harness is proven; no speed asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from daemon.tests.ea_mql.eakit import ROOT


@pytest.mark.timeout(180)
def test_ea_bench_runs_and_writes_its_section(tmp_path: Path, ea_binary: Path) -> None:
    out = tmp_path / "bench.json"
    # five spaced calls a side (one every 100 ms) prove the part as well as the quick run's 20
    proc = subprocess.run([sys.executable, "-m", "bench", "--ea", "--quick", "--spaced-calls",
                           "5", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=170, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    data = orjson.loads(out.read_bytes())
    ea = data["ea_path"]
    for side in ("hop", "emulator", "compiled_ea", "compiled_ea_mt4"):
        assert ea[side][0]["n"] > 0, side
    # spaced calls on the hop floor and through each EA: quiet, ticks flowing, MT4
    assert {side: runs[0]["n"] for side, runs in ea["spaced"].items()} == {
        "hop": 5, "ea": 5, "ea_ticks": 5, "ea_mt4": 5}
    # stamped ticks went EA -> daemon -> /ws client, for 1 and 20 symbols, woken and timer only
    runs = {(r["symbols"], r["wake"], r["tick_first"]): r["n"] for r in ea["ea_ticks"]}
    assert set(runs) == {(n, wake, first) for n in (1, 20)
                         for wake, first in ((True, False), (False, False), (True, True))}
    assert all(n > 0 for n in runs.values()), runs
    summary = data["ea_summary"]
    assert summary["target"]["rule"].startswith("compiled EA adds <= 1 ms p50")
    assert summary["spaced_target"]["rule"].startswith("a spaced call (ticks flowing)")
    assert summary["spaced"]["ea_ticks"]["p50_us"] > 0
    assert "| spaced calls, one every 100 ms |" in proc.stdout
    assert "| p50 (us) |" in proc.stdout and "compiled EA" in proc.stdout
    assert "compiled MT4 EA" in proc.stdout and summary["compiled_ea_mt4_p50_us"] > 0
    assert "| 20 Market Watch symbol(s), woken on each tick |" in proc.stdout


def test_a_spaced_call_count_below_one_is_refused() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench", "--ea", "--spaced-calls", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "--spaced-calls must be at least 1, not 0" in proc.stderr

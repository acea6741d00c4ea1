"""``python -m bench.terminals`` runs end to end with tiny counts (no speed asserted).

Proves the many-terminals harness works: one daemon serves two and then three emulated
terminals (one storm terminal, the others measured), each measured terminal's calls and
stamped ticks come back, the storm phase runs, memory is read, one compiled EA serves calls
on a daemon of its own, and the calls keep the asked rate. The full section (10 and 50
terminals, 10 EAs) is ``python -m bench``'s; its figures are in docs/performance.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(240)
def test_the_many_terminals_bench_runs_every_part(tmp_path: Path) -> None:
    out = tmp_path / "terminals.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.terminals", "--counts", "2,3", "--eas", "1", "--reps",
         "1", "--duration", "0.3", "--rpc-rate", "40", "--json", str(out)], cwd=ROOT,
        capture_output=True, text=True, timeout=230, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    data = orjson.loads(out.read_bytes())
    assert [run["n"] for run in data["runs"]] == [2, 3]
    for run in data["runs"]:
        for phase in run["baseline"] + run["storm"]:
            assert phase["rpc"]["calls"] >= run["n"] - 1  # a round over the measured ones
            # paced: 40 calls a second for 0.3 s (a closed loop makes hundreds), and the last
            # round is finished
            assert phase["rpc"]["calls"] <= 40 * 0.3 + run["n"]
            assert phase["ticks"]["count"] > 0 and phase["ticks"]["silent_terminals"] == 0
        assert run["memory"]["loaded_kib"] > 0
        # the storm's source and sink at the lower priority (bench.terminals.STORM_NICE)
        assert run["storm_niceness"] == [data["plan"]["storm_nice"]] * 2 == [10, 10]
    summary = data["summary"]
    assert set(summary["emulated"]) == {"2", "3"} and summary["growth"]["to"] == 3
    assert data["compiled"]["rpc"]["calls"] >= 1 and summary["compiled"]["n"] == 1
    assert "Many terminals, one daemon" in proc.stdout
    for row in summary["emulated"].values():  # the paired ratio is a ratio of the phases'
        assert row["isolation_rpc_paired"] > 0 and row["isolation_ticks_paired"] > 0
    assert "isolation, paired" in proc.stdout

"""``python -m bench --quick`` runs end to end and writes every section (no speed asserted).

CI runs the quick bench through this test to prove the harness works: floors and daemons
start, every measurement produces figures, the JSON has every section. Timing is never
asserted here; a missing wrk only skips the wrk parts (the JSON says so).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(120)
def test_quick_bench_runs_and_writes_every_section(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out)], cwd=ROOT,
        capture_output=True, text=True, timeout=110, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    data = orjson.loads(out.read_bytes())
    assert {"meta", "skipped", "rpc", "dispatch", "fanout", "summary", "targets"} <= data.keys()
    rpc = data["rpc"]
    assert rpc["tcp_floor"] and rpc["aiohttp_c1_floor"] and rpc["aiohttp_c1_daemon"]
    assert rpc["aiohttp_c1_hop"][0]["n"] > 0  # the hop floor (HTTP + one TCP hop) ran
    assert rpc["aiohttp_c1_lean"][0]["n"] > 0  # the lean hop floor (httptools + the hop) ran
    if data["meta"]["wrk"]["path"] is None:
        assert "wrk not found: skipped" in proc.stdout
        assert data["skipped"] == ["wrk_c1", "wrk_c32"]
    else:
        assert rpc["wrk_c1_daemon"][0]["requests"] > 0
        assert rpc["wrk_c32_daemon"][0]["requests"] > 0
        assert rpc["wrk_c32_hop"][0]["requests"] > 0
        assert rpc["wrk_c32_lean"][0]["requests"] > 0
        assert rpc["wrk_c32_lean"][0]["non_2xx"] == 0
    assert set(data["dispatch"]["us_per_call"]) >= {"gateway", "minimal", "overhead_us"}
    runs = data["fanout"]["runs"]
    assert set(runs) == {"1", "10", "100"}
    for reps in runs.values():
        assert reps[0]["latency"]["count"] > 0
        assert reps[0]["throughput"]["count"] > 0
        assert reps[0]["capacity"]["steps"]  # the rate search ran at least one step
        assert reps[0]["floor_latency"]["count"] > 0  # the fan-out floor delivered ticks
        for phase in (reps[0]["latency"], reps[0]["floor_latency"]):  # which side was busy
            assert phase["subscriber_cpu_share"] >= 0 and phase["server_cpu_share"] >= 0
    iso = data["fanout"]["isolation"]
    assert iso["baseline"]["count"] > 0 and iso["with_stalled"]["count"] > 0
    assert iso["storm"]["hwm_kib"] is None or iso["storm"]["hwm_kib"] > 0
    assert {t["target"] for t in data["targets"]} >= {"rpc_p50_wrk", "rpc_throughput_lean",
                                                      "rpc_p50_lean", "fanout_100", "isolation"}

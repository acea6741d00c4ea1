"""``python -m bench.dbdoor`` runs end to end with tiny durations (no speed asserted): a
PostgreSQL server starts, both doors run transactions at each concurrency, and the JSON holds
every row."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_database_door_bench_runs(tmp_path: Path) -> None:
    out = tmp_path / "dbdoor.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.dbdoor", "--duration", "0.3", "--tasks", "1", "4",
         "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=240,
        check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert [(r["side"], r["tasks"]) for r in rows] == [
        ("threads", 1), ("async", 1), ("threads", 4), ("async", 4)]
    assert all(r["tx_per_s"] > 0 and r["p99_ms"] >= r["p50_ms"] > 0 for r in rows)


def test_the_door_bench_runs_a_report_batched_one_by_one_and_async(tmp_path: Path) -> None:
    """``--shape report``: the door's two ways (batched, one by one) and psycopg's async pool
    in the batched door's two round trips, on a report's statements, each row with the
    server's CPU beside the console's."""
    out = tmp_path / "dbdoor-report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.dbdoor", "--shape", "report", "--duration", "0.3",
         "--tasks", "2", "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
        timeout=240, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert [(r["side"], r["tasks"]) for r in rows] == [
        ("batched", 2), ("one-by-one", 2), ("async", 2)]
    assert all(r["tx_per_s"] > 0 and r["server_cpu_us_per_tx"] >= 0 for r in rows)

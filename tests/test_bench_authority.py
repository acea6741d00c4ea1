"""``python -m bench.authority`` runs end to end with tiny counts (no speed asserted).

Proves the harness works: a PostgreSQL server and one and two real console processes start,
every (instances, daemons) row completes requests, the JSON has every row.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(300)
def test_the_authority_bench_runs_every_row(tmp_path: Path) -> None:
    out = tmp_path / "authority.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.authority", "--daemons", "1,3", "--instances", "1,2",
         "--duration", "0.5", "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
        timeout=280, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = json.loads(out.read_text())["authority"]
    assert [(r["instances"], r["daemons"]) for r in rows] == [(1, 1), (1, 3), (2, 1), (2, 3)]
    assert all(r["requests"] > 0 and r["p99_ms"] >= r["p50_ms"] > 0 for r in rows)
    assert all("long_polls_held_max" in r for r in rows)

"""``python -m bench.proofflood`` runs end to end with tiny counts (no speed asserted): a console
process starts, the flood and the probes run, and the JSON holds every figure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_proof_flood_bench_runs(tmp_path: Path) -> None:
    out = tmp_path / "flood.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.proofflood", "--keys", "30", "--burst-s", "0.3",
         "--watch-s", "1", "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
        timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    figures = json.loads(out.read_text(encoding="utf-8"))
    for probe in ("health", "known_device"):
        assert figures[probe]["answered"] > 0
        assert figures[probe]["probes"] >= figures[probe]["answered"]
    assert sum(figures["flood"].values()) == 30
    assert figures["flood"].get("429", 0) > 0  # the gate refused the flood's tail

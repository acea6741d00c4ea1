"""``python -m bench.callwork`` counts the Python work on the console's loop per call, and the
count is the same run after run (no speed asserted: the figure is a count)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Python calls on the console's loop per device call, at most (``docs/performance.md``).
CEILING = 200
PATHS = {"/v1/records/lookup", "/v1/records/refresh", "/v1/terminals/report",
         "/v1/device/status", "/v1/keys"}
#: Python calls on the database's worker threads per device call's transaction, at most: the
#: counts of the tree that drives libpq straight (168, 147, 175, 109: ``docs/performance.md``)
#: and a tenth more; the tree before it counted 389, 342, 466 and 277.
WORKER_CEILINGS = {"/v1/records/lookup": 185, "/v1/records/refresh": 162,
                   "/v1/terminals/report": 192, "/v1/device/status": 120}
#: The row of a report on a connection of its own (``bench.callwork.NEW_CONNECTION``).
NEW_CONNECTION = "/v1/terminals/report, a new connection"
#: Python calls on the console's loop per report on a connection of its own (its accept,
#: admission, timers and close with the call), at most: 217 counted (2026-11-28, 266 before
#: the connection's own work was cut), and a margin (``docs/performance.md``).
CONNECTION_CEILING = 228
#: The row of a revocation long-poll carrying the report (``bench.callwork.CARRIED``): a
#: device call, held to :data:`CEILING` on the loop (195.0 counted, 2026-11-29), and on the
#: workers to its one transaction's count (185.0, its two round trips; 191.2 when the feed's
#: read was a third) and a tenth more.
CARRIED = "/v1/device/revocations, carrying the report"
CARRIED_WORKER_CEILING = 204


@pytest.mark.timeout(300)
def test_the_same_console_counts_the_same_work_twice(tmp_path: Path) -> None:
    """Two variants of this tree: every kind of call counted on each, the same within 2 %
    (the loop's own timers are the only difference); a call that verifies a device proof
    and writes its replay row costs more than the unsigned key list."""
    out = tmp_path / "callwork.json"
    proc = subprocess.run([sys.executable, "-m", "bench.callwork", "--calls", "100",
                           "--warmup", "5", "--variant", "one", "--variant", "two",
                           "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=280, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = json.loads(out.read_text(encoding="utf-8"))["callwork"]
    assert [(r["variant"], r["calls"]) for r in rows] == [("one", 100), ("two", 100)]
    one, two = (r["python_calls_per_call"] for r in rows)
    assert set(one) == set(two) == PATHS | {NEW_CONNECTION, CARRIED}
    for path in PATHS | {NEW_CONNECTION, CARRIED}:
        assert one[path] == pytest.approx(two[path], rel=0.02), (path, one, two)
    assert one["/v1/terminals/report"] > one["/v1/keys"] > 0
    # the console's target for a device call (docs/performance.md): a change that adds work
    # on the loop past it fails here, by a count the machine does not move
    assert all(one[path] <= CEILING for path in PATHS | {CARRIED}), one
    # a report carried by the long-poll is the report's work and a poll's, on one connection
    # kept open: less than a report on a connection of its own
    assert one["/v1/terminals/report"] < one[CARRIED] < one[NEW_CONNECTION], one
    # a report on a connection of its own (a daemon's every 30 s, past its client's
    # keep-alive): the call's work and the connection's, which a change must not let grow
    # back (the accept, the guard's admission and deadlines, the edge, the close)
    assert one["/v1/terminals/report"] + 20 < one[NEW_CONNECTION] <= CONNECTION_CEILING, one
    # and the same calls' transactions on the database's workers: counted too (the key list
    # asks the database nothing: what is left there is the readiness check's transaction,
    # once a second, less its idle rate, a few calls a call at most)
    workers = rows[0]["worker_python_calls_per_call"]
    assert set(workers) == PATHS | {NEW_CONNECTION, CARRIED} and workers["/v1/keys"] < 20, \
        workers
    assert all(workers[path] > 50 for path in PATHS - {"/v1/keys"}), workers
    # and held to what a transaction costs there now, by the same kind of count
    assert all(workers[path] <= WORKER_CEILINGS[path] for path in WORKER_CEILINGS), workers
    # the carried report and the poll's read in one transaction, not two
    assert workers["/v1/terminals/report"] < workers[CARRIED] <= CARRIED_WORKER_CEILING, workers
    assert "[one] Python calls on the database's workers per call: " in proc.stdout
    assert "[one] Python calls on the loop per call: /v1/records/lookup" in proc.stdout
    assert f"{NEW_CONNECTION} " in proc.stdout and f"{CARRIED} " in proc.stdout


def test_bad_counts_are_refused_before_anything_starts() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.callwork", "--calls", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "--calls must be at least 1 and --warmup at least 0" in proc.stderr

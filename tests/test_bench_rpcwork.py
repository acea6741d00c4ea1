"""``python -m bench.rpcwork`` counts the Python work on the daemon's loop per ``/rpc`` call, and
the count is the same window after window (no speed asserted: the figure is a count)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.loopprofile import by_group
from bench.rpcwork import group_of

ROOT = Path(__file__).resolve().parent.parent
#: Python calls on the daemon's loop per ``symbol_info_tick`` call, at most.
CALLS_BUDGET = 190


@pytest.mark.timeout(120)
def test_one_daemon_counts_the_same_work_in_two_windows(tmp_path: Path) -> None:
    """Two windows of 60 calls in one daemon: the same count within 2 % (the emulated
    terminal's heartbeat is the only difference), every call's work placed in the groups of
    the path it takes, the functions called most named with their callers."""
    out = tmp_path / "rpcwork.json"
    proc = subprocess.run([sys.executable, "-m", "bench.rpcwork", "--calls", "60",
                           "--warmup", "20", "--rounds", "2", "--top", "5",
                           "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=110, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    [row] = json.loads(out.read_text(encoding="utf-8"))["rpcwork"]
    assert (row["variant"], row["calls"]) == ("this", 60)
    one, two = row["rounds"]
    assert one == pytest.approx(two, rel=0.02), row["rounds"]
    total = row["python_calls_per_call"]
    assert 0 < row["builtin_calls_per_call"] < total
    # the count a change to /rpc's path is judged by (docs/performance.md): 252.6 before the
    # path was cut, 172 after; a change that adds more than this margin says so here first
    assert total <= CALLS_BUDGET, (total, row["by_group"])
    groups = row["by_group"]
    assert sum(groups.values()) == pytest.approx(total)
    for group in ("edge (llhttp, door, ladder)", "EA bridge", "auth",
                  "dispatcher (rpc, strictjson, errors)", "trading desk"):
        assert groups[group] >= 1, (group, groups)
    assert len(row["top"]) == 5 and all(entry["callers"] for entry in row["top"])
    assert "[this] Python calls on the loop per /rpc call: " in proc.stdout


def test_a_built_in_counts_where_it_is_called_from() -> None:
    """pstats' rows: a Python function in its file's group, a built-in split among its
    callers' groups, one called from no Python function in ``other``."""
    edge = ("/x/gateway/edge/llhttp.py", 10, "feed")
    bridge = ("/x/ea_bridge/server.py", 20, "call")
    length = ("~", 0, "<built-in method builtins.len>")
    stats = {edge: (2, 2, 0.0, 0.0, {}), bridge: (1, 1, 0.0, 0.0, {}),
             length: (7, 7, 0.0, 0.0, {edge: (4, 4, 0.0, 0.0), bridge: (2, 2, 0.0, 0.0)})}
    assert by_group(stats, group_of, 1) == {"edge (llhttp, door, ladder)": 6.0,
                                            "EA bridge": 3.0, "other": 1.0}


def test_bad_counts_are_refused_before_anything_starts() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.rpcwork", "--rounds", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "--calls and --rounds must be at least 1" in proc.stderr


def test_instructions_are_counted_on_one_kept_connection_only() -> None:
    """``--new-connections`` counts the Python calls alone: asked with ``--instructions`` it
    is refused before anything starts."""
    proc = subprocess.run([sys.executable, "-m", "bench.rpcwork", "--new-connections",
                           "--instructions"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "not with --new-connections" in proc.stderr

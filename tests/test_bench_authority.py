"""``python -m bench.authority`` runs end to end with tiny counts (no speed asserted).

Proves the harness works: a PostgreSQL server and real console processes start; the closed
loop completes every (instances, daemons) row; the open loop at the daemon's cadence (here
sped up: a report every 0.5 s) adds daemons step by step, each one's lookup, reports, refresh
and long-polls answered, what the console and the client hold measured, and stops at the
first step past its p99 limit; the restart storm stops the console while the daemons run,
restarts them cold, and serves every one once the console is back. The JSON has every row.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.alternation import compare, rounds
from bench.authority import Routes, _console_cpus, _parser, filled, poll_wait_s
from bench.consoles import Provisioned, Variant, console_config
from mtgateway_console.config import load_console_config

ROOT = Path(__file__).resolve().parent.parent
#: A daemon's cadence sped up for CI (the bench's defaults are the daemon's: 30 s, 300 s, 25 s).
FAST = ["--report-s", "0.5", "--refresh-s", "1", "--poll-s", "0.5", "--spread", "0.5"]


def _bench(tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "authority.json"
    proc = subprocess.run([sys.executable, "-m", "bench.authority", *args, "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=280, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    results: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return results


@pytest.mark.timeout(300)
def test_the_authority_bench_runs_every_row(tmp_path: Path) -> None:
    rows = _bench(tmp_path, "--daemons", "1,3", "--instances", "1,2",
                  "--duration", "0.5", "--warmup", "0.3", "--client-nice", "5")["authority"]
    # the simulated daemons ran at the niceness asked (positive: allowed without privilege)
    assert all(r["client_nice"] == 5 for r in rows), rows
    assert [(r["instances"], r["daemons"]) for r in rows] == [(1, 1), (1, 3), (2, 1), (2, 3)]
    assert all(r["requests"] > 0 and r["p99_ms"] >= r["p50_ms"] > 0 for r in rows)
    # counted after the warm-up, routed as the documented balancer routes, to every instance
    assert all((r["routing"], r["warmup_s"]) == ("leastconn", 0.3) for r in rows)
    assert all(len(r["calls_per_instance"]) == r["instances"] and min(r["calls_per_instance"])
               > 0 and sum(r["calls_per_instance"]) == r["requests"] for r in rows), rows
    assert all("long_polls_held_max" in r for r in rows)
    for row in rows:  # every kind of call, each timed apart as well
        assert set(row["by_path"]) == {"/v1/records/lookup", "/v1/records/refresh",
                                       "/v1/terminals/report", "/v1/device/status",
                                       "/v1/keys"}, row
        assert sum(k["requests"] for k in row["by_path"].values()) == row["requests"]
        # what the consoles and the simulated daemons themselves cost, and the bench's lag
        assert row["console_cores_busy"] > 0 and row["client_cores_busy"] > 0, row
        assert row["client_loop"]["lag_max_ms"] >= row["client_loop"]["lag_p99_ms"] >= 0, row


def test_a_box_key_is_made_only_for_a_call_that_asks_for_records() -> None:
    # a daemon makes an X25519 box key only for a lookup or a refresh (gateway/auth/cache.py);
    # the closed loop made one for every call (CPU of the simulated daemons, on the
    # consoles' cores)
    daemon = Provisioned(key=Ed25519PrivateKey.generate(), device_id="dev_" + "a" * 26,
                         token="mtgw_unused", token_hint="hint", token_id="tok_a", login=1)
    report = b'{"terminals": []}'
    assert filled(report, daemon) is report  # nothing to fill: sent as it is
    status = b'{"nonce": "{nonce}"}'
    once, again = filled(status, daemon), filled(status, daemon)
    assert b"{nonce}" not in once and once != again  # a fresh nonce each call
    body = filled(b'{"nonce": "{nonce}", "box_key": "{box}"}', daemon)
    assert b"{box}" not in body and b"{nonce}" not in body
    key = body.split(b'"box_key": "')[1].split(b'"')[0]
    assert len(base64.urlsafe_b64decode(key + b"=" * (-len(key) % 4))) == 32  # X25519


def test_a_variant_sets_a_key_of_any_section(tmp_path: Path) -> None:
    """A plain key is ``[console]``'s, a dotted one its section's: the file written is one the
    console loads, with the bench's own bounds beside the variant's settings."""
    variant = Variant.parse("two,authority.database_connections=2,public_key_work=loop")
    path = tmp_path / "console.toml"
    console_config(path, tmp_path / "data", port=8720, daemons=100, variant=variant)
    config = load_console_config(path)
    assert config.authority.database_connections == 2
    assert (config.console.public_key_work, config.console.port) == ("loop", 8720)
    assert config.console.max_connections == 456 and config.smtp.port == 1


def test_leastconn_sends_a_call_to_the_instance_with_the_fewest_in_flight() -> None:
    routes = Routes(["http://a", "http://b", "http://c"])
    assert [routes.pick(turn) for turn in range(3)] == [0, 1, 2]  # ties go round
    routes.in_flight[:] = [4, 1, 3]
    assert {routes.pick(turn) for turn in range(6)} == {1}
    routes.in_flight[:] = [2, 2, 5]  # a tie goes to the first tied from the turn's start on
    assert [routes.pick(turn) for turn in range(4)] == [0, 1, 0, 0]


def test_a_long_poll_never_asks_a_negative_wait_at_the_end_of_a_run() -> None:
    # a watcher woken just past the end of its run once sent wait_s < 0 and the console
    # answered 400, failing the closed loop in CI
    assert poll_wait_s(7, -0.0004) is None and poll_wait_s(None, 0.0) is None
    assert poll_wait_s(None, 3.0) == 0.0  # the first poll only reads the cursor
    assert poll_wait_s(7, 0.2) == 0.2 and poll_wait_s(7, 90.0) == 25.0


def test_each_instance_gets_its_own_cpu_or_all_share_the_ones_named() -> None:
    allowed = sorted(os.sched_getaffinity(0))
    assert _console_cpus(_parser().parse_args(["--pin-instances"])) == [[c] for c in allowed]
    assert _console_cpus(_parser().parse_args(["--console-cpus", "0"])) == [[0]]
    assert _console_cpus(_parser().parse_args([])) == []


def test_a_fleet_is_split_so_no_client_process_plays_more_than_4000_daemons() -> None:
    """One process for a small fleet, three for 10,000 (each within its descriptors); a
    count chosen is kept, and 0 is refused with a clear error."""
    from bench.fleetshares import client_processes

    assert [client_processes(n) for n in (6, 4000, 4001, 10_000)] == [1, 1, 2, 3]
    assert client_processes(10_000, 5) == 5 and client_processes(6, 2) == 2
    with pytest.raises(SystemExit):
        _parser().parse_args(["--client-processes", "0"])


def test_roundrobin_alternates_whatever_the_instances_hold() -> None:
    routes = Routes(["http://a", "http://b"], "roundrobin")
    routes.in_flight[:] = [100, 0]
    assert [routes.pick(turn) for turn in range(4)] == [0, 1, 0, 1]
    with pytest.raises(ValueError, match="routing policy 'random'"):
        Routes(["http://a"], "random")


@pytest.mark.timeout(300)
def test_the_cadence_ramp_measures_each_step(tmp_path: Path) -> None:
    """Two steps (3, then 6 daemons), every call answered, each new daemon's lookup counted
    once, one long-poll per daemon held, the console's and the client's holdings per
    daemon, no stop (the limit is far). The daemons split over two client processes, both
    pinned to the CPU asked: every figure counts both processes' calls."""
    cpu = min(os.sched_getaffinity(0))
    results = _bench(tmp_path, "--mode", "cadence", "--steps", "3,6", "--window", "1",
                     "--p99-limit-ms", "60000", "--client-processes", "2",
                     "--client-cpus", str(cpu), *FAST)
    assert results["meta"]["cadence"]["report_s"] == 0.5
    assert results["meta"]["client_processes"] == 2
    rows = results["cadence"]
    assert [r["daemons"] for r in rows] == [3, 6]
    for row in rows:
        calls = row["calls"]
        shares = row["client_processes"]
        # daemon i in process i % 2; each process's own, pinned, every call of both counted
        assert [s["daemons"] for s in shares] == [(row["daemons"] + 1) // 2,
                                                  row["daemons"] // 2], shares
        assert len({s["pid"] for s in shares}) == 2 and os.getpid() not in {
            s["pid"] for s in shares}
        assert all(s["cpus"] == [cpu] and s["calls"] > 0 for s in shares), shares
        assert sum(s["calls"] for s in shares) == calls["all"]["calls"], row
        assert calls["failures"] == {} and row["stopped"] == "", row
        assert calls["lookup"]["calls"] == 3  # the step's new daemons, at their start
        assert calls["report"]["calls"] > 0 and calls["poll_start"]["calls"] == 3
        assert calls["all"]["p99_ms"] >= calls["all"]["p50_ms"] > 0
        assert calls["poll_late_ms"]["polls"] > 0
        assert row["long_polls_held_max"] == row["daemons"]
        assert row["console_fds_per_daemon"] > 0 and row["console_rss_mib"] > 0
        assert row["client_fds"] > row["daemons"]
        assert row["postgres_sessions"].get("mtgateway-console", 0) >= 1
        assert row["console_cores_busy"] > 0 and row["refused_for_good"] == {}
        assert row["client_loop"]["lag_max_ms"] >= row["client_loop"]["lag_p50_ms"] >= 0


@pytest.mark.timeout(300)
def test_a_steady_window_leaves_the_daemons_starts_out(tmp_path: Path) -> None:
    """``--steady``: a step is measured from the end of its spread, so its daemons' lookups
    and first polls (a start's cost, paid once a daemon) are not in its calls or its CPU;
    their reports and refreshes are."""
    results = _bench(tmp_path, "--mode", "cadence", "--steps", "3", "--window", "1.5",
                     "--p99-limit-ms", "60000", "--steady", "--settle", "0.5", *FAST)
    assert results["meta"]["steady"] is True and results["meta"]["settle_s"] == 0.5
    [row] = results["cadence"]
    calls = row["calls"]
    assert calls["failures"] == {} and row["stopped"] == "", row
    assert "lookup" not in calls or calls["lookup"]["calls"] == 0, calls
    assert "poll_start" not in calls or calls["poll_start"]["calls"] == 0, calls
    # the periodic reports ride the long-polls: carried, and counted as calls answered
    assert calls["carried"]["calls"] > 0
    assert row["console_cpu_us_per_call"] > 0


@pytest.mark.timeout(300)
def test_without_carrying_every_report_goes_on_its_own(tmp_path: Path) -> None:
    """``--no-carry``: the simulated daemons report as a daemon before the long-poll carried
    the periodic report did (and as every daemon does to a console that does not take it)."""
    results = _bench(tmp_path, "--mode", "cadence", "--steps", "3", "--window", "1.5",
                     "--p99-limit-ms", "60000", "--steady", "--no-carry", *FAST)
    calls = results["cadence"][0]["calls"]
    assert calls["failures"] == {} and calls["report"]["calls"] > 0, calls
    assert "carried" not in calls, calls
    assert results["meta"]["cadence"]["carry"] is False


@pytest.mark.timeout(300)
def test_the_cadence_ramp_stops_past_its_limit(tmp_path: Path) -> None:
    """A step whose p99 passes the limit is the last (a limit no call can meet)."""
    rows = _bench(tmp_path, "--mode", "cadence", "--steps", "2,4", "--window", "1",
                  "--p99-limit-ms", "0.001", *FAST)["cadence"]
    assert [(r["daemons"], r["stopped"]) for r in rows] == [(2, "p99 over 0.001 ms")]


@pytest.mark.timeout(300)
def test_the_restart_storm_serves_every_daemon(tmp_path: Path) -> None:
    """The console stopped under 8 daemons, which restart cold and try while it is down
    (their lookups fail: connection refused); once it listens again, every daemon has its
    record, a report accepted and a long-poll answered, none refused."""
    row = _bench(tmp_path, "--mode", "storm", "--daemons", "8", "--window", "1",
                 "--down", "1", "--client-processes", "2", *FAST)["storm"][0]
    assert row["served_before"] == 8
    assert (row["served"], row["not_served"], row["refused_for_good"]) == (8, 0, {}), row
    assert 0 < row["served_p50_s"] <= row["served_p99_s"] <= row["all_served_s"]
    assert not math.isnan(row["all_served_s"]) and row["down_s"] >= 1
    assert any(key.startswith("lookup: ") for key in row["failures_while_down"]), row
    assert row["calls"]["lookup"]["calls"] == 8
    # two client processes, four daemons each: each one's failures while the console was
    # down are in the row, none lost, and so are each one's calls once it was back
    down, back = row["client_processes_while_down"], row["client_processes"]
    assert [s["daemons"] for s in back] == [4, 4] and all(s["failures"] > 0 for s in down)
    assert sum(s["failures"] for s in down) == sum(row["failures_while_down"].values())
    assert sum(s["calls"] for s in back) == row["calls"]["all"]["calls"], row


async def test_the_bench_watches_its_own_loop_for_lag_and_collections() -> None:
    """The simulated daemons share one loop: a step's row says how late that loop ran and how
    long its collector stopped it, so a p99 is not blamed on the console for time the bench
    itself lost. A loop blocked 100 ms is seen as ~100 ms of lag; a collection is counted."""
    from bench.cadence import LoopWatch

    loop = asyncio.get_running_loop()
    watch = LoopWatch(every_s=0.01)
    watch.start()
    try:
        began = loop.time()
        await watch.next_tick()
        blocked_until = time.perf_counter() + 0.1
        while time.perf_counter() < blocked_until:  # the loop runs nothing else meanwhile
            pass
        await watch.next_tick()
        blocked = watch.window(began, loop.time() + 1)
        # a young collection: a full one walks the whole test process, which late in a full
        # suite stopped the loop 1.1 s (a CI run) and was then counted as the block's lag
        gc.collect(0)
        await watch.next_tick()
        seen = watch.window(began, loop.time() + 1)
    finally:
        await watch.stop()
    assert 90 <= blocked["lag_max_ms"] < 1000, blocked
    assert blocked["lag_p50_ms"] <= blocked["lag_p99_ms"] <= blocked["lag_max_ms"]
    assert seen["gc_pauses"] >= 1 and seen["gc_ms"] >= seen["gc_max_ms"] > 0, seen
    assert watch.window(loop.time() + 1, loop.time() + 2)["gc_pauses"] == 0


def test_a_balanced_order_runs_each_variant_as_often_first_as_second() -> None:
    """A steady drift of the machine's speed favours whichever variant runs later: balanced
    rounds reverse every second one, plain alternation keeps one order."""
    assert rounds("AB", 4) == [["A", "B"], ["B", "A"], ["A", "B"], ["B", "A"]]
    assert rounds("ABC", 2) == [["A", "B", "C"], ["C", "B", "A"]]
    assert rounds("AB", 3, "alternate") == [["A", "B"]] * 3
    assert rounds("A", 2) == [["A"], ["A"]]
    with pytest.raises(ValueError, match="--repeat must be at least 1, not 0"):
        rounds("AB", 0)
    with pytest.raises(ValueError, match="--order must be one of balanced, alternate"):
        rounds("AB", 2, "shuffled")  # type: ignore[arg-type]


def test_the_comparison_is_each_variants_median_against_the_first() -> None:
    """Per step, the variants in the order they first ran, each with its runs, their median
    and the median's ratio to the first variant's; a row without the figure is left out."""
    rows = [{"variant": "before", "daemons": 10, "cpu": 100.0},
            {"variant": "after", "daemons": 10, "cpu": 90.0},
            {"variant": "after", "daemons": 10, "cpu": 96.0},
            {"variant": "before", "daemons": 10, "cpu": 120.0},
            {"variant": "before", "daemons": 10, "cpu": 104.0},
            {"variant": "before", "daemons": 20, "cpu": 50.0},
            {"variant": "after", "daemons": 20, "cpu": 55.0},
            {"variant": "after", "daemons": 30, "stopped": "p99 over 250 ms"}]
    compared = compare(rows, "cpu")
    assert [(c["daemons"], c["variant"], c["runs"], c["median"]) for c in compared] == [
        (10, "before", [100.0, 120.0, 104.0], 104.0), (10, "after", [90.0, 96.0], 93.0),
        (20, "before", [50.0], 50.0), (20, "after", [55.0], 55.0)]
    assert [round(c["ratio"], 4) for c in compared] == [1.0, 0.8942, 1.0, 1.1]


@pytest.mark.timeout(300)
def test_a_cadence_comparison_runs_the_variants_balanced_and_compares_them(
        tmp_path: Path) -> None:
    """Two variants twice: A B then B A, each row with the console's CPU per answered call,
    and the comparison of their medians in the JSON."""
    results = _bench(tmp_path, "--mode", "cadence", "--steps", "2", "--window", "1",
                     "--p99-limit-ms", "60000", "--variant", "a", "--variant", "b",
                     "--repeat", "2", *FAST)
    rows = results["cadence"]
    assert [r["variant"] for r in rows] == ["a", "b", "b", "a"]
    assert results["meta"]["order"] == "balanced" and results["meta"]["repeat"] == 2
    for row in rows:
        # the calls answered at once and the reports the long-polls carried
        cores, calls = row["console_cores_busy"], row["calls"]["all"]["calls"]
        carried = row["calls"].get("carried", {}).get("calls", 0)
        assert calls > 0 and row["console_cpu_us_per_call"] == pytest.approx(
            cores * row["seconds"] * 1e6 / (calls + carried)), row
    compared = results["compared"]
    assert [(c["variant"], len(c["runs"])) for c in compared] == [("a", 2), ("b", 2)]
    assert compared[0]["ratio"] == 1.0
    assert compared[1]["ratio"] == pytest.approx(compared[1]["median"] / compared[0]["median"])


@pytest.mark.parametrize(("args", "said"), [
    (["--settle", "5"], "--settle measures a --steady window later: give both"),
    (["--steady", "--settle", "-1"], "-1: seconds, at least 0"),
])
def test_a_settle_without_a_steady_window_or_below_zero_is_refused(
        args: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.authority import main

    with pytest.raises(SystemExit) as ended:
        main(["--mode", "cadence", *args])
    assert ended.value.code == 2 and said in capsys.readouterr().err

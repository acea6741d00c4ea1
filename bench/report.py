"""Turning repetitions into the summary, the targets verdicts and the printed table.

Every figure in the summary is the median over the interleaved repetitions (the raw repetitions
stay in the JSON). Ratios are taken between figures of the same run. The targets are those
:func:`targets` lists (``docs/performance.md`` reports them); ``met`` is ``None`` when a figure
is missing (for example wrk was not found). Nothing here asserts: CI only proves the harness.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .common import median, spread

__all__ = ["SIDES", "summarize", "table", "targets"]

#: The servers ``/rpc`` is measured on, in the order of one repetition: the HTTP floor, the
#: hop floor (aiohttp + one hop), the lean hop floor (httptools + the same hop: the
#: denominator of the ``/rpc`` targets) and the daemon.
SIDES = ("floor", "hop", "lean", "daemon")


def _med(reps: list[dict[str, Any]], key: str) -> float:
    return median([float(r[key]) for r in reps if r.get(key) is not None])


def _ratio(a: float, b: float) -> float:
    return a / b if b and not math.isnan(a) and not math.isnan(b) else float("nan")


def summarize(raw: dict[str, Any]) -> dict[str, Any]:
    """The medians and ratios the targets and the table are made of."""
    rpc = raw["rpc"]
    s: dict[str, Any] = {}
    s["tcp_floor_p50_us"] = _med(rpc["tcp_floor"], "p50_us")
    s["tcp_floor_p99_us"] = _med(rpc["tcp_floor"], "p99_us")
    for client in ("wrk_c1", "aiohttp_c1", "wrk_c32"):
        for side in SIDES:
            reps = rpc.get(f"{client}_{side}", [])
            for key in ("p50_us", "p99_us", "rps", "server_cpu_us"):
                values = [r[key] for r in reps if key in r]
                s[f"{client}_{side}_{key}"] = median(values)
                s[f"{client}_{side}_{key}_range"] = spread(values)
        for key in ("p50_us", "p99_us", "rps", "server_cpu_us"):
            s[f"{client}_ratio_{key}"] = _ratio(s[f"{client}_daemon_{key}"],
                                                s[f"{client}_floor_{key}"])
            # informational: what the EA hop costs by itself, and what our code costs on top
            s[f"{client}_hop_ratio_{key}"] = _ratio(s[f"{client}_hop_{key}"],
                                                    s[f"{client}_floor_{key}"])
            s[f"{client}_daemon_to_hop_{key}"] = _ratio(s[f"{client}_daemon_{key}"],
                                                        s[f"{client}_hop_{key}"])
            # the targets' ratio: the daemon against the lean hop floor (one llhttp edge
            # plus the same hop); and what aiohttp's edge costs over it, whatever our code
            s[f"{client}_daemon_to_lean_{key}"] = _ratio(s[f"{client}_daemon_{key}"],
                                                         s[f"{client}_lean_{key}"])
            s[f"{client}_hop_to_lean_{key}"] = _ratio(s[f"{client}_hop_{key}"],
                                                      s[f"{client}_lean_{key}"])
    s["rpc_daemon_hwm_kib"] = raw["rpc"].get("daemon_memory_kib", {}).get("VmHWM")
    if "dispatch" in raw:
        s["dispatch_us"] = raw["dispatch"]["us_per_call"]
    if "fanout" in raw:
        _summarize_fanout(s, raw["fanout"])
    return s


def _summarize_fanout(s: dict[str, Any], fan: dict[str, Any]) -> None:
    for n, reps in fan["runs"].items():
        lat = [r["latency"] for r in reps]
        tput = [r["throughput"] for r in reps]
        s[f"fanout_{n}_p50_us"] = _med(lat, "p50_us")
        s[f"fanout_{n}_p99_us"] = _med(lat, "p99_us")
        s[f"fanout_{n}_p99_us_range"] = spread([r["p99_us"] for r in lat])
        floor = [r["floor_latency"] for r in reps if "floor_latency" in r]
        s[f"fanout_{n}_floor_p50_us"] = _med(floor, "p50_us")
        s[f"fanout_{n}_floor_p99_us"] = _med(floor, "p99_us")
        s[f"fanout_{n}_floor_p99_us_range"] = spread([r["p99_us"] for r in floor])
        for key in ("p50_us", "p99_us"):
            s[f"fanout_{n}_ratio_{key}"] = _ratio(s[f"fanout_{n}_{key}"],
                                                  s[f"fanout_{n}_floor_{key}"])
        s[f"fanout_{n}_delivered_per_s"] = _med(tput, "delivered_per_s")
        s[f"fanout_{n}_delivered_range"] = spread([r["delivered_per_s"] for r in tput])
        cap = [r["capacity"] for r in reps if "capacity" in r]
        s[f"fanout_{n}_capacity_hz"] = _med(cap, "capacity_hz")
        s[f"fanout_{n}_capacity_delivered_per_s"] = _med(cap, "delivered_per_s")
        s[f"fanout_{n}_capacity_range"] = spread([r["delivered_per_s"] for r in cap])
    iso = fan["isolation"]
    s["isolation_p99_baseline_us"] = iso["baseline"]["p99_us"]
    s["isolation_p99_stalled_us"] = iso["with_stalled"]["p99_us"]
    s["isolation_p99_change"] = iso["p99_change"]
    storm = iso["storm"]
    s["storm_rss_growth_kib"] = storm["rss_kib_growth_second_half"]
    s["storm_rss_max_kib"] = storm["rss_kib_max"]
    s["storm_delivered_per_s"] = storm["subscribers"]["delivered_per_s"]
    s["storm_p99_us"] = storm["subscribers"]["p99_us"]
    s["fanout_daemon_hwm_kib"] = fan["daemon_memory_kib"].get("VmHWM")


#: Storm memory is "bounded" when RSS grows less than this over the storm's second half.
STORM_GROWTH_LIMIT_KIB = 4096


def targets(s: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target: name, the rule, the figure, and met (True/False/None)."""
    def check(name: str, rule: str, value: float | None,
              ok: Callable[[float], bool]) -> dict[str, Any]:
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        return {"target": name, "rule": rule, "value": value,
                "met": None if missing else bool(ok(value))}  # type: ignore[arg-type]

    p99 = s.get("wrk_c1_daemon_p99_us")
    dispatch = s.get("dispatch_us")
    return [
        check("rpc_throughput_lean", "req/s >= 0.6x the lean hop floor (wrk, c=32)",
              s["wrk_c32_daemon_to_lean_rps"], lambda v: v >= 0.6),
        check("rpc_throughput_lean_ambition",
              "req/s >= 0.75x the lean hop floor (wrk, c=32; ambition)",
              s["wrk_c32_daemon_to_lean_rps"], lambda v: v >= 0.75),
        check("rpc_p50_lean", "p50 <= 1.5x the lean hop floor (wrk, c=1)",
              s["wrk_c1_daemon_to_lean_p50_us"], lambda v: v <= 1.5),
        check("rpc_p50_lean_ambition", "p50 <= 1.3x the lean hop floor (wrk, c=1; ambition)",
              s["wrk_c1_daemon_to_lean_p50_us"], lambda v: v <= 1.3),
        check("rpc_p50_wrk", "p50 <= 2.3x HTTP floor (wrk, c=1)", s["wrk_c1_ratio_p50_us"],
              lambda v: v <= 2.3),
        check("rpc_p99_wrk", "p99 <= 3x floor p99 (wrk, c=1)", s["wrk_c1_ratio_p99_us"],
              lambda v: v <= 3.0),
        check("rpc_p99_abs", "p99 < 1 ms (wrk, c=1)", p99, lambda v: v < 1000),
        check("rpc_p50_aiohttp", "p50 <= 1.5x HTTP floor (aiohttp client)",
              s["aiohttp_c1_ratio_p50_us"], lambda v: v <= 1.5),
        check("rpc_throughput", "req/s >= 0.6x HTTP floor (wrk, c=32)",
              s["wrk_c32_ratio_rps"], lambda v: v >= 0.6),
        check("dispatch", "dispatcher overhead <= 5 us/call over minimal",
              dispatch["overhead_us"] if dispatch else None, lambda v: v <= 5),
        check("fanout_100", ">= 100k delivered msgs/s at 100 subscribers (capacity search)",
              s.get("fanout_100_capacity_delivered_per_s"), lambda v: v >= 100_000),
        check("tick_p99_10", "tick latency p99 <= 1 ms at 10 subscribers",
              s.get("fanout_10_p99_us"), lambda v: v <= 1000),
        check("tick_p99_100", "tick latency p99 <= 3 ms at 100 subscribers",
              s.get("fanout_100_p99_us"), lambda v: v <= 3000),
        check("isolation", "a stalled subscriber moves the others' p99 < 20%",
              s.get("isolation_p99_change"), lambda v: v < 0.20),
        check("storm_memory", "RSS growth over the 5k ticks/s storm's 2nd half < 4 MiB",
              s.get("storm_rss_growth_kib"), lambda v: v < STORM_GROWTH_LIMIT_KIB),
    ]


def _f(v: Any, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:,.{digits}f}"


def table(s: dict[str, Any], verdicts: list[dict[str, Any]]) -> str:
    """The printed report (also pasted into docs/performance.md)."""
    lines = ["| measurement | floor | hop floor | lean hop floor | daemon | ratio | "
             "daemon / hop floor | daemon / lean hop floor |",
             "|---|---|---|---|---|---|---|---|"]
    lines.append(f"| TCP echo RTT p50 / p99 (us) | {_f(s['tcp_floor_p50_us'], 1)} / "
                 f"{_f(s['tcp_floor_p99_us'], 1)} | | | | | | |")
    rows = [(c, k, f"/rpc {label} {what}", 1) for c, label in (("wrk_c1", "wrk c=1"),
                                                           ("aiohttp_c1", "aiohttp c=1"))
            for k, what in (("p50_us", "p50 (us)"), ("p99_us", "p99 (us)"))]
    rows += [("wrk_c1", "rps", "/rpc wrk c=1 req/s", 0),
             ("wrk_c32", "rps", "/rpc wrk c=32 req/s", 0),
             ("wrk_c32", "server_cpu_us", "/rpc wrk c=32 server CPU per request (us)", 1)]
    for client, key, label, digits in rows:
        lines.append(f"| {label} | {_f(s[f'{client}_floor_{key}'], digits)} | "
                     f"{_f(s.get(f'{client}_hop_{key}'), digits)} | "
                     f"{_f(s.get(f'{client}_lean_{key}'), digits)} | "
                     f"{_f(s[f'{client}_daemon_{key}'], digits)} | "
                     f"{_f(s[f'{client}_ratio_{key}'], 2)}x | "
                     f"{_f(s.get(f'{client}_daemon_to_hop_{key}'), 2)}x | "
                     f"{_f(s.get(f'{client}_daemon_to_lean_{key}'), 2)}x |")
    d = s.get("dispatch_us")
    if d is not None:
        lines.append(f"| dispatch us/call (minimal / gateway) | "
                     f"{_f(d['minimal'], 2)} | | | {_f(d['gateway'], 2)} | "
                     f"+{_f(d['overhead_us'], 2)} us | | |")
    for n in ("1", "10", "100"):
        if f"fanout_{n}_p50_us" in s:
            lines.append(f"| ticks N={n}: latency p50 / p99 (us) at 200 ticks/s (floor: "
                         f"the fan-out floor) | {_f(s.get(f'fanout_{n}_floor_p50_us'))} / "
                         f"{_f(s.get(f'fanout_{n}_floor_p99_us'))} | | | "
                         f"{_f(s[f'fanout_{n}_p50_us'])} / {_f(s[f'fanout_{n}_p99_us'])} | "
                         f"{_f(s.get(f'fanout_{n}_ratio_p50_us'), 2)}x / "
                         f"{_f(s.get(f'fanout_{n}_ratio_p99_us'), 2)}x | | |")
            lines.append(f"| ticks N={n}: capacity ticks/s, delivered msgs/s there; "
                         f"delivered msgs/s at overload | | | | "
                         f"{_f(s.get(f'fanout_{n}_capacity_hz'))}, "
                         f"{_f(s.get(f'fanout_{n}_capacity_delivered_per_s'))}; "
                         f"{_f(s[f'fanout_{n}_delivered_per_s'])} | | | |")
    if "isolation_p99_change" in s:
        lines.append(f"| stalled subscriber: others' p99 (us) without / with | | | | "
                     f"{_f(s['isolation_p99_baseline_us'])} / "
                     f"{_f(s['isolation_p99_stalled_us'])} | "
                     f"{_f((s['isolation_p99_change'] or 0) * 100, 1)}% | | |")
        lines.append(f"| 5k ticks/s storm + stalled: RSS max, growth 2nd half (KiB) | | | | "
                     f"{_f(s['storm_rss_max_kib'])}, {_f(s['storm_rss_growth_kib'])} | | | |")
    lines.append(f"| daemon peak RSS VmHWM (KiB): /rpc / fan-out | | | | "
                 f"{_f(s['rpc_daemon_hwm_kib'])} / {_f(s.get('fanout_daemon_hwm_kib'))} | | | |")
    lines += ["", "| target | figure | met |", "|---|---|---|"]
    for v in verdicts:
        met = {True: "met", False: "MISSED", None: "not measured"}[v["met"]]
        value = v["value"]
        shown = _f(value, 2) if isinstance(value, float) and abs(value) < 100 else _f(value)
        lines.append(f"| {v['rule']} | {shown} | {met} |")
    return "\n".join(lines)

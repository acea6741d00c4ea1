"""Issue 35 item 6: the Grafana dashboard in ``deploy/grafana/mtgateway.json`` asks only for
metrics the daemon and the console export.

A dashboard whose query names a metric nobody exports shows "No data" forever, which reads as
"nothing happened"; so every panel's expression is checked against what the real processes
answer on ``GET /metrics``: the console, and the daemon (in remote mode against it) with an
emulated terminal connected, a bot's call answered, one refused and a tick streamed.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from gateway.keys import BRIDGE
from tests.e2e.fixtures import WAIT_S
from tests.e2e.world import TERMINAL, world

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "mtgateway.json"

#: The series a family of each type exposes, beside its samples (a labelled family with no
#: child yet has HELP and TYPE lines and no sample).
_SERIES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
           "summary": ("_sum", "_count"), "gaugehistogram": ("_bucket", "_gsum", "_gcount")}
#: What a PromQL expression holds that is not a metric name: strings, label matchers,
#: range selectors, Grafana variables, and the label lists of grouping clauses.
_NOT_NAMES = re.compile(r'"(?:[^"\\]|\\.)*"|\{[^}]*\}|\[[^\]]*\]|\$\{?\w+\}?')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                       "and", "or", "unless", "offset"})


def exported_names(exposition: str) -> set[str]:
    """Every series name a scrape offers: its samples' names, and the names its families'
    types imply (a histogram's ``_bucket``, ``_sum``, ``_count``; a counter's ``_total``)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in _SERIES.get(family.type, ("",)))
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, labels and
    numbers left out)."""
    rest = _GROUPING.sub(" ", _NOT_NAMES.sub(" ", expr))
    return {m.group() for m in _NAME.finditer(rest)
            if m.group() not in _KEYWORDS and not rest[m.end():].lstrip().startswith("(")}


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """``(panel title, expression)`` of every target of every panel, rows' panels included."""
    found: list[tuple[str, str]] = []
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            found += [(inner["title"], t["expr"]) for t in inner.get("targets", ())]
    return found


def unknown_metrics(dashboard: dict[str, Any], exported: set[str]) -> list[str]:
    """``panel: name`` for each metric a query names that no process exports."""
    return [f"{title}: {name}" for title, expr in queries(dashboard)
            for name in sorted(metric_names(expr)) if name not in exported]


async def _scrape(session: aiohttp.ClientSession, url: str, data_dir: Path) -> str:
    """A scrape as Prometheus makes it: with the token the process keeps in its data
    directory (``credentials_file``)."""
    token = (data_dir / "metrics.token").read_text("utf-8").strip()
    async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 200, url
        return await response.text()


async def test_every_dashboard_query_names_a_metric_the_processes_export(
    tmp_path: Path
) -> None:
    """Each metric name in each panel's expression is in the scrape of the real daemon or the
    real console, and the dashboard covers both."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = queries(dashboard)
    assert exprs and all(metric_names(expr) for _, expr in exprs), exprs
    async with world(tmp_path) as w:
        token, _ = await w.issue()
        await w.approve_device(token)
        # BTCUSD trades around the clock in the emulator: a tick comes on any day.
        terminal = EmulatedTerminal(token, port=w.bridge_port,
                                    settings=EmulatorSettings(symbols=("BTCUSD",)))
        task = asyncio.create_task(terminal.run())
        try:
            await w.daemon[BRIDGE].wait_for_terminal(TERMINAL, WAIT_S)
            assert (await w.rpc(token))[0] == 200
            assert (await w.rpc("mtgw_" + "z" * 38))[0] == 401
            async with w.session.ws_connect(f"http://127.0.0.1:{w.http_port}/ws", headers={
                    "Authorization": f"Bearer {token}"}) as ws:
                await ws.send_str('{"jsonrpc":"2.0","id":1,"method":"subscribe","params":'
                                  '{"channel":"ticks","symbols":["BTCUSD"]}}')
                while orjson.loads((await ws.receive(timeout=WAIT_S)).data).get(
                        "method") != "tick":
                    pass  # the subscription's answer, then the first tick
                daemon = exported_names(
                    await _scrape(w.session, f"http://127.0.0.1:{w.http_port}/metrics",
                                  tmp_path / "daemon"))
            console = exported_names(await _scrape(w.session, f"{w.console_url}/metrics",
                                                   tmp_path / "console"))
        finally:
            await terminal.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert unknown_metrics(dashboard, daemon | console) == []
    named = {name for _, expr in exprs for name in metric_names(expr)}
    assert named & daemon and named & console  # panels for both processes
    assert "mtgateway_last_tick_age_seconds" in daemon  # the tick was counted before the scrape


def test_the_check_finds_a_made_up_metric() -> None:
    """Against a real exposition, a query on a histogram's bucket and a counter's total
    passes, and one on a misspelt or made-up name is reported with its panel."""
    registry = CollectorRegistry()
    Counter("mtgateway_rpc_requests", "calls", ["method"], registry=registry)
    Histogram("mtgateway_rpc_request_duration_seconds", "time", registry=registry).observe(0.1)
    Gauge("mtgateway_terminals_connected", "live", registry=registry).set(1)
    exported = exported_names(generate_latest(registry).decode())
    good = {"panels": [{"title": "ok", "targets": [
        {"expr": 'histogram_quantile(0.99, sum by (le) (rate('
                 'mtgateway_rpc_request_duration_seconds_bucket{job="x"}[$__rate_interval])))'},
        {"expr": "sum by (method) (rate(mtgateway_rpc_requests_total[5m])) / "
                 "sum(mtgateway_terminals_connected) * 1e3"}]}]}
    assert unknown_metrics(good, exported) == []
    bad = copy.deepcopy(good)
    bad["panels"].append({"type": "row", "title": "row", "panels": [{"title": "typo", "targets": [
        {"expr": "rate(mtgateway_rpc_request_total[5m])"},
        {"expr": "sum(mtgateway_made_up_seconds) by (reason)"}]}]})
    assert unknown_metrics(bad, exported) == [
        "typo: mtgateway_rpc_request_total", "typo: mtgateway_made_up_seconds"]
    real = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    real["panels"][-1]["targets"].append({"expr": "max(mtgateway_not_exported)"})
    assert f"{real['panels'][-1]['title']}: mtgateway_not_exported" in unknown_metrics(
        real, exported_names(generate_latest(CollectorRegistry()).decode()))

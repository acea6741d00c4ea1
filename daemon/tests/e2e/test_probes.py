"""Issue 23 item 1: `GET /ready` reflects the EA, the token record and the last tick; `GET
/metrics` is scraped as Prometheus scrapes it (the real daemon, emulator and sockets)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ea_bridge.connection import Welcomed
from gateway.auth import generate_token
from mtgateway_base.scrape import scrape_token
from tests.bridgekit import ScriptedEA
from tests.e2e.clocks import WEDNESDAY_MS, SteppedClock
from tests.e2e.fixtures import TERMINAL, WAIT_S, Daemon, connected_terminal, running_daemon

SATURDAY_MS = int(datetime(2026, 11, 21, 14, 0, tzinfo=UTC).timestamp() * 1000)
BUY: dict[str, Any] = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY",
                       "symbol": "EURUSD", "volume": 0.1}


async def _get(daemon: Daemon, path: str) -> tuple[int, str, str]:
    """``path`` as Prometheus asks it (with the scrape token)."""
    async with daemon.session.get(f"http://127.0.0.1:{daemon.http_port}{path}",
                                  headers=daemon.scrape_headers()) as response:
        return response.status, response.headers["Content-Type"], await response.text()


async def _ready(daemon: Daemon) -> tuple[int, dict[str, Any]]:
    """``/ready`` with its details (the scrape token)."""
    async with daemon.session.get(f"http://127.0.0.1:{daemon.http_port}/ready",
                                  headers=daemon.scrape_headers()) as response:
        return response.status, await response.json()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_ready_follows_the_ea_and_the_token_record(daemon: Daemon) -> None:
    """No EA: 503 saying so (while /health stays 200); an EA live with a fresh record: 200;
    the record gone stale (the authority not heard from): 503 naming it; the EA gone: 503."""
    status, body = await _ready(daemon)
    assert (status, body["status"], body["ea_connected"]) == (503, "not_ready", 0)
    assert body["problems"] == ["no EA is connected"]
    assert (await _get(daemon, "/health"))[0] == 200
    async with connected_terminal(daemon, symbols=("EURUSD",),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)):
        status, body = await _ready(daemon)
        assert (status, body["status"], body["ea_connected"], body["records_fresh"]) == (
            200, "ready", 1, 1), body
        assert body["problems"] == []
        daemon.clock.advance(3600)  # an hour without a refresh: the record is stale
        status, body = await _ready(daemon)
        assert status == 503 and body["records_fresh"] == 0
        assert "stale" in body["problems"][0]
        assert await daemon.cache.refresh_once()
        assert (await _ready(daemon))[0] == 200
    await daemon.bridge.wait_for_terminal_down(TERMINAL, WAIT_S)
    assert (await _ready(daemon))[0] == 503


async def test_ready_can_require_a_recent_tick(tmp_path: Path) -> None:
    """With ready_max_tick_age_s set, a terminal whose only symbol is closed (a Saturday's
    EURUSD) is not ready for want of ticks; one with ticks (a Wednesday) is."""
    async with running_daemon(tmp_path / "sat", ready_max_tick_age_s=5.0) as daemon:
        async with connected_terminal(daemon, symbols=("EURUSD",),
                                      utc_clock_ms=SteppedClock(SATURDAY_MS)):
            status, body = await _ready(daemon)
            assert status == 503 and body["problems"] == ["no tick in the last 5 s"], body
            assert body["last_tick_age_s"] is None
    async with running_daemon(tmp_path / "wed", ready_max_tick_age_s=5.0) as daemon:
        async with connected_terminal(daemon, symbols=("EURUSD",), tick_rate_hz=50,
                                      utc_clock_ms=SteppedClock(WEDNESDAY_MS)):
            await _first_tick(daemon)
            status, body = await _ready(daemon)
            assert status == 200 and 0 <= body["last_tick_age_s"] <= 5, body


async def _first_tick(daemon: Daemon) -> None:
    """Until the daemon has a tick (a streaming subscription delivers the first)."""
    async with daemon.session.ws_connect(
            f"ws://127.0.0.1:{daemon.http_port}/ws",
            headers={"Authorization": f"Bearer {daemon.token}"}) as ws:
        await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "subscribe",
                            "params": {"channel": "ticks", "symbols": ["EURUSD"]}})
        async for msg in ws:
            assert msg.type == aiohttp.WSMsgType.TEXT
            if '"method":"tick"' in msg.data:
                return


async def test_metrics_count_calls_refusals_sessions_and_orders(daemon: Daemon) -> None:
    """After an ok call, a bad-params call, an unknown method, a bad token, a risk-free order
    and an EA reconnect, the scrape holds each count with its labels, and nothing secret."""
    clock = SteppedClock(WEDNESDAY_MS)
    async with connected_terminal(daemon, symbols=("EURUSD",), utc_clock_ms=clock):
        assert "result" in await daemon.call("account_info")
        assert (await daemon.call("symbol_info", {"symbol": 5}))["error"]["code"] == -32602
        typo = (await daemon.call("acount_info"))["error"]
        assert (typo["code"], typo["message"]) == (
            -32601, "Method not found; did you mean account_info?")  # m17 (review round 4)
        sent = await daemon.call("order_send", {"request": {**BUY, "client_id": "m-1"}})
        assert sent["result"]["retcode"] == 10009
    async with connected_terminal(daemon, symbols=("EURUSD",), utc_clock_ms=clock):
        pass
    async with daemon.session.post(daemon.rpc_url, json={"jsonrpc": "2.0", "id": 1,
                                                         "method": "ping"},
                                   headers={"Authorization": f"Bearer {generate_token()}"}) as r:
        assert r.status == 401
    status, content_type, text = await _get(daemon, "/metrics")
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    assert "_created" not in text  # m20 (review round 4): no creation-time series
    samples = _samples(text)
    assert samples[("mtgateway_rpc_requests_total",
                    (("method", "account_info"), ("outcome", "ok")))] == 1
    assert samples[("mtgateway_rpc_requests_total",
                    (("method", "symbol_info"), ("outcome", "-32602")))] == 1
    assert samples[("mtgateway_rpc_requests_total",
                    (("method", "unknown"), ("outcome", "-32601")))] == 1
    assert samples[("mtgateway_rpc_request_duration_seconds_count",
                    (("method", "order_send"),))] == 1
    assert samples[("mtgateway_refusals_total", (("reason", "auth_invalid_token"),))] == 1
    assert samples[("mtgateway_ea_sessions_total", ())] == 2
    assert sum(v for (name, _), v in samples.items()
               if name == "mtgateway_ea_disconnects_total") == 2
    assert samples[("mtgateway_orders_total", (("state", "ACCEPTED"),))] == 1
    assert samples[("mtgateway_orders_total", (("state", "REJECTED"),))] == 0
    assert samples[("mtgateway_terminals_connected", ())] == 0
    assert ("mtgateway_stream_subscribers", ()) in samples
    assert daemon.token not in text and "5012345" not in text and "m-1" not in text
    # a second scrape counts the same orders once (the trail is read from where it stopped)
    assert _samples((await _get(daemon, "/metrics"))[2])[
        ("mtgateway_orders_total", (("state", "ACCEPTED"),))] == 1


@pytest.mark.network_edge  # a /ws client: run on uvloop and asyncio's loop
async def test_metrics_label_websocket_only_methods_by_name(daemon: Daemon) -> None:
    """subscribe, unsubscribe and authenticate exist only on /ws; their calls are counted under
    their own names, while a method no table knows still counts as ``unknown`` (bounded labels)."""
    async with daemon.session.ws_connect(
            f"ws://127.0.0.1:{daemon.http_port}/ws",
            headers={"Authorization": f"Bearer {daemon.token}"}) as ws:
        answers: dict[int, dict[str, Any]] = {}

        async def call(rid: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
            await ws.send_json({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
            while rid not in answers:
                message = await ws.receive_json(timeout=WAIT_S)
                if "id" in message:
                    answers[message["id"]] = message
            return answers[rid]

        sub = await call(1, "subscribe", {"channel": "trades"})
        subscription = sub["result"]["subscription"]
        assert (await call(2, "unsubscribe", {"subscription": subscription}))["result"] is True
        await call(3, "authenticate", {"token": daemon.token})
        assert (await call(4, "subscribe_all", {}))["error"]["code"] == -32601
    samples = _samples((await _get(daemon, "/metrics"))[2])
    assert samples[("mtgateway_rpc_requests_total",
                    (("method", "subscribe"), ("outcome", "ok")))] == 1
    assert samples[("mtgateway_rpc_requests_total",
                    (("method", "unsubscribe"), ("outcome", "ok")))] == 1
    assert sum(v for (name, labels), v in samples.items()
               if name == "mtgateway_rpc_requests_total"
               and ("method", "authenticate") in labels) == 1
    assert samples[("mtgateway_rpc_requests_total",
                    (("method", "unknown"), ("outcome", "-32601")))] == 1
    assert not any(("method", "subscribe_all") in labels for _, labels in samples)


async def test_an_eas_bye_reason_is_no_label_value(daemon: Daemon) -> None:
    """Round-4 T4-F8: EA sessions ending with a `bye` of any reason they choose are counted
    under `other`; only the protocol's words (here `shutting_down`) are label values. Before,
    each reason became a new series (300 sessions: 600 series)."""
    reasons = ["reason-1-" + "x" * 60, "reason-2", 'quote"and\\slash', "shutting_down"]
    for reason in reasons:
        ea = ScriptedEA(daemon.token, login=TERMINAL.login, server=TERMINAL.server)
        try:
            assert isinstance(await ea.connect(daemon.bridge.port), Welcomed)
            await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
            ea.conn.send_bye(reason, "going")
            ea.flush()
            await daemon.bridge.wait_for_terminal_down(TERMINAL, WAIT_S)
        finally:
            await ea.close()
    samples = _samples((await _get(daemon, "/metrics"))[2])
    ends = {dict(labels)["reason"]: value for (name, labels), value in samples.items()
            if name == "mtgateway_ea_disconnects_total"}
    assert ends == {"other": 3, "shutting_down": 1}


@pytest.mark.network_edge  # a raw /metrics and /ready on both edges' port
@pytest.mark.parametrize("rpc_edge", ["llhttp", "aiohttp"])
async def test_a_metrics_token_guards_metrics_and_ready(tmp_path: Path, rpc_edge: str) -> None:
    """Round-4 T4-F9: `/metrics` and `/ready` told any local user when and how much the owner
    trades and when the EA is down. With `[server] metrics_token` set `/metrics` answers only
    a request carrying it as a Bearer token (401, `WWW-Authenticate: Bearer`, the token never
    echoed) and `/ready` answers anyone else its status word alone; `/health` stays open; a
    bot's token is not the metrics token."""
    token = "metrics-" + "k" * 24
    async with running_daemon(tmp_path, rpc_edge=rpc_edge, metrics_token=token) as daemon:
        base = f"http://127.0.0.1:{daemon.http_port}"
        for path in ("/metrics", "/ready"):
            for headers in ({}, {"Authorization": "Bearer wrong-metrics-token-000"},
                            {"Authorization": f"Bearer {daemon.token}"},
                            {"Authorization": token}):
                async with daemon.session.get(base + path, headers=headers) as r:
                    if path == "/ready":  # a watchdog's answer: the status word only
                        assert (r.status, await r.json()) == (503, {"status": "not_ready"})
                        continue
                    assert r.status == 401, (path, headers)
                    assert r.headers["WWW-Authenticate"].startswith("Bearer")
                    assert token not in await r.text()
            async with daemon.session.get(base + path,
                                          headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == (200 if path == "/metrics" else 503)  # no EA: not ready
                assert "mtgateway_rpc_requests" in await r.text() or path == "/ready"
        assert (await _get(daemon, "/health"))[0] == 200


async def test_by_default_metrics_and_readys_details_ask_for_the_token_file(
        tmp_path: Path) -> None:
    """Review round 5 (T4-F9 was opt-in): with no `[server] metrics_token`, `/metrics` and
    `/ready` told every local user the owner's order counts, token refusals and when the EA
    was down. Now the daemon makes a random token in `<data_dir>/metrics.token` (0600, kept
    across restarts) and `/metrics` asks for it as a Bearer token (what Prometheus's
    `credentials_file` sends); `/ready` answers anyone the status alone (a watchdog's
    200/503), and its details only with the token. `metrics_open = true` is the old way."""
    async with running_daemon(tmp_path / "guarded") as daemon:
        base = f"http://127.0.0.1:{daemon.http_port}"
        path = tmp_path / "guarded" / "metrics.token"
        token = path.read_text("utf-8").strip()
        assert len(token) >= 32 and (os.name == "nt" or path.stat().st_mode & 0o077 == 0)
        async with daemon.session.get(base + "/metrics") as r:
            assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
            assert "mtgateway_" not in await r.text()
        async with daemon.session.get(base + "/metrics",
                                      headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 200 and "mtgateway_rpc_requests" in await r.text()
        async with daemon.session.get(base + "/ready") as r:
            assert (r.status, await r.json()) == (503, {"status": "not_ready"})
        async with daemon.session.get(base + "/ready",
                                      headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 503 and (await r.json())["problems"] == ["no EA is connected"]
    assert scrape_token("", False, tmp_path / "guarded") == token  # the next start's
    async with running_daemon(tmp_path / "open", metrics_open=True) as opened:
        assert (await _get(opened, "/metrics"))[0] == 200
        assert "problems" in (await _ready(opened))[1]
        assert not (tmp_path / "open" / "metrics.token").exists()

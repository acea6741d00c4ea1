"""The OpenRPC document: valid against the OpenRPC meta-schema, served by ``rpc.discover``,
shipped as a file, matching docs/api.md, and telling the truth about real answers."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
from pydantic import TypeAdapter
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from ea_bridge.emulator.terminal import EmulatedTerminal
from gateway.hub import Channel
from gateway.methods import method_table
from gateway.openrpc import NOTIFICATIONS, WS_METHODS, build_document, undocumented
from mtgateway_console.service import AccountRegistration
from tests.e2e.fixtures import LOGIN, OWNER, SERVER, WAIT_S, Daemon, connected_terminal
from tests.e2e.wskit import connect

ROOT = Path(__file__).resolve().parents[3]
OPENRPC_DIR = ROOT / "docs" / "openrpc"


def meta_validator() -> jsonschema.Draft7Validator:
    """The OpenRPC meta-schema (``@open-rpc/meta-schema`` 1.14.9) with the JSON Schema
    meta-schema it refers to, both shipped in docs/openrpc/ (no network)."""
    meta = json.loads((OPENRPC_DIR / "meta-schema.json").read_text(encoding="utf-8"))
    tools = json.loads((OPENRPC_DIR / "json-schema-tools-meta-schema.json").read_text(
        encoding="utf-8"))
    resource = Resource.from_contents(tools, default_specification=DRAFT7)
    registry: Registry[Any] = Registry().with_resources(
        [("https://meta.json-schema.tools", resource),
         ("https://meta.json-schema.tools/", resource)])
    return jsonschema.Draft7Validator(meta, registry=registry)


def test_the_document_is_valid_openrpc() -> None:
    """The generated document has no error against the OpenRPC meta-schema, and the check
    is real: a method without params, a param that is not a content descriptor, or an
    unknown top-level field fails."""
    document = build_document(method_table())
    validator = meta_validator()
    assert [e.message for e in validator.iter_errors(document)] == []
    broken = copy.deepcopy(document)
    del broken["methods"][0]["params"]
    assert list(validator.iter_errors(broken))
    assert list(validator.iter_errors({**document, "surprise": 1}))
    broken = copy.deepcopy(document)
    broken["methods"][8]["params"] = [{"required": True}]
    assert list(validator.iter_errors(broken))


def test_no_schema_takes_the_place_of_another_of_its_name() -> None:
    """``order_check``'s request is the params model (a position of 0, "none", or more;
    nothing required but the action), and its result's echoed request is the MT5 record, each
    under its own component: before, the record replaced the params model under
    ``TradeRequest`` (found by daemon/tests/e2e/test_fuzz_rpc.py, which sent the record's
    position 0, then refused)."""
    document = build_document(method_table())
    schemas = document["components"]["schemas"]
    check = next(m for m in document["methods"] if m["name"] == "order_check")
    asked = schemas[check["params"][0]["schema"]["$ref"].rsplit("/", 1)[1]]
    assert asked["required"] == ["action"]
    assert asked["properties"]["position"]["anyOf"][0]["minimum"] == 0
    echoed = schemas["OrderCheckResult"]["properties"]["request"]["$ref"].rsplit("/", 1)[1]
    assert echoed != check["params"][0]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "position" in schemas[echoed]["required"]


def test_the_shipped_file_is_the_generated_document() -> None:
    """docs/openrpc/mtgateway.json equals what the code generates (regenerate it with
    ``python -m gateway.openrpc > docs/openrpc/mtgateway.json``)."""
    shipped = json.loads((OPENRPC_DIR / "mtgateway.json").read_text(encoding="utf-8"))
    assert shipped == build_document(method_table())


def test_every_method_is_described_and_none_invented() -> None:
    """The document lists exactly the method table plus the WebSocket's methods, each with its
    params and result described (a new method's row in its room registers its result)."""
    document = build_document(method_table())
    names = [m["name"] for m in document["methods"]]
    assert sorted(names) == sorted(set(method_table()) | set(WS_METHODS))
    assert len(names) == len(set(names))
    assert undocumented(method_table()) == []
    assert not [m["name"] for m in document["methods"] if m.get("x-undocumented")]
    # registered without a result model
    table = {**method_table(), "no_such_method": dataclasses.replace(method_table()["ping"],
                                                                     result=None)}
    assert undocumented(table) == ["no_such_method"]
    marked = [m for m in build_document(table)["methods"] if m.get("x-undocumented")]
    assert [m["name"] for m in marked] == ["no_such_method"]
    assert not list(meta_validator().iter_errors(build_document(table)))


def test_api_md_lists_the_documents_methods_and_params() -> None:
    """docs/api.md's method table names every method with its params in positional order."""
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = text.split("## Methods", 1)[1].split("\n## ", 1)[0]
    listed = {m.group(1): [p.strip() for p in m.group(2).split(",") if p.strip() != "—"]
              for m in re.finditer(r"^\| `([a-z_.]+)` \| ([^|]*) \|", section, re.M)}
    documented = {m["name"]: [p["name"] + ("" if p["required"] else "?") for p in m["params"]]
                  for m in build_document(method_table())["methods"]}
    assert listed == documented


async def test_rpc_discover_answers_the_document(daemon: Daemon) -> None:
    """`rpc.discover` over /rpc answers the document, without a terminal connected."""
    reply = await daemon.call("rpc.discover")
    assert reply["result"] == json.loads(json.dumps(build_document(method_table())))


def _check(method: str, result: Any) -> None:
    TypeAdapter(method_table()[method].result).validate_python(result, strict=False)


async def test_real_answers_match_the_result_models(daemon: Daemon,
                                                    emulator: EmulatedTerminal) -> None:
    """Every method's answer from the real daemon and emulated terminal validates against its
    documented result model (closed models: a field added or missing fails)."""
    calls: list[tuple[str, Any]] = [
        ("ping", None), ("version", None), ("terminal_info", None), ("account_info", None),
        ("get_account_info", None), ("server_time", None), ("gateway_status", None),
        ("symbols_total", None), ("symbols_get", {"group": "*USD*"}),
        ("symbol_info", ["BTCUSD"]), ("symbol_info_tick", ["BTCUSD"]),
        ("symbol_select", ["BTCUSD", True]),
        ("market_book_add", ["BTCUSD"]), ("market_book_get", ["BTCUSD"]),
        ("market_book_release", ["BTCUSD"]),
        ("copy_rates_from", ["BTCUSD", "TIMEFRAME_M1", 1_800_000_000, 3]),
        ("copy_rates_from_pos", ["BTCUSD", "TIMEFRAME_H1", 0, 3]),
        ("copy_rates_range", ["BTCUSD", "TIMEFRAME_M1", 1_700_000_000, 1_700_000_600]),
        ("copy_ticks_from", ["BTCUSD", 1_700_000_000, 3, "COPY_TICKS_ALL"]),
        ("copy_ticks_range", ["BTCUSD", 1_700_000_000, 1_700_000_010, "COPY_TICKS_ALL"]),
        ("order_calc_margin", ["ORDER_TYPE_BUY", "BTCUSD", 0.01, 100_000.0]),
        ("order_calc_profit", ["ORDER_TYPE_BUY", "BTCUSD", 0.01, 100_000.0, 100_100.0]),
        ("order_check", {"request": {"action": 1, "symbol": "BTCUSD", "volume": 0.01,
                                     "type": 0}}),
        ("order_send", {"request": {"action": 1, "symbol": "BTCUSD", "volume": 0.01,
                                    "type": 0, "client_id": "openrpc-1"}}),
        ("order_status", ["openrpc-1"]),
        ("orders_total", None), ("orders_get", None), ("positions_total", None),
        ("positions_get", None), ("history_orders_total", [0, 4_000_000_000]),
        ("history_orders_get", [0, 4_000_000_000]), ("history_deals_total", [0, 4_000_000_000]),
        ("history_deals_get", [0, 4_000_000_000]),
    ]
    for method, params in calls:
        reply = await daemon.call(method, params)
        assert "result" in reply, (method, reply)
        _check(method, reply["result"])
    positions = (await daemon.call("positions_get"))["result"]
    assert positions, "the trade left a position, so positions_get was checked on one"
    pending = await daemon.call("order_send", {"request": {
        "action": "TRADE_ACTION_PENDING", "symbol": "BTCUSD", "volume": 0.01,
        "type": "ORDER_TYPE_BUY_LIMIT", "price": 1000.0}})
    assert pending["result"]["retcode"] == 10009, pending
    orders = (await daemon.call("orders_get"))["result"]
    assert orders
    _check("orders_get", orders)
    called = {name for name, _ in calls} | await _call_conveniences(daemon)
    assert called == set(method_table())


async def _call_conveniences(daemon: Daemon) -> set[str]:
    """Each MetaApi-named convenience once, its answer checked; the names called."""
    called: set[str] = set()

    async def ok(method: str, params: Any) -> dict[str, Any]:
        reply = await daemon.call(method, params)
        assert "result" in reply, (method, reply)
        _check(method, reply["result"])
        called.add(method)
        result: dict[str, Any] = reply["result"]
        return result

    tick = (await daemon.call("symbol_info_tick", ["BTCUSD"]))["result"]
    buy = await ok("create_market_buy_order", ["BTCUSD", 0.02])
    sell = await ok("create_market_sell_order", ["BTCUSD", 0.01])
    await ok("modify_position", {"position_id": buy["order"],
                                 "stop_loss": round(tick["bid"] * 0.9, 2),
                                 "take_profit": round(tick["ask"] * 1.1, 2)})
    await ok("close_position_partially", {"position_id": buy["order"], "volume": 0.01})
    await ok("close_by", {"position_id": buy["order"], "opposite_position_id": sell["order"]})
    other = await ok("create_market_buy_order", ["BTCUSD", 0.01])
    await ok("close_position", {"position_id": other["order"]})
    low, high = round(tick["bid"] * 0.5, 2), round(tick["ask"] * 1.5, 2)
    limit_buy = await ok("create_limit_buy_order", ["BTCUSD", 0.01, low])
    limit_sell = await ok("create_limit_sell_order", ["BTCUSD", 0.01, high])
    await ok("create_stop_buy_order", ["BTCUSD", 0.01, high])
    await ok("create_stop_sell_order", ["BTCUSD", 0.01, low])
    await ok("create_stop_limit_buy_order", ["BTCUSD", 0.01, high, round(high * 0.99, 2)])
    await ok("create_stop_limit_sell_order", ["BTCUSD", 0.01, low, round(low * 1.01, 2)])
    await ok("modify_order", {"order_id": limit_buy["order"], "open_price": round(low * 1.01, 2)})
    await ok("cancel_order", {"order_id": limit_sell["order"]})
    await ok("create_market_buy_order", ["BTCUSD", 0.01])
    closed = await ok("close_positions_by_symbol", ["BTCUSD"])
    assert closed["results"]
    return called


async def test_websocket_answers_match_their_models(daemon: Daemon,
                                                    emulator: EmulatedTerminal) -> None:
    """authenticate, subscribe and unsubscribe answer as documented."""
    async with aiohttp.ClientSession() as session, \
            session.ws_connect(f"ws://127.0.0.1:{daemon.http_port}/ws") as ws:
        answers = []
        for rid, method, params in (
                (1, "authenticate", {"token": daemon.token}),
                (2, "subscribe", {"channel": "terminal"})):
            await ws.send_json({"jsonrpc": "2.0", "id": rid, "method": method,
                                "params": params})
            while True:
                message = await ws.receive_json(timeout=WAIT_S)
                if message.get("id") == rid:
                    answers.append(message["result"])
                    break
        await ws.send_json({"jsonrpc": "2.0", "id": 3, "method": "unsubscribe",
                            "params": {"subscription": answers[1]["subscription"]}})
        while (message := await ws.receive_json(timeout=WAIT_S)).get("id") != 3:
            pass
        answers.append(message["result"])
    for (name, spec), answer in zip(WS_METHODS.items(), (answers[1], answers[2], answers[0]),
                                    strict=True):
        TypeAdapter(spec.result).validate_python(answer)
        assert name in ("subscribe", "unsubscribe", "authenticate")


def test_the_subscribe_channels_are_the_hubs() -> None:
    """The document's ``subscribe`` channel enum is exactly what the hub accepts."""
    document = build_document(method_table())
    subscribe = next(m for m in document["methods"] if m["name"] == "subscribe")
    channel = next(p for p in subscribe["params"] if p["name"] == "channel")
    assert channel["schema"]["enum"] == [c.value for c in Channel]


async def test_notifications_match_their_models(daemon: Daemon,
                                                emulator: EmulatedTerminal) -> None:
    """Every notification a real daemon streams from the emulated terminal (a tick, a book,
    the terminal's state, a trade event, a candle snapshot and a candle, and a trade event
    carrying each kind of record) validates against the model ``rpc.discover`` documents for
    it, which is built from the client's stream record: a field added or missing on either
    side fails."""
    async with connect(daemon) as ws:
        await ws.result("market_book_add", ["BTCUSD"])
        for params in ({"channel": "ticks", "symbols": ["BTCUSD"]},
                       {"channel": "book", "symbols": ["BTCUSD"]}, {"channel": "terminal"},
                       {"channel": "trades"},
                       {"channel": "candles", "symbol": "BTCUSD", "timeframe": "TIMEFRAME_M1",
                        "count": 2}):
            await ws.result("subscribe", params)
        await ws.result("order_send", {"request": {"action": 1, "symbol": "BTCUSD",
                                                   "volume": 0.01, "type": 0}})
        await ws.result("order_send", {"request": {
            "action": "TRADE_ACTION_PENDING", "symbol": "BTCUSD", "volume": 0.01,
            "type": "ORDER_TYPE_BUY_LIMIT", "price": 1000.0}})
        seen: set[str] = set()
        records: set[str] = set()
        async with asyncio.timeout(WAIT_S):
            while not (seen >= set(NOTIFICATIONS)
                       and records == {"order", "deal", "position", "account"}):
                note = ws.notes.popleft() if ws.notes else await ws.receive()
                method, params = note["method"], note["params"]
                NOTIFICATIONS[method].model_validate(params, strict=True)
                seen.add(method)
                records |= {name for name in ("order", "position", "deal", "account")
                            if method == "trade_event" and name in params}


async def test_paper_answers_and_events_match_their_models(daemon: Daemon) -> None:
    """A paper account's answers (each record with ``"paper": true``) and its paper book's
    trade events (marked the same) validate against the documented models, which say what
    ``paper`` is: the models were closed to it, so every paper answer failed them."""
    await daemon.authority.accounts.register(OWNER, AccountRegistration(
        name="Paper", broker="Sim", login=LOGIN, password="mt5-secret", server=SERVER,
        max_lot_size=Decimal("10"), risk_pct=Decimal("1"), paper_trade_enabled=True))
    await daemon.cache.refresh_once()
    async with connected_terminal(daemon, symbols=("BTCUSD",)), connect(daemon) as ws:
        await ws.result("subscribe", {"channel": "trades"})
        buy = {"action": 1, "symbol": "BTCUSD", "volume": 0.01, "type": 0}
        answers = {"order_check": await ws.result("order_check", {"request": buy}),
                   "order_send": await ws.result("order_send", {"request": buy})}
        pending = await ws.result("order_send", {"request": {
            **buy, "action": 5, "type": 2, "price": 1000.0}})
        for method, params in (("account_info", None), ("positions_get", None),
                               ("orders_get", None), ("history_orders_get", [0, 4 * 10**9]),
                               ("history_deals_get", [0, 4 * 10**9])):
            answers[method] = await ws.result(method, params)
        for method, answer in answers.items():
            records = answer if isinstance(answer, list) else [answer]
            assert records and all(r["paper"] is True for r in records), (method, answer)
            _check(method, answer)
        assert pending["retcode"] == 10009 and pending["paper"] is True
        records: set[str] = set()
        async with asyncio.timeout(WAIT_S):
            while records != {"order", "deal", "position", "account"}:
                event = await ws.note("trade_event")
                NOTIFICATIONS["trade_event"].model_validate(event, strict=True)
                assert event["paper"] is True
                records |= {name for name in ("order", "position", "deal", "account")
                            if name in event}

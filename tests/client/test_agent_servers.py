"""Agent servers written for the ``MetaTrader5`` package trade on ``mtgateway``, unchanged,
driven over their stdio MCP protocol as an agent host drives them (``mcpkit.py``).

Five MCP servers nobody here wrote, each spawned by its own command from one environment
made on first use (``third_party_agents.txt``: every file pinned by hash, the client and the
``mtgateway-metatrader5`` distribution standing in for ``MetaTrader5``, as docs/client.md
says), against one ``mtgateway demo`` shared by the module. Each trades a cycle on BTCUSD (it
trades every day) through its own tools: a market order, its stops modified, part of it
closed, a pending order placed, modified and cancelled, the position closed, the history
read. Where a server has no tool for a step, its test says so:

* **meta-trader-mcp** 1.2.2 (``serve --mode windows-native --enable-trading``);
* **metatrader5-mcp** 1.0.0 (its raw ``mt5_order_send`` tool, as its docs tell an agent);
* **mcp-metatrader5-server** 0.1.7 (``mt5mcp``: its request model has no ``position`` or
  ``order``, so it cannot modify, close or cancel; its history tools pass ``symbol=``, which
  the package answers ``None`` and the tool shows as ``[]``);
* **mt5-mcp-server** 0.6.1 (``metatrader-mcp-server --transport stdio``; no partial close);
* **yugen-mt5-mcp** 1.0.3 (its allow-list and live-trading switch set by its variables).

After each test the demo account is left flat, so one server's failure cannot become another's.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import mtgateway
from tests.client.mcpkit import McpServer, ToolAnswer
from tests.client.thirdpartykit import agents_python, package_environment, versions_in
from tests.e2e.conftest import LOGIN, SERVER, WAIT_S, demo_process

pytestmark = [
    pytest.mark.not_on_windows("third-party"),
    # the first test makes the servers' environment from the package index (minutes on a cold
    # machine), beyond the suite's 60 s per test; each tool call is bounded by the host
    pytest.mark.timeout(900),
]

#: The versions ``third_party_agents.txt`` pins.
PINNED = {"meta-trader-mcp": "1.2.2", "metatrader5-mcp": "1.0.0",
          "mcp-metatrader5-server": "0.1.7", "mt5-mcp-server": "0.6.1",
          "yugen-mt5-mcp": "1.0.3"}
SYMBOL = "BTCUSD"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One `mtgateway demo` process on free ports for the module; its state file."""
    state_file = tmp_path_factory.mktemp("agent-servers-demo") / "demo.json"
    with demo_process(state_file):
        yield state_file


@pytest.fixture(scope="module")
def bin_dir() -> Path:
    """The agent servers' environment's scripts directory, the environment made on first use
    (a few minutes from the package index on a cold machine)."""
    python = agents_python(Path(sys.prefix) / "test-environments")
    assert versions_in(python, *PINNED) == PINNED
    return python.parent


@pytest.fixture(autouse=True)
def flat_account(demo: Path) -> Iterator[None]:
    """The demo account with no position and no pending order after the test."""
    yield
    with mtgateway.Client() as client:
        assert client.initialize(state_file=demo), client.last_error()
        for order in client.orders_get() or ():
            client.order_send({"action": mtgateway.TRADE_ACTION_REMOVE, "order": order.ticket})
        for position in client.positions_get() or ():
            client.order_send({"action": mtgateway.TRADE_ACTION_DEAL, "symbol": position.symbol,
                               "volume": position.volume, "position": position.ticket,
                               "type": 1 - position.type})
        assert (client.positions_total(), client.orders_total()) == (0, 0)


def serve(argv: list[str | Path], demo: Path, tmp_path: Path, **env: str) -> McpServer:
    """The server ``argv`` as an agent host starts it, in the environment of a program
    written for the package (``initialize()`` finds the demo)."""
    return McpServer(argv, env=package_environment(demo, **env), cwd=tmp_path,
                     timeout_s=WAIT_S * 6)


def ok(answer: ToolAnswer) -> Any:
    """The answer's data, after checking it reports no failure in any of the servers' ways:
    the protocol's ``isError``, ``{"error": true}``, ``{"success": false}``, a status of
    FAILED or ERROR."""
    assert not answer.is_error, answer.text
    data = answer.data
    if isinstance(data, dict):
        assert data.get("error") not in (True,) and data.get("success") is not False, data
        assert str(data.get("status", "")).upper() not in ("FAILED", "ERROR"), data
    return data


def quote() -> tuple[float, float]:
    """BTCUSD's bid and ask now, read through the client."""
    tick = mtgateway.symbol_info_tick(SYMBOL)
    assert tick is not None, mtgateway.last_error()
    return tick.bid, tick.ask


def account(demo: Path) -> mtgateway.Client:
    client = mtgateway.Client()
    assert client.initialize(state_file=demo), client.last_error()
    return client


def test_the_pinned_versions_are_installed(bin_dir: Path) -> None:
    """The servers are the pinned releases, each with its command."""
    for command in ("meta-trader-mcp", "metatrader5-mcp", "mt5mcp", "metatrader-mcp-server",
                    "yugen-mt5-mcp"):
        assert (bin_dir / command).is_file(), command


def test_meta_trader_mcp_trades_a_cycle(demo: Path, tmp_path: Path, bin_dir: Path) -> None:
    """meta-trader-mcp 1.2.2: a market buy, SL/TP, a partial close, a buy limit placed
    (reported SUCCESS: its test is retcode 10009), modified and cancelled, the close, the
    position's deals in its history."""
    assert mtgateway.initialize(state_file=demo)
    argv = [bin_dir / "meta-trader-mcp", "serve", "--mode", "windows-native",
            "--enable-trading"]
    with serve(argv, demo, tmp_path) as server, account(demo) as client:
        assert len(server.tools) > 100
        assert ok(server.call("get_account_info"))["login"] == LOGIN
        bid, ask = quote()
        bought = ok(server.call("place_market_order", symbol=SYMBOL, volume=0.02, action="BUY"))
        ticket = bought["ticket"]
        ok(server.call("modify_position", ticket=ticket, sl=round(bid * 0.95, 2),
                       tp=round(ask * 1.05, 2)))
        ok(server.call("close_position", ticket=ticket, volume=0.01))
        (position,) = client.positions_get(ticket=ticket) or ()
        assert (position.volume, position.sl) == (0.01, round(bid * 0.95, 2))
        placed = ok(server.call("place_pending_order", symbol=SYMBOL, volume=0.01,
                                action="BUY", price=round(ask * 0.9, 2), order_type="LIMIT"))
        ok(server.call("modify_pending_order", ticket=placed["ticket"],
                       price=round(ask * 0.89, 2), sl=round(ask * 0.85, 2)))
        (order,) = client.orders_get(ticket=placed["ticket"]) or ()
        assert order.price_open == round(ask * 0.89, 2)
        ok(server.call("cancel_pending_order", ticket=placed["ticket"]))
        ok(server.call("close_position", ticket=ticket))
        assert client.positions_get(symbol=SYMBOL) == () and client.orders_get() == ()
        deals = ok(server.call("get_deals_history", days=2))
        assert len([d for d in deals if d["position_id"] == ticket]) == 3, deals
    mtgateway.shutdown()


def test_metatrader5_mcp_trades_a_cycle_with_raw_requests(demo: Path, tmp_path: Path,
                                                         bin_dir: Path) -> None:
    """metatrader5-mcp 1.0.0's ``mt5_order_send`` as its docs tell an agent: a market buy with
    magic and comment, SL/TP, a partial close, a buy limit placed, modified and removed, the
    close; the position's deals by ``position``."""
    assert mtgateway.initialize(state_file=demo)
    argv = [bin_dir / "metatrader5-mcp", "--login", str(LOGIN), "--password", "unused",
            "--server", SERVER]
    with serve(argv, demo, tmp_path) as server:
        bid, ask = quote()
        sent = ok(server.call("mt5_order_send", params={
            "action": 1, "symbol": SYMBOL, "volume": 0.02, "type": 0, "price": ask,
            "deviation": 20, "magic": 777, "comment": "mcp buy", "type_filling": 1}))
        assert sent["retcode"] == 10009, sent
        position = sent["order"]
        sltp = ok(server.call("mt5_order_send", params={
            "action": 6, "symbol": SYMBOL, "position": position,
            "sl": round(bid * 0.95, 2), "tp": round(ask * 1.05, 2)}))
        part = ok(server.call("mt5_order_send", params={
            "action": 1, "symbol": SYMBOL, "volume": 0.01, "type": 1, "position": position,
            "price": bid, "deviation": 20, "type_filling": 1}))
        (held,) = ok(server.call("mt5_positions_get", params={"ticket": position}))
        assert (held["volume"], held["magic"], held["comment"]) == (0.01, 777, "mcp buy")
        placed = ok(server.call("mt5_order_send", params={
            "action": 5, "symbol": SYMBOL, "volume": 0.01, "type": 2,
            "price": round(ask * 0.9, 2), "type_filling": 2}))
        modified = ok(server.call("mt5_order_send", params={
            "action": 7, "order": placed["order"], "price": round(ask * 0.89, 2),
            "sl": round(ask * 0.85, 2)}))
        removed = ok(server.call("mt5_order_send", params={"action": 8,
                                                           "order": placed["order"]}))
        closed = ok(server.call("mt5_order_send", params={
            "action": 1, "symbol": SYMBOL, "volume": 0.01, "type": 1, "position": position,
            "price": quote()[0], "deviation": 20, "type_filling": 1}))
        assert [r["retcode"] for r in (sltp, part, placed, modified, removed, closed)] == \
            [10009] * 6
        deals = ok(server.call("mt5_history_deals_get", params={"position": position}))
        assert len(deals) == 3, deals
    mtgateway.shutdown()


def test_mcp_metatrader5_server_trades_and_its_history_tools_answer(
        demo: Path, tmp_path: Path, bin_dir: Path) -> None:
    """mcp-metatrader5-server 0.1.7: initialize and login with a terminal's arguments (a wrong
    account answers False), a market buy with SL/TP, a sell, a buy limit placed; its two
    history tools, which call the package with ``symbol=`` and ``from``/``to`` keywords it
    does not take, answer ``[]`` as on a terminal instead of failing; ``shutdown`` answers
    True. Its request model has no ``position`` or ``order``: modifying, closing and
    cancelling are not in its tools."""
    assert mtgateway.initialize(state_file=demo)
    with serve([bin_dir / "mt5mcp"], demo, tmp_path) as server, account(demo) as client:
        assert ok(server.call("initialize", path=r"C:\Program Files\MetaTrader 5\terminal64.exe"))
        assert ok(server.call("login", login=LOGIN, password="unused", server=SERVER)) is True
        assert server.call("login", login=1, password="unused", server=SERVER).data is False
        bid, ask = quote()
        ok(server.call("order_send", request={
            "action": 1, "symbol": SYMBOL, "volume": 0.02, "type": 0, "price": ask,
            "sl": round(bid * 0.95, 2), "tp": round(ask * 1.05, 2), "deviation": 20,
            "magic": 123456, "comment": "Buy order"}))
        ok(server.call("order_send", request={"action": 1, "symbol": SYMBOL, "volume": 0.01,
                                              "type": 1, "price": bid}))
        ok(server.call("order_send", request={"action": 5, "symbol": SYMBOL, "volume": 0.01,
                                              "type": 2, "price": round(ask * 0.9, 2),
                                              "type_filling": 2}))
        assert sorted(p.volume for p in client.positions_get(symbol=SYMBOL) or ()) == [0.01,
                                                                                       0.02]
        assert len(client.orders_get(symbol=SYMBOL) or ()) == 1
        since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        until = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        for tool in ("history_deals_get", "history_orders_get"):
            answer = server.call(tool, symbol=SYMBOL, from_date=since, to_date=until)
            assert not answer.is_error and answer.data in (None, []), (tool, answer)
        assert ok(server.call("shutdown")) is True
    mtgateway.shutdown()


def _csv_rows(text: str) -> list[dict[str, str]]:
    """The rows of the CSV text a metatrader-mcp-server list tool answers (a DataFrame's)."""
    return list(csv.DictReader(io.StringIO(text)))


def test_mt5_mcp_server_trades_a_cycle_and_exits_cleanly(demo: Path, tmp_path: Path,
                                                         bin_dir: Path) -> None:
    """mt5-mcp-server 0.6.1: a market buy, SL/TP, a buy limit placed, modified and
    cancelled, the close, the deals; then the session ends and the server exits 0, its
    lifespan's disconnect no longer raising (it takes ``shutdown()``'s answer for success).
    Its tools close whole positions only."""
    assert mtgateway.initialize(state_file=demo)
    argv = [bin_dir / "metatrader-mcp-server", "--login", str(LOGIN), "--password", "unused",
            "--server", SERVER, "--transport", "stdio"]
    server = serve(argv, demo, tmp_path)
    with server, account(demo) as client:
        bid, ask = quote()
        ok(server.call("place_market_order", symbol=SYMBOL, volume=0.02, type="BUY"))
        (position,) = _csv_rows(server.call("get_all_positions").text)
        ticket = int(position["id"])
        ok(server.call("modify_position", id=ticket, stop_loss=round(bid * 0.95, 2),
                       take_profit=round(ask * 1.05, 2)))
        ok(server.call("place_pending_order", symbol=SYMBOL, volume=0.01, type="BUY",
                       price=round(ask * 0.9, 2)))
        (pending,) = _csv_rows(server.call("get_all_pending_orders").text)
        ok(server.call("modify_pending_order", id=int(pending["id"]),
                       price=round(ask * 0.89, 2), stop_loss=round(ask * 0.85, 2)))
        (order,) = client.orders_get(symbol=SYMBOL) or ()
        assert (order.price_open, order.sl) == (round(ask * 0.89, 2), round(ask * 0.85, 2))
        ok(server.call("cancel_pending_order", id=int(pending["id"])))
        ok(server.call("close_position", id=ticket))
        assert client.positions_get(symbol=SYMBOL) == () and client.orders_get() == ()
        deals = _csv_rows(server.call("get_deals", symbol=SYMBOL).text)
        assert len([d for d in deals if d.get("position_id") == str(ticket)]) == 2, deals
    assert server.close() == 0
    assert "DisconnectionError" not in server.stderr(), server.stderr()[-3000:]
    mtgateway.shutdown()


def test_yugen_mt5_mcp_trades_a_cycle(demo: Path, tmp_path: Path, bin_dir: Path) -> None:
    """yugen-mt5-mcp 1.0.3, BTCUSD allowed and live trading switched on by its variables: a
    market buy, SL/TP, a partial close, a buy limit placed, modified and cancelled, the close,
    the history of its audit-free read tool."""
    assert mtgateway.initialize(state_file=demo)
    env = {"YUGEN_MT5_ALLOWED_SYMBOLS": SYMBOL, "YUGEN_MT5_ALLOW_LIVE_TRADING": "true",
           "YUGEN_MT5_AUDIT_PATH": str(tmp_path / "audit.sqlite3")}
    with serve([bin_dir / "yugen-mt5-mcp"], demo, tmp_path, **env) as server, \
            account(demo) as client:
        assert ok(server.call("get_account"))["login"] == LOGIN
        bid, ask = quote()
        keys = iter(f"key-{n}" for n in range(100))

        def trade(tool: str, **arguments: Any) -> Any:
            done = ok(server.call(tool, session_id="tests", idempotency_key=next(keys),
                                  symbol=SYMBOL, **arguments))
            assert done["retcode"] == 10009, done
            return done

        ticket = trade("place_market_order", side="buy", volume="0.02")["order"]
        trade("modify_position", ticket=ticket, stop_loss=round(bid * 0.95, 2),
              take_profit=round(ask * 1.05, 2))
        trade("close_position", volume="0.01", ticket=ticket)
        (position,) = client.positions_get(ticket=ticket) or ()
        assert (position.volume, position.tp) == (0.01, round(ask * 1.05, 2))
        order = trade("place_pending_order", order_type="buy_limit", volume="0.01",
                      price=round(ask * 0.9, 2))["order"]
        trade("modify_pending_order", ticket=order, price=round(ask * 0.89, 2))
        trade("cancel_pending_order", ticket=order)
        trade("close_position", volume="0.01", ticket=ticket)
        assert client.positions_get(symbol=SYMBOL) == () and client.orders_get() == ()
        now = datetime.now(UTC)
        history = ok(server.call("get_history", start=(now - timedelta(days=1)).isoformat(),
                                 end=(now + timedelta(hours=1)).isoformat(), symbol=SYMBOL))
        assert len([d for d in history["deals"] if d["order"] == ticket]) == 1, history
    mtgateway.shutdown()

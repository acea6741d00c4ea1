"""Paper trading as a bot on the project's client sees it, on ``mtgateway demo`` (a real
process, as a user runs it): the owner switches the demo's account to paper through the
console API; the client then says so in the ``MetaTrader5`` package's vocabulary
(``account_info().trade_mode`` is ``ACCOUNT_TRADE_MODE_DEMO``) and in its own
(``gateway_status()["trading"]["paper"]``, ``.paper`` on what the paper book answered,
outside the package's fields), and the paper fill reaches ``/ws`` as a ``trade_event``
marked paper; switched back, the terminal's own account never saw it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp

import mtgateway as mt5
from mtgateway.aio import AsyncClient
from tests.e2e.fixtures import WAIT_S, running_demo
from tests.e2e.paperkit import OwnerApi, switched


async def _trade_events(ws: aiohttp.ClientWebSocketResponse, count: int
                        ) -> list[dict[str, Any]]:
    """The next ``count`` trade_event notifications' params from a raw ``/ws`` socket."""
    events: list[dict[str, Any]] = []
    while len(events) < count:
        note = await ws.receive_json(timeout=WAIT_S)
        if note.get("method") == "trade_event":
            events.append(note["params"])
    return events


async def test_a_bot_on_the_client_tells_paper_from_live(tmp_path: Path) -> None:
    """Before the switch the client sees a live demo account (``paper`` False everywhere);
    after the owner's switch through the console API, ``trade_mode`` DEMO, ``paper`` True
    on the account, the fill and the position, ``gateway_status`` says paper, and ``/ws``
    streams the fill marked paper; switched back to live, the terminal's own account never
    saw the fill."""
    state_file = tmp_path / "demo.json"
    async with running_demo(state_file), aiohttp.ClientSession() as http, \
            AsyncClient() as client:
        state = json.loads(state_file.read_text(encoding="utf-8"))
        assert await client.initialize(state_file=state_file), client.last_error()
        status = await client.gateway_status()
        assert status is not None and status["trading"]["paper"] is False
        live = await client.account_info()
        assert live is not None and live.paper is False
        live_positions = await client.positions_total()

        owner = OwnerApi(http, state)
        try:
            await owner.sign_in()
            status, answer = await owner.call("POST", "/users/", {
                "name": "Demo paper", "broker": "MT Gateway", "login": state["login"],
                "server": state["server"], "paper_trade_enabled": True, "max_lot_size": 1,
                "risk_pct": 1})
            assert status == 201, answer
            await switched(client, owner, paper=True)

            account = await client.account_info()
            assert account is not None and account.paper is True
            assert account.trade_mode == mt5.ACCOUNT_TRADE_MODE_DEMO
            assert len(account) == len(live)
            assert list(account._asdict()) == list(live._asdict())
            async with http.ws_connect(state["ws_url"], headers={
                    "Authorization": f"Bearer {state['token']}"}) as ws:
                await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "subscribe",
                                    "params": {"channel": "trades"}})
                assert "result" in await ws.receive_json(timeout=WAIT_S)
                symbol = state["open_symbols"][0]
                sent = await client.order_send({
                    "action": mt5.TRADE_ACTION_DEAL, "symbol": symbol, "volume": 0.01,
                    "type": mt5.ORDER_TYPE_BUY})
                assert sent is not None, client.last_error()
                assert (sent.retcode, sent.paper) == (mt5.TRADE_RETCODE_DONE, True)
                events = await _trade_events(ws, 3)
            assert [(e["type"], e["paper"]) for e in events] == [
                ("deal_added", True), ("position_opened", True), ("account_updated", True)]
            assert events[1]["position"]["ticket"] == sent.order
            positions = await client.positions_get(symbol=symbol)
            assert positions is not None
            assert [(p.ticket, p.paper) for p in positions] == [(sent.order, True)]

            # Back to live (leaving paper asks for the password): the terminal's own account
            # never saw the paper fill, and nothing is marked paper any more.
            status, answer = await owner.call("PUT", f"/users/{state['login']}", {
                "paper_trade_enabled": False, "owner_password": state["owner_password"]})
            assert status == 200, answer
            await switched(client, owner, paper=False)
            again = await client.account_info()
            assert again is not None and again.paper is False
            assert await client.positions_total() == live_positions
        finally:
            await owner.close()


async def _round_trip(client: AsyncClient, symbol: str) -> mt5.OrderSendResult:
    """A buy of 0.01 lot, closed at once: its opening answer."""
    sent = await client.order_send({"action": mt5.TRADE_ACTION_DEAL, "symbol": symbol,
                                    "volume": 0.01, "type": mt5.ORDER_TYPE_BUY})
    assert sent is not None and sent.retcode == mt5.TRADE_RETCODE_DONE, client.last_error()
    closed = await client.order_send({"action": mt5.TRADE_ACTION_DEAL, "symbol": symbol,
                                      "volume": 0.01, "type": mt5.ORDER_TYPE_SELL,
                                      "position": sent.order})
    assert closed is not None and closed.retcode == mt5.TRADE_RETCODE_DONE
    return sent


async def test_the_console_keeps_the_paper_books_history_apart(tmp_path: Path) -> None:
    """A live trade, then the owner switches the demo's account to paper through the console
    API, deposits on paper and trades: the console's history answers the paper book by
    default, each record marked with its book and no (book, ticket) twice across both
    books; the paper book's opening deposit is in it; the stream reported the paper fill
    and the client shows it; ``/live`` wears the paper badge and its change leaves the
    deposits out."""
    state_file = tmp_path / "demo.json"
    async with running_demo(state_file), aiohttp.ClientSession() as http, \
            AsyncClient() as client:
        state = json.loads(state_file.read_text(encoding="utf-8"))
        assert await client.initialize(state_file=state_file), client.last_error()
        owner = OwnerApi(http, state)
        try:
            await owner.sign_in()
            login, symbol = state["login"], state["open_symbols"][0]
            history = f"/trades/history/{login}"
            live_trade = await _round_trip(client, symbol)
            await owner.until("POST", history, {}, lambda a: any(
                t["state"] == "closed" and t["order"] == live_trade.order for t in a["trades"]))

            status, _ = await owner.call("POST", "/users/", {
                "name": "Demo paper", "broker": "MT Gateway", "login": login,
                "server": state["server"], "paper_trade_enabled": True, "max_lot_size": 1,
                "risk_pct": 1})
            assert status == 201
            await switched(client, owner, paper=True)
            await owner.until("GET", f"/accounts/{login}/margin?book=paper", None,
                              lambda a: a["book"] == "paper")
            await owner.until("POST", f"/accounts/{login}/deposit",
                              {"amount": 500, "comment": "paper top-up", "operation_id": "pb-1"},
                              lambda a: a["operation"]["state"] == "applied")
            async with http.ws_connect(state["ws_url"], headers={
                    "Authorization": f"Bearer {state['token']}"}) as ws:
                await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "subscribe",
                                    "params": {"channel": "trades"}})
                assert "result" in await ws.receive_json(timeout=WAIT_S)
                paper_trade = await _round_trip(client, symbol)
                events = await _trade_events(ws, 1)
            assert paper_trade.paper is True
            assert (events[0]["type"], events[0]["paper"]) == ("deal_added", True)

            paper = await owner.until("POST", history, {}, lambda a: any(
                t["state"] == "closed" and t["order"] == paper_trade.order for t in a["trades"]))
            assert {t["book"] for t in paper["trades"]} == {"paper"}
            balances = [t for t in paper["trades"] if t["state"] == "balance"]
            assert balances[0]["comment"] == "Initial deposit"  # the paper book's own opening
            assert "paper top-up" in [t["comment"] for t in balances]
            status, both = await owner.call("POST", history, {"book": "all"})
            assert status == 200
            keys = [(t["book"], t["order"]) for t in both["trades"]]
            assert len(keys) == len(set(keys))
            assert {"live", "paper"} <= {t["book"] for t in both["trades"]}
            assert ("live", live_trade.order) in keys and ("paper", paper_trade.order) in keys

            page = (await owner.pages.get("/live")).text
            assert '<span class="badge paper-book"' in page
            change = re.search(r'data-change="(-?[0-9.]+)"', page)
            assert change is not None and abs(float(change.group(1))) < 50, change
        finally:
            await owner.close()

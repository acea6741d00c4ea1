"""Paper never hides live money (the owner's walk, end to end, on ``mtgateway demo``: a real
daemon, emulator and console process, a real headless Chromium).

A bot opens a live position and a pending order; the owner registers the account and
switches it to paper on the console's Accounts page, which says what stays open at the broker
and asks for a confirmation. Then the dashboard, ``/live`` and the Manager API show the
position and the order as live, at the broker; the margin figure is the broker's and a margin
alert opens on the broker's margin (the paper book has none in use); a bot's close of the
live ticket is refused with 10017 naming the live book, while it can read the live book on
request; and ``order_check`` refuses what ``order_send`` refuses under the account's policy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
from selenium.webdriver.common.by import By

import mtgateway as mt5
from mtgateway.aio import AsyncClient
from tests.e2e.chromium import Owner, chromium_at
from tests.e2e.fixtures import running_demo
from tests.e2e.paperkit import OwnerApi, switched


async def _rpc(http: aiohttp.ClientSession, state: dict[str, Any], method: str,
               params: Any) -> dict[str, Any]:
    """One raw JSON-RPC call with the demo's token: the daemon's own answer."""
    async with http.post(state["rpc_url"], json={"jsonrpc": "2.0", "id": 1, "method": method,
                                                 "params": params},
                         headers={"Authorization": f"Bearer {state['token']}"}) as r:
        answer: dict[str, Any] = await r.json()
        return answer


async def _live_trades(client: AsyncClient, symbol: str) -> tuple[int, int]:
    """A live buy of 0.1 lot and a buy limit far below the market: their tickets."""
    bought = await client.order_send({"action": mt5.TRADE_ACTION_DEAL, "symbol": symbol,
                                      "volume": 0.1, "type": mt5.ORDER_TYPE_BUY})
    assert bought is not None and bought.retcode == mt5.TRADE_RETCODE_DONE, \
        client.last_error()
    tick = await client.symbol_info_tick(symbol)
    info = await client.symbol_info(symbol)
    assert tick is not None and info is not None
    placed = await client.order_send({
        "action": mt5.TRADE_ACTION_PENDING, "symbol": symbol, "volume": 0.1,
        "type": mt5.ORDER_TYPE_BUY_LIMIT, "price": round(tick.bid * 0.9, info.digits)})
    assert placed is not None and placed.retcode == mt5.TRADE_RETCODE_DONE, \
        client.last_error()
    assert bought.paper is False and placed.paper is False
    return bought.order, placed.order


async def _switch_on_the_accounts_page(walk: Owner) -> None:
    """Paper ticked and saved: refused with what stays open at the broker; confirmed and
    saved again: done."""
    await walk.open("/accounts")
    await walk.wait_for("article.account")
    account = await walk.do(lambda: walk.driver.find_element(
        By.CSS_SELECTOR, "article.account").get_attribute("data-account-id"))
    said = await walk.do(lambda: walk.text(f"#live-open-{account}"))
    assert "1 position and 1 pending order" in said, said
    await walk.click(f"paper-{account}")
    await walk.submit(f"save-risk-{account}")
    await walk.wait_for(f"#live-open-error-{account}")
    refused = await walk.do(lambda: walk.text(f"#live-open-error-{account}"))
    assert "1 position and 1 pending order" in refused and "stay open at the broker" in refused
    assert "bots on paper can neither see nor close them" in refused, refused
    await walk.shot("accounts-paper-confirm-1280")
    await walk.click(f"confirm-live-open-{account}")
    await walk.submit(f"save-risk-{account}")
    assert "Risk policy saved" in await walk.notice()


async def _on_the_pages(walk: Owner, position: int, order: int) -> None:
    """The dashboard's row says paper and what stays live; its panel and ``/live`` list the
    live position and order under "Live, at the broker"."""
    await walk.open("/")
    await walk.wait_for("#terminal-rows .live-open")
    row = await walk.do(lambda: walk.text("#terminal-rows tr.terminal"))
    assert "paper" in row and "live at the broker: 1 position and 1 pending order" in row, row
    await walk.wait_for(f".live-book tr.position[data-ticket='{position}']")
    await walk.wait_for(f".live-book tr.order[data-ticket='{order}']")
    section = await walk.do(lambda: walk.text(".live-book"))
    assert "Live, at the broker" in section and "Margin level" in section
    await walk.fits("dashboard on paper with a live book")
    await walk.shot("dashboard-paper-live-book-1280")
    await walk.open("/live")
    await walk.wait_for(f"#live-panels .live-book tr.position[data-ticket='{position}']")
    await walk.wait_for(f"#live-panels .live-book tr.order[data-ticket='{order}']")
    badge = await walk.do(lambda: walk.text("#live-panels .paper-book"))
    assert badge == "paper"
    await walk.shot("live-paper-live-book-1280")


async def test_paper_never_hides_live_money(tmp_path: Path, shots: Path) -> None:
    state_file = tmp_path / "demo.json"
    async with running_demo(state_file), aiohttp.ClientSession() as http, \
            AsyncClient() as client:
        state = json.loads(state_file.read_text(encoding="utf-8"))
        assert await client.initialize(state_file=state_file), client.last_error()
        login, symbol = state["login"], state["open_symbols"][0]
        owner = OwnerApi(http, state)
        try:
            await owner.sign_in()
            position, order = await _live_trades(client, symbol)
            status, _ = await owner.call("POST", "/users/", {
                "name": "Demo", "broker": "MT Gateway", "login": login,
                "server": state["server"], "allowed_symbols": [symbol], "max_lot_size": 0.3,
                "risk_pct": 1})
            assert status == 201
            # the console has heard of the live trades before the owner switches
            await owner.until("GET", f"/trades/open/{login}", None, lambda a: {
                t["order"] for t in a["trades"]} >= {position, order})
            # the margin alert, on the broker's margin: the threshold is above its level
            saved = await owner.pages.submit("/settings/alerts", "/settings/alerts", {
                "margin": "on", "margin_pct": "100000", "email": "on"})
            assert saved.status == 303, saved.text

            with chromium_at(1280) as driver:
                walk = Owner(driver, state["console_url"].rstrip("/"), shots)
                await walk.sign_in(state["owner_email"], state["owner_password"])
                await _switch_on_the_accounts_page(walk)
                await switched(client, owner, paper=True)
                await _on_the_pages(walk, position, order)

            # the API: the live position and order, as live, beside the paper book
            trades = await owner.until("GET", f"/trades/open/{login}", None, lambda a: {
                (t["book"], t["order"]) for t in a["trades"]} >= {
                    ("live", position), ("live", order)})
            assert {t["book"] for t in trades["trades"]} == {"live"}  # nothing on paper yet
            margin = await owner.until("GET", f"/accounts/{login}/margin", None,
                                       lambda a: a["book"] == "live")
            assert margin["margin"] > 0  # the broker's: the paper book holds no margin
            status, paper = await owner.call("GET", f"/accounts/{login}/margin?book=paper")
            assert (status, paper["book"], paper["margin"]) == (200, "paper", 0.0)

            alerts = await owner.until_page("/settings/alerts", f"margin level of {login}@")
            assert "under 100000.0 %" in alerts or "under 100000 %" in alerts, alerts

            # the bot: the live book on request; a close of the live ticket refused by name
            assert await client.positions_get() == ()
            [live] = await client.positions_get(book="live")
            assert (live.ticket, live.paper) == (position, False)
            [pending] = await client.orders_get(book="live")
            assert (pending.ticket, pending.paper) == (order, False)
            closed = await client.order_send({
                "action": mt5.TRADE_ACTION_DEAL, "symbol": symbol, "volume": 0.1,
                "type": mt5.ORDER_TYPE_SELL, "position": position})
            assert closed is not None, client.last_error()
            assert closed.retcode == mt5.TRADE_RETCODE_TRADE_DISABLED != \
                mt5.TRADE_RETCODE_POSITION_CLOSED
            assert "live book" in closed.comment and str(position) in closed.comment
            assert closed.paper is True
            [still] = await client.positions_get(book="live")
            assert still.ticket == position  # paper never touched it

            # order_check refuses what order_send refuses, on the raw /rpc
            request = {"action": "TRADE_ACTION_DEAL", "symbol": symbol, "volume": 0.4,
                       "type": "ORDER_TYPE_BUY"}
            checked = await _rpc(http, state, "order_check", [request])
            sent = await _rpc(http, state, "order_send", {"request": request})
            assert checked["error"] == sent["error"], (checked, sent)
            assert (checked["error"]["code"], checked["error"]["data"]["rule"]) == (
                -32012, "max_lot_size")
        finally:
            await owner.close()

"""Issue 46, "done when": the whole console API driven through ``mtgateway demo``'s console
(a real process, as a user runs it): sign in, register the demo terminal's account as a
paper account, a paper deposit seen in the terminal's ``history_deals_get``, the kill switch
refusing an order and lifted again; and item 8: every e-mail the demo's console sent is
readable on its mailbox page, and an alert webhook may post to loopback.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp

from tests.e2e.consolekit import Browser
from tests.e2e.fixtures import WAIT_S, running_demo
from tests.e2e.hookkit import running_receiver


async def _rpc(session: aiohttp.ClientSession, state: dict[str, Any], method: str,
               params: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        body["params"] = params
    async with session.post(state["rpc_url"], json=body,
                            headers={"Authorization": f"Bearer {state['token']}"}) as r:
        return dict(await r.json())


async def test_the_console_api_drives_the_demo_end_to_end(tmp_path: Path) -> None:
    state_file = tmp_path / "demo.json"
    async with running_demo(state_file) as (proc, output), aiohttp.ClientSession() as http:
        state = json.loads(state_file.read_text(encoding="utf-8"))
        printed = output.decode()
        # the printed sign-in: the owner's form, its token kept apart from the daemon's $TOKEN
        assert f"{state['api_url']}/auth/login -d username={state['owner_email']}" in printed
        assert f"-d password={state['owner_password']}" in printed
        assert '-H "Authorization: Bearer $CONSOLE_TOKEN"' in printed
        assert f"{state['mail_url']}?format=text" in printed
        api = state["api_url"]
        async with http.post(f"{api}/auth/login", data={
                "username": state["owner_email"], "password": state["owner_password"]}) as r:
            assert r.status == 200
            token = (await r.json())["access_token"]
        auth = {"Authorization": f"Bearer {token}"}

        async def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
            async with http.request(method, api + path, json=body, headers=auth) as r:
                return r.status, await r.json()

        login, server = state["login"], state["server"]
        status, user = await call("POST", "/users/", {
            "name": "Demo paper", "broker": "MT Gateway", "login": login, "server": server,
            "paper_trade_enabled": True, "max_lot_size": 1, "risk_pct": 1})
        assert status == 201, user

        async def settled(body: dict[str, Any]) -> dict[str, Any]:
            """A paper deposit until the daemon applied it: each answer waits on the
            console for the daemon's report (202 while pending), so this asks again only
            after such a wait. A settled deposit also proves the daemon holds a record
            signed after every change made before it (the kill switch below)."""
            async with asyncio.timeout(WAIT_S * 3):
                while True:
                    status, answer = await call("POST", f"/accounts/{login}/deposit", body)
                    assert status in (200, 202), answer
                    if status == 200:
                        return dict(answer["operation"])

        # the deposit rides in the record that makes the account paper: applied once
        operation = await settled({"amount": 500, "comment": "Demo deposit",
                                   "operation_id": "demo-1"})
        assert operation["state"] == "applied"
        assert (await _rpc(http, state, "account_info"))["result"]["paper"] is True
        deals = (await _rpc(http, state, "history_deals_get",
                            {"date_from": 0, "date_to": 4_102_444_800}))["result"]
        [deal] = [d for d in deals if d["ticket"] == operation["deal"]]
        assert (deal["type"], deal["profit"], deal["comment"]) == (2, 500.0, "Demo deposit")

        symbol = state["open_symbols"][0]
        order = {"request": {"action": 1, "symbol": symbol, "volume": 0.01, "type": 0,
                             "type_filling": 1}}
        status, _ = await call("POST", "/test/disconnect", {"logins": [login]})
        assert status == 200
        await settled({"amount": 1, "operation_id": "after-disconnect"})
        error = (await _rpc(http, state, "order_send", order))["error"]
        assert (error["code"], error["data"]["rule"]) == (-32012, "trading_halted")
        assert (await _rpc(http, state, "symbol_info_tick", {"symbol": symbol}))["result"]
        status, _ = await call("POST", "/test/connect",
                               {"logins": [login], "owner_password": state["owner_password"]})
        assert status == 200
        await settled({"amount": 1, "operation_id": "after-connect"})
        assert (await _rpc(http, state, "order_send", order))["result"]["retcode"] == 10009

        # item 8: the mailbox shows what the console sent (the approval code, at least)
        async with http.get(state["mail_url"] + "?format=text") as r:
            mail = await r.text()
        assert r.status == 200 and "device verify" in mail
        # ... to the demo's user alone: the address without its key shows nobody's mail
        async with http.get(state["console_url"] + "demo/mail?format=text") as r:
            assert r.status == 403 and state["owner_email"] not in await r.text()
        # ... and a webhook may post to loopback: a test alert reaches a local receiver
        browser = Browser(state["console_url"].rstrip("/"))
        try:
            assert (await browser.sign_in(state["owner_email"],
                                          state["owner_password"])).status == 303
            async with running_receiver() as receiver:
                page = await browser.submit("/settings", "/settings/alerts", [
                    ("webhook_url", receiver.url), ("owner_password", state["owner_password"]),
                    ("offline_minutes", "10"), ("margin_pct", "150"), ("email", "on")])
                assert 'id="new-secret"' in page.text, page.text  # saved: loopback allowed
                secret = page.text.split('id="new-secret" value="')[1].split('"')[0]
                receiver.secret = secret
                page = await browser.submit("/settings", "/settings/alerts/test", [])
                assert page.status == 303
                [hook] = await receiver.wait_for(1)
                assert hook["verified"]
            # the test alert's e-mail is delivered before its webhook (one pass, e-mail first)
            async with http.get(state["mail_url"] + "?format=text") as r:
                mail = await r.text()
            assert "test alert" in mail.lower(), mail
        finally:
            await browser.close()

"""Issue 46 items 3, 4 and 5 through the real parts: the console's ``/api/`` driving a
remote-mode daemon and an emulated terminal (``world.py``) -- paper money applied once as a
deal the terminal's ``history_deals_get`` shows, refused on a live account; the kill switch
refusing every order while the EA stays connected; margins, trades, history, lookup, groups
and who is online as the daemon reported them; a message on the terminal's chart.

Waits are on events: the daemon's reporter counting accepted reports, the record cache
telling of each record stored, the emulated terminal's shown message.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings, TerminalRefused
from gateway.auth.reporter import LIVE_INTERVAL_S
from gateway.keys import BRIDGE, DEVICE, INSTRUCTIONS, REPORTER
from mtgateway_base.wire.records import SignedRecord
from mtgateway_base.wire.reports import REPORT_INTERVAL_S
from tests.e2e.world import LOGIN, OWNER, PASSWORD, SERVER, TERMINAL, World, world
from tests.reporterkit import until_reported

WAIT_S = 10.0
BUY = {"action": 1, "symbol": "BTCUSD", "volume": 0.01, "type": 0, "type_filling": 1}


@dataclass
class Api:
    """The console's ``/api/`` with an owner's access token."""

    session: aiohttp.ClientSession
    url: str
    token: str = ""

    async def login(self) -> None:
        async with self.session.post(self.url + "/api/auth/login",
                                     data={"username": OWNER, "password": PASSWORD}) as r:
            assert r.status == 200, await r.text()
            self.token = (await r.json())["access_token"]

    async def __call__(self, method: str, path: str, body: Any = None
                       ) -> tuple[int, dict[str, Any]]:
        async with self.session.request(method, self.url + path, json=body, headers={
                "Authorization": f"Bearer {self.token}"}) as r:
            return r.status, await r.json()

    async def settled(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A money operation until it is settled: the same ``operation_id`` answers the
        first operation as it stands, each answer after the console's own wait for the
        daemon's report."""
        async with asyncio.timeout(WAIT_S * 2):
            while True:
                status, answer = await self(path=path, method="POST", body=body)
                assert status in (200, 202), answer
                if status == 200:
                    return dict(answer["operation"])


class Records:
    """The daemon's record cache, watched: wait until a stored record satisfies a test."""

    def __init__(self, w: World) -> None:
        self.latest: SignedRecord | None = None
        self._changed = asyncio.Event()
        w.cache.on_stored(self._stored)

    def _stored(self, record: SignedRecord) -> None:
        self.latest = record
        self._changed.set()

    async def until(self, test: Callable[[SignedRecord], bool]) -> SignedRecord:
        async with asyncio.timeout(WAIT_S):
            while self.latest is None or not test(self.latest):
                self._changed.clear()
                await self._changed.wait()
        return self.latest


@contextlib.asynccontextmanager
async def running(tmp_path: Path) -> AsyncIterator[tuple[World, EmulatedTerminal, Api,
                                                         Records]]:
    """The world with the owner's token approved, a BTCUSD terminal connected, and the API
    signed in."""
    async with world(tmp_path) as w:
        token, _ = await w.issue()
        await w.approve_device(token)
        records = Records(w)
        terminal = EmulatedTerminal(token, port=w.bridge_port,
                                    settings=EmulatorSettings(symbols=("BTCUSD",)))
        task = asyncio.create_task(terminal.run())
        try:
            await w.daemon[BRIDGE].wait_for_terminal(TERMINAL, WAIT_S)
            api = Api(w.session, w.console_url)
            await api.login()
            w.token = token  # type: ignore[attr-defined]
            yield w, terminal, api, records
        finally:
            await w.daemon[INSTRUCTIONS].idle()
            await terminal.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TerminalRefused):
                await task


PAPER = {"name": "Paper", "broker": "MetaQuotes", "login": LOGIN, "password": "pw",
         "server": SERVER, "paper_trade_enabled": True, "max_lot_size": 1, "risk_pct": 1}


async def _reported(w: World) -> None:
    """Until the daemon's reporter has had one more report accepted."""
    reporter = w.daemon[REPORTER]
    async with asyncio.timeout(WAIT_S):
        await reporter.wait_sent(reporter.sent + 1)


async def test_paper_money_is_applied_once_as_a_deal_the_terminal_shows(
        tmp_path: Path) -> None:
    """A deposit on a paper account is applied by the daemon within seconds as a balance
    deal that ``history_deals_get`` shows (once, whatever asks twice); a withdrawal beyond
    the money is refused; credit is a credit deal; a live account's money is the broker's."""
    async with running(tmp_path) as (w, terminal, api, records):
        status, _ = await api("POST", "/api/users/", PAPER)
        assert status == 201
        await records.until(lambda r: r.risk.paper_trade_enabled)
        body = {"amount": 1234.5, "comment": "API top-up", "operation_id": "dep-1"}
        operation = await api.settled(f"/api/accounts/{LOGIN}/deposit", body)
        assert operation["state"] == "applied" and operation["deal"] > 0
        token = w.token  # type: ignore[attr-defined]
        _, answer = await w.rpc(token, "history_deals_get",
                                {"date_from": 0, "date_to": 4_102_444_800})
        deals = answer["result"]
        mine = [d for d in deals if d["ticket"] == operation["deal"]]
        assert len(mine) == 1 and mine[0]["type"] == 2  # DEAL_TYPE_BALANCE
        assert (mine[0]["profit"], mine[0]["comment"]) == (1234.5, "API top-up")
        assert mine[0]["paper"] is True
        # the same operation id: the same operation, no second deal
        again = await api.settled(f"/api/accounts/{LOGIN}/deposit", body)
        assert again["id"] == operation["id"]
        status, conflict = await api("POST", f"/api/accounts/{LOGIN}/deposit",
                                     {**body, "amount": 5})
        assert (status, conflict["data"]["reason"]) == (409, "operation_id_reused")
        _, answer = await w.rpc(token, "history_deals_get",
                                {"date_from": 0, "date_to": 4_102_444_800})
        assert len([d for d in answer["result"] if d["type"] == 2]) == len(
            [d for d in deals if d["type"] == 2])
        # beyond the money: refused, nothing moved
        refused = await api.settled(f"/api/accounts/{LOGIN}/withdraw",
                                    {"amount": 10_000_000, "operation_id": "w-1"})
        assert refused["state"] == "refused" and "nothing moved" in refused["detail"]
        # each operation reads back as it stands, by its id alone
        for settled in (operation, refused):
            assert await api("GET", f"/v1/operations/{settled['id']}") == (
                200, {"operation": settled})
        credit = await api.settled(f"/api/accounts/{LOGIN}/credit",
                                   {"amount": 250, "operation_id": "c-1"})
        assert credit["state"] == "applied"
        _, info = await w.rpc(token, "account_info")
        assert info["result"]["credit"] == 250.0
        # a live account: the broker moves its money
        live = {**PAPER, "login": 777, "paper_trade_enabled": False, "is_live": True}
        assert (await api("POST", "/api/users/", live))[0] == 201
        status, body_ = await api("POST", "/api/accounts/777/deposit", {"amount": 10})
        assert status == 409 and body_["data"]["reason"] == "live_account"
        assert "broker" in body_["message"]
        # the console's history shows the deposit as a balance record, as the daemon read it
        # (the report that settled the credit read the account after both)
        status, history = await api("POST", f"/api/trades/history/{LOGIN}", {})
        assert status == 200
        balance = [t for t in history["trades"] if t["order"] == operation["deal"]]
        assert balance and balance[0]["cmd"] == 6 and balance[0]["profit"] == 1234.5
        assert balance[0]["as_of"] > 0


async def test_the_kill_switch_refuses_every_order_and_keeps_the_ea_streaming(
        tmp_path: Path) -> None:
    """``POST /api/test/disconnect`` refuses every order of the account (-32012
    ``trading_halted``, nothing sent) while the EA stays connected and ticks flow; it is in
    the activity; ``/connect`` lets orders through again, with the owner's password."""
    async with running(tmp_path) as (w, terminal, api, records):
        token = w.token  # type: ignore[attr-defined]
        status, answer = await api("POST", "/api/test/disconnect",
                                   {"logins": [LOGIN], "reason": "drawdown review"})
        assert status == 200 and answer["halted"] == [f"{LOGIN}@{SERVER}"]
        await records.until(lambda r: r.risk.trading_halted)
        before = len(terminal.broker.positions_get())
        _, refused = await w.rpc(token, "order_send", {"request": BUY})
        assert refused["error"]["code"] == -32012
        assert refused["error"]["data"]["rule"] == "trading_halted"
        assert len(terminal.broker.positions_get()) == before  # nothing reached the terminal
        assert w.daemon[BRIDGE].session(TERMINAL) is not None
        _, tick = await w.rpc(token, "symbol_info_tick", {"symbol": "BTCUSD"})
        assert tick["result"]["bid"] > 0
        _, status_ = await w.rpc(token, "gateway_status")
        assert "trading_halted" in str(status_["result"])
        kinds = [e.kind for e in await w.authority.owners.activity(OWNER)]
        assert "trading_halted" in kinds
        status, answer = await api("POST", "/api/test/connect", {})
        assert status == 401 and answer["data"]["reason"] == "password_required"
        status, answer = await api("POST", "/api/test/connect", {"owner_password": PASSWORD})
        assert status == 200 and answer["halted"] == []
        await records.until(lambda r: not r.risk.trading_halted)
        _, sent = await w.rpc(token, "order_send", {"request": BUY})
        assert sent["result"]["retcode"] == 10009, sent
        # all of the owner's terminals at once, then lifted for the named one only
        await api("POST", "/api/test/disconnect", {})
        await records.until(lambda r: r.risk.trading_halted)
        status, answer = await api("POST", "/api/test/connect",
                                   {"logins": [LOGIN], "owner_password": PASSWORD})
        assert status == 200
        await records.until(lambda r: not r.risk.trading_halted)
        status, missing = await api("POST", "/api/test/disconnect", {"logins": [42]})
        assert status == 404 and missing["data"]["logins"] == [42]


async def test_margins_trades_groups_and_who_is_online_as_the_daemon_read_them(
        tmp_path: Path) -> None:
    """After the daemon reports: the account's margin and open trades with the time read,
    the lookup by ticket, the terminal online, a group made with a policy its accounts take,
    and automated trading switched for many at once."""
    async with running(tmp_path) as (w, terminal, api, records):
        token = w.token  # type: ignore[attr-defined]
        _, sent = await w.rpc(token, "order_send", {"request": BUY})
        ticket = sent["result"]["order"]
        await _reported(w)
        status, margin = await api("GET", f"/api/accounts/{LOGIN}/margin")
        assert status == 200 and margin["login"] == LOGIN and margin["server"] == SERVER
        info = terminal.broker.account_info()
        assert margin["balance"] == info["balance"] and margin["leverage"] == info["leverage"]
        assert margin["as_of"] > 0
        status, margins = await api("GET", "/api/accounts/margins")
        assert margins["count"] == 1
        status, trades = await api("GET", f"/api/trades/open/{LOGIN}")
        assert [t["order"] for t in trades["trades"]] == [ticket]
        assert trades["trades"][0]["state"] == "open" and trades["trades"][0]["as_of"] > 0
        status, found = await api("POST", "/api/admin/trades/lookup", {"tickets": [ticket, 1]})
        assert [t["order"] for t in found["trades"]] == [ticket]
        assert (await api("GET", "/api/accounts/99/margin"))[0] == 404
        status, online = await api("GET", "/api/groups/online")
        assert [(o["login"], o["platform"]) for o in online["online"]] == [(LOGIN, "MT5")]
        # groups (of a live account: a paper one's next report is its paper book, which holds
        # no trade, and whether it came before the read below was a race)
        assert (await api("POST", "/api/users/", {**PAPER, "paper_trade_enabled": False,
                                                  "is_live": True}))[0] == 201
        status, moved = await api("POST", "/api/admin/users/group-op", {
            "operation": "move", "logins": [LOGIN], "group": "desk",
            "policy": {"allowed_symbols": ["BTCUSD"], "max_lot_size": 2, "risk_pct": 1,
                       "auto_trade_enabled": True}})
        assert status == 401 and moved["data"]["reason"] == "password_required"  # 1 -> 2 lots
        status, moved = await api("POST", "/api/admin/users/group-op", {
            "operation": "move", "logins": [LOGIN], "group": "desk",
            "policy": {"allowed_symbols": ["BTCUSD"], "max_lot_size": 2, "risk_pct": 1,
                       "auto_trade_enabled": True}, "owner_password": PASSWORD})
        assert status == 200, moved
        status, group = await api("GET", "/api/groups/desk")
        assert group["group"]["logins"] == [LOGIN] and group["group"]["max_lot_size"] == 2.0
        assert group["group"]["online"] == 1
        record = await records.until(lambda r: r.risk.max_lot_size == "2")
        assert record.risk.allowed_symbols == ("BTCUSD",)
        status, user = await api("GET", f"/api/users/{LOGIN}")
        assert user["user"]["group"] == "desk"
        status, trades = await api("POST", "/api/admin/trades/by-group", {"group": "desk"})
        assert [t["order"] for t in trades["trades"]] == [ticket]
        status, _ = await api("POST", "/api/admin/users/group-op", {
            "operation": "disable_auto_trade", "logins": [LOGIN]})
        assert status == 200
        await records.until(lambda r: not r.risk.auto_trade_enabled)
        assert (await api("GET", "/api/groups/nope"))[0] == 404


async def test_a_terminal_holding_positions_is_reported_live_only_while_its_owner_watches(
        tmp_path: Path) -> None:
    """Reports every 5 s from every daemon holding positions were six times the console's
    report load at the fleet's cadence (bench.authority: p99 1.2 s at 2,000 daemons, 121 ms
    at 30 s). The console asks for them only while an owner of the device watches the live
    page; the daemon reports at its interval otherwise."""
    async with running(tmp_path) as (w, terminal, api, records):
        token = w.token  # type: ignore[attr-defined]
        reporter = w.daemon[REPORTER]
        await w.rpc(token, "order_send", {"request": BUY})
        await _reported(w)
        assert reporter.next_wait_s() == REPORT_INTERVAL_S  # a position, nobody watching
        w.authority.live.watch(OWNER)  # what a pass of the live page's stream does
        await w.rpc(token, "order_send", {"request": BUY})
        await _reported(w)
        assert reporter.next_wait_s() == LIVE_INTERVAL_S
        assert await w.authority.live.wants_live(w.daemon[DEVICE].info.device_id)
        assert not await w.authority.live.wants_live("another-device")


async def test_a_device_the_owner_revoked_speaks_for_no_account_in_the_api(
        tmp_path: Path) -> None:
    """What an approved device reported stops being read once the owner revokes it: no
    margin, no open trade, no group count, no deal from it (the snapshot it left was served
    before the readings asked for the device's approval as it stands now; its deals until
    each kept deal named its device)."""
    async with running(tmp_path) as (w, terminal, api, records):
        token = w.token  # type: ignore[attr-defined]
        await w.rpc(token, "order_send", {"request": BUY})
        await _reported(w)
        status, margins = await api("GET", "/api/accounts/margins")
        assert status == 200 and margins["count"] == 1
        assert await w.authority.live.deals(OWNER, [(LOGIN, SERVER)]) != []
        assert await w.authority.approvals.revoke(OWNER, w.daemon[DEVICE].info.device_id)
        status, margins = await api("GET", "/api/accounts/margins")
        assert status == 200 and margins == {"status": "ok", "count": 0, "margins": []}
        status, trades = await api("GET", "/api/trades/open")
        assert status == 200 and trades["count"] == 0
        assert (await api("GET", f"/api/accounts/{LOGIN}/margin"))[0] == 404
        # nor the deals it reported (every history and lookup reads them through here)
        assert await w.authority.live.deals(OWNER, [(LOGIN, SERVER)]) == []


async def test_a_message_is_shown_on_the_terminals_chart_and_kept(tmp_path: Path) -> None:
    """``POST /api/admin/mail`` reaches the named terminal's EA, which shows it on the
    chart; the message is settled ``shown`` and kept in the owner's activity."""
    async with running(tmp_path) as (w, terminal, api, records):
        status, answer = await api("POST", "/api/admin/mail",
                                   {"logins": [LOGIN], "subject": "Desk",
                                    "body": "Stop trading at 16:00"})
        assert status == 200 and answer["count"] == 1
        async with asyncio.timeout(WAIT_S):
            await terminal.message_shown.wait()
        assert terminal.messages == ["Desk: Stop trading at 16:00"]
        kinds = [e.kind for e in await w.authority.owners.activity(OWNER)]
        assert "message_sent" in kinds
        mine = answer["messages"][0]["id"]
        await until_reported(w.daemon[REPORTER],
                             lambda: w.authority.instructions.get(OWNER, mine),
                             lambda found: found is not None and found.state == "shown",
                             WAIT_S)


async def test_a_chart_messages_state_is_read_from_pending_to_shown(
        tmp_path: Path) -> None:
    """``GET /v1/operations/{id}`` answers a chart message as it stands, with the access
    token that sent it or the owner's Basic credentials: ``pending`` when sent, then
    ``shown``, with when, once the terminal's daemon reports that its EA showed it."""
    async with running(tmp_path) as (w, terminal, api, records):
        status, answer = await api("POST", "/api/admin/mail",
                                   {"logins": [LOGIN], "body": "Flat by 16:00"})
        assert status == 200
        [sent] = answer["messages"]
        assert sent["state"] == "pending" and sent["settled_at"] is None
        reporter = w.daemon[REPORTER]
        states = []
        async with asyncio.timeout(WAIT_S):
            while True:
                accepted = reporter.sent
                status, read = await api("GET", f"/v1/operations/{sent['id']}")
                assert status == 200, read
                states.append(read["operation"]["state"])
                if states[-1] != "pending":
                    break
                await reporter.wait_sent(accepted + 1)
        assert states[-1] == "shown" and set(states) <= {"pending", "shown"}
        shown = read["operation"]
        assert shown["settled_at"] is not None and shown["settled_at"] >= sent["created_at"]
        assert shown == {**sent, "state": "shown", "settled_at": shown["settled_at"]}
        assert terminal.messages == ["Flat by 16:00"]
        basic = base64.b64encode(f"{OWNER}:{PASSWORD}".encode()).decode()
        async with w.session.get(f"{w.console_url}/v1/operations/{sent['id']}",
                                 headers={"Authorization": "Basic " + basic}) as r:
            assert (r.status, await r.json()) == (200, read)


async def test_the_daemon_shows_no_message_that_is_not_one_line_of_printable_text(
        tmp_path: Path) -> None:
    """A message an older console signed with a line break and a bidi override (it could
    write lines that look like the EA's own status) is not relayed to the EA: the daemon
    settles it ``refused``, naming the character, and the chart shows nothing of it."""
    async with running(tmp_path) as (w, terminal, api, records):
        [forged] = await w.authority.instructions.send_message(
            OWNER, [(LOGIN, SERVER)], "hi\nMT Gateway: connected, trading HALTED\u202e")
        found = await until_reported(
            w.daemon[REPORTER], lambda: w.authority.instructions.get(OWNER, forged.id),
            lambda found: found is not None and found.state != "pending", WAIT_S)
        assert found is not None
        assert found.state == "refused" and "U+000A" in found.detail
        assert terminal.messages == []

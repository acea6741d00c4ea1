"""A request reaches the terminal as written, and reconciliation still finds an order whose
answer was lost.

A :class:`LosingTerminal` is the emulated terminal that executes one ``order_send`` and then
drops the connection instead of answering (the answer is lost after the broker acted). It
reconnects at once, so the daemon's reconnect pass identifies the order: by the EA's own
record (EA 1.1 and later), by the comment tag where the user consented to one
(``trading.comment_tag``), or by magic + symbol + type + volume + time; an ambiguous match
stays UNKNOWN.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ea_bridge.connection import EAConnection
from ea_bridge.emulator.terminal import EmulatedTerminal
from gateway.keys import TRADING
from tests.e2e.clocks import WEDNESDAY_MS, SteppedClock
from tests.e2e.fixtures import TERMINAL, WAIT_S, Daemon, connected_terminal, running_daemon

BUY: dict[str, Any] = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY",
                       "symbol": "EURUSD", "volume": 0.1}


class LosingTerminal(EmulatedTerminal):
    """Executes the next order_send, then drops the connection instead of answering."""

    lose_next = False
    #: Set to make the "broker" rewrite the comment of the order it executes.
    rewrite_comment: str | None = None

    def _answer(self, conn: EAConnection, request_id: int, method: str,
                params: dict[str, Any]) -> None:
        if method == "order_send" and self.rewrite_comment is not None:
            params = {**params, "request": {**params["request"],
                                            "comment": self.rewrite_comment}}
        if method == "order_send" and self.lose_next:
            self.lose_next = False
            self.order_send(**params)  # executed (and recorded in the EA's map) ...
            assert self._writer is not None
            self._writer.transport.abort()  # ... but the answer never leaves
            return
        super()._answer(conn, request_id, method, params)


class OldLosingTerminal(LosingTerminal):
    """An EA before protocol 1.1: no client_id map."""

    ea_version = "1.0.0"


@pytest.fixture
async def tagging(tmp_path: Path) -> AsyncIterator[Daemon]:
    """A daemon whose user consented to the comment tag (``trading.comment_tag``)."""
    async with running_daemon(tmp_path, trading={"comment_tag": True}) as running:
        yield running


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock(WEDNESDAY_MS)


@pytest.fixture
async def terminal(daemon: Daemon, clock: SteppedClock) -> AsyncIterator[LosingTerminal]:
    async with connected_terminal(daemon, LosingTerminal, symbols=("EURUSD",),
                                  utc_clock_ms=clock) as t:
        yield t


@pytest.fixture
async def old_terminal(daemon: Daemon, clock: SteppedClock) -> AsyncIterator[LosingTerminal]:
    async with connected_terminal(daemon, OldLosingTerminal, symbols=("EURUSD",),
                                  utc_clock_ms=clock) as t:
        yield t


async def _status(daemon: Daemon, client_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = (await daemon.call("order_status", {"client_id": client_id}))[
        "result"]
    return answer


async def _lose(daemon: Daemon, terminal: LosingTerminal,
                request: dict[str, Any]) -> dict[str, Any]:
    """Send ``request``, lose its answer, wait for the reconnect pass; the order_status."""
    terminal.lose_next = True
    error = (await daemon.call("order_send", {"request": request}))["error"]
    assert (error["code"], error["data"]["state"]) == (-32003, "UNKNOWN"), error
    await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
    reconciler = daemon.app[TRADING].reconciler
    async with asyncio.timeout(WAIT_S):
        while (await _status(daemon, request["client_id"]))["state"] == "UNKNOWN" \
                and reconciler.reconciling(TERMINAL):
            await reconciler.wait_reconciled(TERMINAL)
    return await _status(daemon, request["client_id"])


async def test_users_comment_is_kept(daemon: Daemon, terminal: LosingTerminal) -> None:
    """A comment the user wrote reaches the broker as written; without one, none (the
    package's empty comment: issue 33, it was the g: tag), and magic 0."""
    mine = (await daemon.call("order_send", {"request": {**BUY, "comment": "grid L3 #7",
                                                         "client_id": "mine"}}))["result"]
    tagged = (await daemon.call("order_send", {"request": {**BUY,
                                                           "client_id": "tagged"}}))["result"]
    comments = {p["ticket"]: (p["comment"], p["magic"])
                for p in terminal.broker.positions_get()}
    assert comments == {mine["order"]: ("grid L3 #7", 0), tagged["order"]: ("", 0)}


async def test_lost_order_is_found_by_the_eas_map(daemon: Daemon,
                                                  terminal: LosingTerminal) -> None:
    """EA 1.1 records the broker's answer per client_id: the pass resolves from it."""
    status = await _lose(daemon, terminal, {**BUY, "comment": "my strategy",
                                            "client_id": "by-map"})
    [position] = terminal.broker.positions_get()
    assert (status["state"], status["ticket"], status["result"]["identified_by"]) == (
        "RESOLVED_ACCEPTED", position["ticket"], "ea_map")
    assert position["comment"] == "my strategy"
    again = (await daemon.call("order_send", {"request": {**BUY, "comment": "my strategy",
                                                          "client_id": "by-map"}}))["result"]
    assert (again["order"], again["deduplicated"]) == (position["ticket"], True)
    assert terminal.broker.positions_total() == 1


async def test_rejection_in_the_eas_map_resolves_not_executed(
        daemon: Daemon, terminal: LosingTerminal) -> None:
    """A lost answer whose EA record is a rejection (10014) is RESOLVED_NOT_FOUND at once."""
    status = await _lose(daemon, terminal, {**BUY, "volume": 0.015, "client_id": "refused"})
    assert (status["state"], status["retcode"], status["reconcile_passes"]) == (
        "RESOLVED_NOT_FOUND", 10014, 0)


async def test_lost_order_is_found_by_its_tag_with_consent(tagging: Daemon,
                                                           clock: SteppedClock) -> None:
    """Without the EA's record (EA 1.0), an order without a user comment is found by its g:
    tag when the user consented to the tag."""
    async with connected_terminal(tagging, OldLosingTerminal, symbols=("EURUSD",),
                                  utc_clock_ms=clock) as old_terminal:
        status = await _lose(tagging, old_terminal, {**BUY, "client_id": "by-tag"})
        [position] = old_terminal.broker.positions_get()
    assert position["comment"] == "g:by-tag"
    assert (status["state"], status["ticket"], status["result"]["identified_by"]) == (
        "RESOLVED_ACCEPTED", position["ticket"], "tag")


async def test_lost_untagged_order_of_an_old_ea_is_found_by_its_shape(
        daemon: Daemon, old_terminal: LosingTerminal) -> None:
    """Without the EA's record (EA 1.0) and without consent to a tag, the order went as
    written (no comment, magic 0) and is found by its shape."""
    status = await _lose(daemon, old_terminal, {**BUY, "client_id": "no-tag"})
    [position] = old_terminal.broker.positions_get()
    assert (position["comment"], position["magic"]) == ("", 0)
    assert (status["state"], status["ticket"], status["result"]["identified_by"]) == (
        "RESOLVED_ACCEPTED", position["ticket"], "match")


@pytest.mark.parametrize("rewrite", [None, "from #1042"])
async def test_lost_order_is_found_by_its_shape(daemon: Daemon, old_terminal: LosingTerminal,
                                                rewrite: str | None) -> None:
    """A user comment (or one the broker rewrote) is found by magic, symbol, type, volume
    and time, while an older order of the same shape owned by another row is passed over."""
    owned = (await daemon.call("order_send", {"request": {
        **BUY, "comment": "same shape", "client_id": "owned"}}))["result"]
    old_terminal.rewrite_comment = rewrite
    status = await _lose(daemon, old_terminal, {**BUY, "comment": "same shape",
                                                "client_id": "by-shape"})
    tickets = {p["ticket"] for p in old_terminal.broker.positions_get()} - {owned["order"]}
    assert (status["state"], {status["ticket"]}, status["result"]["identified_by"]) == (
        "RESOLVED_ACCEPTED", tickets, "match")


async def test_ambiguous_match_stays_unknown_and_is_reported(
        daemon: Daemon, old_terminal: LosingTerminal) -> None:
    """Two orders of the same shape, neither owned by a row -- one placed by hand (magic 0,
    as the package's orders without one) -- and no EA record: UNKNOWN, both tickets
    reported, no pass counted as a miss, and a retry still answers -32003 without sending."""
    manual = old_terminal.broker.order_send({
        "action": 1, "type": 0, "symbol": "EURUSD", "volume": 0.1, "type_filling": 0,
        "magic": 0, "comment": "placed by hand"})
    status = await _lose(daemon, old_terminal, {**BUY, "comment": "x", "client_id": "twin"})
    tickets = sorted(p["ticket"] for p in old_terminal.broker.positions_get())
    assert manual["order"] in tickets and len(tickets) == 2
    assert (status["state"], status["ambiguous_tickets"], status["reconcile_passes"]) == (
        "UNKNOWN", tickets, 0)
    retry = (await daemon.call("order_send", {"request": {**BUY, "comment": "x",
                                                          "client_id": "twin"}}))["error"]
    assert retry["code"] == -32003
    assert old_terminal.broker.positions_total() == 2
    audit = daemon.app[TRADING].journal.audit()
    assert [a.event for a in audit if a.client_id == "twin"][-2:] == ["ambiguous",
                                                                      "deduplicated"]

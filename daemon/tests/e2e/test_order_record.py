"""The EA's order record can never answer another request (issue 16 F1, F2), end to end: the
real daemon and the real emulated terminal on loopback sockets, as EA 1.1 and as EA 1.2.

* F1: a broker answer of 10012 TIMEOUT after the deal was made is recorded by the EA as it was
  answered; that retcode proves nothing, but the order ticket the record names is found at the
  broker (a deal of it), so the periodic pass resolves the row ``RESOLVED_ACCEPTED`` with its
  ticket, though the order carries no tag (it used to settle ``RESOLVED_NOT_FOUND`` from the
  record, telling the bot to trade again beside an open position).
* F2: a ``client_id`` used again under a new token pasted into the same EA is a new order: it
  executes, under its own ticket (it used to be answered from the old order's record, and
  nothing executed).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ea_bridge.emulator.terminal import EmulatedTerminal
from tests.e2e.clocks import WEDNESDAY_MS, SteppedClock
from tests.e2e.fixtures import TERMINAL, WAIT_S, Daemon, connected_terminal, running_daemon
from tests.testkit import MS

BUY: dict[str, Any] = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY",
                       "symbol": "EURUSD", "volume": 0.01}


class OldRecordTerminal(EmulatedTerminal):
    """An EA of protocol 1.1: takes the key as ``client_id``, records no request echo."""

    ea_version = "1.1.0"


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    async with running_daemon(tmp_path, trading={"reconcile_interval_s": 0.2}) as running:
        yield running


async def _settled(daemon: Daemon, client_id: str, token: str | None = None) -> dict[str, Any]:
    """order_status once the row has left UNKNOWN (the periodic pass settles it)."""
    async with asyncio.timeout(WAIT_S):
        while True:
            status: dict[str, Any] = (await daemon.call("order_status", [client_id],
                                                        token=token))["result"]
            if status["state"] != "UNKNOWN":
                return status
            await asyncio.sleep(50 * MS)


@pytest.mark.parametrize("cls", [OldRecordTerminal, EmulatedTerminal])
async def test_a_timeout_answer_with_a_fill_resolves_to_the_position(
        daemon: Daemon, cls: type[EmulatedTerminal]) -> None:
    """F1: 10012 with a fill is -32003, then RESOLVED_ACCEPTED with the position's ticket,
    found by the ticket the EA's record names (the order was sent as written: no tag, magic
    0); a retry answers that outcome and nothing executes twice."""
    async with connected_terminal(daemon, cls, symbols=("EURUSD",),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)) as terminal:
        terminal.answer_next(10012)
        error = (await daemon.call("order_send", {"request": {**BUY, "client_id": "t3f1"}}
                                   ))["error"]
        assert (error["code"], error["data"]) == (-32003, {"client_id": "t3f1",
                                                           "state": "UNKNOWN"})
        assert "10012 TRADE_RETCODE_TIMEOUT" in error["message"]
        status = await _settled(daemon, "t3f1")
        [position] = terminal.broker.positions_get()
        assert (status["state"], status["ticket"]) == ("RESOLVED_ACCEPTED", position["ticket"])
        assert (position["comment"], position["magic"]) == ("", 0)
        assert (status["result"]["identified_by"], status["retcode"]) == ("ea_map", 10009)
        again = (await daemon.call("order_send", {"request": {**BUY, "client_id": "t3f1"}}
                                   ))["result"]
        assert (again["order"], again["deduplicated"]) == (position["ticket"], True)
        assert terminal.broker.positions_total() == 1


@pytest.mark.parametrize("cls", [OldRecordTerminal, EmulatedTerminal])
async def test_a_client_id_reused_under_a_new_token_is_a_new_order(
        daemon: Daemon, cls: type[EmulatedTerminal]) -> None:
    """F2: sig-1 under token A buys; the EA gets token B; sig-1 under B (a sell of another
    size) executes as its own order, and each token's order_status names its own ticket."""
    async with connected_terminal(daemon, cls, symbols=("EURUSD",),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)) as terminal:
        first = (await daemon.call("order_send", {"request": {**BUY, "client_id": "sig-1"}}
                                   ))["result"]
        assert first["retcode"] == 10009
        second_token = await daemon.issue()
        terminal.paste_token(second_token.token)
        await daemon.bridge.wait_for_terminal_down(TERMINAL, WAIT_S)
        session = await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        assert session.token_id == second_token.token_id
        sell = {**BUY, "type": "ORDER_TYPE_SELL", "volume": 0.02, "client_id": "sig-1"}
        second = (await daemon.call("order_send", {"request": sell},
                                    token=second_token.token))["result"]
        assert (second["retcode"], second["deduplicated"]) == (10009, False)
        assert second["order"] != first["order"]
        positions = {p["ticket"]: p for p in terminal.broker.positions_get()}
        assert set(positions) == {first["order"], second["order"]}
        assert (positions[second["order"]]["type"], positions[second["order"]]["volume"]) == (
            1, 0.02)
        mine = (await daemon.call("order_status", ["sig-1"], token=second_token.token))["result"]
        assert (mine["state"], mine["ticket"]) == ("ACCEPTED", second["order"])


async def test_an_answer_for_another_request_is_not_trusted(daemon: Daemon) -> None:
    """EA 1.2: an answer whose request echo is not the request sent is not taken as this
    order's outcome (-32003 saying why); the EA's record, whose echo matches, then settles it."""

    class WrongEcho(EmulatedTerminal):
        """Answers with another request's echo; records the true result."""

        def order_send(self, request: dict[str, Any], client_id: str | None = None,
                       order_key: str | None = None) -> Any:
            result = super().order_send(request, client_id, order_key)
            return {**result, "request": {**result["request"], "symbol": "BTCUSD"}}

    async with connected_terminal(daemon, WrongEcho, symbols=("EURUSD",),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)) as terminal:
        error = (await daemon.call("order_send", {"request": {**BUY, "client_id": "echo"}}
                                   ))["error"]
        assert error["code"] == -32003
        assert "symbol 'EURUSD' was sent, the record says 'BTCUSD'" in error["message"]
        status = await _settled(daemon, "echo")
        [position] = terminal.broker.positions_get()
        assert (status["state"], status["ticket"], status["result"]["identified_by"]) == (
            "RESOLVED_ACCEPTED", position["ticket"], "ea_map")

"""One conformance suite, two terminals: every test runs against the Python emulator and against
the compiled MQL5 EA (on a fixture made from the same emulator), through the real daemon's /rpc.
What passes for one must pass for the other; a difference is a bug in one of them. What of it
holds on any terminal, not only on this fixture, is also ``mtgateway check``
(gateway/selfcheck), which owners run against their own terminal and test_selfcheck.py runs
against these terminals. The tests MetaTrader 4 must pass too are written in
``daemon/tests/ea_mql/conformance.py``; those only MetaTrader 5 can pass are here."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import mtgateway.aio as amt5
from daemon.tests.ea_mql.conformance import (
    TICK_COLUMNS,
    all_pages,
    error,
    result,
    test_check_send_and_close,
    test_rates,
    test_rejections_are_results,
    test_session_reads,
    test_symbol_reads,
    test_trading_reads,
)
from daemon.tests.ea_mql.conftest import SYMBOLS, TICK_RATE_HZ
from daemon.tests.ea_mql.eakit import CompiledEA
from gateway.trading.reconcile import ECHO_FIELDS
from tests.aiokit import connected, take
from tests.e2e.fixtures import TERMINAL, WAIT_S, Daemon, connected_terminal

# the tests every terminal must pass, run here against this module's terminal fixture
__all__ = ["test_check_send_and_close", "test_rates", "test_rejections_are_results",
           "test_session_reads", "test_symbol_reads", "test_trading_reads"]


@pytest.fixture(params=["emulator", "compiled_ea"])
async def terminal(request: pytest.FixtureRequest, daemon: Daemon) -> AsyncIterator[str]:
    """A terminal connected to ``daemon``: the emulator, or the EA on the emulator's fixture."""
    kind: str = request.param
    async with contextlib.AsyncExitStack() as stack:
        if kind == "emulator":
            await stack.enter_async_context(connected_terminal(
                daemon, symbols=SYMBOLS, tick_rate_hz=TICK_RATE_HZ))
        else:
            binary: Path = request.getfixturevalue("ea_binary")
            fixture: Path = request.getfixturevalue("fixture_file")
            await stack.enter_async_context(CompiledEA(binary, fixture, token=daemon.token,
                                                       port=daemon.bridge.port))
            await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        yield kind


async def test_tick_history_pages(daemon: Daemon, terminal: str) -> None:
    now = (await result(daemon, "server_time"))["time"]
    query = {"symbol": "BTCUSD", "date_from": now - 600, "date_to": now - 60,
             "flags": "COPY_TICKS_ALL"}
    whole = await result(daemon, "copy_ticks_range", {**query, "limit": 100_000})
    assert whole["columns"] == TICK_COLUMNS and whole["next_cursor"] is None
    assert len(whole["rows"]) > 500
    times = [r[5] for r in whole["rows"]]
    assert times == sorted(times) and now - 600 <= times[0] // 1000
    assert await all_pages(daemon, "copy_ticks_range", {**query, "limit": 200}) == whole["rows"]
    counted = await result(daemon, "copy_ticks_from", {"symbol": "BTCUSD", "date_from": now - 600,
                                                       "count": 123, "flags": -1})
    assert len(counted["rows"]) == 123 and counted["rows"] == whole["rows"][:123]


async def test_market_depth(daemon: Daemon, terminal: str) -> None:
    """market_book_get before market_book_add is -32602; after it the book is BookInfo levels
    (sells from the ask up, then buys from the bid down, prices descending); the ``book``
    channel on /ws streams it through the aio client's books() (OnBookEvent in the EA);
    release answers true once, then false; an unknown symbol is -32006."""
    assert (await error(daemon, "market_book_get", {"symbol": "BTCUSD"}))["code"] == -32602
    assert await result(daemon, "market_book_add", {"symbol": "BTCUSD"}) is True
    book = await result(daemon, "market_book_get", {"symbol": "BTCUSD"})
    assert [set(level) for level in book] == [{"type", "price", "volume", "volume_dbl"}] * 10
    assert [level["type"] for level in book] == [1] * 5 + [2] * 5
    prices = [level["price"] for level in book]
    assert prices == sorted(prices, reverse=True) and prices[4] > prices[5]
    assert all(level["volume_dbl"] > 0 and level["volume"] >= 1 for level in book)
    assert await result(daemon, "market_book_release", {"symbol": "BTCUSD"}) is True
    assert await result(daemon, "market_book_release", {"symbol": "BTCUSD"}) is False
    assert (await error(daemon, "market_book_add", {"symbol": "NOPE"}))["code"] == -32006
    async with connected(f"http://127.0.0.1:{daemon.http_port}", daemon.token) as client:
        books = await take(client.books(["BTCUSD"]), 2)
    assert [b.seq for b in books] == [1, 2]  # type: ignore[union-attr]
    for item in books:
        assert isinstance(item, amt5.StreamBook) and item.symbol == "BTCUSD"
        assert [level.type for level in item.book] == [amt5.BOOK_TYPE_SELL] * 5 + [
            amt5.BOOK_TYPE_BUY] * 5


async def test_the_order_record_of_protocol_1_2(daemon: Daemon, terminal: str) -> None:
    """Protocol 1.2 on the wire (docs/protocol.md, "The order record"): the terminal says EA
    1.2.0; an ``order_send`` under the daemon's ``order_key`` is recorded with the request it
    executed, the same key again is answered from the record without executing, and
    ``trade_results`` answers the keys it holds, unknown ones absent."""
    b = daemon.bridge
    session = await b.wait_for_terminal(TERMINAL, WAIT_S)
    assert session.hello.ea_version == "1.3.0"
    buy = {"action": 1, "type": 0, "symbol": "BTCUSD", "volume": 0.01}
    key = "cOnF0rm4nce-1_2abcdefg"
    sent = await b.call(TERMINAL, "order_send", {"request": buy, "order_key": key}, WAIT_S)
    assert sent["retcode"] == 10009 and sent["order"] > 0
    assert {k: sent["request"][k] for k in ECHO_FIELDS} == {
        "action": 1, "symbol": "BTCUSD", "volume": 0.01, "type": 0, "position": 0, "order": 0}
    again = await b.call(TERMINAL, "order_send", {"request": buy, "order_key": key}, WAIT_S)
    assert again == sent
    assert await b.call(TERMINAL, "positions_total", {}, WAIT_S) == 1
    assert await b.call(TERMINAL, "trade_results",
                        {"order_keys": [key, "not-a-key-it-has-seen"]}, WAIT_S) == {key: sent}

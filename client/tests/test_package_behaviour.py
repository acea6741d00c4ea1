"""Issue 20 item 2: the package's behaviour where scripts rely on it, against the real daemon.

Unknown request keys are ignored as the package ignores them, with one ``UserWarning`` naming
each; numpy numbers are accepted wherever the package takes a number; a bad argument answers
``None`` (``False``) with ``RES_E_INVALID_PARAMS``, never an exception.
"""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import numpy as np
import pytest

import mtgateway as mt5
import mtgateway.aio
from client.tests.conftest import base_url
from ea_bridge.emulator.terminal import EmulatedTerminal
from tests.e2e.fixtures import Daemon


def connect(daemon: Daemon) -> mt5.Client:
    client = mt5.Client()
    assert client.initialize(token=daemon.token, url=base_url(daemon)), client.last_error()
    return client


def buy_request(symbol: str, volume: Any) -> dict[str, Any]:
    return {"action": mt5.TRADE_ACTION_DEAL, "symbol": symbol, "volume": volume,
            "type": mt5.ORDER_TYPE_BUY}


async def test_an_unknown_request_key_is_ignored_with_one_warning(
        daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """order_check with a typo'd key answers as without it, warns once naming the key."""
    def run() -> None:
        with connect(daemon) as client:
            request = {**buy_request("BTCUSD", 0.01), "stoploss_typo_once": 1.0}
            with pytest.warns(UserWarning, match="'stoploss_typo_once'"):
                first = client.order_check(request)
            assert first is not None, client.last_error()
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a second warning would raise here
                again = client.order_check(request)
            assert again is not None and again.retcode == first.retcode
    await asyncio.to_thread(run)


async def test_numpy_numbers_are_accepted_where_the_package_takes_numbers(
        daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """numpy ints and floats as arguments and inside a request, as the package accepts them."""
    def run() -> None:
        with connect(daemon) as client:
            rates = client.copy_rates_from_pos("BTCUSD", np.int64(mt5.TIMEFRAME_M1),
                                               np.int32(0), np.int64(25))
            assert rates is not None and len(rates) == 25, client.last_error()
            tick = client.symbol_info_tick("BTCUSD")
            assert tick is not None
            margin = client.order_calc_margin(np.int64(mt5.ORDER_TYPE_BUY), "BTCUSD",
                                              np.float64(0.01), np.float64(tick.ask))
            assert isinstance(margin, float) and margin > 0, client.last_error()
            check = client.order_check(buy_request("BTCUSD", np.float64(0.01)))
            assert check is not None, client.last_error()
    await asyncio.to_thread(run)


async def test_bad_arguments_answer_none_never_raise(daemon: Daemon,
                                                     terminal: EmulatedTerminal) -> None:
    """A non-dict request, an object JSON cannot carry, NaN, a wrong type: None (False) and
    RES_E_INVALID_PARAMS, as the package answers."""
    def run() -> None:
        with connect(daemon) as client:
            for bad in ("not a dict", None, [1, 2], {"action": object()},
                        buy_request("BTCUSD", float("nan"))):
                assert client.order_send(bad) is None, bad  # type: ignore[arg-type]
                assert client.last_error()[0] == mt5.RES_E_INVALID_PARAMS, client.last_error()
                assert client.order_check(bad) is None, bad  # type: ignore[arg-type]
                assert client.last_error()[0] == mt5.RES_E_INVALID_PARAMS, client.last_error()
            assert client.symbol_info(object()) is None  # type: ignore[arg-type]
            assert client.last_error()[0] == mt5.RES_E_INVALID_PARAMS
            assert client.symbol_select(12345) is False  # type: ignore[arg-type]
            assert client.last_error()[0] == mt5.RES_E_INVALID_PARAMS
            assert client.copy_rates_from_pos("BTCUSD", "M1", 0, 10) is None
            assert client.last_error()[0] == mt5.RES_E_INVALID_PARAMS
            assert client.account_info() is not None  # the connection is still good
    await asyncio.to_thread(run)


# What follows is each answer of the package's that code written against terminals relies on,
# with its source: the package's own Python (MetaTrader5/__init__.py 5.0.6231), the texts of
# its C extension (_core.pyd), or a terminal's answer published with third-party code.

async def test_raw_order_is_the_packages_deal_request(daemon: Daemon,
                                                      terminal: EmulatedTerminal) -> None:
    """``mt5._RawOrder(order_type, symbol, volume, price, comment, ticket)``, the module-level
    function the package's Buy/Sell/Close send through (pymt5adapter takes it at import),
    opens a deal with the comment, and with a ticket closes that position."""
    def run() -> None:
        assert mt5.initialize(token=daemon.token, url=base_url(daemon)), mt5.last_error()
        try:
            tick = mt5.symbol_info_tick("BTCUSD")
            assert tick is not None, mt5.last_error()
            opened = mt5._RawOrder(mt5.ORDER_TYPE_BUY, "BTCUSD", 0.01, tick.ask, "raw order")
            assert opened is not None and opened.retcode == mt5.TRADE_RETCODE_DONE, opened
            assert opened.request.deviation == 10 and opened.request.position == 0
            (position,) = mt5.positions_get(symbol="BTCUSD") or ()
            assert position.comment == "raw order"
            tick = mt5.symbol_info_tick("BTCUSD")
            assert tick is not None
            closed = mt5._RawOrder(mt5.ORDER_TYPE_SELL, "BTCUSD", 0.01, tick.bid, None,
                                   position.ticket)
            assert closed is not None and closed.retcode == mt5.TRADE_RETCODE_DONE, closed
            assert mt5.positions_get(symbol="BTCUSD") == ()
        finally:
            mt5.shutdown()
    await asyncio.to_thread(run)


async def test_arguments_the_package_refuses_answer_none_never_type_error(
        daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """An unknown keyword (mcp-metatrader5-server's ``symbol``/``from``, pymt5adapter's
    ``datetime_from``) answers None, False for the boolean functions, with ``(-2, 'Invalid
    arguments')`` as the package does (pymt5adapter's README shows a terminal's answer); a wrong
    count with its ``(-2, 'Invalid number of arguments')``; the client stays usable."""
    def run() -> None:
        with connect(daemon) as client:
            assert client.history_deals_get(symbol="BTCUSD", **{"from": 1, "to": 2}) is None
            assert client.last_error() == (mt5.RES_E_INVALID_PARAMS, "Invalid arguments")
            assert "symbol" in client.last_error().data["reason"]
            assert client.history_orders_get(datetime_from=1, datetime_to=2) is None
            assert client.last_error() == (mt5.RES_E_INVALID_PARAMS, "Invalid arguments")
            assert client.symbol_select("BTCUSD", visible=True) is False
            assert client.last_error() == (mt5.RES_E_INVALID_PARAMS, "Invalid arguments")
            assert client.symbol_info_tick("BTCUSD", 4) is None  # type: ignore[call-arg]
            assert client.last_error() == (mt5.RES_E_INVALID_PARAMS,
                                           "Invalid number of arguments")
            assert client.copy_rates_from_pos("BTCUSD") is None  # type: ignore[call-arg]
            assert client.last_error() == (mt5.RES_E_INVALID_PARAMS,
                                           "Invalid number of arguments")
            assert client.account_info() is not None
            assert client.last_error() == (1, "Success")
            assert client.initialize(token=daemon.token, url=base_url(daemon),
                                     not_a_setting=1) is False
            assert client.last_error() == (mt5.RES_E_INVALID_PARAMS, "Invalid arguments")
    await asyncio.to_thread(run)
    async with mt5.aio.AsyncClient() as aclient:
        assert await aclient.initialize(token=daemon.token, url=base_url(daemon))
        assert await aclient.history_deals_get(symbol="BTCUSD") is None
        assert aclient.last_error() == (mt5.RES_E_INVALID_PARAMS, "Invalid arguments")
        assert await aclient.market_book_add() is False  # type: ignore[call-arg]
        assert aclient.last_error() == (mt5.RES_E_INVALID_PARAMS,
                                        "Invalid number of arguments")


async def test_a_call_before_initialize_answers_the_packages_no_ipc_connection() -> None:
    """Before ``initialize`` (and after ``shutdown``) a call answers None with the package's
    ``(-10004, 'No IPC connection')``, the text its C extension holds for it."""
    client = mt5.Client()
    assert client.account_info() is None
    assert client.last_error() == (mt5.RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")
    async with mt5.aio.AsyncClient() as aclient:
        assert await aclient.positions_total() is None
        assert aclient.last_error() == (mt5.RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")


async def test_shutdown_answers_true(daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """``shutdown()`` answers True, as a terminal does (pymt5adapter's README call log:
    ``[shutdown()][(1, 'Success')][True]``), connected or not; agent servers take a false
    answer for a failed disconnect."""
    def run() -> None:
        client = connect(daemon)
        assert client.shutdown() is True
        assert client.last_error() == (1, "Success")
        assert client.shutdown() is True
        assert mt5.shutdown() is True
    await asyncio.to_thread(run)
    aclient = mt5.aio.AsyncClient()
    assert await aclient.initialize(token=daemon.token, url=base_url(daemon))
    assert await aclient.shutdown() is True


async def test_a_ticket_or_position_of_zero_selects_nothing(
        daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """``positions_get(ticket=0)`` and the other reads by a ticket or position of 0 answer an
    empty tuple with ``(1, 'Success')``, as the package does (pymt5adapter's tests, run on a
    terminal, assert it), even with a position open: no MT5 ticket is 0."""
    def run() -> None:
        with connect(daemon) as client:
            opened = client.order_send(buy_request("BTCUSD", 0.01))
            assert opened is not None and opened.retcode == mt5.TRADE_RETCODE_DONE, opened
            reads = {"positions_get": client.positions_get(ticket=0),
                     "orders_get": client.orders_get(ticket=0),
                     "history_orders_get ticket": client.history_orders_get(ticket=0),
                     "history_orders_get position": client.history_orders_get(position=0),
                     "history_deals_get ticket": client.history_deals_get(ticket=0),
                     "history_deals_get position": client.history_deals_get(position=0)}
            assert reads == dict.fromkeys(reads, ())
            assert client.last_error() == (1, "Success")
            assert len(client.positions_get(ticket=opened.order) or ()) == 1
    await asyncio.to_thread(run)

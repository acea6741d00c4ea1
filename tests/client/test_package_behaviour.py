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
from ea_bridge.emulator.terminal import EmulatedTerminal
from tests.client.conftest import base_url
from tests.e2e.conftest import Daemon


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

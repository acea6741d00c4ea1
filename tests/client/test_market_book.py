"""Issue 20 item 3, daemon and emulator part: market_book_add / get / release end to end, from
the package-style client through the real daemon to the emulated terminal."""

from __future__ import annotations

import asyncio

import mtgateway as mt5
from ea_bridge.emulator.terminal import EmulatedTerminal
from tests.client.conftest import base_url
from tests.e2e.conftest import Daemon


async def test_market_depth_through_the_daemon(daemon: Daemon,
                                               terminal: EmulatedTerminal) -> None:
    """get before add fails (RES_E_INVALID_PARAMS); after add the book is BookInfo levels,
    sells above the ask then buys below the bid, as MT5 orders them; release answers True
    once, then False; an unknown symbol fails with RES_E_NOT_FOUND."""
    def run() -> None:
        with mt5.Client() as client:
            assert client.initialize(token=daemon.token, url=base_url(daemon))
            assert client.market_book_get("BTCUSD") is None
            assert client.last_error()[0] == mt5.RES_E_INVALID_PARAMS
            assert client.market_book_add("BTCUSD") is True
            book = client.market_book_get("BTCUSD")
            tick = client.symbol_info_tick("BTCUSD")
            assert book is not None and tick is not None, client.last_error()
            assert all(isinstance(level, mt5.BookInfo) for level in book)
            sells = [b for b in book if b.type == mt5.BOOK_TYPE_SELL]
            buys = [b for b in book if b.type == mt5.BOOK_TYPE_BUY]
            assert sells and buys and list(book) == sells + buys
            prices = [b.price for b in book]
            assert prices == sorted(prices, reverse=True)
            assert min(b.price for b in sells) >= tick.ask - 1e-9 or tick.ask == 0
            assert max(b.price for b in buys) <= tick.bid + 1e-9
            assert all(b.volume_dbl > 0 and b.volume >= 1 for b in book)
            assert client.market_book_release("BTCUSD") is True
            assert client.market_book_release("BTCUSD") is False
            assert client.market_book_add("NOPE") is False
            assert client.last_error()[0] == mt5.RES_E_NOT_FOUND
    await asyncio.to_thread(run)

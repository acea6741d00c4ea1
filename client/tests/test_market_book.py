"""Issue 20 item 3: market_book_add / get / release end to end, from the package-style client
through the real daemon to the emulated terminal, and the ``book`` channel on ``/ws`` through
the ``aio`` client's ``books()`` stream."""

from __future__ import annotations

import asyncio

import pytest

import mtgateway as mt5
import mtgateway.aio as amt5
from client.tests.conftest import base_url
from ea_bridge.emulator.terminal import EmulatedTerminal
from tests.aiokit import connected, take
from tests.e2e.fixtures import Daemon


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
            # The book is built from the quote of the moment it was read, and the emulator
            # ticks on: the tick read after it may already be another quote (CI saw the ask
            # move up past the best sell between the two calls). So: the best sell is above
            # the best buy, each side's levels are one point apart, and the book sits at the
            # current quote within a move the symbol cannot make in a moment (0.5 %).
            info = client.symbol_info("BTCUSD")
            assert info is not None
            assert min(b.price for b in sells) > max(b.price for b in buys)
            for side in (sells, buys):
                steps = {round(a.price - b.price, info.digits)
                         for a, b in zip(side[:-1], side[1:], strict=True)}
                assert steps == {round(info.point, info.digits)}, steps
            assert abs(min(b.price for b in sells) - tick.ask) <= 0.005 * tick.ask
            assert abs(max(b.price for b in buys) - tick.bid) <= 0.005 * tick.bid
            assert all(b.volume_dbl > 0 and b.volume >= 1 for b in book)
            assert client.market_book_release("BTCUSD") is True
            assert client.market_book_release("BTCUSD") is False
            assert client.market_book_add("NOPE") is False
            assert client.last_error()[0] == mt5.RES_E_NOT_FOUND
    await asyncio.to_thread(run)


def check_book(book: tuple[mt5.BookInfo, ...]) -> None:
    """Sells above buys, prices descending, every level a BookInfo with volume."""
    assert book and all(isinstance(level, mt5.BookInfo) for level in book)
    sells = [b for b in book if b.type == mt5.BOOK_TYPE_SELL]
    buys = [b for b in book if b.type == mt5.BOOK_TYPE_BUY]
    assert sells and buys and list(book) == sells + buys
    prices = [b.price for b in book]
    assert prices == sorted(prices, reverse=True) and min(s.price for s in sells) > buys[0].price
    assert all(b.volume_dbl > 0 and b.volume >= 1 for b in book)


async def test_books_stream_over_the_websocket(daemon: Daemon,
                                               terminal: EmulatedTerminal) -> None:
    """books() subscribes the symbol, then yields its whole book as the quote moves, seq 1,
    2, 3 without a Gap; closing the stream releases the subscription (market_book_get fails
    again)."""
    async with connected(base_url(daemon), daemon.token) as client:
        books = await take(client.books(["BTCUSD"]), 3)
        assert all(isinstance(b, amt5.StreamBook) and b.symbol == "BTCUSD" for b in books)
        assert [b.seq for b in books] == [1, 2, 3]  # type: ignore[union-attr]
        for item in books:
            assert isinstance(item, amt5.StreamBook)
            check_book(item.book)
        assert await client.market_book_get("BTCUSD") is None
        assert client.last_error().code == mt5.RES_E_INVALID_PARAMS


async def test_books_of_an_unknown_symbol_is_an_error(daemon: Daemon,
                                                      terminal: EmulatedTerminal) -> None:
    """books() of a symbol the terminal does not have raises the daemon's not-found error
    instead of waiting for books that never come."""
    async with connected(base_url(daemon), daemon.token) as client:
        with pytest.raises(amt5.MtGatewayError) as caught:
            await take(client.books(["NOPE"]), 1)
        assert caught.value.error.code == mt5.RES_E_NOT_FOUND

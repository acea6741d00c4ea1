"""Issue 88 item 3: the client answers in the ``MetaTrader5`` package's own words (L1, L3-L8).

Round 8's client-fidelity review found seven places where a call answered in the gateway's
words, or bound its arguments, differently from the package (the binding table of
docs/client.md). Each test here is one row, against the real daemon and emulated terminal
over loopback, on both clients where they differ in nothing but I/O; the package's answer it
holds the client to is named in each docstring with its source (the package's C extension's
texts, terminals' published run logs). BTCUSD trades around the clock in the emulator, so no
test depends on the day.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

import mtgateway as mt5
from client.tests.conftest import base_url
from ea_bridge.emulator.terminal import EmulatedTerminal
from mtgateway.aio import AsyncClient
from mtgateway_console.service import AccountRegistration
from tests.e2e.fixtures import LOGIN, OWNER, SERVER, Daemon

SYMBOL = "BTCUSD"
UNNAMED = (mt5.RES_E_INVALID_PARAMS, "Unnamed arguments not allowed")
NOT_FOUND = (mt5.RES_E_NOT_FOUND, "Terminal: Not found")
CALL_FAILED = (mt5.RES_E_FAIL, "Terminal: Call failed")
INVALID_ARGUMENTS = (mt5.RES_E_INVALID_PARAMS, "Invalid arguments")
SUCCESS = (mt5.RES_S_OK, "Success")
#: A year back (or on) from now, whatever the date (no February 29 to replace).
YEAR = timedelta(days=365)


def connect(daemon: Daemon) -> mt5.Client:
    client = mt5.Client()
    assert client.initialize(token=daemon.token, url=base_url(daemon)), client.last_error()
    return client


def deal(**fields: Any) -> dict[str, Any]:
    """A market buy of the smallest lot, with the filling the emulator's BTCUSD takes."""
    return {"action": mt5.TRADE_ACTION_DEAL, "symbol": SYMBOL, "volume": 0.01,
            "type": mt5.ORDER_TYPE_BUY, "type_filling": mt5.ORDER_FILLING_IOC,
            "deviation": 20, **fields}


# -- L1 ---------------------------------------------------------------------------------------

async def test_positions_and_orders_take_their_selection_by_keyword_only(
        daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """L1: ``positions_get("BTCUSD")``, ``positions_get(None, ticket=T)`` and the same of
    ``orders_get`` answer ``None`` with ``(-2, 'Unnamed arguments not allowed')``, as the
    package does (the text is in its C extension; its docstrings name only keyword forms; a
    build-6231 terminal's notes record both calls answering ``None``), on the synchronous and
    the asyncio client; by keyword, with ``book="live"`` too, they read as before. Before,
    the positional forms answered the position as if named."""
    def run() -> int:
        with connect(daemon) as client:
            opened = client.order_send(deal())
            assert opened is not None and opened.retcode == mt5.TRADE_RETCODE_DONE, opened
            for read in (client.positions_get, client.orders_get):
                for args, kwargs in (((SYMBOL,), {}), ((None,), {"ticket": opened.order}),
                                     ((SYMBOL, "*", opened.order), {}),
                                     ((SYMBOL,), {"book": "live"})):
                    assert read(*args, **kwargs) is None, (read, args, kwargs)
                    assert client.last_error() == UNNAMED, (read, args, kwargs)
            (position,) = client.positions_get(symbol=SYMBOL) or ()
            # the same position (its price and profit move with the ticks between the reads)
            (again,) = client.positions_get(ticket=position.ticket, book="live") or ()
            assert (again.ticket, again.symbol, again.volume) == (
                position.ticket, position.symbol, position.volume)
            assert client.orders_get(symbol=SYMBOL) == ()
            assert client.last_error() == SUCCESS
            return position.ticket
    ticket = await asyncio.to_thread(run)
    async with AsyncClient() as client:
        assert await client.initialize(token=daemon.token, url=base_url(daemon))
        assert await client.positions_get(SYMBOL) is None
        assert client.last_error() == UNNAMED
        assert await client.orders_get(None, ticket=ticket) is None
        assert client.last_error() == UNNAMED
        assert len(await client.positions_get(ticket=ticket) or ()) == 1
    for name in ("positions_get", "orders_get"):
        for function in (getattr(mt5, name), getattr(mt5.aio, name)):
            kinds = {p.kind for p in inspect.signature(function).parameters.values()}
            assert kinds == {inspect.Parameter.KEYWORD_ONLY}, (function, kinds)


# -- L3 ---------------------------------------------------------------------------------------

#: Request fields the package's C code cannot read, each with a value of that kind.
UNREADABLE = [("volume", None), ("volume", "0.01"), ("price", "1.0"), ("magic", "7"),
              ("magic", 7.0), ("comment", 123), ("comment", "x" * 32), ("comment", None),
              ("type", "ORDER_TYPE_BUY"), ("type", "BUY"), ("type", 0.0),
              ("action", "TRADE_ACTION_DEAL"), ("type_filling", "ORDER_FILLING_IOC"),
              ("symbol", 1), ("deviation", 2.5), ("sl", "0"), ("tp", None),
              ("position", "1"), ("expiration", "tomorrow")]


async def test_a_request_field_the_package_cannot_read_is_refused_by_name(
        daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """L3: a field of a type the package does not read (text for a number, a float for an
    integer, ``None``, a comment over 31 characters, a constant's name such as
    ``"ORDER_TYPE_BUY"``) answers ``None`` with ``(-2, 'Invalid "<field>" argument')`` from
    ``order_check`` and ``order_send``, as the package (its C extension holds one such text
    per field; an agent's incident notes show it for a close whose volume was ``None``), and
    nothing is sent: a type given by name is refused, not filled. What the package reads is
    still taken: numpy numbers, an integer volume, a 31-character comment, a ``TradeRequest``.
    Before, ``type="ORDER_TYPE_BUY"`` filled a deal and the rest answered the gateway's
    texts."""
    def run() -> None:
        with connect(daemon) as client:
            for field, value in UNREADABLE:
                request = deal(**{field: value})
                expected = (mt5.RES_E_INVALID_PARAMS, f'Invalid "{field}" argument')
                assert client.order_check(request) is None, (field, value)
                assert client.last_error() == expected, (field, value, client.last_error())
                assert client.order_send(request) is None, (field, value)
                assert client.last_error() == expected, (field, value, client.last_error())
                assert client.last_error().gateway_code is None  # nothing went to the daemon
            assert client.positions_total() == 0
            assert client.history_orders_get(0, datetime.now(UTC)) == ()  # none reached it
            checked = client.order_check(deal(volume=np.float64(0.01), magic=np.int64(7),
                                              comment="x" * 31))
            assert checked is not None and checked.retcode == 0, client.last_error()
            sent = client.order_send(deal(comment="x" * 31, magic=True))
            assert sent is not None and sent.retcode == mt5.TRADE_RETCODE_DONE, sent
            assert client.order_check(sent.request) is not None, client.last_error()
    await asyncio.to_thread(run)
    async with AsyncClient() as client:
        assert await client.initialize(token=daemon.token, url=base_url(daemon))
        assert await client.order_send(deal(type="ORDER_TYPE_SELL")) is None
        assert client.last_error() == (mt5.RES_E_INVALID_PARAMS, 'Invalid "type" argument')
        assert await client.positions_total() == 1


# -- L4 ---------------------------------------------------------------------------------------

async def test_an_unknown_symbol_is_answered_in_the_packages_words(
        daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """L4: a symbol the terminal does not have answers the package's pair, not the gateway's
    text: ``(-4, 'Terminal: Not found')`` where the package's call finds no such symbol
    (``symbol_info``, ``symbol_info_tick``, ``copy_ticks_*``, the book, the calculators;
    terminals' published logs show it for ``symbol_info`` and ``copy_ticks_range``), and
    ``(-1, 'Terminal: Call failed')`` where it fails the read (``copy_rates_*``, measured so
    on a terminal for a symbol its server does not carry; ``symbol_select``). The gateway's
    detail stays: ``.gateway_code`` ``-32006`` and its message in ``.data["reason"]``.
    Before, each was ``(-4, "unknown symbol 'NOPE' (gateway error -32006)")``."""
    now = datetime.now(UTC)
    calls: list[tuple[str, tuple[Any, ...], Any, tuple[int, str]]] = [
        ("symbol_info", ("NOPE",), None, NOT_FOUND),
        ("symbol_info_tick", ("NOPE",), None, NOT_FOUND),
        ("copy_ticks_range", ("NOPE", now - YEAR, now,
                              mt5.COPY_TICKS_ALL), None, NOT_FOUND),
        ("copy_ticks_from", ("NOPE", now - YEAR, 5, mt5.COPY_TICKS_ALL),
         None, NOT_FOUND),
        ("market_book_add", ("NOPE",), False, NOT_FOUND),
        ("order_calc_margin", (mt5.ORDER_TYPE_BUY, "NOPE", 0.01, 1.0), None, NOT_FOUND),
        ("order_calc_profit", (mt5.ORDER_TYPE_BUY, "NOPE", 0.01, 1.0, 1.1), None, NOT_FOUND),
        ("copy_rates_from_pos", ("NOPE", mt5.TIMEFRAME_M1, 0, 5), None, CALL_FAILED),
        ("copy_rates_from", ("NOPE", mt5.TIMEFRAME_M1, now, 5), None, CALL_FAILED),
        ("copy_rates_range", ("NOPE", mt5.TIMEFRAME_M1, now - YEAR, now),
         None, CALL_FAILED),
        ("symbol_select", ("NOPE", True), False, CALL_FAILED),
    ]

    def run() -> None:
        with connect(daemon) as client:
            for name, args, failed, expected in calls:
                assert getattr(client, name)(*args) is failed, name
                error = client.last_error()
                assert error == expected, (name, error)
                assert error.gateway_code == -32006, (name, error.gateway_code)
                assert "NOPE" in error.data["reason"], (name, error.data)
            assert client.symbol_info(SYMBOL) is not None
            assert client.last_error() == SUCCESS
    await asyncio.to_thread(run)
    async with AsyncClient() as client:
        assert await client.initialize(token=daemon.token, url=base_url(daemon))
        assert await client.symbol_info_tick("NOPE") is None
        assert client.last_error() == NOT_FOUND


# -- L5 ---------------------------------------------------------------------------------------

async def test_bars_asked_beyond_the_history_fail_as_the_packages_read(
        daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """L5: ``copy_rates_from_pos`` from a position beyond the bars the terminal holds, and
    ``copy_rates_from`` from a date before its first bar, answer ``None`` with ``(-1,
    'Terminal: Call failed')``: MQL5's ``CopyRates`` fails (-1) for a request wholly outside
    the available data, and a terminal answers the package so (a service's notes verified
    against a live terminal; a dataset's notes for bars beyond the 100,000-bar buffer).
    A window without bars (``copy_rates_range``, ticks) is still an empty array with ``(1,
    'Success')``, as a terminal answers a window without trading; bars within the history
    read as before. Before, the two reads answered an empty array with ``(1, 'Success')``."""
    def run() -> None:
        with connect(daemon) as client:
            assert client.copy_rates_from_pos(SYMBOL, mt5.TIMEFRAME_M1, 10**7, 5) is None
            assert client.last_error() == CALL_FAILED
            assert "beyond the history" in client.last_error().data["reason"]
            long_ago = datetime(2001, 1, 1, tzinfo=UTC)
            assert client.copy_rates_from(SYMBOL, mt5.TIMEFRAME_M1, long_ago, 5) is None
            assert client.last_error() == CALL_FAILED
            empty = client.copy_rates_range(SYMBOL, mt5.TIMEFRAME_M1, long_ago,
                                            long_ago.replace(day=2))
            assert empty is not None and len(empty) == 0, client.last_error()
            assert client.last_error() == SUCCESS
            ticks = client.copy_ticks_range(SYMBOL, long_ago, long_ago.replace(day=2),
                                            mt5.COPY_TICKS_ALL)
            assert ticks is not None and len(ticks) == 0, client.last_error()
            rates = client.copy_rates_from_pos(SYMBOL, mt5.TIMEFRAME_M1, 0, 5)
            assert rates is not None and len(rates) == 5, client.last_error()
            assert client.last_error() == SUCCESS
    await asyncio.to_thread(run)
    async with AsyncClient() as client:
        assert await client.initialize(token=daemon.token, url=base_url(daemon))
        assert await client.copy_rates_from_pos(SYMBOL, mt5.TIMEFRAME_H1, 10**7, 5) is None
        assert client.last_error() == CALL_FAILED


# -- L6 ---------------------------------------------------------------------------------------

@pytest.fixture
async def limited(daemon: Daemon, terminal: EmulatedTerminal) -> AsyncIterator[Daemon]:
    """The daemon's account registered with a policy: at most 0.05 lots."""
    await daemon.authority.accounts.register(OWNER, AccountRegistration(
        name="Answers", broker="Sim", login=LOGIN, password="mt5-secret", server=SERVER,
        max_lot_size=Decimal("0.05"), risk_pct=Decimal(1)))
    await daemon.cache.refresh_once()  # the token's record now carries the policy
    yield daemon


async def test_a_refusal_answered_as_a_result_leaves_last_error_success(
        limited: Daemon, terminal: EmulatedTerminal) -> None:
    """L6: ``order_send`` and ``order_check`` of a request the risk policy refuses answer a
    result with the retcode (K5), and ``last_error()`` is then ``(1, 'Success')``, as after
    a trade server's refusal on a terminal (metatrader5EasyT's docstring, run on one: "Last
    Error: (1, 'Success')"), so a wrapper checking it after every call does not take the
    refusal for a broken link. The gateway's detail stays beside the pair: ``.gateway_code``
    ``-32012``, the rule in ``.data["rule"]``, its message in ``.data["reason"]``. Before,
    ``last_error()`` was ``(-1, "volume 0.06 is above ... (gateway error -32012)")``."""
    request = deal(volume=0.06)

    def run() -> None:
        with connect(limited) as client:
            for call in (client.order_check, client.order_send):
                result = call(request)
                assert result is not None and result.retcode == \
                    mt5.TRADE_RETCODE_INVALID_VOLUME, (call, client.last_error())
                error = client.last_error()
                assert error == SUCCESS and error[0] == 1, error
                assert (error.gateway_code, error.data["rule"]) == (-32012, "max_lot_size")
                assert "0.06" in error.data["reason"], error.data
                assert error.data["reason"] in result.comment
            allowed = client.order_check(deal())
            assert allowed is not None and allowed.retcode == 0
            assert client.last_error() == SUCCESS
            assert client.last_error().gateway_code is None
            assert client.positions_total() == 0
    await asyncio.to_thread(run)
    async with AsyncClient() as client:
        assert await client.initialize(token=limited.token, url=base_url(limited))
        sent = await client.order_send(request)
        assert sent is not None and sent.retcode == mt5.TRADE_RETCODE_INVALID_VOLUME
        assert client.last_error() == SUCCESS
        assert client.last_error().data["rule"] == "max_lot_size"


# -- L7 ---------------------------------------------------------------------------------------

async def test_a_history_read_without_a_selection_is_invalid_arguments(
        daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """L7: ``history_orders_get()`` and ``history_deals_get()``, with ``(None, None)``, a
    group alone or one date, select nothing: ``None`` with ``(-2, 'Invalid arguments')``, as
    the package (a build-6231 terminal's notes: ``history_orders_get(None, None)`` =>
    'Invalid arguments'), before anything is sent. A range, a ticket or a position read as
    before. Before, the gateway's ``date_from: Field required ...`` text."""
    now = datetime.now(UTC)

    def run() -> None:
        with connect(daemon) as client:
            for read in (client.history_orders_get, client.history_deals_get):
                for args, kwargs in (((), {}), ((None, None), {}), ((), {"group": "*"}),
                                     ((now,), {}), ((None, now), {"group": "*BTC*"})):
                    assert read(*args, **kwargs) is None, (read, args, kwargs)
                    assert client.last_error() == INVALID_ARGUMENTS, (read, args, kwargs)
                    assert client.last_error().gateway_code is None
                assert isinstance(read(now - YEAR, now), tuple)
                assert read(ticket=1) == () and read(position=1) == ()
                assert client.last_error() == SUCCESS
    await asyncio.to_thread(run)
    async with AsyncClient() as client:
        assert await client.initialize(token=daemon.token, url=base_url(daemon))
        assert await client.history_deals_get(None, None) is None
        assert client.last_error() == INVALID_ARGUMENTS


# -- L8 ---------------------------------------------------------------------------------------

async def test_a_records_dir_names_only_what_can_be_read(
        daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """L8: every record the daemon answers (the account, a position, a pending order, the
    history's orders and deals, a check and a send) lists in ``dir()`` only names that can
    be read, as a struct sequence does (``os.terminal_size``), so ``{k: getattr(r, k) for k
    in dir(r)}`` works on a position as on a tick; ``__dict__`` is not listed, on the record
    or its type. Before, the records with extras listed ``__dict__``, which raised."""
    def run() -> list[Any]:
        with connect(daemon) as client:
            tick = client.symbol_info_tick(SYMBOL)
            assert tick is not None
            sent = client.order_send(deal(magic=88))
            assert sent is not None and sent.retcode == mt5.TRADE_RETCODE_DONE, sent
            placed = client.order_send({
                "action": mt5.TRADE_ACTION_PENDING, "symbol": SYMBOL, "volume": 0.01,
                "type": mt5.ORDER_TYPE_BUY_LIMIT, "price": round(tick.bid * 0.9, 2),
                "type_time": mt5.ORDER_TIME_GTC, "type_filling": mt5.ORDER_FILLING_RETURN})
            assert placed is not None and placed.retcode == mt5.TRADE_RETCODE_DONE, placed
            checked = client.order_check(deal())
            until = datetime.now(UTC) + YEAR
            records = [client.account_info(), tick, sent, checked,
                       *(client.positions_get(symbol=SYMBOL) or ()),
                       *(client.orders_get(symbol=SYMBOL) or ()),
                       *(client.history_orders_get(0, until) or ()),
                       *(client.history_deals_get(0, until) or ())]
            return records
    records = await asyncio.to_thread(run)
    kinds = {type(record).__name__ for record in records}
    assert kinds == {"AccountInfo", "Tick", "OrderSendResult", "OrderCheckResult",
                     "TradePosition", "TradeOrder", "TradeDeal"}, kinds
    for record in records:
        assert "__dict__" not in dir(record), type(record)
        assert "__dict__" not in dir(type(record)), type(record)
        read = {name: getattr(record, name) for name in dir(record)}
        assert read["_asdict"]() == record._asdict()
        assert not hasattr(record, "__dict__")

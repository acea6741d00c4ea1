"""Paper and live never share a number (U8-M1): a paper book and a broker that number from the
same start, positions open in both, and a bot on paper whose close of each live ticket is
refused naming the live book while each paper close closes only its own; a broker that
numbers into the paper range and meets a paper ticket is refused naming both books, never
acted on; the numbering kept across a daemon restart and a new book.

The terminal here is the emulated one, its broker placed where a test wants it in the ticket
range (``EmulatorSettings.first_ticket``); "by hand in the terminal" is its broker's own
``order_send``, which streams its trade events to the daemon as a terminal does."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from gateway.trading.numbering import PAPER_RANGES
from tests.e2e.clocks import WEDNESDAY_MS, SteppedClock
from tests.e2e.fixtures import LOGIN, SERVER, Daemon, connected_terminal, running_daemon
from tests.e2e.paperkit import BUY, RecordingTerminal, ok, on_paper
from tests.e2e.wskit import connect

DONE, DISABLED = 10009, 10017  # TRADE_RETCODE_DONE, TRADE_RETCODE_TRADE_DISABLED
MT5_FIRST, MT5_LAST = PAPER_RANGES["MT5"]
MT4_FIRST, MT4_LAST = PAPER_RANGES["MT4"]


def _close(position: dict[str, Any]) -> dict[str, Any]:
    """The request that closes ``position`` (a record as ``positions_get`` answers it)."""
    return {"action": "TRADE_ACTION_DEAL", "symbol": position["symbol"],
            "type": "ORDER_TYPE_SELL" if position["type"] == 0 else "ORDER_TYPE_BUY",
            "volume": position["volume"], "position": position["ticket"]}


def _identifiers(records: Iterable[dict[str, Any]]) -> set[int]:
    return {r[k] for r in records for k in ("ticket", "order", "position_id", "identifier")
            if isinstance(r.get(k), int) and r[k]}


async def _books(daemon: Daemon) -> tuple[set[int], set[int]]:
    """Every identifier of the paper book and of the live book (open and history)."""
    everything = {"date_from": 0, "date_to": 2**31 - 1}
    paper = [*await ok(daemon, "positions_get", {}), *await ok(daemon, "orders_get", {}),
             *await ok(daemon, "history_orders_get", everything),
             *await ok(daemon, "history_deals_get", everything)]
    live = [*await ok(daemon, "positions_get", {"book": "live"}),
            *await ok(daemon, "orders_get", {"book": "live"})]
    return _identifiers(paper), _identifiers(live)


@pytest.mark.parametrize(("platform", "first_ticket", "paper_first", "paper_last"), [
    ("MT5", 1_000, MT5_FIRST, MT5_LAST),          # the demo's broker, and most brokers: below
    ("MT5", MT5_FIRST, MT5_FIRST, MT5_LAST),      # a broker from the paper range's own start
    ("MT4", MT4_FIRST, MT4_FIRST, MT4_LAST),      # MT4's 32-bit tickets, the same
], ids=["mt5-broker-from-1000", "mt5-broker-from-paper-start", "mt4-broker-from-paper-start"])
async def test_a_live_close_sent_on_paper_is_refused_and_each_paper_close_closes_its_own(
        daemon: Daemon, platform: str, first_ticket: int, paper_first: int,
        paper_last: int) -> None:
    """Two live positions and a live pending order, then paper: two paper positions. No paper
    identifier equals a live one; each live close sent on paper answers 10017 naming the live
    book (the terminal is sent no order, the live positions run on); each paper close answers
    10009 and closes its own paper position, and no other."""
    async with connected_terminal(daemon, RecordingTerminal, symbols=("EURUSD", "USDJPY"),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS), platform=platform,
                                  first_ticket=first_ticket) as terminal:
        assert isinstance(terminal, RecordingTerminal)
        live = [await ok(daemon, "order_send", {"request": {**BUY, "symbol": symbol}})
                for symbol in ("EURUSD", "USDJPY")]
        tick = await ok(daemon, "symbol_info_tick", ["EURUSD"])
        limit = await ok(daemon, "order_send", {"request": {
            "action": "TRADE_ACTION_PENDING", "type": "ORDER_TYPE_BUY_LIMIT",
            "symbol": "EURUSD", "volume": 0.1, "price": round(tick["bid"] - 0.01, 5)}})
        assert [a["retcode"] for a in (*live, limit)] == [DONE] * 3
        assert all(a["order"] >= first_ticket for a in (*live, limit))
        await on_paper(daemon)

        paper = [await ok(daemon, "order_send", {"request": {**BUY, "symbol": symbol}})
                 for symbol in ("EURUSD", "USDJPY")]
        assert [(a["retcode"], a["paper"]) for a in paper] == [(DONE, True)] * 2
        paper_ids, live_ids = await _books(daemon)
        assert paper_ids and live_ids and not paper_ids & live_ids, (paper_ids, live_ids)
        assert all(paper_first <= n <= paper_last for n in paper_ids), paper_ids

        live_positions = await ok(daemon, "positions_get", {"book": "live"})
        sent_before = terminal.methods.count("order_send")
        for position in live_positions:
            refused = await ok(daemon, "order_send", {"request": _close(position)})
            assert (refused["retcode"], refused["paper"]) == (DISABLED, True), refused
            assert f"position {position['ticket']} is in the live book" in refused["comment"]
            assert "not acted on either" not in refused["comment"]
        removed = await ok(daemon, "order_send", {"request": {
            "action": "TRADE_ACTION_REMOVE", "order": limit["order"]}})
        assert removed["retcode"] == DISABLED and "live book" in removed["comment"], removed
        assert terminal.methods.count("order_send") == sent_before
        assert sorted(p["ticket"] for p in terminal.broker.positions_get()) == sorted(
            p["ticket"] for p in live_positions)
        assert [o["ticket"] for o in terminal.broker.orders_get()] == [limit["order"]]

        for n, opened in enumerate(paper):
            [position] = await ok(daemon, "positions_get", {"ticket": opened["order"]})
            closed = await ok(daemon, "order_send", {"request": _close(position)})
            assert (closed["retcode"], closed["paper"]) == (DONE, True), closed
            left = [p["ticket"] for p in await ok(daemon, "positions_get", {})]
            assert left == [a["order"] for a in paper[n + 1:]]
            assert len(terminal.broker.positions_get()) == len(live_positions)


async def test_a_broker_numbering_onto_a_paper_ticket_is_refused_naming_both_books(
        daemon: Daemon) -> None:
    """The broker moves into the paper range and gives a live position the number of an open
    paper position: a close of that number on paper acts on neither book (10017, the comment
    names both); the live identifier pushes paper's numbering halfway to the range's end, so
    what paper opens next is numbered far from the broker."""
    async with connected_terminal(daemon, RecordingTerminal, symbols=("EURUSD",),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)) as terminal:
        assert isinstance(terminal, RecordingTerminal)
        await on_paper(daemon)
        opened = await ok(daemon, "order_send", {"request": BUY})
        ticket = opened["order"]
        assert MT5_FIRST <= ticket < MT5_FIRST + 100, ticket
        # the owner trades by hand in the terminal, whose broker now numbers from that ticket
        terminal.broker.number_from(ticket)
        by_hand = terminal.broker.order_send({"action": 1, "symbol": "EURUSD", "volume": 0.2,
                                              "type": 0, "type_filling": 1})
        assert (by_hand["retcode"], by_hand["order"]) == (DONE, ticket)

        [paper_position] = await ok(daemon, "positions_get", {"ticket": ticket})
        for request in (_close(paper_position), {**_close(paper_position), "volume": 0.2}):
            refused = await ok(daemon, "order_send", {"request": request})
            assert (refused["retcode"], refused["paper"]) == (DISABLED, True), refused
            assert f"position {ticket} is in the live book" in refused["comment"]
            assert "paper book's position numbered" in refused["comment"], refused["comment"]
        assert [p["ticket"] for p in await ok(daemon, "positions_get", {})] == [ticket]
        assert [p["ticket"] for p in terminal.broker.positions_get()] == [ticket]

        after = await ok(daemon, "order_send", {"request": BUY})
        assert after["order"] > ticket + (MT5_LAST - ticket) // 2, after
        assert after["order"] <= MT5_LAST


def _copy_books(paper_dir: Path, data_dir: Path) -> None:
    """A new data directory holding a copy of ``paper_dir``: the same books and numbering."""
    data_dir.mkdir(mode=0o700)
    shutil.copytree(paper_dir, data_dir / "paper")


async def _trade_on_paper(data_dir: Path, paper_from: Path | None = None) -> list[int]:
    """A new daemon on ``data_dir`` (its ``paper`` folder a copy of ``paper_from``'s, when
    given: the same books, as after a restart), its account on paper: one buy; the paper
    book's open position tickets after it."""
    if paper_from is not None:
        _copy_books(paper_from, data_dir)
    async with running_daemon(data_dir) as daemon:
        await on_paper(daemon)
        async with connected_terminal(daemon, symbols=("EURUSD",),
                                      utc_clock_ms=SteppedClock(WEDNESDAY_MS)):
            assert (await ok(daemon, "order_send", {"request": BUY}))["retcode"] == DONE
            return sorted(p["ticket"] for p in await ok(daemon, "positions_get", {}))


async def test_the_numbering_is_kept_across_a_restart_and_a_new_book(tmp_path: Path) -> None:
    """A restarted daemon numbers on from its book; a book moved away (the one way to start
    paper afresh) is followed by a new one that numbers on from the old one's numbers, never
    from the range's start again: an old paper ticket a bot still holds names nothing new."""
    [first] = await _trade_on_paper(tmp_path / "1")
    assert MT5_FIRST <= first < MT5_FIRST + 100
    kept = await _trade_on_paper(tmp_path / "2", tmp_path / "1" / "paper")
    assert kept[0] == first and len(kept) == 2 and kept[1] > first
    paper_dir = tmp_path / "2" / "paper"
    numbers = paper_dir / f"{LOGIN}@{SERVER}.numbers.json"
    assert numbers.stat().st_mode & 0o077 == 0  # the owner's alone
    os.replace(paper_dir / f"{LOGIN}@{SERVER}.json", tmp_path / "old-book.json")  # a reset
    [fresh] = await _trade_on_paper(tmp_path / "3", paper_dir)
    assert fresh > kept[1], (fresh, kept)


async def test_every_trade_event_on_the_stream_says_its_book(daemon: Daemon) -> None:
    """On paper, a trade made by hand in the terminal and one a bot makes on paper reach the
    ``trades`` stream each with its book: ``"live"`` for the broker's (no ``paper`` key, as
    before), ``"paper"`` for the paper book's."""
    await on_paper(daemon)
    async with connected_terminal(daemon, symbols=("EURUSD",),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)) as terminal, \
            connect(daemon) as ws:
        await ws.result("subscribe", {"channel": "trades"})
        paper = await ok(daemon, "order_send", {"request": BUY})
        by_hand = terminal.broker.order_send({"action": 1, "symbol": "EURUSD", "volume": 0.2,
                                              "type": 0, "type_filling": 0})
        assert by_hand["retcode"] == DONE
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        while len(seen) < 2:
            event = await ws.note("trade_event")
            if event["type"] == "position_opened":
                seen[(event["book"], str(event.get("paper")))] = event["position"]
        assert seen[("paper", "True")]["ticket"] == paper["order"]
        assert seen[("live", "None")]["ticket"] == by_hand["order"]

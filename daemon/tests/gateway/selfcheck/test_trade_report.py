"""How ``mtgateway check --trade`` words what it found: retcodes as the terminal means them
(a success never as a refusal), and, when the trade events are not all on the stream, what was
expected and what came (of which venue: the terminal's, or the daemon's paper book's)."""

from __future__ import annotations

from typing import Any

from gateway.selfcheck.probe import Probe
from gateway.selfcheck.report import FAIL, PASS
from gateway.selfcheck.trades import EXPECTED_EVENTS, TradeSession, at_digits, said
from mtgateway.aio import AsyncClient
from mtgateway.stream import TradeEvent


async def _no_wait(seconds: float) -> None:
    """The check's pause between looks at the stream, taken at once."""


def session(paper: bool, kinds: list[tuple[str, bool]]) -> TradeSession:
    """A trade session whose stream brought ``kinds`` ((type, paper) each), never waiting."""
    probe = Probe(AsyncClient(), {}, sleep=_no_wait)
    trades = TradeSession(probe, "EURUSD", paper=paper)
    trades.events = [TradeEvent(kind, 1, None, None, None, None, seq, on_paper)
                     for seq, (kind, on_paper) in enumerate(kinds, 1)]
    return trades


def every_event(paper: bool) -> list[tuple[str, bool]]:
    return [(kind, paper) for kind, n in EXPECTED_EVENTS.items() for _ in range(n)]


async def test_a_silent_stream_says_what_was_expected() -> None:
    """Nothing on the stream: FAIL, naming the events the trades make and that none came
    (it said only "the stream showed []")."""
    check = await session(False, []).trade_events()
    assert (check.outcome, check.evidence) == (FAIL, (
        "expected the terminal's events of the trades above (2 position_opened, "
        "2 position_closed, 1 order_added, 1 order_removed), missing 2 position_opened, "
        "2 position_closed, 1 order_added, 1 order_removed; the stream showed none of the "
        "terminal's in 5 s"))


async def test_a_paper_account_counts_the_paper_books_events_only() -> None:
    """On a paper account the terminal's own events do not stand in for the paper book's:
    FAIL says which are missing and what else came; the paper book's all there: PASS."""
    some = [("position_opened", True), ("deal_added", True), *every_event(False)]
    check = await session(True, some).trade_events()
    assert check.outcome == FAIL
    assert check.evidence.endswith(
        "missing 1 position_opened, 2 position_closed, 1 order_added, 1 order_removed; the "
        "stream showed 2 of the paper book's: 1 position_opened, 1 deal_added (and 6 of the "
        "terminal's)")
    check = await session(True, every_event(True)).trade_events()
    assert (check.outcome, check.evidence) == (PASS, (
        "6 events of the paper book: 2 positions opened, 2 closed, orders added and removed, "
        "none lost"))


def test_retcodes_are_said_with_their_names() -> None:
    """A retcode reads with its name and the terminal's comment, whatever it has of them."""
    answer: dict[str, Any] = {"retcode": 10016, "retcode_name": "TRADE_RETCODE_INVALID_STOPS",
                              "comment": "Invalid stops"}
    assert said(answer) == '10016 TRADE_RETCODE_INVALID_STOPS "Invalid stops"'
    assert said({"retcode": 10009}) == "10009"


def test_stops_and_prices_are_written_at_the_symbols_digits() -> None:
    """n14: the report writes a price as the terminal shows it, at the symbol's digits: a
    2-digit index's stop 6367.4 as 6367.40 (it said "stops 6301.35 / 6367.4"), a 3-digit
    pair's 147.52 as 147.520, a computed price a third of a point off the grid at the grid's
    digits."""
    assert at_digits({"digits": 2}, 6367.4) == "6367.40"
    assert at_digits({"digits": 3}, 147.52) == "147.520"
    assert at_digits({"digits": 2}, 6301.35 + 0.01 / 3) == "6301.35"
    assert at_digits({"digits": 0}, 97250.0) == "97250"

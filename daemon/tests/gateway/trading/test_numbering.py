"""The paper numbering on its own (``gateway/trading/numbering.py``): each kind's range within
its type, a live identifier inside it pushing paper halfway to the end, the book's numbers
followed, the file's form, and the identifiers found in live records and trade events."""

from __future__ import annotations

import pytest

from gateway.trading.numbering import (
    LOWEST_PAPER,
    PAPER_RANGES,
    PaperNumbers,
    kind_of,
    live_identifiers,
)


def test_each_kind_numbers_inside_its_own_type() -> None:
    """Twelve digits for MT5 (as long as a live ticket: it fits where one fits, and is exact
    as a double), MT4's up to 2**31 - 1 (its tickets are ``int``); both start far above any
    broker's numbers."""
    assert PAPER_RANGES["MT5"] == (900_000_000_000, 999_999_999_999)
    assert len("Close position #999999999999") <= 31  # MT5's comment
    assert PAPER_RANGES["MT4"] == (2_000_000_000, 2**31 - 1)
    for first, last in PAPER_RANGES.values():
        assert float(last) == last and first < last
    assert LOWEST_PAPER == 2_000_000_000
    assert (kind_of("MT4"), kind_of("MT5"), kind_of("")) == ("MT4", "MT5", "MT5")
    assert PaperNumbers.start("MT4").next == 2_000_000_000


def test_a_live_identifier_inside_the_range_pushes_paper_halfway_to_its_end() -> None:
    numbers = PaperNumbers.start("MT4")
    assert not numbers.saw_live(1_999_999_999)  # below the range: nothing to do
    assert not numbers.saw_live(2**31)  # beyond MT4's type: not an MT4 ticket
    assert numbers.next == 2_000_000_000
    assert numbers.saw_live(2_000_000_010)
    assert numbers.next == 2_000_000_011 + (2**31 - 1 - 2_000_000_010) // 2
    pushed = numbers.next
    assert not numbers.saw_live(2_000_000_005)  # its halfway point is behind paper already
    assert numbers.next == pushed
    assert numbers.saw_live(pushed + 5)  # the broker caught up: pushed on again
    assert pushed + 5 < numbers.next <= 2**31 - 1


def test_the_numbering_follows_the_book_and_says_when_it_is_used_up() -> None:
    numbers = PaperNumbers.start("MT5")
    assert numbers.took(numbers.first + 3) and numbers.next == numbers.first + 3
    assert not numbers.took(numbers.first + 1)  # never back
    assert not numbers.exhausted
    numbers.next = numbers.last - 999
    assert numbers.exhausted


def test_the_file_round_trips_and_a_damaged_one_is_refused() -> None:
    numbers = PaperNumbers("MT4", 2_000_000_123)
    assert PaperNumbers.loads(numbers.dumps()) == numbers
    for damaged in (b"{", b"[]", b'{"kind": "MT6", "next": 1}', b'{"kind": "MT5"}',
                    b'{"kind": "MT5", "next": 1.5}', b'{"kind": "MT5", "next": 1000}'):
        with pytest.raises(ValueError):
            PaperNumbers.loads(damaged)


def test_the_identifiers_of_live_records_and_trade_events() -> None:
    """Only the ones that could meet a paper number (at or above the lowest range) are
    named; a deal's order and position, a position's identifier, an event's record."""
    big = 900_000_000_001
    deal = {"ticket": big, "order": big + 1, "position_id": 1001, "volume": 0.1}
    event = {"type": "deal_added", "time_msc": 5, "deal": deal}
    assert sorted(live_identifiers(event)) == [big, big + 1]
    position = {"ticket": 2_000_000_001, "identifier": 2_000_000_001, "magic": 3_000_000_000}
    assert list(live_identifiers([position, {"ticket": 7}])) == [2_000_000_001, 2_000_000_001]
    assert list(live_identifiers({"type": "account_updated", "account": {"login": 1}})) == []
    assert list(live_identifiers({"ticket": True})) == []

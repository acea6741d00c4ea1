"""Journal retention and ambiguous outcomes, on real SQLite files with an injected clock.

Pruning deletes only rows whose outcome is settled and has been for longer than the retention
period (never under 24 h), and rows whose order executed only once the terminal shows it is no
longer open; rows still in flight or UNKNOWN are kept whatever their age. A row
that went UNKNOWN on an ambiguous broker answer keeps that answer until reconciliation settles it.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from gateway.config import GatewayConfig, load_config
from gateway.errors import ConfigError
from gateway.trading.journal import (
    FINAL_STATES,
    MIN_RETENTION_S,
    OrderJournal,
    OrderRow,
    OrderState,
    params_hash,
)
from tests.testkit import FakeClock

REQUEST: dict[str, Any] = {"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0}
TERMINAL = "5012345@MTG-Demo"
HOUR = 3600.0
RETENTION_S = 72 * HOUR
#: The terminal was read and has no open order or position: executed rows may go too.
NONE_OPEN: dict[str, frozenset[str]] = {TERMINAL: frozenset()}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_763_650_000.0)


@pytest.fixture
def journal(tmp_path: Path, clock: FakeClock) -> Iterator[OrderJournal]:
    journal = OrderJournal(tmp_path / "orders.sqlite3", clock=clock)
    journal.open()
    yield journal
    journal.close()


def _receive(journal: OrderJournal, client_id: str, token_id: str = "tok_a") -> OrderRow:
    return journal.receive(token_id=token_id, client_id=client_id, terminal=TERMINAL,
                           params_hash=params_hash(REQUEST), request=REQUEST)


def _sent(journal: OrderJournal, client_id: str) -> OrderRow:
    return journal.mark_sent(_receive(journal, client_id), {**REQUEST,
                                                            "comment": f"g:{client_id}"})


def _one_row_per_state(journal: OrderJournal) -> None:
    """A row in every state a row can be in, each named after its state."""
    journal.record_result(_sent(journal, "ACCEPTED"), {"retcode": 10009, "order": 1},
                          success=True, ticket=1)
    journal.record_result(_sent(journal, "REJECTED"), {"retcode": 10014}, success=False,
                          ticket=None)
    journal.resolve_found(journal.mark_unknown(_sent(journal, "RESOLVED_ACCEPTED")), 2,
                          {"retcode": 10009, "found_in": "positions"})
    journal.record_miss(journal.mark_unknown(_sent(journal, "RESOLVED_NOT_FOUND")),
                        max_passes=1)
    journal.mark_unknown(_sent(journal, "UNKNOWN"))
    _sent(journal, "SENT")
    _receive(journal, "RECEIVED")


def _client_ids_on_file(path: Path) -> set[str]:
    """The rows another connection to the journal file sees."""
    with closing(sqlite3.connect(path)) as db:
        return {row[0] for row in db.execute("SELECT client_id FROM orders").fetchall()}


def test_final_states_are_exactly_the_settled_ones() -> None:
    """Every state is either final (prunable) or one whose outcome is still open."""
    open_states = {OrderState.RECEIVED, OrderState.SENT, OrderState.UNKNOWN}
    assert FINAL_STATES == set(OrderState) - open_states
    assert MIN_RETENTION_S == 24 * HOUR


def test_prune_deletes_only_final_rows_past_retention(journal: OrderJournal,
                                                      clock: FakeClock) -> None:
    """Past the retention, the four final rows go (the terminal shows nothing open) and the
    RECEIVED/SENT/UNKNOWN ones stay."""
    _one_row_per_state(journal)
    assert journal.prune(older_than_s=RETENTION_S, open_tags=NONE_OPEN) == 0  # nothing is old
    clock.advance(RETENTION_S + 1)
    assert journal.prune(older_than_s=RETENTION_S, open_tags=NONE_OPEN) == 4
    assert _client_ids_on_file(journal.path) == {"RECEIVED", "SENT", "UNKNOWN"}
    assert journal.prune(older_than_s=RETENTION_S, open_tags=NONE_OPEN) == 0


def test_executed_rows_stay_while_their_order_may_be_open(journal: OrderJournal,
                                                          clock: FakeClock) -> None:
    """Open orders are always retained: without a fresh read of the terminal's open orders
    (daemon start, terminal offline) only the rows that left nothing open go; with one, an
    executed row goes only when its tag is not open any more."""
    _one_row_per_state(journal)
    clock.advance(RETENTION_S + 1)
    assert journal.prune(older_than_s=RETENTION_S) == 2
    assert journal.prune(older_than_s=RETENTION_S, open_tags={"1@Other": frozenset()}) == 0
    assert _client_ids_on_file(journal.path) == {"ACCEPTED", "RESOLVED_ACCEPTED", "RECEIVED",
                                                 "SENT", "UNKNOWN"}
    still_open = {TERMINAL: frozenset({"g:ACCEPTED", "g:someone-else"})}
    assert journal.prune(older_than_s=RETENTION_S, open_tags=still_open) == 1
    assert journal.get("tok_a", "ACCEPTED") is not None  # its position is still open
    assert journal.get("tok_a", "RESOLVED_ACCEPTED") is None
    assert journal.prune(older_than_s=RETENTION_S, open_tags=NONE_OPEN) == 1
    assert journal.get("tok_a", "ACCEPTED") is None


def test_an_untagged_executed_row_stays_while_its_ticket_is_open(journal: OrderJournal,
                                                                 clock: FakeClock) -> None:
    """Issue 33: orders go as written (an empty comment, no tag), so what marks an executed
    row's order open is its ticket among the open orders' and positions' tickets; an empty
    comment among them marks nothing."""
    untagged = journal.mark_sent(_receive(journal, "plain"), REQUEST)
    journal.record_result(untagged, {"retcode": 10009, "order": 7}, success=True, ticket=7)
    clock.advance(RETENTION_S + 1)
    open_now: dict[str, frozenset[str | int]] = {TERMINAL: frozenset({7, "", 8})}
    assert journal.prune(older_than_s=RETENTION_S, open_tags=open_now) == 0
    assert journal.get("tok_a", "plain") is not None
    assert journal.prune(older_than_s=RETENTION_S,
                         open_tags={TERMINAL: frozenset({"", 8})}) == 1
    assert journal.get("tok_a", "plain") is None


def test_open_rows_are_never_pruned_however_old(journal: OrderJournal, clock: FakeClock) -> None:
    """A RECEIVED, SENT or UNKNOWN row survives any age: its order's outcome is still open."""
    _one_row_per_state(journal)
    clock.advance(10 * 365 * 24 * HOUR)
    journal.prune(older_than_s=MIN_RETENTION_S, open_tags=NONE_OPEN)
    rows = [journal.get("tok_a", cid) for cid in ("RECEIVED", "SENT", "UNKNOWN")]
    assert [row.state for row in rows if row is not None] == [
        OrderState.RECEIVED, OrderState.SENT, OrderState.UNKNOWN]
    assert _client_ids_on_file(journal.path) == {"RECEIVED", "SENT", "UNKNOWN"}


def test_age_counts_from_when_the_row_became_final(journal: OrderJournal,
                                                   clock: FakeClock) -> None:
    """A row resolved 48 h after it was sent is kept for the full retention after that."""
    lost = journal.mark_unknown(_sent(journal, "late"))
    clock.advance(48 * HOUR)
    journal.resolve_found(lost, 7, {"retcode": 10009, "found_in": "deals"})
    clock.advance(RETENTION_S)  # 120 h after creation, exactly the retention after resolution
    assert journal.prune(older_than_s=RETENTION_S, open_tags=NONE_OPEN) == 0
    assert journal.get("tok_a", "late") is not None
    clock.advance(1)
    assert journal.prune(older_than_s=RETENTION_S, open_tags=NONE_OPEN) == 1
    assert journal.get("tok_a", "late") is None


@pytest.mark.parametrize("retention_s", [MIN_RETENTION_S - 1, 0.0, -1.0, math.nan])
def test_prune_refuses_less_than_24_hours(journal: OrderJournal, clock: FakeClock,
                                          retention_s: float) -> None:
    """A retention under 24 h (or NaN) is refused before anything is deleted."""
    _one_row_per_state(journal)
    clock.advance(MIN_RETENTION_S - 2)
    with pytest.raises(ValueError, match="at least 86400"):
        journal.prune(older_than_s=retention_s)
    assert len(_client_ids_on_file(journal.path)) == 7


def test_pruned_client_id_can_be_used_again(journal: OrderJournal, clock: FakeClock) -> None:
    """Once pruned, a client_id is free: a request under it is a new RECEIVED row."""
    journal.record_result(_sent(journal, "again"), {"retcode": 10009, "order": 3}, success=True,
                          ticket=3)
    clock.advance(RETENTION_S + 1)
    journal.prune(older_than_s=RETENTION_S, open_tags=NONE_OPEN)
    assert journal.get("tok_a", "again") is None
    fresh = _receive(journal, "again")
    assert (fresh.state, fresh.ticket, fresh.created_at) == (OrderState.RECEIVED, None,
                                                             clock.now)


def test_prune_keeps_the_audit_trail_and_notes_each_deletion(journal: OrderJournal,
                                                             clock: FakeClock) -> None:
    """The append-only audit keeps every earlier line and gains one "pruned" line per row."""
    journal.record_result(_sent(journal, "done"), {"retcode": 10014}, success=False, ticket=None)
    before = journal.audit()
    clock.advance(RETENTION_S + 1)
    journal.prune(older_than_s=RETENTION_S)
    after = journal.audit()
    assert after[:len(before)] == before
    [pruned] = after[len(before):]
    assert (pruned.client_id, pruned.event, pruned.state, pruned.retcode, pruned.at) == (
        "done", "pruned", "REJECTED", 10014, clock.now)


def test_prune_is_durable_across_a_reopen(tmp_path: Path, clock: FakeClock) -> None:
    """Pruned rows stay gone after the journal is closed and opened again (a restart)."""
    path = tmp_path / "orders.sqlite3"
    first = OrderJournal(path, clock=clock)
    first.open()
    first.record_result(_sent(first, "old"), {"retcode": 10009}, success=True, ticket=1)
    clock.advance(RETENTION_S + 1)
    first.prune(older_than_s=RETENTION_S, open_tags=NONE_OPEN)
    first.close()
    second = OrderJournal(path, clock=clock)
    second.open()
    try:
        assert second.get("tok_a", "old") is None
    finally:
        second.close()


def test_unknown_keeps_an_ambiguous_answer_until_resolved(journal: OrderJournal) -> None:
    """SENT → UNKNOWN with the broker's answer keeps its retcode; a resolution replaces it, a
    final miss keeps it."""
    timeout = {"retcode": 10012, "retcode_name": "TRADE_RETCODE_TIMEOUT", "order": 0}
    found = journal.mark_unknown(_sent(journal, "found"), timeout)
    assert (found.state, found.retcode, found.result) == (OrderState.UNKNOWN, 10012, timeout)
    stored = journal.get("tok_a", "found")
    assert stored is not None and (stored.retcode, stored.result) == (10012, timeout)
    assert (journal.audit()[-1].event, journal.audit()[-1].retcode) == ("outcome", 10012)
    resolved = journal.resolve_found(found, 55, {"retcode": 10009, "order": 55})
    assert (resolved.state, resolved.retcode, resolved.ticket) == (
        OrderState.RESOLVED_ACCEPTED, 10009, 55)
    missed = journal.record_miss(journal.mark_unknown(_sent(journal, "missed"), timeout), 1)
    assert (missed.state, missed.retcode, missed.result) == (
        OrderState.RESOLVED_NOT_FOUND, 10012, timeout)


def test_lost_answer_still_has_no_retcode(journal: OrderJournal) -> None:
    """An UNKNOWN without an answer (the EA dropped) has no retcode and no result, as before."""
    lost = journal.mark_unknown(_sent(journal, "lost"))
    assert (lost.state, lost.retcode, lost.result) == (OrderState.UNKNOWN, None, None)


def test_retention_config_defaults_to_72_hours() -> None:
    """[trading] journal_retention_h is 72 unless set."""
    assert GatewayConfig().trading.journal_retention_h == 72.0


@pytest.mark.parametrize("value, ok", [("23.9", False), ("0.0", False), ("24", True),
                                       ("24.0", True), ("720.0", True)])
def test_retention_config_is_at_least_24_hours(tmp_path: Path, value: str, ok: bool) -> None:
    """A retention under 24 h fails at load naming the key; 24 h or more loads."""
    path = tmp_path / "config.toml"
    path.write_text(f"[trading]\njournal_retention_h = {value}\n", encoding="utf-8")
    if ok:
        assert load_config(path).trading.journal_retention_h == float(value)
    else:
        with pytest.raises(ConfigError, match="trading.journal_retention_h"):
            load_config(path)

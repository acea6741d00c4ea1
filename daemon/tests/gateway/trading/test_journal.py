"""The order journal on real SQLite files: durable ordering, the state machine, the audit trail."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from gateway.trading.journal import (
    JournalStateError,
    OrderJournal,
    OrderRow,
    OrderState,
    params_hash,
)
from tests.testkit import FakeClock

REQUEST: dict[str, Any] = {"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0}
TERMINAL = "5012345@MTG-Demo"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_763_650_000.0)


@pytest.fixture
def journal(tmp_path: Path, clock: FakeClock) -> Iterator[OrderJournal]:
    journal = OrderJournal(tmp_path / "orders.sqlite3", clock=clock)
    journal.open()
    yield journal
    journal.close()


def _receive(journal: OrderJournal, client_id: str = "c1", token_id: str = "tok_a",
             request: dict[str, Any] | None = None) -> OrderRow:
    request = request or REQUEST
    return journal.receive(token_id=token_id, client_id=client_id, terminal=TERMINAL,
                           params_hash=params_hash(request), request=request)


def _states_seen_by_another_connection(path: Path) -> dict[str, str]:
    with closing(sqlite3.connect(path)) as db:
        return dict(db.execute("SELECT client_id, state FROM orders").fetchall())


def test_sent_row_is_committed_before_the_call_returns(journal: OrderJournal) -> None:
    """A SENT row is visible to another connection as soon as mark_sent returns (durable)."""
    row = _receive(journal)
    assert _states_seen_by_another_connection(journal.path) == {"c1": "RECEIVED"}
    journal.mark_sent(row, {**REQUEST, "comment": "g:c1"})
    assert _states_seen_by_another_connection(journal.path) == {"c1": "SENT"}


def test_file_is_wal_with_full_sync(journal: OrderJournal) -> None:
    """The journal runs in WAL mode with synchronous=FULL (an fsync per commit)."""
    db = journal._conn()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_accepted_and_rejected_keep_the_result(journal: OrderJournal, clock: FakeClock) -> None:
    """A success retcode is ACCEPTED with its ticket; another retcode is REJECTED."""
    ok = journal.mark_sent(_receive(journal, "ok"), REQUEST)
    clock.advance(1)
    accepted = journal.record_result(ok, {"retcode": 10009, "order": 77}, success=True, ticket=77)
    bad = journal.mark_sent(_receive(journal, "bad"), REQUEST)
    rejected = journal.record_result(bad, {"retcode": 10014}, success=False, ticket=None)
    again = journal.get("tok_a", "ok")
    assert again == accepted and again is not None
    assert (again.state, again.retcode, again.ticket) == (OrderState.ACCEPTED, 10009, 77)
    assert again.updated_at == again.created_at + 1
    assert (rejected.state, rejected.retcode, rejected.result) == (
        OrderState.REJECTED, 10014, {"retcode": 10014})


def test_client_ids_are_scoped_per_token(journal: OrderJournal) -> None:
    """The same client_id under two token records is two rows; under one it is refused."""
    _receive(journal, "same", token_id="tok_a")
    _receive(journal, "same", token_id="tok_b")
    assert journal.get("tok_b", "same") is not None
    with pytest.raises(JournalStateError):
        _receive(journal, "same", token_id="tok_a")


def test_params_hash_is_order_independent() -> None:
    """Equal requests hash equal whatever their key order; a changed value does not."""
    assert params_hash({"a": 1, "b": 2.0}) == params_hash({"b": 2.0, "a": 1})
    assert params_hash({"a": 1, "b": 2.0}) != params_hash({"a": 1, "b": 2.5})


def test_transitions_outside_the_state_machine_are_refused(journal: OrderJournal) -> None:
    """A RECEIVED row cannot get a result, and an ACCEPTED one cannot become UNKNOWN."""
    row = _receive(journal)
    with pytest.raises(JournalStateError):
        journal.record_result(row, {"retcode": 10009}, success=True, ticket=1)
    sent = journal.mark_sent(row, REQUEST)
    journal.record_result(sent, {"retcode": 10009}, success=True, ticket=1)
    with pytest.raises(JournalStateError):
        journal.mark_unknown(sent)
    with pytest.raises(JournalStateError):
        journal.abandon(sent, "late")


def test_abandon_frees_the_client_id(journal: OrderJournal) -> None:
    """An abandoned (never executed) request leaves no row, so the id can be used again."""
    journal.abandon(_receive(journal), "TerminalNotConnected")
    assert journal.get("tok_a", "c1") is None
    assert _receive(journal).state is OrderState.RECEIVED


def test_unknown_resolves_found_or_not_found_after_max_passes(journal: OrderJournal) -> None:
    """An UNKNOWN row resolves when found, or becomes RESOLVED_NOT_FOUND on the last miss."""
    lost = journal.mark_unknown(journal.mark_sent(_receive(journal, "lost"), REQUEST))
    found = journal.mark_unknown(journal.mark_sent(_receive(journal, "found"), REQUEST))
    assert [r.client_id for r in journal.unknown(TERMINAL)] == ["lost", "found"]
    assert journal.unknown("1@Other") == []
    resolved = journal.resolve_found(found, 42, {"found_in": "positions"})
    assert (resolved.state, resolved.ticket) == (OrderState.RESOLVED_ACCEPTED, 42)
    states = [journal.record_miss(lost, max_passes=3) for _ in range(3)]
    assert [(s.state, s.passes) for s in states] == [
        (OrderState.UNKNOWN, 1), (OrderState.UNKNOWN, 2), (OrderState.RESOLVED_NOT_FOUND, 3)]
    assert journal.unknown() == []


def test_reopen_keeps_rows_and_settles_what_was_in_flight(tmp_path: Path,
                                                          clock: FakeClock) -> None:
    """After a restart finished rows are intact, SENT became UNKNOWN, RECEIVED is gone."""
    path = tmp_path / "orders.sqlite3"
    first = OrderJournal(path, clock=clock)
    first.open()
    done = first.mark_sent(_receive(first, "done"), REQUEST)
    first.record_result(done, {"retcode": 10009, "order": 5}, success=True, ticket=5)
    first.mark_sent(_receive(first, "on_the_wire"), REQUEST)
    _receive(first, "not_sent")
    first.close()
    second = OrderJournal(path, clock=clock)
    second.open()
    try:
        kept = second.get("tok_a", "done")
        assert kept is not None and (kept.state, kept.ticket) == (OrderState.ACCEPTED, 5)
        wire = second.get("tok_a", "on_the_wire")
        assert wire is not None and wire.state is OrderState.UNKNOWN
        assert second.get("tok_a", "not_sent") is None
        events = [(a.client_id, a.event, a.state) for a in second.audit()][-2:]
        assert sorted(events) == [("not_sent", "abandoned_at_restart", "ABANDONED"),
                                  ("on_the_wire", "unknown_at_restart", "UNKNOWN")]
    finally:
        second.close()


def test_audit_records_each_step_without_secrets(journal: OrderJournal) -> None:
    """The audit trail has a line per request and outcome with the trade's summary fields."""
    row = journal.mark_sent(_receive(journal), {**REQUEST, "comment": "g:c1"})
    journal.record_result(row, {"retcode": 10009, "order": 9}, success=True, ticket=9)
    journal.note(row, "deduplicated")
    lines = journal.audit()
    assert [(a.event, a.state, a.retcode) for a in lines] == [
        ("request", "RECEIVED", None), ("sent", "SENT", None),
        ("outcome", "ACCEPTED", 10009), ("deduplicated", "SENT", None)]
    first = lines[0]
    assert (first.token_id, first.terminal, first.client_id, first.action, first.symbol,
            first.volume, first.type) == ("tok_a", TERMINAL, "c1", 1, "EURUSD", 0.1, 0)
    assert [a.seq for a in journal.audit(after_seq=lines[1].seq)] == [lines[2].seq, lines[3].seq]


def test_audit_is_append_only(journal: OrderJournal) -> None:
    """UPDATE and DELETE on the audit table are refused by the database itself."""
    _receive(journal)
    with closing(sqlite3.connect(journal.path)) as db:
        for statement in ("UPDATE audit SET state='X'", "DELETE FROM audit"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                db.execute(statement)
    assert len(journal.audit()) == 1


def test_closed_journal_refuses_work(tmp_path: Path) -> None:
    """Using a journal that is not open is a clear error, not a silent no-op."""
    journal = OrderJournal(tmp_path / "x.sqlite3")
    with pytest.raises(JournalStateError, match="not open"):
        journal.get("tok_a", "c1")


def test_order_keys_are_stored_and_never_shared(journal: OrderJournal) -> None:
    """Each row keeps its order key; a key already journaled (any token) is refused."""
    row = journal.receive(token_id="tok_a", client_id="c1", terminal=TERMINAL,
                          params_hash=params_hash(REQUEST), request=REQUEST,
                          order_key="AAAAAAAAAAAAAAAAAAAAAA")
    assert journal.get("tok_a", "c1") == row and row.order_key == "AAAAAAAAAAAAAAAAAAAAAA"
    with pytest.raises(JournalStateError):
        journal.receive(token_id="tok_b", client_id="c1", terminal=TERMINAL,
                        params_hash=params_hash(REQUEST), request=REQUEST,
                        order_key="AAAAAAAAAAAAAAAAAAAAAA")
    assert journal.get("tok_b", "c1") is None


def test_a_journal_from_before_order_keys_opens_with_its_rows(tmp_path: Path,
                                                              clock: FakeClock) -> None:
    """A file written before protocol 1.2 (no order_key column) gains the column on open; its
    rows keep everything and have no key (their EA record is never asked)."""
    path = tmp_path / "old.sqlite3"
    with closing(sqlite3.connect(path)) as db:
        db.executescript("""CREATE TABLE orders (token_id TEXT NOT NULL,
            client_id TEXT NOT NULL, terminal TEXT NOT NULL, params_hash TEXT NOT NULL,
            state TEXT NOT NULL, request TEXT NOT NULL, result TEXT, retcode INTEGER,
            ticket INTEGER, passes INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL,
            updated_at REAL NOT NULL, PRIMARY KEY (token_id, client_id));
            INSERT INTO orders VALUES ('tok_a', 'old-1', '5012345@MTG-Demo', 'h', 'ACCEPTED',
            '{"action":1}', NULL, 10009, 5001, 0, 1.0, 2.0);""")
        db.commit()
    path.chmod(0o600)
    journal = OrderJournal(path, clock=clock)
    journal.open()
    try:
        old = journal.get("tok_a", "old-1")
        assert old is not None and (old.state, old.ticket, old.order_key) == (
            OrderState.ACCEPTED, 5001, None)
        new = journal.receive(token_id="tok_a", client_id="new-1", terminal=TERMINAL,
                              params_hash=params_hash(REQUEST), request=REQUEST,
                              order_key="BBBBBBBBBBBBBBBBBBBBBB")
        assert journal.get("tok_a", "new-1") == new
    finally:
        journal.close()

"""The audit trail's size follows the journal's retention, and it stays append-only otherwise;
the read-only reader behind `mtgateway audit` filters it (real SQLite files, injected clock)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from gateway.trading.audit import AuditFilter, read_audit
from gateway.trading.journal import OrderJournal, params_hash
from tests.testkit import FakeClock

REQUEST: dict[str, Any] = {"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0}
HOUR = 3600.0
RETENTION_S = 72 * HOUR


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_763_650_000.0)


@pytest.fixture
def journal(tmp_path: Path, clock: FakeClock) -> Iterator[OrderJournal]:
    journal = OrderJournal(tmp_path / "orders.sqlite3", clock=clock)
    journal.open()
    yield journal
    journal.close()


def _rejected(journal: OrderJournal, client_id: str, token_id: str = "tok_a") -> None:
    row = journal.receive(token_id=token_id, client_id=client_id, terminal="1@S",
                          params_hash=params_hash(REQUEST), request=REQUEST)
    journal.record_result(journal.mark_sent(row, REQUEST), {"retcode": 10014}, success=False,
                          ticket=None)


def _client_ids(journal: OrderJournal) -> list[str]:
    return [line.client_id for line in journal.audit()]


def test_old_lines_of_pruned_rows_go_and_the_rest_stay(journal: OrderJournal,
                                                       clock: FakeClock) -> None:
    """Past the retention, a pruned order's lines are deleted; an unsettled one's stay, and
    so do recent lines, whatever their order."""
    _rejected(journal, "old")
    unknown = journal.receive(token_id="tok_a", client_id="open", terminal="1@S",
                              params_hash=params_hash(REQUEST), request=REQUEST)
    journal.mark_unknown(journal.mark_sent(unknown, REQUEST))
    clock.advance(RETENTION_S + HOUR)
    assert journal.prune(older_than_s=RETENTION_S) == 1  # "old": its "pruned" line is new
    _rejected(journal, "recent")
    assert journal.prune_audit(older_than_s=RETENTION_S) == 3  # old's request/sent/outcome
    assert _client_ids(journal) == ["open"] * 3 + ["old"] + ["recent"] * 3
    clock.advance(RETENTION_S + HOUR)
    journal.prune(older_than_s=RETENTION_S)
    journal.prune_audit(older_than_s=RETENTION_S)
    assert set(_client_ids(journal)) == {"open", "recent"}  # recent's "pruned" line is new


def test_trail_stays_append_only_around_the_prune(journal: OrderJournal,
                                                  clock: FakeClock) -> None:
    """Before and after prune_audit, another connection can neither delete nor update."""
    _rejected(journal, "a")
    clock.advance(2 * RETENTION_S)
    journal.prune(older_than_s=RETENTION_S)
    journal.prune_audit(older_than_s=RETENTION_S)
    with closing(sqlite3.connect(journal.path)) as db:
        for sql in ("DELETE FROM audit", "UPDATE audit SET event='x'"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(sql)


def test_retention_below_a_day_is_refused(journal: OrderJournal) -> None:
    """Like the journal's, the trail's retention is never under 24 h."""
    with pytest.raises(ValueError):
        journal.prune_audit(older_than_s=HOUR)


def test_reader_filters_by_time_token_and_client_id(journal: OrderJournal,
                                                    clock: FakeClock) -> None:
    """read_audit combines the time window, the token id and the client id."""
    _rejected(journal, "a1")
    clock.advance(HOUR)
    middle = clock()
    _rejected(journal, "a2")
    _rejected(journal, "b1", token_id="tok_b")
    clock.advance(HOUR)
    _rejected(journal, "a3")
    path = journal.path

    def ids(where: AuditFilter) -> list[str]:
        return [line.client_id for line in read_audit(path, where)]

    assert ids(AuditFilter(token_id="tok_b")) == ["b1"] * 3
    assert ids(AuditFilter(since=middle, until=middle)) == ["a2"] * 3 + ["b1"] * 3
    assert ids(AuditFilter(since=middle, token_id="tok_a")) == ["a2"] * 3 + ["a3"] * 3
    assert ids(AuditFilter(client_id="a1")) == ["a1"] * 3
    assert ids(AuditFilter(client_id="nope")) == []


def test_reader_never_writes(tmp_path: Path) -> None:
    """A missing journal is an error, not a new empty file."""
    with pytest.raises(FileNotFoundError):
        list(read_audit(tmp_path / "orders.sqlite3", AuditFilter()))
    assert not (tmp_path / "orders.sqlite3").exists()

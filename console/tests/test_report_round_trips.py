"""What the console's two most frequent daemon calls cost the database, on SQLite and on a real
PostgreSQL (``tests/pgkit.py``): a terminal report (every 30 s per daemon) and a revocation
long-poll renewal. Every statement costs the database its work and every round trip costs
the console CPU (a worker's sleep and wake, the driver's Python, the server's backend woken),
so the statements each transaction runs are counted here, beside its proof's replay row (the
store's, written first by every device call), and on PostgreSQL the round trips on the wire
(the statements travel in batches: ``database.Tx``).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console.tests.dbkit import Wire, database_url_of
from mtgateway.credential import token_hint
from mtgateway_base.wire.errors import ProofRejected
from mtgateway_base.wire.proofs import device_info
from mtgateway_base.wire.reports import (
    AccountDetails,
    AccountFigures,
    Position,
    PositionsBook,
    TerminalReport,
)
from mtgateway_console.database import Cursor, Tx
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from mtgateway_console.tables import approvals as approval_rows
from mtgateway_console.tables import snapshots
from mtgateway_console.tables.store import ProofClaim
from mtgateway_console.tables.token_details import details_of
from tests.testkit import FakeClock

OWNER = "owner@example.com"
LOGIN, SERVER = 5012345, "MTG-Demo"
#: A Monday 00:00 UTC.
T0 = 1_763_942_400
#: A steady report: the lookup that decides it, the state, the figures, the book, the
#: equity point. It was twelve: the token, the approval, the state, the latest point and the
#: alert settings each read apart, the point's slice and the terminal's snapshot deleted
#: although there was nothing to delete, the verified mark written again although there.
STEADY_REPORT = 5
#: A first report: the steady one's, the verified mark and the token's first use.
FIRST_REPORT = 7
#: A steady report a minute after the token's last use was written: the steady one's and
#: that use (``token_details.py``: once a minute per token and place).
STEADY_REPORT_AND_USE = 6
#: The report that says an active terminal is gone: the lookup, the state, and the drops of
#: its figures, book and snapshot.
GONE_REPORT = 5
#: The reports after it: the lookup and the state (nothing left to drop).
STEADY_GONE_REPORT = 2
#: A renewal: the head and the device's rows past its cursor, in one statement (it was two).
RENEWAL = 1
#: A lookup by a daemon that names itself (its name and OS): the record's basis (the token
#: joined to its terminal's account, the approval, the device's row and the kill switch:
#: ``basis.py``), the pending instructions, the device's row written and the token's use. It
#: was nine: the account read twice (the check, then the policy) and the device's stored
#: name read although the daemon gave one; then seven, the five reads apart.
LOOKUP = 4
#: The lookups after it, the token's use written within the minute.
STEADY_LOOKUP = 3
#: A refresh of one token: the basis and the instructions (the use written within the
#: minute). It was six, then five.
REFRESH = 2

#: Round trips on PostgreSQL, ``BEGIN`` and ``COMMIT`` counted, on the wire (libpq's trace):
#: the statements travel in batches (``database.Tx``), so a transaction waits for the
#: server at its reads and at its commit only. Any report (first, steady, gone): ``BEGIN``,
#: the replay row and the lookup in one, its writes and ``COMMIT`` in the other; it was one
#: per statement, eight for a steady report and ten for a first one.
REPORT_ROUND_TRIPS = 2
#: A renewal: the replay row with its read, then ``COMMIT`` (it was four).
RENEWAL_ROUND_TRIPS = 2
#: A renewal that carries the daemon's report (``Terminals.report_and_wait``): ``BEGIN``, the
#: replay row, the feed's read and the report's lookup in one, the report's writes and
#: ``COMMIT`` in the other. It was three: the feed's read went after the report's writes,
#: in a batch of its own.
CARRIED_ROUND_TRIPS = 2
#: A lookup or a refresh: ``BEGIN``, the replay row and the basis's two reads in one, the
#: writes and ``COMMIT`` in the other (a lookup was nine or ten, a refresh eight; then six,
#: one per read).
LOOKUP_ROUND_TRIPS = 2


class Statements:
    """The statements each transaction runs, recorded by wrapping :meth:`Tx.execute` (the
    door's workers run them: a lock keeps the record whole), and on PostgreSQL its round
    trips, counted on the wire (:class:`~console.tests.dbkit.Wire`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
        self._by_tx: dict[Tx, list[str]] = {}
        self._lock = threading.Lock()
        directory.mkdir()
        self._wire = Wire(directory)
        execute = Tx.execute

        def recorded(tx: Tx, sql: str, args: Sequence[Any] = ()) -> Cursor:
            with self._lock:
                self._by_tx.setdefault(tx, []).append(" ".join(sql.split()))
                if tx.postgres and sql == "BEGIN":
                    self._wire.begin(tx)
            return execute(tx, sql, args)

        monkeypatch.setattr(Tx, "execute", recorded)

    def clear(self) -> None:
        with self._lock:
            self._by_tx.clear()

    def of_claimed(self) -> list[str]:
        """The statements of the one transaction recorded since :meth:`clear` that wrote a
        proof's replay row, without the replay row's own, its ``BEGIN`` and its ``COMMIT``."""
        with self._lock:
            [found] = [s for s in self._by_tx.values()
                       if any("proof_replays" in sql for sql in s)]
        return [sql for sql in found
                if "proof_replays" not in sql and sql not in ("BEGIN", "COMMIT")]

    def round_trips_of_claimed(self) -> int:
        """The round trips of the transaction :meth:`of_claimed` reads, ``BEGIN`` and
        ``COMMIT`` counted (PostgreSQL only)."""
        with self._lock:
            [found] = [tx for tx, s in self._by_tx.items()
                       if any("proof_replays" in sql for sql in s)]
            return self._wire.round_trips(found)


@pytest.fixture(params=["sqlite", "postgres"])
async def authority(request: pytest.FixtureRequest, tmp_path: Path) -> Authority:
    clock = FakeClock(float(T0))
    found = await Authority.open(tmp_path, RecordingMailer(),
                                 database_url=database_url_of(request), clock=clock)
    found.test_clock = clock  # type: ignore[attr-defined]
    await found.owners.create(OWNER, "a long enough password")
    return found


def _claim(authority: Authority, now: float) -> ProofClaim:
    return ProofClaim(authority.store, secrets.token_hex(16), int(now) + 60, int(now),
                      lambda: None)


def _report(token_id: str, equity: float, as_of: float) -> TerminalReport:
    book = PositionsBook(as_of, tuple(
        Position(ticket, "BTCUSD", "buy", 0.1, 97000.0, 97125.0, 0.0, 0.0, 12.5, 0.0)
        for ticket in (1, 2)))
    return TerminalReport(LOGIN, SERVER, "active", "", token_id, "", "MT5", "1.2.0",
                          AccountFigures(10000.0, equity, "USD", 2, 194.0, 5160.0), book)


async def test_a_steady_report_and_a_renewal_take_few_statements(
        authority: Authority, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """A report of an active terminal like the one 30 s before (but for its figures) runs
    five statements beside its replay row (six when the token's use is due again), a first
    report seven, a long-poll renewal one; what they store is what the other tests of
    reports, equity and the feed hold."""
    clock: FakeClock = authority.test_clock  # type: ignore[attr-defined]
    token = await authority.tokens.issue(OWNER, LOGIN, SERVER)
    device = device_info(Ed25519PrivateKey.generate())
    await authority.approvals.approve_local(device)
    statements = Statements(monkeypatch, tmp_path / "wire")
    try:
        for i, bound in enumerate((FIRST_REPORT, STEADY_REPORT, STEADY_REPORT_AND_USE,
                                   STEADY_REPORT)):
            clock.now = T0 + 30 * i + 0.25
            statements.clear()
            stored = await authority.report_terminals(
                device, [_report(token.token_id, 10012.5 + i, clock.now - 0.2)], "10.0.0.1",
                _claim(authority, clock.now))
            assert stored == 1
            assert len(statements.of_claimed()) <= bound, statements.of_claimed()
            if authority.store.database.postgres:
                assert statements.round_trips_of_claimed() == REPORT_ROUND_TRIPS

        head, _ = await authority.wait_revocations(device, None, 0)
        for _ in range(2):
            statements.clear()
            assert await authority.wait_revocations(
                device, head, 0.05, _claim(authority, clock.now)) == (head, [])
            assert len(statements.of_claimed()) <= RENEWAL, statements.of_claimed()
            if authority.store.database.postgres:
                assert statements.round_trips_of_claimed() == RENEWAL_ROUND_TRIPS

        # what the reports stored: the state, a point per report, the book, the mark
        [row] = await authority.terminals.of(OWNER)
        assert (row.state, row.changed_at, row.reported_at) == ("active", T0, T0 + 90)
        [series] = (await authority.terminals.history_of(OWNER)).values()
        assert [(p.at, p.equity) for p in series] == [(T0, 10012.5), (T0 + 30, 10013.5),
                                                      (T0 + 60, 10014.5), (T0 + 90, 10015.5)]
        [book] = (await authority.terminals.books_of(OWNER)).values()
        assert book.as_of == pytest.approx(T0 + 90.05)
        assert await authority.terminals.verified(OWNER) == {(LOGIN, SERVER): T0}
    finally:
        await authority.close()


async def test_a_renewal_carrying_the_report_is_two_round_trips_and_answers_the_feed(
        authority: Authority, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """A long-poll that carries its daemon's report reads the feed with the report's lookup,
    so it waits for the server twice (its reads, then its writes with ``COMMIT``), whether
    the feed has a row for the device or not; what it answers and stores is unchanged: the
    row past its cursor, the report's state and its equity point; a copy is refused."""
    clock: FakeClock = authority.test_clock  # type: ignore[attr-defined]
    token = await authority.tokens.issue(OWNER, LOGIN, SERVER)
    other = await authority.tokens.issue(OWNER, LOGIN + 1, SERVER)
    device = device_info(Ed25519PrivateKey.generate())
    await authority.approvals.approve_local(device)
    assert await authority.report_terminals(device, [_report(token.token_id, 10010.0,
                                                             clock.now)]) == 1
    head, _ = await authority.wait_revocations(device, None, 0)
    statements = Statements(monkeypatch, tmp_path / "wire")
    try:
        clock.now = T0 + 30
        statements.clear()
        claim = _claim(authority, clock.now)
        assert await authority.report_and_wait(
            device, [_report(token.token_id, 10011.0, clock.now)], head, 0, "10.0.0.1",
            claim) == (head, [], 1)
        if authority.store.database.postgres:
            assert statements.round_trips_of_claimed() == CARRIED_ROUND_TRIPS
        with pytest.raises(ProofRejected):  # the same proof again
            await authority.report_and_wait(
                device, [_report(token.token_id, 10099.0, clock.now)], head, 0, "", claim)

        assert await authority.tokens.revoke(OWNER, other.token_id)  # a row for its owner
        clock.now = T0 + 60
        statements.clear()
        cursor, token_ids, stored = await authority.report_and_wait(
            device, [_report(token.token_id, 10012.0, clock.now)], head, 0, "10.0.0.1",
            _claim(authority, clock.now))
        assert (cursor, token_ids, stored) == (head + 1, [other.token_id], 1)
        if authority.store.database.postgres:
            assert statements.round_trips_of_claimed() == CARRIED_ROUND_TRIPS

        [series] = (await authority.terminals.history_of(OWNER)).values()
        assert [(p.at, p.equity) for p in series] == [(T0, 10010.0), (T0 + 30, 10011.0),
                                                      (T0 + 60, 10012.0)]
    finally:
        await authority.close()


async def test_a_terminal_gone_drops_its_figures_once_then_reports_in_two_statements(
        authority: Authority, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """The report that says a terminal is no longer active drops its figures, book and
    snapshot (the lookup found them); the ones after it find nothing to drop and write the
    state alone."""
    clock: FakeClock = authority.test_clock  # type: ignore[attr-defined]
    token = await authority.tokens.issue(OWNER, LOGIN, SERVER)
    device = device_info(Ed25519PrivateKey.generate())
    await authority.approvals.approve_local(device)
    details = AccountDetails({"login": LOGIN, "currency": "USD", "balance": 10000.0,
                              "equity": 10012.5, "margin": 194.0})
    active = replace(_report(token.token_id, 10012.5, clock.now), details=details)
    statements = Statements(monkeypatch, tmp_path / "wire")
    try:
        assert await authority.report_terminals(device, [active]) == 1
        assert await authority.run(snapshots.snapshots_of, OWNER)
        for i, bound in enumerate((GONE_REPORT, STEADY_GONE_REPORT, STEADY_GONE_REPORT)):
            clock.now = T0 + 30 * (i + 1)
            statements.clear()
            gone = TerminalReport(LOGIN, SERVER, "disconnected", "connection_lost",
                                  token.token_id, "", "MT5", "1.2.0")
            assert await authority.report_terminals(
                device, [gone], "", _claim(authority, clock.now)) == 1
            assert len(statements.of_claimed()) <= bound, statements.of_claimed()
            if authority.store.database.postgres:
                assert statements.round_trips_of_claimed() == REPORT_ROUND_TRIPS

        [row] = await authority.terminals.of(OWNER)
        assert (row.state, row.changed_at, row.reported_at) == ("disconnected", T0 + 30,
                                                               T0 + 90)
        assert await authority.terminals.figures_of(OWNER) == {}
        assert await authority.terminals.books_of(OWNER) == {}
        assert await authority.run(snapshots.snapshots_of, OWNER) == {}
        assert len((await authority.terminals.history_of(OWNER))[
            (device.device_id, LOGIN, SERVER)]) == 1  # the history stays
    finally:
        await authority.close()


async def test_a_lookup_and_a_refresh_take_one_transaction_of_few_statements(
        authority: Authority, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """A record lookup and a refresh run in the transaction that writes their proof's replay
    row, read the terminal's account once, and a daemon that names itself does not have its
    stored name read; the records they answer are the token's, and a copy of the call is
    refused and writes nothing."""
    clock: FakeClock = authority.test_clock  # type: ignore[attr-defined]
    token = await authority.tokens.issue(OWNER, LOGIN, SERVER)
    device = device_info(Ed25519PrivateKey.generate())
    await authority.approvals.approve_local(device)
    hint = token_hint(token.token)
    statements = Statements(monkeypatch, tmp_path / "wire")
    try:
        for i, bound in enumerate((LOOKUP, STEADY_LOOKUP)):
            clock.now = T0 + i + 0.25
            statements.clear()
            answer = await authority.lookup(device, token_hint=hint, device_name="vps-1",
                                            os="Windows Server 2022",
                                            claim=_claim(authority, clock.now))
            assert answer.status == "ok"
            assert answer.record is not None
            assert answer.record["record"]["token_id"] == token.token_id
            assert len(statements.of_claimed()) <= bound, statements.of_claimed()
            if authority.store.database.postgres:
                assert statements.round_trips_of_claimed() == LOOKUP_ROUND_TRIPS
        statements.clear()
        claim = _claim(authority, clock.now)
        [record] = await authority.refresh(device, [token.token_id], claim=claim)
        assert record["record"]["token_id"] == token.token_id
        assert len(statements.of_claimed()) <= REFRESH, statements.of_claimed()
        if authority.store.database.postgres:
            assert statements.round_trips_of_claimed() == LOOKUP_ROUND_TRIPS
        with pytest.raises(ProofRejected):  # the same proof again
            await authority.refresh(device, [token.token_id], claim=claim)
        # Several tokens: every basis asked before any is read, so still one batch of reads.
        other = await authority.tokens.issue(OWNER, LOGIN + 1, SERVER)
        statements.clear()
        records = await authority.refresh(device, [token.token_id, other.token_id],
                                          claim=_claim(authority, clock.now))
        assert [r["record"]["token_id"] for r in records] == [token.token_id, other.token_id]
        if authority.store.database.postgres:
            assert statements.round_trips_of_claimed() == LOOKUP_ROUND_TRIPS
        row = await authority.run(approval_rows.device, device.device_id)
        assert row is not None
        assert (row.name, row.os) == ("vps-1", "Windows Server 2022")
    finally:
        await authority.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    return database_url_of(request)


async def test_a_use_another_console_process_wrote_is_not_written_again_within_the_minute(
        tmp_path: Path, database_url: str) -> None:
    """Two console processes on one database each keep their own throttle; the report's
    lookup reads the token's stored use, so a daemon whose reports alternate between them
    writes its token's use once a minute, not with every report."""
    clock = FakeClock(float(T0))
    first = await Authority.open(tmp_path, RecordingMailer(), database_url=database_url,
                                 clock=clock)
    second = await Authority.open(tmp_path, RecordingMailer(), database_url=database_url,
                                  clock=clock)
    try:
        await first.owners.create(OWNER, "a long enough password")
        token = await first.tokens.issue(OWNER, LOGIN, SERVER)
        device = device_info(Ed25519PrivateKey.generate())
        await first.approvals.approve_local(device)
        for i, console in enumerate((first, second, first, second)):
            clock.now = T0 + 30 * i
            assert await console.report_terminals(
                device, [_report(token.token_id, 10000.0, clock.now)], "10.0.0.1") == 1
            [use] = (await console.run(details_of, [token.token_id])).values()
            assert use.used_at == T0 + 60 * (i // 2)
    finally:
        await second.close()
        await first.close()

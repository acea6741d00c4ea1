"""The idempotency journal and the audit trail of trades: one SQLite file, fsynced.

Why a journal: a trade whose answer is lost may have executed, and the only safe way to let a
client retry is to remember, durably and *before* the order leaves, what was asked under which
``client_id``. Every state change is committed with ``synchronous=FULL`` in WAL mode, so a row the
daemon acted on survives a crash or power loss. The state machine::

    RECEIVED ──► SENT ──► ACCEPTED            broker answered a success retcode (ticket kept)
       │           ├────► REJECTED            broker answered a retcode proving nothing executed
       │           └────► UNKNOWN ──► RESOLVED_ACCEPTED    reconciliation found the tag
       │                          └─► RESOLVED_NOT_FOUND   not found after ``max_passes``
       │           └────► (released)  provably never left (the EA dropped before it was
       │                                  written), or the EA refused it before the broker
       └─► (deleted)  nothing left for the EA (offline, refused by the gate, the EA's own error)

    ACCEPTED | REJECTED | RESOLVED_* ──► (pruned)  ``retention`` after they were reached

``SENT → UNKNOWN`` has two causes: the answer was lost (the EA dropped, the trade deadline
passed, the answer was unreadable), or the broker answered a retcode that does not prove the order
was not executed (``TRADE_RETCODE_ERROR``, ``TIMEOUT``, ``CONNECTION``: the caller decides which,
see ``gateway/trading/desk.py``). In the second case the answer is kept on the row (``result``
and ``retcode``), so ``order_status`` shows what the broker said while reconciliation searches;
``RESOLVED_ACCEPTED`` replaces both with what was found, ``RESOLVED_NOT_FOUND`` keeps them.

``RECEIVED`` rows are deleted (by the desk, also when the next send of their ``client_id``
finds one nobody is placing) because the order provably never left: a retry with the same
``client_id`` may send it. On :meth:`OrderJournal.open` (a restart), ``RECEIVED`` rows are
deleted for the same reason and ``SENT`` rows become ``UNKNOWN``: the daemon died with the order
possibly on the wire.

:data:`FINAL_STATES` rows are deleted by :meth:`OrderJournal.prune` once they have been final
for longer than the retention period (executed ones only once the terminal shows their order
or position is no longer open) (never under :data:`MIN_RETENTION_S`, 24 h: a
``client_id`` must stay idempotent that long). ``RECEIVED``, ``SENT`` and ``UNKNOWN`` rows are
never pruned, whatever their age: their outcome is still to be settled. Once pruned, a
``client_id`` is free again and a request under it is a new order.

The audit trail is a separate append-only table (triggers refuse UPDATE and DELETE) recording
each trade request and each outcome: time, token record id, terminal, client id, action, symbol,
volume, type, retcode, state, the ticket the terminal gave the order (once known) and the
hash of the request's parameters (:func:`params_hash`, the one idempotency compares: two
lines with one ``client_id`` and different hashes are a conflict). It never holds a token or
any other secret. Pruning a row appends a ``pruned`` line (see :meth:`OrderJournal.prune`);
the trail itself is bounded by the same retention (:meth:`OrderJournal.prune_audit`: lines older
than it whose row is gone). ``gateway/trading/audit.py`` reads it for ``mtgateway audit``.

:meth:`OrderJournal.open` checks the file before it trusts it (the WAL frame by frame, then
``PRAGMA quick_check``) and refuses to start on one it cannot trust
(:class:`JournalUnusable`): forgetting committed rows would free the ``client_id`` of orders that
were sent. The recovery step is in ``docs/security.md``, "Recovering the order journal".

Calls are synchronous: a local SQLite commit is a millisecond or two, and keeping them on the
event loop makes the ordering (commit, then send) trivially true.
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import orjson

from ea_bridge import TerminalId
from mtgateway_base.files import prepare_private_db

from ..errors import GatewayError
from .wal import wal_damage

__all__ = [
    "FINAL_STATES",
    "JOURNAL_DB_NAME",
    "MIN_RETENTION_S",
    "AuditRow",
    "JournalStateError",
    "JournalUnusable",
    "OrderJournal",
    "OrderRow",
    "OrderState",
    "order_key",
    "params_hash",
    "terminal_key",
    "terminal_of",
]

#: The journal's file in the daemon's data directory (the idempotency journal and the audit
#: trail of trades). Here, not with the app that opens it, so ``mtgateway audit`` reads it
#: without importing the daemon.
JOURNAL_DB_NAME: Final = "orders.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    token_id     TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    terminal     TEXT NOT NULL,
    params_hash  TEXT NOT NULL,
    state        TEXT NOT NULL,
    request      TEXT NOT NULL,
    result       TEXT,
    retcode      INTEGER,
    ticket       INTEGER,
    passes       INTEGER NOT NULL DEFAULT 0,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    order_key    TEXT,
    notes        TEXT NOT NULL DEFAULT '{}',
    venue        TEXT,
    PRIMARY KEY (token_id, client_id)
);
CREATE INDEX IF NOT EXISTS orders_by_state ON orders (state, terminal);
CREATE INDEX IF NOT EXISTS orders_by_age ON orders (updated_at);
CREATE TABLE IF NOT EXISTS audit (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         REAL NOT NULL,
    token_id   TEXT NOT NULL,
    terminal   TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    event      TEXT NOT NULL,
    action     INTEGER,
    symbol     TEXT,
    volume     REAL,
    type       INTEGER,
    retcode    INTEGER,
    state      TEXT NOT NULL,
    ticket     INTEGER,
    params_hash TEXT,
    price      REAL,
    sl         REAL,
    tp         REAL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""
#: Only :meth:`OrderJournal.prune_audit` lifts this, inside its own transaction.
_AUDIT_NO_DELETE = """CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;"""
_ORDER_COLUMNS = ("token_id, client_id, terminal, params_hash, state, request, result, retcode, "
                  "ticket, passes, created_at, updated_at, order_key, venue")
#: The order key is unique across tokens and retention: an EA record keyed by it answers one
#: row only. NULL (rows of a journal written before protocol 1.2) repeats freely.
_ORDER_KEY_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS orders_by_key ON orders (order_key)"
_AUDIT_COLUMNS = "at, token_id, terminal, client_id, event, action, symbol, volume, type, " \
                 "retcode, state, ticket, params_hash, price, sl, tp"
#: Audit columns added after the first release; :meth:`OrderJournal.open` adds them to an
#: older file (``ALTER TABLE ... ADD COLUMN`` touches no row, so the triggers do not fire).
#: ``price``, ``sl``, ``tp``: what an owner reading the trail asks first.
_AUDIT_ADDED: Final = (("ticket", "INTEGER"), ("params_hash", "TEXT"), ("price", "REAL"),
                      ("sl", "REAL"), ("tp", "REAL"))
#: Order columns added after the first release (order keys with protocol 1.2; the counts of
#: coalesced notes).
_ORDERS_ADDED: Final = (("order_key", "TEXT"), ("notes", "TEXT NOT NULL DEFAULT '{}'"),
                        ("venue", "TEXT"))


class OrderState(StrEnum):
    """Where an idempotency row is in its life (see the module docstring)."""

    RECEIVED = "RECEIVED"
    SENT = "SENT"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"
    RESOLVED_ACCEPTED = "RESOLVED_ACCEPTED"
    RESOLVED_NOT_FOUND = "RESOLVED_NOT_FOUND"


#: States nothing will move a row out of: the outcome is settled, so only retention keeps them.
FINAL_STATES: Final = frozenset({OrderState.ACCEPTED, OrderState.REJECTED,
                                 OrderState.RESOLVED_ACCEPTED, OrderState.RESOLVED_NOT_FOUND})

#: Final states whose order executed: it may still be an open position or pending order.
_EXECUTED_STATES: Final = frozenset({OrderState.ACCEPTED, OrderState.RESOLVED_ACCEPTED})

#: The shortest retention :meth:`OrderJournal.prune` accepts: a ``client_id`` must stay
#: idempotent for at least 24 h (security spec, "Trading reliability").
MIN_RETENTION_S: Final = 24 * 3600.0


class JournalStateError(GatewayError):
    """A transition the state machine does not allow was asked for: a bug in the caller."""


#: Where the recovery step of an unusable journal is documented (named in the error).
RECOVERY_DOC: Final = 'see "Recovering the order journal" in docs/security.md'


class JournalUnusable(GatewayError):
    """The journal cannot be trusted or opened, so the daemon must not start: a one-line
    message naming the file, what is wrong, and where the recovery step is documented."""

    def __init__(self, path: Path, problem: str, *, locked: bool = False) -> None:
        then = ("stop whatever holds it (another mtgateway, a sqlite3 shell) and start again"
                if locked else f"nothing was changed; to recover, {RECOVERY_DOC}")
        super().__init__(f"the order journal {path} {problem}; {then}")
        self.path = path


def _unusable(path: Path, exc: sqlite3.Error) -> JournalUnusable:
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in message or "busy" in message):
        return JournalUnusable(path, f"is locked by another process ({message})", locked=True)
    return JournalUnusable(path, f"is not a usable SQLite database ({message})")


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One idempotency row. ``request`` is what was (or is about to be) sent to the EA."""

    token_id: str
    client_id: str
    terminal: str
    params_hash: str
    state: OrderState
    request: dict[str, Any]
    result: dict[str, Any] | None
    retcode: int | None
    ticket: int | None
    passes: int
    created_at: float
    updated_at: float
    #: The key the EA records the order under (docs/protocol.md, "The order record"): 22
    #: characters of base64url, unique across tokens and retention. None for a row written
    #: before protocol 1.2 (its EA record, if any, is keyed by the bare client_id and is
    #: never asked: it could answer another token's order).
    order_key: str | None = None
    #: Whether the order went to the terminal's paper book (``venue.py``): reconciliation
    #: looks for it there, never at the broker.
    paper: bool = False


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One line of the audit trail."""

    seq: int
    at: float
    token_id: str
    terminal: str
    client_id: str
    event: str
    action: int | None
    symbol: str | None
    volume: float | None
    type: int | None
    retcode: int | None
    state: str
    ticket: int | None
    params_hash: str | None
    #: The fill price once the terminal answered with one, else the request's price (0 or
    #: None for a market order not yet filled); the request's stops. None on lines written
    #: before these columns existed.
    price: float | None = None
    sl: float | None = None
    tp: float | None = None


#: Random bytes in an order key: 16 (128 bits), 22 characters of base64url without padding.
ORDER_KEY_BYTES: Final = 16


def order_key(random_bytes: Callable[[int], bytes]) -> str:
    """A fresh order key: :data:`ORDER_KEY_BYTES` random bytes as base64url, no padding.

    Why not the ``client_id``: the journal's idempotency scope is (token, ``client_id``) within
    retention, but the EA's record outlives both; a bare ``client_id`` used again under a new
    token, or after its row was pruned, would be answered from the old order's record.
    """
    return base64.urlsafe_b64encode(random_bytes(ORDER_KEY_BYTES)).rstrip(b"=").decode()


def terminal_key(terminal: TerminalId) -> str:
    """How a terminal is written in the journal's ``terminal`` column: ``login@server``."""
    return str(terminal)


def terminal_of(key: str) -> TerminalId:
    """The terminal of a journal ``terminal`` column."""
    login, _, server = key.partition("@")
    return TerminalId(int(login), server)


def params_hash(params: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a request (sorted keys), for "same parameters"."""
    return hashlib.sha256(orjson.dumps(params, option=orjson.OPT_SORT_KEYS)).hexdigest()


class OrderJournal:
    """The idempotency rows and the audit trail in one SQLite file.

    Args:
        path: the database file (created, with its directory, when missing).
        clock: wall-clock epoch seconds, injected for tests.
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time,
                 busy_timeout_s: float = 5.0) -> None:
        self.path = path
        self._clock = clock
        self._busy_timeout_s = busy_timeout_s
        self._db: sqlite3.Connection | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def open(self) -> None:
        """Check the file, open it, create the schema, and settle rows a previous run left in
        flight.

        The checks come first because forgetting is the one failure the journal must not
        have: a journal that silently starts empty frees every ``client_id``. So a WAL whose
        recovery would drop commits (:func:`~gateway.trading.wal.wal_damage`), a WAL without its
        database file, a file that is not SQLite, a database failing ``PRAGMA quick_check``,
        or one locked by another process each refuse the start, before anything is written.

        Raises:
            JournalUnusable: one of the above; its message is one line with what to do.
            InsecurePath: the data dir or a journal file is not private (checked first).
        """
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists() and not self.path.exists():
            raise JournalUnusable(self.path, "is missing but its write-ahead log "
                                  f"{wal.name} is there")
        prepare_private_db(self.path)  # 0600 before SQLite opens it: -wal and -shm inherit it
        damage = wal_damage(wal)
        if damage is not None:
            raise JournalUnusable(self.path, f"has a damaged write-ahead log: {damage}")
        try:
            db = sqlite3.connect(self.path, timeout=self._busy_timeout_s,
                                 isolation_level=None)
        except sqlite3.Error as exc:
            raise _unusable(self.path, exc) from None
        try:
            problems = [str(r[0]) for r in db.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise JournalUnusable(self.path, f"fails its integrity check ({problems[0]})")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA + _AUDIT_NO_DELETE + ";")
            have = {r[1] for r in db.execute("PRAGMA table_info(audit)").fetchall()}
            for column, kind in _AUDIT_ADDED:
                if column not in have:
                    db.execute(f"ALTER TABLE audit ADD COLUMN {column} {kind}")
            columns = {r[1] for r in db.execute("PRAGMA table_info(orders)").fetchall()}
            for column, kind in _ORDERS_ADDED:
                if column not in columns:  # a journal of an older daemon
                    db.execute(f"ALTER TABLE orders ADD COLUMN {column} {kind}")
            db.execute(_ORDER_KEY_INDEX)
            self._db = db
            with self._tx():
                self._settle_previous_run()
        except BaseException as exc:
            self._db = None
            db.close()
            if isinstance(exc, sqlite3.Error):
                raise _unusable(self.path, exc) from None
            raise

    def _settle_previous_run(self) -> None:
        for row in self._select("state IN (?, ?)", (OrderState.RECEIVED, OrderState.SENT)):
            if row.state is OrderState.RECEIVED:
                self._exec("DELETE FROM orders WHERE token_id=? AND client_id=?",
                           (row.token_id, row.client_id))
                self._audit(row, "abandoned_at_restart", "ABANDONED", None)
            else:
                self._set_state(row, OrderState.UNKNOWN)
                self._audit(row, "unknown_at_restart", OrderState.UNKNOWN, None)

    def close(self) -> None:
        """Checkpoint and close; idempotent."""
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- reads -----------------------------------------------------------------------------

    def now(self) -> float:
        """The journal's wall clock (epoch seconds), the one ``created_at`` is written in."""
        return self._clock()

    def get(self, token_id: str, client_id: str) -> OrderRow | None:
        """The row for ``client_id`` under ``token_id``, or None."""
        rows = self._select("token_id=? AND client_id=?", (token_id, client_id))
        return rows[0] if rows else None

    def unknown(self, terminal: str | None = None) -> list[OrderRow]:
        """Rows awaiting reconciliation (``UNKNOWN``), oldest first, optionally of one terminal."""
        if terminal is None:
            return self._select("state=? ORDER BY created_at", (OrderState.UNKNOWN,))
        return self._select("state=? AND terminal=? ORDER BY created_at",
                            (OrderState.UNKNOWN, terminal))

    def of_terminal(self, terminal: str) -> list[OrderRow]:
        """Every row of one terminal, oldest first (reconciliation excludes what they own)."""
        return self._select("terminal=? ORDER BY created_at", (terminal,))

    def audit(self, *, after_seq: int = 0, limit: int = 1000) -> list[AuditRow]:
        """Audit lines with ``seq > after_seq``, in order."""
        cursor = self._conn().execute(
            f"SELECT seq, {_AUDIT_COLUMNS} FROM audit WHERE seq > ? ORDER BY seq LIMIT ?",
            (after_seq, limit))
        return [AuditRow(*row) for row in cursor.fetchall()]

    # -- transitions -----------------------------------------------------------------------

    def receive(self, *, token_id: str, client_id: str, terminal: str, params_hash: str,
                request: dict[str, Any], order_key: str | None = None,
                paper: bool = False) -> OrderRow:
        """Insert a ``RECEIVED`` row and its audit line.

        Raises:
            JournalStateError: a row already exists for ``client_id``, or ``order_key`` was
                used before (check :meth:`get` first; a fresh 128-bit key never repeats).
        """
        now = self._clock()
        row = OrderRow(token_id, client_id, terminal, params_hash, OrderState.RECEIVED,
                       request, None, None, None, 0, now, now, order_key, paper)
        try:
            with self._tx():
                self._exec(f"INSERT INTO orders ({_ORDER_COLUMNS}) VALUES "
                           "(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           (token_id, client_id, terminal, params_hash, row.state,
                            _dumps(request), None, None, None, 0, now, now, order_key,
                            "paper" if paper else None))
                self._audit(row, "request", row.state, None)
        except sqlite3.IntegrityError:
            raise JournalStateError(f"client_id {client_id!r} or its order key is already "
                                    "journaled") from None
        return row

    def abandon(self, row: OrderRow, reason: str) -> None:
        """Delete a ``RECEIVED`` row: nothing reached the EA, so the id may be used again."""
        with self._tx():
            self._require(row, (OrderState.RECEIVED,))
            self._exec("DELETE FROM orders WHERE token_id=? AND client_id=?",
                       (row.token_id, row.client_id))
            self._audit(row, f"abandoned:{reason}", "ABANDONED", None)

    def release(self, row: OrderRow, reason: str) -> None:
        """Delete a ``SENT`` row whose request provably did not leave (the bridge raised before
        writing it: the EA dropped since the row was marked) or that the EA refused before the
        broker. The audit's ``sent`` line is followed by ``released:<reason>``, and the
        ``client_id`` may be used again.
        """
        with self._tx():
            current = self._require(row, (OrderState.SENT,))
            self._exec("DELETE FROM orders WHERE token_id=? AND client_id=?",
                       (row.token_id, row.client_id))
            self._audit(current, f"released:{reason}", "RELEASED", None)

    def mark_sent(self, row: OrderRow, request: dict[str, Any]) -> OrderRow:
        """``RECEIVED → SENT`` with the final (stamped) request; commit before it leaves."""
        with self._tx():
            self._require(row, (OrderState.RECEIVED,))
            now = self._clock()
            self._exec("UPDATE orders SET state=?, request=?, updated_at=? "
                       "WHERE token_id=? AND client_id=?",
                       (OrderState.SENT, _dumps(request), now, row.token_id, row.client_id))
            sent = replace(row, state=OrderState.SENT, request=request, updated_at=now)
            self._audit(sent, "sent", sent.state, None)
        return sent

    def record_result(self, row: OrderRow, result: dict[str, Any], *, success: bool,
                      ticket: int | None) -> OrderRow:
        """``SENT → ACCEPTED | REJECTED`` with the broker's result."""
        state = OrderState.ACCEPTED if success else OrderState.REJECTED
        retcode = result.get("retcode")
        retcode = retcode if isinstance(retcode, int) and not isinstance(retcode, bool) else None
        return self._finish(row, (OrderState.SENT,), state, "outcome", result=result,
                            retcode=retcode, ticket=ticket)

    def mark_unknown(self, row: OrderRow, result: dict[str, Any] | None = None) -> OrderRow:
        """``SENT → UNKNOWN``: the answer was lost, or it does not settle the outcome.

        Args:
            row: the ``SENT`` row.
            result: the broker's answer when there was one whose retcode proves nothing (e.g.
                ``TRADE_RETCODE_TIMEOUT``); kept, with its retcode, for ``order_status`` and
                the audit line. None when the answer was lost.
        """
        retcode = None if result is None else _int_or_none(result.get("retcode"))
        return self._finish(row, (OrderState.SENT,), OrderState.UNKNOWN, "outcome",
                            result=result, retcode=retcode)

    def resolve_found(self, row: OrderRow, ticket: int | None,
                      found: dict[str, Any]) -> OrderRow:
        """``UNKNOWN → RESOLVED_ACCEPTED``: reconciliation found the order; ``found`` says where.

        ``found["retcode"]`` (when an int) replaces the row's retcode, so a row that went
        UNKNOWN on an ambiguous retcode does not keep reporting it once found.
        """
        return self._finish(row, (OrderState.UNKNOWN,), OrderState.RESOLVED_ACCEPTED,
                            "reconciled", result=found, ticket=ticket,
                            retcode=_int_or_none(found.get("retcode")))

    def resolve_not_executed(self, row: OrderRow, found: dict[str, Any]) -> OrderRow:
        """``UNKNOWN → RESOLVED_NOT_FOUND`` at once: the EA's own record of the broker's answer
        (``found``, a rejection retcode) proves the order was not executed."""
        return self._finish(row, (OrderState.UNKNOWN,), OrderState.RESOLVED_NOT_FOUND,
                            "reconciled", result=found,
                            retcode=_int_or_none(found.get("retcode")))

    def explain_unknown(self, row: OrderRow, event: str, reason: str) -> OrderRow:
        """Keep an ``UNKNOWN`` row unknown and say why in its result (``unknown_reason``, which
        ``order_status`` shows), with an ``event`` audit line; nothing is written when the row
        already gives this reason (a pass every few seconds must not grow the trail)."""
        with self._tx():
            current = self._require(row, (OrderState.UNKNOWN,))
            if (current.result or {}).get("unknown_reason") == reason:
                return current
            return self._finish(current, (OrderState.UNKNOWN,), OrderState.UNKNOWN, event,
                                result={**(current.result or {}), "unknown_reason": reason})

    def record_miss(self, row: OrderRow, max_passes: int) -> OrderRow:
        """One reconciliation pass did not find the order; ``RESOLVED_NOT_FOUND`` at the last."""
        with self._tx():
            current = self._require(row, (OrderState.UNKNOWN,))
            passes = current.passes + 1
            state = OrderState.RESOLVED_NOT_FOUND if passes >= max_passes else OrderState.UNKNOWN
            now = self._clock()
            self._exec("UPDATE orders SET state=?, passes=?, updated_at=? "
                       "WHERE token_id=? AND client_id=?",
                       (state, passes, now, row.token_id, row.client_id))
            updated = replace(current, state=state, passes=passes, updated_at=now)
            self._audit(updated, "reconcile_miss", state, None)
        return updated

    def prune(self, *, older_than_s: float,
              open_tags: Mapping[str, frozenset[str | int]] | None = None) -> int:
        """Delete the settled rows that have been final for over ``older_than_s`` seconds (by
        ``updated_at``, the time they became final), in one transaction; returns how many.

        Why ``updated_at``: an order resolved by reconciliation long after it was sent stays
        visible to ``order_status`` for the whole period after its outcome became known.
        ``RECEIVED``, ``SENT`` and ``UNKNOWN`` rows are never deleted, however old: the
        outcome of their order is still open, and forgetting them would let a retry send it
        again. A pruned ``client_id`` is free: a later request under it is a new order.

        Rows whose order executed (``ACCEPTED``, ``RESOLVED_ACCEPTED``) may still stand for an
        open position or pending order, which the security policy says is always retained:
        while the row is kept its ticket is claimed, so reconciliation of another order never
        takes that one for its own (nor, with a tag, a reused ``client_id`` the old order's
        tag). So they are pruned only for terminals listed in ``open_tags`` (the tickets and
        comments of that terminal's open orders and positions, read just before) and only
        when neither their ticket nor their comment is among them. ``REJECTED`` and
        ``RESOLVED_NOT_FOUND`` rows left nothing open.

        The audit trail is not pruned here: its lines outlive the row (each pruned row gets a
        ``pruned`` line, so a ``client_id`` that appears again later in the trail is
        explained); :meth:`prune_audit` bounds it separately.

        Args:
            older_than_s: the retention period, seconds (``[trading] journal_retention_h``).
            open_tags: terminal key → the tickets and comments of its open orders and
                positions; None (or a terminal missing from it) keeps every executed row of
                that terminal.

        Raises:
            ValueError: ``older_than_s`` is below :data:`MIN_RETENTION_S` (24 h).
        """
        if not older_than_s >= MIN_RETENTION_S:  # also refuses NaN
            raise ValueError(f"journal retention must be at least {MIN_RETENTION_S:.0f} s, "
                             f"got {older_than_s}")
        finals = sorted(FINAL_STATES)
        tags = open_tags or {}
        pruned = 0
        with self._tx():
            cutoff = self._clock() - older_than_s
            rows = self._select(
                f"state IN ({','.join('?' * len(finals))}) AND updated_at < ?",
                (*finals, cutoff))
            for row in rows:
                if row.state in _EXECUTED_STATES:
                    open_here = tags.get(row.terminal)
                    comment = str(row.request.get("comment", ""))
                    if open_here is None or row.ticket in open_here \
                            or (comment and comment in open_here):
                        continue
                self._exec("DELETE FROM orders WHERE token_id=? AND client_id=?",
                           (row.token_id, row.client_id))
                self._audit(row, "pruned", row.state, row.retcode)
                pruned += 1
        return pruned

    def prune_audit(self, *, older_than_s: float) -> int:
        """Delete audit lines older than ``older_than_s`` whose order row is gone; how many.

        Why: the trail is append-only (its triggers refuse UPDATE and DELETE) so nothing can
        rewrite what was traded, but it must not grow without bound either. Its size follows
        the journal's retention: a line goes once it is older than the retention period AND
        its ``client_id`` has no row any more (pruned, abandoned, released), so every line of
        an order whose outcome is still open -- or still idempotent -- stays. The DELETE
        trigger is lifted for this one statement inside the transaction and restored before
        the commit, so no other writer ever sees the table deletable.

        Raises:
            ValueError: ``older_than_s`` is below :data:`MIN_RETENTION_S` (24 h).
        """
        if not older_than_s >= MIN_RETENTION_S:
            raise ValueError(f"audit retention must be at least {MIN_RETENTION_S:.0f} s, "
                             f"got {older_than_s}")
        with self._tx():
            cutoff = self._clock() - older_than_s
            self._exec("DROP TRIGGER IF EXISTS audit_no_delete", ())
            deleted = self._exec(
                "DELETE FROM audit WHERE at < ? AND NOT EXISTS (SELECT 1 FROM orders o "
                "WHERE o.token_id = audit.token_id AND o.client_id = audit.client_id)",
                (cutoff,)).rowcount
            self._exec(_AUDIT_NO_DELETE, ())
        return int(deleted)

    def note(self, row: OrderRow, event: str) -> int:
        """Count an ``event`` about ``row`` without a transition (a deduplicated or conflicting
        request, an ambiguous match) and return the count; an audit line is written for the
        1st, 10th, 100th, ... of each kind (``event``, then ``event:10``, ``event:100``).

        Why coalesced: a bot retrying one executed ``client_id`` in a loop would otherwise add
        a line per retry for as long as the row is kept (hundreds a second from one token
        holder). The count stays on the row; the trail keeps the first one and the orders of
        magnitude.
        """
        with self._tx():
            stored = self._exec("SELECT notes FROM orders WHERE token_id=? AND client_id=?",
                                (row.token_id, row.client_id)).fetchone()
            counts: dict[str, int] = orjson.loads(stored[0]) if stored is not None else {}
            count = int(counts.get(event, 0)) + 1
            if stored is not None:
                counts[event] = count
                self._exec("UPDATE orders SET notes=? WHERE token_id=? AND client_id=?",
                           (orjson.dumps(counts).decode(), row.token_id, row.client_id))
            if _power_of_ten(count):
                self._audit(row, event if count == 1 else f"{event}:{count}", row.state,
                            row.retcode)
        return count

    # -- internals -------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise JournalStateError("the order journal is not open")
        return self._db

    @contextmanager
    def _tx(self) -> Iterator[None]:
        db = self._conn()
        if db.in_transaction:  # nested: the outer block commits
            yield
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _exec(self, sql: str, args: tuple[Any, ...]) -> sqlite3.Cursor:
        return self._conn().execute(sql, args)

    def _select(self, where: str, args: tuple[Any, ...]) -> list[OrderRow]:
        cursor = self._exec(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE {where}", args)
        return [_row(values) for values in cursor.fetchall()]

    def _require(self, row: OrderRow, allowed: tuple[OrderState, ...]) -> OrderRow:
        current = self.get(row.token_id, row.client_id)
        if current is None or current.state not in allowed:
            have = current.state if current is not None else "absent"
            raise JournalStateError(
                f"client_id {row.client_id!r} is {have}, expected {'/'.join(allowed)}")
        return current

    def _set_state(self, row: OrderRow, state: OrderState) -> None:
        self._exec("UPDATE orders SET state=?, updated_at=? WHERE token_id=? AND client_id=?",
                   (state, self._clock(), row.token_id, row.client_id))

    def _finish(self, row: OrderRow, allowed: tuple[OrderState, ...], state: OrderState,
                event: str, *, result: dict[str, Any] | None = None, retcode: int | None = None,
                ticket: int | None = None) -> OrderRow:
        with self._tx():
            current = self._require(row, allowed)
            now = self._clock()
            result = result if result is not None else current.result
            retcode = retcode if retcode is not None else current.retcode
            ticket = ticket if ticket is not None else current.ticket
            self._exec("UPDATE orders SET state=?, result=?, retcode=?, ticket=?, updated_at=? "
                       "WHERE token_id=? AND client_id=?",
                       (state, None if result is None else _dumps(result), retcode, ticket, now,
                        row.token_id, row.client_id))
            updated = replace(current, state=state, result=result, retcode=retcode,
                               ticket=ticket, updated_at=now)
            self._audit(updated, event, state, retcode)
        return updated

    def _audit(self, row: OrderRow, event: str, state: str, retcode: int | None) -> None:
        request = row.request
        filled = _float_or_none((row.result or {}).get("price"))
        self._exec(f"INSERT INTO audit ({_AUDIT_COLUMNS}) VALUES "
                   "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   (self._clock(), row.token_id, row.terminal, row.client_id, event,
                    _int_or_none(request.get("action")), _str_or_none(request.get("symbol")),
                    _float_or_none(request.get("volume")), _int_or_none(request.get("type")),
                    retcode, str(state), row.ticket, row.params_hash,
                    filled or _float_or_none(request.get("price")),
                    _float_or_none(request.get("sl")), _float_or_none(request.get("tp"))))


def _power_of_ten(count: int) -> bool:
    while count >= 10 and count % 10 == 0:
        count //= 10
    return count == 1


def _dumps(value: dict[str, Any]) -> str:
    return orjson.dumps(value).decode()


def _row(values: tuple[Any, ...]) -> OrderRow:
    (token_id, client_id, terminal, phash, state, request, result, retcode, ticket, passes,
     created_at, updated_at, order_key, venue) = values
    return OrderRow(token_id, client_id, terminal, phash, OrderState(state),
                    orjson.loads(request), None if result is None else orjson.loads(result),
                    retcode, ticket, passes, created_at, updated_at, order_key,
                    venue == "paper")


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None

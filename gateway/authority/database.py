"""The authority's database: an embedded SQLite file or a PostgreSQL server, and its migrations.

One store (``store.py``) speaks to either through :class:`Database`: SQLite stays the default
(local mode, the demo, one console), PostgreSQL (``[authority] database_url``, e.g.
``postgresql://mtgw@db.internal/mtgw``) lets several console instances share one authority.
Statements are written once with ``?`` placeholders and the SQL both engines accept
(``INSERT ... ON CONFLICT``, ``RETURNING``); :class:`Database` rewrites the placeholders and the
few column types that differ.

The schema is versioned: :data:`MIGRATIONS` is an append-only list, ``schema_version`` holds how
many have been applied, and :meth:`Database.migrate` applies the rest in one transaction at
start (and by ``mtgateway console migrate``). A database made before versioning (the tables of
migration 1 and no ``schema_version``) counts as version 1. Two instances starting at once
serialise on a lock (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), so a
migration is never applied twice. psycopg 3 is imported only when a PostgreSQL URL is given:
the daemon on Windows never needs it.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

__all__ = ["MIGRATIONS", "Cursor", "Database", "DatabaseError", "Step", "Tx", "redact_url"]


@dataclass(frozen=True, slots=True)
class Step:
    """A migration that needs more than SQL (a value computed from each row, under a key the
    database does not hold): the caller of :meth:`Database.migrate` passes the function that
    runs it under ``name``."""

    name: str


#: Each entry is one schema version: a script written for SQLite, translated for PostgreSQL by
#: :func:`_postgres_ddl`, or a :class:`Step` the store runs. Never edit a released entry;
#: append a new one.
MIGRATIONS: Final[tuple[str | Step, ...]] = (
    # 1: the schema as it stood before versioning.
    """
    CREATE TABLE IF NOT EXISTS owners (
        email TEXT PRIMARY KEY, password_hash TEXT NOT NULL, created_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS tokens (
        token_id TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE,
        token_hint TEXT NOT NULL UNIQUE, owner_email TEXT NOT NULL, login INTEGER NOT NULL,
        server TEXT NOT NULL, scopes TEXT NOT NULL, created_at INTEGER NOT NULL,
        expires_at INTEGER, revoked_at INTEGER);
    CREATE TABLE IF NOT EXISTS accounts (
        id INTEGER PRIMARY KEY AUTOINCREMENT, owner_email TEXT NOT NULL, name TEXT NOT NULL,
        broker TEXT NOT NULL, login INTEGER NOT NULL, server TEXT NOT NULL,
        password_enc BLOB NOT NULL, is_live INTEGER NOT NULL, is_active INTEGER NOT NULL,
        allowed_symbols TEXT NOT NULL, max_lot_size TEXT NOT NULL, risk_pct TEXT NOT NULL,
        auto_trade_enabled INTEGER NOT NULL, paper_trade_enabled INTEGER NOT NULL,
        mt5_path TEXT NOT NULL, account_type TEXT NOT NULL, created_at INTEGER NOT NULL,
        UNIQUE (login, server));
    CREATE TABLE IF NOT EXISTS devices (
        device_id TEXT PRIMARY KEY, public_key BLOB NOT NULL, name TEXT NOT NULL,
        os TEXT NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS approvals (
        owner_email TEXT NOT NULL, device_id TEXT NOT NULL, approval_id TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL, created_at INTEGER NOT NULL, code_mac TEXT,
        code_issued_at INTEGER, tries_left INTEGER NOT NULL, approved_at INTEGER,
        PRIMARY KEY (owner_email, device_id));
    CREATE TABLE IF NOT EXISTS code_sends (
        device_id TEXT NOT NULL, owner_email TEXT NOT NULL, sent_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS code_failures (
        owner_email TEXT NOT NULL, device_id TEXT NOT NULL, failed_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS code_failures_owner ON code_failures (owner_email, failed_at);
    CREATE TABLE IF NOT EXISTS approval_locks (
        owner_email TEXT PRIMARY KEY, locked_at INTEGER NOT NULL, locked_until INTEGER NOT NULL);
    """,
    # 2: the lookups every daemon refresh and every owner page make were full scans: the
    # owner's tokens, the terminal's live tokens, and the resend counters.
    """
    CREATE INDEX IF NOT EXISTS tokens_owner ON tokens (owner_email, created_at);
    CREATE INDEX IF NOT EXISTS tokens_terminal ON tokens (login, server);
    CREATE INDEX IF NOT EXISTS code_sends_device ON code_sends (device_id, sent_at);
    CREATE INDEX IF NOT EXISTS code_sends_owner ON code_sends (owner_email, sent_at);
    """,
    # 3: accepted device proofs, so a copy is refused by every console instance and after a
    # restart (the replay cache was one process's memory).
    """
    CREATE TABLE IF NOT EXISTS proof_replays (
        proof_key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS proof_replays_expiry ON proof_replays (expires_at);
    """,
    # 4: the per-token code limit, shared by every instance and kept across a restart (it was
    # one process's memory): which token's lookup asked for each approval, and when each
    # token's lookups caused codes.
    """
    CREATE TABLE IF NOT EXISTS approval_tokens (
        approval_id TEXT PRIMARY KEY, token_id TEXT NOT NULL, noted_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS token_code_sends (
        token_id TEXT NOT NULL, sent_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS token_code_sends_token ON token_code_sends (token_id, sent_at);
    """,
    # 5: console sign-in sessions, so a session made on one instance is valid on every other
    # and survives a restart (they were one process's memory). Only the SHA-256 of the cookie
    # value is kept, so a dump of the table hands out no live cookie.
    """
    CREATE TABLE IF NOT EXISTS web_sessions (
        session_sha256 TEXT PRIMARY KEY, owner_email TEXT NOT NULL, csrf TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL, last_seen DOUBLE PRECISION NOT NULL,
        notice TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS web_sessions_owner ON web_sessions (owner_email);
    CREATE INDEX IF NOT EXISTS web_sessions_seen ON web_sessions (last_seen);
    """,
    # 6: the owner sign-in throttle's failures and lockout, so wrong passwords tried on one
    # console instance count on every other and a restart forgets none (they were one
    # process's memory). Wall-clock epoch seconds: the instances share no other clock.
    """
    CREATE TABLE IF NOT EXISTS login_failures (
        scope TEXT NOT NULL, failed_at DOUBLE PRECISION NOT NULL);
    CREATE INDEX IF NOT EXISTS login_failures_scope ON login_failures (scope, failed_at);
    CREATE TABLE IF NOT EXISTS login_lockouts (
        scope TEXT PRIMARY KEY, locked_until DOUBLE PRECISION NOT NULL);
    """,
    # 7: tokens keep their verifier (stored_key; server_key encrypted under the data key), not
    # their SHA-256, which was a credential (review round 4, T4-F2): ``store.py`` rebuilds the
    # table, deriving both keys from each stored digest, so no owner re-pastes a token.
    Step("token_verifiers"),
)

#: Idle PostgreSQL connections a :class:`Database` keeps for its next transactions. A console
#: runs its store calls on the event loop and in a few worker threads, so a handful covers it;
#: beyond it a transaction opens a connection and closes it after.
POOL_SIZE: Final = 8

#: Any key of the advisory lock that serialises migrations between PostgreSQL instances.
_MIGRATION_LOCK: Final = 0x6D74_6777_6D69_6772 & 0x7FFF_FFFF_FFFF_FFFF


class DatabaseError(Exception):
    """The database cannot be opened or migrated (the message never holds a password)."""


class Cursor(Protocol):
    """What a statement returns, on either engine."""

    @property
    def rowcount(self) -> int:
        """Rows changed by an INSERT/UPDATE/DELETE."""
        ...

    def fetchone(self) -> Any:
        """The next row (a tuple) or ``None``."""
        ...

    def fetchall(self) -> list[Any]:
        """Every remaining row (tuples)."""
        ...


class Tx:
    """One transaction: statements with ``?`` placeholders, committed when the block ends
    without an exception, rolled back otherwise."""

    def __init__(self, conn: Any, postgres: bool) -> None:
        self._conn = conn
        self._postgres = postgres
        self._after_commit: list[Callable[[], None]] = []

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor:
        """Run one statement."""
        if self._postgres:
            sql = sql.replace("?", "%s")
        cursor: Cursor = self._conn.execute(sql, tuple(args))
        return cursor

    def lock(self, name: str) -> None:
        """Serialise this transaction with every other one that locks ``name``, on any
        instance, until it ends: check-then-write decisions (a terminal's claim) cannot race.
        PostgreSQL: a transaction-scoped advisory lock on the name's hash. SQLite: the
        database's write lock, taken now instead of at the first write (one writer at a time
        per file)."""
        if self._postgres:
            self.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (name,))
        else:
            self.execute("UPDATE schema_version SET version = version WHERE 0")

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once this transaction has committed (never if it rolls back):
        what it announces is then visible to every other connection."""
        self._after_commit.append(callback)

    def _committed(self) -> None:
        for callback in self._after_commit:
            callback()


#: ``scheme://user:`` then the password, up to the authority's LAST ``@`` (a raw ``@`` or
#: ``/`` in an unencoded password must not leave its tail): the authority ends at ``?``, ``#``
#: or white space. An ``@`` in the query is not the authority's.
_USERINFO_PASSWORD: Final = re.compile(r"(://[^:/@?#\s]*:)[^?#\s]*@")
#: libpq's ``password=`` keyword: a URL parameter (up to ``&``/``#``) or a key=value
#: conninfo value, quoted or not, as a driver's message may quote it.
_PASSWORD_PARAMETER: Final = re.compile(
    r"\b(password)\s*=\s*(?:'(?:[^'\\]|\\.)*'|[^&#\s]*)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` (or a message quoting one) with every password replaced by ``***``.

    Both of libpq's places for it (``postgresql://user:password@host`` and a
    ``password=`` parameter, PostgreSQL 16 docs §34.1.1) are hidden, each occurrence.
    """
    url = _USERINFO_PASSWORD.sub(r"\1***@", url)
    return _PASSWORD_PARAMETER.sub(r"\1=***", url)


def _postgres_ddl(script: str) -> str:
    script = script.replace("INTEGER PRIMARY KEY AUTOINCREMENT",
                            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
    script = re.sub(r"\bINTEGER\b", "BIGINT", script)
    return re.sub(r"\bBLOB\b", "BYTEA", script)


def _close_all(idle: list[Any], lock: threading.Lock) -> None:
    """Close every idle connection in ``idle`` (a :class:`Database`'s pool)."""
    with lock:
        conns = list(idle)
        idle.clear()
    for conn in conns:
        conn.close()


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


class Database:
    """A SQLite file (``path``) or a PostgreSQL server (``url``).

    SQLite opens a connection per transaction (microseconds, and usable from any thread).
    PostgreSQL keeps up to ``pool_size`` idle connections and lends one to each transaction:
    a new PostgreSQL connection is a server process forked and a handshake, milliseconds that
    every device refresh and page would otherwise pay (``python -m bench.authority``). A
    connection goes back only when its transaction ended cleanly; one the server or network
    broke is closed, and so are the other idle ones (a restarted server broke them all), so a
    database restart costs at most one failed transaction per process, not one per pooled
    connection. The idle connections are closed by :meth:`close` or when the object is
    collected.
    """

    def __init__(self, *, path: Path | None = None, url: str = "",
                 pool_size: int = POOL_SIZE) -> None:
        if (path is None) == (not url):
            raise ValueError("give exactly one of a SQLite path or a PostgreSQL url")
        self.path = path
        self.url = url
        self.postgres = bool(url)
        if self.postgres and not url.startswith(("postgresql://", "postgres://")):
            raise DatabaseError(f"database_url must be postgresql://..., not "
                                f"{redact_url(url)[:40]!r}")
        #: The exceptions a violated UNIQUE constraint raises on this engine.
        self.integrity_errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
        self._pool_size = pool_size
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        #: The transaction open on each thread, which a nested :meth:`tx` joins.
        self._current = threading.local()
        if self.postgres:
            import psycopg  # noqa: PLC0415 - only PostgreSQL deployments need the driver

            self.integrity_errors = (psycopg.errors.IntegrityError,)
        # Not a method of self: the finalizer must not keep the object alive.
        self._finalizer = weakref.finalize(self, _close_all, self._idle, self._lock)

    def describe(self) -> str:
        """Where the data is, fit to print (no password)."""
        return redact_url(self.url) if self.postgres else str(self.path)

    def close(self) -> None:
        """Close the idle PostgreSQL connections (a later transaction opens new ones)."""
        _close_all(self._idle, self._lock)

    @contextmanager
    def tx(self) -> Iterator[Tx]:
        """A transaction (committed at the end of the block).

        Opened inside another one on the same thread, it joins it: its statements commit or
        roll back with the outermost block. So a change and the rows announcing it (a token
        revoked and its revocation-feed row) are written as one, whatever store methods
        write them; a process killed between the two leaves neither. No ``await`` may sit
        inside a transaction's block (another task on the thread would join it).
        """
        joined: Tx | None = getattr(self._current, "tx", None)
        if joined is not None:
            yield joined
            return
        if self.postgres:
            conn = self._borrow()
            tx = Tx(conn, postgres=True)
            self._current.tx = tx
            try:
                yield tx
                conn.commit()
            except BaseException:
                self._current.tx = None
                self._give_back(conn, failed=True)
                raise
            self._current.tx = None
            self._give_back(conn, failed=False)
        else:
            assert self.path is not None  # noqa: S101 - set when not postgres
            with closing(sqlite3.connect(self.path, timeout=5.0)) as db:
                tx = Tx(db, postgres=False)
                self._current.tx = tx
                try:
                    with db:
                        yield tx
                finally:
                    self._current.tx = None
        tx._committed()  # noqa: SLF001 - the transaction's owner runs its hooks

    def _borrow(self) -> Any:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed and not conn.broken:
                    return conn
                conn.close()
        import psycopg  # noqa: PLC0415

        try:
            return psycopg.connect(self.url, connect_timeout=10)
        except psycopg.OperationalError as exc:
            # psycopg's text may quote the connection string: keep only the reason.
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
            raise DatabaseError(f"cannot connect to {redact_url(self.url)}: "
                                f"{redact_url(reason)[:200]}") from None

    def _give_back(self, conn: Any, *, failed: bool) -> None:
        """Keep ``conn`` for the next transaction if it is healthy and idle, else close it."""
        import psycopg  # noqa: PLC0415

        if failed and not conn.closed and not conn.broken:
            try:
                conn.rollback()
            except psycopg.Error:
                pass  # the connection is broken: closed below
        idle = psycopg.pq.TransactionStatus.IDLE
        healthy = not conn.closed and not conn.broken and conn.info.transaction_status == idle
        if not healthy:
            conn.close()
            # The server or the network broke this one: the idle ones most likely share its
            # fate (a restarted server), so none of them is lent to fail a later request.
            _close_all(self._idle, self._lock)
            return
        with self._lock:
            if len(self._idle) < self._pool_size:
                self._idle.append(conn)
                return
        conn.close()

    def run_script(self, tx: Tx, script: str) -> None:
        """Run each statement of ``script`` (SQLite DDL, translated for PostgreSQL)."""
        for statement in _statements(_postgres_ddl(script) if self.postgres else script):
            tx.execute(statement)

    def ensure_tables(self, script: str) -> None:
        """Create the tables and indexes of ``script`` (SQLite DDL, ``IF NOT EXISTS``) that do
        not exist yet, translated for PostgreSQL; two instances starting at once serialise on
        the migrations' lock. For the console's side tables (terminal states, activity),
        which carry no rows a release must convert."""
        with self.tx() as tx:
            if self.postgres:
                tx.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            for statement in _statements(_postgres_ddl(script) if self.postgres else script):
                tx.execute(statement)

    def schema_version(self) -> int:
        """How many migrations the database holds (0 when empty)."""
        with self.tx() as tx:
            return self._version(tx)

    def _version(self, tx: Tx) -> int:
        if self.postgres:
            has = tx.execute("SELECT to_regclass('schema_version') IS NOT NULL, "
                             "to_regclass('owners') IS NOT NULL").fetchone()
        else:
            names = {str(r[0]) for r in tx.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
            has = ("schema_version" in names, "owners" in names)
        if has[0]:
            row = tx.execute("SELECT version FROM schema_version").fetchone()
            return 0 if row is None else int(row[0])
        return 1 if has[1] else 0

    def migrate(self, target: int | None = None, *,
                steps: Mapping[str, Callable[[Tx], None]] | None = None) -> tuple[int, int]:
        """Apply the migrations up to ``target`` (all by default); ``(before, after)``.

        ``steps`` runs the :class:`Step` migrations by name (the store passes them; a step
        without its function is refused before anything is applied). A database newer than
        this program (a later release wrote it) is refused rather than used with a schema the
        code does not know.
        """
        goal = len(MIGRATIONS) if target is None else target
        if not 0 <= goal <= len(MIGRATIONS):
            raise ValueError(f"no schema version {goal}")
        steps = steps or {}
        for number, entry in enumerate(MIGRATIONS[:goal], start=1):
            if isinstance(entry, Step) and entry.name not in steps:
                raise ValueError(f"migration {number} ({entry.name}) needs the store's keys: "
                                 "migrate through the AuthorityStore")
        if self.postgres:
            with self.tx() as tx:
                tx.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
                return self._apply(tx, goal, steps)
        assert self.path is not None  # noqa: S101
        with closing(sqlite3.connect(self.path, timeout=30.0, isolation_level=None)) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = self._apply(Tx(db, postgres=False), goal, steps)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

    def _apply(self, tx: Tx, goal: int,
               steps: Mapping[str, Callable[[Tx], None]]) -> tuple[int, int]:
        before = self._version(tx)
        if before > len(MIGRATIONS):
            raise DatabaseError(f"{self.describe()} has schema version {before}, newer than "
                                f"this program's {len(MIGRATIONS)}: upgrade mtgateway")
        for script in MIGRATIONS[before:goal]:
            if isinstance(script, Step):
                steps[script.name](tx)
                continue
            self.run_script(tx, script)
        after = max(before, goal)
        tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        tx.execute("DELETE FROM schema_version")
        tx.execute("INSERT INTO schema_version (version) VALUES (?)", (after,))
        return before, after

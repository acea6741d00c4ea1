"""The authority's schema: versioned migrations, and the side tables made at start.

:data:`MIGRATIONS` is an append-only list, ``schema_version`` holds how many have been applied,
and :func:`migrate` applies the rest in one transaction at start (and by ``mtgateway-console
migrate``), through the database's door without a deadline (a migration may rewrite a large
table once). A database made before versioning (the tables of migration 1 and no
``schema_version``) counts as version 1. Two instances starting at once serialise on a lock
(``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), so a migration is never
applied twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from ..database import Database, DatabaseError, Tx

__all__ = ["MIGRATIONS", "MIGRATION_LOCK", "Step", "ensure_tables", "migrate",
           "schema_version", "version_of"]


@dataclass(frozen=True, slots=True)
class Step:
    """A migration that needs more than SQL (a value computed from each row, under a key the
    database does not hold): the caller of :func:`migrate` passes the function that
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
    # their SHA-256, which was a credential (whoever read the row could present it):
    # ``store.py`` rebuilds the table, deriving both keys from each stored digest, so no owner
    # re-pastes a token.
    Step("token_verifiers"),
    # 8: tokens told apart and verification that sticks (``token_details.py``,
    # ``verification.py``): each token's label and its last use (when, by which device, from
    # which address; written at most once a minute per token and place), and the terminals
    # that once proved they hold an account (a daemon reported them logged in under one of the
    # owner's tokens).
    """
    CREATE TABLE IF NOT EXISTS token_details (
        token_id TEXT PRIMARY KEY, label TEXT NOT NULL, used_at INTEGER,
        used_device TEXT NOT NULL, used_address TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS verified_terminals (
        owner_email TEXT NOT NULL, login INTEGER NOT NULL, server TEXT NOT NULL,
        verified_at INTEGER NOT NULL, PRIMARY KEY (owner_email, login, server));
    """,
    # 9: the owner's second factor and password reset (``secondfactor.py``). The TOTP secret is
    # encrypted under the data key; ``last_step`` is the newest accepted step, so a code is
    # spent once on every instance. Recovery codes and reset links are kept as keyed hashes
    # only. A half-signed-in browser (password right, code not yet) is a ``signin_steps`` row
    # keyed by the SHA-256 of its cookie. ``reset_requests`` counts "forgot password" asks per
    # address, whether or not an owner has it (the limit must not tell which do).
    """
    CREATE TABLE IF NOT EXISTS owner_totp (
        owner_email TEXT PRIMARY KEY, secret_enc BLOB NOT NULL, enabled_at INTEGER,
        last_step INTEGER NOT NULL, created_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS owner_recovery_codes (
        owner_email TEXT NOT NULL, code_mac TEXT NOT NULL, used_at INTEGER,
        PRIMARY KEY (owner_email, code_mac));
    CREATE TABLE IF NOT EXISTS signin_steps (
        step_sha256 TEXT PRIMARY KEY, owner_email TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL, tries_left INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS password_resets (
        token_sha256 TEXT PRIMARY KEY, owner_email TEXT NOT NULL, created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL, used_at INTEGER);
    CREATE INDEX IF NOT EXISTS password_resets_owner ON password_resets (owner_email, created_at);
    CREATE TABLE IF NOT EXISTS reset_requests (
        address TEXT NOT NULL, requested_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS reset_requests_address ON reset_requests (address, requested_at);
    """,
    # 10: terminal books and equity history, for the dashboard: each active terminal's open
    # positions as its daemon last read them (``positions.py``) and its equity/balance series,
    # a point per report thinned to hourly past 48 h, none past 90 days (``equity.py``).
    """
    CREATE TABLE IF NOT EXISTS terminal_books (
        owner_email TEXT NOT NULL, device_id TEXT NOT NULL, login INTEGER NOT NULL,
        server TEXT NOT NULL, as_of DOUBLE PRECISION NOT NULL, listed INTEGER NOT NULL,
        positions TEXT NOT NULL, PRIMARY KEY (owner_email, device_id, login, server));
    CREATE TABLE IF NOT EXISTS equity_points (
        owner_email TEXT NOT NULL, device_id TEXT NOT NULL, login INTEGER NOT NULL,
        server TEXT NOT NULL, at INTEGER NOT NULL, balance DOUBLE PRECISION NOT NULL,
        equity DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (owner_email, device_id, login, server, at));
    """,
    # 11: alerts (``alerts.py``): what each owner wants to hear about and where, the episodes
    # (one row per owner, terminal and kind: claimed by one conditional statement, so two
    # instances or a restart never alert twice), and the outbox of deliveries.
    """
    CREATE TABLE IF NOT EXISTS alert_settings (
        owner_email TEXT PRIMARY KEY, email_enabled INTEGER NOT NULL,
        webhook_url TEXT NOT NULL, webhook_secret_enc BLOB, offline_minutes INTEGER NOT NULL,
        refused_enabled INTEGER NOT NULL, margin_level_pct DOUBLE PRECISION NOT NULL,
        updated_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS alert_episodes (
        owner_email TEXT NOT NULL, login INTEGER NOT NULL, server TEXT NOT NULL,
        kind TEXT NOT NULL, opened_at INTEGER NOT NULL, closed_at INTEGER,
        detail TEXT NOT NULL, PRIMARY KEY (owner_email, login, server, kind));
    CREATE TABLE IF NOT EXISTS alert_deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT, owner_email TEXT NOT NULL,
        channel TEXT NOT NULL, event TEXT NOT NULL, payload TEXT NOT NULL,
        status TEXT NOT NULL, attempts INTEGER NOT NULL, next_at INTEGER NOT NULL,
        lease_until INTEGER NOT NULL, last_error TEXT NOT NULL, created_at INTEGER NOT NULL,
        done_at INTEGER);
    CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries (status, next_at);
    CREATE INDEX IF NOT EXISTS alert_deliveries_owner ON alert_deliveries (owner_email, id);
    """,
    # 12: getting the account back. Each signed-in session keeps the browser's User-Agent and
    # address, so the owner can tell sessions apart and end the ones they do not know. A
    # second factor turned on leaves an undo row: the SHA-256 of the link mailed with the
    # notice (the link itself is never stored), the enrolment it undoes (the SHA-256 of the
    # sealed secret, so it cannot undo a later one), and when it expires and was used.
    """
    ALTER TABLE web_sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
    ALTER TABLE web_sessions ADD COLUMN address TEXT NOT NULL DEFAULT '';
    CREATE TABLE IF NOT EXISTS factor_undos (
        token_sha256 TEXT PRIMARY KEY, owner_email TEXT NOT NULL, factor_sha256 TEXT NOT NULL,
        created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER);
    CREATE INDEX IF NOT EXISTS factor_undos_owner ON factor_undos (owner_email);
    """,
    # 13: the owner's API over many accounts (``mt4api/``, ``service/groups.py``): groups of
    # accounts sharing a risk policy, the kill switch per terminal (``halts.py``), the
    # instructions records carry to daemons (paper money, chart messages:
    # ``instructions.py``), and what daemons last read of each account beside its positions:
    # margin, open trades and orders, and the deals they saw (``snapshots.py``).
    """
    CREATE TABLE IF NOT EXISTS account_groups (
        owner_email TEXT NOT NULL, name TEXT NOT NULL, allowed_symbols TEXT NOT NULL,
        max_lot_size TEXT NOT NULL, risk_pct TEXT NOT NULL,
        auto_trade_enabled INTEGER NOT NULL, created_at INTEGER NOT NULL,
        PRIMARY KEY (owner_email, name));
    CREATE TABLE IF NOT EXISTS account_group_members (
        account_id INTEGER PRIMARY KEY, owner_email TEXT NOT NULL, name TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS trading_halts (
        owner_email TEXT NOT NULL, login INTEGER NOT NULL, server TEXT NOT NULL,
        reason TEXT NOT NULL, halted_at INTEGER NOT NULL,
        PRIMARY KEY (owner_email, login, server));
    CREATE TABLE IF NOT EXISTS owner_instructions (
        id TEXT PRIMARY KEY, owner_email TEXT NOT NULL, login INTEGER NOT NULL,
        server TEXT NOT NULL, kind TEXT NOT NULL, amount TEXT NOT NULL, text TEXT NOT NULL,
        request_key TEXT NOT NULL, created_at INTEGER NOT NULL, state TEXT NOT NULL,
        done_at INTEGER, done_device TEXT NOT NULL, deal INTEGER, detail TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS owner_instructions_terminal
        ON owner_instructions (login, server, state);
    CREATE INDEX IF NOT EXISTS owner_instructions_owner
        ON owner_instructions (owner_email, request_key);
    CREATE TABLE IF NOT EXISTS terminal_snapshots (
        owner_email TEXT NOT NULL, device_id TEXT NOT NULL, login INTEGER NOT NULL,
        server TEXT NOT NULL, as_of DOUBLE PRECISION NOT NULL, account TEXT NOT NULL,
        trades TEXT NOT NULL, PRIMARY KEY (owner_email, device_id, login, server));
    CREATE TABLE IF NOT EXISTS terminal_deals (
        owner_email TEXT NOT NULL, login INTEGER NOT NULL, server TEXT NOT NULL,
        ticket INTEGER NOT NULL, time INTEGER NOT NULL, as_of DOUBLE PRECISION NOT NULL,
        deal TEXT NOT NULL, PRIMARY KEY (owner_email, login, server, ticket));
    CREATE INDEX IF NOT EXISTS terminal_deals_time ON terminal_deals (owner_email, time);
    """,
    # 14: which device reported each kept deal (``snapshots.py``), so a device the owner
    # revoked speaks for no deal either. Deals kept before carry none ('') and stay readable
    # until a report of an approved device names them again or they age out (90 days).
    """
    ALTER TABLE terminal_deals ADD COLUMN device_id TEXT NOT NULL DEFAULT '';
    """,
    # 15: one instruction per owner and operation id (``instructions.py``), held by the
    # database: two requests with one key on two PostgreSQL connections both found none and
    # both stored one. Keys stored twice before keep their first row; the later rows stay
    # (each was applied) under the key and their id, with a space no request's key may hold.
    """
    UPDATE owner_instructions SET request_key = request_key || ' ' || id
    WHERE request_key <> '' AND EXISTS (
        SELECT 1 FROM owner_instructions AS earlier
        WHERE earlier.owner_email = owner_instructions.owner_email
          AND earlier.request_key = owner_instructions.request_key
          AND (earlier.created_at < owner_instructions.created_at
               OR (earlier.created_at = owner_instructions.created_at
                   AND earlier.id < owner_instructions.id)));
    CREATE UNIQUE INDEX IF NOT EXISTS owner_instructions_request_key
        ON owner_instructions (owner_email, request_key) WHERE request_key <> '';
    """,
    # 16: one lifecycle for what speaks for an owner (``signins.py``). Each owner has a
    # sign-in generation, raised by every event that ends their credentials (a password set,
    # the second factor on, off or reset, signing out everywhere, a take-back): a console-API
    # token carries the generation it was issued under and is refused under another. Each
    # API sign-in is a row (its id is the token's ``sid``, kept across renewals), so the
    # owner sees it on the sessions page and ends it alone. Each enrolment of a second factor
    # is counted, so turning it on (and the notices it mails) has a rate.
    """
    ALTER TABLE owners ADD COLUMN signin_generation INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE IF NOT EXISTS api_sessions (
        session_id TEXT PRIMARY KEY, owner_email TEXT NOT NULL, generation INTEGER NOT NULL,
        with_code INTEGER NOT NULL, user_agent TEXT NOT NULL, address TEXT NOT NULL,
        created_at INTEGER NOT NULL, last_used_at INTEGER NOT NULL, ended_at INTEGER);
    CREATE INDEX IF NOT EXISTS api_sessions_owner ON api_sessions (owner_email);
    CREATE TABLE IF NOT EXISTS factor_enrolments (
        owner_email TEXT NOT NULL, enabled_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS factor_enrolments_owner
        ON factor_enrolments (owner_email, enabled_at);
    """,
    # 17: each book its own history (``venues.py``): a terminal's live account and its
    # daemon's paper book number their deals apart, so a kept deal's key holds its book
    # (the table is rebuilt: a key cannot be altered), and equity points and snapshots say
    # theirs. Rows kept before were reported without a book: the live one's.
    """
    ALTER TABLE equity_points ADD COLUMN book TEXT NOT NULL DEFAULT 'live';
    ALTER TABLE terminal_snapshots ADD COLUMN book TEXT NOT NULL DEFAULT 'live';
    CREATE TABLE terminal_deals_by_book (
        owner_email TEXT NOT NULL, login INTEGER NOT NULL, server TEXT NOT NULL,
        book TEXT NOT NULL DEFAULT 'live', ticket INTEGER NOT NULL, time INTEGER NOT NULL,
        as_of DOUBLE PRECISION NOT NULL, deal TEXT NOT NULL, device_id TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (owner_email, login, server, book, ticket));
    INSERT INTO terminal_deals_by_book (owner_email, login, server, book, ticket, time, as_of,
        deal, device_id)
        SELECT owner_email, login, server, 'live', ticket, time, as_of, deal, device_id
        FROM terminal_deals;
    DROP TABLE terminal_deals;
    ALTER TABLE terminal_deals_by_book RENAME TO terminal_deals;
    CREATE INDEX IF NOT EXISTS terminal_deals_time ON terminal_deals (owner_email, time);
    """,
)

#: Any key of the advisory lock that serialises migrations between PostgreSQL instances.
MIGRATION_LOCK: Final = 0x6D74_6777_6D69_6772 & 0x7FFF_FFFF_FFFF_FFFF


def version_of(tx: Tx) -> int:
    """How many migrations the database holds (0 when empty)."""
    if tx.postgres:
        has = tx.query_one("SELECT to_regclass('schema_version') IS NOT NULL, "
                           "to_regclass('owners') IS NOT NULL")
    else:
        names = {str(r[0]) for r in tx.query(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        has = ("schema_version" in names, "owners" in names)
    if has[0]:
        row = tx.query_one("SELECT version FROM schema_version")
        return 0 if row is None else int(row[0])
    return 1 if has[1] else 0


async def schema_version(database: Database) -> int:
    """How many migrations ``database`` holds (0 when empty)."""
    return await database.run(version_of)


async def migrate(database: Database, target: int | None = None, *,
                  steps: Mapping[str, Callable[[Tx], None]] | None = None) -> tuple[int, int]:
    """Apply the migrations up to ``target`` (all by default); ``(before, after)``.

    ``steps`` runs the :class:`Step` migrations by name (the store passes them; a step
    without its function is refused before anything is applied). A database newer than
    this program (a later release wrote it) is refused rather than used with a schema the
    code does not know.

    Raises:
        DatabaseError: the database is newer than this program.
        DatabaseUnavailable: it cannot be reached.
        ValueError: no such version, or a step's function is missing.
    """
    goal = len(MIGRATIONS) if target is None else target
    if not 0 <= goal <= len(MIGRATIONS):
        raise ValueError(f"no schema version {goal}")
    steps = dict(steps or {})
    for number, entry in enumerate(MIGRATIONS[:goal], start=1):
        if isinstance(entry, Step) and entry.name not in steps:
            raise ValueError(f"migration {number} ({entry.name}) needs the store's keys: "
                             "migrate through the AuthorityStore")
    return await database.run_unbounded(_migrate, database.describe(), goal, steps)


def _migrate(tx: Tx, where: str, goal: int,
             steps: Mapping[str, Callable[[Tx], None]]) -> tuple[int, int]:
    if tx.postgres:
        tx.lock_key(MIGRATION_LOCK)
    else:  # the write lock now: a second process migrating at once waits here
        tx.execute("BEGIN IMMEDIATE")
    before = version_of(tx)
    if before > len(MIGRATIONS):
        raise DatabaseError(f"{where} has schema version {before}, newer than this "
                            f"program's {len(MIGRATIONS)}: upgrade mtgateway")
    for script in MIGRATIONS[before:goal]:
        if isinstance(script, Step):
            steps[script.name](tx)
            continue
        Database.run_script(tx, script)
    after = max(before, goal)
    tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    tx.execute("DELETE FROM schema_version")
    tx.execute("INSERT INTO schema_version (version) VALUES (?)", (after,))
    return before, after


def ensure_tables(tx: Tx, script: str) -> None:
    """Create the tables and indexes of ``script`` (SQLite DDL, ``IF NOT EXISTS``) that do
    not exist yet, translated for PostgreSQL; two instances starting at once serialise on
    the migrations' lock. For the console's side tables (terminal states, activity, the
    revocation feed), which carry no rows a release must convert."""
    tx.lock_key(MIGRATION_LOCK)
    Database.run_script(tx, script)

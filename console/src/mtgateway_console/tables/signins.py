"""The console's sign-in state in the authority's database: failed sign-ins, web sessions,
the console API's sign-ins, and the one way every credential of an owner ends.

Both were one process's memory once; in the database, several console instances behind a
load balancer share them and a restart forgets neither:

- :class:`StoredLoginFailures`, the owner sign-in throttle's ledger
  (``throttle.FailureLedger``): wrong passwords tried on one instance count on every other.
  One failure is counted under the scope's lock, so two instances recording at once cannot
  both miss the limit. Wall-clock epoch seconds: the instances share no other clock.
- :class:`StoredSessions`, the rows behind the pages' session cookie (``web/sessions.py``
  decides their lifetimes and makes their secrets; this module only keeps them). A session
  is keyed by the SHA-256 of its cookie value, so a dump of the table hands out no cookie.
- :class:`StoredSteps`, half-done sign-ins: the password was right and the owner has a second
  factor, so the browser holds a step cookie (keyed the same way) until it gives the code.
  Each step allows a few codes and expires; any instance may finish it.
- The console API's sign-ins (``api_sessions``): each ``POST /api/auth/login`` is a row, named
  by the ``sid`` its tokens carry (renewals keep it), with what signed in (its
  ``User-Agent``), from where, and when it was last used; the owner sees it on the sessions
  page and ends it alone.
- :func:`end_credentials`, the one end of everything that speaks for an owner. Every event
  that must cut access off (a password set, the second factor on, off or reset by the
  operator, "Sign out everywhere", a take-back) calls it in its own transaction: the owner's
  *sign-in generation* is raised (an API token carries the generation it was issued under
  and is refused under another, so no token, whatever row it has, outlives the event), every
  web session but the one that made the change and every half-done sign-in is deleted, and
  every API sign-in is marked ended. With the event's ``reason`` each session it ended is
  noted (``ended_sessions``, a side table, kept :data:`ENDED_KEPT_S`): a browser that comes
  back with that cookie is told why it was signed out (two-step sign-in turned on elsewhere,
  the password changed, ...) instead of meeting a bare sign-in page.

Each call is one transaction through the database's door (``database/``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ..database import Database, Tx
from ..fairshare import API_SIGN_INS_PER_OWNER, SESSIONS_PER_OWNER, STEPS_PER_OWNER
from .migrations import ensure_tables

__all__ = ["ENDED_KEPT_S", "ApiSessionRow", "Ended", "SessionRow", "StoredLoginFailures",
           "StoredSessions", "StoredSteps", "api_session_of", "api_session_state",
           "api_sessions_of", "create_ended_table", "end_api_session", "end_credentials",
           "ended_reason", "generation_of", "note_api_use", "open_api_session"]


class StoredLoginFailures:
    """A sign-in throttle's failures and lockout under one ``scope``, in ``database()`` (the
    authority's, opened at the console's start-up)."""

    def __init__(self, database: Callable[[], Database], scope: str) -> None:
        self._database = database
        self._scope = scope

    async def record(self, now: float, *, limit: int, window_s: float,
                     lockout_s: float) -> bool:
        """See :meth:`~.throttle.FailureLedger.record`."""
        return await self._database().run(_record_failure, self._scope, now, limit,
                                          window_s, lockout_s)

    async def locked_until(self) -> float:
        """See :meth:`~.throttle.FailureLedger.locked_until`."""
        return await self._database().run(_locked_until, self._scope)


def _record_failure(tx: Tx, scope: str, now: float, limit: int, window_s: float,
                    lockout_s: float) -> bool:
    tx.lock(f"mtgateway-login-failures:{scope}")
    if _locked_until(tx, scope) > now:
        return False
    tx.execute("DELETE FROM login_failures WHERE scope = ? AND failed_at <= ?",
               (scope, now - window_s))
    tx.execute("INSERT INTO login_failures VALUES (?, ?)", (scope, now))
    count = int(tx.query_one("SELECT count(*) FROM login_failures WHERE scope = ?",
                             (scope,))[0])
    if count <= limit:
        return False
    tx.execute("INSERT INTO login_lockouts VALUES (?, ?) ON CONFLICT (scope) "
               "DO UPDATE SET locked_until = excluded.locked_until", (scope, now + lockout_s))
    tx.execute("DELETE FROM login_failures WHERE scope = ?", (scope,))
    return True


def _locked_until(tx: Tx, scope: str) -> float:
    row = tx.query_one("SELECT locked_until FROM login_lockouts WHERE scope = ?",
                       (scope,))
    return 0.0 if row is None else float(row[0])


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A stored session (``key`` is the SHA-256 of its cookie value, hex), with the browser's
    ``User-Agent`` and the address it signed in from (what the owner's sessions page shows)."""

    key: str
    owner_email: str
    csrf: str
    created_at: float
    last_seen: float
    notice: str
    user_agent: str = ""
    address: str = ""


class StoredSessions:
    """The ``web_sessions`` table; ``keep``: sessions kept per owner (the least recently used
    ends for a new one past it)."""

    def __init__(self, database: Database, keep: int = SESSIONS_PER_OWNER) -> None:
        self._database = database
        self._keep = keep

    async def create(self, row: SessionRow, *, seen_before: float,
                     created_before: float) -> None:
        """Store a new session; sessions last seen at or before ``seen_before`` or made at or
        before ``created_before`` (expired) are swept first, so the table holds live ones."""
        await self._database.run(_create, row, seen_before, created_before, self._keep)

    async def touch(self, key: str, now: float, *, seen_before: float,
                    created_before: float) -> SessionRow | None:
        """The session ``key``, its ``last_seen`` moved to ``now``; ``None`` if unknown or
        expired by the two bounds (an expired one is deleted)."""
        return await self._database.run(_touch, key, now, seen_before, created_before)

    async def set_notice(self, key: str, notice: str) -> None:
        """Keep ``notice`` for the session's next page (any instance may serve it)."""
        await self._database.run(_set_notice, key, notice)

    async def of_owner(self, owner_email: str, *, seen_after: float,
                       created_after: float) -> list[SessionRow]:
        """The owner's live sessions (seen after ``seen_after`` and made after
        ``created_after``), the most recently used first."""
        return await self._database.run(_of_owner, owner_email, seen_after, created_after)

    async def end_of_owner(self, owner_email: str, key: str) -> int:
        """Delete the owner's session ``key``; how many sessions ended (a key of another
        owner's session ends nothing). Every session at once ends by
        :func:`end_credentials`."""
        return await self._database.run(_end_of_owner, owner_email, key)

    async def end(self, key: str) -> None:
        """Delete a session."""
        await self._database.run(_end, key)

    async def count(self) -> int:
        """How many sessions are stored."""
        return await self._database.run(_count)

    async def ended_why(self, key: str) -> str | None:
        """Why the session ``key`` was ended by an event (its ``reason`` word), or ``None``
        when no event ended it lately (it expired, was signed out, or never was)."""
        return await self._database.run(ended_reason, key)


def _create(tx: Tx, row: SessionRow, seen_before: float, created_before: float,
            keep: int) -> None:
    tx.execute("DELETE FROM web_sessions WHERE last_seen <= ? OR created_at <= ?",
               (seen_before, created_before))
    tx.execute("INSERT INTO web_sessions (session_sha256, owner_email, csrf, created_at, "
               "last_seen, notice, user_agent, address) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               (row.key, row.owner_email, row.csrf, row.created_at, row.last_seen, row.notice,
                row.user_agent, row.address))
    # the owner's share of rows (fairshare.SESSIONS_PER_OWNER): the least recently used
    # ends for the new one, so no password, however often it signs in, fills the table
    beyond = [r[0] for r in tx.query(
        "SELECT session_sha256 FROM web_sessions WHERE owner_email = ? ORDER BY last_seen "
        "DESC, created_at DESC", (row.owner_email,))][keep:]
    for key in beyond:
        tx.execute("DELETE FROM web_sessions WHERE session_sha256 = ?", (key,))


def _touch(tx: Tx, key: str, now: float, seen_before: float,
           created_before: float) -> SessionRow | None:
    row = tx.query_one("SELECT owner_email, csrf, created_at, last_seen, notice, user_agent, "
                       "address FROM web_sessions WHERE session_sha256 = ?", (key,))
    if row is None:
        return None
    created_at, last_seen = float(row[2]), float(row[3])
    if last_seen <= seen_before or created_at <= created_before:
        tx.execute("DELETE FROM web_sessions WHERE session_sha256 = ?", (key,))
        return None
    tx.execute("UPDATE web_sessions SET last_seen = ? WHERE session_sha256 = ?", (now, key))
    return SessionRow(key, str(row[0]), str(row[1]), created_at, now, str(row[4]),
                      str(row[5]), str(row[6]))


def _set_notice(tx: Tx, key: str, notice: str) -> None:
    tx.execute("UPDATE web_sessions SET notice = ? WHERE session_sha256 = ?", (notice, key))


def _of_owner(tx: Tx, owner_email: str, seen_after: float,
              created_after: float) -> list[SessionRow]:
    rows = tx.query("SELECT session_sha256, owner_email, csrf, created_at, last_seen, "
                    "notice, user_agent, address FROM web_sessions WHERE owner_email = ? "
                    "AND last_seen > ? AND created_at > ? ORDER BY last_seen DESC",
                    (owner_email, seen_after, created_after))
    return [SessionRow(str(r[0]), str(r[1]), str(r[2]), float(r[3]), float(r[4]), str(r[5]),
                       str(r[6]), str(r[7])) for r in rows]


def _end_of_owner(tx: Tx, owner_email: str, key: str) -> int:
    cur = tx.execute("DELETE FROM web_sessions WHERE owner_email = ? AND session_sha256 = ?",
                     (owner_email, key))
    return max(cur.rowcount, 0)


def _end(tx: Tx, key: str) -> None:
    tx.execute("DELETE FROM web_sessions WHERE session_sha256 = ?", (key,))


def _count(tx: Tx) -> int:
    return int(tx.query_one("SELECT COUNT(*) FROM web_sessions")[0])


@dataclass(frozen=True, slots=True)
class Ended:
    """What :func:`end_credentials` ended: browser sessions and API sign-ins."""

    sessions: int
    api_sessions: int


#: How long an ended session's reason is kept: a session lives at most this long anyway
#: (``web/sessions.ABSOLUTE_S``), so no cookie older than that comes back to ask.
ENDED_KEPT_S: Final = 12 * 3600
_ENDED_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS ended_sessions (
    session_sha256 TEXT PRIMARY KEY, owner_email TEXT NOT NULL, reason TEXT NOT NULL,
    ended_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS ended_sessions_at ON ended_sessions (ended_at);
"""


def create_ended_table(tx: Tx) -> None:
    """Create ``ended_sessions`` if missing (a side table, made at start)."""
    ensure_tables(tx, _ENDED_SCHEMA)


def ended_reason(tx: Tx, key: str) -> str | None:
    """The reason noted for the session ``key`` when an event ended it, if any."""
    row = tx.query_one("SELECT reason FROM ended_sessions WHERE session_sha256 = ?", (key,))
    return None if row is None else str(row[0])


def end_credentials(tx: Tx, owner_email: str, now: int, keep: str | None = None,
                    reason: str = "") -> Ended:
    """End every credential of ``owner_email`` in ``tx`` (module docstring): the sign-in
    generation raised, every web session but ``keep`` (the key of the session that made the
    change, which stays signed in) and every half-done sign-in deleted, every API sign-in
    ended; with ``reason``, each session ended noted with it, for its browser's next
    page."""
    tx.execute("UPDATE owners SET signin_generation = signin_generation + 1 WHERE email = ?",
               (owner_email,))
    if reason:
        tx.execute("DELETE FROM ended_sessions WHERE ended_at < ?", (now - ENDED_KEPT_S,))
        tx.execute("INSERT INTO ended_sessions (session_sha256, owner_email, reason, ended_at) "
                   "SELECT session_sha256, owner_email, ?, ? FROM web_sessions WHERE "
                   "owner_email = ? AND session_sha256 <> ? ON CONFLICT (session_sha256) DO "
                   "UPDATE SET reason = excluded.reason, ended_at = excluded.ended_at",
                   (reason, now, owner_email, keep or ""))
    cur = tx.execute("DELETE FROM web_sessions WHERE owner_email = ? AND session_sha256 <> ?",
                     (owner_email, keep or ""))
    tx.execute("DELETE FROM signin_steps WHERE owner_email = ?", (owner_email,))
    api = tx.execute("UPDATE api_sessions SET ended_at = ? WHERE owner_email = ? AND "
                     "ended_at IS NULL", (now, owner_email))
    return Ended(max(cur.rowcount, 0), max(api.rowcount, 0))


def generation_of(tx: Tx, owner_email: str) -> int | None:
    """The owner's sign-in generation, or ``None`` for an unknown owner."""
    row = tx.query_one("SELECT signin_generation FROM owners WHERE email = ?",
                       (owner_email,))
    return None if row is None else int(row[0])


@dataclass(frozen=True, slots=True)
class ApiSessionRow:
    """One sign-in of the console API: its id (the tokens' ``sid``), the generation it was
    made under, whether the second factor's code was given, what signed in (its
    ``User-Agent``) and from where, when, and when it was last used."""

    session_id: str
    owner_email: str
    generation: int
    with_code: bool
    user_agent: str
    address: str
    created_at: int
    last_used_at: int
    ended_at: int | None = None


_API_NAMES = ("session_id", "owner_email", "generation", "with_code", "user_agent", "address",
              "created_at", "last_used_at", "ended_at")
_API_COLUMNS = ", ".join(_API_NAMES)


def _api_row(r: Any) -> ApiSessionRow:
    return ApiSessionRow(str(r[0]), str(r[1]), int(r[2]), bool(r[3]), str(r[4]), str(r[5]),
                         int(r[6]), int(r[7]), None if r[8] is None else int(r[8]))


def open_api_session(tx: Tx, row: ApiSessionRow, *, created_before: int,
                     keep: int = API_SIGN_INS_PER_OWNER) -> None:
    """Store a new API sign-in; the owner's ended ones, and those made at or before
    ``created_before`` (too old to be renewed), are swept first; past ``keep`` of the
    owner's, the least recently used ends."""
    tx.execute("DELETE FROM api_sessions WHERE owner_email = ? AND (ended_at IS NOT NULL OR "
               "created_at <= ?)", (row.owner_email, created_before))
    tx.execute(f"INSERT INTO api_sessions ({_API_COLUMNS}) VALUES "
               "(?, ?, ?, ?, ?, ?, ?, ?, NULL)",
               (row.session_id, row.owner_email, row.generation, int(row.with_code),
                row.user_agent, row.address, row.created_at, row.last_used_at))
    # the owner's share of rows (fairshare.API_SIGN_INS_PER_OWNER): the least recently
    # used sign-in ends (its tokens are refused) for the new one
    beyond = [r[0] for r in tx.query(
        "SELECT session_id FROM api_sessions WHERE owner_email = ? AND ended_at IS NULL "
        "ORDER BY last_used_at DESC, created_at DESC", (row.owner_email,))
        ][keep:]
    for session_id in beyond:
        tx.execute("UPDATE api_sessions SET ended_at = ? WHERE session_id = ?",
                   (row.created_at, session_id))


def api_session_of(tx: Tx, session_id: str) -> ApiSessionRow | None:
    """The API sign-in ``session_id``, ended or not."""
    r = tx.query_one(f"SELECT {_API_COLUMNS} FROM api_sessions WHERE session_id = ?",
                     (session_id,))
    return None if r is None else _api_row(r)


def api_session_state(tx: Tx, owner_email: str, session_id: str
                      ) -> tuple[int, ApiSessionRow | None] | None:
    """The owner's sign-in generation and their API sign-in ``session_id`` (``None`` when it
    is not theirs), read by one statement; ``None`` for an unknown owner."""
    columns = ", ".join(f"s.{name}" for name in _API_NAMES)
    r = tx.query_one(f"SELECT o.signin_generation, {columns} FROM owners o LEFT JOIN "
                     "api_sessions s ON s.session_id = ? AND s.owner_email = o.email "
                     "WHERE o.email = ?", (session_id, owner_email))
    if r is None:
        return None
    return int(r[0]), None if r[1] is None else _api_row(r[1:])


def note_api_use(tx: Tx, session_id: str, now: int) -> None:
    """The sign-in was used at ``now`` (the caller writes it at most once a minute)."""
    tx.execute("UPDATE api_sessions SET last_used_at = ? WHERE session_id = ?",
               (now, session_id))


def api_sessions_of(tx: Tx, owner_email: str, *, used_after: int,
                    created_after: int) -> list[ApiSessionRow]:
    """The owner's API sign-ins not ended, of their current generation, used after
    ``used_after`` and made after ``created_after``, the most recently used first."""
    columns = ", ".join(f"s.{name}" for name in _API_NAMES)
    rows = tx.execute(f"SELECT {columns} FROM api_sessions s JOIN owners o ON "
                      "o.email = s.owner_email WHERE s.owner_email = ? AND s.ended_at IS NULL "
                      "AND s.generation = o.signin_generation AND s.last_used_at > ? AND "
                      "s.created_at > ? ORDER BY s.last_used_at DESC, s.created_at DESC",
                      (owner_email, used_after, created_after)).fetchall()
    return [_api_row(r) for r in rows]


def end_api_session(tx: Tx, owner_email: str, session_id: str, now: int
                    ) -> ApiSessionRow | None:
    """End the owner's API sign-in ``session_id``: the row as it was, or ``None`` when the
    owner has no such sign-in still going (another owner's id ends nothing)."""
    found = api_session_of(tx, session_id)
    if found is None or found.owner_email != owner_email or found.ended_at is not None:
        return None
    tx.execute("UPDATE api_sessions SET ended_at = ? WHERE session_id = ?", (now, session_id))
    return found


class StoredSteps:
    """The ``signin_steps`` table: ``key`` is the SHA-256 of the step cookie, hex; ``keep``:
    steps kept per owner (the oldest ends for a new one past it)."""

    def __init__(self, database: Database, keep: int = STEPS_PER_OWNER) -> None:
        self._database = database
        self._keep = keep

    async def create(self, key: str, owner_email: str, now: float, tries: int, *,
                     created_before: float) -> None:
        """Store a step (expired ones, made at or before ``created_before``, swept first)."""
        await self._database.run(_create_step, key, owner_email, now, tries, created_before,
                                 self._keep)

    async def owner(self, key: str, *, created_after: float) -> str | None:
        """The owner of a live step, or ``None`` (unknown or expired)."""
        return await self._database.run(_step_owner, key, created_after)

    async def spend_try(self, key: str) -> int:
        """One wrong code on the step: how many tries are left (at 0 the step is gone)."""
        return await self._database.run(_spend_try, key)

    async def end(self, key: str) -> None:
        """Delete a step (finished, or abandoned)."""
        await self._database.run(_end_step, key)


def _create_step(tx: Tx, key: str, owner_email: str, now: float, tries: int,
                 created_before: float, keep: int) -> None:
    tx.execute("DELETE FROM signin_steps WHERE created_at <= ?", (created_before,))
    tx.execute("INSERT INTO signin_steps VALUES (?, ?, ?, ?)", (key, owner_email, now, tries))
    # the owner's share of rows (fairshare.STEPS_PER_OWNER): the oldest ends
    beyond = [r[0] for r in tx.query(
        "SELECT step_sha256 FROM signin_steps WHERE owner_email = ? ORDER BY created_at "
        "DESC", (owner_email,))][keep:]
    for step in beyond:
        tx.execute("DELETE FROM signin_steps WHERE step_sha256 = ?", (step,))


def _step_owner(tx: Tx, key: str, created_after: float) -> str | None:
    row = tx.query_one("SELECT owner_email FROM signin_steps WHERE step_sha256 = ? "
                       "AND created_at > ? AND tries_left > 0", (key, created_after))
    return None if row is None else str(row[0])


def _spend_try(tx: Tx, key: str) -> int:
    row = tx.query_one("UPDATE signin_steps SET tries_left = tries_left - 1 "
                       "WHERE step_sha256 = ? RETURNING tries_left", (key,))
    left = 0 if row is None else int(row[0])
    if left <= 0:
        tx.execute("DELETE FROM signin_steps WHERE step_sha256 = ?", (key,))
    return left


def _end_step(tx: Tx, key: str) -> None:
    tx.execute("DELETE FROM signin_steps WHERE step_sha256 = ?", (key,))

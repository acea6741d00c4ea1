"""The console's sign-in state in the authority's database: failed sign-ins and web sessions.

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

Each call is one transaction through the database's door (``database/``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .database import Database, Tx

__all__ = ["SessionRow", "StoredLoginFailures", "StoredSessions", "StoredSteps",
           "end_owner_sign_ins"]


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
    """The ``web_sessions`` table."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def create(self, row: SessionRow, *, seen_before: float,
                     created_before: float) -> None:
        """Store a new session; sessions last seen at or before ``seen_before`` or made at or
        before ``created_before`` (expired) are swept first, so the table holds live ones."""
        await self._database.run(_create, row, seen_before, created_before)

    async def touch(self, key: str, now: float, *, seen_before: float,
                    created_before: float) -> SessionRow | None:
        """The session ``key``, its ``last_seen`` moved to ``now``; ``None`` if unknown or
        expired by the two bounds (an expired one is deleted)."""
        return await self._database.run(_touch, key, now, seen_before, created_before)

    async def set_notice(self, key: str, notice: str) -> None:
        """Keep ``notice`` for the session's next page (any instance may serve it)."""
        await self._database.run(_set_notice, key, notice)

    async def end_others(self, owner_email: str, keep: str) -> int:
        """Delete every session of ``owner_email`` but ``keep``; how many."""
        return await self._database.run(_end_others, owner_email, keep)

    async def of_owner(self, owner_email: str, *, seen_after: float,
                       created_after: float) -> list[SessionRow]:
        """The owner's live sessions (seen after ``seen_after`` and made after
        ``created_after``), the most recently used first."""
        return await self._database.run(_of_owner, owner_email, seen_after, created_after)

    async def end_of_owner(self, owner_email: str, key: str | None = None) -> int:
        """Delete the owner's session ``key``, or every session and half-done sign-in of the
        owner when ``key`` is ``None`` (sign out everywhere); how many sessions ended. A key
        of another owner's session ends nothing."""
        return await self._database.run(_end_of_owner, owner_email, key)

    async def end(self, key: str) -> None:
        """Delete a session."""
        await self._database.run(_end, key)

    async def count(self) -> int:
        """How many sessions are stored."""
        return await self._database.run(_count)


def _create(tx: Tx, row: SessionRow, seen_before: float, created_before: float) -> None:
    tx.execute("DELETE FROM web_sessions WHERE last_seen <= ? OR created_at <= ?",
               (seen_before, created_before))
    tx.execute("INSERT INTO web_sessions (session_sha256, owner_email, csrf, created_at, "
               "last_seen, notice, user_agent, address) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               (row.key, row.owner_email, row.csrf, row.created_at, row.last_seen, row.notice,
                row.user_agent, row.address))


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


def _end_others(tx: Tx, owner_email: str, keep: str) -> int:
    cur = tx.execute("DELETE FROM web_sessions WHERE owner_email = ? AND session_sha256 <> ?",
                     (owner_email, keep))
    return max(cur.rowcount, 0)


def _of_owner(tx: Tx, owner_email: str, seen_after: float,
              created_after: float) -> list[SessionRow]:
    rows = tx.query("SELECT session_sha256, owner_email, csrf, created_at, last_seen, "
                    "notice, user_agent, address FROM web_sessions WHERE owner_email = ? "
                    "AND last_seen > ? AND created_at > ? ORDER BY last_seen DESC",
                    (owner_email, seen_after, created_after))
    return [SessionRow(str(r[0]), str(r[1]), str(r[2]), float(r[3]), float(r[4]), str(r[5]),
                       str(r[6]), str(r[7])) for r in rows]


def _end_of_owner(tx: Tx, owner_email: str, key: str | None) -> int:
    if key is not None:
        cur = tx.execute("DELETE FROM web_sessions WHERE owner_email = ? AND "
                         "session_sha256 = ?", (owner_email, key))
        return max(cur.rowcount, 0)
    cur = tx.execute("DELETE FROM web_sessions WHERE owner_email = ?", (owner_email,))
    tx.execute("DELETE FROM signin_steps WHERE owner_email = ?", (owner_email,))
    return max(cur.rowcount, 0)


def _end(tx: Tx, key: str) -> None:
    tx.execute("DELETE FROM web_sessions WHERE session_sha256 = ?", (key,))


def _count(tx: Tx) -> int:
    return int(tx.query_one("SELECT COUNT(*) FROM web_sessions")[0])


def end_owner_sign_ins(tx: Tx, owner_email: str) -> None:
    """End every session and half-done sign-in of ``owner_email`` in ``tx`` (a password
    reset: whoever had the old password or a session made with it is out)."""
    tx.execute("DELETE FROM web_sessions WHERE owner_email = ?", (owner_email,))
    tx.execute("DELETE FROM signin_steps WHERE owner_email = ?", (owner_email,))


class StoredSteps:
    """The ``signin_steps`` table: ``key`` is the SHA-256 of the step cookie, hex."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def create(self, key: str, owner_email: str, now: float, tries: int, *,
                     created_before: float) -> None:
        """Store a step (expired ones, made at or before ``created_before``, swept first)."""
        await self._database.run(_create_step, key, owner_email, now, tries, created_before)

    async def owner(self, key: str, *, created_after: float) -> str | None:
        """The owner of a live step, or ``None`` (unknown or expired)."""
        return await self._database.run(_step_owner, key, created_after)

    async def spend_try(self, key: str) -> int:
        """One wrong code on the step: how many tries are left (at 0 the step is gone)."""
        return await self._database.run(_spend_try, key)

    async def end(self, key: str) -> None:
        """Delete a step (finished, or abandoned)."""
        await self._database.run(_end_step, key)

    async def end_owner(self, owner_email: str) -> None:
        """Delete every step of ``owner_email`` (the password changed: a step made with the
        old one must not be finished with a code)."""
        await self._database.run(_end_owner_steps, owner_email)


def _create_step(tx: Tx, key: str, owner_email: str, now: float, tries: int,
                 created_before: float) -> None:
    tx.execute("DELETE FROM signin_steps WHERE created_at <= ?", (created_before,))
    tx.execute("INSERT INTO signin_steps VALUES (?, ?, ?, ?)", (key, owner_email, now, tries))


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


def _end_owner_steps(tx: Tx, owner_email: str) -> None:
    tx.execute("DELETE FROM signin_steps WHERE owner_email = ?", (owner_email,))

"""Console sign-in sessions: a random id in a cookie, the rest in the authority's database.

Why in the database: several console instances serve one authority behind a load balancer,
so a session made on one must be valid on every other, and a restart must not sign everybody
out. Each session ends after ``idle_s`` without a request and ``absolute_s`` after sign-in
whatever the activity, both by the injected clock so tests pass hours without sleeping. Each
has its own CSRF token, which every state-changing form must carry (``security.py``).

The id is 256 random bits; only its SHA-256 is stored as the key, so a dump of the table or
a debug listing does not hand out live cookies. Sign-out deletes the row. The rows are the
store's (``signins.StoredSessions``): the pages never reach the database themselves.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

from aiohttp import web

from ..tables.signins import SessionRow, StoredSessions, StoredSteps

__all__ = ["ABSOLUTE_S", "IDLE_S", "STEP_S", "STEP_TRIES", "Session", "SessionStore",
           "SignInSteps", "browser_of"]

#: A session ends after this long without a request ...
IDLE_S: Final = 30 * 60
#: ... and this long after sign-in, however busy.
ABSOLUTE_S: Final = 12 * 3600
#: A half-done sign-in (password right, second-factor code not yet given) lasts this long ...
STEP_S: Final = 5 * 60
#: ... and allows this many wrong codes before the password must be given again.
STEP_TRIES: Final = 5
#: How much of a browser's ``User-Agent`` and address a session keeps.
_MAX_AGENT: Final = 300
_MAX_ADDRESS: Final = 64


def browser_of(request: web.Request) -> dict[str, str]:
    """What a new session notes of the browser that signed in: its ``User-Agent`` and the
    address it came from (``SessionStore.create``'s keywords)."""
    return {"user_agent": request.headers.get("User-Agent", ""),
            "address": request.remote or ""}


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


@dataclass(slots=True)
class Session:
    """One signed-in owner in one browser (a copy of its row; :meth:`SessionStore.set_notice`
    writes the notice back)."""

    key: str
    owner_email: str
    csrf: str
    created_at: float
    last_seen: float
    #: What the last action did, shown once on the next page (then cleared).
    notice: str = ""
    #: The browser's ``User-Agent`` and the address it signed in from (the sessions page).
    user_agent: str = ""
    address: str = ""


class Ended(Protocol):
    """Told of sessions this instance ended (``door.HeldStreams.ended``: their live streams
    end with them)."""

    def __call__(self, *, owner: str | None = None, key: str | None = None,
                 keep: str | None = None) -> object:
        """``key``'s session, or every one of ``owner``'s (``key``'s alone, or all but
        ``keep``), ended."""
        ...


class SessionStore:
    """Create, find (with both expiries) and end sessions, in the shared database.

    ``ended`` is told of every session this store ends (the console's held streams end with
    them at once; a session ended another way is found ended at its stream's next beat)."""

    def __init__(self, rows: Callable[[], StoredSessions], clock: Callable[[], float], *,
                 idle_s: float = IDLE_S, absolute_s: float = ABSOLUTE_S,
                 token: Callable[[int], str] = secrets.token_urlsafe,
                 ended: Ended | None = None) -> None:
        self._rows = rows
        self._clock = clock
        self.idle_s = idle_s
        self.absolute_s = absolute_s
        self._token = token
        self._ended = ended

    async def create(self, owner_email: str, *, user_agent: str = "",
                     address: str = "") -> tuple[str, Session]:
        """A new session: the cookie value (shown once, to the browser) and the session,
        noting the browser's ``User-Agent`` and ``address`` (shortened). Expired rows are
        swept first, so the table holds only live sessions."""
        now = self._clock()
        session_id = self._token(32)
        user_agent, address = user_agent[:_MAX_AGENT], address[:_MAX_ADDRESS]
        session = Session(_key(session_id), owner_email, self._token(32), now, now, "",
                          user_agent, address)
        await self._rows().create(
            SessionRow(session.key, owner_email, session.csrf, now, now, "", user_agent,
                       address),
            seen_before=now - self.idle_s, created_before=now - self.absolute_s)
        return session_id, session

    async def of_owner(self, owner_email: str) -> list[Session]:
        """The owner's live sessions, the most recently used first."""
        now = self._clock()
        rows = await self._rows().of_owner(owner_email, seen_after=now - self.idle_s,
                                           created_after=now - self.absolute_s)
        return [Session(r.key, r.owner_email, r.csrf, r.created_at, r.last_seen, r.notice,
                        r.user_agent, r.address) for r in rows]

    async def end_of_owner(self, owner_email: str, key: str) -> int:
        """End the owner's session ``key`` (a :attr:`Session.key`); how many ended. Every
        session at once ends with the owner's other credentials (the service's
        ``credentials.end_all``; then :meth:`ended_with_owner`)."""
        ended = await self._rows().end_of_owner(owner_email, key)
        if self._ended is not None:
            self._ended(owner=owner_email, key=key)
        return ended

    async def get(self, session_id: str | None) -> Session | None:
        """The live session for a cookie value (touching it), or ``None``: unknown, idle
        past ``idle_s`` or older than ``absolute_s`` (an expired one is deleted)."""
        if not session_id:
            return None
        now = self._clock()
        row = await self._rows().touch(_key(session_id), now, seen_before=now - self.idle_s,
                                       created_before=now - self.absolute_s)
        if row is None:
            return None
        return Session(row.key, row.owner_email, row.csrf, row.created_at, row.last_seen,
                       row.notice, row.user_agent, row.address)

    async def set_notice(self, session: Session, notice: str) -> None:
        """Keep ``notice`` for the session's next page (any instance may serve it)."""
        session.notice = notice
        await self._rows().set_notice(session.key, notice)

    def ended_with_owner(self, owner_email: str, keep: str | None = None) -> None:
        """The service ended every session of ``owner_email`` but ``keep`` (a
        :attr:`Session.key`) with their other credentials (``signins.end_credentials``: a
        password set, the second factor changed, "sign out everywhere", a take-back): those
        this instance serves are told now (their live streams end at once)."""
        if self._ended is not None:
            self._ended(owner=owner_email, keep=keep)

    async def end(self, session_id: str | None) -> None:
        """Delete a session (sign-out)."""
        if session_id:
            await self._rows().end(_key(session_id))
            if self._ended is not None:
                self._ended(key=_key(session_id))

    async def why_ended(self, session_id: str | None) -> str | None:
        """Why the session of the cookie ``session_id`` was ended by an event (the reason
        word ``signins.end_credentials`` noted), or ``None``."""
        if not session_id:
            return None
        return await self._rows().ended_why(_key(session_id))

    async def count(self) -> int:
        """How many sessions are stored (live or not yet swept)."""
        return await self._rows().count()


class SignInSteps:
    """Half-done sign-ins: the step cookie's value is random, its SHA-256 the row's key, so
    the code step is bound to the browser that gave the password; it expires after
    ``ttl_s`` by the injected clock and after ``tries`` wrong codes."""

    def __init__(self, rows: Callable[[], StoredSteps], clock: Callable[[], float], *,
                 ttl_s: float = STEP_S, tries: int = STEP_TRIES,
                 token: Callable[[int], str] = secrets.token_urlsafe) -> None:
        self._rows = rows
        self._clock = clock
        self.ttl_s = ttl_s
        self.tries = tries
        self._token = token

    async def create(self, owner_email: str) -> str:
        """A new step for ``owner_email``: the cookie value (to the browser only)."""
        now = self._clock()
        step_id = self._token(32)
        await self._rows().create(_key(step_id), owner_email, now, self.tries,
                                  created_before=now - self.ttl_s)
        return step_id

    async def owner(self, step_id: str | None) -> str | None:
        """The owner whose password the browser gave, while the step lives; else ``None``."""
        if not step_id:
            return None
        return await self._rows().owner(_key(step_id), created_after=self._clock() - self.ttl_s)

    async def wrong_code(self, step_id: str) -> int:
        """Count a wrong code: the tries left (0: the step is over)."""
        return await self._rows().spend_try(_key(step_id))

    async def end(self, step_id: str | None) -> None:
        """The step is over (signed in, or given up)."""
        if step_id:
            await self._rows().end(_key(step_id))

"""Console sign-in sessions: a random id in a cookie, the rest in memory.

Why in memory: a session is worth less than the owner's password (which signs in again in
one form), the console is one process, and a restart signing everybody out is the safe
failure. Each session ends after ``idle_s`` without a request and ``absolute_s`` after sign-in
whatever the activity, both by the injected clock so tests pass hours without sleeping. Each
has its own CSRF token, which every state-changing form must carry (``security.py``).

The id is 256 random bits; only its SHA-256 is kept as the key, so a memory dump or a debug
listing of the table does not hand out live cookies.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["ABSOLUTE_S", "IDLE_S", "Session", "SessionStore"]

#: A session ends after this long without a request ...
IDLE_S: Final = 30 * 60
#: ... and this long after sign-in, however busy.
ABSOLUTE_S: Final = 12 * 3600
#: The most sessions kept at once; past it the oldest is dropped (a memory bound).
MAX_SESSIONS: Final = 10_000


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


@dataclass(slots=True)
class Session:
    """One signed-in owner in one browser."""

    owner_email: str
    csrf: str
    created_at: float
    last_seen: float
    #: What the last action did, shown once on the next page (then cleared).
    notice: str = ""


class SessionStore:
    """Create, find (with both expiries) and end sessions."""

    def __init__(self, clock: Callable[[], float], *, idle_s: float = IDLE_S,
                 absolute_s: float = ABSOLUTE_S,
                 token: Callable[[int], str] = secrets.token_urlsafe) -> None:
        self._clock = clock
        self.idle_s = idle_s
        self.absolute_s = absolute_s
        self._token = token
        self._sessions: dict[str, Session] = {}

    def create(self, owner_email: str) -> tuple[str, Session]:
        """A new session: the cookie value (shown once, to the browser) and the session."""
        now = self._clock()
        if len(self._sessions) >= MAX_SESSIONS:
            self._sweep(now)
            if len(self._sessions) >= MAX_SESSIONS:
                oldest = min(self._sessions, key=lambda k: self._sessions[k].created_at)
                del self._sessions[oldest]
        session_id = self._token(32)
        session = Session(owner_email, self._token(32), now, now)
        self._sessions[_key(session_id)] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        """The live session for a cookie value (touching it), or ``None``: unknown, idle
        past ``idle_s`` or older than ``absolute_s`` (an expired one is forgotten)."""
        if not session_id:
            return None
        key = _key(session_id)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self._clock()
        if now - session.last_seen >= self.idle_s or now - session.created_at >= self.absolute_s:
            del self._sessions[key]
            return None
        session.last_seen = now
        return session

    def end_others(self, owner_email: str, keep: Session) -> int:
        """End every session of ``owner_email`` but ``keep`` (after a password change: a
        stolen session must not outlive the password it was opened with); how many ended."""
        stale = [k for k, s in self._sessions.items()
                 if s.owner_email == owner_email and s is not keep]
        for key in stale:
            del self._sessions[key]
        return len(stale)

    def end(self, session_id: str | None) -> None:
        """Forget a session (sign-out)."""
        if session_id:
            self._sessions.pop(_key(session_id), None)

    def _sweep(self, now: float) -> None:
        for key, s in list(self._sessions.items()):
            if now - s.last_seen >= self.idle_s or now - s.created_at >= self.absolute_s:
                del self._sessions[key]

    def __len__(self) -> int:
        return len(self._sessions)

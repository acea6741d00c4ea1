"""Owners: who they are, their password, their sign-ins and what their activity log says.

Owner checks run scrypt even for unknown e-mails, against a dummy hash, so the answer and
its timing do not say which addresses exist. scrypt (tens of milliseconds) runs on the
password-hashing pool (``passwords.Hashing``: its own threads, each caller in its turn), as
every statement runs on the database door's, so a sign-in never holds the event loop.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

from ..database import Tx
from ..errors import InvalidRequest
from ..passwords import short_password
from ..tables import owners as owner_rows
from ..tables.activity import ActivityEntry, ActivityLog
from ..tables.signins import Ended, end_credentials
from .common import Shared, normalize_email

__all__ = ["Owners"]

_EMAIL_RE: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Owners:
    """Owners and their console sign-ins."""

    def __init__(self, shared: Shared) -> None:
        self._shared = shared
        self._store = shared.store
        self._dummy_hash: str | None = None

    async def create(self, email: str, password: str) -> None:
        """Add an owner; ``ValueError`` for a bad address, short password or a taken e-mail."""
        email = normalize_email(email)
        if not _EMAIL_RE.match(email):
            raise InvalidRequest("not an e-mail address")
        problem = short_password(password)
        if problem is not None:
            raise InvalidRequest(problem)
        hashed = await self._shared.hashing.hash(password, owner=email)
        if not await self._shared.run(owner_rows.add_owner, email, hashed,
                                      self._shared.now()):
            raise InvalidRequest("an owner with this e-mail exists")

    async def emails(self) -> list[str]:
        """Every owner's e-mail."""
        return await self._shared.run(owner_rows.owners)

    async def exists(self, email: str) -> bool:
        """Whether ``email`` is an owner's."""
        found = await self._shared.run(owner_rows.owner_password_hash, normalize_email(email))
        return found is not None

    async def change_password(self, email: str, new_password: str, *,
                              keep_session: str | None = None) -> Ended:
        """Set a signed-in owner's new password (the caller checked the current one): every
        credential made with the old one ends (``signins.end_credentials``) but the page
        session ``keep_session`` (the key of the one that changed it). What ended;
        ``ValueError`` for a short password or an unknown owner."""
        email = normalize_email(email)
        problem = short_password(new_password)
        if problem is not None:
            raise InvalidRequest(problem)
        hashed = await self._shared.hashing.hash(new_password, owner=email)
        now = self._shared.now()
        ended = await self._shared.run(self._change_password, email, hashed, now, keep_session)
        self._shared.notify(email, "password_changed", now)
        return ended

    def _change_password(self, tx: Tx, email: str, hashed: str, now: int,
                         keep_session: str | None) -> Ended:
        if not owner_rows.set_owner_password(tx, email, hashed):
            raise InvalidRequest("no such owner")
        self._shared.activity.add(tx, email, "password_changed", "", now)
        return end_credentials(tx, email, now, keep_session, reason="password_changed")

    async def check(self, email: str, password: str) -> bool:
        """Whether the credentials are right; the same work is done for unknown e-mails."""
        email = normalize_email(email)
        stored = await self._shared.run(owner_rows.owner_password_hash, email)
        # an unknown owner, or one whose password the operator set aside, costs a hash too
        usable = stored is not None and stored.startswith("scrypt$")
        if not usable and self._dummy_hash is None:
            self._dummy_hash = await self._shared.hashing.hash(secrets.token_hex(16))
        against = stored if usable else self._dummy_hash
        assert against is not None  # noqa: S101 - made just above
        matches = await self._shared.hashing.verify(password, against, owner=email)
        return matches and usable

    async def note_sign_in(self, email: str, ok: bool, detail: str) -> None:
        """Log a console sign-in (or a refused one, for a known owner only)."""
        await self._shared.run(self._note_sign_in, normalize_email(email), ok, detail,
                               self._shared.now())

    def _note_sign_in(self, tx: Tx, email: str, ok: bool, detail: str, now: int) -> None:
        if ok or owner_rows.owner_password_hash(tx, email) is not None:
            self._shared.activity.add(tx, email, "login" if ok else "login_failed", detail,
                                      now)

    async def note_sign_out(self, email: str) -> None:
        """Log a console sign-out."""
        await self._shared.run(self._shared.activity.add, normalize_email(email), "logout",
                               "", self._shared.now())

    async def note_sessions_ended(self, email: str, detail: str) -> None:
        """Log sessions the owner signed out from the sessions page."""
        await self._shared.run(self._shared.activity.add, normalize_email(email),
                               "sessions_ended", detail, self._shared.now())

    async def activity(self, email: str) -> list[ActivityEntry]:
        """The owner's newest activity first."""
        return await self._shared.run(ActivityLog.of, normalize_email(email))

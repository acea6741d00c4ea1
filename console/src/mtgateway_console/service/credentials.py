"""What speaks for an owner, and how it ends: the console API's sign-ins, and the events that
end every credential at once.

Three things act for an owner without the password being typed again: a page session (a
cookie, ``web/sessions.py``), a console-API token (a JWT, ``apitokens.py``) and a take-back
link (``recovery.py``). They share one lifecycle (``signins.end_credentials``): a password set
(changed, reset by mail, set by a take-back), the second factor turned on, off or reset by the
operator, "Sign out everywhere" and a take-back each end every page session (but the one that
made the change), every half-done sign-in and every API sign-in, and raise the owner's sign-in
generation, in the event's own transaction. The owner sees each of them on the sessions page
and may end a session or an API sign-in one by one.

A take-back link is the exception, on purpose: it is the owner's way back when someone else
holds the password, so nothing that person can do (change the password, sign out everywhere,
turn the factor off and on again) ends it; it ends when used, by the operator's reset, or
when its window closes (``recovery.py``).

This room issues an API sign-in (:meth:`Credentials.open_api`: the row the owner will see,
and the id and generation the token carries) and, for every request that carries a token,
turns its verified claims into the owner it speaks for (:meth:`Credentials.api_owner`), or
refuses it: the door calls it as it verifies the signature. One statement reads the owner's
generation and the sign-in's row; a use is written at most once a minute.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Final

from mtgateway_base.wire.errors import AuthorityError

from ..apitokens import LIFETIME_S, MAX_SESSION_S, ApiClaims
from ..database import Tx
from ..tables import factors
from ..tables.signins import (
    ApiSessionRow,
    Ended,
    api_session_state,
    api_sessions_of,
    end_api_session,
    end_credentials,
    note_api_use,
    open_api_session,
)
from .common import Shared, normalize_email
from .signin import SignInRefused

__all__ = ["USE_NOTE_S", "CredentialEnded", "Credentials"]

#: A sign-in's last use is written at most this often (a request per second would otherwise
#: be a write per second).
USE_NOTE_S: Final = 60
#: What the sessions page shows of a sign-in's browser or bot, and of its address.
_MAX_AGENT: Final = 300
_MAX_ADDRESS: Final = 64


class CredentialEnded(AuthorityError):
    """A console-API token whose sign-in was ended (one by one on the sessions page, or with
    every other credential of the owner: a password set, the second factor changed, "Sign out
    everywhere", a take-back), or whose owner is gone. ``reason`` is the word the 401 carries
    (``token_revoked``); sign in again."""

    reason = "token_revoked"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Credentials:
    """The console API's sign-ins, and ending what speaks for an owner.

    Args:
        shared: the rooms' shared parts.
        token: random URL-safe text of that many bytes (a sign-in's id).
    """

    def __init__(self, shared: Shared, token: Callable[[int], str] = secrets.token_urlsafe
                 ) -> None:
        self._shared = shared
        self._token = token

    # -- the console API's sign-ins -------------------------------------------------------

    async def open_api(self, owner_email: str, *, with_code: bool, user_agent: str = "",
                       address: str = "") -> ApiSessionRow:
        """A new API sign-in of an owner whose credentials were just checked (``with_code``:
        a second factor's code was among them): the row, whose id and generation its tokens
        carry.

        Raises:
            SignInRefused: ``bad_credentials`` when the owner is gone since the check,
                ``second_factor_required`` when they turned the second factor on since (the
                check asked no code): a token must never outlive the event it raced.
        """
        now = self._shared.now()
        row = ApiSessionRow(self._token(16), normalize_email(owner_email), 0, with_code,
                            user_agent[:_MAX_AGENT], address[:_MAX_ADDRESS], now, now)
        return await self._shared.run(self._open_api, row)

    def _open_api(self, tx: Tx, row: ApiSessionRow) -> ApiSessionRow:
        state = api_session_state(tx, row.owner_email, row.session_id)
        if state is None:
            raise SignInRefused("bad_credentials")
        generation, _ = state
        enrolled = factors.enabled_at(tx, row.owner_email)[1] is not None
        if enrolled and not row.with_code:
            raise SignInRefused("second_factor_required")
        # a code sent by an owner without a factor was checked by nothing: not "with code"
        opened = ApiSessionRow(row.session_id, row.owner_email, generation,
                               enrolled, row.user_agent, row.address,
                               row.created_at, row.last_used_at)
        shares = self._shared.shares
        open_api_session(tx, opened, created_before=row.created_at - MAX_SESSION_S,
                         **({"keep": shares.api_sign_ins_per_owner} if shares else {}))
        return opened

    async def api_owner(self, claims: ApiClaims) -> str:
        """The owner a verified token speaks for.

        Raises:
            CredentialEnded: its sign-in was ended, or the owner's sign-in generation moved
                on since it was issued, or the owner is gone.
        """
        return await self._shared.run(self._api_owner, claims, self._shared.now())

    @staticmethod
    def _api_owner(tx: Tx, claims: ApiClaims, now: int) -> str:
        state = api_session_state(tx, claims.owner_email, claims.session_id)
        generation, row = state if state is not None else (None, None)
        if row is None or row.ended_at is not None or generation != claims.generation \
                or row.generation != claims.generation:
            raise CredentialEnded(
                "this sign-in has ended: signed out (the sessions page, or everywhere), or "
                "the owner's password or two-step sign-in changed since it was made; sign in "
                "again (POST /api/auth/login)")
        if now - row.last_used_at >= USE_NOTE_S:
            note_api_use(tx, row.session_id, now)
        return row.owner_email

    async def api_sign_ins(self, owner_email: str) -> list[ApiSessionRow]:
        """The owner's API sign-ins still going (a token of theirs may still be used), the
        most recently used first."""
        now = self._shared.now()
        # a token lasts LIFETIME_S from its issue, which is no earlier than a minute before
        # the last use written (renewals come on use)
        return await self._shared.run(api_sessions_of, normalize_email(owner_email),
                                      used_after=now - LIFETIME_S - USE_NOTE_S,
                                      created_after=now - MAX_SESSION_S)

    async def end_api(self, owner_email: str, session_id: str) -> ApiSessionRow | None:
        """End one API sign-in of the owner (its tokens are refused at once, on every
        console instance): the sign-in as it was, or ``None`` when the owner has no such one
        still going. Noted in the activity."""
        return await self._shared.run(self._end_api, normalize_email(owner_email), session_id,
                                      self._shared.now())

    def _end_api(self, tx: Tx, owner: str, session_id: str, now: int) -> ApiSessionRow | None:
        ended = end_api_session(tx, owner, session_id, now)
        if ended is not None:
            self._shared.activity.add(tx, owner, "sessions_ended",
                                      f"one API sign-in: {described(ended)}", now)
        return ended

    # -- everything at once -----------------------------------------------------------------

    async def end_all(self, owner_email: str) -> Ended:
        """Sign the owner out everywhere: every page session (this one too), half-done
        sign-in and API sign-in ends, in one transaction noted in the activity."""
        return await self._shared.run(self._end_all, normalize_email(owner_email),
                                      self._shared.now())

    def _end_all(self, tx: Tx, owner: str, now: int) -> Ended:
        ended = end_credentials(tx, owner, now, reason="everywhere")
        self._shared.activity.add(tx, owner, "sessions_ended",
                                  f"every session ({ended.sessions}) and API sign-in "
                                  f"({ended.api_sessions}), signed out everywhere", now)
        return ended


def described(row: ApiSessionRow) -> str:
    """An API sign-in as the activity names it: what signed in, and from where."""
    agent = row.user_agent[:80] or "a client that did not say which"
    return f"{agent} from {row.address or 'an unknown address'}"

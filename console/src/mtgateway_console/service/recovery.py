"""Getting the account back when someone else turned two-step sign-in on.

Whoever holds the owner's password can turn the second factor on, and then holds the only
authenticator and all the recovery codes: a password reset keeps the factor on (it must, or a
mailbox alone would undo it), so without more the owner is locked out for good. Two ways back:

- **The link in the notice.** Turning the factor on mails the owner a notice at once, with a
  link (``/recover/<token>``) that, within :data:`UNDO_TTL_S`, turns the factor off, signs
  every browser and every console-API sign-in out, ends half-done sign-ins, voids the reset
  links, removes the alerts' webhook (whoever turned the factor on may have pointed it at
  themselves) and sets the new password the owner types: the owner needs only their e-mail
  and no operator. So that the link cannot become a way in itself, it is *single use* (one
  conditional ``UPDATE``, so two instances cannot both spend it), *expires with the window*,
  and *bound to the owner and to "enrolled since"*: it undoes a factor turned on at or after
  the moment it was issued, that enrolment or a later one, and nothing older. So whoever holds
  the password cannot void the owner's link by turning the factor off and on again (a new
  secret), nor by changing the password, signing out everywhere or resetting the password by
  mail: the link outlives all of them, on purpose (a password reset by mail honours it too:
  whoever reads the mailbox holds the link already). It ends when used, when the owner takes
  the factor back by any link (every other link of the owner is voided then), by the
  operator's reset, or when its window closes. Turning the factor on is also rate-limited
  (``secondfactor.ENROLMENTS_PER_DAY``), so its notices cannot flood the owner's mailbox.
  Only the SHA-256 of its token is stored; opening it (``GET``) spends nothing, so a mail
  scanner following it does not burn it. Its cost: for the window, whoever reads the owner's
  mailbox can undo a factor the owner turned on themselves; after it, the mailbox alone never
  can.
- **The operator** (``mtgateway owner reset-2fa --email``, database access being the
  authority, as ``token revoke`` treats it): :meth:`~.secondfactor.SecondFactor.reset_by_operator`
  for an owner who lost the phone and the recovery codes, recorded in the activity and mailed
  to the owner.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

from ..database import Tx
from ..errors import InvalidRequest
from ..passwords import short_password
from ..tables import alerts, factors, resets
from ..tables import owners as owner_rows
from ..tables.signins import end_credentials
from .common import Shared, mask_email, normalize_email

__all__ = ["UNDO_TTL_S", "Recovery", "UndoLink", "factor_digest",
           "issue_undo", "new_undo_token", "void_recovery_links"]

#: How long the link in the "two-step sign-in was turned on" notice works.
UNDO_TTL_S: Final = 72 * 3600
_TOKEN_BYTES: Final = 32


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def factor_digest(sealed_secret: bytes) -> str:
    """What names one enrolment: the SHA-256 of its sealed secret (new at every start)."""
    return hashlib.sha256(bytes(sealed_secret)).hexdigest()


def new_undo_token(randbelow: Callable[[int], int]) -> str:
    """A link's token: 256 bits from the injected randomness, URL-safe."""
    raw = bytes(randbelow(256) for _ in range(_TOKEN_BYTES))
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def issue_undo(tx: Tx, owner_email: str, token: str, sealed_secret: bytes, now: int) -> None:
    """Store the undo link ``token`` (its SHA-256), in the transaction that turns the factor
    on at ``now``: it undoes that enrolment or a later one. The enrolment's digest is kept
    with it for the record (which change mailed it); it binds nothing."""
    factors.add_undo(tx, _digest(token), owner_email, factor_digest(sealed_secret), now,
                     now + UNDO_TTL_S)


@dataclass(frozen=True, slots=True)
class UndoLink:
    """A live link, as its page shows it (the owner's address masked)."""

    owner_masked: str
    turned_on_at: int
    expires_at: int


class Recovery:
    """The undo link: checked (spending nothing) and spent."""

    def __init__(self, shared: Shared) -> None:
        self._shared = shared

    async def valid(self, token: str) -> UndoLink | None:
        """The link, if it is unused, unexpired and its enrolment still on; else ``None``."""
        return await self._shared.run(self._valid, _digest(token), self._shared.now())

    @staticmethod
    def _live(tx: Tx, digest: str, now: int) -> tuple[str, int, int] | None:
        # a factor on now, turned on at or after the link was issued (that enrolment, or one
        # made since): used, expired, or no such factor (off, or older) undoes nothing
        return factors.undo_of(tx, digest, now)

    def _valid(self, tx: Tx, digest: str, now: int) -> UndoLink | None:
        live = self._live(tx, digest, now)
        return None if live is None else UndoLink(mask_email(live[0]), live[1], live[2])

    async def live_of(self, owner_email: str) -> list[UndoLink]:
        """The owner's links not used nor expired, newest first (the sessions page lists
        them: they speak for the owner too, and only their use or their window ends them)."""
        return await self._shared.run(self._live_of, normalize_email(owner_email),
                                      self._shared.now())

    @staticmethod
    def _live_of(tx: Tx, owner: str, now: int) -> list[UndoLink]:
        return [UndoLink(mask_email(owner), created, expires)
                for created, expires in factors.open_undos(tx, owner, now)]

    async def undo(self, token: str, new_password: str) -> str | None:
        """Spend the link: the owner's factor (enrolled since the link was issued) off, every
        session, half-done sign-in and API sign-in of the owner ended, the owner's reset and
        undo links void, the alerts' webhook removed, the day's enrolments given back,
        ``new_password`` set. The owner's e-mail, or ``None`` for a link used, expired,
        unknown or with no such factor on (nothing changed). ``ValueError`` for a short
        password (the link is not spent).
        """
        problem = short_password(new_password)
        if problem is not None:
            raise InvalidRequest(problem)
        # looked up first: a link made up, used, expired or with no such factor on costs no
        # hash, and is answered alike whichever it is (``resets.Resets.complete``)
        digest = _digest(token)
        live = await self._shared.run(self._live, digest, self._shared.now())
        if live is None:
            return None
        hashed = await self._shared.hashing.hash(new_password, owner=live[0])
        now = self._shared.now()
        email = await self._shared.run(self._undo, digest, hashed, now)
        if email is not None:
            self._shared.notify(email, "second_factor_undone", now)
        return email

    def _undo(self, tx: Tx, digest: str, hashed: str, now: int) -> str | None:
        live = self._live(tx, digest, now)
        if live is None:
            return None
        email = live[0]
        if factors.spend_undo(tx, digest, now) is None:  # another instance, a moment ago
            return None
        factors.forget(tx, email)
        factors.forget_enrolments(tx, email)
        if not owner_rows.set_owner_password(tx, email, hashed):
            return None
        void_recovery_links(tx, email, now)
        end_credentials(tx, email, now, reason="taken_back")
        self._shared.activity.add(tx, email, "second_factor_undone", "", now)
        settings = alerts.settings_of(tx, email)
        if settings.webhook_url:
            # whoever turned the factor on may have pointed the alerts at themselves
            cleared = replace(settings, webhook_url="")
            alerts.save_settings(tx, email, cleared, None, now)
            alerts.drop_secret(tx, email)
            self._shared.activity.add(tx, email, "alerts_changed",
                                      f"webhook removed by the take-back; {cleared.described()}",
                                      now)
        return email


def void_recovery_links(tx: Tx, owner_email: str, now: int) -> None:
    """Void the owner's unused undo and password-reset links (the account was taken back,
    or the operator reset it: no older link may act on it afterwards)."""
    factors.void_undos(tx, owner_email, now)
    resets.void_links(tx, owner_email, now)

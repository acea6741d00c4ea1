"""The owner's second factor: a TOTP secret and recovery codes (``totp.py`` for the maths).

Enrolment is two steps so a typo in the app cannot lock the owner out: :meth:`start` keeps a
new secret *pending* (encrypted under the data key, like a token's ``server_key``) and
:meth:`confirm` turns it on only once a code made from it is typed, answering the ten recovery
codes, shown once and kept as keyed hashes only.

:meth:`check` accepts a code of the step before, at or after now, and spends it: the accepted
step is written as the owner's ``last_step`` by one conditional ``UPDATE`` (``WHERE last_step
< ?``), so the same code, or an older one, is refused by every console instance sharing the
database, even two presenting it at the same moment. A recovery code is spent the same way
(``used_at`` set where it is still null). Throttling the tries is the caller's (the console's
owner throttle, shared with the password's).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from .. import totp
from ..database import Tx
from ..errors import InvalidRequest
from ..tables import factors
from ..tables import owners as owner_rows
from ..tables.signins import end_credentials
from .common import Shared, normalize_email
from .recovery import UNDO_TTL_S, issue_undo, new_undo_token, void_recovery_links

__all__ = ["ENROLMENTS_PER_DAY", "ENROLMENT_WINDOW_S", "Enrolment", "FactorStatus",
           "SecondFactor"]

#: The AEAD purpose under which the secret is sealed (the row's owner is the subject).
_PURPOSE: Final = "mtgw-totp-secret-v1"
#: How often an owner's second factor may be turned on in :data:`ENROLMENT_WINDOW_S`: each
#: time mails a notice (and off another), so whoever holds the password cannot flood the
#: owner's mailbox by turning it off and on; an owner setting up a new phone needs one.
ENROLMENTS_PER_DAY: Final = 3
ENROLMENT_WINDOW_S: Final = 24 * 3600


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A pending secret, as the owner types or imports it (shown on the settings page only)."""

    secret_b32: str
    uri: str


@dataclass(frozen=True, slots=True)
class FactorStatus:
    """Whether the owner has a second factor on, since when, and recovery codes left."""

    enabled: bool
    enabled_at: int | None
    recovery_left: int


class SecondFactor:
    """TOTP and recovery codes, per owner."""

    def __init__(self, shared: Shared, randbelow: Callable[[int], int]) -> None:
        self._shared = shared
        self._store = shared.store
        self._randbelow = randbelow

    # -- reading -----------------------------------------------------------------------------

    async def enrolled(self, email: str) -> bool:
        """Whether ``email`` must give a code to sign in (``False`` for unknown owners)."""
        return (await self.status(email)).enabled

    async def status(self, email: str) -> FactorStatus:
        """The owner's second factor."""
        return await self._shared.run(self._status, normalize_email(email))

    @staticmethod
    def _status(tx: Tx, email: str) -> FactorStatus:
        _, enabled_at = factors.enabled_at(tx, email)
        return FactorStatus(enabled_at is not None, enabled_at, factors.codes_left(tx, email))

    async def pending(self, email: str) -> Enrolment | None:
        """The secret waiting for its first code, or ``None``."""
        return await self._shared.run(self._pending, normalize_email(email))

    def _pending(self, tx: Tx, email: str) -> Enrolment | None:
        sealed = factors.pending_secret(tx, email)
        if sealed is None:
            return None
        key = self._store.open_secret(_PURPOSE, email, sealed)
        return Enrolment(totp.b32_secret(key), totp.otpauth_uri(key, email))

    # -- enrolment ---------------------------------------------------------------------------

    async def start(self, email: str) -> Enrolment:
        """A new pending secret (replacing an earlier pending one); ``ValueError`` when a
        second factor is already on (turn it off first), or it was turned on
        :data:`ENROLMENTS_PER_DAY` times in the last day (the message says until when)."""
        email = normalize_email(email)
        key = totp.new_secret(self._randbelow)
        sealed = self._store.seal_secret(_PURPOSE, email, key)
        await self._shared.run(self._start, email, sealed, self._shared.now())
        return Enrolment(totp.b32_secret(key), totp.otpauth_uri(key, email))

    @staticmethod
    def _start(tx: Tx, email: str, sealed: bytes, now: int) -> None:
        if factors.enabled_at(tx, email)[1] is not None:
            raise InvalidRequest("two-step sign-in is already on")
        recent = factors.enrolled_since(tx, email, now - ENROLMENT_WINDOW_S)
        if len(recent) >= ENROLMENTS_PER_DAY:
            again = recent[-ENROLMENTS_PER_DAY] + ENROLMENT_WINDOW_S
            raise InvalidRequest(f"two-step sign-in was turned on {len(recent)} times in the last "
                             f"24 hours; it can be set up again after "
                                 f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(again))}")
        factors.start(tx, email, sealed, now)

    async def confirm(self, email: str, code: str, *,
                      keep_session: str | None = None) -> list[str] | None:
        """Turn the pending secret on if ``code`` is one of its codes now: the recovery codes
        (shown once), or ``None`` for a wrong code or nothing pending. Every credential made
        without the code ends (``signins.end_credentials``) but the page session
        ``keep_session`` (the key of the one that turned it on). The owner's notice carries
        the link that takes this enrolment back (``recovery.py``) when a console serves
        this authority (its address names the link)."""
        email = normalize_email(email)
        codes = totp.new_recovery_codes(self._randbelow)
        at = self._shared.clock()
        token = new_undo_token(self._randbelow)
        link = self._shared.address.link(f"/recover/{token}")
        done = await self._shared.run(self._confirm, email, code, codes, at,
                                      token if link is not None else None, keep_session)
        if not done:
            return None
        self._shared.notify(email, "second_factor_on", int(at),
                            undo=(link, UNDO_TTL_S // 3600) if link is not None else None)
        return codes

    def _confirm(self, tx: Tx, email: str, code: str, codes: list[str], at: float,
                 undo_token: str | None, keep_session: str | None) -> bool:
        sealed = factors.pending_secret(tx, email)
        if sealed is None:
            return False
        step = totp.match_step(self._store.open_secret(_PURPOSE, email, sealed), code, at)
        if step is None:
            return False
        factors.enable(tx, email, int(at), step)
        factors.note_enrolment(tx, email, int(at), ENROLMENT_WINDOW_S)
        self._replace_codes(tx, email, codes)
        if undo_token is not None:
            issue_undo(tx, email, undo_token, sealed, int(at))
        end_credentials(tx, email, int(at), keep_session, reason="two_step_on")
        self._shared.activity.add(tx, email, "second_factor_on", "", int(at))
        return True

    def _replace_codes(self, tx: Tx, email: str, codes: list[str]) -> None:
        macs = []
        for code in codes:
            plain = totp.normalize_recovery(code)
            assert plain is not None  # noqa: S101 - made by new_recovery_codes
            macs.append(totp.recovery_mac(self._store.pepper, email, plain))
        factors.replace_codes(tx, email, macs)

    async def regenerate(self, email: str) -> list[str]:
        """Ten new recovery codes (the old ones stop working); the caller checked the
        password and a code. ``ValueError`` when no second factor is on."""
        email = normalize_email(email)
        codes = totp.new_recovery_codes(self._randbelow)
        now = self._shared.now()
        await self._shared.run(self._regenerate, email, codes, now)
        self._shared.notify(email, "recovery_codes_new", now)
        return codes

    def _regenerate(self, tx: Tx, email: str, codes: list[str], now: int) -> None:
        if not self._status(tx, email).enabled:
            raise InvalidRequest("two-step sign-in is not on")
        self._replace_codes(tx, email, codes)
        self._shared.activity.add(tx, email, "recovery_codes_new", "", now)

    async def disable(self, email: str, *, keep_session: str | None = None) -> bool:
        """Turn the second factor off (secret and recovery codes deleted); whether it was on.
        The caller checked the password and a code. Every credential made with the code
        ends (``signins.end_credentials``) but the page session ``keep_session``."""
        email, now = normalize_email(email), self._shared.now()
        was = await self._shared.run(self._disable, email, now, keep_session)
        if was:
            self._shared.notify(email, "second_factor_off", now)
        return was

    def _disable(self, tx: Tx, email: str, now: int, keep_session: str | None) -> bool:
        was = self._status(tx, email).enabled
        factors.forget(tx, email)
        if was:
            end_credentials(tx, email, now, keep_session, reason="two_step_off")
            self._shared.activity.add(tx, email, "second_factor_off", "", now)
        return was

    async def reset_by_operator(self, email: str) -> asyncio.Task[bool] | None:
        """The operator turns the owner's second factor off (``mtgateway owner reset-2fa``:
        the phone and the recovery codes are lost): secret and codes deleted, every session,
        half-done sign-in and API sign-in ended, the owner's undo and reset links void, the
        day's enrolments given back (the owner sets up their own at once), the activity
        noted and the owner mailed. The mail's delivery (whether it went out), or ``None``
        when no factor was on (nothing changed). ``ValueError`` for an address no owner
        has."""
        email, now = normalize_email(email), self._shared.now()
        if not await self._shared.run(self._reset_by_operator, email, now):
            return None
        return self._shared.notify(email, "second_factor_reset", now)

    def _reset_by_operator(self, tx: Tx, email: str, now: int) -> bool:
        if owner_rows.owner_password_hash(tx, email) is None:
            raise InvalidRequest(f"no owner has the address {email}")
        if not self._status(tx, email).enabled:
            return False
        factors.forget(tx, email)
        void_recovery_links(tx, email, now)
        factors.forget_enrolments(tx, email)
        end_credentials(tx, email, now, reason="two_step_reset")
        self._shared.activity.add(tx, email, "second_factor_reset", "", now)
        return True

    # -- checking ----------------------------------------------------------------------------

    async def check(self, email: str, code: str) -> bool:
        """Whether ``code`` (six digits from the app, or an unused recovery code) is good for
        the owner now; a good one is spent in the same transaction."""
        return await self._shared.run(self._check, normalize_email(email), code,
                                      self._shared.clock())

    def _check(self, tx: Tx, email: str, code: str, at: float) -> bool:
        sealed = factors.secret(tx, email)
        if sealed is None:
            return False
        if totp.normalize_code(code) is not None:
            step = totp.match_step(self._store.open_secret(_PURPOSE, email, sealed), code, at)
            return step is not None and factors.spend_step(tx, email, step)
        plain = totp.normalize_recovery(code)
        if plain is None or not factors.spend_code(
                tx, email, totp.recovery_mac(self._store.pepper, email, plain), int(at)):
            return False
        self._shared.activity.add(tx, email, "recovery_code_used", "", int(at))
        return True

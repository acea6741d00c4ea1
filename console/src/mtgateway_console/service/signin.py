"""The one rule by which every door checks an owner's credentials.

The sign-in page, its code step, a password asked again inside a signed-in session, the owner
API's Basic credentials (the CLI) and any later door all call :class:`OwnerSignIn`, so they
share one throttle (``mtgateway_base.throttle``: unvouched checks one at a time, a delay per
failure, a lockout after a burst) and one rule for the second factor:

* **An owner without a second factor** is checked by password, and a password that succeeded
  is *vouched*: it keeps working during a lockout, so guessers cannot lock the owner out of
  what already works.
* **An owner with a second factor** is never vouched, neither by a right password alone nor
  after password and code both succeeded: the vouched key could only be made of what the
  request carries, and a thief who has the password carries the same. So every check of such
  an owner (the password with a code, the password alone before the code step, a code alone
  on the page's code step) waits its turn behind the failures still paying their delay, each
  failure counts towards the lockout, and during a lockout nothing is checked at all: a right
  code or recovery code is answered as a wrong one would be (429, after the same delay) and
  is not spent. The second factor adds no allowance of guesses to the password's.

The owner's own bots and CLI with a second factor therefore wait out a lockout like anyone
else; that is the price of a factor that cannot be guessed through it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from mtgateway_base.throttle import AuthThrottle
from mtgateway_base.wire.errors import AuthorityError

from .common import normalize_email

if TYPE_CHECKING:
    from . import Authority

__all__ = ["MESSAGES", "Checked", "OwnerSignIn", "Refusal", "SignInRefused"]

#: Why credentials were refused (the owner API's ``reason`` words).
Refusal = Literal["bad_credentials", "second_factor_required", "bad_second_factor"]

#: The messages of the refusals, for every door that shows one.
MESSAGES: Final[dict[str, str]] = {
    "bad_credentials": "wrong e-mail or password",
    "second_factor_required": "this owner has two-step sign-in on: the code from the "
                              "authenticator app (or a recovery code) is needed too",
    "bad_second_factor": "the second-factor code is wrong or was already used; wait for the "
                         "next one",
}


class SignInRefused(AuthorityError):
    """The credentials were refused; ``reason`` says how (``bad_credentials``,
    ``second_factor_required``, ``bad_second_factor``). Ask the person again; a lockout is the
    throttle's ``RateLimited`` instead."""

    def __init__(self, reason: Refusal) -> None:
        super().__init__(MESSAGES[reason])
        self.reason: Refusal = reason


@dataclass(frozen=True, slots=True)
class Checked:
    """Credentials that succeeded: the owner, and whether the code is still to be asked (the
    sign-in page's second step; only when the caller allowed it)."""

    owner: str
    needs_code: bool = False


class _Wrong(Exception):
    """A wrong password or code (inside the throttle's check only: counted and delayed)."""

    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason)
        self.reason: Refusal = reason


class _CodeMissing(Exception):
    """The password was right but no code came: not a guess, so not counted."""


class _TurnedOn(Exception):
    """The owner turned the second factor on while a password-only check ran."""


class OwnerSignIn:
    """The owner credential rule (module docstring), over one throttle.

    Args:
        throttle: the console's owner throttle (its ledger may be shared by instances).
        authority: returns the running authority (it opens at start-up).
        vouch_key: keys the throttle's memory of credentials (never the password itself).
    """

    def __init__(self, throttle: AuthThrottle, authority: Callable[[], Authority],
                 vouch_key: bytes) -> None:
        self.throttle = throttle
        self._authority = authority
        self._vouch_key = vouch_key

    def _key(self, *parts: str) -> str:
        return hmac.new(self._vouch_key, "\0".join(parts).encode("utf-8", "replace"),
                        hashlib.sha256).hexdigest()

    async def credentials(self, email: str, password: str, code: str | None = None, *,
                          code_later: bool = False) -> Checked:
        """Check an owner's e-mail and password, and the second factor's ``code`` when the
        owner has one. With ``code_later`` (the sign-in page's first step) a right password
        of such an owner without a code answers ``needs_code`` instead of refusing; nothing
        is vouched by it.

        Raises:
            SignInRefused: wrong credentials, or the code is missing or wrong.
            RateLimited: a lockout is on and these credentials may not be checked now.
        """
        if await self._authority().second_factor.enrolled(email):
            return await self._with_factor(email, password, code, code_later)
        rooms = self._authority()
        present = bool(email and password)

        async def verify() -> Checked:
            # scrypt runs even without credentials, so every refusal costs the same time.
            if not (await rooms.owners.check(email, password) and present):
                raise _Wrong("bad_credentials")
            if await rooms.second_factor.enrolled(email):
                raise _TurnedOn
            return Checked(normalize_email(email))

        try:
            return await self.throttle.check(self._key("password", email, password), verify,
                                             _Wrong)
        except _TurnedOn:
            return await self._with_factor(email, password, code, code_later)
        except _Wrong as wrong:
            raise SignInRefused(wrong.reason) from None

    async def _with_factor(self, email: str, password: str, code: str | None,
                           code_later: bool) -> Checked:
        rooms = self._authority()

        async def verify() -> Checked:
            if not (await rooms.owners.check(email, password) and email and password):
                raise _Wrong("bad_credentials")
            if not code:
                if code_later:
                    return Checked(normalize_email(email), needs_code=True)
                raise _CodeMissing
            if not await rooms.second_factor.check(email, code):
                raise _Wrong("bad_second_factor")
            return Checked(normalize_email(email))

        # Never vouched: this key is checked in its turn every time, and not during a lockout.
        try:
            return await self.throttle.check(self._key("factor", email, password), verify,
                                             _Wrong, vouch=False)
        except _CodeMissing:
            raise SignInRefused("second_factor_required") from None
        except _Wrong as wrong:
            raise SignInRefused(wrong.reason) from None

    async def code(self, email: str, code: str) -> bool:
        """Whether ``code`` (from the app, or a recovery code) is good for the owner now, and
        spent if so: the sign-in page's second step, whose password was checked by
        :meth:`credentials`, and a signed-in owner confirming a change to the factor. Never
        vouched: each code waits its turn and none is checked during a lockout.

        Raises:
            RateLimited: a lockout is on.
        """
        rooms = self._authority()

        async def verify() -> bool:
            if not await rooms.second_factor.check(email, code):
                raise _Wrong("bad_second_factor")
            return True

        try:
            return await self.throttle.check(self._key("code", email, code), verify, _Wrong,
                                             vouch=False)
        except _Wrong:
            return False

    async def password(self, email: str, password: str) -> bool:
        """Whether ``password`` is the owner's (a signed-in owner confirming an action: the
        session stands for the second factor), through the same rule as a sign-in.

        Raises:
            RateLimited: a lockout is on and this password may not be checked now.
        """
        try:
            await self.credentials(email, password, code_later=True)
        except SignInRefused:
            return False
        return True

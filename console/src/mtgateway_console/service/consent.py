"""What lets a bot do more asks for the owner's password: the rule, written once, for every
door.

A change loosens when, once made, a bot may do at the broker what it could not before: a
higher lot cap or risk fraction, automated trading switched on, paper trading switched off,
a symbol list that admits more, a halt lifted (``accounts.loosened`` says it in words for a
policy). A credential that speaks for the owner (a page session, a console-API token) may
tighten anything on its own, and may loosen only with the owner's password given again:
cookies reach any local process the browser is sent to, and a token is a bearer.

The rooms that change what a bot may do (``accounts.py``, ``groups.py``, ``halts.py``) write
each change as one transaction function that is told whether the password was confirmed, and
raises :class:`PasswordNeeded` naming what it would loosen when it was not. It decides on the
rows it is about to write, so a change made by another request in between is judged too.
:meth:`Consent.run` runs it; when it asks, the password (if one came) is checked by the
console's one owner rule (``OwnerSignIn.password``: the sign-in throttle, so a confirmation
adds no allowance of guesses) and the function runs again, confirmed. A change that loosens
nothing never has its password looked at, as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Concatenate, ParamSpec, TypeVar

from mtgateway_base.throttle import RateLimited
from mtgateway_base.wire.errors import AuthorityError

from ..database import Tx
from .common import Shared, normalize_email

__all__ = ["Consent", "PasswordCheck", "PasswordNeeded"]

P = ParamSpec("P")
T = TypeVar("T")

#: How a password given to confirm a change is checked: ``(owner, password) -> right?``; the
#: console passes its owner rule (``OwnerSignIn.password``), which raises ``RateLimited``
#: during a lockout.
PasswordCheck = Callable[[str, str], Awaitable[bool]]


class PasswordNeeded(AuthorityError):
    """The change lets a bot do more (``words``: what, one phrase each) and the owner's right
    password did not come with it; nothing was changed. Ask for the password and send the
    change again. ``wrong``: a password came and was wrong (noted in the owner's activity);
    ``retry_after_s``: the sign-in lockout is on, so none was checked (wait that long)."""

    def __init__(self, words: Sequence[str], *, wrong: bool = False,
                 retry_after_s: float | None = None) -> None:
        self.words = list(words)
        self.wrong = wrong
        self.retry_after_s = retry_after_s
        super().__init__(f"the owner's password is needed to {'; '.join(self.words)}")


class Consent:
    """Runs a change that may loosen, asking for the password only when it does."""

    def __init__(self, shared: Shared, check: PasswordCheck) -> None:
        self._shared = shared
        self._check = check

    async def run(self, owner_email: str, password: str | None,
                  fn: Callable[Concatenate[Tx, bool, P], T], *args: P.args,
                  **kwargs: P.kwargs) -> T:
        """``fn(tx, confirmed, *args)`` as one transaction: first unconfirmed; if it raises
        :class:`PasswordNeeded`, again confirmed once ``password`` proves right.

        Raises:
            PasswordNeeded: the change loosens and no password came, a wrong one came
                (``wrong``), or the lockout is on (``retry_after_s``).
        """
        try:
            return await self._shared.run(fn, False, *args, **kwargs)
        except PasswordNeeded as needed:
            if not password:
                raise
            words = needed.words
        try:
            right = await self._check(normalize_email(owner_email), password)
        except RateLimited as exc:
            raise PasswordNeeded(words, retry_after_s=exc.retry_after_s) from None
        if not right:
            await self._shared.run(self._shared.activity.add, normalize_email(owner_email),
                                   "login_failed", "wrong password when confirming a change",
                                   self._shared.now())
            raise PasswordNeeded(words, wrong=True)
        return await self._shared.run(fn, True, *args, **kwargs)

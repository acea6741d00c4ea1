"""The console API's one way to the console's owner check: the sign-in.

It is not written here: it calls :class:`~..service.signin.OwnerSignIn`, the rule the sign-in
page, its code step and the owner API's Basic auth call too, so they share its throttle (one
allowance of guesses for every door, wrong codes counted with wrong passwords, a lockout during
which nothing is checked) and its second-factor rule (an owner with a factor is never vouched:
password and code are checked together, in their turn, every time), and follow it when it
changes. This module only turns its outcomes into the API's answers (401 with the reason word,
429 with the wait). The password asked again before a change that loosens a policy is the
service's (``service/consent.py``, through the same rule).
"""

from __future__ import annotations

import math

from aiohttp import web

from ...base.throttle import RateLimited
from ..appkeys import OWNER_SIGN_IN
from ..service.signin import MESSAGES, SignInRefused
from .door import ApiFail

__all__ = ["check_credentials"]

_WAIT = "too many failed sign-ins; wait"
#: The API's wording where it asks for the code by its field name.
_OTP_MISSING = ("this owner has two-step sign-in on: send the code from the authenticator app "
                "(or a recovery code) as otp")


def _locked(exc: RateLimited) -> ApiFail:
    return ApiFail(429, "rate_limited", _WAIT, retry_after_s=max(1, math.ceil(exc.retry_after_s)))


async def check_credentials(app: web.Application, email: str, password: str,
                            code: str) -> str:
    """The owner's e-mail for a right password and, when the owner has two-step sign-in on,
    a right ``code`` (a recovery code too).

    Raises:
        ApiFail: 401 ``bad_credentials``, ``second_factor_required`` or
            ``bad_second_factor``; 429 ``rate_limited`` during a lockout.
    """
    try:
        checked = await app[OWNER_SIGN_IN].credentials(email, password, code or None)
    except RateLimited as exc:
        raise _locked(exc) from None
    except SignInRefused as refused:
        message = _OTP_MISSING if refused.reason == "second_factor_required" \
            else MESSAGES[refused.reason]
        raise ApiFail(401, refused.reason, message) from None
    return checked.owner

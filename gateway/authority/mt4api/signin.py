"""The console API's one way to the console's owner check: the sign-in and the password asked
again before a change that loosens a policy.

Neither is written here: both call the check the sign-in page and the owner API's Basic auth
call (``routes/common.py``), so they share its throttle (one allowance of guesses for every
door, wrong codes counted with wrong passwords, a lockout during which nothing is checked)
and its second-factor rule, and follow it when it changes. This module only turns its
outcomes into the API's answers (401 with the reason word, 429 with the wait).
"""

from __future__ import annotations

import math

from aiohttp import web

from ...base.throttle import RateLimited
from ..routes.common import _CodeMissing as CodeMissing
from ..routes.common import _owner_check, _WrongCode, _WrongOwner, page_sign_in
from .door import ApiFail

__all__ = ["check_credentials", "check_password"]

_WAIT = "too many failed sign-ins; wait"


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
        return await _owner_check(app, email, password, code=code or None,
                                  second_factor=True)
    except RateLimited as exc:
        raise _locked(exc) from None
    except CodeMissing:
        raise ApiFail(401, "second_factor_required", "this owner has two-step sign-in on: "
                      "send the code from the authenticator app (or a recovery code) as "
                      "otp") from None
    except _WrongCode:
        raise ApiFail(401, "bad_second_factor", "the second-factor code is wrong or was "
                      "already used; wait for the next one") from None
    except _WrongOwner:
        raise ApiFail(401, "bad_credentials", "wrong e-mail or password") from None


async def check_password(app: web.Application, email: str, password: str) -> bool:
    """Whether ``password`` is the signed-in owner's (the page's re-authentication).

    Raises:
        ApiFail: 429 ``rate_limited`` during a lockout.
    """
    try:
        return await page_sign_in(app)(email, password) is not None
    except RateLimited as exc:
        raise _locked(exc) from None

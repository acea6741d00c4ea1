"""Getting in and out: sign-in (``/login``), its code step (``/login/code``), sign-out
(``/logout``) and the forgotten password (``/forgot``, ``/reset/{token}``).

- **Sign-in** checks the e-mail and password by the one rule every door shares
  (``service/signin.py``: one throttle with the API's Basic credentials, so the form adds no
  second allowance of guesses; a lockout answers 429 with ``Retry-After``). A right password
  opens a session, unless the owner has two-step sign-in on.
- **The code step**: then the browser gets a step cookie, not a session. The step lives in
  the database (``signins.StoredSteps``: any instance may finish it), is bound to that
  browser (only the cookie's SHA-256 is stored), expires after ``sessions.STEP_S`` and allows
  ``sessions.STEP_TRIES`` wrong codes; every code tried goes through the owner throttle with
  the passwords (never vouched, nothing checked during a lockout).
- **Forgot password**: one answer for every address (no enumeration); the link is checked on
  opening and spent only by setting the password (``service/resets.py``), which ends every
  session of the owner.

Every attempt, right or wrong, is an activity entry naming the address it came from.
"""

from __future__ import annotations

import logging
from typing import Final

from aiohttp import web

from mtgateway_base.fairshare import address_key
from mtgateway_base.throttle import RateLimited

from .. import totp
from ..door import retry_after
from ..service.resets import TTL_S, AskedTooOften
from ..service.signin import SignInRefused
from .forms import parse_new_password
from .kit import STALE_SIGN_IN_FORM, Page, Visit, before_sign_in, signed_in
from .security import PRE_COOKIE, SESSION_COOKIE, STEP_COOKIE, clear_cookie, set_cookie
from .sessions import SignInSteps, browser_of

__all__ = ["STEPS", "recovery_code_used", "routes"]

log = logging.getLogger(__name__)

#: The half-done sign-ins (set by ``mount_pages``).
STEPS: Final = web.AppKey("signin_steps", SignInSteps)

routes = web.RouteTableDef()


async def _open_session(visit: Visit, owner: str, how: str, notice: str = ""
                        ) -> web.HTTPSeeOther:
    """The owner is in: a session, its cookie, the activity entry, and the way home (where
    ``notice`` is shown once)."""
    sessions = visit.kit.sessions
    session_id, session = await sessions.create(owner, **browser_of(visit.request))
    if notice:
        await sessions.set_notice(session, notice)
    await visit.authority.owners.note_sign_in(owner, True, how)
    redirect = web.HTTPSeeOther("/")
    set_cookie(visit.request, redirect, SESSION_COOKIE, session_id)
    clear_cookie(visit.request, redirect, PRE_COOKIE)
    return redirect


def recovery_code_used(left: int) -> str:
    """What the dashboard says after a sign-in with a recovery code: how many are left, and
    what to do when the phone is lost (a recovery code is the way in without it)."""
    codes = f"{left} recovery code{'s' if left != 1 else ''} left" if left else \
        "no recovery code left: make new ones in Settings now"
    return (f"You signed in with a recovery code ({codes}; each works once). Lost your phone? "
            "In Settings, turn two-step sign-in off (your password and another recovery "
            "code), then set it up again with the new phone: ten new recovery codes come "
            "with it.")


def _where(visit: Visit) -> str:
    return f"from {visit.request.remote or 'unknown'}"


@routes.get("/login")
@before_sign_in()
async def login_form(visit: Visit) -> web.StreamResponse:
    """The sign-in form (home, for a browser already signed in)."""
    if await visit.kit.session(visit.request) is not None:
        raise web.HTTPSeeOther("/")
    return visit.sign_in_page()


@routes.post("/login")
@before_sign_in(STALE_SIGN_IN_FORM)
async def login(visit: Visit) -> web.StreamResponse:
    """The e-mail and password: a session, the code step, or the form again."""
    email, password = visit.form.get("email", ""), visit.form.get("password", "")
    email = email.strip() if isinstance(email, str) else ""
    password = password if isinstance(password, str) else ""
    try:
        checked = await visit.kit.sign_in.credentials(email, password, code_later=True)
    except SignInRefused:
        checked = None
    except RateLimited as exc:
        wait = retry_after(exc.retry_after_s)
        response = visit.sign_in_page(email=email, status=429, error=f"Too many failed "
                                      f"sign-ins. Wait {wait} s and try again.")
        response.headers["Retry-After"] = str(wait)
        return response
    if checked is None:
        if email:
            await visit.authority.owners.note_sign_in(email, False, _where(visit))
        return visit.sign_in_page(email=email, error="Wrong e-mail or password.", status=401)
    if checked.needs_code:
        step_id = await visit.request.app[STEPS].create(checked.owner)
        redirect = web.HTTPSeeOther("/login/code")
        set_cookie(visit.request, redirect, STEP_COOKIE, step_id,
                   max_age=int(visit.request.app[STEPS].ttl_s))
        raise redirect
    raise await _open_session(visit, checked.owner, _where(visit))


@routes.post("/logout")
@signed_in
async def logout(page: Page) -> web.StreamResponse:
    """Sign out: the session ends, its cookie is cleared."""
    await page.authority.owners.note_sign_out(page.owner)
    await page.kit.sessions.end(page.request.cookies.get(SESSION_COOKIE))
    response = web.HTTPSeeOther("/login")
    clear_cookie(page.request, response, SESSION_COOKIE)
    raise response


def _restart(visit: Visit, why: str) -> web.Response:
    """Back to the password: the step is over."""
    response = visit.sign_in_page(error=why, status=401)
    clear_cookie(visit.request, response, STEP_COOKIE)
    return response


@routes.get("/login/code")
@before_sign_in()
async def code_form(visit: Visit) -> web.StreamResponse:
    """The code form, while the browser's step lives."""
    if await visit.request.app[STEPS].owner(visit.request.cookies.get(STEP_COOKIE)) is None:
        raise web.HTTPSeeOther("/login")
    return visit.show("login_code.html", error="")


@routes.post("/login/code")
@before_sign_in(STALE_SIGN_IN_FORM)
async def code(visit: Visit) -> web.StreamResponse:
    """The code (or a recovery code) finishes the sign-in."""
    steps = visit.request.app[STEPS]
    step_id = visit.request.cookies.get(STEP_COOKIE)
    owner = await steps.owner(step_id)
    if owner is None or step_id is None:
        return _restart(visit, "Your sign-in took too long or was ended. Enter your password "
                        "again.")
    typed = visit.form.get("code")
    typed = typed.strip() if isinstance(typed, str) else ""
    try:
        good = bool(typed) and await visit.kit.sign_in.code(owner, typed)
    except RateLimited as exc:
        wait = retry_after(exc.retry_after_s)
        response = visit.show("login_code.html", status=429, error=f"Too many failed "
                              f"sign-ins. Wait {wait} s and try again.")
        response.headers["Retry-After"] = str(wait)
        return response
    if not good:
        await visit.authority.owners.note_sign_in(owner, False,
                                                  f"wrong second-factor code {_where(visit)}")
        left = await steps.wrong_code(step_id)
        if left <= 0:
            return _restart(visit, "Too many wrong codes. Enter your password again.")
        return visit.show("login_code.html", status=401, error=f"Wrong code, or one already "
                          f"used. {left} {'try' if left == 1 else 'tries'} left.")
    await steps.end(step_id)
    notice = ""
    if totp.normalize_code(typed) is None:  # not the app's six digits: a recovery code
        left = (await visit.authority.second_factor.status(owner)).recovery_left
        notice = recovery_code_used(left)
    redirect = await _open_session(visit, owner, f"{_where(visit)}, with a second-factor code",
                                   notice)
    clear_cookie(visit.request, redirect, STEP_COOKIE)
    raise redirect


@routes.get("/forgot")
@before_sign_in()
async def forgot_form(visit: Visit) -> web.StreamResponse:
    """The form that asks for a reset link."""
    return visit.show("forgot.html", sent=False, error="")


@routes.post("/forgot")
@before_sign_in()
async def forgot(visit: Visit) -> web.StreamResponse:
    """A reset link by e-mail: the same answer for every address (no enumeration)."""
    email = visit.form.get("email")
    if not isinstance(email, str) or "@" not in email:
        return visit.show("forgot.html", status=400, sent=False,
                          error="Enter the e-mail address you sign in with.")
    # The link names the console's own address, never this request's Host: the Host rule
    # admits every loopback port, and one of them may be another local user's. The ask is
    # counted as its caller's address as the door names it: behind a proxy in
    # [console] trusted_proxies, the client the proxy named (door/entry.py proxied_client),
    # never the proxy's, which every client through it shares.
    try:
        await visit.authority.resets.request(
            email, client=address_key(visit.request.remote or "?"))
    except AskedTooOften as exc:  # each ask is a row kept an hour: one address's are bounded
        wait = retry_after(exc.retry_after_s)
        response = visit.show("forgot.html", status=429, sent=False, error=(
            f"Too many reset links asked from this address. Try again in "
            f"{max(1, wait // 60)} min."))
        response.headers["Retry-After"] = str(wait)
        return response
    return visit.show("forgot.html", sent=True, minutes=TTL_S // 60, error="")


@routes.get("/reset/{token}")
@before_sign_in()
async def reset_form(visit: Visit) -> web.StreamResponse:
    """The new-password form while the link works (opening it spends nothing)."""
    token = visit.request.match_info["token"]
    if not await visit.authority.resets.valid(token):
        return visit.show("reset.html", status=410, gone=True, token="", errors={})
    return visit.show("reset.html", gone=False, token=token, errors={})


@routes.post("/reset/{token}")
@before_sign_in()
async def reset(visit: Visit) -> web.StreamResponse:
    """Set the password: the link is spent, every session of the owner ends."""
    token = visit.request.match_info["token"]
    new, errors = parse_new_password(visit.form)
    if new is None:
        gone = not await visit.authority.resets.valid(token)
        return visit.show("reset.html", status=410 if gone else 400, gone=gone, token=token,
                          errors=errors.fields)
    owner = await visit.authority.resets.complete(token, new)
    if owner is None:
        return visit.show("reset.html", status=410, gone=True, token="", errors={})
    visit.kit.sessions.ended_with_owner(owner)
    log.info("console: an owner set a new password by a reset link; their sessions ended")
    response = visit.sign_in_page(email=owner, notice="Password set. Sign in with it.")
    clear_cookie(visit.request, response, SESSION_COOKIE)
    clear_cookie(visit.request, response, STEP_COOKIE)
    return response

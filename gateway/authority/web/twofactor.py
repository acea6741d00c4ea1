"""The pages of the second factor and of password reset (``docs/console.md``).

- **The code step of sign-in** (``/login/code``): after a right password an owner with
  two-step sign-in on gets a step cookie, not a session. The step lives in the database
  (``signins.StoredSteps``, any instance may finish it), is bound to that browser (only the
  cookie's SHA-256 is stored), expires after ``sessions.STEP_S`` and allows
  ``sessions.STEP_TRIES`` wrong codes; every code tried goes through the owner throttle with
  the passwords, by the one rule every door shares (``service/signin.py``: never vouched,
  nothing checked during a lockout), so the two add no second allowance.
- **Settings** (``/settings/2fa/...``): set up with the password, turned on by a first code,
  recovery codes shown once; new codes or turning off take the password and a code.
- **Forgot password** (``/forgot``, ``/reset/{token}``): one answer for every address; the
  link is checked on opening and spent only by setting the password (``service/resets.py``).

These handlers use the pages' plumbing (:class:`~.pages.Pages`: rendering, sessions, CSRF,
the password re-check) rather than copying it.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import segno
from aiohttp import web
from markupsafe import Markup

from ...base.throttle import RateLimited
from ..service import Authority
from ..service.resets import TTL_S
from ..service.signin import OwnerSignIn
from .alertview import alerts_view
from .forms import FormErrors, parse_new_password
from .pages import REAUTH_FIELD, Pages
from .security import PRE_COOKIE, SESSION_COOKIE, clear_cookie, csrf_ok, set_cookie
from .sessions import Session, SignInSteps, browser_of

__all__ = ["STEP_COOKIE", "FactorPages", "qr_svg"]

log = logging.getLogger("gateway.authority.web")

#: The half-signed-in browser's cookie (password right, code not yet given).
STEP_COOKIE = "mtgw_signin_step"

_PRE_TOKEN_BYTES = 32


def qr_svg(uri: str) -> Markup:
    """``uri`` as a QR code in inline SVG (drawn here: no script, nothing fetched; the
    page's CSP allows it as it allows the page's own markup). Safe to put in the page
    unescaped: segno writes only its own elements, the URI is in the modules, not the text."""
    return Markup(segno.make(uri, error="m").svg_inline(scale=4, border=4, dark="#000",
                                                         light="#fff"))


def _wait(exc: RateLimited) -> int:
    return max(1, math.ceil(exc.retry_after_s))


class FactorPages:
    """The code step, the settings' two-step section and the password reset pages."""

    def __init__(self, pages: Pages, steps: SignInSteps, sign_in: OwnerSignIn) -> None:
        self._pages = pages
        self.steps = steps
        self._code_check = sign_in.code

    def _authority(self) -> Authority:
        return self._pages._authority()

    def _pre_page(self, request: web.Request, name: str, status: int = 200,
                  **context: Any) -> web.Response:
        """A page before sign-in, with the double-submit CSRF cookie its form carries."""
        pre = self._pages._token(_PRE_TOKEN_BYTES)
        response = self._pages._render(name, status=status, session=None, csrf=pre, **context)
        set_cookie(request, response, PRE_COOKIE, pre, max_age=3600)
        return response

    async def _pre_form(self, request: web.Request) -> dict[str, Any] | None:
        """The posted form, or ``None`` when its CSRF token does not match the cookie."""
        data = await request.post()
        form = {k: data.get(k) for k in data}
        return form if csrf_ok(request.cookies.get(PRE_COOKIE), form.get("csrf")) else None

    # -- sign-in's code step -----------------------------------------------------------------

    async def begin(self, request: web.Request, owner: str) -> web.HTTPSeeOther:
        """After a right password, for an owner with two-step sign-in: the step cookie and
        the redirect to the code form."""
        step_id = await self.steps.create(owner)
        redirect = web.HTTPSeeOther("/login/code")
        set_cookie(request, redirect, STEP_COOKIE, step_id, max_age=int(self.steps.ttl_s))
        return redirect

    async def code_form(self, request: web.Request) -> web.StreamResponse:
        """``GET /login/code``."""
        if await self.steps.owner(request.cookies.get(STEP_COOKIE)) is None:
            raise web.HTTPSeeOther("/login")
        return self._pre_page(request, "login_code.html", error="")

    async def code(self, request: web.Request) -> web.StreamResponse:
        """``POST /login/code``: the code (or a recovery code) finishes the sign-in."""
        form = await self._pre_form(request)
        if form is None:
            return self._pages._forbidden("The sign-in form's security token is missing or "
                                          "out of date. Reload the page and try again.")
        step_id = request.cookies.get(STEP_COOKIE)
        owner = await self.steps.owner(step_id)
        if owner is None or step_id is None:
            return self._restart(request, "Your sign-in took too long or was ended. Enter "
                                 "your password again.")
        code = form.get("code")
        code = code.strip() if isinstance(code, str) else ""
        try:
            good = bool(code) and await self._code_check(owner, code)
        except RateLimited as exc:
            response = self._pre_page(request, "login_code.html", status=429,
                                      error=f"Too many failed sign-ins. Wait {_wait(exc)} s "
                                      "and try again.")
            response.headers["Retry-After"] = str(_wait(exc))
            return response
        authority = self._authority()
        where = f"from {request.remote or 'unknown'}"
        if not good:
            await authority.owners.note_sign_in(owner, False, f"wrong second-factor code {where}")
            left = await self.steps.wrong_code(step_id)
            if left <= 0:
                return self._restart(request, "Too many wrong codes. Enter your password "
                                     "again.", status=401)
            return self._pre_page(request, "login_code.html", status=401,
                                  error=f"Wrong code, or one already used. {left} "
                                  f"{'try' if left == 1 else 'tries'} left.")
        await self.steps.end(step_id)
        session_id, _ = await self._pages.sessions.create(owner, **browser_of(request))
        await authority.owners.note_sign_in(owner, True, f"{where}, with a second-factor code")
        redirect = web.HTTPSeeOther("/")
        set_cookie(request, redirect, SESSION_COOKIE, session_id)
        clear_cookie(request, redirect, STEP_COOKIE)
        clear_cookie(request, redirect, PRE_COOKIE)
        raise redirect

    def _restart(self, request: web.Request, why: str, status: int = 401) -> web.Response:
        response = self._pages._login_page(request, "", why, status=status)
        clear_cookie(request, response, STEP_COOKIE)
        return response

    # -- settings ----------------------------------------------------------------------------

    async def settings_context(self, session: Session) -> dict[str, Any]:
        """What the settings page's two-step section needs."""
        factor = self._authority().second_factor
        status = await factor.status(session.owner_email)
        enrolment = None if status.enabled else await factor.pending(session.owner_email)
        return {"factor": status, "enrolment": enrolment, "recovery_codes": [],
                "factor_errors": {},
                "enrolment_qr": qr_svg(enrolment.uri) if enrolment is not None else ""}

    async def _settings(self, session: Session, status: int = 200, *,
                        codes: list[str] | None = None, form: str = "",
                        errors: FormErrors | None = None) -> web.Response:
        context = await self.settings_context(session)
        context["recovery_codes"] = codes or []
        if errors:
            context["factor_errors"] = {form: errors.fields}
        # the page's other section, so an answer here shows the whole settings page
        context.update(await alerts_view(self._authority(), session.owner_email))
        return await self._pages._page("settings.html", session, "settings", status=status,
                                       errors={}, **context)

    async def _password_and_code(self, session: Session,
                                 form: dict[str, Any]) -> FormErrors:
        """The errors of a form that must carry the password and a current code."""
        errors = FormErrors()
        refused = await self._pages._reauth(session, form)
        if refused is not None:
            errors.add(REAUTH_FIELD, refused)
            return errors
        code = form.get("code")
        if not isinstance(code, str) or not code.strip():
            errors.add("code", "Enter the code from your app.")
            return errors
        try:
            if not await self._code_check(session.owner_email, code.strip()):
                errors.add("code", "Wrong code, or one already used; wait for the next one.")
        except RateLimited as exc:
            errors.add("code", f"Too many failed sign-ins. Wait {_wait(exc)} s.")
        return errors

    async def start(self, request: web.Request) -> web.StreamResponse:
        """``POST /settings/2fa/start``: a new secret, shown with the form for its first code."""
        got = await self._pages._signed_in(request, post=True)
        if isinstance(got, web.Response):
            return got
        session, form = got
        refused = await self._pages._reauth(session, form)
        if refused is not None:
            errors = FormErrors()
            errors.add(REAUTH_FIELD, refused)
            return await self._settings(session, 401, form="start", errors=errors)
        try:
            await self._authority().second_factor.start(session.owner_email)
        except ValueError as exc:
            raise await self._pages._done(session, f"{exc}.", "/settings") from None
        return await self._settings(session)

    async def confirm(self, request: web.Request) -> web.StreamResponse:
        """``POST /settings/2fa/confirm``: the first code turns it on; the recovery codes are
        in the answer, once."""
        got = await self._pages._signed_in(request, post=True)
        if isinstance(got, web.Response):
            return got
        session, form = got
        code = form.get("code")
        codes = (await self._authority().second_factor.confirm(session.owner_email, code)
                 if isinstance(code, str) and code.strip() else None)
        if codes is None:
            errors = FormErrors()
            errors.add("code", "That is not the app's current code for this key. Check the "
                       "key in the app and type the code it shows now.")
            return await self._settings(session, 400, form="confirm", errors=errors)
        log.info("console: an owner turned two-step sign-in on")
        session.notice = "Two-step sign-in is on: signing in now asks for the code from your app."
        return await self._settings(session, codes=codes)

    async def new_codes(self, request: web.Request) -> web.StreamResponse:
        """``POST /settings/2fa/codes``: ten new recovery codes (password and code)."""
        got = await self._pages._signed_in(request, post=True)
        if isinstance(got, web.Response):
            return got
        session, form = got
        errors = await self._password_and_code(session, form)
        if errors:
            return await self._settings(session, 401, form="codes", errors=errors)
        codes = await self._authority().second_factor.regenerate(session.owner_email)
        return await self._settings(session, codes=codes)

    async def disable(self, request: web.Request) -> web.StreamResponse:
        """``POST /settings/2fa/disable``: off (password and code)."""
        got = await self._pages._signed_in(request, post=True)
        if isinstance(got, web.Response):
            return got
        session, form = got
        errors = await self._password_and_code(session, form)
        if errors:
            return await self._settings(session, 401, form="disable", errors=errors)
        await self._authority().second_factor.disable(session.owner_email)
        log.info("console: an owner turned two-step sign-in off")
        raise await self._pages._done(session, "Two-step sign-in is off.", "/settings")

    # -- password reset ----------------------------------------------------------------------

    async def forgot_form(self, request: web.Request) -> web.StreamResponse:
        """``GET /forgot``."""
        return self._pre_page(request, "forgot.html", sent=False, error="")

    async def forgot(self, request: web.Request) -> web.StreamResponse:
        """``POST /forgot``: the same answer for every address (no enumeration)."""
        form = await self._pre_form(request)
        if form is None:
            return self._pages._forbidden("The form's security token is missing or out of "
                                          "date. Reload the page and try again.")
        email = form.get("email")
        if not isinstance(email, str) or "@" not in email:
            return self._pre_page(request, "forgot.html", status=400, sent=False,
                                  error="Enter the e-mail address you sign in with.")
        # The link names the console's own address, never this request's Host: the Host rule
        # admits every loopback port, and one of them may be another local user's.
        await self._authority().resets.request(email)
        return self._pre_page(request, "forgot.html", sent=True, minutes=TTL_S // 60,
                              error="")

    async def reset_form(self, request: web.Request) -> web.StreamResponse:
        """``GET /reset/{token}``: the new-password form while the link works (opening it
        spends nothing)."""
        token = request.match_info["token"]
        if not await self._authority().resets.valid(token):
            return self._pre_page(request, "reset.html", status=410, gone=True, token="",
                                  errors={})
        return self._pre_page(request, "reset.html", gone=False, token=token, errors={})

    async def reset(self, request: web.Request) -> web.StreamResponse:
        """``POST /reset/{token}``: set the password; the link is spent, every session of
        the owner ends."""
        form = await self._pre_form(request)
        if form is None:
            return self._pages._forbidden("The form's security token is missing or out of "
                                          "date. Reload the page and try again.")
        token = request.match_info["token"]
        new, errors = parse_new_password(form)
        if new is None:
            gone = not await self._authority().resets.valid(token)
            return self._pre_page(request, "reset.html", status=410 if gone else 400,
                                  gone=gone, token=token, errors=errors.fields)
        owner = await self._authority().resets.complete(token, new)
        if owner is None:
            return self._pre_page(request, "reset.html", status=410, gone=True, token="",
                                  errors={})
        log.info("console: an owner set a new password by a reset link; their sessions ended")
        response = self._pages._login_page(request, owner, "", login_notice="Password set. "
                                           "Sign in with it.")
        clear_cookie(request, response, SESSION_COOKIE)
        clear_cookie(request, response, STEP_COOKIE)
        return response

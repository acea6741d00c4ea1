"""Two-step sign-in on the settings page (``/settings/2fa/...``).

Set up with the owner's password (a new secret, its QR code and the form for its first
code), turned on by a first right code (the recovery codes are shown on that answer, once);
new recovery codes, or turning it off, take the password and a current code. Turning it on or
off signs out every other browser and every console-API sign-in (this browser stays). Every
code is checked by the one rule every door shares (``OwnerSignIn.code``: the sign-in
throttle, so a signed-in page adds no allowance of guesses). The code step of sign-in itself
is the sign-in room's (``signin.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiohttp import web

from mtgateway_base.throttle import RateLimited

from ..door import retry_after
from .forms import FormErrors
from .kit import REAUTH_FIELD, Page, signed_in
from .settingsview import settings_page, two_step_view

__all__ = ["routes"]

log = logging.getLogger(__name__)

routes = web.RouteTableDef()


async def _answer(page: Page, status: int = 200, *, codes: Sequence[str] = (), form: str = "",
                  errors: FormErrors | None = None, notice: str = "") -> web.Response:
    """The settings page with the two-step section's news: recovery codes just made, or the
    errors of its ``form``."""
    two_step = await two_step_view(page.authority, page.owner, codes=codes, form=form,
                                   errors=errors.fields if errors else None)
    return await settings_page(page, status=status, two_step=two_step, notice=notice)


async def _password_and_code(page: Page) -> FormErrors:
    """The errors of a form that must carry the password and a current code."""
    errors = FormErrors()
    refused = await page.reauth()
    if refused is not None:
        errors.add(REAUTH_FIELD, refused)
        return errors
    code = page.form.get("code")
    if not isinstance(code, str) or not code.strip():
        errors.add("code", "Enter the code from your app.")
        return errors
    try:
        if not await page.kit.sign_in.code(page.owner, code.strip()):
            errors.add("code", "Wrong code, or one already used; wait for the next one.")
    except RateLimited as exc:
        errors.add("code", f"Too many failed sign-ins. Wait "
                           f"{retry_after(exc.retry_after_s)} s.")
    return errors


@routes.post("/settings/2fa/start")
@signed_in
async def start(page: Page) -> web.StreamResponse:
    """A new secret, shown with the form for its first code (with the password)."""
    refused = await page.reauth()
    if refused is not None:
        errors = FormErrors()
        errors.add(REAUTH_FIELD, refused)
        return await _answer(page, 401, form="start", errors=errors)
    try:
        await page.authority.second_factor.start(page.owner)
    except ValueError as exc:
        raise await page.done(f"{exc}.", "/settings") from None
    return await _answer(page)


@routes.post("/settings/2fa/confirm")
@signed_in
async def confirm(page: Page) -> web.StreamResponse:
    """The first code turns it on; the recovery codes are on this answer, once."""
    code = page.form.get("code")
    codes = (await page.authority.second_factor.confirm(page.owner, code,
                                                        keep_session=page.session.key)
             if isinstance(code, str) and code.strip() else None)
    if codes is None:
        errors = FormErrors()
        errors.add("code", "That is not the app's current code for this key. Check the key "
                   "in the app and type the code it shows now.")
        return await _answer(page, 400, form="confirm", errors=errors)
    page.kit.sessions.ended_with_owner(page.owner, keep=page.session.key)
    log.info("console: an owner turned two-step sign-in on")
    return await _answer(page, codes=codes, notice="Two-step sign-in is on: signing in now "
                         "asks for the code from your app. Other browsers and the console "
                         "API's sign-ins were signed out.")


@routes.post("/settings/2fa/codes")
@signed_in
async def new_codes(page: Page) -> web.StreamResponse:
    """Ten new recovery codes (password and code)."""
    errors = await _password_and_code(page)
    if errors:
        return await _answer(page, 401, form="codes", errors=errors)
    return await _answer(page, codes=await page.authority.second_factor.regenerate(page.owner))


@routes.post("/settings/2fa/disable")
@signed_in
async def disable(page: Page) -> web.StreamResponse:
    """Off (password and code)."""
    errors = await _password_and_code(page)
    if errors:
        return await _answer(page, 401, form="disable", errors=errors)
    await page.authority.second_factor.disable(page.owner, keep_session=page.session.key)
    page.kit.sessions.ended_with_owner(page.owner, keep=page.session.key)
    log.info("console: an owner turned two-step sign-in off")
    raise await page.done("Two-step sign-in is off. Other browsers and the console API's "
                          "sign-ins were signed out.", "/settings")

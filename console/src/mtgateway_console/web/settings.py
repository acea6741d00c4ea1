"""The settings page (``/settings``) and its password change (``/settings/password``).

The page's other sections answer in their own rooms: two-step sign-in (``twofactor.py``),
alerts (``alerts.py``), the signed-in sessions (``signedin.py``); the page is put together
once for all of them (``settingsview.py``).

Changing the password takes the current one (the kit's re-authentication) and the new one
twice; every other session of the owner, every half-done sign-in and every console-API
sign-in ends with the old one (the service's one lifecycle, ``service/credentials.py``).
"""

from __future__ import annotations

import logging

from aiohttp import web

from .forms import parse_new_password
from .kit import REAUTH_FIELD, Page, signed_in
from .settingsview import settings_page

__all__ = ["routes"]

log = logging.getLogger(__name__)

routes = web.RouteTableDef()


@routes.get("/settings")
@signed_in
async def settings(page: Page) -> web.StreamResponse:
    """The settings page."""
    return await settings_page(page)


@routes.post("/settings/password")
@signed_in
async def change_password(page: Page) -> web.StreamResponse:
    """A new password; the owner's other sessions end."""
    new, errors = parse_new_password(page.form)
    refused = await page.reauth()
    if refused is not None:
        errors.add(REAUTH_FIELD, refused)
    if errors or new is None:
        return await settings_page(page, status=401 if refused else 400, errors=errors.fields)
    ended = await page.authority.owners.change_password(page.owner, new,
                                                        keep_session=page.session.key)
    page.kit.sessions.ended_with_owner(page.owner, keep=page.session.key)
    log.info("console: an owner changed their password; %d other session(s) and %d API "
             "sign-in(s) ended", ended.sessions, ended.api_sessions)
    raise await page.done("Password changed. Other browsers signed in as you were signed out, "
                          "and the console API's sign-ins ended.", "/settings")

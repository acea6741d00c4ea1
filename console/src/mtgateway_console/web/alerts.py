"""The alerts section of the settings page: channels, thresholds, the signing secret, and a
test alert (what the section shows, and how its form is read: ``alertview.py``).

``POST /settings/alerts`` saves the choices (``GET`` lists the latest deliveries, of which
the settings page shows the newest few); ``POST /settings/alerts/secret`` rotates the
webhook's signing secret. A new secret is shown on the answer to the POST that made it, once
(as a new token is), never again. Setting or changing the webhook's address, and rotating
its secret, ask for the owner's password (the kit's re-authentication: the address decides
where the account's alerts go); the rest are one click. A form with an error keeps what was
typed and names the field.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .alertview import alerts_view, deliveries_view, parse_alerts
from .kit import REAUTH_FIELD, Page, signed_in
from .settingsview import settings_page

__all__ = ["routes"]

routes = web.RouteTableDef()


async def _answer(page: Page, status: int, **alerts: Any) -> web.Response:
    """The settings page with the alerts section's news (``alertview.alerts_view``)."""
    return await settings_page(page, status=status,
                               alerts=await alerts_view(page.authority, page.owner, **alerts))


@routes.get("/settings/alerts")
@signed_in
async def latest(page: Page) -> web.StreamResponse:
    """Every latest alert delivery (the settings page lists the newest few)."""
    return await page.show("alerts.html", "settings",
                           deliveries=await deliveries_view(page.authority, page.owner))


@routes.post("/settings/alerts")
@signed_in
async def save(page: Page) -> web.StreamResponse:
    """Save the alert settings (a new webhook address with the password)."""
    typed = {k: v for k, v in page.form.items()
             if isinstance(v, str) and k not in ("csrf", REAUTH_FIELD)}
    parsed, errors = parse_alerts(page.form)
    if parsed is None:
        return await _answer(page, 400, form=typed, errors=errors.fields)
    authority = page.authority
    before = await authority.alerts.settings(page.owner)
    if parsed.webhook_url and parsed.webhook_url != before.webhook_url:
        refused = await page.reauth()
        if refused is not None:
            errors.add(REAUTH_FIELD, f"{refused} It is needed to send alerts to a new address.")
            return await _answer(page, 401, form=typed, errors=errors.fields)
    secret = await authority.alerts.save(page.owner, parsed)
    if secret is not None:
        return await _answer(page, 201, new_secret=secret)
    raise await page.done("Alert settings saved.", "/settings#alerts")


@routes.post("/settings/alerts/secret")
@signed_in
async def rotate(page: Page) -> web.StreamResponse:
    """A new signing secret, shown once (with the password)."""
    authority = page.authority
    if not (await authority.alerts.settings(page.owner)).webhook_url:
        raise await page.done("Set a webhook address first.", "/settings#alerts")
    refused = await page.reauth()
    if refused is not None:
        return await _answer(page, 401, errors={
            "rotate_password": f"{refused} It is needed to make a new signing secret."})
    return await _answer(page, 201, new_secret=await authority.alerts.rotate_secret(page.owner))


@routes.post("/settings/alerts/test")
@signed_in
async def test(page: Page) -> web.StreamResponse:
    """A test alert on every chosen channel."""
    sent = await page.authority.alerts.test(page.owner)
    raise await page.done("Test alert on its way: its delivery is listed below." if sent else
                          "Choose e-mail or a webhook first, and save.", "/settings#alerts")

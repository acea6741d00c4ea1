"""The alerts section of the settings page: channels, thresholds, the signing secret, and
how the latest alerts were delivered.

``POST /settings/alerts`` saves the choices; ``POST /settings/alerts/secret`` rotates the
webhook's signing secret. A new secret is shown on the answer to the POST that made it, once
(as a new token is), never again. Setting or changing the webhook's address, and rotating
its secret, ask for the owner's password (F8: a session cookie reaches any local process the
browser is sent to, and the address decides where the account's alerts go); the rest are
one click. A form with an error keeps what was typed and names the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..service import Authority
from .alertview import REAUTH_FIELD, alerts_view, parse_alerts
from .pages import Pages
from .sessions import Session

__all__ = ["AlertPages", "mount_alert_pages"]


class AlertPages:
    """The handlers of the alerts section (over the console's :class:`Pages`)."""

    def __init__(self, pages: Pages, authority: Callable[[], Authority]) -> None:
        self._pages = pages
        self._authority = authority

    async def _settings_page(self, session: Session, status: int,
                             **alerts: Any) -> web.Response:
        view = await alerts_view(self._authority(), session.owner_email, **alerts)
        factor = await self._pages._factor_context(session)  # noqa: SLF001
        return await self._pages._page("settings.html", session, "settings",  # noqa: SLF001
                                       status=status, errors={}, **factor, **view)

    async def save(self, request: web.Request) -> web.StreamResponse:
        """``POST /settings/alerts``."""
        got = await self._pages._signed_in(request, post=True)  # noqa: SLF001
        if isinstance(got, web.Response):
            return got
        session, form = got
        typed = {k: v for k, v in form.items()
                 if isinstance(v, str) and k not in ("csrf", REAUTH_FIELD)}
        parsed, errors = parse_alerts(form)
        if parsed is None:
            return await self._settings_page(session, 400, form=typed, errors=errors.fields)
        authority = self._authority()
        before = await authority.alerts.settings(session.owner_email)
        if parsed.webhook_url and parsed.webhook_url != before.webhook_url:
            refused = await self._pages._reauth(session, form)  # noqa: SLF001
            if refused is not None:
                errors.add(REAUTH_FIELD, f"{refused} It is needed to send alerts to a new "
                                         "address.")
                return await self._settings_page(session, 401, form=typed,
                                                 errors=errors.fields)
        secret = await authority.alerts.save(session.owner_email, parsed)
        if secret is not None:
            return await self._settings_page(session, 201, new_secret=secret)
        raise await self._pages._done(session, "Alert settings saved.",  # noqa: SLF001
                                      "/settings#alerts")

    async def rotate(self, request: web.Request) -> web.StreamResponse:
        """``POST /settings/alerts/secret``: a new signing secret, shown once."""
        got = await self._pages._signed_in(request, post=True)  # noqa: SLF001
        if isinstance(got, web.Response):
            return got
        session, form = got
        authority = self._authority()
        if not (await authority.alerts.settings(session.owner_email)).webhook_url:
            raise await self._pages._done(session, "Set a webhook address first.",  # noqa: SLF001
                                          "/settings#alerts")
        refused = await self._pages._reauth(session, form)  # noqa: SLF001
        if refused is not None:
            return await self._settings_page(session, 401, errors={
                "rotate_password": f"{refused} It is needed to make a new signing secret."})
        secret = await authority.alerts.rotate_secret(session.owner_email)
        return await self._settings_page(session, 201, new_secret=secret)

    async def test(self, request: web.Request) -> web.StreamResponse:
        """``POST /settings/alerts/test``: a test alert on every chosen channel."""
        got = await self._pages._signed_in(request, post=True)  # noqa: SLF001
        if isinstance(got, web.Response):
            return got
        session, _ = got
        sent = await self._authority().alerts.test(session.owner_email)
        notice = ("Test alert on its way: its delivery is listed below." if sent else
                  "Choose e-mail or a webhook first, and save.")
        raise await self._pages._done(session, notice, "/settings#alerts")  # noqa: SLF001


def mount_alert_pages(app: web.Application, pages: Pages,
                      authority: Callable[[], Authority]) -> None:
    """Add the alerts section's POST routes."""
    handlers = AlertPages(pages, authority)
    app.router.add_post("/settings/alerts", handlers.save)
    app.router.add_post("/settings/alerts/secret", handlers.rotate)
    app.router.add_post("/settings/alerts/test", handlers.test)

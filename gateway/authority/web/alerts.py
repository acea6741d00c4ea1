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

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from ..alerts import MAX_MARGIN_PCT, MAX_OFFLINE_MINUTES, AlertSettings, check_webhook_url
from ..delivery import summary
from ..service import Authority
from .forms import FormErrors
from .sessions import Session

if TYPE_CHECKING:  # pages.py imports this module (its settings page shows the section)
    from .pages import Pages

__all__ = ["AlertPages", "alerts_view", "mount_alert_pages", "parse_alerts"]

#: The form field of the owner's password (``pages.REAUTH_FIELD``).
REAUTH_FIELD: Final = "owner_password"
#: The defaults the form offers for a threshold not set yet.
_OFFLINE_DEFAULT, _MARGIN_DEFAULT = "10", "150"


def _form_of(settings: AlertSettings) -> dict[str, str]:
    """The form as the stored settings fill it."""
    return {"email": "on" if settings.email else "", "webhook_url": settings.webhook_url,
            "offline": "on" if settings.offline_minutes else "",
            "offline_minutes": str(settings.offline_minutes or _OFFLINE_DEFAULT),
            "refused": "on" if settings.refused else "",
            "margin": "on" if settings.margin_pct else "",
            "margin_pct": f"{settings.margin_pct:g}" if settings.margin_pct
            else _MARGIN_DEFAULT}


async def alerts_view(authority: Authority, owner_email: str, *,
                      form: Mapping[str, str] | None = None,
                      errors: Mapping[str, str] | None = None,
                      new_secret: str | None = None) -> dict[str, Any]:
    """What ``_alerts.html`` shows: the form (stored, or as typed), its errors, a secret
    just made, and the latest deliveries."""
    settings = await authority.alerts.settings(owner_email)
    deliveries = [{"id": d.id, "channel": d.channel, "summary": summary(d.payload),
                   "status": d.status, "attempts": d.attempts, "next_at": d.next_at,
                   "error": d.last_error, "at": d.created_at, "done_at": d.done_at}
                  for d in await authority.alerts.deliveries(owner_email)]
    return {"alert_settings": settings, "alert_form": dict(form or _form_of(settings)),
            "alert_errors": dict(errors or {}), "new_secret": new_secret,
            "deliveries": deliveries}


def _whole(form: Mapping[str, Any], name: str, low: int, high: int,
           errors: FormErrors) -> int:
    raw = form.get(name)
    text = raw.strip() if isinstance(raw, str) else ""
    if not text.isdigit() or not low <= int(text) <= high:
        errors.add(name, f"a whole number from {low} to {high}")
        return 0
    return int(text)


def _percent(form: Mapping[str, Any], name: str, errors: FormErrors) -> float:
    raw = form.get(name)
    try:
        value = float(raw.strip()) if isinstance(raw, str) else float("nan")
    except ValueError:
        value = float("nan")
    if not 0 < value <= MAX_MARGIN_PCT:  # also refuses NaN
        errors.add(name, f"a number above 0 and at most {MAX_MARGIN_PCT:g}")
        return 0.0
    return value


def parse_alerts(form: Mapping[str, Any]) -> tuple[AlertSettings | None, FormErrors]:
    """The alerts form: the settings, or errors by field. A threshold is read only when
    its box is ticked (an unticked one may hold anything)."""
    errors = FormErrors()
    url = form.get("webhook_url")
    url = url.strip() if isinstance(url, str) else ""
    if url:
        try:
            url = check_webhook_url(url)
        except ValueError as exc:
            errors.add("webhook_url", str(exc))
    offline = (_whole(form, "offline_minutes", 1, MAX_OFFLINE_MINUTES, errors)
               if form.get("offline") == "on" else 0)
    margin = _percent(form, "margin_pct", errors) if form.get("margin") == "on" else 0.0
    if errors:
        return None, errors
    return AlertSettings(email=form.get("email") == "on", webhook_url=url,
                         offline_minutes=offline, refused=form.get("refused") == "on",
                         margin_pct=margin), errors


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

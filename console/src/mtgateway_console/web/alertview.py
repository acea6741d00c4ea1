"""What the settings page's alerts section shows and how its form is read: the stored choices
(or what was typed, with errors by field), a signing secret just made, and the latest
deliveries. Apart from the handlers (``alerts.py``): every answer on the settings page shows
the section (``settingsview.py``), and the page rooms do not import each other."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..delivery import summary
from ..service import Authority
from ..tables.alerts import MAX_MARGIN_PCT, MAX_OFFLINE_MINUTES, AlertSettings, check_webhook_url
from .forms import FormErrors

__all__ = ["SHOWN_ON_SETTINGS", "alerts_view", "deliveries_view", "parse_alerts"]

#: The latest deliveries the settings page lists (the rest are a link away): the page is
#: the owner's, not the alerts' log, and on a phone twenty rows made it 5,400 px tall.
SHOWN_ON_SETTINGS: Final = 5

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
    deliveries = await deliveries_view(authority, owner_email)
    return {"alert_settings": settings, "alert_form": dict(form or _form_of(settings)),
            "alert_errors": dict(errors or {}), "new_secret": new_secret,
            "deliveries": deliveries[:SHOWN_ON_SETTINGS], "deliveries_total": len(deliveries)}


async def deliveries_view(authority: Authority, owner_email: str) -> list[dict[str, Any]]:
    """The owner's latest alert deliveries (the service's twenty), newest first, as the
    settings page and ``/settings/alerts`` list them."""
    return [{"id": d.id, "channel": d.channel, "summary": summary(d.payload),
             "status": d.status, "attempts": d.attempts, "next_at": d.next_at,
             "error": d.last_error, "at": d.created_at, "done_at": d.done_at}
            for d in await authority.alerts.deliveries(owner_email)]


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

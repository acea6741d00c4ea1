"""The settings page (``settings.html``) as every room that answers on it shows it: the
password form, the two-step sign-in section and the alerts section.

Three rooms answer a form of this one page (``settings.py``: the password; ``twofactor.py``:
two-step sign-in; ``alerts.py``: alerts), and each answer is the whole page with its own
section's errors or news in it. So the page is put together here, once, below the rooms:
:func:`settings_page` takes what one section has to say and reads the others as stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import segno
from aiohttp import web
from markupsafe import Markup

from ..service import Authority
from .alertview import alerts_view
from .kit import Page

__all__ = ["qr_svg", "settings_page", "two_step_view"]


def qr_svg(uri: str) -> Markup:
    """``uri`` as a QR code in inline SVG (drawn here: no script, nothing fetched; the
    page's CSP allows it as it allows the page's own markup). Safe to put in the page
    unescaped: segno writes only its own elements, the URI is in the modules, not the text."""
    return Markup(segno.make(uri, error="m").svg_inline(scale=4, border=4, dark="#000",
                                                         light="#fff"))


async def two_step_view(authority: Authority, owner: str, *, codes: Sequence[str] = (),
                        form: str = "", errors: Mapping[str, str] | None = None
                        ) -> dict[str, Any]:
    """What ``_second_factor.html`` shows: the factor's state, a pending enrolment with its
    QR code, recovery codes just made (``codes``: shown on this answer only), and the
    errors of the section's ``form``."""
    factor = authority.second_factor
    status = await factor.status(owner)
    enrolment = None if status.enabled else await factor.pending(owner)
    return {"factor": status, "enrolment": enrolment, "recovery_codes": list(codes),
            "factor_errors": {form: dict(errors)} if errors else {},
            "enrolment_qr": qr_svg(enrolment.uri) if enrolment is not None else ""}


async def settings_page(page: Page, *, status: int = 200,
                        errors: Mapping[str, str] | None = None,
                        two_step: dict[str, Any] | None = None,
                        alerts: dict[str, Any] | None = None,
                        notice: str = "") -> web.Response:
    """The settings page: ``errors`` of the password form, the two-step section
    (:func:`two_step_view`) and the alerts section (``alertview.alerts_view``), each read as
    stored when not given; ``notice``: this answer's own."""
    if two_step is None:
        two_step = await two_step_view(page.authority, page.owner)
    if alerts is None:
        alerts = await alerts_view(page.authority, page.owner)
    return await page.show("settings.html", "settings", status=status, notice=notice,
                           errors=dict(errors or {}), **two_step, **alerts)

"""The page of the link that takes back a second factor someone else turned on
(``/recover/{token}``; the rules are the service's, ``service/recovery.py``).

``GET`` shows what the link will do, for whom (the address masked) and until when, and spends
nothing (a mail scanner opening it burns nothing); ``POST`` carries the new password twice and
the double-submit CSRF token of a page before sign-in, and spends the link. A link used,
expired, or whose enrolment is gone answers 410 with what still works (the operator's
command). The token is masked in every log (``base.access``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from ..service import Authority
from .forms import parse_new_password
from .pages import Pages
from .security import SESSION_COOKIE, clear_cookie
from .twofactor import STEP_COOKIE, FactorPages

__all__ = ["RecoveryPages", "mount_recovery_pages"]

log = logging.getLogger("gateway.authority.web")


class RecoveryPages:
    """The undo link's page (over the pages' plumbing and the pre-sign-in form kit)."""

    def __init__(self, pages: Pages, factor: FactorPages,
                 authority: Callable[[], Authority]) -> None:
        self._pages = pages
        self._factor = factor
        self._authority = authority

    async def form(self, request: web.Request) -> web.StreamResponse:
        """``GET /recover/{token}``."""
        token = request.match_info["token"]
        link = await self._authority().recovery.valid(token)
        if link is None:
            return self._factor._pre_page(request, "recover.html",  # noqa: SLF001
                                          status=410, gone=True, token="", errors={})
        return self._factor._pre_page(request, "recover.html", gone=False,  # noqa: SLF001
                                      token=token, link=link, errors={})

    async def take_back(self, request: web.Request) -> web.StreamResponse:
        """``POST /recover/{token}``: the factor off, every session ended, the password set."""
        form = await self._factor._pre_form(request)  # noqa: SLF001
        if form is None:
            return self._pages._forbidden("The form's security token is missing or out of "  # noqa: SLF001
                                          "date. Reload the page and try again.")
        token = request.match_info["token"]
        new, errors = parse_new_password(form)
        recovery = self._authority().recovery
        if new is None:
            link = await recovery.valid(token)
            return self._factor._pre_page(  # noqa: SLF001
                request, "recover.html", status=410 if link is None else 400,
                gone=link is None, token=token if link else "", link=link,
                errors=errors.fields)
        owner = await recovery.undo(token, new)
        if owner is None:
            return self._factor._pre_page(request, "recover.html",  # noqa: SLF001
                                          status=410, gone=True, token="", errors={})
        log.info("console: an owner took back a second factor by the e-mailed link; their "
                 "sessions ended")
        response = self._pages._login_page(  # noqa: SLF001
            request, owner, "", login_notice="Two-step sign-in is off, every browser was "
            "signed out and your new password is set. Sign in with it, then turn two-step "
            "sign-in on again with your own app.")
        clear_cookie(request, response, SESSION_COOKIE)
        clear_cookie(request, response, STEP_COOKIE)
        return response


def mount_recovery_pages(app: web.Application, pages: Pages, factor: FactorPages,
                         authority: Callable[[], Authority]) -> RecoveryPages:
    """Add the undo link's routes to ``app``."""
    handlers = RecoveryPages(pages, factor, authority)
    app.router.add_get("/recover/{token}", handlers.form)
    app.router.add_post("/recover/{token}", handlers.take_back)
    return handlers

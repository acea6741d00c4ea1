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

from aiohttp import web

from .forms import parse_new_password
from .kit import Visit, before_sign_in
from .security import SESSION_COOKIE, STEP_COOKIE, clear_cookie

__all__ = ["routes"]

log = logging.getLogger(__name__)

routes = web.RouteTableDef()


def _gone(visit: Visit) -> web.Response:
    return visit.show("recover.html", status=410, gone=True, token="", errors={})


@routes.get("/recover/{token}")
@before_sign_in()
async def recover_form(visit: Visit) -> web.StreamResponse:
    """What the link will do, and the new-password form while it works."""
    token = visit.request.match_info["token"]
    link = await visit.authority.recovery.valid(token)
    if link is None:
        return _gone(visit)
    return visit.show("recover.html", gone=False, token=token, link=link, errors={})


@routes.post("/recover/{token}")
@before_sign_in()
async def take_back(visit: Visit) -> web.StreamResponse:
    """The factor off, every session ended, the password set."""
    token = visit.request.match_info["token"]
    new, errors = parse_new_password(visit.form)
    recovery = visit.authority.recovery
    if new is None:
        link = await recovery.valid(token)
        return visit.show("recover.html", status=410 if link is None else 400,
                          gone=link is None, token=token if link else "", link=link,
                          errors=errors.fields)
    owner = await recovery.undo(token, new)
    if owner is None:
        return _gone(visit)
    visit.kit.sessions.ended_with_owner(owner)
    log.info("console: an owner took back a second factor by the e-mailed link; their "
             "sessions ended")
    response = visit.sign_in_page(
        email=owner, notice="Two-step sign-in is off, every browser was signed out and your "
        "new password is set. Sign in with it, then turn two-step sign-in on again with your "
        "own app.")
    clear_cookie(visit.request, response, SESSION_COOKIE)
    clear_cookie(visit.request, response, STEP_COOKIE)
    return response

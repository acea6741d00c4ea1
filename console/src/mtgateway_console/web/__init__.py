"""The console's web pages, for the account owner in a browser (``docs/console.md``).

Server-rendered with Jinja2 (autoescaping on); every page works as a plain HTML form, and
``static/console.js`` only adds the copy button and the live refresh. A state-changing request
is a POST that must carry a CSRF token (``security.py``); a refused one gets 403 and changes
nothing. A successful POST redirects (303) to the page it came from with a notice saying what
was done, so a reload never repeats it; the exceptions are answers that show a secret once (a
new token, recovery codes, a webhook's signing secret).

The pages are rooms by job, each a module with its own ``routes`` table, over one public kit
(``kit.py``: rendering, CSRF, the signed-in prologue, re-authentication, notices) and pure
views below it; a room imports the kit and the views, never another room (an import-linter
contract in ``pyproject.toml`` holds it):

==================  ============================================================
``signin.py``       ``/login``, its code step ``/login/code``, ``/logout``,
                    ``/forgot``, ``/reset/{token}``
``dashboard.py``    ``/`` and the parts its script refreshes
``live.py``         ``/live``: P/L, orders, history, equity, a server-sent stream
``tokens.py``       ``/tokens``
``devices.py``      ``/devices``
``accounts.py``     ``/accounts``
``halts.py``        ``/halts/lift``: lifting the kill switch where it is shown
``activity.py``     ``/activity``
``settings.py``     ``/settings`` and the password change
``twofactor.py``    ``/settings/2fa/...``: two-step sign-in
``signedin.py``     ``/settings/sessions``: the signed-in browsers
``alerts.py``       ``/settings/alerts...``
``recovery.py``     ``/recover/{token}``: taking back a second factor
==================  ============================================================

:func:`mount_pages` adds them through the console's door (``door/``: the session, the form,
every refusal answered by the kit's error page, a friendly page for any other address too),
and the package's own ``static/`` files (no CDN: the console works offline). Templates and
static files ship as package data. This package imports nothing of the gateway beyond
``mtgateway_console``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Final

import jinja2
from aiohttp import web

from ..door import DOOR
from ..service import Authority
from ..service.signin import OwnerSignIn
from . import (
    accounts,
    activity,
    alerts,
    dashboard,
    devices,
    halts,
    live,
    recovery,
    settings,
    signedin,
    signin,
    tokens,
    twofactor,
)
from .kit import PAGES, PageKit, render
from .security import security_headers
from .sessions import ABSOLUTE_S, IDLE_S, STEP_S, SessionStore, SignInSteps

__all__ = ["PAGES", "ROOMS", "STATIC_DIR", "TEMPLATE_DIR", "mount_pages", "security_headers"]

_HERE: Final = Path(__file__).resolve().parent
TEMPLATE_DIR: Final = _HERE / "templates"
STATIC_DIR: Final = _HERE / "static"
#: Every page room, each with its ``routes`` table.
ROOMS: Final = (signin, dashboard, live, tokens, devices, accounts, halts, activity,
                settings, twofactor, signedin, alerts, recovery)


def mount_pages(app: web.Application, authority: Callable[[], Authority],
                sign_in: OwnerSignIn, *, clock: Callable[[], float],
                idle_s: float = IDLE_S, absolute_s: float = ABSOLUTE_S, step_s: float = STEP_S,
                token: Callable[[int], str] = secrets.token_urlsafe) -> PageKit:
    """Add the pages and their static files to ``app`` (whose middlewares must include
    :func:`security_headers`, and which has its door), every other address answered by the
    error page; the kit (tests reach its sessions)."""
    door = app[DOOR]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    sessions = SessionStore(lambda: authority().sessions, clock, idle_s=idle_s,
                            absolute_s=absolute_s, token=token, ended=door.streams.ended)
    kit = app[PAGES] = PageKit(authority, sign_in, sessions, env, clock, token)
    door.sessions = sessions
    app[signin.STEPS] = SignInSteps(lambda: authority().signin_steps, clock, ttl_s=step_s,
                                    token=token)
    for room in ROOMS:
        door.renderers.serve(app, room.routes, render)
    door.renderers.claim(app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False),
                         render)
    door.renderers.serve(app, (), render, space="/")
    return kit

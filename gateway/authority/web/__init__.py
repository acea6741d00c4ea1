"""The console's web pages, for the account owner in a browser (``docs/console.md``).

:func:`mount_pages` adds them to the console's aiohttp application beside the JSON API
(``/v1/...``): the pages at ``/``, ``/login`` (and ``/login/code``, ``/forgot``,
``/reset/...``: ``twofactor.py``; ``/recover/...``: ``recovery.py``), ``/tokens``,
``/devices``, ``/accounts``, ``/activity``, ``/settings`` (its alerts: ``alerts.py``; the
signed-in sessions, ``/settings/sessions``: ``signedin.py``), a friendly page for any other
address, and the package's own ``static/`` files (no CDN: the console works offline).
Templates and static files ship as package data. This package imports nothing of the gateway
beyond ``gateway.authority``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Final

import jinja2
from aiohttp import web

from ..service import Authority
from ..service.signin import OwnerSignIn
from .alerts import mount_alert_pages
from .live import mount_live_pages
from .pages import Pages
from .recovery import mount_recovery_pages
from .security import security_headers
from .sessions import ABSOLUTE_S, IDLE_S, STEP_S, SessionStore, SignInSteps
from .signedin import mount_session_pages
from .twofactor import FactorPages

__all__ = ["PAGES", "STATIC_DIR", "TEMPLATE_DIR", "mount_pages", "security_headers"]

_HERE: Final = Path(__file__).resolve().parent
TEMPLATE_DIR: Final = _HERE / "templates"
STATIC_DIR: Final = _HERE / "static"
PAGES: Final = web.AppKey("pages", Pages)


def mount_pages(app: web.Application, authority: Callable[[], Authority],
                sign_in: OwnerSignIn, *, clock: Callable[[], float],
                idle_s: float = IDLE_S, absolute_s: float = ABSOLUTE_S, step_s: float = STEP_S,
                token: Callable[[int], str] = secrets.token_urlsafe) -> Pages:
    """Add the pages and their static files to ``app`` (whose middlewares must include
    :func:`security_headers`); the :class:`Pages` (tests reach its sessions)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
                             autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    sessions = SessionStore(lambda: authority().sessions, clock, idle_s=idle_s,
                            absolute_s=absolute_s, token=token)
    pages = Pages(authority, sign_in, sessions,
                  env, clock, token)
    app[PAGES] = pages
    steps = SignInSteps(lambda: authority().signin_steps, clock, ttl_s=step_s, token=token)
    factor = pages.factor = FactorPages(pages, steps, sign_in)
    router = app.router
    router.add_get("/", pages.dashboard)
    router.add_get("/dashboard/rows", pages.dashboard_rows)
    router.add_get("/dashboard/books", pages.dashboard_books)
    router.add_get("/login", pages.login_form)
    router.add_post("/login", pages.login)
    router.add_post("/logout", pages.logout)
    router.add_get("/tokens", pages.tokens)
    router.add_post("/tokens", pages.create_token)
    router.add_post("/tokens/{token_id}/revoke", pages.revoke_token)
    router.add_get("/devices", pages.devices)
    router.add_post("/devices/{device_id}/revoke", pages.revoke_device)
    router.add_post("/devices/{device_id}/approve", pages.approve_device)
    router.add_post("/devices/{device_id}/deny", pages.deny_device)
    router.add_post("/devices/{device_id}/forget", pages.forget_device)
    router.add_post("/devices/{device_id}/allow", pages.allow_device)
    router.add_post("/devices/{device_id}/revoke-token", pages.revoke_presented_token)
    router.add_post("/tokens/{token_id}/label", pages.label_token)
    router.add_get("/accounts", pages.accounts)
    router.add_post("/accounts", pages.register_account)
    router.add_post("/accounts/{account_id}/risk", pages.update_risk)
    router.add_get("/activity", pages.activity)
    router.add_get("/settings", pages.settings)
    router.add_post("/settings/password", pages.change_password)
    router.add_get("/login/code", factor.code_form)
    router.add_post("/login/code", factor.code)
    router.add_post("/settings/2fa/start", factor.start)
    router.add_post("/settings/2fa/confirm", factor.confirm)
    router.add_post("/settings/2fa/codes", factor.new_codes)
    router.add_post("/settings/2fa/disable", factor.disable)
    router.add_get("/forgot", factor.forgot_form)
    router.add_post("/forgot", factor.forgot)
    router.add_get("/reset/{token}", factor.reset_form)
    router.add_post("/reset/{token}", factor.reset)
    mount_alert_pages(app, pages, authority)
    mount_session_pages(app, pages, authority)
    mount_recovery_pages(app, pages, factor, authority)
    mount_live_pages(app, pages, authority, clock)  # /live: P/L, orders, history, equity
    router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
    return pages

"""The web console's browser-facing defences, in one place so each can be read and tested.

- **Headers** on every page: a strict Content-Security-Policy (scripts, styles and images
  only from this origin, no inline script or style, no framing, forms post only here),
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and
  ``Cache-Control: no-store`` (pages show tokens once, device ids, activity: nothing for a
  shared browser cache or the back button to keep).
- **Cookies**: the session cookie is HttpOnly, SameSite=Strict, path ``/``, and Secure when
  the request came over TLS or ``[console] public_url`` is ``https://`` (a TLS proxy in
  front, whose last hop to the console may be plain HTTP: the browser's side is what
  counts; a plain-HTTP console on loopback could not set a Secure cookie the browser would
  send back). With an ``https://`` public address every page also says
  ``Strict-Transport-Security`` (a year): the browser never asks for it over plain HTTP
  again.
- **CSRF**: every state-changing form carries a token that must match the session's
  (:func:`csrf_ok`); the sign-in form, before there is a session, uses a double-submit
  cookie of its own. A POST without a matching token gets 403 and changes nothing.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from ..appkeys import CONSOLE_ADDRESS
from ..door import SESSION_COOKIE

__all__ = ["CSP", "HSTS", "PRE_COOKIE", "SESSION_COOKIE", "STEP_COOKIE", "Handler",
           "add_page_headers", "clear_cookie", "csrf_ok", "security_headers", "set_cookie"]

#: The sign-in form's double-submit CSRF cookie (there is no session yet to hold a token).
PRE_COOKIE: Final = "mtgw_login_csrf"
#: The half-signed-in browser's cookie (password right, second-factor code not yet given).
STEP_COOKIE: Final = "mtgw_signin_step"

CSP: Final = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
              "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
              "base-uri 'none'")

_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

#: What an ``https://`` public address adds to every page: browsers keep to HTTPS for a year.
HSTS: Final = "max-age=31536000"

#: An aiohttp request handler (what a page's decorators return).
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_page_headers(response: web.StreamResponse) -> None:
    """The page headers, for an answer made outside :func:`security_headers` (the error
    middleware's friendly 404 page)."""
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Add the page headers to every answer that is not the JSON API (``/v1/...``) and not
    a static file (those keep their caching headers but get the CSP and nosniff too)."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if not request.path.startswith("/v1/") and exc.status < 400:  # a page's redirect
            for name, value in _HEADERS.items():
                exc.headers.setdefault(name, value)
        raise
    if not request.path.startswith("/v1/"):
        static = request.path.startswith("/static/")
        for name, value in _HEADERS.items():
            if static and name == "Cache-Control":
                continue
            response.headers.setdefault(name, value)
        if _public_tls(request):
            response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def _public_tls(request: web.Request) -> bool:
    """Whether owners open the console over TLS: this request came over it, or the public
    address is ``https://`` (a proxy's, whose last hop may be plain HTTP)."""
    address = request.app.get(CONSOLE_ADDRESS)
    return request.secure or (address is not None
                              and address.public_url.startswith("https://"))


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str,
               max_age: int | None = None) -> None:
    """Set a cookie HttpOnly, SameSite=Strict, and Secure when owners open the console over
    TLS (:func:`_public_tls`)."""
    response.set_cookie(name, value, httponly=True, samesite="Strict", path="/",
                        secure=_public_tls(request), max_age=max_age)


def clear_cookie(request: web.Request, response: web.StreamResponse, name: str) -> None:
    """Expire a cookie with the same attributes it was set with."""
    response.del_cookie(name, path="/", secure=_public_tls(request), httponly=True,
                        samesite="Strict")


def csrf_ok(expected: str | None, given: object) -> bool:
    """Whether a form's token matches the expected one (constant time; none never matches)."""
    if not expected or not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))

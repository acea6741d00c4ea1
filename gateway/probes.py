"""``GET /ready`` and ``GET /metrics``: what a watchdog and a Prometheus server ask.

No bot token, like ``/health``: a probe holds no trading credential, and neither answer names a
terminal, token or account (counts, ages and reason words only). But both tell when and how
much the owner trades and when the EA is down, and loopback is shared by every local user: so
``[server] metrics_token``, when set, is asked for as ``Authorization: Bearer`` (401 without
it; round-4 T4-F9). ``/health`` stays open. The daemon binds loopback by default, and the Host
and Origin rules (``edge/middleware.py``) apply to these routes as to every other. ``metrics.py``
decides what they say.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from .edge.door import bearer_of, error_response
from .errors import METRICS_TOKEN_REQUIRED
from .keys import CONFIG, METRICS, READINESS
from .metrics import CONTENT_TYPE

__all__ = ["routes"]


def _refused(request: web.Request) -> web.Response | None:
    """401 when a metrics token is set and the request does not carry it, else None."""
    wanted = request.app[CONFIG].server.metrics_token.get_secret_value()
    if not wanted:
        return None
    given = bearer_of(request.headers.get("Authorization")) or ""
    if hmac.compare_digest(given.encode(), wanted.encode()):
        return None
    return error_response(METRICS_TOKEN_REQUIRED)


async def ready(request: web.Request) -> web.Response:
    """200 when ready to serve a bot, else 503; the body says which check failed."""
    refused = _refused(request)
    if refused is not None:
        return refused
    ok, body = request.app[READINESS].check()
    return web.json_response(body, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text exposition of the daemon's metrics."""
    refused = _refused(request)
    if refused is not None:
        return refused
    return web.Response(body=request.app[METRICS].render(),
                        headers={"Content-Type": CONTENT_TYPE})


def routes() -> list[web.RouteDef]:
    """The two routes, for ``create_app``."""
    return [web.get("/ready", ready), web.get("/metrics", metrics)]

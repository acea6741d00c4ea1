"""``GET /ready`` and ``GET /metrics``: what a watchdog and a Prometheus server ask.

No token, like ``/health``: a probe holds no credential, and neither answer names a terminal,
token or account (counts, ages and reason words only). The daemon binds loopback by default,
and the Host and Origin rules (``middleware.py``) apply to these routes as to every other.
``metrics.py`` decides what they say.
"""

from __future__ import annotations

from aiohttp import web

from .keys import METRICS, READINESS
from .metrics import CONTENT_TYPE

__all__ = ["routes"]


async def ready(request: web.Request) -> web.Response:
    """200 when ready to serve a bot, else 503; the body says which check failed."""
    ok, body = request.app[READINESS].check()
    return web.json_response(body, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text exposition of the daemon's metrics."""
    return web.Response(body=request.app[METRICS].render(),
                        headers={"Content-Type": CONTENT_TYPE})


def routes() -> list[web.RouteDef]:
    """The two routes, for ``create_app``."""
    return [web.get("/ready", ready), web.get("/metrics", metrics)]

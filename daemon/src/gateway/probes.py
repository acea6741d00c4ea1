"""``GET /ready`` and ``GET /metrics``: what a watchdog and a Prometheus server ask.

No bot token, like ``/health``: a probe holds no trading credential, and neither answer names a
terminal, token or account (counts, ages and reason words only). But both tell when and how
much the owner trades, which tokens were refused and when the EA is down, and loopback is
shared by every local user: so by default ``/metrics`` asks for the scrape token as
``Authorization: Bearer`` (``[server] metrics_token``, else the daemon's ``metrics.token``
file: ``base.scrape``; 401 without it), and ``/ready`` answers anyone only its status word
(200 ``ready`` or 503 ``not_ready``, what a watchdog reads) and its details (counts, ages,
problems) with the token. ``[server] metrics_open = true`` asks for nothing. ``/health`` stays
open. The daemon binds loopback by default, and the Host and Origin rules
(``edge/middleware.py``) apply to these routes as to every other. ``metrics.py`` decides what
they say.
"""

from __future__ import annotations

from aiohttp import web

from .edge.door import error_response
from .errors import METRICS_TOKEN_REQUIRED
from .keys import METRICS, METRICS_TOKEN, READINESS
from .metrics import CONTENT_TYPE

__all__ = ["routes"]


def _allowed(request: web.Request) -> bool:
    """Whether the request carries the scrape token (or none is asked for)."""
    return request.app[METRICS_TOKEN].allows(request.headers.get("Authorization", ""))


async def ready(request: web.Request) -> web.Response:
    """200 when ready to serve a bot, else 503; with the scrape token (or when open) the
    body says which check failed, else it is the status word alone."""
    ok, body = request.app[READINESS].check()
    if not _allowed(request):
        body = {"status": body["status"]}
    return web.json_response(body, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text exposition of the daemon's metrics (401 without the token)."""
    if not _allowed(request):
        return error_response(METRICS_TOKEN_REQUIRED)
    return web.Response(body=request.app[METRICS].render(),
                        headers={"Content-Type": CONTENT_TYPE})


def routes() -> list[web.RouteDef]:
    """The two routes, for ``create_app``."""
    return [web.get("/ready", ready), web.get("/metrics", metrics)]

"""Probes and the authority's public face: liveness, readiness, the signing keys, and the
console's proof that it holds the authority key.

``/health`` is liveness only and never waits on the database: it answers while the database
is paused, stopped or unreachable. ``/ready`` is for a load balancer or an orchestrator: this
instance can reach its database (within the database's bound) and the schema is the one this
program knows; otherwise 503 with ``database_unreachable`` or ``schema_mismatch``.
"""

from __future__ import annotations

import logging

from aiohttp import web
from pydantic import Field

from ..appkeys import AUTHORITY, CONSOLE_ADDRESS
from ..database import DatabaseError, DatabaseUnavailable
from ..migrations import MIGRATIONS
from .common import Body, Fail, read_json

__all__ = ["HelloBody", "routes"]

log = logging.getLogger("gateway.authority.console")

routes = web.RouteTableDef()


class HelloBody(Body):
    """``POST /v1/hello``: the client's fresh nonce (64 lowercase hex)."""

    nonce: str = Field(pattern=r"^[0-9a-f]{64}$")


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    """Liveness: the process serves requests (nothing else is asked)."""
    return web.json_response({"status": "ok"})


@routes.get("/ready")
async def ready(request: web.Request) -> web.Response:
    """Readiness: the database answers and holds this program's schema."""
    authority = request.app[AUTHORITY]
    try:
        if not authority.prepared:
            await authority.prepare()  # the console started while the database was away
    except DatabaseUnavailable:
        return _unreachable("DatabaseUnavailable")
    except DatabaseError:
        pass  # a schema newer than this program's: reported below
    try:
        version = await authority.schema_version()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        return _unreachable(type(exc).__name__)
    if version != len(MIGRATIONS):
        return web.json_response({"status": "not_ready", "reason": "schema_mismatch",
                                  "schema_version": version}, status=503)
    return web.json_response({"status": "ready", "schema_version": version})


def _unreachable(why: str) -> web.Response:
    log.warning("readiness: the database does not answer: %s", why)
    return web.json_response({"status": "not_ready", "reason": "database_unreachable"},
                             status=503)


@routes.get("/v1/keys")
async def keys(request: web.Request) -> web.Response:
    """The authority's public signing keys."""
    found = await request.app[AUTHORITY].public_keys()
    return web.json_response({"keys": [k.as_json() for k in found]})


@routes.post("/v1/hello")
async def hello(request: web.Request) -> web.Response:
    """The console proves it holds the authority key before a client sends it anything
    secret: the client's nonce and the ``Host`` it addressed, signed. Anyone may ask; the
    answer gives nothing away. Only a Host naming this console is signed (``address.py``),
    so a relay on another loopback port gets 421, not a proof for its own address."""
    body = await read_json(request, HelloBody, status=400)
    address = request.app[CONSOLE_ADDRESS]
    if not address.signs_for(request.host):
        raise Fail(421, "misdirected", f"this console signs its hello only for its own address "
                   f"({address.base}), not {request.host[:80]!r}: use that address (or "
                   "[console] public_url) as the console's URL")
    signer = request.app[AUTHORITY].store.signer
    return web.json_response({"kid": signer.key.kid, "alg": "Ed25519",
                              "signature": signer.prove(body.nonce, request.host)})

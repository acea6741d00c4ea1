"""Probes and the authority's public face: liveness, readiness, the signing keys, and the
console's proof that it holds the authority key.

``/health`` is liveness only and never waits on the database: it answers while the database
is paused, stopped or unreachable. ``/ready`` is for a load balancer or an orchestrator: this
instance reached its database at its last check and the schema is the one this program knows;
otherwise 503 with ``database_unreachable`` or ``schema_mismatch``. It never waits on the
database either: a background check keeps the state (``readiness.py``), so a probe is
answered at once through any database fault.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from ..appkeys import AUTHORITY, CONSOLE_ADDRESS, READINESS
from ..door import DOOR
from ..door.edge import json_answer
from ..errors import Refusal
from ..shapes import Body

__all__ = ["HelloBody", "routes"]

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
    """Readiness, as the last background check found it: the database answered and holds
    this program's schema."""
    state = request.app[READINESS].state
    if state.ready:
        return web.json_response({"status": "ready", "schema_version": state.schema_version})
    if state.reason == "schema_mismatch":
        return web.json_response({"status": "not_ready", "reason": "schema_mismatch",
                                  "schema_version": state.schema_version}, status=503)
    return web.json_response({"status": "not_ready", "reason": "database_unreachable"},
                             status=503)


@routes.get("/v1/keys")
async def keys(request: web.Request) -> web.Response:
    """The authority's public signing keys."""
    found = await request.app[AUTHORITY].public_keys()
    return json_answer(request, {"keys": [k.as_json() for k in found]})


@routes.post("/v1/hello")
async def hello(request: web.Request) -> web.Response:
    """The console proves it holds the authority key before a client sends it anything
    secret: the client's nonce and the ``Host`` it addressed, signed. Anyone may ask; the
    answer gives nothing away. Only a Host naming this console is signed (``address.py``),
    so a relay on another loopback port gets 421, not a proof for its own address."""
    body = (await request.app[DOOR].enter(request, "none", HelloBody, invalid=400)).body
    address = request.app[CONSOLE_ADDRESS]
    if not address.signs_for(request.host):
        raise Refusal(421, "misdirected", f"this console signs its hello only for its own address "
                   f"({address.base}), not {request.host[:80]!r}: use that address (or "
                   "[console] public_url) as the console's URL")
    signer = request.app[AUTHORITY].store.signer
    return web.json_response({"kid": signer.key.kid, "alg": "Ed25519",
                              "signature": signer.prove(body.nonce, request.host)})

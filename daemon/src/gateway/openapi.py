"""The OpenAPI 3.1 document of the REST mirror: the one builder
(``mtgateway_base/mt4web/openapi.py``) over the table's ``daemon`` column, with what the
daemon's door answers.

Served at ``GET /api/openapi.json`` (no token: it describes, it reveals nothing) and shipped
as ``docs/openapi/rest.json``, kept equal by a test. Every path and method of the document
the mirror follows is listed; the Manager-only ones with their 501 and the reason.
"""

from __future__ import annotations

import functools
from typing import Any, Final

import orjson
from aiohttp import web

from mtgateway_base.mt4web import openapi
from mtgateway_base.mt4web.daemon_models import ErrorOut
from mtgateway_base.mt4web.shared import MAX_LOGIN

from ._version import __version__
from .schemas import MAX_SYMBOL_LENGTH, SYMBOL_PATTERN

__all__ = ["PROFILE", "build_document", "route"]

#: Refusals every authenticated endpoint may answer, before its handler runs: the HTTP rules
#: shared with ``/rpc`` (their bodies are JSON-RPC error objects, ``id: null``).
_RULES: Final[dict[int, str]] = {
    400: "A credential in the query string, or a bad param or body (-32602, field named)",
    401: "Missing, malformed, unknown, expired or revoked token; device not approved",
    403: "Origin not allowed",
    405: "Method not listed for this path (Allow says which are)",
    421: "Host not a loopback name (DNS rebinding guard)",
    429: "Too many failed authentications (Retry-After)",
}


def _path_param(name: str, answered: bool) -> dict[str, Any]:
    """A path parameter's schema: the rule its handler enforces, so that a request this
    document allows is one the server takes (and one it refuses, the document forbids)."""
    if name == "login":  # rest._login_of
        return {"type": "integer", "minimum": 1, "maximum": MAX_LOGIN}
    if name == "name" and answered:  # a symbol, as symbol_info takes it
        return {"type": "string", "minLength": 1, "maxLength": MAX_SYMBOL_LENGTH,
                "pattern": SYMBOL_PATTERN.pattern}
    return {"type": "integer"} if name == "order" else {"type": "string"}


#: How the mirror's document reads around the table's rows.
PROFILE: Final = openapi.Profile(
    title="MT Gateway REST mirror of the MT4 Web API",
    description=(
        "The endpoints of the MT4 Web API document a terminal can answer, with its "
        "paths and response shapes, on the daemon's loopback HTTP port. Same bearer "
        "token and HTTP rules as POST /rpc. Manager-only endpoints answer 501 with "
        "the reason."),
    server="http://127.0.0.1:8710",
    bearer={"type": "http", "scheme": "bearer",
            "description": "The gateway token (mtgw_...), bound to one terminal"},
    error=ErrorOut,
    not_here="Not available from a terminal",
    path_param=_path_param,
    door=_RULES,
    body={413: "Body larger than server.max_body_bytes",
          415: "Content-Type is not application/json"},
    door_bodies=False,
    answered={404: "Unknown symbol, or another account than the token's (-32006)",
              503: "The terminal's EA is not connected (-32001)",
              504: "The terminal did not answer in time (-32013)"},
)


def build_document(version: str = __version__) -> dict[str, Any]:
    """The mirror's OpenAPI document: every endpoint of the MT4 Web API table."""
    return openapi.build_document("daemon", PROFILE, version)


@functools.cache
def _body() -> bytes:
    """The served document, built once per process: it depends on the code alone, and
    building it (every model's JSON schema) costs more than the rest of a daemon's start."""
    return orjson.dumps(build_document())


def route() -> web.RouteDef:
    """``GET /api/openapi.json``: the document, built on the first request and kept (no token
    needed: it describes the surface and reveals nothing of any account). Not at start: few
    daemons are ever asked for it, and every one would pay for it before listening."""

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=_body(), content_type="application/json")

    return web.get("/api/openapi.json", serve)


def main() -> None:
    """``python -m gateway.openapi``: print the document (how ``docs/openapi/rest.json`` is
    written)."""
    import json

    print(json.dumps(build_document(), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""The OpenAPI 3.1 document of the REST mirror, generated from ``rest.ENDPOINTS`` and its models.

Served at ``GET /api/openapi.json`` (no token: it describes, it reveals nothing) and shipped
as ``docs/openapi/rest.json``, kept equal by a test. Every path and method of the document
the mirror follows is listed; the Manager-only ones with their 501 and the reason.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from aiohttp import web
from pydantic import BaseModel

from ._version import __version__
from .rest import ENDPOINTS, MAX_LOGIN, Endpoint
from .rest_models import ErrorOut
from .schemas import MAX_SYMBOL_LENGTH, SYMBOL_PATTERN

__all__ = ["OPENAPI_VERSION", "build_document", "route"]

OPENAPI_VERSION: Final = "3.1.0"
_REF: Final = "#/components/schemas/{model}"

#: Refusals every authenticated endpoint may answer, before its handler runs: the HTTP rules
#: shared with ``/rpc`` (their bodies are JSON-RPC error objects, ``id: null``).
_RULES: Final[dict[str, str]] = {
    "400": "A credential in the query string, or a bad param or body (-32602, field named)",
    "401": "Missing, malformed, unknown, expired or revoked token; device not approved",
    "403": "Origin not allowed",
    "405": "Method not listed for this path (Allow says which are)",
    "421": "Host not a loopback name (DNS rebinding guard)",
    "429": "Too many failed authentications (Retry-After)",
}


def _path_param(endpoint: Endpoint, name: str) -> dict[str, Any]:
    """A path parameter's schema: the rule its handler enforces, so that a request this
    document allows is one the server takes (and one it refuses, the document forbids)."""
    if name == "login":  # rest._login_of
        return {"type": "integer", "minimum": 1, "maximum": MAX_LOGIN}
    if name == "name" and endpoint.handler is not None:  # a symbol, as symbol_info takes it
        return {"type": "string", "minLength": 1, "maxLength": MAX_SYMBOL_LENGTH,
                "pattern": SYMBOL_PATTERN.pattern}
    return {"type": "integer"} if name == "order" else {"type": "string"}


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF, by_alias=True)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": _REF.format(model=model.__name__)}


def _json(description: str, ref: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _operation(endpoint: Endpoint, components: dict[str, Any]) -> dict[str, Any]:
    error = _schema(ErrorOut, components)
    op: dict[str, Any] = {
        "summary": endpoint.summary,
        "operationId": (endpoint.method.lower() + endpoint.path.replace("/", "_")
                        .replace("{", "").replace("}", "").replace("-", "_").rstrip("_")),
        "responses": {},
    }
    if endpoint.path_params:
        op["parameters"] = [{"name": name, "in": "path", "required": True,
                             "schema": _path_param(endpoint, name)}
                            for name in endpoint.path_params]
    responses: dict[str, Any] = op["responses"]
    if endpoint.why is not None:
        op["description"] = f"Not available from a terminal: {endpoint.why}"
        responses["501"] = _json(endpoint.why, error)
    elif endpoint.response is not None:
        responses["200"] = _json("OK", _schema(endpoint.response, components))
    if endpoint.body is not None:
        op["requestBody"] = {"required": False,
                             "content": {"application/json": {
                                 "schema": _schema(endpoint.body, components)}}}
        responses["413"] = {"description": "Body larger than server.max_body_bytes"}
        responses["415"] = {"description": "Content-Type is not application/json"}
    if endpoint.auth:
        op["security"] = [{"bearer": []}]
        for status, text in _RULES.items():
            responses.setdefault(status, {"description": text})
        if endpoint.handler is not None:
            responses["404"] = _json("Unknown symbol, or another account than the token's "
                                     "(-32006)", error)
            responses["503"] = _json("The terminal's EA is not connected (-32001)", error)
            responses["504"] = _json("The terminal did not answer in time (-32013)", error)
    else:
        op["security"] = []
    return op


def build_document(version: str = __version__) -> dict[str, Any]:
    """The OpenAPI document of every endpoint of :data:`gateway.rest.ENDPOINTS`."""
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(
            endpoint, components)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "MT Gateway REST mirror of the MT4 Web API",
            "version": version,
            "description": (
                "The endpoints of the MT4 Web API document a terminal can answer, with its "
                "paths and response shapes, on the daemon's loopback HTTP port. Same bearer "
                "token and HTTP rules as POST /rpc. Manager-only endpoints answer 501 with "
                "the reason."),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "http://127.0.0.1:8710"}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "The gateway token (mtgw_...), bound to one terminal"}},
        },
    }


def route() -> web.RouteDef:
    """``GET /api/openapi.json``: the document, built once (no token needed: it describes
    the surface and reveals nothing of any account)."""
    body = orjson.dumps(build_document())

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    return web.get("/api/openapi.json", serve)


def main() -> None:
    """``python -m gateway.openapi``: print the document (how ``docs/openapi/rest.json`` is
    written)."""
    import json

    print(json.dumps(build_document(), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

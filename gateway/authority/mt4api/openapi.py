"""The OpenAPI 3.1 document of the console's ``/api/``, made from ``table.ENDPOINTS`` and
its models.

Served at ``GET /api/openapi.json`` (no token: it describes, it reveals nothing) and shipped
as ``docs/openapi/console.json``, kept equal by a test and fuzzed by schemathesis
(``tests/e2e/test_fuzz_console_api.py``): every status an operation may answer is listed, so
an answer the document does not describe fails the fuzzing.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from aiohttp import web
from pydantic import BaseModel

from mtgateway._version import __version__

from .dispatch import Endpoint
from .models import MAX_LOGIN, ErrorOut
from .table import ENDPOINTS

__all__ = ["OPENAPI_VERSION", "build_document", "route"]

OPENAPI_VERSION: Final = "3.1.0"
_REF: Final = "#/components/schemas/{model}"

#: What every operation behind the bearer token may answer before its handler runs.
_DOOR: Final[dict[int, str]] = {
    401: "No bearer token, or one this console did not sign, expired, or issued before the "
         "owner's password changed",
    403: "Origin not this console's",
    405: "Method not listed for this path (Allow says which are)",
    421: "Host not a loopback name or [console] allowed_hosts (DNS rebinding guard)",
    503: "The console's database is not answering (Retry-After)",
}
#: What an operation with a JSON body may answer for the body itself.
_BODY: Final[dict[int, str]] = {
    400: "The body is not JSON", 413: "The body is larger than the console takes",
    415: "Content-Type is not application/json", 422: "A field is wrong (named)",
}


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF, by_alias=True)
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": _REF.format(model=model.__name__)}


def _json(description: str, ref: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _path_param(name: str) -> dict[str, Any]:
    if name in ("login", "order"):
        return {"type": "integer", "minimum": 1, "maximum": MAX_LOGIN}
    return {"type": "string", "minLength": 1, "maxLength": 64}


def _operation(endpoint: Endpoint, components: dict[str, Any]) -> dict[str, Any]:
    error = _schema(ErrorOut, components)
    op: dict[str, Any] = {
        "summary": endpoint.summary,
        "operationId": (endpoint.method.lower() + endpoint.path.replace("/", "_")
                        .replace("{", "").replace("}", "").replace("-", "_").rstrip("_")),
        "responses": {},
    }
    responses: dict[str, Any] = op["responses"]
    if endpoint.path_params:
        op["parameters"] = [{"name": name, "in": "path", "required": True,
                             "schema": _path_param(name)} for name in endpoint.path_params]
        if "login" in endpoint.path_params:
            responses["400"] = _json("The login is not an integer from 1 to 2^63-1", error)
    if endpoint.why is not None:
        op["description"] = f"Not answered by the console: {endpoint.why}"
        responses["501"] = _json(endpoint.why, error)
    elif endpoint.response is not None:
        code = "201" if endpoint.created else "200"
        responses[code] = _json("Created" if endpoint.created else "OK",
                                  _schema(endpoint.response, components))
    if endpoint.body is not None:
        needed = any(f.is_required() for f in endpoint.body.model_fields.values())
        op["requestBody"] = {"required": needed, "content": {"application/json": {
            "schema": _schema(endpoint.body, components)}}}
        for number, text in _BODY.items():
            responses.setdefault(str(number), _json(text, error))
    if endpoint.form:
        op["requestBody"] = {"required": True, "content": {
            "application/x-www-form-urlencoded": {"schema": {
                "type": "object", "required": ["username", "password"],
                "properties": {
                    "username": {"type": "string", "description": "the owner's e-mail"},
                    "password": {"type": "string"},
                    "otp": {"type": "string",
                            "description": "the two-step sign-in code, when it is on"}}}}}}
    for number, text in endpoint.statuses.items():
        if number == 202 and endpoint.response is not None:
            responses["202"] = _json(text, _schema(endpoint.response, components))
        else:
            responses.setdefault(str(number), _json(text, error))
    if endpoint.auth:
        op["security"] = [{"bearer": []}]
        for number, text in _DOOR.items():
            responses.setdefault(str(number), _json(text, error))
    else:
        op["security"] = []
        responses.setdefault("403", _json(_DOOR[403], error))
        responses.setdefault("405", _json(_DOOR[405], error))
        responses.setdefault("421", _json(_DOOR[421], error))
        if endpoint.form:
            responses.setdefault("413", _json(_BODY[413], error))
            responses.setdefault("503", _json(_DOOR[503], error))
    return op


def build_document(version: str = __version__) -> dict[str, Any]:
    """The OpenAPI document of every endpoint of :data:`~.table.ENDPOINTS`."""
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(
            endpoint, components)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "MT Gateway console: the MT4 Web API across an owner's accounts",
            "version": version,
            "description": (
                "The MT4 Web API document's endpoints as the console answers them for one "
                "owner: their registered accounts, groups, terminals online, margins and "
                "trades as their daemons read them, paper money, the kill switch and chart "
                "messages. Sign in with POST /api/auth/login (form: username, password, otp) "
                "and send the access token as Authorization: Bearer. Terminal-level "
                "endpoints are the daemon's and answer 501 here with the reason."),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "http://127.0.0.1:8720"}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "The access token of POST /api/auth/login (8 hours; an answer "
                               "to a token with less than an hour left carries a renewed one "
                               "in X-Access-Token)"}},
        },
    }


def route() -> web.RouteDef:
    """``GET /api/openapi.json``: the document, built once."""
    body = orjson.dumps(build_document())

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    return web.get("/api/openapi.json", serve)


def main() -> None:
    """``python -m gateway.authority.mt4api.openapi``: print the document (how
    ``docs/openapi/console.json`` is written)."""
    import json

    print(json.dumps(build_document(), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

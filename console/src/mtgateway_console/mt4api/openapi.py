"""The OpenAPI 3.1 document of the console's ``/api/``: the one builder
(``mtgateway_base/mt4web/openapi.py``) over the table's ``console`` column, with what the
console's door answers.

Served at ``GET /api/openapi.json`` (no token: it describes, it reveals nothing) and shipped
as ``docs/openapi/console.json``, kept equal by a test and fuzzed by schemathesis
(``console/tests/e2e/test_fuzz_console_api.py``): every status an operation may answer is listed, so
an answer the document does not describe fails the fuzzing.
"""

from __future__ import annotations

import functools
from typing import Any, Final

import orjson
from aiohttp import web

from mtgateway._version import __version__
from mtgateway_base.mt4web import openapi
from mtgateway_base.mt4web.console_models import ErrorOut
from mtgateway_base.mt4web.shared import MAX_LOGIN

__all__ = ["PROFILE", "build_document", "route"]

#: What every operation behind the bearer token may answer before its handler runs.
_DOOR: Final[dict[int, str]] = {
    401: "No bearer token, or one this console did not sign, expired, or whose sign-in ended "
         "(signed out, or the owner's password or two-step sign-in changed since)",
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


def _path_param(name: str, answered: bool) -> dict[str, Any]:
    """A login or a ticket is 1 to 2^63-1 (``users.login_of``); a group's name is text."""
    if name in ("login", "order"):
        return {"type": "integer", "minimum": 1, "maximum": MAX_LOGIN}
    return {"type": "string", "minLength": 1, "maxLength": 64}


#: How the console's document reads around the table's rows.
PROFILE: Final = openapi.Profile(
    title="MT Gateway console: the MT4 Web API across an owner's accounts",
    description=(
        "The MT4 Web API document's endpoints as the console answers them for one "
        "owner: their registered accounts, groups, terminals online, margins and "
        "trades as their daemons read them, paper money, the kill switch and chart "
        "messages. Sign in with POST /api/auth/login (form: username, password, otp) "
        "and send the access token as Authorization: Bearer. Terminal-level "
        "endpoints are the daemon's and answer 501 here with the reason."),
    server="http://127.0.0.1:8720",
    bearer={"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "The access token of POST /api/auth/login (8 hours; an answer "
                           "to a token with less than an hour left carries a renewed one "
                           "in X-Access-Token)"},
    error=ErrorOut,
    not_here="Not answered by the console",
    path_param=_path_param,
    door=_DOOR,
    body=_BODY,
    door_bodies=True,
    bad_login="The login is not an integer from 1 to 2^63-1",
    open_door={number: _DOOR[number] for number in (403, 405, 421)},
    form_door={413: _BODY[413], 503: _DOOR[503]},
)


def build_document(version: str = __version__) -> dict[str, Any]:
    """The console's OpenAPI document: every endpoint of the MT4 Web API table."""
    return openapi.build_document("console", PROFILE, version)


@functools.cache
def _body() -> bytes:
    """The served document, built once per process: it depends on the code alone, and
    building it (every model's JSON schema) costs more than the rest of a console's start."""
    return orjson.dumps(build_document())


def route() -> web.RouteDef:
    """``GET /api/openapi.json``: the document, built once."""
    body = _body()

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    return web.get("/api/openapi.json", serve)


def main() -> None:
    """``python -m mtgateway_console.mt4api.openapi``: print the document (how
    ``docs/openapi/console.json`` is written)."""
    import json

    print(json.dumps(build_document(), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""The console's door (``mtgateway_console/door/``): each step's refusal, for each entry point,
in the shape that entry point renders, and the steps in their one order.

Over real HTTP on loopback against the console (``consolekit``): the owner API and the device
calls answer ``{"error": {...}}``, the MT4 Web API ``{"status": "error", ...}``, the pages an
HTML page; a refusal is decided once, by the door, whichever renders it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.e2e.consolekit import OWNER, PASSWORD, Console

pytestmark = pytest.mark.network_edge

BASIC = "Basic " + base64.b64encode(f"{OWNER}:{PASSWORD}".encode()).decode()
WRONG = "Basic " + base64.b64encode(f"{OWNER}:not the password".encode()).decode()
FOREIGN = "http://evil.example"
JSON_TYPE = {"Content-Type": "application/json"}
#: A body past the console's 64 KiB.
HUGE = b'{"label": "' + b"x" * 70_000 + b'"}'


async def _call(console: Console, method: str, path: str, headers: dict[str, str],
                body: bytes | None = None) -> tuple[int, Any, dict[str, str]]:
    async with console.session.request(method, console.url + path, headers=headers,
                                       data=body, allow_redirects=False) as response:
        raw = await response.read()
        try:
            parsed: Any = json.loads(raw)
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return response.status, parsed, dict(response.headers)


async def _bearer(console: Console) -> str:
    async with console.session.post(console.url + "/api/auth/login",
                                    data={"username": OWNER, "password": PASSWORD}) as r:
        return "Bearer " + (await r.json())["access_token"]


def _owner_api(status: int, reason: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": status, "reason": reason, "message": message, **extra}}


def _mt4_api(status: int, reason: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"status": "error", "code": status, "message": message,
            "data": {"reason": reason, **extra}}


async def test_the_owner_api_answers_each_step_in_its_shape(console: Console) -> None:
    """Origin 403, media type 415 (before the password), the password 401 with Basic's
    challenge, the body 413, 400 and 422 naming each field, the router's 404 and 405: each
    ``{"error": ...}``."""
    origin = {"Authorization": BASIC, "Origin": FOREIGN, **JSON_TYPE}
    status, body, _ = await _call(console, "POST", "/v1/tokens", origin, b"{}")
    assert (status, body) == (403, _owner_api(403, "origin_refused", "requests from another "
                                              "web origin are refused (the owner API is not "
                                              "for pages of other sites)"))
    status, body, _ = await _call(console, "POST", "/v1/tokens",
                                  {"Authorization": WRONG, "Content-Type": "text/plain"}, b"{}")
    assert (status, body["error"]["reason"]) == (415, "unsupported_media_type")
    status, body, headers = await _call(console, "GET", "/v1/tokens", {"Authorization": WRONG})
    assert (status, body) == (401, _owner_api(401, "bad_credentials", "wrong e-mail or password"))
    assert headers["WWW-Authenticate"] == 'Basic realm="mtgateway", charset="UTF-8"'
    good = {"Authorization": BASIC, **JSON_TYPE}
    status, body, _ = await _call(console, "POST", "/v1/tokens", good, HUGE)
    assert (status, body) == (413, _owner_api(413, "body_too_large",
                                              "the request body is too large"))
    status, body, _ = await _call(console, "POST", "/v1/tokens", good, b"{nope")
    assert (status, body) == (400, _owner_api(400, "bad_json", "the body is not JSON"))
    status, body, _ = await _call(console, "GET", "/v1/nothing", {})
    assert (status, body) == (404, _owner_api(404, "not_found", "Not Found"))
    status, body, _ = await _call(console, "DELETE", "/v1/tokens", {})
    assert (status, body) == (405, _owner_api(405, "http_error", "Method Not Allowed"))


async def test_a_refused_body_names_each_field_on_every_json_entry_point(
        console: Console) -> None:
    """A body a model refuses is answered with every field named, in the message and as
    ``fields`` (the owner API and the device calls said it in the message alone)."""
    good = {"Authorization": BASIC, **JSON_TYPE}
    status, body, _ = await _call(console, "POST", "/v1/tokens", good, b'{"login": -1}')
    fields = [{"field": "login", "error": "Input should be greater than 0"},
              {"field": "server", "error": "Field required"}]
    assert (status, body) == (422, _owner_api(
        422, "invalid_request", "login: Input should be greater than 0; server: Field required",
        fields=fields))
    status, body, _ = await _call(console, "POST", "/v1/hello", JSON_TYPE, b'{"nonce": "x"}')
    assert status == 400 and body["error"]["reason"] == "invalid_request"
    assert [f["field"] for f in body["error"]["fields"]] == ["nonce"]
    bearer = {"Authorization": await _bearer(console), **JSON_TYPE}
    status, body, _ = await _call(console, "POST", "/api/users/", bearer, b'{"login": 0}')
    assert status == 422 and body["data"]["reason"] == "invalid_request"
    assert {f["field"] for f in body["data"]["fields"]} >= {"name", "broker", "login", "server"}


async def test_a_device_call_is_refused_before_its_body_is_read(console: Console) -> None:
    """No proof: 401 naming the check, in the owner API's shape; no body is judged first."""
    status, body, _ = await _call(console, "POST", "/v1/device/verify", JSON_TYPE, b"{nope")
    assert (status, body) == (401, _owner_api(401, "missing_device_proof",
                                              "the device proof was refused"))


async def test_the_mt4_api_answers_each_step_in_the_documents_shape(console: Console) -> None:
    """The table's 405 with Allow, then Origin 403, media type 415 before the token, the
    token 401 with Bearer's challenge, 501 for what the console does not answer, the body's
    413 and 400, and an unknown path: 401 to a stranger, 404 to a token holder; each
    ``{"status": "error", ...}`` with the pages' headers."""
    bearer = await _bearer(console)
    status, body, headers = await _call(console, "PATCH", "/api/users/", {"Origin": FOREIGN})
    assert (status, body) == (405, _mt4_api(405, "method_not_allowed",
                                            "use GET, POST for /api/users/",
                                            allowed="GET, POST"))
    assert headers["Allow"] == "GET, POST"
    status, body, headers = await _call(console, "GET", "/api/users/", {"Origin": FOREIGN})
    assert (status, body) == (403, _mt4_api(403, "origin_refused", "requests from another web "
                                            "origin are refused (the API is not for pages of "
                                            "other sites)"))
    assert headers["X-Frame-Options"] == "DENY" and "Content-Security-Policy" in headers
    status, body, _ = await _call(console, "POST", "/api/users/",
                                  {"Content-Type": "text/plain"}, b"{}")
    assert (status, body) == (415, _mt4_api(415, "unsupported_media_type", "the body must be "
                                            "JSON with Content-Type: application/json"))
    status, body, headers = await _call(console, "GET", "/api/users/", {})
    assert (status, body["data"]["reason"]) == (401, "missing_token")
    assert headers["WWW-Authenticate"] == 'Bearer realm="mtgateway-console"'
    status, body, _ = await _call(console, "GET", "/api/symbols/", {"Authorization": bearer})
    assert (status, body["data"]) == (501, {"reason": "not_on_the_console",
                                            "endpoint": "/api/symbols/"})
    with_token = {"Authorization": bearer, **JSON_TYPE}
    status, body, _ = await _call(console, "POST", "/api/users/", with_token, HUGE)
    assert (status, body) == (413, _mt4_api(413, "body_too_large",
                                            "the request body is too large"))
    status, body, _ = await _call(console, "POST", "/api/users/", with_token, b"{")
    assert (status, body) == (400, _mt4_api(400, "bad_json", "the body is not JSON"))
    assert (await _call(console, "GET", "/api/nothing", {}))[0] == 401
    status, body, _ = await _call(console, "GET", "/api/nothing", {"Authorization": bearer})
    assert (status, body) == (404, _mt4_api(404, "not_found",
                                            "no such endpoint: GET /api/nothing"))


async def test_the_pages_answer_every_refusal_with_a_page(console: Console) -> None:
    """An unknown address, a method not allowed and a form past the size limit: an HTML
    page with the pages' headers (the form's 413 was JSON)."""
    for method, path, body, status in (("GET", "/nothing", None, 404),
                                       ("DELETE", "/live", None, 405),
                                       ("POST", "/login", b"csrf=" + b"x" * 70_000, 413)):
        answer = await _call(console, method, path,
                             {"Content-Type": "application/x-www-form-urlencoded"}, body)
        assert answer[0] == status, (method, path)
        assert answer[2]["Content-Type"].startswith("text/html")
        assert answer[2]["X-Frame-Options"] == "DENY"
        assert "<!doctype html>" in answer[1]


async def test_a_foreign_host_is_refused_before_any_entry_point(console: Console) -> None:
    """421 in the console's own shape, whichever entry point the path is for."""
    for path in ("/v1/tokens", "/api/users/", "/login"):
        status, body, _ = await _call(console, "GET", path, {"Host": "evil.example"})
        assert (status, body) == (421, _owner_api(421, "misdirected", "this Host is not served "
                                                  "here (only loopback or [console] "
                                                  "allowed_hosts)"))

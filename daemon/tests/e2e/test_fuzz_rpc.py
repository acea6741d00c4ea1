"""``POST /rpc`` fuzzed from its own OpenRPC document, against the real daemon with an emulated
terminal (in a thread of its own, as the REST mirror's fuzzing: see ``daemonthread.py``).

The document (``docs/openrpc/mtgateway.json``, built by :func:`gateway.openrpc.build_document`)
describes each method's params as JSON Schemas and its result as a schema of
``components.schemas``. Requests are generated from those schemas by schemathesis's generator
(the one the REST mirror's test uses): each method's params become the JSON body of one
operation of an OpenAPI view of the document (:func:`_as_openapi`), so the generator sees the
very schemas the OpenRPC document publishes, and the test wraps every generated body in a
JSON-RPC call of that method. For every method:

* **params the document allows** get either a result valid against the method's result schema,
  or an error the document lists (``components.errors``), never -32603 (an internal error is a
  bug), and a -32602 only for a rule across params the method's description states, never for
  a value its own schema allows (the document states every field's type and bounds);
* **params the document forbids** (schemathesis's negative mode: a wrong type, a missing
  required param, a value out of range, an unknown param) get -32602 invalid params, or -32600
  when the params are not an object or array at all; never a result. (A generated array is
  skipped: it is the params by position, which the object's schema does not describe.)

Every answer is HTTP 200 with a JSON-RPC 2.0 response of the request's id.

Bounded: :data:`EXAMPLES` requests per method and mode, on each loop, derandomized (Hypothesis
seeds them by the test id), so a run takes the same cases each time. A generated string holding
a lone surrogate (which UTF-8 cannot carry, so no client can send it) is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import jsonschema
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode

from gateway import errors
from gateway.methods import method_table
from gateway.openrpc import WS_METHODS, build_document
from tests.e2e.daemonthread import LOOPS, ThreadedDaemon, daemon_in_thread

pytestmark = pytest.mark.network_edge

#: Generated requests per method, per mode, on each loop: 48 methods, bounded CI time.
EXAMPLES: Final = 12

DOCUMENT: Final = build_document(method_table())
COMPONENTS: Final = DOCUMENT["components"]
#: The methods ``/rpc`` answers (the WebSocket's own are fuzzed in test_ws_rfc6455.py's way).
METHODS: Final = {m["name"]: m for m in DOCUMENT["methods"] if m["name"] not in WS_METHODS}
#: The codes the document lists, less the one a correct daemon never sends.
DOCUMENTED_CODES: Final = ({e["code"] for e in COMPONENTS["errors"].values()}
                           - {errors.INTERNAL_ERROR})
#: How the params models word a value refused by its own field's type or bounds: the document
#: states those, so a call it allows never meets one. Rules across params (a cursor or the
#: fields, ``date_to`` not before ``date_from``, a margin's action buy or sell) are in the
#: methods' descriptions and answered -32602 in their own words.
FIELD_REFUSAL: Final = "Input should be"
_SETTINGS: Final = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                            database=None, suppress_health_check=list(HealthCheck))


def _as_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenRPC document as OpenAPI: one ``POST /<method>`` per method whose JSON body is
    the method's params by name (required as the document says, no others), the components'
    schemas unchanged (their ``#/components/schemas/…`` references resolve the same way)."""
    paths: dict[str, Any] = {}
    for method in document["methods"]:
        body: dict[str, Any] = {
            "type": "object", "additionalProperties": False,
            "properties": {p["name"]: p["schema"] for p in method["params"]}}
        if required := [p["name"] for p in method["params"] if p.get("required")]:
            body["required"] = required
        paths[f"/{method['name']}"] = {"post": {
            "operationId": method["name"],
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": body}}},
            "responses": {"200": {"description": "a JSON-RPC response"}}}}
    return {"openapi": "3.1.0", "info": {"title": "params of " + document["info"]["title"],
                                         "version": document["info"]["version"]},
            "paths": paths, "components": {"schemas": document["components"]["schemas"]}}


SCHEMA: Final = schemathesis.openapi.from_dict(_as_openapi(DOCUMENT))


def _result_validator(method: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**method["result"]["schema"],
                                            "components": COMPONENTS})


@pytest.fixture(scope="module", params=sorted(LOOPS))
def daemon(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[ThreadedDaemon]:
    """One daemon per loop for the module."""
    data_dir: Path = tmp_path_factory.mktemp(f"rpc-fuzz-{request.param}")
    data_dir.chmod(0o700)
    with daemon_in_thread(data_dir, LOOPS[request.param]) as running:
        yield running


@pytest.fixture(scope="module")
def call(daemon: ThreadedDaemon) -> Iterator[Any]:
    """``call(method, params)``: the JSON-RPC response of one ``POST /rpc``, checked for its
    envelope (HTTP 200, JSON, version, the request's id)."""
    with requests.Session() as http:
        # loopback: no proxy, which requests would otherwise look for in the environment
        # at every request (each variable read: ~0.3 ms of CPU a call, thousands of calls)
        http.trust_env = False
        http.headers["Authorization"] = f"Bearer {daemon.token}"
        counter = iter(range(1, 1 << 62))

        def send(method: str, params: Any) -> dict[str, Any]:
            try:
                body = json.dumps({"jsonrpc": "2.0", "id": (rid := next(counter)),
                                   "method": method, "params": params},
                                  ensure_ascii=False).encode()
            except UnicodeEncodeError:  # a lone surrogate: no UTF-8 client can send it
                assume(False)
            answer = http.post(f"{daemon.base_url}/rpc", data=body, timeout=30,
                               headers={"Content-Type": "application/json"})
            assert answer.status_code == 200, (answer.status_code, answer.text)
            response: dict[str, Any] = answer.json()
            assert response["jsonrpc"] == "2.0" and response["id"] == rid, response
            assert ("result" in response) != ("error" in response), response
            return response

        yield send


@pytest.mark.parametrize("name", sorted(METHODS))
def test_params_the_document_allows_get_a_documented_answer(name: str, call: Any) -> None:
    """A schema-valid call gets a result valid against the method's result schema, or a
    documented error: not internal, and not a field refused by its own schema."""
    validator = _result_validator(METHODS[name])

    @_SETTINGS
    @given(case=SCHEMA[f"/{name}"]["POST"].as_strategy(GenerationMode.POSITIVE))
    def allowed(case: schemathesis.Case) -> None:
        response = call(name, case.body)
        if "result" in response:
            problems = [e.message for e in validator.iter_errors(response["result"])]
            assert problems == [], (case.body, response["result"], problems)
        else:
            error = response["error"]
            assert error["code"] in DOCUMENTED_CODES, (case.body, error)
            if error["code"] == errors.INVALID_PARAMS:  # only a rule across params
                assert FIELD_REFUSAL not in error["message"], (case.body, error)

    allowed()


@pytest.mark.parametrize("name", sorted(m for m in METHODS if METHODS[m]["params"]))
def test_params_the_document_forbids_are_refused(name: str, call: Any) -> None:
    """A call whose params break the method's schema gets -32602 (or -32600 when the params
    are not an object or array), never a result."""

    @_SETTINGS
    @given(case=SCHEMA[f"/{name}"]["POST"].as_strategy(GenerationMode.NEGATIVE))
    def forbidden(case: schemathesis.Case) -> None:
        try:
            json.dumps(case.body)
        except TypeError:  # bytes: a body of another media type, not a JSON value
            assume(False)
        # An array is the params by position, which the object's schema does not describe.
        assume(not isinstance(case.body, list))
        response = call(name, case.body)
        expected = (errors.INVALID_PARAMS if isinstance(case.body, dict)
                    else errors.INVALID_REQUEST)
        assert response.get("error", {}).get("code") == expected, (case.body, response)

    forbidden()

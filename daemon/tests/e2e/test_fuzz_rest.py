"""The REST mirror fuzzed from its own OpenAPI document, by schemathesis, against the real
daemon with an emulated terminal (in a thread of its own: schemathesis calls through
``requests``, which blocks).

For every operation of ``docs/openapi/rest.json`` schemathesis generates requests from the
document (schema-valid ones, and invalid ones for the negative checks), sends them with the
token, and checks each answer:

* no server error: a 500 never; the only 5xx are the document's own (501 for a Manager-only
  endpoint, 503 with no EA, 504 when the EA is late);
* every status the server answers is one the operation documents, with the documented content
  type and a body valid against the documented schema;
* a request the document allows is accepted, one it forbids is refused (4xx): the document
  states the constraints the server enforces (a login's range, a symbol's pattern);
* a request without the token is refused 401, not served.

Bounded: :data:`EXAMPLES` per operation and per loop, seeded by the test id (Hypothesis's
derandomize), so a run takes the same cases each time and CI time stays fixed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from gateway.openapi import build_document
from tests.e2e.daemonthread import LOOPS, ThreadedDaemon, daemon_in_thread

pytestmark = pytest.mark.network_edge

#: Generated requests per operation (on each loop): 34 operations, bounded CI time.
EXAMPLES = 40

CONFIG = schemathesis.Config.from_dict({
    "checks": {
        # The document's own 5xx are answers, not failures: 501 (Manager-only), 503 (no EA),
        # 504 (the EA late). A 500 (or any other 5xx) is.
        "not_a_server_error": {"expected-statuses": ["1XX", "2XX", "3XX", "4XX",
                                                     "501", "503", "504"]},
    },
})
SCHEMA = schemathesis.openapi.from_dict(build_document(), config=CONFIG)


@pytest.fixture(scope="module", params=sorted(LOOPS))
def daemon(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[ThreadedDaemon]:
    """One daemon per loop for the module, its failed-auth lockout out of reach (the
    unauthenticated probes must meet the 401, not the brute-force guard's 429)."""
    data_dir: Path = tmp_path_factory.mktemp(f"rest-fuzz-{request.param}")
    data_dir.chmod(0o700)
    with daemon_in_thread(data_dir, LOOPS[request.param],
                          auth_failure_limit=100_000) as running:
        yield running


@pytest.fixture(scope="module")
def http(daemon: ThreadedDaemon) -> Iterator[requests.Session]:
    with requests.Session() as session:
        # loopback: no proxy, which requests would otherwise look for in the environment
        # at every request (each variable read: ~0.3 ms of CPU a call, thousands of calls)
        session.trust_env = False
        yield session


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_its_document_says(
        case: schemathesis.Case, daemon: ThreadedDaemon, http: requests.Session) -> None:
    """Every generated request of the operation gets a documented answer (see the module's
    docstring for the checks)."""
    case.call_and_validate(base_url=daemon.base_url, session=http,
                           headers={"Authorization": f"Bearer {daemon.token}"}, timeout=30)

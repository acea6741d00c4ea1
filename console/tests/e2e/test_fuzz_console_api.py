"""Issue 46 item 6: the console's ``/api/`` fuzzed from its own OpenAPI document by
schemathesis, as the daemon's REST mirror is (``test_fuzz_rest.py``), against the real
console in a thread (``consolethread.py``: schemathesis calls through ``requests``).

For every operation of ``docs/openapi/console.json`` schemathesis generates requests from the
document and checks each answer: no 500 (the only 5xx are the document's: 501 for what the
daemon answers, 503 for a database that does not answer); every status is one the operation
documents, with a body valid against its schema; a request the document allows is accepted,
one it forbids refused; a request without the token is refused 401.

Bounded: :data:`EXAMPLES` per operation and per loop, derandomized, so a run takes the same
cases each time and CI time stays fixed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from mtgateway_console.mt4api.openapi import build_document
from tests.e2e.consolethread import ThreadedConsole, console_in_thread
from tests.e2e.daemonthread import LOOPS

pytestmark = pytest.mark.network_edge

#: Generated requests per operation (on each loop): 34 operations, bounded CI time.
EXAMPLES = 25

CONFIG = schemathesis.Config.from_dict({
    "checks": {
        "not_a_server_error": {"expected-statuses": ["1XX", "2XX", "3XX", "4XX", "501",
                                                     "503"]},
    },
})
SCHEMA = schemathesis.openapi.from_dict(build_document(), config=CONFIG)


@pytest.fixture(scope="module", params=sorted(LOOPS))
def console(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[ThreadedConsole]:
    data_dir: Path = tmp_path_factory.mktemp(f"console-api-fuzz-{request.param}")
    data_dir.chmod(0o700)
    with console_in_thread(data_dir, LOOPS[request.param]) as running:
        yield running


@pytest.fixture(scope="module")
def http(console: ThreadedConsole) -> Iterator[requests.Session]:
    with requests.Session() as session:
        # loopback: no proxy, which requests would otherwise look for in the environment
        # at every request (each variable read: ~0.3 ms of CPU a call, thousands of calls)
        session.trust_env = False
        yield session


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_its_document_says(
        case: schemathesis.Case, console: ThreadedConsole, http: requests.Session) -> None:
    """Every generated request of the operation gets a documented answer (see the module's
    docstring for the checks)."""
    case.call_and_validate(base_url=console.url, session=http,
                           headers={"Authorization": f"Bearer {console.token}"}, timeout=30)

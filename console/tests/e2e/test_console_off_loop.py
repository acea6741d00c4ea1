"""No store call on the console's event loop (issue 32 item 1), held by asyncio itself.

The console runs on a real PostgreSQL reached through :class:`~tests.latencykit.LatencyProxy`,
which delays every byte the server sends by :data:`ROUND_TRIP_S`: every statement, BEGIN and
COMMIT then costs at least one such round trip. asyncio's debug mode logs each callback (a
task's step, a protocol's read) that held the loop for ``slow_callback_duration`` or longer;
here that is under half of one round trip. Owner API calls, a device's lookup and status, the
dashboard and the device page (the requests that ran 7-10 transactions each on the loop before
the door) must not produce one such line. The detector is shown to catch one synchronous
query on the loop, so its silence means something.

The pages are rendered once first (templates are compiled once per process); then the round
of requests is watched. The console starts, the owner signs in and the pages warm up at no
latency (nothing is watched then); the proxy's delay is raised to :data:`ROUND_TRIP_S` before
the watched rounds and the detector's own check, so only they pay the round trips.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.e2e.consolekit import (
    OWNER,
    PASSWORD,
    Browser,
    Console,
    issue_token,
    pending_lookup,
    running_console,
)
from tests.latencykit import LatencyProxy
from tests.pgkit import PostgresServer

#: What the proxy adds to every answer of the server (one network round trip away).
ROUND_TRIP_S = 0.12
#: asyncio's threshold: a callback this long is logged (under half a round trip; on a loaded
#: 2-core machine a callback preempted by other processes took up to 32 ms, a store call on
#: the loop takes at least one round trip).
SLOW_S = 0.05


#: The callback in asyncio's "Executing <...> took" line: a task's coroutine or a handle's.
_CALLBACK = re.compile(
    r"coro=<([\w.<>]+)\(|^Executing <(?:Timer)?Handle (?:when=\S+ )?([\w.<>]+)\(")


class SlowCallbacks(logging.Handler):
    """The ``asyncio`` logger's "Executing <callback> took N seconds" lines, but for the
    test coroutine's own steps."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        # the test's own steps (its HTTP client) are not the console's
        if line.startswith("Executing ") and "coro=<test_" not in line:
            self.lines.append(line)


@pytest.fixture
def slow_callbacks() -> Iterator[SlowCallbacks]:
    handler = SlowCallbacks()
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@dataclass(frozen=True)
class FarDatabase:
    """A fresh database behind a :class:`LatencyProxy`: its URL through the proxy."""

    url: str
    proxy: LatencyProxy


@pytest.fixture
def far_database(postgres: PostgresServer) -> Iterator[FarDatabase]:
    """A fresh database behind the proxy, at no latency until the test raises it."""
    url = postgres.new_database()
    with LatencyProxy(postgres.port, 0.0) as proxy:
        yield FarDatabase(url.replace(f":{postgres.port}/", f":{proxy.port}/"), proxy)


@pytest.fixture
async def far_console(tmp_path: Path, far_database: FarDatabase) -> AsyncIterator[Console]:
    """The console on the database behind the proxy."""
    async with running_console(tmp_path, far_database.url) as console:
        yield console


async def _pages(browser: Browser) -> None:
    for path in ("/", "/devices"):
        page = await browser.get(path)
        assert page.status == 200, (path, page.text[:200])


async def _a_round_of_requests(console: Console, browser: Browser) -> None:
    """What an owner and a daemon do: a token, the token list, a device's lookup and status,
    the dashboard, the device page, the probes."""
    token = (await issue_token(console))["token"]
    assert (await console.owner("GET", "/v1/tokens"))[0] == 200
    await pending_lookup(console, token)
    assert (await console.device("GET", "/v1/device/status"))[0] == 200
    await _pages(browser)
    async with console.session.get(console.url + "/ready") as response:
        assert response.status == 200


async def test_no_store_call_holds_the_console_loop(
        far_console: Console, far_database: FarDatabase,
        slow_callbacks: SlowCallbacks) -> None:
    loop = asyncio.get_running_loop()
    browser = Browser(far_console.url)
    # for the detector's own check (connected before the loop is watched)
    conn = await asyncio.to_thread(psycopg.connect, far_database.url)
    try:
        assert (await browser.sign_in(OWNER, PASSWORD)).status == 303
        await _pages(browser)  # warm: the templates, the pool
        far_database.proxy.delay(ROUND_TRIP_S)  # the database one round trip away from now
        loop.set_debug(True)
        loop.slow_callback_duration = SLOW_S
        try:
            started = time.monotonic()
            await _a_round_of_requests(far_console, browser)
            elapsed = time.monotonic() - started
            first, slow_callbacks.lines = slow_callbacks.lines, []
            if first:
                # A store call on the loop holds it at every call (a round trip, 2.4x the
                # threshold); another process taking the CPU holds it once, anywhere (CI:
                # Readiness._ask, 0.563 s, 2026-11-26, while two test workers and Chromium
                # shared the two cores). So a callback counts when it is slow again in a
                # second round.
                await _a_round_of_requests(far_console, browser)
            again, slow_callbacks.lines = slow_callbacks.lines, []
            assert not callbacks_of(first) & callbacks_of(again), (first, again)
            # the detector's own check: one synchronous query on the loop is caught
            loop.call_soon(conn.execute, "SELECT 1")
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        finally:
            loop.set_debug(False)
    finally:
        conn.close()
        await browser.close()
    # the round really waited on the database: dozens of round trips
    assert elapsed > 10 * ROUND_TRIP_S
    assert len(slow_callbacks.lines) == 1 and "execute" in slow_callbacks.lines[0]
    assert callbacks_of(slow_callbacks.lines) == {"Connection.execute"}


def callbacks_of(lines: list[str]) -> set[str]:
    """What each "Executing <...> took N s" line ran: a task's coroutine or a handle's
    callback, by name, without the task's number or an object's address."""
    names = set()
    for line in lines:
        found = _CALLBACK.search(line)
        names.add((found.group(1) or found.group(2)) if found else line)
    return names


def test_a_slow_callback_is_named_the_same_in_every_round() -> None:
    task = ("Executing <Task pending name='Task-21857' coro=<Readiness._ask() running at "
            "/x/gateway/authority/readiness.py:149> wait_for=<Future pending> created at "
            "/x/tasks.py:680> took 0.563 seconds")
    other_task = task.replace("Task-21857", "Task-9").replace("0.563", "0.061")
    handle = ("Executing <Handle Connection.execute('SELECT 1') created at /x/t.py:1> took "
              "0.121 seconds")
    assert callbacks_of([task]) == callbacks_of([other_task]) == {"Readiness._ask"}
    assert callbacks_of([handle]) == {"Connection.execute"}
    # a callback run by call_later: the same name, whatever its deadline
    timer = ("Executing <TimerHandle when=1234.5 Connection.execute('SELECT 1') created at "
             "/x/t.py:1> took 0.130 seconds")
    assert callbacks_of([timer]) == {"Connection.execute"}
    assert not callbacks_of([task]) & callbacks_of([handle])

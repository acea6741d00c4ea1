"""The console meets its PostgreSQL's faults as a hosted service does (issue 32 item 2).

A real PostgreSQL of this module's own (paused with SIGSTOP, stopped, started again: the
session's shared server must not be), a real console on loopback with short database timeouts
(connect 0.5 s, statement 0.5 s: a request that needs the database is answered within 1 s).
Throughout, ``/health`` answers before a request waiting on the database does, ``/ready`` says
``database_unreachable`` (from the state its background check keeps: asked while a request
still waits on the stalled database, it answers first), a request that needs the database
answers 503 ``database_unavailable`` (never 500, never a hang), and once the database is back
the console answers again without a restart, with every token it acknowledged and none it
refused. Both event loops (``network_edge``).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest
from aiohttp import web
from pydantic import SecretStr

from gateway.config import AuthorityConfig
from mtgateway_console.appkeys import READINESS
from mtgateway_console.config import ConsoleConfig, ConsoleFile
from mtgateway_console.console import AUTHORITY, create_console_app, start_console
from mtgateway_console.database import APPLICATION_NAME
from mtgateway_console.mailer import RecordingMailer
from tests.e2e.consolekit import OWNER, PASSWORD, CountingClock, Pauses
from tests.pgkit import PostgresServer

pytestmark = pytest.mark.network_edge

#: The console's database timeouts here (their sum bounds a request's wait).
CONNECT_S = STATEMENT_S = 0.5
BASIC = "Basic " + base64.b64encode(f"{OWNER}:{PASSWORD}".encode()).decode()


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """This module's own server: its tests stop and pause it."""
    with PostgresServer() as pg:
        yield pg


@dataclass
class Served:
    url: str
    app: web.Application
    http: aiohttp.ClientSession

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, self.url + path, json=body,
                                     headers={"Authorization": BASIC}) as response:
            answer = await response.json()
            if response.status == 503:
                assert response.headers.get("Retry-After") or path == "/ready", answer
            return response.status, answer

    async def issue(self, login: int) -> tuple[int, Any]:
        return await self.call("POST", "/v1/tokens", {"login": login, "server": "MTG-Demo"})

    async def readiness(self, ready: bool) -> None:
        """Until the console's readiness check has found the database answering (or not)."""
        await self.app[READINESS].wait_for(lambda state: state.ready == ready)

    async def token_ids(self) -> set[str]:
        status, body = await self.call("GET", "/v1/tokens")
        assert status == 200, body
        return {t["token_id"] for t in body["tokens"]}


async def _console(tmp_path: Path, url: str, statement_s: float = STATEMENT_S
                   ) -> tuple[web.AppRunner, Served]:
    config = ConsoleFile(
        data_dir=str(tmp_path), console=ConsoleConfig(port=0),
        authority=AuthorityConfig(database_url=SecretStr(url),
                                  database_connect_timeout_s=CONNECT_S,
                                  database_statement_timeout_s=statement_s))
    app = create_console_app(config, mailer=RecordingMailer(), throttle_clock=CountingClock(),
                             sleep=Pauses())
    runner, port = await start_console(app, "127.0.0.1", 0)
    return runner, Served(f"http://127.0.0.1:{port}", app, aiohttp.ClientSession())


@pytest.fixture
async def served(tmp_path: Path, server: PostgresServer) -> AsyncIterator[Served]:
    runner, served = await _console(tmp_path, server.new_database())
    await served.app[AUTHORITY].owners.create(OWNER, PASSWORD)
    yield served
    await served.http.close()
    await runner.cleanup()


async def _while_waiting_on_the_database(served: Served) -> None:
    """A request that needs the database answers 503 ``database_unavailable``; ``/health``,
    asked meanwhile, answers first; ``/ready`` says ``database_unreachable``."""
    waiting = asyncio.create_task(served.call("GET", "/v1/tokens"))
    assert await served.call("GET", "/health") == (200, {"status": "ok"})
    assert not waiting.done()  # /health did not wait for the database
    status, body = await waiting
    assert (status, body["error"]["reason"]) == (503, "database_unavailable"), body
    assert "database" in body["error"]["message"]
    await served.readiness(False)
    assert await served.call("GET", "/ready") == (
        503, {"status": "not_ready", "reason": "database_unreachable"})


async def test_a_paused_database(served: Served, server: PostgresServer) -> None:
    """SIGSTOP: connections stay open and nothing answers; a token asked for meanwhile is
    refused (503) and never appears; SIGCONT: the console answers again by itself."""
    status, kept = await served.issue(5012345)
    assert status == 201
    server.pause()
    try:
        await _while_waiting_on_the_database(served)
        status, body = await served.issue(5012346)
        assert (status, body["error"]["reason"]) == (503, "database_unavailable")
    finally:
        server.resume()
    assert await served.token_ids() == {kept["token_id"]}
    await served.readiness(True)
    assert (await served.call("GET", "/ready"))[0] == 200


async def test_ready_answers_at_once_through_a_stall(tmp_path: Path,
                                                    server: PostgresServer) -> None:
    """PostgreSQL paused (SIGSTOP) under a console whose requests may wait 30 s for it: once
    the background check has seen the stall, ``/ready`` answers 503 database_unreachable while
    a request asked before it still waits on the database (it reads a state, it asks
    nothing); resumed, the waiting request is answered and ``/ready`` says ready again. Before
    the background check, ``/ready`` asked the database itself and waited the 30 s too."""
    runner, served = await _console(tmp_path, server.new_database(), statement_s=30.0)
    try:
        await served.app[AUTHORITY].owners.create(OWNER, PASSWORD)
        await served.readiness(True)
        server.pause()
        try:
            waiting = asyncio.create_task(served.call("GET", "/v1/tokens"))
            await served.readiness(False)
            assert await served.call("GET", "/ready") == (
                503, {"status": "not_ready", "reason": "database_unreachable"})
            assert not waiting.done()  # the stall is still under way
        finally:
            server.resume()
        assert await waiting == (200, {"tokens": []})
        await served.readiness(True)
        assert (await served.call("GET", "/ready"))[0] == 200
    finally:
        await served.http.close()
        await runner.cleanup()


async def test_a_stopped_then_started_database(served: Served,
                                               server: PostgresServer) -> None:
    """Stopped (its sessions ended): 503 until it is started again, then every acknowledged
    token is there; a restart while the console is idle costs no request."""
    status, kept = await served.issue(5012345)
    assert status == 201
    server.halt()
    try:
        await _while_waiting_on_the_database(served)
        status, body = await served.issue(5012346)
        assert (status, body["error"]["reason"]) == (503, "database_unavailable")
    finally:
        server.restart()
    assert await served.token_ids() == {kept["token_id"]}
    server.halt()
    server.restart()  # every pooled connection is dead now: replaced, the request answered
    assert await served.token_ids() == {kept["token_id"]}


async def test_a_database_unreachable_at_start(tmp_path: Path,
                                               server: PostgresServer) -> None:
    """The console starts while its database is stopped: it serves (``/health``), says it
    is not ready, answers 503; once the database is up it is ready without a restart."""
    url = server.new_database()
    server.halt()
    try:
        runner, served = await _console(tmp_path, url)
        try:
            await _while_waiting_on_the_database(served)
        finally:
            server.restart()
        await served.readiness(True)
        assert (await served.call("GET", "/ready"))[0] == 200
        await served.app[AUTHORITY].owners.create(OWNER, PASSWORD)
        status, issued = await served.issue(5012345)
        assert status == 201
        assert await served.token_ids() == {issued["token_id"]}
    finally:
        await served.http.close()
        await runner.cleanup()


async def test_a_connection_killed_mid_transaction(tmp_path: Path,
                                                   server: PostgresServer) -> None:
    """The console's backend is terminated while its transaction waits on a lock: the
    transaction is run again on a fresh connection and the token is issued once."""
    url = server.new_database()
    runner, served = await _console(tmp_path, url, statement_s=30.0)
    try:
        await served.app[AUTHORITY].owners.create(OWNER, PASSWORD)
        with psycopg.connect(url) as blocker, psycopg.connect(url, autocommit=True) as watcher:
            blocker.execute("LOCK TABLE tokens IN ACCESS EXCLUSIVE MODE")
            issuing = asyncio.create_task(served.issue(5012345))
            killed = 0
            while not killed:  # until the console's transaction waits on the lock
                assert not issuing.done(), issuing.result()
                row = await asyncio.to_thread(lambda: watcher.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = %s AND wait_event_type = 'Lock'",
                    (APPLICATION_NAME,)).fetchone())
                killed = row[0] if row else 0
            blocker.rollback()
        status, issued = await issuing
        assert status == 201, issued
        assert await served.token_ids() == {issued["token_id"]}
    finally:
        await served.http.close()
        await runner.cleanup()

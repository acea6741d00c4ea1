"""``serve_as_work``: an answer whose client has already hung up is dropped quietly.

A daemon that gives up on a call (its 10 s timeout) closes its connection; the console still
finishes the call and writes the answer into a closed transport. That write used to raise out
of the handler, so aiohttp logged "Error handling request" with a whole traceback for every
such call: in a restart storm of 10,000 daemons, ~15,000 tracebacks, formatted and redacted
on the event loop (a tenth of its time, measured with py-spy), and an operator's log buried.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp import web

from mtgateway_base.guard import (
    BUDGET,
    ConnectionBudget,
    ConnectionLimits,
    GuardedSite,
    Refusals,
    work_middleware,
)

pytestmark = pytest.mark.network_edge


async def test_an_answer_to_a_client_that_left_is_dropped_without_an_error(
        caplog: pytest.LogCaptureFixture) -> None:
    budget = ConnectionBudget(ConnectionLimits(max_connections=16, header_timeout_s=10),
                              Refusals(misdirected=b"421", busy=b"503"))
    asked, answer, ended = asyncio.Event(), asyncio.Event(), asyncio.Event()
    outcome: list[str] = []

    @web.middleware
    async def watch(request: web.Request, handler: object) -> web.StreamResponse:
        try:
            response = await handler(request)  # type: ignore[operator]
            outcome.append(f"returned {response.status}")
            return response  # type: ignore[no-any-return]
        except BaseException as exc:
            outcome.append(f"raised {type(exc).__name__}")
            raise
        finally:
            ended.set()

    async def slow(request: web.Request) -> web.Response:
        asked.set()
        await answer.wait()
        return web.json_response({"status": "ok"})

    app = web.Application(middlewares=[watch, work_middleware(lambda r: r.app[BUDGET])])
    app[BUDGET] = budget
    app.router.add_post("/v1/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = GuardedSite(runner, "127.0.0.1", 0, budget)
    await site.start()
    try:
        with caplog.at_level(logging.DEBUG):
            reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
            writer.write(b"POST /v1/slow HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Length: 0\r\n\r\n")
            await writer.drain()
            await asyncio.wait_for(asked.wait(), 10)
            writer.close()  # the client gives up before the answer
            await writer.wait_closed()
            # the server sees the connection go before the handler answers
            while budget.connections():
                await asyncio.wait_for(_next_pass(), 10)
            answer.set()
            await asyncio.wait_for(ended.wait(), 10)
        assert outcome == ["returned 200"]
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == [], [r.getMessage() for r in errors]
    finally:
        await runner.cleanup()


async def _next_pass() -> None:
    """One turn of the loop (the connection's loss is delivered by a callback)."""
    await asyncio.sleep(0)

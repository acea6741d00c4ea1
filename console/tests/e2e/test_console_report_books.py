"""A paper account's report goes whole only to a console that keeps books apart.

A daemon of this release says ``"book": "paper"`` in a paper account's report. A console older
than the field refuses an unknown field (400), and the daemon sends every terminal's state in
one report: one paper terminal then held back every other terminal's state, retried every 2 s
for good. So the daemon's client learns from the console's answer whether it keeps books
apart (it names the fields it ``takes``; every console that names them reads ``book``), and
until it knows, or to an older console, a paper account's report goes as its state alone:
taken, and never mixed into the account's live history. Once the first answer says books are
kept, the paper figures follow at once, not at the next interval.

Real parts: the console on loopback (``consolekit``), the daemon's client and reporter; "a
console older than ``book``" is that console behind a loopback proxy that answers as the
release before it did (``book`` refused with its 400, no ``takes`` in an answer).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from ea_bridge import TerminalId
from gateway.auth.client import RemoteAuthority
from gateway.auth.reporter import TerminalReporter
from mtgateway.credential import token_hint
from mtgateway_base.wire.reports import AccountFigures, TerminalReport
from mtgateway_base.wire.venues import Book
from mtgateway_console.appkeys import AUTHORITY
from tests.e2e.consolekit import OWNER, Console, boxed
from tests.reporterkit import Noted, next_report, session_up

TERMINAL = TerminalId(5012345, "MTG-Demo")
LIVE_TERMINAL = TerminalId(5012346, "MTG-Demo")
WAIT_S = 10


async def _approved(console: Console, remote: RemoteAuthority
                    ) -> dict[TerminalId, tuple[str, str]]:
    """Tokens (token, token id) for both terminals, and this daemon's device approved by the
    owner (the e-mailed code): the console believes its reports."""
    tokens = {}
    for terminal in (TERMINAL, LIVE_TERMINAL):
        status, issued = await console.owner("POST", "/v1/tokens", {
            "login": terminal.login, "server": terminal.server})
        assert status in (200, 201), issued
        tokens[terminal] = (issued["token"], issued["token_id"])
    me = remote.device
    asked = await remote.lookup(me, token_hint=token_hint(tokens[TERMINAL][0]),
                                device_name="vps", **boxed(me.device_id))
    assert asked.status == "pending"
    await console.sink.wait_for(1)
    assert (await remote.verify_device(me, console.sink.code())).status == "approved"
    return tokens


def _reporter(remote: RemoteAuthority) -> tuple[TerminalReporter, Noted]:
    """A reporter whose first terminal trades on paper and whose second is live, and the
    client noting what it is given; its interval is an hour, so a report sent within the
    test was asked by a change, not the clock."""

    async def figures(terminal: TerminalId) -> AccountFigures:
        book: Book = "paper" if terminal == TERMINAL else "live"
        return AccountFigures(10_000.0, 10_012.5, "USD", 0, book=book)

    sink = Noted(remote)
    return TerminalReporter(sink, remote.device, interval_s=3600, figures=figures), sink


def _up(reporter: TerminalReporter, tokens: dict[TerminalId, tuple[str, str]]) -> None:
    for i, (terminal, (token, token_id)) in enumerate(tokens.items()):
        session_up(reporter, token, token_id, terminal=terminal, session_id=f"s{i}")


def _books(reports: list[TerminalReport]) -> dict[int, str | None]:
    """Per login, the book of the figures a report carried (None: the state alone)."""
    return {r.login: None if r.figures is None else r.figures.book for r in reports}


async def _figures(console: Console) -> dict[int, AccountFigures]:
    stored = await console.app[AUTHORITY].terminals.figures_of(OWNER)
    return {login: f for (_, login, _), f in stored.items()}


async def _books_kept(console: Console) -> dict[int, str]:
    """Per login, the book the console files the terminal's figures under."""
    kept = await console.app[AUTHORITY].live.books(OWNER)
    return {login: book for (login, _), book in kept.items()}


async def test_paper_figures_follow_the_first_answer_at_once(console: Console) -> None:
    async with RemoteAuthority(console.url, console.key, clock=console.clock) as remote:
        tokens = await _approved(console, remote)
        reporter, sink = _reporter(remote)
        task = asyncio.create_task(reporter.run())
        try:
            _up(reporter, tokens)
            async with asyncio.timeout(WAIT_S):  # the interval is an hour: asked at once
                await reporter.wait_sent(2)
            # the first report: the paper account's state alone, the live one's figures;
            # the second, asked by the first answer: the paper book's figures
            assert [_books(r) for r in sink.sent[:2]] == [
                {TERMINAL.login: None, LIVE_TERMINAL.login: "live"},
                {TERMINAL.login: "paper", LIVE_TERMINAL.login: "live"}]
            assert (await _figures(console))[TERMINAL.login].equity == 10_012.5
            assert await _books_kept(console) == {TERMINAL.login: "paper",
                                                  LIVE_TERMINAL.login: "live"}
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.asynccontextmanager
async def _as_the_release_before(url: str) -> AsyncIterator[str]:
    """``url``'s console answering as a console older than ``book`` did: a report naming
    ``book`` refused 400 (its unknown-field refusal), and no ``takes`` in an answer."""
    refused: list[bytes] = []

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        if request.path == "/v1/terminals/report" and b'"book"' in body:
            refused.append(body)
            return web.json_response({"error": {
                "code": 400, "reason": "invalid_request",
                "message": "terminals.0.book: Extra inputs are not permitted"}}, status=400)
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "content-length")}
        async with aiohttp.ClientSession() as session, session.request(
                request.method, url + request.path_qs, data=body or None,
                headers=headers) as answer:
            data = await answer.read()
        if request.path == "/v1/terminals/report" and answer.status == 200:
            parsed: dict[str, Any] = orjson.loads(data)
            parsed.pop("takes", None)
            data = orjson.dumps(parsed)
        return web.Response(body=data, status=answer.status,
                            content_type=answer.content_type)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        assert refused == [], "a report named book to a console that refuses it"


async def test_an_older_console_takes_the_paper_accounts_state_alone(
        console: Console) -> None:
    """Every report is taken (none refused, the live terminal's figures stored); the paper
    account's figures never reach a console that would file them as live."""
    async with _as_the_release_before(console.url) as older, \
            RemoteAuthority(older, console.key, clock=console.clock) as remote:
        tokens = await _approved(console, remote)
        reporter, sink = _reporter(remote)
        task = asyncio.create_task(reporter.run())
        try:
            _up(reporter, tokens)
            async with asyncio.timeout(WAIT_S):
                await reporter.wait_sent(1)
            await next_report(reporter)  # a change: another report, as the first
            assert [_books(r) for r in sink.sent] == [
                {TERMINAL.login: None, LIVE_TERMINAL.login: "live"}] * 2
            stored = await _figures(console)
            assert set(stored) == {LIVE_TERMINAL.login}, stored
            assert await _books_kept(console) == {LIVE_TERMINAL.login: "live"}
            rows = {row.login: row.state for row in await console.app[AUTHORITY].terminals.of(
                OWNER)}
            assert rows == {TERMINAL.login: "active", LIVE_TERMINAL.login: "active"}
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

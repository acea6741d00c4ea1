"""The live page's event streams inside the connection budget: one signed-in session cannot
hold every connection of the console (``/health`` and ``/login`` still answer), a stream past
its bounds (per session, per owner, per address) is refused 429, a full budget ends the
oldest stream for a newcomer, and a stream ends with its session.

The real console on loopback port 0 with a small connection budget, real page sessions, each
stream a connection of its own from a loopback address of its own (127.0.0.x).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.consolekit import Browser, Console, running_console, signed_in
from tests.e2e.fixtures import WAIT_S

pytestmark = pytest.mark.network_edge


@contextlib.asynccontextmanager
async def _from(address: str, browser: Browser) -> AsyncIterator[aiohttp.ClientSession]:
    """A client on ``address`` carrying ``browser``'s cookies, each request on a connection
    of its own."""
    cookies = {c.key: c.value for c in browser.session.cookie_jar}
    async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(address, 0), limit=0,
                                           force_close=True),
            cookies=cookies, timeout=aiohttp.ClientTimeout(total=None)) as session:
        yield session


async def _open(session: aiohttp.ClientSession, url: str,
                opened: list[aiohttp.ClientResponse]) -> int:
    """Ask for a stream: its status; an open one (its first line read) is kept open in
    ``opened``."""
    response = await session.get(url + "/live/stream")
    if response.status == 200:
        assert await response.content.readline() == b"retry: 3000\n"
        opened.append(response)
    else:
        await response.read()
        response.release()
    return response.status


async def _status(url: str, path: str, address: str) -> int:
    async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(address, 0)),
            timeout=aiohttp.ClientTimeout(total=WAIT_S)) as session:
        async with session.get(url + path, allow_redirects=False) as response:
            return response.status


async def _ended(stream: aiohttp.ClientResponse, *, cut: bool = False) -> None:
    """Read ``stream`` to its end (within the test's wait): its last chunk, or with ``cut``
    its connection closed mid-answer (evicted)."""
    async with asyncio.timeout(WAIT_S):
        try:
            while await stream.content.readline():
                pass
        except aiohttp.ClientPayloadError:
            assert cut, "the stream was cut off, not ended"
            return
    assert not cut, "the stream ended instead of being cut off"


async def test_one_session_cannot_hold_every_connection(tmp_path: Path) -> None:
    """The review's reproduction on a budget of 16 (8 per address): one session asks for
    every connection from two addresses; 2 streams are held (the session's bound), the rest
    are refused 429 with Retry-After, and /health and the sign-in page answer from others
    (503 for both before: every connection held a stream)."""
    async with running_console(tmp_path, max_connections=16,
                               max_connections_per_peer=8) as console:
        browser = Browser(console.url)
        opened: list[aiohttp.ClientResponse] = []
        try:
            await signed_in(browser)
            async with _from("127.0.0.2", browser) as first, \
                    _from("127.0.0.3", browser) as second:
                statuses = await asyncio.gather(
                    *[_open(first, console.url, opened) for _ in range(8)],
                    *[_open(second, console.url, opened) for _ in range(8)])
                assert await _status(console.url, "/health", "127.0.0.4") == 200
                assert await _status(console.url, "/login", "127.0.0.5") == 200
                assert statuses.count(200) == 2, statuses
                assert set(statuses) == {200, 429}
                async with first.get(console.url + "/live/stream") as refused:
                    assert refused.status == 429
                    assert refused.headers["Retry-After"] == "30"
                for stream in opened:
                    stream.close()
        finally:
            await browser.close()


async def test_a_full_budget_ends_the_oldest_stream_for_a_newcomer(tmp_path: Path) -> None:
    """Streams within their bounds that fill the budget are the budget's to end: a newcomer
    (a daemon's, a sign-in) is served, and the stream held longest ends for it."""
    async with running_console(tmp_path, max_connections=4) as console:
        one, two = Browser(console.url), Browser(console.url)
        opened: list[aiohttp.ClientResponse] = []
        try:
            await signed_in(one)
            await signed_in(two)
            async with _from("127.0.0.2", one) as first, _from("127.0.0.3", two) as second:
                for session in (first, first, second, second):  # 2 per session, 4 in all
                    assert await _open(session, console.url, opened) == 200
                assert await _status(console.url, "/health", "127.0.0.4") == 200
                await _ended(opened[0], cut=True)
                for stream in opened:
                    stream.close()
        finally:
            await one.close()
            await two.close()


async def test_a_stream_is_bounded_per_session_and_per_address(tmp_path: Path) -> None:
    """Two streams per session (a third is refused while the owner has room), and at most
    ``[console] max_streams_per_peer`` from one address whoever's they are."""
    async with running_console(tmp_path, max_streams_per_peer=3) as console:
        one, two = Browser(console.url), Browser(console.url)
        opened: list[aiohttp.ClientResponse] = []
        try:
            await signed_in(one)
            await signed_in(two)
            async with _from("127.0.0.2", one) as first, _from("127.0.0.2", two) as second, \
                    _from("127.0.0.3", two) as elsewhere:
                assert [await _open(first, console.url, opened) for _ in range(3)] \
                    == [200, 200, 429]  # the session's bound
                assert [await _open(second, console.url, opened) for _ in range(2)] \
                    == [200, 429]  # the address's bound: 3 from 127.0.0.2
                assert await _open(elsewhere, console.url, opened) == 200
                for stream in opened:
                    stream.close()
        finally:
            await one.close()
            await two.close()


@pytest.mark.parametrize("how", ["sign_out", "sign_out_everywhere"])
async def test_a_stream_ends_when_its_session_ends(console: Console, browser: Browser,
                                                   how: str) -> None:
    """Signing out, or out everywhere (from another browser), ends an open stream at once,
    not at its next beat or after its five minutes (it kept sending beats before)."""
    await signed_in(browser)
    other = Browser(console.url)
    try:
        await signed_in(other)
        async with _from("127.0.0.2", browser) as session:
            opened: list[aiohttp.ClientResponse] = []
            assert await _open(session, console.url, opened) == 200
            if how == "sign_out":
                page = await browser.submit("/", "/logout", {})
            else:
                page = await other.submit("/settings/sessions", "/settings/sessions/end-all",
                                          {"confirm": "yes"})
            assert page.status == 303 and page.headers["Location"] == (
                "/login" if how == "sign_out" else "/login?after=everywhere")
            await _ended(opened[0])
            assert await _open(session, console.url, opened) == 401  # signed out
    finally:
        await other.close()

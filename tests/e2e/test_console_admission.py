"""``[console] max_device_calls`` and ``device_call_wait_s``: a device call that finds every
turn taken is answered 503 ``console_busy`` with ``Retry-After`` before any of its work, the
daemon's client takes it for a console it cannot reach (and tries again), a long-poll is not
counted, and once a turn is free the same call is served.

The real console on loopback, the daemon's own client (``RemoteAuthority``). The turns are
taken by the test through the console's own :class:`~gateway.authority.admission.Admission`,
so every device call behind them is beyond the limit for as long as the test holds them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from gateway.auth.client import RemoteAuthority
from gateway.authority.api import AuthorityUnreachable
from gateway.authority.appkeys import ADMISSION
from gateway.authority.console import CONSOLE_METRICS
from mtgateway.credential import token_hint
from tests.e2e.consolekit import Console, device_proof, issue_token, running_console

pytestmark = pytest.mark.network_edge


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    async with running_console(tmp_path, max_device_calls=2, device_call_wait_s=0) as running:
        yield running


@asynccontextmanager
async def every_turn_taken(console: Console) -> AsyncIterator[None]:
    """Hold each of the console's turns of device calls until the block ends."""
    admission = console.app[ADMISSION]
    release = asyncio.Event()
    started = [asyncio.Event() for _ in range(admission.limit)]

    async def hold(started: asyncio.Event) -> None:
        started.set()
        await release.wait()

    holders = [asyncio.create_task(admission.run(lambda s=s: hold(s))) for s in started]
    for event in started:
        await event.wait()
    try:
        yield
    finally:
        release.set()
        await asyncio.gather(*holders)


async def test_a_device_call_without_a_turn_is_turned_away_unworked_then_served(
        console: Console) -> None:
    token = (await issue_token(console))["token"]
    body = json.dumps({"token_hint": token_hint(token), "nonce": "ab" * 16,
                       "box_key": "A" * 43}).encode()
    headers = device_proof(console.key, "POST", "/v1/records/lookup", body, console.clock.now)

    async def send() -> tuple[int, dict[str, object], str | None]:
        async with console.session.post(console.url + "/v1/records/lookup", data=body,
                                        headers=headers) as response:
            return (response.status, await response.json(),
                    response.headers.get("Retry-After"))

    remote = RemoteAuthority(console.url, console.key, clock=lambda: console.clock.now)
    try:
        async with every_turn_taken(console):
            status, answer, retry_after = await send()
            assert status == 503 and retry_after == "1"
            assert answer["error"]["reason"] == "console_busy"  # type: ignore[index]
            with pytest.raises(AuthorityUnreachable, match="HTTP 503"):
                await remote.lookup(remote.device, token_hint=token_hint(token),
                                    nonce="cd" * 16, box_key=bytes(32))
            # the revocation feed is not a turn's: answered while every turn is taken
            cursor, revoked = await remote.wait_revocations(remote.device, None, 0)
            assert revoked == []
            metrics = console.app[CONSOLE_METRICS].render().decode()
            assert "mtgateway_console_device_calls_shed_total 2.0" in metrics
            assert "mtgateway_console_device_calls_working 2.0" in metrics
        # The very request turned away is served now: its proof was never checked nor
        # remembered (a proof seen before is refused as a replay), nothing was worked on.
        status, answer, _ = await send()
        assert (status, answer) == (200, {"status": "pending"})
        assert console.app[ADMISSION].working == 0
    finally:
        await remote.close()

"""How long the daemon asks the console to hold a revocation long-poll, and when it asks less.

A scripted feed on an injected clock: each poll "lasts" as long as the script says and ends
answered, or failing as a proxy's cut or a console restart makes it fail (the connection
closed under a held request: ``AuthorityUnreachable``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.auth.watcher import (
    MIN_POLL_WAIT_S,
    POLL_WAIT_S,
    SHORTENED_FOR_S,
    watch_revocations,
)
from mtgateway_base.wire.api import AuthorityUnreachable, DeviceInfo
from mtgateway_base.wire.proofs import device_info

WAIT_S = 10.0


@dataclass
class ScriptedFeed:
    """Answers the polls as ``script`` says, in order: ``("ok", seconds)`` answered (no
    revocation) after that long, ``("cut", seconds)`` failed after that long. Records the
    wait each poll asked for; once the script is spent, parks the watcher."""

    script: list[tuple[str, float]]
    now: float = 0.0
    asked: list[float] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def clock(self) -> float:
        return self.now

    async def wait_revocations(self, device: DeviceInfo, cursor: int | None,
                               timeout_s: float) -> tuple[int, list[str]]:
        if cursor is None:
            return 1, []  # the first poll: the feed's head, answered at once
        self.asked.append(timeout_s)
        if not self.script:
            self.done.set()
            await asyncio.Event().wait()
        outcome, seconds = self.script.pop(0)
        self.now += seconds
        if outcome == "cut":
            raise AuthorityUnreachable("Server disconnected")
        return 1, []


async def _asked(script: list[tuple[str, float]]) -> list[float]:
    feed = ScriptedFeed(script)

    async def refresh() -> None:
        raise AssertionError("nothing was revoked")

    async def no_sleep(seconds: float) -> None:
        feed.now += seconds

    watcher = asyncio.create_task(watch_revocations(
        feed, device_info(Ed25519PrivateKey.generate()), refresh, sleep=no_sleep,
        clock=feed.clock))
    try:
        async with asyncio.timeout(WAIT_S):
            await feed.done.wait()
    finally:
        watcher.cancel()
    return feed.asked


def test_a_daemon_asks_for_fifty_seconds_within_the_consoles_bound() -> None:
    from mtgateway_console.routes.terminals import MAX_POLL_S

    assert POLL_WAIT_S == 50 and POLL_WAIT_S + 5 <= MAX_POLL_S


async def test_polls_cut_twice_after_the_same_time_ask_for_less_then_the_full_wait_again(
        ) -> None:
    """A proxy that closes requests held 30 s cuts every poll at 30 s: after the second cut
    the watcher asks 25 s, and polls answered at 25 s hold; an hour later it tries 50 s."""
    hour_of_polls = int(SHORTENED_FOR_S // 25)  # polls of 25 s started within the hour
    asked = await _asked([("cut", 30.0), ("cut", 30.5)]
                         + [("ok", 25.0)] * hour_of_polls + [("cut", 30.0)])
    assert asked[:3] == [POLL_WAIT_S, POLL_WAIT_S, 25.0]
    assert set(asked[2:2 + hour_of_polls]) == {25.0}
    assert asked[2 + hour_of_polls] == POLL_WAIT_S  # tried again after the hour
    assert asked[-1] == POLL_WAIT_S  # one cut again: no change until a second one


@pytest.mark.parametrize("script", [
    [("cut", 12.0), ("ok", 50.0), ("cut", 12.0)],   # a console restart now and then
    [("cut", 12.0), ("cut", 40.0)],                # two cuts at different times
    [("cut", 3.0), ("cut", 3.0)],                  # refused at once: not a held poll cut
], ids=["restarts", "different_times", "not_held"])
async def test_anything_but_the_same_cut_twice_keeps_the_full_wait(
        script: list[tuple[str, float]]) -> None:
    assert set(await _asked(script)) == {POLL_WAIT_S}


async def test_the_wait_is_never_shorter_than_the_least() -> None:
    asked = await _asked([("cut", 11.0), ("cut", 11.0), ("ok", MIN_POLL_WAIT_S)])
    assert asked[2] == MIN_POLL_WAIT_S

"""The authentication throttle's delay runs on an injected ``sleep``, one failure at a time."""

from __future__ import annotations

import asyncio

from mtgateway_base.throttle import AuthThrottle
from tests.testkit import FakeClock


async def test_the_injected_sleep_is_used_under_one_lock() -> None:
    """Concurrent failures sleep ``delay_s`` each, one after another, through the injected
    sleep; the default ``asyncio.sleep`` is never awaited."""
    gate = asyncio.Event()
    delays: list[float] = []
    active: list[int] = [0, 0]  # [in progress now, most at once]
    entered = asyncio.Event()

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        active[0] += 1
        active[1] = max(active)
        entered.set()
        try:
            await gate.wait()
        finally:
            active[0] -= 1

    throttle = AuthThrottle(delay_s=0.25, limit=20, window_s=60, lockout_s=60,
                            clock=FakeClock(), sleep=sleep)
    tasks = [asyncio.create_task(throttle.penalize()) for _ in range(3)]
    # All three were scheduled before this wait, so each has run to its first suspension
    # (the first into the delay, the others onto the lock) by the time it returns.
    await entered.wait()
    assert (delays, active[0]) == ([0.25], 1)
    gate.set()
    await asyncio.gather(*tasks)
    assert delays == [0.25, 0.25, 0.25] and active[1] == 1

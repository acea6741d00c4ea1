"""The authentication throttle: lockout after a burst, on an injected clock."""

from __future__ import annotations

import pytest

from gateway.authority.throttle import AuthThrottle
from tests.testkit import FakeClock


def test_lockout_after_the_limit_within_the_window() -> None:
    """More than `limit` failures in the window lock out for `lockout_s`."""
    clock = FakeClock()
    throttle = AuthThrottle(delay_s=0, limit=3, window_s=10, lockout_s=60, clock=clock)
    for _ in range(3):
        throttle.record_failure()
    assert throttle.retry_after_s() is None
    throttle.record_failure()
    assert throttle.retry_after_s() == pytest.approx(60)
    clock.advance(59)
    assert throttle.retry_after_s() == pytest.approx(1)
    clock.advance(1)
    assert throttle.retry_after_s() is None


def test_failures_outside_the_window_do_not_count() -> None:
    """Slow failures, spread wider than the window, never lock out."""
    clock = FakeClock()
    throttle = AuthThrottle(delay_s=0, limit=3, window_s=10, lockout_s=60, clock=clock)
    for _ in range(20):
        throttle.record_failure()
        clock.advance(4)
    assert throttle.retry_after_s() is None


async def test_penalize_counts_even_without_delay() -> None:
    """penalize records the failure (the delay itself is configuration)."""
    throttle = AuthThrottle(delay_s=0, limit=1, window_s=10, lockout_s=5, clock=FakeClock())
    await throttle.penalize()
    await throttle.penalize()
    assert throttle.retry_after_s() == pytest.approx(5)

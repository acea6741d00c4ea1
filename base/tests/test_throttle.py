"""The authentication throttle: serialized checks, delays and the lockout, on an injected
clock and sleep."""

from __future__ import annotations

import asyncio
import logging

import pytest

from gateway.errors import RateLimited
from mtgateway_base.throttle import AuthThrottle
from tests.testkit import FakeClock


async def test_lockout_after_the_limit_within_the_window() -> None:
    """More than `limit` failures in the window lock out for `lockout_s`."""
    clock = FakeClock()
    throttle = AuthThrottle(delay_s=0, limit=3, window_s=10, lockout_s=60, clock=clock)
    for _ in range(3):
        await throttle.record_failure()
    assert await throttle.retry_after_s() is None
    await throttle.record_failure()
    assert await throttle.retry_after_s() == pytest.approx(60)
    clock.advance(59)
    assert await throttle.retry_after_s() == pytest.approx(1)
    clock.advance(1)
    assert await throttle.retry_after_s() is None


async def test_failures_outside_the_window_do_not_count() -> None:
    """Slow failures, spread wider than the window, never lock out."""
    clock = FakeClock()
    throttle = AuthThrottle(delay_s=0, limit=3, window_s=10, lockout_s=60, clock=clock)
    for _ in range(20):
        await throttle.record_failure()
        clock.advance(4)
    assert await throttle.retry_after_s() is None


async def test_penalize_counts_even_without_delay() -> None:
    """penalize records the failure (the delay itself is configuration)."""
    throttle = AuthThrottle(delay_s=0, limit=1, window_s=10, lockout_s=5, clock=FakeClock())
    await throttle.penalize()
    await throttle.penalize()
    assert await throttle.retry_after_s() == pytest.approx(5)


class Sleeper:
    """An injected ``sleep``: records each delay and holds it until ``gate`` is set."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.entered.set()
        await self.gate.wait()


class Wrong(Exception):
    """What the verify functions below raise for a wrong credential."""


def _throttle(clock: FakeClock, sleep: Sleeper, limit: int = 3) -> AuthThrottle:
    return AuthThrottle(delay_s=0.25, limit=limit, window_s=10, lockout_s=60, what="test keys",
                        clock=clock, sleep=sleep)


async def test_an_unvouched_check_waits_for_the_failure_ahead_of_it() -> None:
    """The second guess is not even checked while the first one's delay runs: guesses sent
    in parallel cannot pick the fast (right) answer out of slow wrong ones."""
    sleep = Sleeper()
    throttle = _throttle(FakeClock(), sleep)
    checked: list[str] = []

    async def verify(name: str) -> str:
        checked.append(name)
        if name == "wrong":
            raise Wrong
        return name

    sleep.gate.clear()
    first = asyncio.create_task(throttle.check("wrong", lambda: verify("wrong"), Wrong))
    second = asyncio.create_task(throttle.check("right", lambda: verify("right"), Wrong))
    await sleep.entered.wait()
    assert checked == ["wrong"] and not second.done()
    sleep.gate.set()
    with pytest.raises(Wrong):
        await first
    assert await second == "right"
    assert checked == ["wrong", "right"] and sleep.delays == [0.25]


async def test_no_check_during_a_lockout_but_every_refusal_is_delayed(
        caplog: pytest.LogCaptureFixture) -> None:
    """During the lockout an unvouched credential is refused unchecked (even a right one),
    after the same delay as a failure; the lockout is logged once, as a security event."""
    clock, sleep = FakeClock(), Sleeper()
    throttle = _throttle(clock, sleep)
    checked: list[str] = []

    async def wrong() -> None:
        checked.append("wrong")
        raise Wrong

    async def right() -> str:
        checked.append("right")
        return "ok"

    caplog.set_level(logging.WARNING, logger="gateway.security")
    for _ in range(4):  # the 4th failure exceeds the limit of 3
        with pytest.raises(Wrong):
            await throttle.check("guess", wrong, Wrong)
    assert await throttle.retry_after_s() == pytest.approx(60)
    for verify in (wrong, right, wrong):
        with pytest.raises(RateLimited) as refused:
            await throttle.check("other", verify, Wrong)
        assert refused.value.retry_after_s == pytest.approx(60)
    assert checked == ["wrong"] * 4  # nothing checked during the lockout
    assert sleep.delays == [0.25] * 7  # and no refusal came back undelayed
    lockouts = [r for r in caplog.records if r.name == "gateway.security"]
    assert len(lockouts) == 1 and "test keys" in lockouts[0].getMessage()
    clock.advance(60)
    assert await throttle.check("other", right, Wrong) == "ok"
    for _ in range(4):
        with pytest.raises(Wrong):
            await throttle.check("guess", wrong, Wrong)
    assert len([r for r in caplog.records if r.name == "gateway.security"]) == 2


async def test_a_valid_token_is_honoured_during_a_lockout_after_the_delay() -> None:
    """With ``honour_during_lockout`` (the daemon's tokens) a credential first presented
    during the lockout is checked once the failure delay has run: a right one gets in (and
    is vouched), a wrong one gets 429 without extending the lockout. Both waited the delay."""
    clock, sleep = FakeClock(), Sleeper()
    throttle = AuthThrottle(delay_s=0.25, limit=3, window_s=10, lockout_s=60,
                            what="test keys", clock=clock, sleep=sleep,
                            honour_during_lockout=True)
    checked: list[str] = []

    async def wrong() -> None:
        checked.append("wrong")
        raise Wrong

    async def right() -> str:
        checked.append("right")
        return "ok"

    for _ in range(4):
        with pytest.raises(Wrong):
            await throttle.check("guess", wrong, Wrong)
    sleep.gate.clear()
    honoured = asyncio.create_task(throttle.check("new bot", right, Wrong))
    await sleep.entered.wait()
    assert checked == ["wrong"] * 4 and not honoured.done()  # the delay runs first
    sleep.gate.set()
    assert await honoured == "ok" and throttle.vouched("new bot")
    with pytest.raises(RateLimited) as refused:
        await throttle.check("another guess", wrong, Wrong)
    assert refused.value.retry_after_s == pytest.approx(60)  # not extended by the guess
    assert checked == ["wrong"] * 4 + ["right", "wrong"]
    assert sleep.delays == [0.25] * 6  # every unvouched answer came after the delay


async def test_a_vouched_credential_is_never_locked_out_but_its_failures_are_delayed() -> None:
    """A credential that succeeded before is checked during a lockout without waiting its
    turn; when it fails later (revoked), it pays the delay like any failure."""
    clock, sleep = FakeClock(), Sleeper()
    throttle = _throttle(clock, sleep, limit=1)
    revoked = False

    async def owner() -> str:
        if revoked:
            raise Wrong
        return "owner"

    async def wrong() -> None:
        raise Wrong

    assert await throttle.check("owner-key", owner, Wrong) == "owner"
    for _ in range(2):
        with pytest.raises(Wrong):
            await throttle.check("guess", wrong, Wrong)
    assert await throttle.retry_after_s() is not None
    sleep.gate.clear()  # a failure's delay in progress does not hold up the owner
    held = asyncio.create_task(throttle.penalize())
    await sleep.entered.wait()
    assert await throttle.check("owner-key", owner, Wrong) == "owner"
    sleep.gate.set()
    await held
    revoked = True
    delays = len(sleep.delays)
    with pytest.raises(Wrong):
        await throttle.check("owner-key", owner, Wrong)
    assert len(sleep.delays) == delays + 1


async def test_failures_during_a_lockout_do_not_extend_it() -> None:
    """The lockout ends lockout_s after it started, however many attempts it refused."""
    clock = FakeClock()
    throttle = AuthThrottle(delay_s=0, limit=1, window_s=10, lockout_s=60, clock=clock)
    await throttle.record_failure()
    await throttle.record_failure()
    clock.advance(59)
    for _ in range(50):
        await throttle.record_failure()
    clock.advance(1)
    assert await throttle.retry_after_s() is None


def test_the_vouched_memory_forgets_one_credential_at_its_bound_never_all() -> None:
    """At 4,096 vouched credentials one more forgets the least recently used one; a credential
    in use stays vouched (review round 4, T4-F4: the memory used to be cleared whole, so minted
    sessions could unvouch every running bot)."""
    throttle = AuthThrottle(delay_s=0, limit=3, window_s=10, lockout_s=60, clock=FakeClock())
    throttle.vouch("running bot")
    for n in range(4095):
        throttle.vouch(f"minted {n}")
        if n % 1000 == 0:
            throttle.vouch("running bot")  # the bot keeps using it
    throttle.vouch("one more")
    assert throttle.vouched("running bot") and throttle.vouched("one more")
    assert not throttle.vouched("minted 0") and throttle.vouched("minted 1")


async def test_a_check_that_proves_nothing_vouches_nothing() -> None:
    """``vouch=False``: a success (step 1 of the client challenge, which anyone holding a
    token's hint passes) does not let its key skip the queue later."""
    throttle = AuthThrottle(delay_s=0, limit=3, window_s=10, lockout_s=60, clock=FakeClock())

    async def ok() -> str:
        return "ok"

    assert await throttle.check("hint:abc", ok, Wrong, vouch=False) == "ok"
    assert not throttle.vouched("hint:abc")
    assert await throttle.check("token:t1", ok, Wrong) == "ok"
    assert throttle.vouched("token:t1")

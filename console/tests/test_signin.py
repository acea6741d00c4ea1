"""The one owner-credential rule (``service/signin.py``) over a real authority (SQLite) and the
real throttle, whose clock and sleep the test holds: what every door (page, code step, owner
API, a later JWT login) gets, without a web server in between.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mtgateway_base.throttle import AuthThrottle, RateLimited
from mtgateway_console import totp
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from mtgateway_console.service.signin import Checked, OwnerSignIn, SignInRefused

OWNER, PASSWORD = "owner@example.com", "a long enough password"
LIMIT = 3


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def _no_wait(seconds: float) -> None:
    return None


@dataclass
class Rule:
    gate: OwnerSignIn
    authority: Authority
    clock: Clock  # the authority's: code steps
    throttle_clock: Clock  # the throttle's: the lockout


@pytest.fixture
async def rule(tmp_path: Path) -> AsyncIterator[Rule]:
    clock, throttle_clock = Clock(), Clock()
    authority = await Authority.open(tmp_path, RecordingMailer(), clock=clock)
    await authority.owners.create(OWNER, PASSWORD)
    throttle = AuthThrottle(delay_s=0.25, limit=LIMIT, window_s=60, lockout_s=60,
                            clock=throttle_clock, sleep=_no_wait)
    try:
        yield Rule(OwnerSignIn(throttle, lambda: authority, b"k" * 32), authority, clock,
                   throttle_clock)
    finally:
        await authority.close()


async def _lock_out(rule: OwnerSignIn) -> None:
    for _ in range(LIMIT + 1):
        with pytest.raises(SignInRefused):
            await rule.credentials("someone@example.com", "a wrong password")
    assert await rule.throttle.retry_after_s() is not None


async def test_an_owner_without_a_factor_who_got_in_keeps_getting_in(rule: Rule) -> None:
    gate = rule.gate
    assert await gate.credentials(OWNER, PASSWORD) == Checked(OWNER)
    await _lock_out(gate)
    assert await gate.credentials(OWNER, PASSWORD) == Checked(OWNER)  # vouched
    with pytest.raises(RateLimited):
        await gate.credentials(OWNER, "another wrong password")


async def test_with_a_factor_nothing_is_vouched_and_nothing_checked_in_a_lockout(
        rule: Rule) -> None:
    """Review round 5, T5-F1, at the rule itself: the password step and a full success vouch
    nothing; during the lockout the right code and a recovery code are refused unchecked and
    stay unspent, on every method a door may call."""
    gate, authority, clock = rule.gate, rule.authority, rule.clock
    enrolment = await authority.second_factor.start(OWNER)
    secret = enrolment.secret_b32.replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    codes = await authority.second_factor.confirm(OWNER, totp.totp(key, clock.now))
    assert codes is not None
    clock.now += totp.STEP_S
    assert await gate.credentials(OWNER, PASSWORD, code_later=True) == Checked(OWNER, True)
    with pytest.raises(SignInRefused) as missing:
        await gate.credentials(OWNER, PASSWORD)
    assert missing.value.reason == "second_factor_required"
    assert await gate.credentials(OWNER, PASSWORD, totp.totp(key, clock.now)) == Checked(OWNER)
    clock.now += totp.STEP_S
    await _lock_out(gate)
    right = totp.totp(key, clock.now)
    for attempt in (lambda: gate.credentials(OWNER, PASSWORD, right),
                    lambda: gate.credentials(OWNER, PASSWORD, codes[0]),
                    lambda: gate.credentials(OWNER, PASSWORD, code_later=True),
                    lambda: gate.code(OWNER, right),
                    lambda: gate.password(OWNER, PASSWORD)):
        with pytest.raises(RateLimited):
            await attempt()
    assert (await authority.second_factor.status(OWNER)).recovery_left == 10
    rule.throttle_clock.now += 60  # the lockout ends; the same step's code was never spent
    assert await gate.credentials(OWNER, PASSWORD, right) == Checked(OWNER)

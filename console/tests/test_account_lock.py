"""The account-wide approval lock: 20 wrong codes per owner in 24 h lock approvals for 24 h.

A real :class:`Authority` on SQLite, a :class:`RecordingMailer` and a settable clock; a
"restart" is a second :class:`Authority` opened on the same directory.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mtgateway.credential import token_hint
from mtgateway_base.wire.api import DeviceInfo
from mtgateway_base.wire.proofs import device_info
from mtgateway_console.devices import (
    ACCOUNT_FAILURE_LIMIT,
    ACCOUNT_FAILURE_WINDOW_S,
    ACCOUNT_LOCK_S,
    account_lock_due,
)
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from tests.testkit import FakeClock

OWNER, PASSWORD = "owner@example.com", "correct horse battery"
OTHER = "other@example.com"
T0 = 1_763_650_000.0
WRONG = "0000 0000"


class World:
    """An authority that can be restarted, its mailer, clock and code sequence."""

    def __init__(self, tmp_path: Path, authority: Authority, mailer: RecordingMailer,
                 clock: FakeClock, codes: Iterator[int]) -> None:
        self.tmp_path = tmp_path
        self.clock = clock
        self.mailer = mailer
        self._codes = codes
        self.authority = authority

    @classmethod
    async def start(cls, tmp_path: Path) -> World:
        """A new world: an authority with two owners."""
        clock, mailer, codes = FakeClock(T0), RecordingMailer(), itertools.count(12_345_678)
        authority = await Authority.open(tmp_path, mailer, clock=clock,
                                         randbelow=lambda n: next(codes))
        world = cls(tmp_path, authority, mailer, clock, codes)
        await authority.owners.create(OWNER, PASSWORD)
        await authority.owners.create(OTHER, PASSWORD)
        return world

    async def open(self) -> Authority:
        return await Authority.open(self.tmp_path, self.mailer, clock=self.clock,
                                    randbelow=lambda n: next(self._codes))

    async def restart(self) -> None:
        await self.authority.close()
        self.authority = await self.open()

    async def ask(self, device: DeviceInfo, owner: str = OWNER) -> str:
        """A token of ``owner`` looked up by ``device``: pending, and a code mailed."""
        login = 1 if owner == OWNER else 2  # a terminal is one owner's
        token = (await self.authority.tokens.issue(owner, login, "S")).token
        answer = await self.authority.lookup(device, token_hint=token_hint(token),
                                             device_name="guesser", os="AnyOS")
        assert answer.status == "pending"
        return token

    async def wrong_codes(self, device: DeviceInfo, count: int) -> str | None:
        """Enter ``count`` wrong codes from ``device``, resending (60 s on) when a code is
        voided; the reason of the last answer."""
        reason = None
        done = 0
        while done < count:
            answer = await self.authority.verify_device(device, WRONG)
            if answer.reason == "code_voided":
                self.clock.advance(60)
                assert (await self.authority.resend(device)).status == "sent"
                continue
            reason = answer.reason
            done += 1
        return reason

    def codes(self) -> list[str]:
        found = [re.search(r"verify (\d{4} \d{4})", str(m.get_content()))
                 for m in self.mailer.messages]
        return [m.group(1) for m in found if m]

    def lock_mails(self) -> list[str]:
        return [str(m.get_content()) for m in self.mailer.messages
                if "locked" in str(m["Subject"])]


def _device() -> DeviceInfo:
    return device_info(Ed25519PrivateKey.generate())


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    started = await World.start(tmp_path)
    yield started
    await started.authority.close()


def test_the_rule_counts_a_rolling_day() -> None:
    """20 failures inside the window lock; the same 20 spread past it do not."""
    now = 100_000.0
    inside = [now - i for i in range(ACCOUNT_FAILURE_LIMIT)]
    assert account_lock_due(inside, now)
    assert not account_lock_due(inside[:-1], now)
    stale = [*inside[:-1], now - ACCOUNT_FAILURE_WINDOW_S]
    assert not account_lock_due(stale, now)
    assert (ACCOUNT_FAILURE_LIMIT, ACCOUNT_FAILURE_WINDOW_S, ACCOUNT_LOCK_S) == (20, 86400,
                                                                                 86400)


async def test_the_count_survives_a_restart_and_spans_devices(world: World) -> None:
    """Wrong codes from two devices add up per owner across a restart; the 20th locks, and
    then even the right code is refused with the time left."""
    first, second = _device(), _device()
    await world.ask(first)
    assert await world.wrong_codes(first, 10) == "wrong_code"
    await world.restart()
    await world.ask(second)
    assert await world.wrong_codes(second, 9) == "wrong_code"
    await world.restart()
    last = await world.authority.verify_device(second, WRONG)
    assert (last.status, last.reason, last.retry_after_s) == ("rejected", "approvals_locked",
                                                              ACCOUNT_LOCK_S)
    world.clock.advance(100)
    await world.authority.close()
    right = world.codes()[-1]
    for device in (first, second):
        answer = await world.authority.verify_device(device, right)
        assert (answer.reason, answer.retry_after_s) == ("approvals_locked",
                                                         ACCOUNT_LOCK_S - 100)


async def test_one_mail_tells_the_owner_without_secrets(world: World) -> None:
    """The lock sends exactly one e-mail, to the owner, naming the device and carrying no
    code, token or password; attempts during the lock send nothing more."""
    device = _device()
    token = await world.ask(device)
    await world.wrong_codes(device, ACCOUNT_FAILURE_LIMIT)
    for _ in range(3):
        assert (await world.authority.verify_device(device, WRONG)).reason == "approvals_locked"
    await world.authority.close()
    (mail,) = world.lock_mails()
    (message,) = [m for m in world.mailer.messages if "locked" in str(m["Subject"])]
    assert message["To"] == OWNER and device.device_id in mail and "guesser" in mail
    everything = message.as_string() + mail
    for secret in [token, PASSWORD, *world.codes(), *(c.replace(" ", "") for c in world.codes())]:
        assert secret not in everything


async def test_no_code_is_mailed_during_the_lock_and_approval_works_after(
        world: World) -> None:
    """During the lock lookups stay pending without mail and resend says approvals_locked;
    after 24 h a lookup mails a code that approves."""
    device = _device()
    token = await world.ask(device)
    await world.wrong_codes(device, ACCOUNT_FAILURE_LIMIT)
    await world.authority.close()
    sent = len(world.mailer.messages)
    world.clock.advance(ACCOUNT_LOCK_S - 1)
    hint = token_hint(token)
    assert (await world.authority.lookup(device, token_hint=hint)).status == "pending"
    resend = await world.authority.resend(device)
    assert (resend.status, resend.retry_after_s) == ("approvals_locked", 1)
    await world.authority.close()
    assert len(world.mailer.messages) == sent
    world.clock.advance(1)
    assert (await world.authority.lookup(device, token_hint=hint)).status == "pending"
    await world.authority.close()
    assert len(world.mailer.messages) == sent + 1
    assert (await world.authority.verify_device(device, world.codes()[-1])).status == "approved"


async def test_failures_older_than_a_day_do_not_count(world: World) -> None:
    """19 wrong codes, then a day passes: those no longer count, and it takes 20 new ones."""
    device = _device()
    await world.ask(device)
    await world.wrong_codes(device, ACCOUNT_FAILURE_LIMIT - 1)
    world.clock.advance(ACCOUNT_FAILURE_WINDOW_S)
    assert (await world.authority.resend(device)).status == "sent"
    assert await world.wrong_codes(device, ACCOUNT_FAILURE_LIMIT - 1) == "wrong_code"
    assert await world.wrong_codes(device, 1) == "approvals_locked"


async def test_the_lock_is_per_owner(world: World) -> None:
    """A device locked out for one owner is still approved with another owner's code (only
    the unlocked owner's approval is checked)."""
    device = _device()
    await world.ask(device)
    assert await world.wrong_codes(device, ACCOUNT_FAILURE_LIMIT) == "approvals_locked"
    world.clock.advance(60)
    await world.ask(device, OTHER)
    await world.authority.close()
    assert (await world.authority.verify_device(device, world.codes()[-1])).status == "approved"
    assert [d["status"] for d in await world.authority.approvals.of_owner(OTHER)] == ["approved"]
    assert [d["status"] for d in await world.authority.approvals.of_owner(OWNER)] == ["pending"]

"""The authority service on a real SQLite store, a recording mailer and an injected clock."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mtgateway.credential import token_hint
from mtgateway_base.wire.api import DeviceInfo
from mtgateway_base.wire.proofs import device_info
from mtgateway_base.wire.records import verify_signed_record
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import AccountRegistration, Authority

OWNER, PASSWORD = "owner@example.com", "correct horse battery"
T0 = 1_763_650_000


class Clock:
    """A settable wall clock."""

    def __init__(self) -> None:
        self.now = float(T0)

    def __call__(self) -> float:
        return self.now


def _codes() -> Iterator[int]:
    n = 11111111
    while True:
        yield n
        n += 11111111


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mailer() -> RecordingMailer:
    return RecordingMailer()


@pytest.fixture
async def authority(tmp_path: Path, clock: Clock,
                    mailer: RecordingMailer) -> AsyncIterator[Authority]:
    codes = _codes()
    opened = await Authority.open(tmp_path, mailer, clock=clock,
                                  randbelow=lambda n: next(codes))
    await opened.owners.create(OWNER, PASSWORD)
    yield opened
    await opened.close()


@pytest.fixture
def device() -> DeviceInfo:
    return device_info(Ed25519PrivateKey.generate())


def _code(mailer: RecordingMailer, index: int = -1) -> str:
    body = str(mailer.messages[index].get_content())
    match = re.search(r"verify (\d{4} \d{4})", body)
    assert match is not None, body
    return match.group(1)


async def test_owner_check_answers_alike_for_unknown_e_mails(authority: Authority) -> None:
    """Right credentials pass; a wrong password and an unknown e-mail both just fail."""
    assert await authority.owners.check(" Owner@Example.com ", PASSWORD)
    assert not await authority.owners.check(OWNER, "wrong")
    assert not await authority.owners.check("nobody@example.com", PASSWORD)
    with pytest.raises(ValueError):
        await authority.owners.create(OWNER, PASSWORD)


async def test_unseen_device_gets_pending_then_ok_after_the_code(
        authority: Authority, mailer: RecordingMailer, device: DeviceInfo) -> None:
    """Lookup asks the owner by mail; the code from it approves; lookup then signs a record."""
    issued = await authority.tokens.issue(OWNER, 5012345, "MTG-Demo", ["read"], 3600)
    answer = await authority.lookup(device, token_hint=token_hint(issued.token),
                                    device_name="desk", os="Windows 11")
    assert answer.status == "pending" and answer.record is None
    await authority.close()
    (message,) = await mailer.wait_for(1)
    body = str(message.get_content())
    assert message["To"] == OWNER and "desk" in body and "Windows 11" in body
    assert issued.token not in message.as_string() and "1111 1111" in body
    assert "Not you?" in body and "revoke" in body

    assert (await authority.verify_device(device, _code(mailer))).status == "approved"
    ok = await authority.lookup(device, token_hint=token_hint(issued.token))
    assert ok.status == "ok" and ok.record is not None
    record = verify_signed_record(ok.record, await authority.public_keys(), device.device_id,
                                  T0)
    assert (record.token_id, record.scopes, record.expires_at) == (issued.token_id,
                                                                   {"read"}, T0 + 3600)
    assert record.valid_until == T0 + 86400 and record.risk.max_lot_size == "100"
    await authority.close()
    assert len(mailer.messages) == 2 and "approved" in str(mailer.messages[1]["Subject"])


async def test_repeated_lookups_do_not_void_the_mailed_code(
        authority: Authority, mailer: RecordingMailer, device: DeviceInfo) -> None:
    """While a code is live, lookups answer pending without sending (or voiding) another."""
    hint = token_hint((await authority.tokens.issue(OWNER, 1, "S")).token)
    for _ in range(3):
        assert (await authority.lookup(device, token_hint=hint)).status == "pending"
    await authority.close()
    assert len(mailer.messages) == 1
    assert (await authority.verify_device(device, _code(mailer))).status == "approved"


async def test_unknown_token_and_mismatched_device(authority: Authority,
                                                   device: DeviceInfo) -> None:
    """An unknown hash is ``unknown``; a device id that is not its key's is refused."""
    assert (await authority.lookup(device, token_hint="0" * 32)).status == "unknown"
    with pytest.raises(ValueError):
        await authority.lookup(DeviceInfo("A" * 26, device.public_key), token_hint="0" * 32)


async def test_resend_limits_and_new_code_voids_old(
        authority: Authority, mailer: RecordingMailer, clock: Clock,
        device: DeviceInfo) -> None:
    """A resend waits 60 s after the last; the newer code works and the older does not."""
    hint = token_hint((await authority.tokens.issue(OWNER, 1, "S")).token)
    await authority.lookup(device, token_hint=hint)
    clock.now += 30
    limited = await authority.resend(device)
    assert (limited.status, limited.retry_after_s) == ("resend_limited", 30)
    clock.now += 30
    assert (await authority.resend(device)).status == "sent"
    await authority.close()
    old, new = _code(mailer, 0), _code(mailer, 1)
    assert old != new
    wrong = await authority.verify_device(device, old)
    assert (wrong.reason, wrong.tries_left) == ("wrong_code", 4)
    assert (await authority.verify_device(device, new)).status == "approved"


async def test_revocations_show_in_refresh(authority: Authority, mailer: RecordingMailer,
                                           device: DeviceInfo) -> None:
    """A revoked token refreshes with revoked_at; a revoked device gets nothing and re-asks."""
    issued = await authority.tokens.issue(OWNER, 1, "S")
    hint = token_hint(issued.token)
    await authority.lookup(device, token_hint=hint)
    await authority.close()
    await authority.verify_device(device, _code(mailer))
    assert await authority.tokens.revoke(OWNER, issued.token_id)
    assert not await authority.tokens.revoke(OWNER, "tok_missing")
    (envelope,) = await authority.refresh(device, [issued.token_id, "tok_missing"])
    assert envelope["record"]["revoked_at"] == T0
    assert (await authority.tokens.of(OWNER))[0]["revoked_at"] == T0
    assert [d["status"] for d in await authority.approvals.of_owner(OWNER)] == ["approved"]
    assert await authority.approvals.revoke(OWNER, device.device_id)
    assert await authority.refresh(device, [issued.token_id]) == []
    assert (await authority.lookup(device, token_hint=hint)).status == "pending"
    status = await authority.device_status(device)
    assert status.approvals == (("o***@example.com", "pending"),)


async def test_registered_account_policy_is_signed_into_records(
        authority: Authority, device: DeviceInfo) -> None:
    """The account's risk policy replaces the permissive default, decimals as strings."""
    await authority.accounts.register(OWNER, AccountRegistration(
        name="Demo", broker="MetaQuotes", login=7, password="mt5-pw", server="S",
        allowed_symbols=("EURUSD",), max_lot_size=Decimal("0.5"), risk_pct=Decimal("0.02")))
    with pytest.raises(ValueError, match="risk_pct"):
        await authority.accounts.register(OWNER, AccountRegistration(
            name="X", broker="B", login=8, password="p", server="S", risk_pct=Decimal(2)))
    issued = await authority.tokens.issue(OWNER, 7, "S")
    await authority.approvals.approve_local(device)
    answer = await authority.lookup(device, token_hint=token_hint(issued.token))
    assert answer.status == "ok" and answer.record is not None
    assert answer.record["record"]["risk"] == {
        "allowed_symbols": ["EURUSD"], "max_lot_size": "0.5", "risk_pct": "0.02",
        "auto_trade_enabled": True, "paper_trade_enabled": False, "is_live": False,
        "account_type": "USD", "trading_halted": False}


async def test_token_issue_validates_its_terms(authority: Authority) -> None:
    """Unknown owners, bad scopes and non-positive lifetimes are refused."""
    with pytest.raises(ValueError, match="owner"):
        await authority.tokens.issue("stranger@example.com", 1, "S")
    with pytest.raises(ValueError, match="scopes"):
        await authority.tokens.issue(OWNER, 1, "S", ["admin"])
    with pytest.raises(ValueError, match="expires_in_s"):
        await authority.tokens.issue(OWNER, 1, "S", expires_in_s=0)
    listing = (await authority.tokens.issue(OWNER, 1, "S")).record
    assert "token" not in listing and "token_sha256" not in listing

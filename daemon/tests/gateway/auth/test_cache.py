"""The record cache over a real embedded authority: verification, staleness, grace, revocation."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from daemon.tests.gateway.auth.authkit import AuthStack, auth_stack
from gateway.auth import Authenticator, DeviceIdentity
from gateway.errors import Unauthorized, Unavailable
from mtgateway.credential import token_hint
from mtgateway_base.wire.records import AuthorityKey, AuthoritySigner, SignedRecord

STALE_AFTER_S = 300 + 61  # one interval plus the slack (60 s at most)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[AuthStack]:
    opened = await auth_stack(tmp_path)
    yield opened
    await opened.authority.close()


async def _find(stack: AuthStack, token: str) -> SignedRecord:
    return await stack.cache.find(token_hint=token_hint(token))


async def test_lookup_verifies_and_serves_from_memory(stack: AuthStack) -> None:
    """A looked-up record is verified, then served without asking the authority again."""
    token, token_id = await stack.issue()
    record = await _find(stack, token)
    assert (record.token_id, record.device_id) == (token_id, stack.device.device_id)
    stack.link.down = True
    assert (await _find(stack, token)).token_id == token_id
    assert stack.link.lookups == 1


async def test_unknown_token_is_invalid(stack: AuthStack) -> None:
    """A token the authority does not know is invalid_token."""
    with pytest.raises(Unauthorized) as info:
        await stack.cache.find(token_hint="0" * 32)
    assert info.value.reason == "invalid_token"


async def test_nothing_cached_and_no_answer_is_authority_unreachable(stack: AuthStack) -> None:
    """With the authority cut and nothing cached, the answer is -32014 authority_unreachable."""
    token, _ = await stack.issue()
    stack.link.down = True
    with pytest.raises(Unavailable) as info:
        await _find(stack, token)
    assert info.value.reason == "authority_unreachable"


def _flip_login(envelope: dict[str, Any]) -> dict[str, Any]:
    envelope["record"]["login"] += 1
    return envelope


def _other_alg(envelope: dict[str, Any]) -> dict[str, Any]:
    envelope["alg"] = "HS256"
    return envelope


@pytest.mark.parametrize("tamper", [_flip_login, _other_alg], ids=["tampered", "other_alg"])
async def test_refused_record_keeps_the_last_good_copy(stack: AuthStack, tamper: Any) -> None:
    """A tampered or other-algorithm record is refused at refresh; the last good copy stays
    (and goes stale, so trades stop)."""
    token, token_id = await stack.issue()
    good = await _find(stack, token)
    stack.link.tamper = tamper
    stack.clock.advance(STALE_AFTER_S)
    assert await stack.cache.refresh_once()
    assert stack.cache.get(token_id) == good
    assert not stack.cache.is_fresh(token_id)
    assert (await _find(stack, token)).login == good.login


async def test_tampered_record_is_refused_at_lookup(stack: AuthStack) -> None:
    """A tampered first answer is no answer: authority_unreachable, nothing cached."""
    token, token_id = await stack.issue()
    stack.link.tamper = _flip_login
    with pytest.raises(Unavailable):
        await _find(stack, token)
    assert stack.cache.get(token_id) is None


async def test_record_signed_by_an_unknown_key_is_refused(tmp_path: Path) -> None:
    """A cache pinned to another key refuses the authority's records (unknown kid)."""
    other = AuthorityKey.from_public_key(Ed25519PrivateKey.generate().public_key())
    stack = await auth_stack(tmp_path, keys=[other])
    token, _ = await stack.issue()
    with pytest.raises(Unavailable):
        await _find(stack, token)


async def test_record_of_another_device_is_refused(stack: AuthStack) -> None:
    """A record made for another device (a copied cache) is refused."""
    token, _ = await stack.issue()
    other = DeviceIdentity.generate()
    await stack.authority.approvals.approve_local(other.info)
    stack.link.as_device = other.info
    with pytest.raises(Unavailable):
        await _find(stack, token)


async def test_forged_record_with_the_right_kid_is_refused(stack: AuthStack) -> None:
    """Re-signing a record with another key under the pinned kid fails the signature check."""
    token, token_id = await stack.issue()
    await _find(stack, token)
    forger = AuthoritySigner.from_private_key(Ed25519PrivateKey.generate())

    def forge(envelope: dict[str, Any]) -> dict[str, Any]:
        envelope["record"]["scopes"] = ["read", "trade"]
        return {**forger.sign(envelope["record"]), "kid": envelope["kid"]}

    stack.link.tamper = forge
    stack.clock.advance(STALE_AFTER_S)
    await stack.cache.refresh_once()
    assert not stack.cache.is_fresh(token_id)


async def test_stale_record_refuses_trades_until_a_refresh(stack: AuthStack) -> None:
    """Past one interval without a refresh the principal is not fresh; a refresh restores it."""
    token, _ = await stack.issue()
    principal = await Authenticator(stack.cache).authenticate(token)
    assert principal.fresh
    stack.link.down = True
    stack.clock.advance(STALE_AFTER_S)
    assert not await stack.cache.refresh_once()
    assert not principal.fresh  # the same principal object: asked at the moment of use
    stack.link.down = False
    assert await stack.cache.refresh_once()
    assert principal.fresh


async def test_offline_grace_then_refusal_then_recovery(stack: AuthStack) -> None:
    """Reads go on offline until valid_until; then invalid_token until the authority answers."""
    token, _ = await stack.issue()
    record = await _find(stack, token)
    stack.link.down = True
    stack.clock.now = record.valid_until - 1
    assert (await _find(stack, token)).token_id == record.token_id
    stack.clock.now = record.valid_until
    with pytest.raises(Unauthorized) as info:
        await _find(stack, token)
    assert info.value.reason == "invalid_token"
    stack.link.down = False
    assert (await _find(stack, token)).valid_until > record.valid_until


async def test_revocation_seen_at_refresh_calls_back_once(stack: AuthStack) -> None:
    """A revocation seen at refresh calls the callbacks once with token_revoked."""
    seen: list[tuple[str, str]] = []
    stack.cache.on_dead(lambda record, reason: seen.append((record.token_id, reason)))
    token, token_id = await stack.issue()
    await _find(stack, token)
    assert await stack.authority.tokens.revoke("owner@example.com", token_id)
    await stack.cache.refresh_once()
    await stack.cache.refresh_once()
    assert seen == [(token_id, "token_revoked")]
    with pytest.raises(Unauthorized) as info:
        await Authenticator(stack.cache).authenticate(token)
    assert info.value.reason == "token_revoked"


async def test_expiry_passing_calls_back_with_token_expired(stack: AuthStack) -> None:
    """A token whose expiry passes while cached is announced as token_expired."""
    seen: list[str] = []
    stack.cache.on_dead(lambda record, reason: seen.append(reason))
    token, _ = await stack.issue(expires_in_s=100)
    await _find(stack, token)
    stack.clock.advance(101)
    await stack.cache.refresh_once()
    assert seen == ["token_expired"]


async def test_withdrawn_device_drops_its_records(stack: AuthStack) -> None:
    """When the authority stops returning a token (device revoked), it is dropped at once."""
    seen: list[str] = []
    stack.cache.on_dead(lambda record, reason: seen.append(reason))
    token, token_id = await stack.issue()
    await _find(stack, token)
    stack.link.inner = stack.authority  # no more self-approval: the owner's word counts
    assert await stack.authority.approvals.revoke("owner@example.com", stack.device.device_id)
    await stack.cache.refresh_once()
    assert stack.cache.get(token_id) is None and seen == ["invalid_token"]


async def test_pending_device_then_code_then_record(tmp_path: Path) -> None:
    """An unapproved device gets device_not_approved and a mailed code; once verified, the
    next lookup gets the record."""
    stack = await auth_stack(tmp_path, approve=False)
    token, token_id = await stack.issue()
    with pytest.raises(Unauthorized) as info:
        await _find(stack, token)
    assert info.value.reason == "device_not_approved"
    mail = (await stack.mailer.wait_for(1))[0]
    match = re.search(r"device verify (\d{4} \d{4})", mail.get_content())
    assert match is not None
    answer = await stack.authority.verify_device(stack.device.info, match.group(1))
    assert answer.status == "approved"
    assert (await _find(stack, token)).token_id == token_id


async def test_hint_lookup_finds_the_same_record(stack: AuthStack) -> None:
    """The EA's hint finds the record the bearer token finds."""
    from mtgateway.credential import token_hint

    token, token_id = await stack.issue()
    assert (await stack.cache.find(token_hint=token_hint(token))).token_id == token_id
    assert (await _find(stack, token)).token_id == token_id
    assert stack.link.lookups == 1

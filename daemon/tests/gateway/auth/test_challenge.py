"""The client challenge's sessions (``gateway/auth/challenge.py``), on an injected clock, over
the real embedded authority and record cache: their lifetimes, their bounds, and the throttle
keys that let a known token through a flood (review round 4, T4-F4 and T4-F12)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from daemon.tests.gateway.auth.authkit import AuthStack, auth_stack
from gateway.auth.challenge import ChallengeAuthenticator
from gateway.errors import Unauthorized
from mtgateway.handshake import Handshake


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[AuthStack]:
    opened = await auth_stack(tmp_path)
    yield opened
    await opened.authority.close()


async def _session(auth: ChallengeAuthenticator, token: str) -> str:
    shake = Handshake(token)
    body = shake.challenge_body()
    answer = await auth.challenge(body["token_hint"], body["client_nonce"])
    step2 = shake.session_body(answer)
    return Handshake.session(await auth.open_session(step2["server_nonce"],
                                                     step2["client_proof"]))


async def test_a_session_used_all_along_still_ends_at_its_absolute_lifetime(
        stack: AuthStack) -> None:
    """Used every 30 minutes, a session lives until session_max_s (24 h) and no longer: a
    session a relay took does not live for ever (T4-F12)."""
    auth = ChallengeAuthenticator(stack.cache, session_max_s=86_400.0)
    token, _ = await stack.issue()
    session = await _session(auth, token)
    for _ in range(47):
        stack.clock.advance(1800)
        await stack.cache.refresh_once()  # keep the record fresh, as the daemon does
        assert (await auth.authenticate(session)).token_id
    stack.clock.advance(1801)
    await stack.cache.refresh_once()
    with pytest.raises(Unauthorized, match="lapsed"):
        await auth.authenticate(session)


async def test_minting_sessions_evicts_only_the_minters_least_recently_used(
        stack: AuthStack) -> None:
    """A token's holder minting sessions in a loop drops its own least recently used ones;
    another token's session, and the minter's session in use, survive (before: the oldest
    created of anyone's was dropped at 4,096)."""
    auth = ChallengeAuthenticator(stack.cache, sessions_per_token=4)
    token, _ = await stack.issue()
    other, _ = await stack.issue(login=42, server="Other")
    theirs = await _session(auth, other)
    kept = await _session(auth, token)
    first = await _session(auth, token)
    for _ in range(3):
        await auth.authenticate(kept)  # in use: most recently used
        await _session(auth, token)
    assert (await auth.authenticate(theirs)).terminal.login == 42
    assert (await auth.authenticate(kept)).token_id
    with pytest.raises(Unauthorized):
        await auth.authenticate(first)


async def test_a_session_counts_as_its_token_in_the_throttle(stack: AuthStack) -> None:
    """Every session of a token, and the token's pending challenges, share the throttle key
    ``token:<id>``: vouched once any of them succeeded, each skips the queue a flood of wrong
    tokens builds (T4-F4); an unknown credential is its own key."""
    auth = ChallengeAuthenticator(stack.cache)
    token, token_id = await stack.issue()
    first, second = await _session(auth, token), await _session(auth, token)
    assert auth.throttle_key(first) == auth.throttle_key(second) == f"token:{token_id}"
    shake = Handshake(token)
    body = shake.challenge_body()
    answer = await auth.challenge(body["token_hint"], body["client_nonce"])
    assert auth.pending_token_id(str(answer["server_nonce"])) == token_id
    assert auth.cached_token_id(body["token_hint"]) == token_id
    assert auth.throttle_key("mtgws_unknown") == "mtgws_unknown"
    assert auth.throttle_key(token) == token


async def test_a_nonce_is_judged_when_its_answer_arrived(stack: AuthStack) -> None:
    """An answer that arrived within the nonce's 30 s is accepted even if the throttle only
    gets to it later; one that arrived late is refused."""
    auth = ChallengeAuthenticator(stack.cache, challenge_ttl_s=30.0)
    token, _ = await stack.issue()
    for arrived_after, accepted in ((29.0, True), (31.0, False)):
        shake = Handshake(token)
        body = shake.challenge_body()
        answer = await auth.challenge(body["token_hint"], body["client_nonce"])
        step2 = shake.session_body(answer)
        arrived = stack.clock() + arrived_after
        stack.clock.advance(45)  # queued behind a flood meanwhile
        if accepted:
            await auth.open_session(step2["server_nonce"], step2["client_proof"],
                                    received_at=arrived)
        else:
            with pytest.raises(Unauthorized, match="expired"):
                await auth.open_session(step2["server_nonce"], step2["client_proof"],
                                        received_at=arrived)
        stack.clock.advance(-45)

"""Tokens, and the authenticator over the record cache and a real embedded authority."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from daemon.tests.gateway.auth.authkit import OWNER, AuthStack, auth_stack
from ea_bridge import AuthRefused, Hello
from gateway.auth import Authenticator, generate_token, is_well_formed
from gateway.errors import Unauthorized
from mtgateway.credential import (
    TokenKeys,
    ea_message,
    prove_holder,
    token_hint,
    verify_server,
)
from mtgateway_base.wire.tokens import TOKEN_LENGTH, display_token


def test_token_format() -> None:
    """A token is mtgw_ + 38 base62 characters, and passes its own checksum."""
    token = generate_token()
    assert len(token) == TOKEN_LENGTH == 43 and token.startswith("mtgw_")
    assert token[5:].isalnum() and token.isascii()
    assert is_well_formed(token)


def test_tokens_are_random() -> None:
    """Two tokens never repeat (190 bits of randomness)."""
    assert len({generate_token() for _ in range(100)}) == 100


def test_injected_randomness_makes_known_tokens() -> None:
    """With a fixed random source the token is reproducible (for tests and vectors)."""
    counter = itertools.count()
    first = generate_token(lambda n: next(counter) % n)
    counter = itertools.count()
    assert generate_token(lambda n: next(counter) % n) == first


@pytest.mark.parametrize("mutate", [
    lambda t: t[:-1],                          # truncated
    lambda t: t + "A",                         # too long
    lambda t: "mtgx_" + t[5:],                 # wrong prefix
    lambda t: t[:10] + ("A" if t[10] != "A" else "B") + t[11:],  # one character changed
    lambda t: t[:20] + "-" + t[21:],           # outside the alphabet
    lambda t: "",
])
def test_damaged_tokens_are_malformed(mutate: object) -> None:
    """A typo, truncation or foreign string fails the format check."""
    token = generate_token()
    assert not is_well_formed(mutate(token))  # type: ignore[operator]


def test_display_form_hides_the_secret() -> None:
    """Listings show only the prefix and four characters."""
    token = generate_token()
    assert display_token(token) == token[:9] + "…"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[AuthStack]:
    opened = await auth_stack(tmp_path)
    yield opened
    await opened.authority.close()


async def test_authenticate_valid_token(stack: AuthStack) -> None:
    """A live token yields its record's terminal, scopes and risk policy."""
    token, token_id = await stack.issue(scopes=("read",))
    principal = await Authenticator(stack.cache).authenticate(token)
    assert (principal.token_id, str(principal.terminal)) == (token_id, "5012345@MTG-Demo")
    assert not principal.may_trade() and principal.fresh
    assert principal.risk.max_lot_size == "100"


async def test_authenticate_refusals(stack: AuthStack) -> None:
    """Missing, malformed, unknown, expired and revoked tokens each get their reason word."""
    auth = Authenticator(stack.cache)
    expiring, _ = await stack.issue(expires_in_s=60)
    revoked, revoked_id = await stack.issue()
    await stack.authority.tokens.revoke(OWNER, revoked_id)
    cases = {
        None: "missing_token",
        "": "missing_token",
        "Bearer": "malformed_token",
        "mtgw_short": "malformed_token",
        generate_token(): "invalid_token",
        revoked: "token_revoked",
    }
    for token, reason in cases.items():
        with pytest.raises(Unauthorized) as info:
            await auth.authenticate(token)
        assert info.value.reason == reason, token
    await auth.authenticate(expiring)
    stack.clock.advance(61)
    with pytest.raises(Unauthorized) as info:
        await auth.authenticate(expiring)
    assert info.value.reason == "token_expired"


async def test_fast_path_reuses_a_check_until_the_cache_learns_of_a_revocation(
        stack: AuthStack) -> None:
    """A repeated token skips the full check, but a revocation the record cache has learnt
    of (at a refresh) refuses the very next request, with no time passing."""
    auth = Authenticator(stack.cache)
    token, token_id = await stack.issue()
    first = await auth.authenticate(token)
    assert await auth.authenticate(token) is first  # answered from the fast path
    assert await stack.authority.tokens.revoke(OWNER, token_id)
    assert await auth.authenticate(token) is first  # the cache has not been told yet
    await stack.cache.refresh_once()
    with pytest.raises(Unauthorized) as info:
        await auth.authenticate(token)
    assert info.value.reason == "token_revoked"


async def test_fast_path_checks_expiry_against_the_clock_on_every_use(
        stack: AuthStack) -> None:
    """A remembered token whose expiry passes within the reuse window is refused at once."""
    auth = Authenticator(stack.cache)
    token, _ = await stack.issue(expires_in_s=60)
    stack.clock.advance(59.7)
    first = await auth.authenticate(token)
    assert await auth.authenticate(token) is first
    stack.clock.advance(0.3)
    with pytest.raises(Unauthorized) as info:
        await auth.authenticate(token)
    assert info.value.reason == "token_expired"


async def test_fast_path_lasts_at_most_reuse_s_and_freshness_is_asked_at_use(
        stack: AuthStack) -> None:
    """A remembered check lasts at most ``reuse_s``; a refresh that changes the record voids
    it; the principal's freshness is asked at the moment of use, never cached."""
    auth = Authenticator(stack.cache, reuse_s=1.0)
    token, token_id = await stack.issue()
    first = await auth.authenticate(token)
    stack.clock.advance(1.0)
    second = await auth.authenticate(token)
    assert second is not first and second.token_id == first.token_id
    assert second.fresh
    stack.link.down = True
    stack.clock.advance(400)  # past one refresh interval without an answer: stale
    assert await auth.authenticate(token) is not second
    assert not second.fresh  # not frozen at authentication
    stack.link.down = False
    third = await auth.authenticate(token)
    assert await auth.authenticate(token) is third
    assert await stack.cache.refresh_once()  # a new copy of the record: a new generation
    fourth = await auth.authenticate(token)
    assert fourth is not third and fourth.fresh and fourth.token_id == token_id


def _hello(login: int, server: str, token: str) -> Hello:
    return Hello(2, "MT5", 4755, "1.3", login, server, "C", token_hint=token_hint(token),
                 ea_nonce="e1" * 32)


def _proof(token: str, nonce: str, login: int = 42, server: str = "Srv") -> str:
    """The EA's proof of ``token`` over ``_hello``'s nonce and the daemon's ``nonce``."""
    return prove_holder(TokenKeys.of(token), ea_message("ea", "e1" * 32, nonce, login, server))


async def test_the_daemon_proves_the_token_to_the_ea(stack: AuthStack) -> None:
    """prove_daemon answers with the record's server_key over both nonces and the terminal,
    which the EA (holding the token) accepts; the proof changes with the EA's nonce, so a
    recorded proof answers no other hello."""
    auth = Authenticator(stack.cache)
    token, _ = await stack.issue(login=42, server="Srv")
    hello = _hello(42, "Srv", token)
    proof = await auth.prove_daemon(hello, "ab" * 32)
    server_key = TokenKeys.of(token).verifier.server_key
    assert verify_server(server_key, ea_message("daemon", "e1" * 32, "ab" * 32, 42, "Srv"),
                         proof)
    assert not verify_server(server_key, ea_message("daemon", "f0" * 32, "ab" * 32, 42, "Srv"),
                             proof)
    with pytest.raises(AuthRefused) as info:
        await auth.prove_daemon(_hello(42, "Srv", generate_token()), "ab" * 32)
    assert info.value.reason == "invalid_token"


async def test_verify_ea(stack: AuthStack) -> None:
    """The EA's hint and proof identify its record; wrong token, terminal or a revoked token
    are refused with the contract's words."""
    auth = Authenticator(stack.cache)
    token, token_id = await stack.issue(login=42, server="Srv")
    nonce = "ab" * 32

    def mac(token: str, login: int = 42, server: str = "Srv") -> str:
        return _proof(token, nonce, login, server)

    assert await auth.verify_ea(_hello(42, "Srv", token), nonce, mac(token)) == token_id
    stranger = generate_token()
    refusals = [
        (_hello(42, "Srv", stranger), mac(stranger), "invalid_token"),
        (_hello(42, "Srv", token), mac(stranger), "invalid_token"),  # hint without the key
        (_hello(43, "Srv", token), mac(token, login=43), "terminal_mismatch"),
        (_hello(42, "Other", token), mac(token, server="Other"), "terminal_mismatch"),
        (_hello(42, "Srv", token), mac(token, login=43), "invalid_token"),  # replay elsewhere
    ]
    for hello, tag, reason in refusals:
        with pytest.raises(AuthRefused) as info:
            await auth.verify_ea(hello, nonce, tag)
        assert info.value.reason == reason
    await stack.authority.tokens.revoke(OWNER, token_id)
    await stack.cache.refresh_once()
    with pytest.raises(AuthRefused) as info:
        await auth.verify_ea(_hello(42, "Srv", token), nonce, mac(token))
    assert info.value.reason == "token_revoked"


async def test_verify_ea_pending_device_and_unreachable_authority(tmp_path: Path) -> None:
    """An unapproved device refuses the EA with device_not_approved; an unreachable authority
    with nothing cached with authority_unreachable."""
    stack = await auth_stack(tmp_path, approve=False)
    auth = Authenticator(stack.cache)
    token, _ = await stack.issue()
    nonce = "cd" * 32
    tag = _proof(token, nonce, 5012345, "MTG-Demo")
    with pytest.raises(AuthRefused) as info:
        await auth.verify_ea(_hello(5012345, "MTG-Demo", token), nonce, tag)
    assert info.value.reason == "device_not_approved"
    stack.link.down = True
    with pytest.raises(AuthRefused) as info:
        await auth.verify_ea(_hello(5012345, "MTG-Demo", token), nonce, tag)
    assert info.value.reason == "authority_unreachable"

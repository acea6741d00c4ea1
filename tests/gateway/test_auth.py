"""Tokens, the local record store (a real SQLite file) and the authenticator."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from ea_bridge import AuthRefused, Hello, auth_mac, token_key
from gateway.auth import Authenticator, LocalTokenStore, generate_token, is_well_formed
from gateway.auth.tokens import TOKEN_LENGTH, display_token, token_sha256
from gateway.errors import Unauthorized
from tests.testkit import FakeClock

NOW = 1_800_000_000.0


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
def wall() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def store(tmp_path: Path, wall: FakeClock) -> LocalTokenStore:
    return LocalTokenStore(tmp_path / "tokens.sqlite3", wall_clock=wall)


def test_store_keeps_hashes_not_tokens(store: LocalTokenStore) -> None:
    """The SQLite file holds the token's SHA-256 and never the token itself."""
    issued = store.issue(login=7, server="S", owner_email="o@example.com")
    raw = store.path.read_bytes()
    assert issued.token.encode() not in raw
    assert token_sha256(issued.token).encode() in raw
    assert issued.record.scopes == frozenset({"read", "trade"})


def test_store_lists_and_revokes(store: LocalTokenStore, wall: FakeClock) -> None:
    """Issued tokens are listed; revoking marks one, once."""
    a = store.issue(login=1, server="S").record
    wall.advance(1)
    b = store.issue(login=2, server="S", scopes=frozenset({"read"})).record
    assert [r.token_id for r in store.list()] == [a.token_id, b.token_id]
    assert store.revoke(a.token_id) is True
    assert store.revoke(a.token_id) is False
    assert store.revoke("tok_nope") is False
    assert store.list()[0].revoked_at == NOW + 1


@pytest.mark.parametrize("kwargs, fragment", [
    ({"login": 0, "server": "S"}, "login"),
    ({"login": 1, "server": ""}, "server"),
    ({"login": 1, "server": "S", "scopes": frozenset({"admin"})}, "scopes"),
    ({"login": 1, "server": "S", "expires_in_s": -5}, "expires_in_s"),
])
def test_store_refuses_bad_records(store: LocalTokenStore, kwargs: dict[str, object],
                                   fragment: str) -> None:
    """Bad issue requests fail with a message naming the field."""
    with pytest.raises(ValueError, match=fragment):
        store.issue(**kwargs)  # type: ignore[arg-type]


async def test_another_process_sees_new_and_revoked_tokens(tmp_path: Path) -> None:
    """A second store on the same file (the CLI) is seen by the daemon's store."""
    clock = FakeClock()
    daemon = LocalTokenStore(tmp_path / "t.sqlite3", clock=clock)
    cli = LocalTokenStore(tmp_path / "t.sqlite3")
    issued = cli.issue(login=1, server="S")
    clock.advance(0.3)  # a miss re-reads the file at most every 0.25 s
    assert await daemon.find_by_hash(token_sha256(issued.token)) == issued.record
    cli.revoke(issued.record.token_id)
    clock.advance(1.1)  # a hit re-reads the file once the view is a second old
    found = await daemon.find_by_hash(token_sha256(issued.token))
    assert found is not None and found.revoked_at is not None


async def test_authenticate_valid_token(store: LocalTokenStore, wall: FakeClock) -> None:
    """A live token yields its record's terminal and scopes."""
    issued = store.issue(login=5012345, server="MTG-Demo", scopes=frozenset({"read"}))
    principal = await Authenticator(store, wall_clock=wall).authenticate(issued.token)
    assert (principal.token_id, str(principal.terminal)) == (issued.record.token_id,
                                                             "5012345@MTG-Demo")
    assert not principal.may_trade()


async def test_authenticate_refusals(store: LocalTokenStore, wall: FakeClock) -> None:
    """Missing, malformed, unknown, expired and revoked tokens each get their reason word."""
    auth = Authenticator(store, wall_clock=wall)
    expiring = store.issue(login=1, server="S", expires_in_s=60)
    revoked = store.issue(login=1, server="S")
    store.revoke(revoked.record.token_id)
    cases = {
        None: "missing_token",
        "": "missing_token",
        "Bearer": "malformed_token",
        "mtgw_short": "malformed_token",
        generate_token(): "invalid_token",
        revoked.token: "token_revoked",
    }
    for token, reason in cases.items():
        with pytest.raises(Unauthorized) as info:
            await auth.authenticate(token)
        assert info.value.reason == reason, token
    await auth.authenticate(expiring.token)
    wall.advance(61)
    with pytest.raises(Unauthorized) as info:
        await auth.authenticate(expiring.token)
    assert info.value.reason == "token_expired"


def _hello(login: int, server: str) -> Hello:
    return Hello(1, "MT5", 4755, "1", login, server, "C")


async def test_verify_ea(store: LocalTokenStore, wall: FakeClock) -> None:
    """The EA's MAC identifies its record; wrong token, terminal or a revoked token are refused."""
    auth = Authenticator(store, wall_clock=wall)
    issued = store.issue(login=42, server="Srv")
    nonce = "ab" * 32

    def mac(token: str, login: int = 42, server: str = "Srv") -> str:
        return auth_mac(token_key(token), nonce, login, server)

    assert await auth.verify_ea(_hello(42, "Srv"), nonce, mac(issued.token)) == \
        issued.record.token_id
    refusals = [
        (_hello(42, "Srv"), mac(generate_token()), "invalid_token"),
        (_hello(43, "Srv"), mac(issued.token, login=43), "terminal_mismatch"),
        (_hello(42, "Other"), mac(issued.token, server="Other"), "terminal_mismatch"),
        (_hello(42, "Srv"), mac(issued.token, login=43), "invalid_token"),  # replay elsewhere
    ]
    for hello, tag, reason in refusals:
        with pytest.raises(AuthRefused) as info:
            await auth.verify_ea(hello, nonce, tag)
        assert info.value.reason == reason
    store.revoke(issued.record.token_id)
    with pytest.raises(AuthRefused) as info:
        await auth.verify_ea(_hello(42, "Srv"), nonce, mac(issued.token))
    assert info.value.reason == "token_revoked"

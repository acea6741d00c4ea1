"""The token's keys and the proofs of every link (``mtgateway.credential``): the documented test
vectors, and what the stored verifier can and cannot do.

The vectors are the ones ``docs/protocol.md`` (§4) and ``docs/api.md`` (the challenge) print;
each HMAC in them was checked with ``openssl dgst -sha256 -mac HMAC -macopt hexkey:…``.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest

from mtgateway.credential import (
    TokenKeys,
    client_message,
    ea_message,
    prove_holder,
    prove_server,
    token_hint,
    verifier_from_digest,
    verify_holder,
    verify_server,
)

TOKEN = "mtgw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABBBBBB"
KEYS = TokenKeys.of(TOKEN)


def test_the_documented_keys() -> None:
    """K, client_key, stored_key, server_key and the hint of the documented token."""
    digest = hashlib.sha256(TOKEN.encode()).digest()
    assert digest.hex() == "0a3202549b51758af14e3a5c8ce477aaffc3089a7fc85ee88413a4ed90c84501"
    assert KEYS.client_key.hex() == (
        "a9f25e6c8a27794781b8d729d967597effa9830abcfae0dbdcea4e2d55a5de02")
    assert KEYS.verifier.stored_key.hex() == (
        "6b074e558169b9fe427db89466ee9fae7ac820cfede0ca308717f1d2a075d58b")
    assert KEYS.verifier.server_key.hex() == (
        "447924a142b7b98a26726a05d00df228383df5936ac98ce4b400e9946f834004")
    assert KEYS.hint == token_hint(TOKEN) == "b516fc16a62f26210b7986963d09368e"
    assert verifier_from_digest(digest) == KEYS.verifier  # the authority's migration


def test_the_documented_bridge_proofs() -> None:
    """docs/protocol.md §4: ea_nonce 1…1, daemon nonce 0…0, 5012345@MTG-Demo."""
    daemon_said = ea_message("daemon", "1" * 64, "0" * 64, 5012345, "MTG-Demo")
    ea_said = ea_message("ea", "1" * 64, "0" * 64, 5012345, "MTG-Demo")
    assert daemon_said == ("mtgw-ea-auth-v2\ndaemon\n" + "1" * 64 + "\n" + "0" * 64
                           + "\n5012345\nMTG-Demo").encode()
    assert prove_server(KEYS.verifier.server_key, daemon_said) == (
        "18ef106c0575d93a0ff033b4d4db86574fbd6263f3e89622852bef956eaca497")
    signature = hmac.new(KEYS.verifier.stored_key, ea_said, hashlib.sha256).hexdigest()
    assert signature == "995e447c939f3352cebf128615fa64eaa3447662d0f3d8b7fc759f7ebffbd057"
    assert prove_holder(KEYS, ea_said) == (
        "30ac1a1019b84a154f07c5afcc9d3d945cedf5686c09386c209fd153ea5e0e55")


def test_the_documented_client_proofs() -> None:
    """docs/api.md: client nonce 1…1, server nonce 2…2."""
    server_said = client_message("server", KEYS.hint, "1" * 64, "2" * 64)
    client_said = client_message("client", KEYS.hint, "1" * 64, "2" * 64)
    assert prove_server(KEYS.verifier.server_key, server_said) == (
        "d65f49314b4bdb7e21e2d4484c4428f2f307fc9fedaf79b5ed872b0dd1cd6eb3")
    signature = hmac.new(KEYS.verifier.stored_key, client_said, hashlib.sha256).hexdigest()
    assert signature == "e74fabf97467b0926c3c25595e223fdb732713cdfefa0e0bafeade0b42875744"
    assert prove_holder(KEYS, client_said) == (
        "4ebdf595fe40c9d5ed84f270874566a58c8e90c74200eed07300902617228946")


def test_a_holders_proof_verifies_and_nothing_the_verifier_holds_makes_one() -> None:
    """The token's proof passes; every proof one can build from what the authority stores
    (stored_key, server_key, their HMACs, the old SHA-256 key) fails (review round 4,
    T4-F2: the stored value is no credential)."""
    message = ea_message("ea", "ab" * 32, "cd" * 32, 5012345, "MTG-Demo")
    stored, server = KEYS.verifier.stored_key, KEYS.verifier.server_key
    assert verify_holder(stored, message, prove_holder(KEYS, message))
    forged = [
        hmac.new(stored, message, hashlib.sha256).hexdigest(),
        hmac.new(server, message, hashlib.sha256).hexdigest(),
        stored.hex(), server.hex(),
        bytes(a ^ b for a, b in zip(stored, hmac.new(stored, message, hashlib.sha256).digest(),
                                    strict=True)).hex(),
        hmac.new(hashlib.sha256(TOKEN.encode()).digest(), message, hashlib.sha256).hexdigest(),
    ]
    for proof in forged:
        assert not verify_holder(stored, message, proof), proof


@pytest.mark.parametrize("changed", [
    ea_message("ea", "ab" * 32, "cd" * 32, 5012345, "MTG-Demo"),   # another role
    ea_message("daemon", "ac" * 32, "cd" * 32, 5012345, "MTG-Demo"),  # another EA nonce
    ea_message("daemon", "ab" * 32, "ce" * 32, 5012345, "MTG-Demo"),  # another daemon nonce
    ea_message("daemon", "ab" * 32, "cd" * 32, 5012346, "MTG-Demo"),  # another login
    ea_message("daemon", "ab" * 32, "cd" * 32, 5012345, "MTG-Live"),  # another server
    client_message("server", KEYS.hint, "ab" * 32, "cd" * 32),        # another link
])
def test_a_daemon_proof_answers_one_message_only(changed: bytes) -> None:
    """The daemon's proof binds the role, both nonces and the terminal: it checks against
    nothing else."""
    proof = prove_server(KEYS.verifier.server_key,
                         ea_message("daemon", "ab" * 32, "cd" * 32, 5012345, "MTG-Demo"))
    assert not verify_server(KEYS.verifier.server_key, changed, proof)


def test_malformed_proofs_are_refused_not_raised() -> None:
    """A proof that is not 64 lowercase hex characters is simply wrong."""
    message = client_message("client", KEYS.hint, "1" * 64, "2" * 64)
    for proof in ("", "A" * 64, "0" * 63, "g" * 64, "0" * 65):
        assert not verify_holder(KEYS.verifier.stored_key, message, proof)
        assert not verify_server(KEYS.verifier.server_key, message, proof)
    with pytest.raises(ValueError):
        ea_message("client", "1", "2", 1, "S")

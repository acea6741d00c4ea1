"""Device proofs are single use: the replay cache, pure, on an injected ``now``."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mtgateway_base.wire.proofs import (
    MAX_PROOF_SKEW_S,
    ProofRejected,
    ProofReplayCache,
    device_info,
    device_proof_headers,
    verify_device_proof,
)

NOW = 1_800_000_000.0
PATH = "/v1/device/verify"
BODY = b'{"code":"12345678"}'


def test_a_proof_verifies_once() -> None:
    """The first use passes; a copy is refused replayed_device_proof; a fresh proof of the
    same request (a later millisecond) passes."""
    key = Ed25519PrivateKey.generate()
    cache = ProofReplayCache()
    headers = device_proof_headers(key, "POST", PATH, BODY, NOW)
    assert verify_device_proof(headers, "POST", PATH, BODY, NOW, cache) == device_info(key)
    with pytest.raises(ProofRejected) as info:
        verify_device_proof(headers, "POST", PATH, BODY, NOW + 1, cache)
    assert info.value.reason == "replayed_device_proof"
    fresh = device_proof_headers(key, "POST", PATH, BODY, NOW, time_ms=int(NOW * 1000) + 1)
    assert verify_device_proof(fresh, "POST", PATH, BODY, NOW, cache) == device_info(key)
    assert len(cache) == 2


def test_refused_proofs_are_not_remembered() -> None:
    """A bad signature is refused before the cache, so forgeries cannot fill it."""
    key = Ed25519PrivateKey.generate()
    cache = ProofReplayCache()
    headers = device_proof_headers(key, "POST", PATH, BODY, NOW)
    with pytest.raises(ProofRejected, match="bad_device_signature"):
        verify_device_proof(headers, "POST", PATH, b"{}", NOW, cache)
    assert len(cache) == 0
    assert verify_device_proof(headers, "POST", PATH, BODY, NOW, cache)


def test_entries_leave_with_the_window() -> None:
    """An entry lives exactly while the skew check would still let its copy through."""
    cache = ProofReplayCache()
    assert cache.remember(b"a", NOW, NOW)
    assert not cache.remember(b"a", NOW, NOW + MAX_PROOF_SKEW_S)
    assert cache.remember(b"b", NOW + 10, NOW + MAX_PROOF_SKEW_S + 1)
    assert len(cache) == 1  # "a" expired and was dropped
    assert cache.remember(b"a", NOW, NOW + MAX_PROOF_SKEW_S + 1)


def test_the_cache_is_bounded_and_forgets_the_nearest_expiry_first() -> None:
    """At capacity, the entry with the least replay time left makes room; newer ones stay."""
    cache = ProofReplayCache(max_entries=3)
    for key, made_at in ((b"late", NOW + 100), (b"early", NOW), (b"mid", NOW + 50)):
        assert cache.remember(key, made_at, NOW)
    assert cache.remember(b"new", NOW + 200, NOW)
    assert (len(cache), cache.evicted) == (3, 1)
    assert cache.remember(b"early", NOW, NOW)  # forgotten, so no longer known
    assert not cache.remember(b"late", NOW + 100, NOW)
    assert not cache.remember(b"new", NOW + 200, NOW)
    with pytest.raises(ValueError):
        ProofReplayCache(max_entries=0)

"""This machine's device identity: its id, its persistence, and the proofs it signs."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from gateway.auth import FileSecretStore, MemorySecretStore, SecretStoreError
from gateway.auth.device import DEVICE_KEY_NAME, DeviceIdentity, load_or_create_device
from mtgateway_base.wire.proofs import (
    ProofRejected,
    device_proof_headers,
    verify_device_proof,
)

NOW = 1_800_000_000.0


def test_device_id_is_base32_of_the_public_key_hash() -> None:
    """device_id = unpadded base32 of SHA-256 of the raw public key, first 26 characters."""
    device = DeviceIdentity.generate()
    digest = hashlib.sha256(device.public_key_raw).digest()
    assert device.device_id == base64.b32encode(digest).decode()[:26]
    assert len(device.device_id) == 26 and device.device_id.isalnum()
    assert device.info.public_key == device.public_key_raw
    assert base64.b64decode(device.public_key_b64) == device.public_key_raw


def test_key_is_made_once_and_kept(tmp_path: Path) -> None:
    """The first start makes and stores the key; later starts (other processes) load it."""
    first = load_or_create_device(FileSecretStore(tmp_path))
    again = load_or_create_device(FileSecretStore(tmp_path))
    assert first.device_id == again.device_id
    assert first.storage.startswith("file ")


def test_two_stores_never_mean_two_devices_in_one_store() -> None:
    """A second create for the same name keeps the first key (first writer wins)."""
    store = MemorySecretStore()
    first = load_or_create_device(store)
    store.create(DEVICE_KEY_NAME, b"\x01" * 32)
    assert load_or_create_device(store).device_id == first.device_id


def test_a_damaged_key_is_refused_not_replaced() -> None:
    """A stored key of the wrong size is an error: silently making a new device is not done."""
    store = MemorySecretStore()
    store.create(DEVICE_KEY_NAME, b"short")
    with pytest.raises(SecretStoreError, match="not a 32-byte"):
        load_or_create_device(store)
    assert store.get(DEVICE_KEY_NAME) == b"short"


def test_device_proof_verifies_and_binds_the_request() -> None:
    """The proof checks out for its own method, path and body, and for nothing else."""
    device = DeviceIdentity.generate()
    body = b'{"code":"12345678"}'
    headers = device_proof_headers(device.private_key, "POST", "/v1/device/verify", body, NOW)
    assert headers["X-Device-Id"] == device.device_id
    assert verify_device_proof(headers, "POST", "/v1/device/verify", body, NOW) == device.info
    with pytest.raises(ProofRejected):
        verify_device_proof(headers, "POST", "/v1/device/verify", b'{"code":"0"}', NOW)
    with pytest.raises(ProofRejected):
        verify_device_proof(headers, "POST", "/v1/records/lookup", body, NOW)

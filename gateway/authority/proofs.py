"""Device proofs: how a daemon signs each call to the console, and how the console checks it.

Every device call carries ``X-Device-Id``, ``X-Device-Key`` (base64 raw public key),
``X-Device-Time`` (epoch ms) and ``X-Device-Signature``: Ed25519 over a context label, the
method, the path, the time and the SHA-256 of the body. The signature ties the approval code
to the key of the machine it was meant for (a code read from the mail is useless elsewhere)
and the time window bounds how long a captured request can be replayed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .api import DeviceInfo
from .records import b64url_decode, b64url_encode, device_id_for, public_key_raw

__all__ = [
    "DEVICE_CONTEXT",
    "MAX_PROOF_SKEW_S",
    "ProofRejected",
    "device_info",
    "device_proof_headers",
    "proof_message",
    "verify_device_proof",
]

DEVICE_CONTEXT: Final = b"mtgw-device-v1\n"
MAX_PROOF_SKEW_S: Final = 300


class ProofRejected(Exception):
    """A device proof failed; ``reason`` says which check."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def device_info(private_key: Ed25519PrivateKey) -> DeviceInfo:
    """The id and raw public key of the device owning ``private_key``."""
    raw = public_key_raw(private_key.public_key())
    return DeviceInfo(device_id_for(raw), raw)


def proof_message(method: str, path: str, time_ms: str, body: bytes) -> bytes:
    """The bytes a device signs for one request."""
    return (DEVICE_CONTEXT + f"{method.upper()}\n{path}\n{time_ms}\n".encode()
            + hashlib.sha256(body).hexdigest().encode("ascii"))


def device_proof_headers(private_key: Ed25519PrivateKey, method: str, path: str, body: bytes,
                         now: float) -> dict[str, str]:
    """The four ``X-Device-*`` headers for a request (``now`` in epoch seconds)."""
    info = device_info(private_key)
    time_ms = str(int(now * 1000))
    signature = private_key.sign(proof_message(method, path, time_ms, body))
    return {"X-Device-Id": info.device_id,
            "X-Device-Key": base64.b64encode(info.public_key).decode("ascii"),
            "X-Device-Time": time_ms, "X-Device-Signature": b64url_encode(signature)}


def verify_device_proof(headers: Mapping[str, str], method: str, path: str, body: bytes,
                        now: float) -> DeviceInfo:
    """Check a request's proof; the device it proves, or :class:`ProofRejected`."""
    device_id, key_text = headers.get("X-Device-Id"), headers.get("X-Device-Key")
    time_ms, sig_text = headers.get("X-Device-Time"), headers.get("X-Device-Signature")
    if not device_id or not key_text or not time_ms or not sig_text:
        raise ProofRejected("missing_device_proof")
    try:
        raw = base64.b64decode(key_text, validate=True)
        signature = b64url_decode(sig_text)
        when_s = int(time_ms) / 1000
    except (binascii.Error, ValueError) as exc:
        raise ProofRejected("malformed_device_proof") from exc
    if len(raw) != 32 or device_id_for(raw) != device_id:
        raise ProofRejected("device_key_mismatch")
    if abs(now - when_s) > MAX_PROOF_SKEW_S:
        raise ProofRejected("device_clock_skew")
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(
            signature, proof_message(method, path, time_ms, body))
    except InvalidSignature as exc:
        raise ProofRejected("bad_device_signature") from exc
    return DeviceInfo(device_id, raw)

"""Device proofs: how a daemon signs each call to the console, and how the console checks it.

Every device call carries ``X-Device-Id``, ``X-Device-Key`` (base64 raw public key),
``X-Device-Time`` (epoch ms) and ``X-Device-Signature``: Ed25519 over a context label, the
method, the path, the time and the SHA-256 of the body. The signature ties the approval code
to the key of the machine it was meant for (a code read from the mail is useless elsewhere)
and the time window bounds how long a captured request could be replayed.

Within the window, :class:`ProofReplayCache` closes the rest: the console remembers each
accepted proof until its time leaves the window and refuses a second use
(``replayed_device_proof``). It remembers SHA-256 of the device key and the signed message,
not the signature: Ed25519 is deterministic, so an honest device signing the same message twice
produces the same bytes anyway, and keying on the message makes any other valid signature
over it a replay too. Our client never signs one message twice (it keeps the millisecond time
strictly increasing), so only copies are refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .. import curve25519
from .api import DeviceInfo
from .errors import ProofRejected
from .records import b64url_decode, b64url_encode, device_id_for, public_key_raw

__all__ = [
    "CheckedProof",
    "DEVICE_CONTEXT",
    "MAX_PROOF_SKEW_S",
    "REPLAY_CACHE_MAX_ENTRIES",
    "ProofRejected",
    "ProofReplayCache",
    "ReplayGuard",
    "device_info",
    "device_proof_headers",
    "proof_message",
    "check_device_proof",
    "verify_device_proof",
]

DEVICE_CONTEXT: Final = b"mtgw-device-v1\n"
MAX_PROOF_SKEW_S: Final = 300
#: Proofs remembered at most (about 200 bytes each, 20 MB in all): a memory bound, ~330
#: accepted device calls a second sustained over a 300 s window, far above what daemons make.
REPLAY_CACHE_MAX_ENTRIES: Final = 100_000


class ProofReplayCache:
    """Accepted proofs, each kept until its time can no longer pass the skew check.

    Pure (the caller passes ``now``) and bounded: at ``max_entries`` the entry closest to
    leaving the window is forgotten first, the one with the least replay time left. Anyone can
    make a key and sign proofs, so refusing new proofs when full would let a flood lock every
    device out; forgetting the oldest only reopens a short window for that one proof.
    """

    def __init__(self, max_entries: int = REPLAY_CACHE_MAX_ENTRIES,
                 window_s: float = MAX_PROOF_SKEW_S) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.window_s = window_s
        #: Entries forgotten while still inside the window because the cache was full.
        self.evicted = 0
        self._expires: dict[bytes, float] = {}
        self._heap: list[tuple[float, bytes]] = []

    def __len__(self) -> int:
        return len(self._expires)

    def _drop_expired(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] < now:
            expires, key = heapq.heappop(heap)
            if self._expires.get(key) == expires:
                del self._expires[key]

    def remember(self, key: bytes, proof_time_s: float, now: float) -> bool:
        """Note a proof made at ``proof_time_s``; ``False`` if it was already seen (a replay).

        The entry lives while ``now <= proof_time_s + window_s``, exactly as long as the skew
        check would still let a copy through.
        """
        self._drop_expired(now)
        if key in self._expires:
            return False
        while len(self._expires) >= self.max_entries:
            expires, old = heapq.heappop(self._heap)
            if self._expires.get(old) == expires:
                del self._expires[old]
                self.evicted += 1
        expires = proof_time_s + self.window_s
        self._expires[key] = expires
        heapq.heappush(self._heap, (expires, key))
        return True


def device_info(private_key: Ed25519PrivateKey) -> DeviceInfo:
    """The id and raw public key of the device owning ``private_key``."""
    raw = public_key_raw(private_key.public_key())
    return DeviceInfo(device_id_for(raw), raw)


def proof_message(method: str, path: str, time_ms: str, body: bytes) -> bytes:
    """The bytes a device signs for one request."""
    return DEVICE_CONTEXT + (f"{method.upper()}\n{path}\n{time_ms}\n"
                             f"{hashlib.sha256(body).hexdigest()}").encode()


def device_proof_headers(private_key: Ed25519PrivateKey | curve25519.SigningKey, method: str,
                         path: str, body: bytes, now: float, *,
                         time_ms: int | None = None) -> dict[str, str]:
    """The four ``X-Device-*`` headers for a request (``now`` in epoch seconds).

    ``private_key`` is best given as a :class:`~mtgateway_base.curve25519.SigningKey` made once
    for the device (the daemon's client does): a ``cryptography`` key is converted on each call.
    ``time_ms``, when given, is the exact millisecond time to sign instead of ``now``'s: a
    client sending the same request twice in one millisecond uses it to keep the two proofs
    distinct (an identical proof is refused as a replay).
    """
    key = (private_key if isinstance(private_key, curve25519.SigningKey)
           else curve25519.SigningKey(private_key))
    stamp = str(int(now * 1000) if time_ms is None else time_ms)
    signature = key.sign(proof_message(method, path, stamp, body))
    return {"X-Device-Id": device_id_for(key.public_raw),
            "X-Device-Key": base64.b64encode(key.public_raw).decode("ascii"),
            "X-Device-Time": stamp, "X-Device-Signature": b64url_encode(signature)}


class ReplayGuard(Protocol):
    """Where accepted proofs are remembered: :class:`ProofReplayCache` (one process) or the
    authority's database (``store.StoredProofReplays``, shared by every console instance)."""

    def remember(self, key: bytes, proof_time_s: float, now: float) -> bool:
        """Note a proof; ``False`` if it was already seen (a replay)."""
        ...


@dataclass(frozen=True, slots=True)
class CheckedProof:
    """A proof whose every check passed but the replay check: the device, and what a
    replay guard remembers it by (its key, and the time it was made, epoch seconds)."""

    device: DeviceInfo
    replay_key: bytes
    made_at_s: float


def verify_device_proof(headers: Mapping[str, str], method: str, path: str, body: bytes,
                        now: float, replay: ReplayGuard | None = None) -> DeviceInfo:
    """Check a request's proof; the device it proves, or :class:`ProofRejected`.

    With ``replay``, a proof that passes every other check is remembered there and a second
    use of it is refused (``replayed_device_proof``). Only proofs with a valid signature are
    remembered, so forged garbage cannot crowd real entries out.
    """
    checked = check_device_proof(headers, method, path, body, now)
    if replay is not None and not replay.remember(checked.replay_key, checked.made_at_s, now):
        raise ProofRejected("replayed_device_proof")
    return checked.device


def check_device_proof(headers: Mapping[str, str], method: str, path: str, body: bytes,
                       now: float) -> CheckedProof:
    """Every check of :func:`verify_device_proof` but the replay check, which the caller
    makes with the answer (the console's, in the database, is a coroutine).

    Raises:
        ProofRejected: ``reason`` names the check that failed.
    """
    device_id, key_text = headers.get("X-Device-Id"), headers.get("X-Device-Key")
    time_ms, sig_text = headers.get("X-Device-Time"), headers.get("X-Device-Signature")
    if not device_id or not key_text or not time_ms or not sig_text:
        raise ProofRejected("missing_device_proof")
    try:
        raw = binascii.a2b_base64(key_text, strict_mode=True)  # base64.b64decode's validate
        signature = b64url_decode(sig_text)
        when_s = int(time_ms) / 1000
    except (binascii.Error, ValueError) as exc:
        raise ProofRejected("malformed_device_proof") from exc
    if len(raw) != 32 or device_id_for(raw) != device_id:
        raise ProofRejected("device_key_mismatch")
    if not -MAX_PROOF_SKEW_S <= now - when_s <= MAX_PROOF_SKEW_S:  # (``abs``, a call)
        raise ProofRejected("device_clock_skew")
    message = proof_message(method, path, time_ms, body)
    try:
        curve25519.verify(raw, signature, message)
    except InvalidSignature as exc:
        raise ProofRejected("bad_device_signature") from exc
    return CheckedProof(DeviceInfo(device_id, raw), hashlib.sha256(raw + message).digest(),
                        when_s)

"""Signed records: the canonical form, the authority key, signing and the device-side check.

A signed record is what the authority hands one device for one token (see
``docs/authority.md``, "Formats"). It is the only thing the daemon trusts when the authority
is out of reach, so the check here is strict and pure: version, algorithm and key id are
pinned, the Ed25519 signature covers the canonical JSON of the record under a context label
(so a signature made for another purpose can never be replayed as a record), the record must
name this device, and it may not claim to be issued in the future beyond a small clock skew.

This module imports nothing from ``gateway.auth`` so the daemon's record cache can import it
without an import cycle.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .. import curve25519
from ..jsonbytes import encoder
from .errors import RecordRejected

__all__ = [
    "DEFAULT_RISK",
    "MAX_FUTURE_SKEW_S",
    "MAX_LOT_SIZE_BOUNDS",
    "OFFLINE_GRACE_S",
    "RECORD_ALG",
    "RECORD_CONTEXT",
    "RECORD_VERSION",
    "RISK_PCT_BOUNDS",
    "AuthorityKey",
    "AuthoritySigner",
    "CONSOLE_PROOF_CONTEXT",
    "console_proof_message",
    "RecordRejected",
    "RiskPolicy",
    "SignedRecord",
    "b64url_decode",
    "b64url_encode",
    "canonical_json",
    "device_id_for",
    "key_id",
    "public_key_raw",
    "verify_signed_record",
]

#: 2: the record carries the token's verifier (``stored_key``, and ``server_key`` sealed to the
#: request), not the token's SHA-256, which opened sessions: a record read off the wire or a
#: disk was a credential.
RECORD_VERSION: Final = 2
RECORD_ALG: Final = "Ed25519"
#: Signed before the record's canonical JSON; a new version changes it, so a signature made
#: over a record of another version never verifies as this one.
RECORD_CONTEXT: Final = b"mtgw-record-v2\n"
#: Signed before a console's proof of its key (``POST /v1/hello``): a context of its own, so a
#: proof can never pass as a record, nor a record as a proof.
CONSOLE_PROOF_CONTEXT: Final = b"mtgw-console-proof-v1\n"
#: ``valid_until`` = ``issued_at`` + this: how long a daemon may live on a copy offline.
OFFLINE_GRACE_S: Final = 24 * 3600
#: A record issued further than this in the device's future is refused (clock skew allowance).
MAX_FUTURE_SKEW_S: Final = 300


#: The one byte form that is signed: sorted keys, no spaces, UTF-8, no floats expected
#: (``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
#: allow_nan=False).encode("utf-8")``, its encoder made once: ``mtgateway_base.jsonbytes``).
canonical_json: Final[Callable[[Any], bytes]] = encoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def console_proof_message(nonce: str, host: str) -> bytes:
    """What a console signs to prove it holds the authority key, for a client about to send
    it an owner's password: the client's fresh nonce and the address (``Host``) the client
    believes it is talking to."""
    return CONSOLE_PROOF_CONTEXT + f"{nonce}\n{host}".encode()


#: Standard base64's two last letters to base64url's, and back (``binascii`` directly: the
#: ``base64`` module's wrappers are Python layers around the same C calls, on every device
#: call). Back, standard base64's own two letters and ``=`` become a letter no decoder takes:
#: base64url without padding is read, nothing else.
_TO_URL: Final = bytes.maketrans(b"+/", b"-_")
_FROM_URL: Final = str.maketrans("-_+/=", "+/!!!")


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (signatures travel in JSON and headers)."""
    # (the padding deleted by the same ``translate``: ``=`` is nothing else in base64)
    return binascii.b2a_base64(data, newline=False).translate(_TO_URL, b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of :func:`b64url_encode`; raises ``ValueError`` on garbage (strictly: the
    standard decoder would silently skip characters outside the alphabet; its strict mode
    refuses them, and a length no encoding has)."""
    try:
        return binascii.a2b_base64(text.translate(_FROM_URL) + "=" * (-len(text) % 4),
                                   strict_mode=True)
    except (binascii.Error, ValueError) as exc:  # (non-ASCII text: ValueError)
        raise ValueError("bad base64url") from exc


def public_key_raw(key: Ed25519PublicKey) -> bytes:
    """The raw 32 bytes of an Ed25519 public key."""
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(raw_public_key: bytes) -> str:
    """``kid``: the first 16 hex characters of SHA-256 of the raw public key."""
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


@functools.lru_cache(maxsize=4096)
def device_id_for(raw_public_key: bytes) -> str:
    """A device id: unpadded base32 of SHA-256 of the device's raw public key, 26 characters.

    Remembered for the last few thousand keys: the console asks twice per device call, and
    the standard library's base32 is a Python loop (some twenty calls a time).
    """
    digest = hashlib.sha256(raw_public_key).digest()
    return base64.b32encode(digest).decode("ascii").rstrip("=")[:26]


@dataclass(frozen=True, slots=True)
class AuthorityKey:
    """A pinned authority public key and its ``kid``."""

    public_key: Ed25519PublicKey
    kid: str
    raw: bytes

    @classmethod
    def from_public_key(cls, key: Ed25519PublicKey) -> AuthorityKey:
        """Wrap a public key, deriving its ``kid``."""
        raw = public_key_raw(key)
        return cls(public_key=key, kid=key_id(raw), raw=raw)

    @classmethod
    def from_base64(cls, text: str) -> AuthorityKey:
        """Parse ``[authority] public_key`` (standard base64 of the raw 32 bytes)."""
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("authority public key is not base64") from exc
        if len(raw) != 32:
            raise ValueError("authority public key must be 32 raw bytes")
        return cls.from_public_key(Ed25519PublicKey.from_public_bytes(raw))

    @property
    def b64(self) -> str:
        """Standard base64 of the raw key, as published on ``/v1/keys`` and pinned in config."""
        return base64.b64encode(self.raw).decode("ascii")

    def as_json(self) -> dict[str, str]:
        """The ``/v1/keys`` entry."""
        return {"kid": self.kid, "alg": RECORD_ALG, "public_key": self.b64}

    def verify_console_proof(self, nonce: str, host: str, signature: str) -> bool:
        """Whether ``signature`` (base64url) is this key's proof over ``nonce`` and ``host``."""
        try:
            curve25519.verify(self.raw, b64url_decode(signature),
                              console_proof_message(nonce, host))
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True, slots=True)
class AuthoritySigner:
    """The authority's private key; makes signed-record envelopes.

    The key is also kept in libsodium's form (``mtgateway_base.curve25519``), converted once
    here: every record the console hands out is signed, and libsodium signs faster than
    OpenSSL, with the same bytes.
    """

    private_key: Ed25519PrivateKey
    key: AuthorityKey
    _signing: curve25519.SigningKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_signing", curve25519.SigningKey(self.private_key))

    @classmethod
    def from_private_key(cls, private_key: Ed25519PrivateKey) -> AuthoritySigner:
        """Wrap a private key with its public half."""
        return cls(private_key, AuthorityKey.from_public_key(private_key.public_key()))

    def prove(self, nonce: str, host: str) -> str:
        """The console's proof of this key over a client's ``nonce`` and ``host`` (base64url)."""
        return b64url_encode(self._signing.sign(console_proof_message(nonce, host)))

    def sign(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The envelope ``{v, alg, kid, record, sig}`` for ``record``."""
        sig = self._signing.sign(RECORD_CONTEXT + canonical_json(record))
        return {"v": RECORD_VERSION, "alg": RECORD_ALG, "kid": self.key.kid,
                "record": dict(record), "sig": b64url_encode(sig)}


#: The bounds of a risk policy's two numbers, inclusive: the largest order (lots) and the risk
#: of one trade (a fraction of the balance). Written once, for every door that takes a policy
#: (the owner API's and the MT4 Web API's models, the pages' form) and the service that checks
#: it again.
MAX_LOT_SIZE_BOUNDS: Final = (Decimal(0), Decimal(100))
RISK_PCT_BOUNDS: Final = (Decimal(0), Decimal(1))


@dataclass(frozen=True, slots=True)
class RiskPolicy:
    """An account's risk policy as carried in a record (decimals as strings, no floats)."""

    allowed_symbols: tuple[str, ...] = ()
    max_lot_size: str = "100"
    risk_pct: str = "1"
    auto_trade_enabled: bool = True
    paper_trade_enabled: bool = False
    is_live: bool = False
    account_type: str = "USD"
    #: The owner's kill switch (``halts.py``): every order refused until it is lifted. Absent
    #: from a record of an older authority: not halted.
    trading_halted: bool = False

    def as_json(self) -> dict[str, Any]:
        """The ``risk`` object of a record."""
        return {"allowed_symbols": list(self.allowed_symbols), "max_lot_size": self.max_lot_size,
                "risk_pct": self.risk_pct, "auto_trade_enabled": self.auto_trade_enabled,
                "paper_trade_enabled": self.paper_trade_enabled, "is_live": self.is_live,
                "account_type": self.account_type, "trading_halted": self.trading_halted}


#: The permissive policy used when no account is registered for a token's terminal.
DEFAULT_RISK: Final = RiskPolicy()


@dataclass(frozen=True, slots=True)
class SignedRecord:
    """A verified signed record: the parsed fields plus the envelope to store as is.

    ``stored_key`` (hex) verifies the token's holders and cannot act as one
    (``mtgateway.credential``); ``server_key`` proves the daemon, and arrives sealed to the
    request (``box_key``, ``server_key_box``: ``boxes.py``); the device that opened the box
    fills :attr:`server_key`. None of them is shown by ``repr``.
    """

    token_id: str
    stored_key: str = field(repr=False)
    token_hint: str = field(repr=False)
    login: int
    server: str
    scopes: frozenset[str]
    owner_email: str
    device_id: str
    created_at: int
    expires_at: int | None
    revoked_at: int | None
    issued_at: int
    valid_until: int
    risk: RiskPolicy
    kid: str
    envelope: Mapping[str, Any] = field(repr=False, compare=False)
    #: The nonce of the device's request this copy answers (``None``: signed unasked).
    nonce: str | None = None
    #: The authority's fresh X25519 key and the sealed ``server_key`` (absent when the request
    #: carried no box key).
    box_key: str | None = field(default=None, repr=False)
    server_key_box: str | None = field(default=None, repr=False)
    #: ``server_key`` once the requester opened the box (never part of the envelope).
    server_key: bytes | None = field(default=None, repr=False, compare=False)
    #: The owner's pending instructions for the terminal (``instructions.py``): paper money
    #: and chart messages, each ``{"id", "kind", "amount", "text", "at"}``; the daemon
    #: applies each once. Absent from a record of an older authority: none.
    instructions: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)

    def as_json(self) -> dict[str, Any]:
        """The envelope as received (for a cache file or an HTTP answer)."""
        return copy.deepcopy(dict(self.envelope))


def _int(record: Mapping[str, Any], name: str) -> int:
    value = record.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RecordRejected("malformed", f"{name} must be an integer")
    return value


def _opt_int(record: Mapping[str, Any], name: str) -> int | None:
    return None if record.get(name) is None else _int(record, name)


def _str(record: Mapping[str, Any], name: str) -> str:
    value = record.get(name)
    if not isinstance(value, str):
        raise RecordRejected("malformed", f"{name} must be a string")
    return value


def _opt_str(record: Mapping[str, Any], name: str) -> str | None:
    return None if record.get(name) is None else _str(record, name)


def _bool(risk: Mapping[str, Any], name: str) -> bool:
    value = risk.get(name)
    if not isinstance(value, bool):
        raise RecordRejected("malformed", f"risk.{name} must be a boolean")
    return value


def _parse_risk(value: Any) -> RiskPolicy:
    if not isinstance(value, Mapping):
        raise RecordRejected("malformed", "risk must be an object")
    symbols = value.get("allowed_symbols")
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        raise RecordRejected("malformed", "risk.allowed_symbols must be a list of strings")
    halted = value.get("trading_halted", False)
    if not isinstance(halted, bool):
        raise RecordRejected("malformed", "risk.trading_halted must be a boolean")
    return RiskPolicy(allowed_symbols=tuple(symbols), max_lot_size=_str(value, "max_lot_size"),
                      risk_pct=_str(value, "risk_pct"),
                      auto_trade_enabled=_bool(value, "auto_trade_enabled"),
                      paper_trade_enabled=_bool(value, "paper_trade_enabled"),
                      is_live=_bool(value, "is_live"),
                      account_type=_str(value, "account_type"), trading_halted=halted)


#: What an instruction of a record must hold (``instructions.py``), by field.
_INSTRUCTION_FIELDS: Final = {"id": str, "kind": str, "amount": str, "text": str, "at": int}


def _parse_instructions(value: Any) -> tuple[Mapping[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise RecordRejected("malformed", "instructions must be a list")
    for entry in value:
        if not isinstance(entry, Mapping) or any(
                not isinstance(entry.get(name), kind) or isinstance(entry.get(name), bool)
                for name, kind in _INSTRUCTION_FIELDS.items()):
            raise RecordRejected("malformed", "an instruction lacks id, kind, amount, text "
                                 "or at")
    return tuple(dict(entry) for entry in value)


def _parse(record: Mapping[str, Any], kid: str, envelope: Mapping[str, Any]) -> SignedRecord:
    scopes = record.get("scopes")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise RecordRejected("malformed", "scopes must be a list of strings")
    stored_key = _str(record, "stored_key")
    if len(stored_key) != 64 or not set(stored_key) <= set("0123456789abcdef"):
        raise RecordRejected("malformed", "stored_key must be 64 lowercase hex characters")
    return SignedRecord(
        token_id=_str(record, "token_id"), stored_key=stored_key,
        token_hint=_str(record, "token_hint"), login=_int(record, "login"),
        server=_str(record, "server"),
        scopes=frozenset(scopes), owner_email=_str(record, "owner_email"),
        device_id=_str(record, "device_id"), created_at=_int(record, "created_at"),
        expires_at=_opt_int(record, "expires_at"), revoked_at=_opt_int(record, "revoked_at"),
        issued_at=_int(record, "issued_at"), valid_until=_int(record, "valid_until"),
        risk=_parse_risk(record.get("risk")), kid=kid, envelope=envelope,
        nonce=_opt_str(record, "nonce"), box_key=_opt_str(record, "box_key"),
        server_key_box=_opt_str(record, "server_key_box"),
        instructions=_parse_instructions(record.get("instructions")))


def verify_signed_record(obj: Any, pinned_keys: Iterable[AuthorityKey], device_id: str,
                         now: float) -> SignedRecord:
    """Check a signed-record envelope for this device and return it parsed.

    Raises :class:`RecordRejected` with ``reason`` one of ``malformed``, ``bad_version``,
    ``bad_alg``, ``unknown_kid``, ``bad_signature``, ``wrong_device``, ``issued_in_future``.
    Expiry, revocation and ``valid_until`` are *not* judged here: they are facts the caller
    acts on (a revoked record is still a good, signed statement of revocation).
    """
    if not isinstance(obj, Mapping):
        raise RecordRejected("malformed", "envelope must be an object")
    if obj.get("v") != RECORD_VERSION or isinstance(obj.get("v"), bool):
        raise RecordRejected("bad_version", repr(obj.get("v")))
    if obj.get("alg") != RECORD_ALG:
        raise RecordRejected("bad_alg", repr(obj.get("alg")))
    kid = obj.get("kid")
    keys = {key.kid: key for key in pinned_keys}
    if not isinstance(kid, str) or kid not in keys:
        raise RecordRejected("unknown_kid", repr(kid))
    record, sig_text = obj.get("record"), obj.get("sig")
    if not isinstance(record, Mapping) or not isinstance(sig_text, str):
        raise RecordRejected("malformed", "record must be an object and sig a string")
    try:
        signature = b64url_decode(sig_text)
        message = RECORD_CONTEXT + canonical_json(record)
    except (ValueError, TypeError) as exc:
        raise RecordRejected("malformed", str(exc)) from exc
    try:
        curve25519.verify(keys[kid].raw, signature, message)
    except InvalidSignature as exc:
        raise RecordRejected("bad_signature") from exc
    parsed = _parse(record, kid, obj)
    if parsed.device_id != device_id:
        raise RecordRejected("wrong_device", "record is bound to another device")
    if parsed.issued_at > now + MAX_FUTURE_SKEW_S:
        raise RecordRejected("issued_in_future", f"issued_at {parsed.issued_at}")
    return parsed

"""What a token proves and what may be stored about it: the keys and proofs of every link.

A token (``mtgw_…``, pasted into the EA and given to the bot) is the only secret its holders
share. Everything else is derived from it, in the shape of SCRAM (RFC 5802, RFC 7677), so that
what the token authority stores, and hands to a daemon, *verifies* a holder without letting
anyone *become* one:

::

    K          = SHA-256(token)                              never stored (see "Migration")
    client_key = HMAC-SHA256(K, "mtgw-client-key-v1")        only the token's holders know it
    stored_key = SHA-256(client_key)                         stored; verifies a client or an EA
    server_key = HMAC-SHA256(K, "mtgw-server-key-v1")        stored; proves the daemon

A holder proves itself with ``client_key XOR HMAC(stored_key, message)``: the verifier
recomputes the HMAC, recovers ``client_key`` and checks that its SHA-256 is ``stored_key``.
The stored values cannot produce that proof (``client_key`` is a SHA-256 preimage of
``stored_key``), so a copy of the authority's database, a backup or a record opens no session
and logs no EA in. The party that must prove it is the daemon answers
``HMAC(server_key, message)`` first, over a nonce of the party about to trust it, so a process
squatting on the daemon's port (which holds nothing) is found out before anything is sent or
obeyed. Each message names its link, its role and both nonces, so no proof made for one purpose
is accepted for another.

As in SCRAM, ``server_key`` lets its holder play the daemon, so it is handed to a daemon only
sealed to that daemon (``docs/authority.md``), and a holder of a leaked database who also takes
the daemon's port while it is down could still be believed by an EA. That is the limit of any
scheme where the token is the one shared secret; ``docs/security.md`` says so.

**Migration.** The authority used to store ``K`` itself (the column ``token_sha256``). Both
stored keys derive from ``K``, so existing tokens move to the verifier without their owners
pasting anything (:func:`verifier_from_digest`), and ``K`` is then erased.

This module is pure and uses the standard library only: the client, the daemon, the bridge and
the authority all import it, so each proof is written once.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "CLIENT_LABEL",
    "EA_LABEL",
    "TokenKeys",
    "Verifier",
    "client_message",
    "ea_message",
    "is_hex64",
    "prove_holder",
    "prove_server",
    "token_hint",
    "verifier_from_digest",
    "verify_holder",
    "verify_server",
]

_CLIENT_KEY_LABEL: Final = b"mtgw-client-key-v1"
_SERVER_KEY_LABEL: Final = b"mtgw-server-key-v1"
_HINT_LABEL: Final = b"mtgw-token-hint-v1\n"
#: The first line of every proof's message on the bridge (EA <-> daemon).
EA_LABEL: Final = "mtgw-ea-auth-v2"
#: The first line of every proof's message of the client challenge (client <-> daemon).
CLIENT_LABEL: Final = "mtgw-client-auth-v2"
_HEX: Final = frozenset("0123456789abcdef")


def is_hex64(value: object) -> bool:
    """Whether ``value`` is 64 lowercase hex characters (a nonce, a key, a proof)."""
    return isinstance(value, str) and len(value) == 64 and _HEX.issuperset(value)


def token_hint(token: str) -> str:
    """The token's hint: the first 32 hex characters of SHA-256("mtgw-token-hint-v1" LF token).

    It names the token (a daemon finds the record by it) and lets nobody compute a proof.
    """
    return hashlib.sha256(_HINT_LABEL + token.encode("utf-8")).hexdigest()[:32]


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class Verifier:
    """What may be stored about a token: verifies a holder, proves the daemon, is no credential.

    Both keys are secrets all the same (``server_key`` plays the daemon), so neither is shown
    by ``repr``.
    """

    stored_key: bytes = field(repr=False)
    server_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.stored_key) != 32 or len(self.server_key) != 32:
            raise ValueError("stored_key and server_key are 32 bytes each")


def verifier_from_digest(digest: bytes) -> Verifier:
    """The verifier of the token whose SHA-256 is ``digest`` (the authority's migration)."""
    if len(digest) != 32:
        raise ValueError("a token digest is 32 bytes")
    client_key = _hmac(digest, _CLIENT_KEY_LABEL)
    return Verifier(hashlib.sha256(client_key).digest(), _hmac(digest, _SERVER_KEY_LABEL))


@dataclass(frozen=True, slots=True)
class TokenKeys:
    """Everything a token's holder derives from it (the token itself is not kept)."""

    client_key: bytes = field(repr=False)
    verifier: Verifier
    hint: str

    @classmethod
    def of(cls, token: str) -> TokenKeys:
        """Derive the keys of ``token``."""
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        return cls(_hmac(digest, _CLIENT_KEY_LABEL), verifier_from_digest(digest),
                   token_hint(token))


def ea_message(role: str, ea_nonce: str, daemon_nonce: str, login: int, server: str) -> bytes:
    """A bridge proof's message: ``"mtgw-ea-auth-v2" LF role LF ea_nonce LF daemon_nonce LF
    login LF server`` (role ``daemon`` or ``ea``; nonces as the hex received; login in decimal;
    server in UTF-8)."""
    if role not in ("daemon", "ea"):
        raise ValueError("role is 'daemon' or 'ea'")
    return "\n".join((EA_LABEL, role, ea_nonce, daemon_nonce, str(login), server)).encode()


def client_message(role: str, token_hint: str, client_nonce: str, server_nonce: str) -> bytes:
    """A client challenge proof's message: ``"mtgw-client-auth-v2" LF role LF token_hint LF
    client_nonce LF server_nonce`` (role ``server`` or ``client``)."""
    if role not in ("server", "client"):
        raise ValueError("role is 'server' or 'client'")
    return "\n".join((CLIENT_LABEL, role, token_hint, client_nonce, server_nonce)).encode()


def prove_server(server_key: bytes, message: bytes) -> str:
    """The daemon's proof: lowercase hex HMAC-SHA256(server_key, message)."""
    return _hmac(server_key, message).hex()


def verify_server(server_key: bytes, message: bytes, proof: str) -> bool:
    """Whether ``proof`` is the daemon's proof of ``message`` (constant time)."""
    return is_hex64(proof) and hmac.compare_digest(prove_server(server_key, message), proof)


def prove_holder(keys: TokenKeys, message: bytes) -> str:
    """A holder's proof: lowercase hex of client_key XOR HMAC-SHA256(stored_key, message)."""
    signature = _hmac(keys.verifier.stored_key, message)
    return bytes(a ^ b for a, b in zip(keys.client_key, signature, strict=True)).hex()


def verify_holder(stored_key: bytes, message: bytes, proof: str) -> bool:
    """Whether ``proof`` was made by a holder of the token ``stored_key`` verifies (constant
    time: the recovered key's digest is compared with :func:`hmac.compare_digest`)."""
    if not is_hex64(proof):
        return False
    signature = _hmac(stored_key, message)
    recovered = bytes(a ^ b for a, b in zip(bytes.fromhex(proof), signature, strict=True))
    return hmac.compare_digest(hashlib.sha256(recovered).digest(), stored_key)

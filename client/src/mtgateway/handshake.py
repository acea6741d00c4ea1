"""The client challenge, client side: never send the token to a process that has not proved it
is the daemon holding it.

Anything may be listening on the daemon's URL while the daemon is down, and a Bearer token sent
there is gone. So the clients (sync and asyncio) first run the challenge ``docs/api.md``
describes ("Authentication: the challenge"), with ``key = SHA-256(token)``:

1. ``POST /auth/challenge {"token_hint", "client_nonce"}``: the hint names the token
   (``SHA-256("mtgw-token-hint-v1" LF token)``, 32 hex) and is useless for anything else;
2. the answer's ``server_proof`` must be ``HMAC-SHA256(key, "mtgw-client-auth-v1" LF "server"
   LF client_nonce LF server_nonce)``; if it is not (or there is no such answer), the client
   stops and sends nothing more;
3. ``POST /auth/session {"server_nonce", "client_proof"}`` with the same HMAC over ``"client"``
   gives a session, sent as ``Authorization: Bearer mtgws_…`` on ``/rpc`` and ``/ws``.

The token itself never leaves the process. This module is the pure part (the messages and the
checks); the clients do the I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any, Final

__all__ = ["CHALLENGE_PATH", "SESSION_PATH", "Handshake", "HandshakeRefused", "token_hint"]

CHALLENGE_PATH: Final = "/auth/challenge"
SESSION_PATH: Final = "/auth/session"
_LABEL: Final = "mtgw-client-auth-v1"
_HINT_LABEL: Final = b"mtgw-token-hint-v1\n"


class HandshakeRefused(Exception):
    """The peer did not prove it is the daemon holding this token; nothing was disclosed."""


def token_hint(token: str) -> str:
    """The token's hint: the first 32 hex characters of SHA-256("mtgw-token-hint-v1" LF token)."""
    return hashlib.sha256(_HINT_LABEL + token.encode("utf-8")).hexdigest()[:32]


def _mac(key: bytes, role: str, client_nonce: str, server_nonce: str) -> str:
    message = f"{_LABEL}\n{role}\n{client_nonce}\n{server_nonce}".encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _hex64(value: Any) -> bool:
    return (isinstance(value, str) and len(value) == 64
            and all(ch in "0123456789abcdef" for ch in value))


class Handshake:
    """One run of the challenge for ``token``: the two request bodies, and the checks of the
    two answers.

    Args:
        token: the gateway token (kept here, never put in a message).
        randbytes: the client nonce's randomness (injected by tests).
    """

    def __init__(self, token: str,
                 randbytes: Callable[[int], bytes] = secrets.token_bytes) -> None:
        self._key = hashlib.sha256(token.encode("utf-8")).digest()
        self._hint = token_hint(token)
        self._client_nonce = randbytes(32).hex()
        self._server_nonce: str | None = None

    def challenge_body(self) -> dict[str, str]:
        """Step 1's body: the hint and a fresh client nonce."""
        return {"token_hint": self._hint, "client_nonce": self._client_nonce}

    def session_body(self, answer: Any) -> dict[str, str]:
        """Step 2's body, from step 1's answer once its proof checks out.

        Raises:
            HandshakeRefused: the answer is not a challenge, or its proof is wrong.
        """
        if not isinstance(answer, dict) or not _hex64(answer.get("server_nonce")) \
                or not _hex64(answer.get("server_proof")):
            raise HandshakeRefused("the peer did not answer the challenge")
        server_nonce = answer["server_nonce"]
        expected = _mac(self._key, "server", self._client_nonce, server_nonce)
        if not hmac.compare_digest(expected, answer["server_proof"]):
            raise HandshakeRefused("the peer's proof is wrong: it does not hold this token")
        self._server_nonce = server_nonce
        return {"server_nonce": server_nonce,
                "client_proof": _mac(self._key, "client", self._client_nonce, server_nonce)}

    @staticmethod
    def session(answer: Any) -> str:
        """The session credential of step 2's answer.

        Raises:
            HandshakeRefused: the answer carries no session.
        """
        session = answer.get("session") if isinstance(answer, dict) else None
        if not isinstance(session, str) or not session.startswith("mtgws_") \
                or not session.isascii() or not session.isprintable() or " " in session:
            raise HandshakeRefused("the daemon's answer carries no session")
        return session

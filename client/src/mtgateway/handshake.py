"""The client challenge, client side: never send the token to a process that has not proved it
is the daemon holding it.

Anything may be listening on the daemon's URL while the daemon is down, and a Bearer token sent
there is gone. So the clients (sync and asyncio) first run the challenge ``docs/api.md``
describes ("Authentication: the challenge", version 2), with the keys of
:mod:`mtgateway.credential`:

1. ``POST /auth/challenge {"v": 2, "token_hint", "client_nonce"}``: the hint names the token
   (``SHA-256("mtgw-token-hint-v1" LF token)``, 32 hex) and is useless for anything else;
2. the answer's ``server_proof`` must be ``HMAC-SHA256(server_key, "mtgw-client-auth-v2" LF
   "server" LF token_hint LF client_nonce LF server_nonce)``; if it is not (or there is no
   such answer), the client stops and sends nothing more;
3. ``POST /auth/session {"server_nonce", "client_proof"}`` with ``client_proof = client_key
   XOR HMAC(stored_key, … "client" …)`` gives a session, sent as ``Authorization: Bearer
   mtgws_…`` on ``/rpc`` and ``/ws``.

The token itself never leaves the process, and what the daemon (or a copy of the authority's
database) holds cannot make step 3's proof. This module is the pure part (the messages and
the checks); the clients do the I/O.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, Final

from .credential import (
    TokenKeys,
    client_message,
    is_hex64,
    prove_holder,
    token_hint,
    verify_server,
)

__all__ = ["CHALLENGE_PATH", "CHALLENGE_VERSION", "SESSION_PATH", "Handshake",
           "HandshakeRefused", "token_hint"]

CHALLENGE_PATH: Final = "/auth/challenge"
SESSION_PATH: Final = "/auth/session"
#: The challenge's version this client speaks (1 proved the token with its SHA-256).
CHALLENGE_VERSION: Final = 2


class HandshakeRefused(Exception):
    """The peer did not prove it is the daemon holding this token; nothing was disclosed."""


class Handshake:
    """One run of the challenge for ``token``: the two request bodies, and the checks of the
    two answers.

    Args:
        token: the gateway token (kept here, never put in a message).
        randbytes: the client nonce's randomness (injected by tests).
    """

    def __init__(self, token: str,
                 randbytes: Callable[[int], bytes] = secrets.token_bytes) -> None:
        self._keys = TokenKeys.of(token)
        self._client_nonce = randbytes(32).hex()
        self._server_nonce: str | None = None

    def challenge_body(self) -> dict[str, Any]:
        """Step 1's body: the version, the hint and a fresh client nonce."""
        return {"v": CHALLENGE_VERSION, "token_hint": self._keys.hint,
                "client_nonce": self._client_nonce}

    def session_body(self, answer: Any) -> dict[str, str]:
        """Step 2's body, from step 1's answer once its proof checks out.

        Raises:
            HandshakeRefused: the answer is not a challenge, or its proof is wrong.
        """
        if not isinstance(answer, dict) or not is_hex64(answer.get("server_nonce")) \
                or not is_hex64(answer.get("server_proof")):
            raise HandshakeRefused("the peer did not answer the challenge")
        server_nonce = answer["server_nonce"]
        hint, nonce = self._keys.hint, self._client_nonce
        if not verify_server(self._keys.verifier.server_key,
                             client_message("server", hint, nonce, server_nonce),
                             answer["server_proof"]):
            raise HandshakeRefused("the peer's proof is wrong: it does not hold this token")
        self._server_nonce = server_nonce
        return {"server_nonce": server_nonce, "client_proof": prove_holder(
            self._keys, client_message("client", hint, nonce, server_nonce))}

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

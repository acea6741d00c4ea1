"""The client challenge: the daemon proves it knows the token's hash before a client sends
anything that could be used as a credential (issue 16 F3).

A Bearer token sent to ``127.0.0.1:8710`` goes to whatever listens there: while the daemon is
down (a restart, a crash, boot order) any local user may bind the port and collect it. The EA
bridge never had this fault: it answers a challenge keyed by ``SHA-256(token)``. Clients now do
the same, the other way round first (``docs/api.md`` "Authentication: the challenge"):

1. the client sends the token's *hint* (it names the token; nothing can be computed from it)
   and a fresh 32-byte client nonce;
2. the daemon answers a fresh server nonce and ``server_proof = HMAC(key, server line)``,
   ``key = SHA-256(token)``: only a holder of the token's record can compute it, and the
   client's nonce makes it fresh, so a recorded answer proves nothing;
3. the client checks the proof, and only then sends ``client_proof = HMAC(key, client line)``
   over both nonces; the daemon consumes the server nonce (a replayed answer finds nothing)
   and issues a *session*, ``mtgws_`` + 32 random bytes, used as the Bearer credential on
   ``/rpc`` and ``/ws`` in place of the token. The token itself never leaves the client.

A session is bound to its token's record: every use checks the record as a token would be
(revoked, expired, device approval), and it lapses after ``session_idle_s`` unused (the daemon
restarting forgets them all; the client runs the challenge again on the 401). Plain Bearer
tokens keep working for curl.

This module is the sans-I/O part: the proofs, the pending challenges and the sessions, on an
injected clock and randomness. ``gateway/client_auth.py`` serves it over HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ..authority.records import SignedRecord
from ..errors import Unauthorized
from .records import Principal, RecordSource
from .service import Authenticator

__all__ = ["SESSION_PREFIX", "ChallengeAuthenticator", "client_proof", "server_proof"]

#: The label every proof's message starts with (a new version changes it).
LABEL: Final = "mtgw-client-auth-v1"
#: What a session credential starts with (a token starts with ``mtgw_``).
SESSION_PREFIX: Final = "mtgws_"
_HINT = re.compile(r"[0-9a-f]{32}")
_NONCE = re.compile(r"[0-9a-f]{64}")
#: Pending challenges and live sessions held at most (oldest dropped first): bounds memory
#: against a local process that opens challenges in a loop.
_MAX_PENDING: Final = 1024
_MAX_SESSIONS: Final = 4096


def _mac(key: bytes, role: str, client_nonce: str, server_nonce: str) -> str:
    message = f"{LABEL}\n{role}\n{client_nonce}\n{server_nonce}".encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def server_proof(key: bytes, client_nonce: str, server_nonce: str) -> str:
    """The daemon's proof: lowercase hex HMAC-SHA256(key, LABEL LF "server" LF cn LF sn)."""
    return _mac(key, "server", client_nonce, server_nonce)


def client_proof(key: bytes, client_nonce: str, server_nonce: str) -> str:
    """The client's proof: lowercase hex HMAC-SHA256(key, LABEL LF "client" LF cn LF sn)."""
    return _mac(key, "client", client_nonce, server_nonce)


@dataclass(slots=True)
class _Pending:
    token_sha256: str
    client_nonce: str
    expires_at: float


@dataclass(slots=True)
class _Session:
    token_sha256: str
    last_used: float


class ChallengeAuthenticator(Authenticator):
    """:class:`Authenticator` that also runs the client challenge and honours its sessions.

    Args:
        records: as for :class:`Authenticator`; its ``clock`` also times challenges and
            sessions.
        randbytes: randomness for nonces and sessions (injected by tests).
        challenge_ttl_s: how long a server nonce may be answered.
        session_idle_s: how long a session lives unused.
    """

    def __init__(self, records: RecordSource, *, reuse_s: float = 1.0,
                 randbytes: Callable[[int], bytes] = secrets.token_bytes,
                 challenge_ttl_s: float = 30.0, session_idle_s: float = 3600.0) -> None:
        super().__init__(records, reuse_s=reuse_s)
        self._randbytes = randbytes
        self.challenge_ttl_s = challenge_ttl_s
        self.session_idle_s = session_idle_s
        self._pending: dict[str, _Pending] = {}
        self._sessions: dict[str, _Session] = {}

    async def challenge(self, token_hint: str, client_nonce: str) -> dict[str, object]:
        """Step 1: prove this daemon holds the hinted token's record.

        Raises:
            ValueError: the hint or the nonce is not in its format (names which).
            Unauthorized: no live record has this hint (``invalid_token``, ...).
            Unavailable: the authority cannot be asked.
        """
        if not _HINT.fullmatch(token_hint):
            raise ValueError("token_hint must be 32 lowercase hex characters")
        if not _NONCE.fullmatch(client_nonce):
            raise ValueError("client_nonce must be 64 lowercase hex characters")
        record = await self.records.find(token_hint=token_hint)
        if not hmac.compare_digest(record.token_hint, token_hint):
            raise Unauthorized("invalid_token", "The auth token is not valid")
        self._check_live(record)
        now = self.records.clock()
        self._prune(now)
        server_nonce = self._randbytes(32).hex()
        self._pending[server_nonce] = _Pending(record.token_sha256, client_nonce,
                                               now + self.challenge_ttl_s)
        while len(self._pending) > _MAX_PENDING:
            del self._pending[next(iter(self._pending))]
        key = bytes.fromhex(record.token_sha256)
        return {"server_nonce": server_nonce,
                "server_proof": server_proof(key, client_nonce, server_nonce),
                "expires_in_s": self.challenge_ttl_s}

    async def open_session(self, server_nonce: str, proof: str) -> dict[str, object]:
        """Step 2: check the client's proof, consume the challenge, issue a session.

        Raises:
            ValueError: the nonce or the proof is not in its format.
            Unauthorized: the challenge is unknown, used or expired, or the proof is wrong
                (``invalid_token``); the record is no longer live.
        """
        if not _NONCE.fullmatch(server_nonce) or not _NONCE.fullmatch(proof):
            raise ValueError("server_nonce and client_proof must be 64 lowercase hex characters")
        pending = self._pending.pop(server_nonce, None)  # one answer per challenge, right or not
        now = self.records.clock()
        if pending is None or pending.expires_at <= now:
            raise Unauthorized("invalid_token",
                               "The challenge is unknown, used or expired: ask a new one")
        expected = client_proof(bytes.fromhex(pending.token_sha256), pending.client_nonce,
                                server_nonce)
        if not hmac.compare_digest(expected, proof):
            raise Unauthorized("invalid_token", "The auth token is not valid")
        record = await self._record(pending.token_sha256)
        session = SESSION_PREFIX + base64.urlsafe_b64encode(
            self._randbytes(32)).rstrip(b"=").decode("ascii")
        self._sessions[session] = _Session(record.token_sha256, now)
        while len(self._sessions) > _MAX_SESSIONS:
            del self._sessions[next(iter(self._sessions))]
        return {"session": session, "token_id": record.token_id,
                "idle_timeout_s": self.session_idle_s}

    async def authenticate(self, token: str | None) -> Principal:
        """A session from :meth:`open_session`, or a token as :class:`Authenticator` checks it.

        Raises:
            Unauthorized: as :meth:`Authenticator.authenticate`; an unknown or lapsed session
                is ``invalid_token`` (the client answers a new challenge).
        """
        if token is None or not token.startswith(SESSION_PREFIX):
            return await super().authenticate(token)
        now = self.records.clock()
        session = self._sessions.get(token)
        if session is None or now - session.last_used > self.session_idle_s:
            self._sessions.pop(token, None)
            raise Unauthorized("invalid_token",
                               "The session is unknown or has lapsed: answer a new challenge")
        record = await self._record(session.token_sha256)
        session.last_used = now
        return self._principal(record)

    async def _record(self, token_sha256: str) -> SignedRecord:
        """The live record of a digest (revocation, expiry and device approval checked)."""
        record = await self.records.find(token_sha256=token_sha256)
        if not hmac.compare_digest(record.token_sha256, token_sha256):
            raise Unauthorized("invalid_token", "The auth token is not valid")
        self._check_live(record)
        return record

    def _prune(self, now: float) -> None:
        for nonce in [n for n, p in self._pending.items() if p.expires_at <= now]:
            del self._pending[nonce]

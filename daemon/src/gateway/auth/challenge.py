"""The client challenge: the daemon proves it holds the token's record before a client sends
anything that could be used as a credential, and the client proves the token with a proof the
record cannot make (a leaked record, or a daemon's memory, is then no credential either).

A Bearer token sent to ``127.0.0.1:8710`` goes to whatever listens there: while the daemon is
down (a restart, a crash, boot order) any local user may bind the port and collect it. So the
clients run the challenge ``docs/api.md`` describes ("Authentication: the challenge"), with the
keys of ``mtgateway.credential``:

1. the client sends the token's *hint* (it names the token; nothing can be computed from it)
   and a fresh 32-byte client nonce;
2. the daemon answers a fresh server nonce and ``server_proof = HMAC(server_key, server
   line)``: only a holder of the token's record can compute it, and the client's nonce makes
   it fresh, so a recorded answer proves nothing;
3. the client checks the proof, and only then sends ``client_proof = client_key XOR
   HMAC(stored_key, client line)`` over both nonces; the daemon recovers ``client_key``,
   checks that its SHA-256 is the record's ``stored_key``, consumes the server nonce (a
   replayed answer finds nothing) and issues a *session*, ``mtgws_`` + 32 random bytes, used
   as the Bearer credential on ``/rpc`` and ``/ws`` in place of the token. The token itself
   never leaves the client, and what the daemon holds cannot make a client proof.

A session is bound to its token's record: every use checks the record as a token would be
(revoked, expired, device approval). It lapses after ``session_idle_s`` unused, and after
``session_max_s`` whatever its use (a session taken by a relay does not live for ever); the
daemon restarting forgets them all, and the client runs the challenge again on the 401. Each
token keeps at most ``sessions_per_token`` sessions, the least recently used going first, so
one token's holder minting sessions ends only its own, never another token's. Plain Bearer
tokens keep working for curl.

This module is the sans-I/O part: the proofs, the pending challenges and the sessions, on an
injected clock and randomness. ``gateway/client_auth.py`` serves it over HTTP and puts each step
through the brute-force throttle under the token's key (:meth:`ChallengeAuthenticator.
throttle_key`).
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final

from mtgateway.credential import client_message, is_hex64, prove_server, verify_holder
from mtgateway_base.wire.records import SignedRecord

from ..errors import Unauthorized
from .records import Principal, RecordSource
from .service import Authenticator

__all__ = ["CHALLENGE_VERSION", "SESSION_PREFIX", "ChallengeAuthenticator"]

#: The challenge's version: 2 proves the token with ``client_key`` (1, retired, used the
#: token's SHA-256, which the authority stored and served).
CHALLENGE_VERSION: Final = 2
#: What a session credential starts with (a token starts with ``mtgw_``).
SESSION_PREFIX: Final = "mtgws_"
_HINT = re.compile(r"[0-9a-f]{32}")
#: Pending challenges held per token at most (oldest dropped first): a holder of a token's
#: hint that opens challenges in a loop drops only that token's.
_PENDING_PER_TOKEN: Final = 16


@dataclass(slots=True)
class _Pending:
    token_hint: str
    token_id: str
    client_nonce: str
    expires_at: float


@dataclass(slots=True)
class _Session:
    token_hint: str
    token_id: str
    created_at: float
    last_used: float


class ChallengeAuthenticator(Authenticator):
    """:class:`Authenticator` that also runs the client challenge and honours its sessions.

    Args:
        records: as for :class:`Authenticator`; its ``clock`` also times challenges and
            sessions.
        randbytes: randomness for nonces and sessions (injected by tests).
        challenge_ttl_s: how long a server nonce may be answered (counted to the moment the
            answer arrives, not to when the throttle gets to it).
        session_idle_s: how long a session lives unused.
        session_max_s: how long a session lives at most.
        sessions_per_token: sessions kept per token (least recently used dropped first).
    """

    def __init__(self, records: RecordSource, *, reuse_s: float = 1.0,
                 randbytes: Callable[[int], bytes] = secrets.token_bytes,
                 challenge_ttl_s: float = 30.0, session_idle_s: float = 3600.0,
                 session_max_s: float = 86_400.0, sessions_per_token: int = 64) -> None:
        super().__init__(records, reuse_s=reuse_s)
        if sessions_per_token < 1:
            raise ValueError("sessions_per_token must be at least 1")
        self._randbytes = randbytes
        self.challenge_ttl_s = challenge_ttl_s
        self.session_idle_s = session_idle_s
        self.session_max_s = session_max_s
        self.sessions_per_token = sessions_per_token
        self._pending: dict[str, _Pending] = {}
        self._pending_by_token: dict[str, OrderedDict[str, None]] = {}
        self._sessions: dict[str, _Session] = {}
        #: Each token's sessions, least recently used first.
        self._sessions_by_token: dict[str, OrderedDict[str, None]] = {}

    # -- the throttle's keys ---------------------------------------------------------------

    def vouch_key(self, token_id: str) -> str:
        """The throttle key a token's challenges and sessions are vouched under."""
        return "token:" + token_id

    def throttle_key(self, credential: str | None) -> str:
        """The key ``credential`` goes through the brute-force throttle under: a live session
        counts as its token (vouched once any session of it succeeded), anything else as
        itself."""
        if credential is not None and credential.startswith(SESSION_PREFIX):
            session = self._sessions.get(credential)
            if session is not None and self._alive(session, self.records.clock()):
                return self.vouch_key(session.token_id)
        return credential or ""

    def cached_token_id(self, token_hint: str) -> str | None:
        """The id of the cached record with this hint, if any (no request to the authority):
        step 1 of a token already vouched skips the throttle's queue."""
        record = self.records.peek(token_hint)
        return record.token_id if record is not None else None

    def pending_token_id(self, server_nonce: str) -> str | None:
        """The token a pending challenge is for (not consumed): step 2's throttle key."""
        pending = self._pending.get(server_nonce)
        return pending.token_id if pending is not None else None

    # -- the two steps ---------------------------------------------------------------------

    async def challenge(self, token_hint: str, client_nonce: str) -> dict[str, object]:
        """Step 1: prove this daemon holds the hinted token's record.

        Raises:
            ValueError: the hint or the nonce is not in its format (names which).
            Unauthorized: no live record has this hint (``invalid_token``, ...).
            Unavailable: the authority cannot be asked.
        """
        if not _HINT.fullmatch(token_hint):
            raise ValueError("token_hint must be 32 lowercase hex characters")
        if not is_hex64(client_nonce):
            raise ValueError("client_nonce must be 64 lowercase hex characters")
        record = await self.records.find(token_hint=token_hint)
        if not hmac.compare_digest(record.token_hint, token_hint) or record.server_key is None:
            raise Unauthorized("invalid_token", "The auth token is not valid")
        self._check_live(record)
        now = self.records.clock()
        self._prune(now)
        server_nonce = self._randbytes(32).hex()
        self._pending[server_nonce] = _Pending(token_hint, record.token_id, client_nonce,
                                               now + self.challenge_ttl_s)
        mine = self._pending_by_token.setdefault(record.token_id, OrderedDict())
        mine[server_nonce] = None
        while len(mine) > _PENDING_PER_TOKEN:
            self._pending.pop(mine.popitem(last=False)[0], None)
        proof = prove_server(record.server_key, client_message(
            "server", token_hint, client_nonce, server_nonce))
        return {"v": CHALLENGE_VERSION, "server_nonce": server_nonce, "server_proof": proof,
                "expires_in_s": self.challenge_ttl_s}

    async def open_session(self, server_nonce: str, proof: str, *,
                           received_at: float | None = None) -> dict[str, object]:
        """Step 2: check the client's proof, consume the challenge, issue a session.

        ``received_at`` (the records' clock when the answer arrived) judges the nonce's
        expiry, so time spent queued behind other callers does not expire it.

        Raises:
            ValueError: the nonce or the proof is not in its format.
            Unauthorized: the challenge is unknown, used or expired, or the proof is wrong
                (``invalid_token``); the record is no longer live.
        """
        if not is_hex64(server_nonce) or not is_hex64(proof):
            raise ValueError("server_nonce and client_proof must be 64 lowercase hex characters")
        pending = self._pending.pop(server_nonce, None)  # one answer per challenge, right or not
        now = self.records.clock()
        if pending is not None:
            self._pending_by_token.get(pending.token_id, OrderedDict()).pop(server_nonce, None)
        if pending is None or pending.expires_at <= (now if received_at is None
                                                     else received_at):
            raise Unauthorized("invalid_token",
                               "The challenge is unknown, used or expired: ask a new one")
        record = await self._record(pending.token_hint)
        message = client_message("client", pending.token_hint, pending.client_nonce,
                                 server_nonce)
        if not verify_holder(bytes.fromhex(record.stored_key), message, proof):
            raise Unauthorized("invalid_token", "The auth token is not valid")
        session = SESSION_PREFIX + base64.urlsafe_b64encode(
            self._randbytes(32)).rstrip(b"=").decode("ascii")
        self._sessions[session] = _Session(record.token_hint, record.token_id, now, now)
        mine = self._sessions_by_token.setdefault(record.token_id, OrderedDict())
        for lapsed in [s for s in mine if not self._alive(self._sessions[s], now)]:
            del mine[lapsed]
            del self._sessions[lapsed]
        mine[session] = None
        while len(mine) > self.sessions_per_token:
            self._sessions.pop(mine.popitem(last=False)[0], None)
        return {"session": session, "token_id": record.token_id,
                "idle_timeout_s": self.session_idle_s, "max_lifetime_s": self.session_max_s}

    def authenticate(self, token: str | None) -> Coroutine[Any, Any, Principal]:
        """A session from :meth:`open_session`, or a token as :class:`Authenticator` checks it
        (its coroutine: no coroutine of this class's own around every token's check).

        Raises:
            Unauthorized: as :meth:`Authenticator.authenticate`; an unknown or lapsed session
                is ``invalid_token`` (the client answers a new challenge).
        """
        if token is None or not token.startswith(SESSION_PREFIX):
            return super().authenticate(token)
        return self._session(token)

    async def _session(self, token: str) -> Principal:
        """The principal of a session from :meth:`open_session` (``token``, not a token)."""
        now = self.records.clock()
        session = self._sessions.get(token)
        if session is None or not self._alive(session, now):
            self._end(token)
            raise Unauthorized("invalid_token",
                               "The session is unknown or has lapsed: answer a new challenge")
        record = await self._record(session.token_hint)
        if record.token_id != session.token_id:  # the hint now names another record
            self._end(token)
            raise Unauthorized("invalid_token", "The auth token is not valid")
        session.last_used = now
        self._sessions_by_token[session.token_id].move_to_end(token)
        return self._principal(record)

    # -- internals -------------------------------------------------------------------------

    def _alive(self, session: _Session, now: float) -> bool:
        return (now - session.last_used <= self.session_idle_s
                and now - session.created_at <= self.session_max_s)

    def _end(self, token: str) -> None:
        session = self._sessions.pop(token, None)
        if session is not None:
            mine = self._sessions_by_token.get(session.token_id)
            if mine is not None:
                mine.pop(token, None)
                if not mine:
                    del self._sessions_by_token[session.token_id]

    async def _record(self, token_hint: str) -> SignedRecord:
        """The live record of a hint (revocation, expiry and device approval checked)."""
        record = await self.records.find(token_hint=token_hint)
        if not hmac.compare_digest(record.token_hint, token_hint):
            raise Unauthorized("invalid_token", "The auth token is not valid")
        self._check_live(record)
        return record

    def _prune(self, now: float) -> None:
        for nonce in [n for n, p in self._pending.items() if p.expires_at <= now]:
            pending = self._pending.pop(nonce)
            mine = self._pending_by_token.get(pending.token_id)
            if mine is not None:
                mine.pop(nonce, None)
                if not mine:
                    del self._pending_by_token[pending.token_id]

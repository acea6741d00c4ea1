"""The authenticator: one answer to "who is this?" for HTTP clients and for EAs.

Clients present the token (or a session won by the challenge, ``challenge.py``); EAs present
the token's hint and a proof over both ends' nonces (``mtgateway.credential``: the raw token
never crosses the bridge), after this daemon proved itself to them with the record's
``server_key``. The hint names the record, which a daemon that has not cached it yet asks the
authority for. Both end at the same verified record, and both
get the same reason words when refused, so the terminal can show "token expired" where a client
sees ``data.reason = "token_expired"``.

Fast path: a bot sends the same bearer token on every request, and checking it in full
(checksum, SHA-256, the cache lookup, building a :class:`Principal`) was a sizeable part of a
``/rpc`` request's CPU under load (``docs/performance.md``). So a successful check is remembered
by token string for at most ``reuse_s`` (1 s). A remembered answer is used only while

* the record cache's :attr:`~gateway.auth.cache.RecordCache.generation` is the one it was
  verified under: any change of any cached record (a refresh bringing a revocation, a record
  dropped or pruned, a death announced to ``on_dead``) voids every remembered answer, so a
  revocation the cache has learnt of refuses the very next request;
* the record's own revocation and expiry times have not passed, checked against the clock on
  every use, exactly as on the full path;
* the record is still usable offline (its ``valid_until`` and the cache's grace), as the cache
  itself would judge.

``Principal.fresh`` is not cached: the principal asks the cache at the moment of use. Only
successes are remembered; a refused token takes the full path (and the throttle) every time.
The lookup is a dict keyed by the token string (hashes randomized per process), so its timing
says nothing useful about a remembered token.
"""

from __future__ import annotations

import functools
import hmac
import logging
from dataclasses import dataclass
from typing import Final

from ea_bridge import AuthRefused, Hello, TerminalId
from mtgateway.credential import TokenKeys, ea_message, prove_server, verify_holder
from mtgateway_base.wire.records import SignedRecord
from mtgateway_base.wire.tokens import is_well_formed

from ..errors import Unauthorized, Unavailable
from .records import Principal, RecordSource

__all__ = ["Authenticator"]

#: Security events (a token used where it is not bound): WARNING, ids and terminals only.
security_log = logging.getLogger("gateway.security")

#: The most tokens remembered at once (only valid tokens get in; this only bounds memory).
_REMEMBER_MAX: Final = 4096


@dataclass(frozen=True, slots=True)
class _Verified:
    """A token checked in full: what it yielded, and the conditions it still holds under."""

    record: SignedRecord
    principal: Principal
    generation: int
    until: float


class Authenticator:
    """Checks tokens and EA handshakes against a :class:`RecordSource` (the record cache).

    Args:
        records: where verified records come from; its ``clock`` judges expiry.
        reuse_s: how long a successful check of a token string may be reused (see the
            module docstring); 0 turns the fast path off.
    """

    def __init__(self, records: RecordSource, *, reuse_s: float = 1.0) -> None:
        self.records = records
        self._reuse_s = reuse_s
        self._verified: dict[str, _Verified] = {}

    def throttle_key(self, credential: str | None) -> str:
        """The key ``credential`` goes through the brute-force throttle under (itself; a
        session counts as its token in :class:`~gateway.auth.challenge.ChallengeAuthenticator`)."""
        return credential or ""

    async def authenticate(self, token: str | None) -> Principal:
        """The principal for a client's bearer token.

        Raises:
            Unauthorized: ``missing_token``, ``malformed_token``, ``invalid_token``,
                ``token_revoked``, ``token_expired`` or ``device_not_approved``.
            Unavailable: ``authority_unreachable`` (nothing cached, no answer).
        """
        if not token:
            raise Unauthorized("missing_token", "An auth token is required")
        principal = self.reused(token)
        if principal is not None:
            return principal
        known = self._verified.get(token)
        if known is not None:
            if known.generation == self.records.generation \
                    and self.records.clock() < known.until:
                self._check_live(known.record)  # (dead: refused for the reason it gives)
                return known.principal
            del self._verified[token]
        if not is_well_formed(token):
            raise Unauthorized("malformed_token", "The auth token is malformed")
        keys = TokenKeys.of(token)
        record = await self.records.find(token_hint=keys.hint)
        if not hmac.compare_digest(record.stored_key, keys.verifier.stored_key.hex()):
            raise Unauthorized("invalid_token", "The auth token is not valid")
        self._check_live(record)
        principal = self._principal(record)
        if self._reuse_s > 0:
            self._remember(token, record, principal)
        return principal

    def reused(self, token: str | None) -> Principal | None:
        """The principal of ``token``'s last full check while it may be reused and its record
        is live (what :meth:`authenticate` answers at once, without a coroutine: the door's
        usual case), else None: :meth:`authenticate` decides, and refuses if it must."""
        known = self._verified.get(token) if token else None
        if known is None:
            return None
        records = self.records
        now = records.clock()
        record = known.record
        # (the live test of :meth:`_check_live`, written out: every call of a token)
        if known.generation == records.generation and now < known.until \
                and record.revoked_at is None \
                and (record.expires_at is None or now < record.expires_at):
            return known.principal
        return None

    def _remember(self, token: str, record: SignedRecord, principal: Principal) -> None:
        """Keep a full check's answer for the fast path, under the cache's current generation
        (read after the lookup's await, so a change during it is not missed)."""
        if len(self._verified) >= _REMEMBER_MAX:
            self._verified.clear()
        until = min(self.records.clock() + self._reuse_s,
                    self.records.usable_until(record.token_id))
        self._verified[token] = _Verified(record, principal, self.records.generation, until)

    async def _ea_record(self, hello: Hello) -> SignedRecord:
        """The record the hello's hint names (live or not: a proved peer may tell the EA it
        was revoked).

        Raises:
            AuthRefused: ``invalid_token``, ``device_not_approved``, ``authority_unreachable``.
        """
        try:
            record = await self.records.find(token_hint=hello.token_hint)
            if not hmac.compare_digest(record.token_hint, hello.token_hint):
                raise Unauthorized("invalid_token", "The auth token is not valid")
        except (Unauthorized, Unavailable) as exc:
            raise AuthRefused(exc.reason, str(exc)) from None
        return record

    async def prove_daemon(self, hello: Hello, daemon_nonce: str) -> str:
        """This daemon's proof to the EA: ``HMAC(server_key, …)`` over the hello's nonce,
        ``daemon_nonce`` and the terminal (``mtgateway.credential.ea_message``).

        Only a hint no usable record answers is refused here; every other refusal (revoked,
        expired, another terminal) comes after the EA's proof, from a daemon that has proved
        itself, so the EA can believe it and stop retrying.

        Raises:
            AuthRefused: ``invalid_token`` (no record has the hint), ``device_not_approved``,
                ``authority_unreachable``.
        """
        record = await self._ea_record(hello)
        if record.server_key is None:  # a record is cached only once its box opened
            raise AuthRefused("invalid_token", "the daemon holds no key for this token")
        return prove_server(record.server_key, ea_message(
            "daemon", hello.ea_nonce, daemon_nonce, hello.login, hello.server))

    async def verify_ea(self, hello: Hello, daemon_nonce: str, proof: str) -> str:
        """Check the EA's proof (``client_key`` XOR ``HMAC(stored_key, …)``) against the
        hinted record, which must still serve this terminal.

        Returns:
            The record's ``token_id``.

        Raises:
            AuthRefused: ``invalid_token`` (the proof is wrong), ``terminal_mismatch`` (the
                token is bound to another login or server), ``token_revoked``,
                ``token_expired``, or as :meth:`prove_daemon`.
        """
        record = await self._ea_record(hello)
        message = ea_message("ea", hello.ea_nonce, daemon_nonce, hello.login, hello.server)
        if not verify_holder(bytes.fromhex(record.stored_key), message, proof):
            raise AuthRefused("invalid_token", "the auth token is not valid for this daemon")
        if (hello.login, hello.server) != (record.login, record.server):
            security_log.warning(
                "rebinding refused: an EA for terminal %s@%s presented token %s, which is bound "
                "to terminal %s@%s", hello.login, hello.server, record.token_id, record.login,
                record.server)
            raise AuthRefused("terminal_mismatch",
                              f"the auth token is bound to another terminal, not "
                              f"{hello.login}@{hello.server}")
        try:
            self._check_live(record)
        except Unauthorized as exc:
            raise AuthRefused(exc.reason, exc.message) from None
        return record.token_id

    def _principal(self, record: SignedRecord) -> Principal:
        return Principal(record.token_id, TerminalId(record.login, record.server),
                         record.scopes, record.risk,
                         functools.partial(self.records.is_fresh, record.token_id))

    def _check_live(self, record: SignedRecord) -> None:
        now = self.records.clock()
        if record.revoked_at is not None:  # effective when reported (see cache._dead)
            raise Unauthorized("token_revoked", "The auth token has been revoked")
        if record.expires_at is not None and record.expires_at <= now:
            raise Unauthorized("token_expired", "The auth token has expired")

"""The authenticator: one answer to "who is this?" for HTTP clients and for EAs.

Clients present the token; EAs present a MAC over a nonce keyed with the token's SHA-256 (the
raw token never crosses the bridge) plus the token's hint, by which a daemon that has not
cached the record yet asks the authority for it. Both end at the same verified record, and both
get the same reason words when refused, so the terminal can show "token expired" where a client
sees ``data.reason = "token_expired"``.
"""

from __future__ import annotations

import functools
import hmac

from ea_bridge import AuthRefused, Hello, TerminalId, auth_mac

from ..authority.records import SignedRecord
from ..errors import Unauthorized, Unavailable
from .records import Principal, RecordSource
from .tokens import is_well_formed, token_sha256

__all__ = ["Authenticator"]


class Authenticator:
    """Checks tokens and EA handshakes against a :class:`RecordSource` (the record cache).

    Args:
        records: where verified records come from; its ``clock`` judges expiry.
    """

    def __init__(self, records: RecordSource) -> None:
        self.records = records

    async def authenticate(self, token: str | None) -> Principal:
        """The principal for a client's bearer token.

        Raises:
            Unauthorized: ``missing_token``, ``malformed_token``, ``invalid_token``,
                ``token_revoked``, ``token_expired`` or ``device_not_approved``.
            Unavailable: ``authority_unreachable`` (nothing cached, no answer).
        """
        if not token:
            raise Unauthorized("missing_token", "An auth token is required")
        if not is_well_formed(token):
            raise Unauthorized("malformed_token", "The auth token is malformed")
        digest = token_sha256(token)
        record = await self.records.find(token_sha256=digest)
        if not hmac.compare_digest(record.token_sha256, digest):
            raise Unauthorized("invalid_token", "The auth token is not valid")
        self._check_live(record)
        return self._principal(record)

    async def verify_ea(self, hello: Hello, nonce: str, mac: str) -> str:
        """Find the record whose token produced ``mac`` and check it may serve this terminal.

        Returns:
            The matching record's ``token_id``.

        Raises:
            AuthRefused: ``invalid_token`` (no record matches), ``device_not_approved``,
                ``authority_unreachable``, ``terminal_mismatch`` (the token is bound to
                another login or server), ``token_revoked``, ``token_expired``.
        """
        try:
            candidates = ([await self.records.find(token_hint=hello.token_hint)]
                          if hello.token_hint else self.records.records())
        except (Unauthorized, Unavailable) as exc:
            raise AuthRefused(exc.reason, str(exc)) from None
        for record in candidates:
            expected = auth_mac(bytes.fromhex(record.token_sha256), nonce, hello.login,
                                hello.server)
            if hmac.compare_digest(expected, mac):
                break
        else:
            raise AuthRefused("invalid_token", "the auth token is not valid for this daemon")
        if (hello.login, hello.server) != (record.login, record.server):
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
        if record.revoked_at is not None and record.revoked_at <= now:
            raise Unauthorized("token_revoked", "The auth token has been revoked")
        if record.expires_at is not None and record.expires_at <= now:
            raise Unauthorized("token_expired", "The auth token has expired")

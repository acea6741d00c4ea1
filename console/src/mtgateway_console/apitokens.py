"""The console API's bearer tokens: JWTs the console signs for an owner who signed in.

``POST /api/auth/login`` (the MT4 Web API document's login) answers ``{"access_token": <JWT>,
"token_type": "bearer"}``; every other ``/api/`` request of the console carries it as
``Authorization: Bearer``. Why a JWT: the document says so, and its clients parse it. Why
these choices:

* **A kept library** (PyJWT), never a hand-written codec. Tokens are verified with a fixed
  algorithm list (``HS256`` only), so a token naming ``alg: none`` or another algorithm is
  refused before its signature is looked at, and ``iss``, ``aud``, ``exp``, ``iat`` and
  ``sub`` are required.
* **HS256 under a key only the console holds**, derived from ``authority-data.key`` (through
  the store's derived secret), so every console instance sharing one authority signs and
  checks the same tokens and nothing else can: the console is the only verifier, so a
  symmetric key suffices, and the authority's Ed25519 record key is kept for records.
* **Eight hours** (:data:`LIFETIME_S`), as the document's default. **Renewed when close to
  expiry**, as the document says: an answer to a request whose token has less than
  :data:`RENEW_WITHIN_S` left carries a fresh token in :data:`RENEWED_HEADER` (and its expiry
  in :data:`RENEWED_EXPIRES_HEADER`); a client that keeps using the API swaps it in and never
  signs in again, for at most :data:`MAX_SESSION_S` after the password was typed
  (``auth_time``), after which the owner signs in again.
* **Ended with the owner's other credentials**: each token names its sign-in (``sid``, kept
  by renewals) and the owner's sign-in generation when it was issued (``gen``). Whoever
  accepts a token asks the service (``service/credentials.py``) to turn its claims into an
  owner, which refuses it once that sign-in was ended (from the sessions page) or the
  generation moved on (the password set, the second factor turned on or off or reset by the
  operator, "Sign out everywhere", a take-back: ``signins.end_credentials``).

Nothing here does I/O: :class:`ApiTokens` takes the clock and the key; the console's door
(its bearer step, ``door/callers.py``) verifies a token and asks the service for its owner.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import jwt

from mtgateway_base.wire.errors import AuthorityError

__all__ = ["ALGORITHM", "AUDIENCE", "ISSUER", "LIFETIME_S", "MAX_SESSION_S", "RENEWED_HEADER",
           "RENEWED_EXPIRES_HEADER", "RENEW_WITHIN_S", "ApiClaims", "ApiTokenRefused",
           "ApiTokens", "api_key_from"]

#: The one algorithm tokens are signed and checked with.
ALGORITHM: Final = "HS256"
ISSUER: Final = "mtgateway-console"
AUDIENCE: Final = "mtgateway-console-api"
#: A token's lifetime (the document's default: 8 hours).
LIFETIME_S: Final = 8 * 3600
#: A token with less than this left is renewed on use (an eighth of its life).
RENEW_WITHIN_S: Final = 3600
#: The longest a chain of renewals lasts after the password was typed.
MAX_SESSION_S: Final = 7 * 86400
#: The response headers that carry a renewed token and its expiry (epoch seconds).
RENEWED_HEADER: Final = "X-Access-Token"
RENEWED_EXPIRES_HEADER: Final = "X-Access-Token-Expires"
#: Allowed clock difference between console instances when checking ``iat``/``exp``.
_LEEWAY_S: Final = 5
_REQUIRED: Final = ["iss", "aud", "sub", "exp", "iat", "jti"]


def api_key_from(secret: bytes) -> bytes:
    """The API tokens' HMAC key, derived from one of the authority's secrets (32 bytes)."""
    return hmac.new(secret, b"mtgw-console-api-jwt-v1", hashlib.sha256).digest()


class ApiTokenRefused(AuthorityError):
    """A bearer token the console does not accept; ``reason`` is the word the 401 carries
    (``malformed_token``, ``invalid_token``, ``token_expired``, ``session_too_old``,
    ``token_revoked``)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class ApiClaims:
    """What a verified token says: whose it is, when it ends, when the password was typed,
    which sign-in it belongs to and the owner's sign-in generation it was issued under."""

    owner_email: str
    expires_at: int
    auth_time: int
    session_id: str
    generation: int
    token_id: str


class ApiTokens:
    """Issue and verify the console API's bearer tokens.

    Args:
        key: the HMAC key (:func:`api_key_from`).
        clock: epoch seconds (tests move it).
    """

    def __init__(self, key: bytes, clock: Callable[[], float]) -> None:
        if len(key) < 32:
            raise ValueError("the API token key must be at least 32 bytes")
        self._key = key
        self._clock = clock

    def issue(self, owner_email: str, session_id: str, generation: int,
              auth_time: int | None = None) -> tuple[str, int]:
        """A new token of the owner's sign-in ``session_id``, under their sign-in
        ``generation``, and its expiry (epoch seconds); ``auth_time`` is when the password
        was typed (now, for a sign-in; kept, for a renewal)."""
        now = int(self._clock())
        expires_at = now + LIFETIME_S
        claims: dict[str, Any] = {
            "iss": ISSUER, "aud": AUDIENCE, "sub": owner_email, "iat": now, "nbf": now,
            "exp": expires_at, "auth_time": now if auth_time is None else auth_time,
            "sid": session_id, "gen": generation, "jti": secrets.token_urlsafe(12)}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM), expires_at

    def verify(self, token: str) -> ApiClaims:
        """The claims of a token this console signed and that is live now.

        Raises:
            ApiTokenRefused: ``malformed_token`` (not a JWT), ``invalid_token`` (another
                algorithm, a wrong signature, issuer or audience, a claim missing or of the
                wrong type), ``token_expired``, or ``session_too_old`` (renewed past
                :data:`MAX_SESSION_S` since the password was typed).
        """
        now = self._clock()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise ApiTokenRefused("malformed_token", "the bearer token is not a JWT") from None
        if header.get("alg") != ALGORITHM:
            raise ApiTokenRefused("invalid_token", "the bearer token is not one this console "
                                  "signed") from None
        try:
            claims = jwt.decode(token, self._key, algorithms=[ALGORITHM], audience=AUDIENCE,
                                issuer=ISSUER, leeway=_LEEWAY_S,
                                options={"require": _REQUIRED, "verify_exp": False,
                                         "verify_iat": False, "verify_nbf": False})
        except jwt.PyJWTError:
            raise ApiTokenRefused("invalid_token", "the bearer token is not one this console "
                                  "signed") from None
        # Times are judged here, on the injected clock (PyJWT reads the system's).
        sub, exp, iat, auth_time, jti = (claims.get("sub"), claims.get("exp"),
                                         claims.get("iat"), claims.get("auth_time"),
                                         claims.get("jti"))
        if not (isinstance(sub, str) and sub and all(
                isinstance(t, int) and not isinstance(t, bool) for t in (exp, iat, auth_time))
                and isinstance(jti, str)):
            raise ApiTokenRefused("invalid_token", "the bearer token is not one this console "
                                  "signed")
        sid, gen = claims.get("sid"), claims.get("gen")
        if not (isinstance(sid, str) and sid and isinstance(gen, int)
                and not isinstance(gen, bool)):
            # signed here, by a release that did not yet name the sign-in
            raise ApiTokenRefused("token_revoked", "this token was issued before the console "
                                  "kept its sign-ins: sign in again (POST /api/auth/login)")
        assert isinstance(exp, int) and isinstance(iat, int) and isinstance(auth_time, int)  # noqa: S101
        if iat > now + _LEEWAY_S:
            raise ApiTokenRefused("invalid_token", "the bearer token is issued in the future")
        if now >= exp + _LEEWAY_S:
            raise ApiTokenRefused("token_expired", "the bearer token has expired: sign in "
                                  "again (POST /api/auth/login)")
        if now >= auth_time + MAX_SESSION_S:
            raise ApiTokenRefused("session_too_old", "this sign-in is too old to be renewed: "
                                  "sign in again (POST /api/auth/login)")
        return ApiClaims(sub, int(exp), int(auth_time), sid, gen, jti)

    def renewal(self, claims: ApiClaims) -> tuple[str, int] | None:
        """A fresh token for ``claims`` when it is close to expiry (and the sign-in is young
        enough to renew), else ``None``."""
        now = int(self._clock())
        if claims.expires_at - now >= RENEW_WITHIN_S:
            return None
        if now + LIFETIME_S >= claims.auth_time + MAX_SESSION_S:
            return None  # renewing would outlive the sign-in: the client signs in again
        return self.issue(claims.owner_email, claims.session_id, claims.generation,
                          claims.auth_time)

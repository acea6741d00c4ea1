"""``POST /auth/challenge`` and ``POST /auth/session``: the client challenge over HTTP.

The protocol and why it exists are in ``gateway/auth/challenge.py`` and ``docs/api.md``
("Authentication: the challenge"); this module only moves its two steps over HTTP, through the
daemon's door (``edge/door.py``) as every other: JSON only (415), a small body (413), the body
deadline (408); then every failure through the daemon's brute-force throttle (the delay, the
lockout's 429) and answered as ``/rpc`` answers a refused token (401 with the reason word,
503 when the authority cannot be asked). The routes need no token: they are how a client gets
a credential without sending one, so the door takes no token step for them.

Both steps count under the token's key: step 1 of a token whose
session succeeded before skips the throttle's queue, and step 2 goes through under the key of
the token its pending challenge is for, which a success vouches. So guessers flooding the
daemon with wrong tokens keep no bot whose token already worked from a new session; the
nonce's lifetime is judged when the answer arrives, not after the queue.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from aiohttp import web

from .auth.challenge import CHALLENGE_VERSION, ChallengeAuthenticator
from .edge.door import DOOR, HEAD, AiohttpBody, error_response
from .errors import (
    INVALID_PARAMS,
    HttpRefusal,
    RateLimited,
    RpcError,
    Unauthorized,
    Unavailable,
    auth_refusal,
)
from .keys import AUTH_THROTTLE, AUTHENTICATOR

__all__ = ["routes"]

#: Both steps' bodies are a few hundred bytes.
_MAX_BODY: Final = 1024


def routes() -> list[web.RouteDef]:
    """The two steps' routes, for ``create_app``."""
    return [web.post("/auth/challenge", challenge), web.post("/auth/session", session)]


def _bad(message: str) -> web.Response:
    return error_response(HttpRefusal(400, RpcError(INVALID_PARAMS, message)))


def _challenger(request: web.Request) -> ChallengeAuthenticator:
    authenticator = request.app[AUTHENTICATOR]
    if not isinstance(authenticator, ChallengeAuthenticator):  # composed so by create_app
        raise TypeError("the daemon's authenticator does not run the client challenge")
    return authenticator


async def _fields(request: web.Request, *names: str,
                  version: bool = False) -> list[str] | web.Response:
    """The named string fields of the JSON body, or the refusal to answer. With ``version``
    the body must say ``"v": 2``: version 1 proved the token with its SHA-256, which no
    daemon holds any more, and an old client is told so rather than failing a proof."""
    entry = await request.app[DOOR].enter(request[HEAD], AiohttpBody(request, _MAX_BODY),
                                          None, limit=_MAX_BODY, token=False)
    if isinstance(entry, HttpRefusal):
        return error_response(entry)
    try:
        obj: Any = orjson.loads(entry.body)
    except orjson.JSONDecodeError:
        return _bad("the body is not JSON")
    if not isinstance(obj, dict):
        return _bad("the body must be a JSON object")
    if version and obj.get("v") != CHALLENGE_VERSION:
        return _bad(f"challenge version {obj.get('v', 1)!r} is not spoken here: this daemon "
                    f"speaks version {CHALLENGE_VERSION}; upgrade mtgateway-client")
    values = []
    for name in names:
        value = obj.get(name)
        if not isinstance(value, str):
            return _bad(f"{name} is required (a string)")
        values.append(value)
    return values


async def challenge(request: web.Request) -> web.Response:
    """Step 1: ``{"v": 2, "token_hint", "client_nonce"}`` → ``{"v", "server_nonce",
    "server_proof", "expires_in_s"}``."""
    fields = await _fields(request, "token_hint", "client_nonce", version=True)
    if isinstance(fields, web.Response):
        return fields
    hint, nonce = fields
    authenticator = _challenger(request)
    throttle = request.app[AUTH_THROTTLE]
    known = authenticator.cached_token_id(hint)
    try:
        if known is not None and throttle.vouched(authenticator.vouch_key(known)):
            answer = await authenticator.challenge(hint, nonce)
        else:  # proves nothing of the token: a success vouches nothing
            answer = await throttle.check("hint:" + hint,
                                          lambda: authenticator.challenge(hint, nonce),
                                          Unauthorized, vouch=False)
    except ValueError as exc:
        return _bad(str(exc))
    except (Unauthorized, Unavailable, RateLimited) as exc:
        return error_response(auth_refusal(exc))
    return web.json_response(answer)


async def session(request: web.Request) -> web.Response:
    """Step 2: ``{"server_nonce", "client_proof"}`` → ``{"session", "token_id",
    "idle_timeout_s"}``."""
    fields = await _fields(request, "server_nonce", "client_proof")
    if isinstance(fields, web.Response):
        return fields
    nonce, proof = fields
    authenticator = _challenger(request)
    received_at = authenticator.records.clock()
    token_id = authenticator.pending_token_id(nonce)
    key = authenticator.vouch_key(token_id) if token_id is not None else "challenge:" + nonce
    try:
        answer = await request.app[AUTH_THROTTLE].check(
            key, lambda: authenticator.open_session(nonce, proof, received_at=received_at),
            Unauthorized)
    except ValueError as exc:
        return _bad(str(exc))
    except (Unauthorized, Unavailable, RateLimited) as exc:
        return error_response(auth_refusal(exc))
    return web.json_response(answer)

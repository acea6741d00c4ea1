"""What every console route shares: the error shape and its middleware, the Host allowlist,
JSON bodies, owner credentials and device proofs.

Every error is ``{"error": {"code", "reason", "message", ...}}``; the owner's 401 is the same
bytes for an unknown e-mail and a wrong password. A request whose database work could not be
done (:class:`~gateway.authority.database.DatabaseUnavailable`: unreachable, paused, too slow)
is answered 503 ``database_unavailable`` within the database's bound, never 500 and never a
hang. Request bodies are validated by pydantic here, at the edge; the authority below sees
plain values.

Owner credentials are checked by the one rule every door shares (``service/signin.py``): through
the same :class:`~gateway.base.throttle.AuthThrottle` rule as the daemon's tokens
(``docs/security.md``, "Guessing tokens and owner passwords"), credentials not yet seen to
succeed are checked one at a time, each failure is answered after a delay, and a burst starts a
lockout during which such credentials get 429 without any password or code being checked (no
oracle for a guesser); an owner without a second factor who signed in before the lockout keeps
getting in. Device proofs are single use: :class:`~..store.StoredProofReplays` refuses a copy
within the time window, on every console instance sharing the database and after a restart.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Final, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from ...base.access import mask_path
from ...base.edge import HostRefusals, host_allowed, target_authority
from ...base.guard import mark_authenticated
from ...base.throttle import RateLimited
from ..api import DeviceInfo
from ..appkeys import AUTHORITY, CLOCKS, ERROR_PAGE, KEY_GATE, OWNER_SIGN_IN, PROOFS_OFF_LOOP
from ..database import DatabaseUnavailable, Tx
from ..errors import ProofRejected
from ..proofs import CheckedProof, check_device_proof
from ..service.signin import MESSAGES, SignInRefused
from ..store import AuthorityStore, ProofClaim, StoredProofReplays

__all__ = ["CODE_HEADER", "MISDIRECTED", "Body", "Fail", "Handler", "device", "device_claim",
           "error_response", "errors", "host_allowlist", "owner", "read_json", "refused_proof"]

log = logging.getLogger("gateway.authority.console")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_M = TypeVar("_M", bound=BaseModel)

MISDIRECTED: Final = "this Host is not served here (only loopback or [console] allowed_hosts)"
#: What a client is told to wait before trying again after a 503 for the database.
_DATABASE_RETRY_S: Final = 1


class Body(BaseModel):
    """A JSON request body: unknown fields refused, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Fail(Exception):
    """An error answer on its way out (turned into JSON by :func:`errors`)."""

    def __init__(self, status: int, reason: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.extra = status, reason, message, extra


def error_response(status: int, reason: str, message: str, **extra: Any) -> web.Response:
    """The console's error answer."""
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="mtgateway", charset="UTF-8"'
    if status in (429, 503) and "retry_after_s" in extra:
        headers["Retry-After"] = str(extra["retry_after_s"])
    body = {"error": {"code": status, "reason": reason, "message": message, **extra}}
    return web.json_response(body, status=status, headers=headers)


def host_allowlist(allowed: tuple[str, ...], refusals: HostRefusals) -> Any:
    """Refuse (421) a request naming a Host other than loopback or ``[console] allowed_hosts``,
    before anything else: a page on a name rebound to 127.0.0.1 is same-origin with the
    console and could drive sign-in guesses, the device API and long-polls."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        hosts = request.headers.getall("Host", [])
        if not host_allowed(hosts, allowed, request.raw_path):
            named = target_authority(request.raw_path)
            refusals.note(named or (hosts[0] if len(hosts) == 1 else None),
                          request.remote or "?")
            return error_response(421, "misdirected", MISDIRECTED)
        return await handler(request)

    return middleware


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure in the console's error shape (a person's page gets a page)."""
    try:
        return await handler(request)
    except Fail as fail:
        return error_response(fail.status, fail.reason, fail.message, **fail.extra)
    except DatabaseUnavailable as exc:
        log.warning("%s %s answered 503: %s", request.method, mask_path(request.path), exc)
        if not request.path.startswith("/v1/") and ERROR_PAGE in request.app:
            return await request.app[ERROR_PAGE](request, 503)
        return error_response(503, "database_unavailable", "the authority's database is not "
                              "answering; try again shortly", retry_after_s=_DATABASE_RETRY_S)
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, "body_too_large", "the request body is too large")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if not request.path.startswith("/v1/") and ERROR_PAGE in request.app:
            return await request.app[ERROR_PAGE](request, exc.status)  # a person's page
        return error_response(exc.status, "not_found" if exc.status == 404 else "http_error",
                              exc.reason)
    except Exception:
        log.exception("console handler failed: %s %s", request.method,
                      mask_path(request.path))
        return error_response(500, "internal", "internal error")


async def read_json(request: web.Request, model: type[_M], *, status: int = 422) -> _M:
    """The request's body as ``model`` (``{}`` when empty); 400 for bytes that are not JSON,
    ``status`` for JSON the model refuses, naming each field."""
    raw = await request.read()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise Fail(400, "bad_json", "the body is not JSON") from None
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}"
                           for e in exc.errors())
        raise Fail(status, "invalid_request", fields) from None


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    email, colon, password = decoded.partition(":")
    return (email, password) if colon else None


#: The header that carries the owner's second-factor code (or a recovery code) on the owner
#: API, beside the Basic credentials.
CODE_HEADER: Final = "X-Owner-Code"


def _check_owner_request(request: web.Request) -> None:
    """A browser that cached the owner's Basic credentials must not be made to use them by
    another site. A request carrying an ``Origin`` (browsers send it on
    cross-origin requests and on every POST) must come from the console's own origin (403
    otherwise); a body must be ``application/json`` (415), which a cross-site ``<form>``
    cannot send without a CORS preflight the console never grants. Clients without a browser
    (the CLI, curl) send no ``Origin`` and are not affected."""
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        raise Fail(403, "origin_refused",
                   "requests from another web origin are refused (the owner API is not for "
                   "pages of other sites)")
    if request.body_exists and request.content_type != "application/json":
        raise Fail(415, "unsupported_media_type",
                   "the body must be JSON with Content-Type: application/json")


async def owner(request: web.Request) -> str:
    """The e-mail of the owner whose HTTP Basic credentials the request carries, with the
    second factor's code in :data:`CODE_HEADER` when the owner has one (401, 403, 415 or
    429 otherwise), checked by the one rule every door shares (``service.signin``)."""
    _check_owner_request(request)
    credentials = _basic_credentials(request.headers.get("Authorization", ""))
    email, password = credentials or ("", "")
    code = request.headers.get(CODE_HEADER, "").strip()
    try:
        checked = await request.app[OWNER_SIGN_IN].credentials(email, password, code or None)
    except RateLimited as exc:
        raise Fail(429, "rate_limited", "too many failed sign-ins; wait",
                   retry_after_s=max(1, math.ceil(exc.retry_after_s))) from None
    except SignInRefused as refused:
        message = MESSAGES[refused.reason]
        if refused.reason == "second_factor_required":
            message = (f"this owner has two-step sign-in on: send the code from the "
                       f"authenticator app (or a recovery code) in the {CODE_HEADER} header")
        raise Fail(401, refused.reason, message) from None
    mark_authenticated(request)
    return checked.owner


async def device(request: web.Request) -> DeviceInfo:
    """The device whose proof the request carries (401 naming the failed check otherwise);
    the proof is remembered, so a copy of the request is refused."""
    found, claim = await _proven(request, defer=False)
    assert claim is None  # noqa: S101 - remembered above
    return found


async def device_claim(request: web.Request) -> tuple[DeviceInfo, ProofClaim | None]:
    """:func:`device` for a call whose own transaction writes the proof's replay row first
    (:class:`~..store.ProofClaim`: one transaction per call instead of two). The claim, or
    ``None`` when the row is written already: a key the console's gate does not know (its
    device row is looked up with it) and public-key work on the workers (one job for both).
    The connection is marked a credential holder's once the row is committed. A copy of
    the request is refused by the call's transaction: the caller answers its
    :class:`~..errors.ProofRejected` with :func:`refused_proof`."""
    return await _proven(request, defer=True)


def refused_proof(exc: ProofRejected) -> Fail:
    """The 401 of a refused device proof."""
    return Fail(401, exc.reason, "the device proof was refused")


async def _proven(request: web.Request, *, defer: bool
                  ) -> tuple[DeviceInfo, ProofClaim | None]:
    body = await request.read()
    authority = request.app[AUTHORITY]
    # A device the authority knows goes straight to the signature check and the replay row; a
    # key it has never seen is bounded first (``keygate``): a key costs nothing to make, and
    # its check costs the console a signature check and a database write.
    gate, device_id = request.app[KEY_GATE], request.headers.get("X-Device-Id", "")
    known = gate.known(device_id)
    if not known:
        wait = gate.admit(request.remote or "?")
        if wait is not None:
            raise Fail(429, "too_many_new_devices", "too many proofs from device keys this "
                       "console does not know; retry later", retry_after_s=wait)
    now = request.app[CLOCKS].wall()
    replays = StoredProofReplays(authority.store, authority)
    try:
        if request.app[PROOFS_OFF_LOOP]:
            headers = {name: value for name in _PROOF_HEADERS
                       if (value := request.headers.get(name)) is not None}
            checked, fresh, found = await authority.run(
                _prove, authority.store, replays, headers, request.method, request.path,
                body, now, not known)
        else:
            checked = check_device_proof(request.headers, request.method, request.path,
                                         body, now)
            if defer and known:
                return checked.device, replays.claim(
                    checked.replay_key, checked.made_at_s, now,
                    partial(mark_authenticated, request))
            fresh = await replays.remember(checked.replay_key, checked.made_at_s, now)
            found = fresh and not known and await authority.run(
                authority.store.device, checked.device.device_id) is not None
    except ProofRejected as exc:
        raise refused_proof(exc) from None
    if not fresh:
        raise Fail(401, "replayed_device_proof", "the device proof was refused")
    if found:
        gate.verified(checked.device.device_id)  # known to the authority since the start
    mark_authenticated(request)
    return checked.device, None


#: The headers a device proof is read from (``proofs.py``).
_PROOF_HEADERS: Final = ("X-Device-Id", "X-Device-Key", "X-Device-Time", "X-Device-Signature")


def _prove(tx: Tx, store: AuthorityStore, replays: StoredProofReplays,
           headers: dict[str, str], method: str, path: str, body: bytes, now: float,
           look_up: bool) -> tuple[CheckedProof, bool, bool]:
    """One job on the database door's worker for a device proof: its signature checked
    (libsodium releases the GIL: the event loop serves meanwhile), its replay row
    written, and, for a key the console's gate does not know (``look_up``), whether the
    authority has its device row. The proof checked, whether it was fresh, whether the row
    was found.

    Raises:
        ProofRejected: a check failed (nothing is written).
    """
    checked = check_device_proof(headers, method, path, body, now)
    proof_key, expires_at = replays.entry(checked.replay_key, checked.made_at_s)
    fresh = store.remember_proof(tx, proof_key, expires_at, int(now))
    found = fresh and look_up and store.device(tx, checked.device.device_id) is not None
    return checked, fresh, found

"""What every console route shares: the error shape and its middleware, the Host allowlist,
JSON bodies, owner credentials and device proofs.

Every error is ``{"error": {"code", "reason", "message", ...}}``; the owner's 401 is the same
bytes for an unknown e-mail and a wrong password. A request whose database work could not be
done (:class:`~gateway.authority.database.DatabaseUnavailable`: unreachable, paused, too slow)
is answered 503 ``database_unavailable`` within the database's bound, never 500 and never a
hang. Request bodies are validated by pydantic here, at the edge; the authority below sees
plain values.

Owner credentials pass through the same :class:`~..throttle.AuthThrottle` rule as the
daemon's tokens (security.md "Failed auth"): credentials not yet seen to succeed are checked
one at a time, each failure is answered after a delay, and a burst starts a lockout during
which such credentials get 429 without any password being checked (no oracle for a guesser);
an owner who signed in before the lockout keeps getting in. Device proofs are single use:
:class:`~..store.StoredProofReplays` refuses a copy within the time window, on every console
instance sharing the database and after a restart.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from ...base.edge import HostRefusals, host_allowed, target_authority
from ...base.guard import mark_authenticated
from ...base.throttle import RateLimited
from ..api import DeviceInfo
from ..appkeys import AUTHORITY, CLOCKS, KEY_GATE, OWNER_THROTTLE, VOUCH_KEY
from ..database import DatabaseUnavailable
from ..errors import ProofRejected
from ..proofs import check_device_proof
from ..store import StoredProofReplays
from ..web import PAGES

__all__ = ["CODE_HEADER", "MISDIRECTED", "Body", "Fail", "Handler", "device", "error_response",
           "errors", "host_allowlist", "owner", "page_code_check", "page_sign_in", "read_json"]

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
    console and could drive sign-in guesses, the device API and long-polls (issue 16 F7)."""

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
        log.warning("%s %s answered 503: %s", request.method, request.path, exc)
        if not request.path.startswith("/v1/") and PAGES in request.app:
            return await request.app[PAGES].error_page(request, 503)
        return error_response(503, "database_unavailable", "the authority's database is not "
                              "answering; try again shortly", retry_after_s=_DATABASE_RETRY_S)
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, "body_too_large", "the request body is too large")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if not request.path.startswith("/v1/") and PAGES in request.app:
            return await request.app[PAGES].error_page(request, exc.status)  # a person's page
        return error_response(exc.status, "not_found" if exc.status == 404 else "http_error",
                              exc.reason)
    except Exception:
        log.exception("console handler failed: %s %s", request.method, request.path)
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


class _WrongOwner(Exception):
    """The owner credentials are wrong (inside the throttle's check only)."""


class _WrongCode(_WrongOwner):
    """The password was right, the second-factor code wrong or spent (counted the same)."""


class _CodeMissing(Exception):
    """The password was right and the owner has a second factor, but no code came (not a
    guess: it passes the throttle uncounted)."""


async def _owner_check(app: web.Application, email: str, password: str, *,
                       code: str | None = None, second_factor: bool = False) -> str:
    """The owner's e-mail if the credentials are right, through the owner throttle; raises
    :class:`_WrongOwner`, or ``RateLimited`` during a lockout. The API's Basic auth and the
    pages' sign-in form both come here, so they share one allowance. With ``second_factor``
    (the owner API) an owner who turned it on must send ``code`` too: a wrong one counts as a
    failed sign-in (:class:`_WrongCode`), none raises :class:`_CodeMissing`."""
    authority = app[AUTHORITY]
    owners = authority.owners
    present = bool(email or password)

    async def verify() -> str:
        # scrypt runs even without credentials, so every refusal costs the same time.
        if not (await owners.check(email, password) and present):
            raise _WrongOwner
        if second_factor and await authority.second_factor.enrolled(email):
            if not code:
                raise _CodeMissing
            if not await authority.second_factor.check(email, code):
                raise _WrongCode
        return email

    # The throttle vouches for credentials by a keyed hash, never the password itself.
    key = hmac.new(app[VOUCH_KEY], f"{email}\0{password}".encode(), hashlib.sha256).hexdigest()
    return await app[OWNER_THROTTLE].check(key, verify, _WrongOwner)


def _check_owner_request(request: web.Request) -> None:
    """Issue 16 F11: a browser that cached the owner's Basic credentials must not be made to
    use them by another site. A request carrying an ``Origin`` (browsers send it on
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
    """The e-mail of the owner whose HTTP Basic credentials the request carries (401, 403,
    415 or 429 otherwise)."""
    _check_owner_request(request)
    credentials = _basic_credentials(request.headers.get("Authorization", ""))
    email, password = credentials or ("", "")
    code = request.headers.get(CODE_HEADER, "").strip()
    try:
        found = await _owner_check(request.app, email, password, code=code,
                                   second_factor=True)
    except RateLimited as exc:
        raise Fail(429, "rate_limited", "too many failed sign-ins; wait",
                   retry_after_s=max(1, math.ceil(exc.retry_after_s))) from None
    except _CodeMissing:
        raise Fail(401, "second_factor_required",
                   "this owner has two-step sign-in on: send the code from the authenticator "
                   f"app (or a recovery code) in the {CODE_HEADER} header") from None
    except _WrongCode:
        raise Fail(401, "bad_second_factor", "the second-factor code is wrong or was already "
                   "used; wait for the next one") from None
    except _WrongOwner:
        raise Fail(401, "bad_credentials", "wrong e-mail or password") from None
    mark_authenticated(request)
    return found


def page_sign_in(app: web.Application) -> Callable[[str, str], Awaitable[str | None]]:
    """The pages' sign-in check: the e-mail, or ``None`` for wrong credentials (raises
    ``RateLimited`` like the API)."""

    async def sign_in(email: str, password: str) -> str | None:
        try:
            return await _owner_check(app, email, password)
        except _WrongOwner:
            return None

    return sign_in


def page_code_check(app: web.Application) -> Callable[[str, str], Awaitable[bool]]:
    """The pages' second-factor check (the sign-in's code step, confirming a change to the
    factor): whether ``code`` is good for the owner now (and spent), through the owner
    throttle, so wrong codes count with wrong passwords on every instance (raises
    ``RateLimited`` during a lockout)."""

    async def check(email: str, code: str) -> bool:
        async def verify() -> bool:  # the authority is looked up per call: it opens at start
            if not await app[AUTHORITY].second_factor.check(email, code):
                raise _WrongCode
            return True

        # A code proves nothing lasting: never vouched, so a lockout holds it back too.
        key = hmac.new(app[VOUCH_KEY], f"code\0{email}\0{code}".encode(),
                       hashlib.sha256).hexdigest()
        try:
            return await app[OWNER_THROTTLE].check(key, verify, _WrongCode, vouch=False)
        except _WrongCode:
            return False

    return check


async def device(request: web.Request) -> DeviceInfo:
    """The device whose proof the request carries (401 naming the failed check otherwise);
    the proof is remembered, so a copy of the request is refused."""
    body = await request.read()
    authority = request.app[AUTHORITY]
    # Round-4 T4-F13: a device the authority knows goes straight to the signature check and
    # the replay row; a key it has never seen is bounded first (``keygate``).
    gate, device_id = request.app[KEY_GATE], request.headers.get("X-Device-Id", "")
    known = gate.known(device_id)
    if not known:
        wait = gate.admit(request.remote or "?")
        if wait is not None:
            raise Fail(429, "too_many_new_devices", "too many proofs from device keys this "
                       "console does not know; retry later", retry_after_s=wait)
    now = request.app[CLOCKS].wall()
    try:
        checked = check_device_proof(request.headers, request.method, request.path, body, now)
    except ProofRejected as exc:
        raise Fail(401, exc.reason, "the device proof was refused") from None
    replays = StoredProofReplays(authority.store, authority)
    if not await replays.remember(checked.replay_key, checked.made_at_s, now):
        raise Fail(401, "replayed_device_proof", "the device proof was refused")
    if not known and await authority.run(authority.store.device,
                                         checked.device.device_id) is not None:
        gate.verified(checked.device.device_id)  # known to the authority since the start
    mark_authenticated(request)
    return checked.device

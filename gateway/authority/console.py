"""``mtgateway console``: the token authority's HTTP API (``docs/authority.md``).

Owners manage tokens, accounts and devices with HTTP Basic credentials; devices (daemons) look
up and refresh signed records and complete approvals with a device proof on every call. Every
error is ``{"error": {"code", "reason", "message", ...}}``; the owner's 401 is the same bytes
for an unknown e-mail and a wrong password. Request bodies are validated by pydantic here, at
the edge; the :class:`~gateway.authority.service.Authority` below sees plain values.

Owner credentials pass through the same :class:`~.throttle.AuthThrottle` rule as the
daemon's tokens (security.md "Failed auth"): credentials not yet seen to succeed are checked one
at a time, each failure is answered after a delay, and a burst starts a lockout during which
such credentials get 429 without any password being checked (no oracle for a guesser); an
owner who signed in before the lockout keeps getting in. Device proofs are single use:
:class:`~gateway.authority.store.StoredProofReplays` refuses a copy within the time window, on
every console instance sharing the database and after a restart.

The console binds loopback unless ``[console] insecure_allow_non_loopback`` is set: it takes
owner passwords and hands out signed records, so beyond this machine it belongs behind TLS.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import secrets
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ea_bridge import is_loopback

from .api import DeviceInfo
from .config import ConsoleSettings, SmtpConfig, database_url
from .database import MIGRATIONS
from .edge import HeldRequests, HostRefusals, host_allowed, target_authority
from .errors import AccountExists, ConsoleConfigError, ProofRejected, RateLimited
from .guard import (
    BUDGET,
    ConnectionBudget,
    ConnectionLimits,
    GuardedSite,
    Refusals,
    mark_authenticated,
    raw_response,
    work_middleware,
)
from .keygate import KeyGate
from .mailer import Mailer, SmtpMailer
from .metrics import ConsoleMetrics, CountingMailer
from .proofs import verify_device_proof
from .records import b64url_decode
from .reports import AccountFigures, TerminalReport
from .service import AccountRegistration, Authority, TerminalClaimed
from .store import AccountRow, StoredLoginFailures, StoredProofReplays
from .throttle import AuthThrottle
from .web import PAGES, mount_pages, security_headers

__all__ = ["AUTHORITY", "KEY_GATE", "LONG_POLLS", "LONG_POLLS_PER_DEVICE",
           "create_console_app", "mailer_from_config", "start_console"]

log = logging.getLogger(__name__)

AUTHORITY: Final = web.AppKey("authority", Authority)
#: The console's Prometheus metrics (``metrics.py``).
CONSOLE_METRICS: Final = web.AppKey("console_metrics", ConsoleMetrics)
_OWNER_THROTTLE: Final = web.AppKey("owner_throttle", AuthThrottle)
#: Proofs of device keys the authority does not know, bounded per peer and in all (``keygate``).
KEY_GATE: Final = web.AppKey("key_gate", KeyGate)
_VOUCH_KEY: Final = web.AppKey("owner_vouch_key", bytes)
_MAX_BODY_BYTES: Final = 64 * 1024
_HEX32: Final = r"^[0-9a-f]{32}$"
#: The longest a revocation long-poll is held open (below common proxy idle timeouts).
_MAX_POLL_S: Final = 55.0
#: Revocation long-polls held at once per device key (a daemon holds one; a restart overlaps).
LONG_POLLS_PER_DEVICE: Final = 2
#: The Retry-After of a long-poll refused past a bound.
_LONG_POLL_RETRY_S: Final = 5
#: The long-polls held, per device key and per address (``authority.edge.HeldRequests``).
LONG_POLLS: Final = web.AppKey("long_polls", HeldRequests)
#: The console port's connection budget and deadlines (``authority.guard``, as the daemon's).
CONNECTIONS: Final = BUDGET
_MISDIRECTED: Final = "this Host is not served here (only loopback or [console] allowed_hosts)"
#: The guard's own answers, in the console's error shape.
_REFUSALS: Final = Refusals(
    misdirected=raw_response(421, "Misdirected Request", json.dumps(
        {"error": {"code": 421, "reason": "misdirected", "message": _MISDIRECTED}}).encode()),
    busy=raw_response(503, "Service Unavailable", json.dumps(
        {"error": {"code": 503, "reason": "too_many_connections",
                   "message": "too many connections; try again"}}).encode()))
_NONCE: Final = r"^[0-9a-f]{32,64}$"
#: A raw 32-byte X25519 public key in unpadded base64url.
_BOX_KEY: Final = r"^[A-Za-z0-9_-]{43}$"

_M = TypeVar("_M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TokenCreate(_Body):
    """``POST /v1/tokens``."""

    login: int = Field(gt=0, strict=True)
    server: str = Field(min_length=1, max_length=200)
    scopes: list[Literal["read", "trade"]] = Field(default=["read", "trade"], min_length=1)
    expires_in_s: int | None = Field(default=None, gt=0, le=10 * 365 * 86400)


class AccountCreate(_Body):
    """``POST /v1/accounts`` (``seed-register-account``)."""

    name: str = Field(max_length=100, min_length=1)
    broker: str = Field(max_length=100, min_length=1)
    login: int = Field(gt=0, strict=True)
    password: str = Field(default="", max_length=200)
    server: str = Field(max_length=200, min_length=1)
    is_live: bool = False
    allowed_symbols: list[str] = Field(default=[], max_length=1000)
    max_lot_size: Decimal = Field(default=Decimal("0.1"), ge=0, le=100, allow_inf_nan=False)
    risk_pct: Decimal = Field(default=Decimal("0.01"), ge=0, le=1, allow_inf_nan=False)
    auto_trade_enabled: bool = True
    paper_trade_enabled: bool = False
    mt5_path: str = Field(default="", max_length=500)
    account_type: Literal["USD", "USC"] = "USD"


class HelloBody(_Body):
    """``POST /v1/hello``: the client's fresh nonce (64 lowercase hex)."""

    nonce: str = Field(pattern=r"^[0-9a-f]{64}$")


class LookupBody(_Body):
    """``POST /v1/records/lookup``."""

    token_hint: str = Field(pattern=_HEX32)
    device_name: str = Field(default="", max_length=100)
    os: str = Field(default="", max_length=100)
    #: Signed into the record, so the device can tell this answer from a replayed one.
    nonce: str = Field(pattern=_NONCE)
    #: The request's fresh X25519 public key (base64url): the record's ``server_key`` is
    #: sealed to it, so a replayed request's answer opens nothing (``boxes.py``).
    box_key: str = Field(pattern=_BOX_KEY)


class RefreshBody(_Body):
    """``POST /v1/records/refresh``."""

    token_ids: list[str] = Field(max_length=1000)
    nonce: str = Field(pattern=_NONCE)
    box_key: str = Field(pattern=_BOX_KEY)


class TerminalReportBody(_Body):
    """One terminal's state in ``POST /v1/terminals/report``."""

    login: int = Field(gt=0, strict=True)
    server: str = Field(min_length=1, max_length=200)
    state: Literal["active", "disconnected", "refused"]
    reason: str = Field(default="", max_length=64, pattern=r"^[a-z_]*$")
    token_id: str = Field(default="", max_length=64)
    token_hint: str = Field(default="", pattern=r"^([0-9a-f]{32})?$")
    platform: str = Field(default="", max_length=32)
    ea_version: str = Field(default="", max_length=32)
    #: The account's figures, only with ``active`` (the daemon reads them from the EA).
    balance: float | None = Field(default=None, allow_inf_nan=False)
    equity: float | None = Field(default=None, allow_inf_nan=False)
    currency: str = Field(default="", max_length=8, pattern=r"^[A-Za-z]*$")
    positions: int | None = Field(default=None, ge=0, le=1_000_000)

    def report(self) -> TerminalReport:
        """The report the authority stores (figures only when all are given)."""
        figures = (AccountFigures(self.balance, self.equity, self.currency, self.positions)
                   if self.state == "active" and self.balance is not None
                   and self.equity is not None and self.positions is not None else None)
        return TerminalReport(self.login, self.server, self.state, self.reason, self.token_id,
                              self.token_hint, self.platform, self.ea_version, figures)


class ReportBody(_Body):
    """``POST /v1/terminals/report``."""

    terminals: list[TerminalReportBody] = Field(max_length=1000)


class RevocationsBody(_Body):
    """``POST /v1/device/revocations`` (a long-poll)."""

    cursor: int | None = Field(default=None, ge=0)
    wait_s: float = Field(default=25.0, ge=0, le=_MAX_POLL_S)


class VerifyBody(_Body):
    """``POST /v1/device/verify``."""

    code: str = Field(max_length=32)


class _Fail(Exception):
    """An error answer on its way out (turned into JSON by the middleware)."""

    def __init__(self, status: int, reason: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.extra = status, reason, message, extra


def _error_response(status: int, reason: str, message: str, **extra: Any) -> web.Response:
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="mtgateway", charset="UTF-8"'
    if status == 429 and "retry_after_s" in extra:
        headers["Retry-After"] = str(extra["retry_after_s"])
    body = {"error": {"code": status, "reason": reason, "message": message, **extra}}
    return web.json_response(body, status=status, headers=headers)


def _host_allowlist(allowed: tuple[str, ...], refusals: HostRefusals) -> Any:
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
            return _error_response(421, "misdirected", _MISDIRECTED)
        return await handler(request)

    return middleware


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except _Fail as fail:
        return _error_response(fail.status, fail.reason, fail.message, **fail.extra)
    except web.HTTPRequestEntityTooLarge:
        return _error_response(413, "body_too_large", "the request body is too large")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if not request.path.startswith("/v1/") and PAGES in request.app:
            return request.app[PAGES].error_page(request, exc.status)  # a person's address
        return _error_response(exc.status, "not_found" if exc.status == 404 else "http_error",
                               exc.reason)
    except Exception:
        log.exception("console handler failed: %s %s", request.method, request.path)
        return _error_response(500, "internal", "internal error")


async def _json(request: web.Request, model: type[_M], *, status: int = 422) -> _M:
    raw = await request.read()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise _Fail(400, "bad_json", "the body is not JSON") from None
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}"
                           for e in exc.errors())
        raise _Fail(status, "invalid_request", fields) from None


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


class _WrongOwner(Exception):
    """The owner credentials are wrong (inside the throttle's check only)."""


async def _owner_check(app: web.Application, email: str, password: str) -> str:
    """The owner's e-mail if the credentials are right, through the owner throttle; raises
    :class:`_WrongOwner`, or ``RateLimited`` during a lockout. The API's Basic auth and the
    pages' sign-in form both come here, so they share one allowance."""
    authority = app[AUTHORITY]
    present = bool(email or password)

    async def verify() -> str:
        # scrypt runs even without credentials, so every refusal costs the same time.
        if await authority.authenticate_owner(email, password) and present:
            return email
        raise _WrongOwner

    # The throttle vouches for credentials by a keyed hash, never the password itself.
    key = hmac.new(app[_VOUCH_KEY], f"{email}\0{password}".encode(),
                   hashlib.sha256).hexdigest()
    return await app[_OWNER_THROTTLE].check(key, verify, _WrongOwner)


def _check_owner_request(request: web.Request) -> None:
    """Issue 16 F11: a browser that cached the owner's Basic credentials must not be made to
    use them by another site. A request carrying an ``Origin`` (browsers send it on
    cross-origin requests and on every POST) must come from the console's own origin (403
    otherwise); a body must be ``application/json`` (415), which a cross-site ``<form>``
    cannot send without a CORS preflight the console never grants. Clients without a browser
    (the CLI, curl) send no ``Origin`` and are not affected."""
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        raise _Fail(403, "origin_refused",
                    "requests from another web origin are refused (the owner API is not for "
                    "pages of other sites)")
    if request.body_exists and request.content_type != "application/json":
        raise _Fail(415, "unsupported_media_type",
                    "the body must be JSON with Content-Type: application/json")


async def _owner(request: web.Request) -> str:
    _check_owner_request(request)
    credentials = _basic_credentials(request.headers.get("Authorization", ""))
    email, password = credentials or ("", "")
    try:
        owner = await _owner_check(request.app, email, password)
    except RateLimited as exc:
        raise _Fail(429, "rate_limited", "too many failed sign-ins; wait",
                    retry_after_s=max(1, math.ceil(exc.retry_after_s))) from None
    except _WrongOwner:
        raise _Fail(401, "bad_credentials", "wrong e-mail or password") from None
    mark_authenticated(request)
    return owner


def _page_sign_in(app: web.Application) -> Callable[[str, str], Awaitable[str | None]]:
    """The pages' sign-in check: the e-mail, or ``None`` for wrong credentials (raises
    ``RateLimited`` like the API)."""

    async def sign_in(email: str, password: str) -> str | None:
        try:
            return await _owner_check(app, email, password)
        except _WrongOwner:
            return None

    return sign_in


async def _device(request: web.Request, clock: Callable[[], float]) -> DeviceInfo:
    body = await request.read()
    # Round-4 T4-F13: a device the authority knows goes straight to the signature check and
    # the database write; a key it has never seen is bounded first (``keygate``).
    gate, device_id = request.app[KEY_GATE], request.headers.get("X-Device-Id", "")
    known = gate.known(device_id)
    if not known:
        wait = gate.admit(request.remote or "?")
        if wait is not None:
            raise _Fail(429, "too_many_new_devices", "too many proofs from device keys this "
                        "console does not know; retry later", retry_after_s=wait)
    try:
        device = verify_device_proof(request.headers, request.method, request.path, body,
                                     clock(), StoredProofReplays(request.app[AUTHORITY].store))
    except ProofRejected as exc:
        raise _Fail(401, exc.reason, "the device proof was refused") from None
    if not known and request.app[AUTHORITY].store.device(device.device_id) is not None:
        gate.verified(device.device_id)  # known to the authority since this process started
    mark_authenticated(request)
    return device


def _known_devices(authority: Authority) -> Iterator[str]:
    """Every device that asked an owner's approval, whatever the answer (read once at start:
    ``keygate``). A device row is written only by a lookup naming a live token."""
    for owner in authority.store.owners():
        for approval in authority.store.approvals_of_owner(owner):
            yield approval.device_id


def _account_json(row: AccountRow) -> dict[str, Any]:
    created = datetime.fromtimestamp(row.created_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": row.id, "name": row.name, "broker": row.broker, "login": row.login,
            "server": row.server, "is_live": row.is_live, "is_active": row.is_active,
            "allowed_symbols": list(row.allowed_symbols),
            "max_lot_size": float(row.max_lot_size), "risk_pct": float(row.risk_pct),
            "auto_trade_enabled": row.auto_trade_enabled,
            "paper_trade_enabled": row.paper_trade_enabled, "mt5_path": row.mt5_path,
            "account_type": row.account_type, "created_at": created}


def _routes(clock: Callable[[], float]) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.get("/health")
    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    @routes.get("/ready")
    async def ready(request: web.Request) -> web.Response:
        # Readiness for a load balancer or an orchestrator: this instance can reach its
        # database and the schema is the one this program knows. /health stays liveness only.
        store = request.app[AUTHORITY].store
        try:
            version = await asyncio.to_thread(store.database.schema_version)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            log.warning("readiness: the database does not answer: %s", type(exc).__name__)
            return web.json_response({"status": "not_ready", "reason": "database_unreachable"},
                                     status=503)
        if version != len(MIGRATIONS):
            return web.json_response({"status": "not_ready", "reason": "schema_mismatch",
                                      "schema_version": version}, status=503)
        return web.json_response({"status": "ready", "schema_version": version})

    @routes.get("/v1/keys")
    async def keys(request: web.Request) -> web.Response:
        found = await request.app[AUTHORITY].public_keys()
        return web.json_response({"keys": [k.as_json() for k in found]})

    @routes.post("/v1/hello")
    async def hello(request: web.Request) -> web.Response:
        """The console proves it holds the authority key before a client sends it anything
        secret (review round 4, T4-F6): the client's nonce and the ``Host`` it addressed,
        signed. Anyone may ask; the answer gives nothing away."""
        body = await _json(request, HelloBody, status=400)
        signer = request.app[AUTHORITY].store.signer
        return web.json_response({"kid": signer.key.kid, "alg": "Ed25519",
                                  "signature": signer.prove(body.nonce, request.host)})

    # -- owner ---------------------------------------------------------------------------

    @routes.post("/v1/tokens")
    async def create_token(request: web.Request) -> web.Response:
        owner = await _owner(request)
        body = await _json(request, TokenCreate)
        try:
            issued = request.app[AUTHORITY].issue_token(owner, body.login, body.server,
                                                        body.scopes, body.expires_in_s)
        except TerminalClaimed as exc:
            raise _Fail(409, "terminal_claimed", str(exc)) from None
        except ValueError as exc:
            raise _Fail(400, "invalid_request", str(exc)) from None
        return web.json_response({"token": issued.token, "token_id": issued.token_id,
                                  "record": issued.record}, status=201)

    @routes.get("/v1/tokens")
    async def list_tokens(request: web.Request) -> web.Response:
        owner = await _owner(request)
        return web.json_response({"tokens": request.app[AUTHORITY].list_tokens(owner)})

    @routes.delete("/v1/tokens/{token_id}")
    async def revoke_token(request: web.Request) -> web.Response:
        owner = await _owner(request)
        if not request.app[AUTHORITY].revoke_token(owner, request.match_info["token_id"]):
            raise _Fail(404, "not_found", "no such token")
        return web.json_response({"revoked": True})

    @routes.post("/v1/accounts")
    async def register_account(request: web.Request) -> web.Response:
        owner = await _owner(request)
        body = await _json(request, AccountCreate)
        registration = AccountRegistration(**{**body.model_dump(),
                                              "allowed_symbols": tuple(body.allowed_symbols)})
        try:
            row = request.app[AUTHORITY].register_account(owner, registration)
        except AccountExists:
            raise _Fail(409, "account_exists",
                        f"Account {body.login} already exists") from None
        except TerminalClaimed as exc:
            raise _Fail(409, "terminal_claimed", str(exc)) from None
        except ValueError as exc:
            raise _Fail(400, "invalid_request", str(exc)) from None
        return web.json_response(_account_json(row), status=201)

    @routes.get("/v1/devices")
    async def list_devices(request: web.Request) -> web.Response:
        owner = await _owner(request)
        return web.json_response({"devices": request.app[AUTHORITY].list_devices(owner)})

    @routes.delete("/v1/devices/{device_id}")
    async def revoke_device(request: web.Request) -> web.Response:
        owner = await _owner(request)
        if not request.app[AUTHORITY].revoke_device(owner, request.match_info["device_id"]):
            raise _Fail(404, "not_found", "no such device")
        return web.json_response({"revoked": True})

    # -- device --------------------------------------------------------------------------

    @routes.post("/v1/records/lookup")
    async def lookup(request: web.Request) -> web.Response:
        device = await _device(request, clock)
        body = await _json(request, LookupBody, status=400)
        answer = await request.app[AUTHORITY].lookup(
            device, token_hint=body.token_hint, device_name=body.device_name, os=body.os,
            nonce=body.nonce, box_key=b64url_decode(body.box_key))
        out: dict[str, Any] = {"status": answer.status}
        if answer.record is not None:
            out["record"] = answer.record
        return web.json_response(out)

    @routes.post("/v1/records/refresh")
    async def refresh(request: web.Request) -> web.Response:
        device = await _device(request, clock)
        body = await _json(request, RefreshBody, status=400)
        records = await request.app[AUTHORITY].refresh(device, body.token_ids, body.nonce,
                                                       b64url_decode(body.box_key))
        return web.json_response({"records": records})

    @routes.post("/v1/device/verify")
    async def verify(request: web.Request) -> web.Response:
        device = await _device(request, clock)
        body = await _json(request, VerifyBody, status=400)
        answer = await request.app[AUTHORITY].verify_device(device, body.code)
        if answer.status == "approved":
            return web.json_response({"status": "approved"})
        if answer.reason == "approvals_locked":
            raise _Fail(429, "approvals_locked", "too many wrong codes for this account; "
                        "device approvals are locked", retry_after_s=answer.retry_after_s or 1)
        extra = {} if answer.tries_left is None else {"tries_left": answer.tries_left}
        raise _Fail(400, answer.reason or "rejected", "the code was not accepted", **extra)

    @routes.post("/v1/device/resend")
    async def resend(request: web.Request) -> web.Response:
        device = await _device(request, clock)
        answer = await request.app[AUTHORITY].resend(device)
        if answer.status == "sent":
            return web.json_response({"status": "sent"})
        if answer.status == "mail_failed":
            raise _Fail(409, "mail_failed", "a new code was made but the e-mail could not be "
                        "sent; the console's [smtp] settings need fixing")
        if answer.status == "resend_limited":
            raise _Fail(429, "resend_limited", "too many codes; wait",
                        retry_after_s=answer.retry_after_s)
        if answer.status == "approvals_locked":
            raise _Fail(429, "approvals_locked", "too many wrong codes for this account; "
                        "device approvals are locked", retry_after_s=answer.retry_after_s)
        raise _Fail(400, "no_pending_approval", "this device has no pending approval")

    @routes.post("/v1/terminals/report")
    async def report_terminals(request: web.Request) -> web.Response:
        device = await _device(request, clock)
        body = await _json(request, ReportBody, status=400)
        stored = await request.app[AUTHORITY].report_terminals(
            device, [t.report() for t in body.terminals])
        return web.json_response({"stored": stored})

    @routes.post("/v1/device/revocations")
    async def revocations(request: web.Request) -> web.Response:
        device = await _device(request, clock)
        body = await _json(request, RevocationsBody, status=400)
        held, peer = request.app[LONG_POLLS], request.remote or "?"
        if not held.enter(device.device_id, peer):
            # a daemon holds one; past the bound the poll is refused (the daemon's watcher
            # backs off on an error), never answered at once (it would poll again at once)
            raise _Fail(429, "too_many_long_polls",
                        "too many revocation long-polls held for this device or address",
                        retry_after_s=_LONG_POLL_RETRY_S)
        try:
            cursor, token_ids = await request.app[AUTHORITY].wait_revocations(
                device, body.cursor, body.wait_s)
        finally:
            held.leave(device.device_id, peer)
        return web.json_response({"cursor": cursor, "token_ids": token_ids})

    @routes.get("/v1/device/status")
    async def status(request: web.Request) -> web.Response:
        device = await _device(request, clock)
        answer = await request.app[AUTHORITY].device_status(device)
        return web.json_response({
            "device_id": answer.device_id,
            "approvals": [{"owner": o, "status": s} for o, s in answer.approvals]})

    return routes


def mailer_from_config(smtp: SmtpConfig) -> SmtpMailer:
    """The SMTP mailer ``[smtp]`` describes."""
    return SmtpMailer(smtp.host, smtp.port, smtp.security, smtp.username,
                      smtp.password.get_secret_value(), smtp.from_address, smtp.timeout_s)


def _check_bind(host: str, allowed: bool) -> None:
    if not allowed and not is_loopback(host):
        raise ConsoleConfigError(f"[console] host = {host!r} is not loopback; set "
                                 "insecure_allow_non_loopback = true (behind TLS) to allow it")


def create_console_app(config: ConsoleSettings, *, mailer: Mailer | None = None,
                       clock: Callable[[], float] = time.time,
                       randbelow: Callable[[int], int] = secrets.randbelow,
                       data_dir: Path | None = None,
                       throttle_clock: Callable[[], float] = time.time,
                       sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                       ) -> web.Application:
    """The console app; the authority opens on startup and drains its e-mails on cleanup.

    ``clock`` (epoch seconds) drives code lifetimes, the account lock, record times and the
    device-proof window; ``throttle_clock`` (epoch seconds: the throttle's failures and lockout
    are rows of the database every instance reads, so every instance must read one clock; a
    wall-clock step moves a lockout's end with it) and ``sleep`` drive the owner-credential
    throttle. Tests inject all three. Raises
    :class:`~.errors.ConsoleConfigError` for a non-loopback host not allowed.
    """
    console = config.console
    _check_bind(console.host, console.insecure_allow_non_loopback)
    host_refusals = HostRefusals(throttle_clock, what="the console")
    app = web.Application(
        middlewares=[work_middleware(lambda request: request.app[CONNECTIONS]),
                     _host_allowlist(console.allowed_hosts, host_refusals),
                     _errors, security_headers],
        client_max_size=_MAX_BODY_BYTES)
    app[CONNECTIONS] = ConnectionBudget(ConnectionLimits(
        max_connections=console.max_connections, header_timeout_s=console.header_timeout_s,
        max_connections_per_peer=console.max_connections_per_peer,
        body_timeout_s=console.body_timeout_s), _REFUSALS, host_refusals)
    app[_OWNER_THROTTLE] = AuthThrottle(
        delay_s=console.auth_failure_delay_s, limit=console.auth_failure_limit,
        window_s=console.auth_failure_window_s, lockout_s=console.auth_lockout_s,
        what="console owner credentials", clock=throttle_clock, sleep=sleep,
        # Counted in the database: failed sign-ins on any instance count on every other.
        ledger=StoredLoginFailures(lambda: app[AUTHORITY].store, "console-owner"))
    app[_VOUCH_KEY] = secrets.token_bytes(32)
    app[KEY_GATE] = KeyGate(clock=throttle_clock)  # the throttle's clock (tests inject it)
    app[LONG_POLLS] = HeldRequests(per_key=LONG_POLLS_PER_DEVICE,
                                   per_peer=console.max_long_polls_per_peer)
    directory = data_dir if data_dir is not None else config.resolved_data_dir()
    metrics = app[CONSOLE_METRICS] = ConsoleMetrics(console)
    chosen = CountingMailer(mailer if mailer is not None else mailer_from_config(config.smtp),
                            metrics)

    async def authority_ctx(app: web.Application) -> AsyncIterator[None]:
        authority = Authority.open(directory, chosen, clock=clock, randbelow=randbelow,
                                   database_url=database_url(config.authority))
        app[AUTHORITY] = authority
        for device_id in _known_devices(authority):
            app[KEY_GATE].verified(device_id)
        yield
        await authority.close()

    async def end_long_polls(app: web.Application) -> None:
        app[AUTHORITY].feed.close()

    app.cleanup_ctx.append(authority_ctx)
    app.on_shutdown.append(end_long_polls)
    app.add_routes(_routes(clock))
    app.router.add_get("/metrics", metrics.handle)
    metrics.watch(lambda: app[AUTHORITY])
    mount_pages(app, lambda: app[AUTHORITY], _page_sign_in(app), clock=clock)
    return app


async def start_console(app: web.Application, host: str, port: int, *,
                        ssl_context: ssl.SSLContext | None = None
                        ) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host:port`` (0 picks a port), over TLS with ``ssl_context``; the
    runner and the bound port."""
    # A daemon that goes away mid long-poll (POST /v1/device/revocations) ends its handler at
    # once instead of holding it (and the shutdown) until the poll's time is up.
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           handler_cancellation=True)
    await runner.setup()
    try:
        # Through the guard (authority.guard): the connection budget and the header and body
        # deadlines, as the daemon's port (issue 16 F6).
        await GuardedSite(runner, host, port, app[CONNECTIONS],
                          ssl_context=ssl_context).start()
    except OSError:
        await runner.cleanup()
        raise
    return runner, int(runner.addresses[0][1])

"""Devices over HTTP: the owner's view (``GET /v1/devices``, ``DELETE /v1/devices/{id}``,
HTTP Basic owner credentials) and the device's own calls, each with a device proof: record
lookup and refresh, approval by code, a new code, and its approval status."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from pydantic import Field

from mtgateway_base.wire.errors import ProofRejected
from mtgateway_base.wire.records import b64url_decode

from ..appkeys import AUTHORITY
from ..door import DOOR, refused_proof
from ..door.edge import json_answer
from ..errors import Refusal
from ..shapes import Body
from .refusals import OWNER_API

__all__ = ["LookupBody", "RefreshBody", "VerifyBody", "routes"]

routes = web.RouteTableDef()

_HEX32: Final = r"^[0-9a-f]{32}$"
_NONCE: Final = r"^[0-9a-f]{32,64}$"
#: A raw 32-byte X25519 public key in unpadded base64url.
_BOX_KEY: Final = r"^[A-Za-z0-9_-]{43}$"


class LookupBody(Body):
    """``POST /v1/records/lookup``."""

    token_hint: str = Field(pattern=_HEX32)
    device_name: str = Field(default="", max_length=100)
    os: str = Field(default="", max_length=100)
    #: Signed into the record, so the device can tell this answer from a replayed one.
    nonce: str = Field(pattern=_NONCE)
    #: The request's fresh X25519 public key (base64url): the record's ``server_key`` is
    #: sealed to it, so a replayed request's answer opens nothing (``boxes.py``).
    box_key: str = Field(pattern=_BOX_KEY)


class RefreshBody(Body):
    """``POST /v1/records/refresh``."""

    token_ids: list[str] = Field(max_length=1000)
    nonce: str = Field(pattern=_NONCE)
    box_key: str = Field(pattern=_BOX_KEY)


class VerifyBody(Body):
    """``POST /v1/device/verify``."""

    code: str = Field(max_length=32)


# -- the owner's view ----------------------------------------------------------------------

@routes.get("/v1/devices")
async def list_devices(request: web.Request) -> web.Response:
    """The devices that asked for the owner's tokens, with their approval status."""
    email = (await request.app[DOOR].enter(request, "basic", api=OWNER_API)).caller.owner
    return web.json_response({"devices": await request.app[AUTHORITY].approvals.of_owner(
        email)})


@routes.delete("/v1/devices/{device_id}")
async def revoke_device(request: web.Request) -> web.Response:
    """Withdraw a device's approval (404 if it never asked this owner)."""
    email = (await request.app[DOOR].enter(request, "basic", api=OWNER_API)).caller.owner
    if not await request.app[AUTHORITY].approvals.revoke(email,
                                                         request.match_info["device_id"]):
        raise Refusal(404, "not_found", "no such device")
    return web.json_response({"revoked": True})


# -- the device's calls --------------------------------------------------------------------

@routes.post("/v1/records/lookup")
async def lookup(request: web.Request) -> web.Response:
    """A token's record by its hint (``ok``), or the owner asked (``pending``)."""
    entry = await request.app[DOOR].enter(request, "device_claim", LookupBody, invalid=400)
    found, claim, body = entry.caller.proven_device, entry.caller.claim, entry.body
    try:
        answer = await request.app[AUTHORITY].lookup(
            found, token_hint=body.token_hint, device_name=body.device_name, os=body.os,
            nonce=body.nonce, box_key=b64url_decode(body.box_key),
            address=request.remote or "", claim=claim)
    except ProofRejected as exc:  # a copy of a lookup already answered
        raise refused_proof(exc) from None
    out: dict[str, Any] = {"status": answer.status}
    if answer.record is not None:
        out["record"] = answer.record
    if answer.denied:
        out["denied"] = True
    return json_answer(request, out)


@routes.post("/v1/records/refresh")
async def refresh(request: web.Request) -> web.Response:
    """Fresh records of the tokens this device still serves."""
    entry = await request.app[DOOR].enter(request, "device_claim", RefreshBody, invalid=400)
    found, claim, body = entry.caller.proven_device, entry.caller.claim, entry.body
    try:
        records = await request.app[AUTHORITY].refresh(found, body.token_ids, body.nonce,
                                                       b64url_decode(body.box_key),
                                                       request.remote or "", claim)
    except ProofRejected as exc:  # a copy of a refresh already answered
        raise refused_proof(exc) from None
    return json_answer(request, {"records": records})


@routes.post("/v1/device/verify")
async def verify(request: web.Request) -> web.Response:
    """Complete a pending approval with the e-mailed code."""
    entry = await request.app[DOOR].enter(request, "device", VerifyBody, invalid=400)
    found, body = entry.caller.proven_device, entry.body
    answer = await request.app[AUTHORITY].verify_device(found, body.code)
    if answer.status == "approved":
        return json_answer(request, {"status": "approved"})
    if answer.reason == "approvals_locked":
        raise Refusal(429, "approvals_locked", "too many wrong codes for this account; "
                   "device approvals are locked", retry_after_s=answer.retry_after_s or 1)
    extra = {} if answer.tries_left is None else {"tries_left": answer.tries_left}
    raise Refusal(400, answer.reason or "rejected", "the code was not accepted", **extra)


@routes.post("/v1/device/resend")
async def resend(request: web.Request) -> web.Response:
    """A new code for this device's pending approval, within the limits."""
    found = (await request.app[DOOR].enter(request, "device")).caller.proven_device
    answer = await request.app[AUTHORITY].resend(found)
    if answer.status == "sent":
        return json_answer(request, {"status": "sent"})
    if answer.status == "mail_failed":
        raise Refusal(409, "mail_failed", "a new code was made but the e-mail could not be "
                   "sent; the console's [smtp] settings need fixing")
    if answer.status == "resend_limited":
        raise Refusal(429, "resend_limited", "too many codes; wait",
                   retry_after_s=answer.retry_after_s)
    if answer.status == "approvals_locked":
        raise Refusal(429, "approvals_locked", "too many wrong codes for this account; "
                   "device approvals are locked", retry_after_s=answer.retry_after_s)
    raise Refusal(400, "no_pending_approval", "this device has no pending approval")


@routes.get("/v1/device/status")
async def status(request: web.Request) -> web.Response:
    """Which owners have approved this device (e-mails masked)."""
    caller = (await request.app[DOOR].enter(request, "device_claim")).caller
    found, claim = caller.proven_device, caller.claim
    try:
        answer = await request.app[AUTHORITY].device_status(found, claim)
    except ProofRejected as exc:  # a copy of a status already answered
        raise refused_proof(exc) from None
    return json_answer(request, {
        "device_id": answer.device_id,
        "approvals": [{"owner": o, "status": s} for o, s in answer.approvals]})

"""The owner's devices (``/devices``): each machine whose daemon asked for the owner's tokens,
and what the owner may do with it.

Approving a device, or allowing one again after a denial, unlocks the owner's tokens for that
machine, so it asks for the owner's password (the kit's re-authentication). Revoking, denying
and removing only take access away: each is one confirmation page (a plain form), then done.
Denying may also revoke the token the device presented; a device's row offers to revoke that
token on its own.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .kit import Page, signed_in
from .views import last_heard

__all__ = ["routes"]

routes = web.RouteTableDef()


def _token_name(token: dict[str, Any]) -> str:
    """A token as the pages name it: its id, label and terminal."""
    label = f" “{token['label']}”" if token.get("label") else ""
    return f"{token['token_id']}{label} for {token['login']}@{token['server']}"


def _revoke_option(token: dict[str, Any] | None) -> dict[str, str] | None:
    """The deny dialog's offer to revoke the token the device presented."""
    if token is None:
        return None
    return {"name": "revoke_token", "value": "yes",
            "label": f"Also revoke the token it presented, {_token_name(token)}: whoever runs "
                     "that machine holds it, and every EA and bot using it is refused within "
                     "seconds."}


async def _device(page: Page) -> dict[str, Any]:
    """The owner's device the address names (404 for any other)."""
    device_id = page.request.match_info["device_id"]
    for device in await page.authority.approvals.of_owner(page.owner):
        if device["device_id"] == device_id:
            return device
    raise web.HTTPNotFound()


async def _devices_page(page: Page, status: int = 200,
                        approve_error: dict[str, str] | None = None) -> web.Response:
    """The devices page; ``approve_error``: a device id's refused password, by its row."""
    authority = page.authority
    devices = last_heard(await authority.approvals.of_owner(page.owner),
                         await authority.terminals.of(page.owner))
    return await page.show("devices.html", "devices", status=status, devices=devices,
                           approve_error=approve_error or {})


@routes.get("/devices")
@signed_in
async def devices(page: Page) -> web.StreamResponse:
    """The devices and their state."""
    return await _devices_page(page)


@routes.post("/devices/{device_id}/revoke")
@signed_in
async def revoke_device(page: Page) -> web.StreamResponse:
    """Revoke a device (after its confirmation page)."""
    device = await _device(page)
    asked = await page.confirm(
        "Revoke this device?",
        f"{device['name']} ({device['device_id']}) stops getting your tokens' records: its "
        "terminals are refused within seconds, and it must be approved again to serve them.",
        "Revoke device", "/devices")
    if asked is not None:
        return asked
    await page.authority.approvals.revoke(page.owner, device["device_id"])
    raise await page.done(f"Device {device['name']} revoked.", "/devices")


@routes.post("/devices/{device_id}/approve")
@signed_in
async def approve_device(page: Page) -> web.StreamResponse:
    """Approve a device with the owner's password (instead of the e-mailed code)."""
    device = await _device(page)
    refused = await page.reauth()
    if refused is not None:
        return await _devices_page(page, 401, {device["device_id"]: refused})
    if not await page.authority.approvals.approve(page.owner, device["device_id"]):
        raise await page.done(f"Device {device['name']} is not waiting for approval.",
                              "/devices")
    raise await page.done(f"Device {device['name']} approved: its terminals connect on their "
                          "next try.", "/devices")


@routes.post("/devices/{device_id}/deny")
@signed_in
async def deny_device(page: Page) -> web.StreamResponse:
    """Deny a device (after its confirmation page, which offers to revoke its token)."""
    device = await _device(page)
    token = device["token"] if device["token"] and not device["token"]["revoked_at"] else None
    asked = await page.confirm(
        "Deny this device?",
        f"{device['name']} ({device['device_id']}) asked for your tokens. Denying drops its "
        "request and its code, and the denial holds: while it keeps asking it stays denied, "
        "with no new request and no new e-mail, until you allow it again or remove it.",
        "Deny device", "/devices", option=_revoke_option(token))
    if asked is not None:
        return asked
    revoke = token["token_id"] if token and page.form.get("revoke_token") == "yes" else None
    if not await page.authority.approvals.deny(page.owner, device["device_id"], revoke):
        raise await page.done(f"Device {device['name']} is not waiting for approval.",
                              "/devices")
    raise await page.done(f"Device {device['name']} denied: it stays denied while it keeps "
                          "asking." + (f" Token {revoke} revoked." if revoke else ""),
                          "/devices")


@routes.post("/devices/{device_id}/allow")
@signed_in
async def allow_device(page: Page) -> web.StreamResponse:
    """Take a denial back and approve the device, with the owner's password (loosening asks
    for it, as approving does)."""
    device = await _device(page)
    refused = await page.reauth()
    if refused is not None:
        return await _devices_page(page, 401, {device["device_id"]: refused})
    if not await page.authority.approvals.allow_again(page.owner, device["device_id"]):
        raise await page.done(f"Device {device['name']} is not denied.", "/devices")
    raise await page.done(f"Device {device['name']} allowed again and approved: its terminals "
                          "connect on their next try.", "/devices")


@routes.post("/devices/{device_id}/revoke-token")
@signed_in
async def revoke_presented_token(page: Page) -> web.StreamResponse:
    """Revoke the token this device presented, from the device's row (after its
    confirmation page)."""
    device = await _device(page)
    token = device["token"]
    if token is None or token["revoked_at"]:
        raise await page.done(f"Device {device['name']} presents no live token of yours.",
                              "/devices")
    asked = await page.confirm(
        "Revoke the token it presented?",
        f"{device['name']} ({device['device_id']}) presented token {_token_name(token)}. "
        "Revoking it stops it working at once: every EA and bot using it, on any machine, is "
        "refused within seconds. This cannot be undone.", "Revoke token", "/devices")
    if asked is not None:
        return asked
    await page.authority.tokens.revoke(page.owner, token["token_id"])
    raise await page.done(f"Token {token['token_id']} revoked.", "/devices")


@routes.post("/devices/{device_id}/forget")
@signed_in
async def forget_device(page: Page) -> web.StreamResponse:
    """Remove a revoked or denied device's row from the list (after its confirmation page);
    nothing else changes."""
    device = await _device(page)
    asked = await page.confirm(
        "Remove this device from the list?",
        f"{device['name']} ({device['device_id']}) is {device['status']} and gets no records. "
        "Removing drops its row and ends a denial: if it asks again, it waits for your "
        "approval again and you get a new e-mail.", "Remove device", "/devices")
    if asked is not None:
        return asked
    if not await page.authority.approvals.forget(page.owner, device["device_id"]):
        raise await page.done(f"Device {device['name']} is neither revoked nor denied; revoke "
                              "or deny it first.", "/devices")
    raise await page.done(f"Device {device['name']} removed from the list.", "/devices")

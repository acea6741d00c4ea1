"""The owner's tokens over HTTP: ``POST /v1/tokens``, ``GET /v1/tokens``,
``PATCH /v1/tokens/{token_id}`` (its label), ``DELETE /v1/tokens/{token_id}`` (HTTP Basic
owner credentials)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import Field

from ..appkeys import AUTHORITY
from ..door import DOOR
from ..errors import Refusal
from ..shapes import Body
from ..tables.token_details import LABEL_MAX
from .refusals import OWNER_API

__all__ = ["TokenChange", "TokenCreate", "routes"]

routes = web.RouteTableDef()


class TokenCreate(Body):
    """``POST /v1/tokens``."""

    login: int = Field(gt=0, le=2**63 - 1, strict=True)  # MT logins are 64-bit
    server: str = Field(min_length=1, max_length=200)
    scopes: list[Literal["read", "trade"]] = Field(default=["read", "trade"], min_length=1)
    expires_in_s: int | None = Field(default=None, gt=0, le=10 * 365 * 86400)
    label: str = Field(default="", max_length=LABEL_MAX)


class TokenChange(Body):
    """``PATCH /v1/tokens/{token_id}``."""

    label: str = Field(max_length=LABEL_MAX)


@routes.post("/v1/tokens")
async def create_token(request: web.Request) -> web.Response:
    """Issue a token for one of the owner's terminals (shown once, in this answer)."""
    entry = await request.app[DOOR].enter(request, "basic", TokenCreate, api=OWNER_API)
    email, body = entry.caller.owner, entry.body
    issued = await request.app[AUTHORITY].tokens.issue(email, body.login, body.server,
                                                       body.scopes, body.expires_in_s, body.label)
    return web.json_response({"token": issued.token, "token_id": issued.token_id,
                              "record": issued.record}, status=201)


@routes.get("/v1/tokens")
async def list_tokens(request: web.Request) -> web.Response:
    """The owner's tokens, without secrets."""
    email = (await request.app[DOOR].enter(request, "basic", api=OWNER_API)).caller.owner
    return web.json_response({"tokens": await request.app[AUTHORITY].tokens.of(email)})


@routes.patch("/v1/tokens/{token_id}")
async def change_token(request: web.Request) -> web.Response:
    """Change a token's label (404 if it is not the owner's)."""
    entry = await request.app[DOOR].enter(request, "basic", TokenChange, api=OWNER_API)
    email, body = entry.caller.owner, entry.body
    if not await request.app[AUTHORITY].tokens.relabel(email, request.match_info["token_id"],
                                                       body.label):
        raise Refusal(404, "not_found", "no such token")
    return web.json_response({"label": body.label})


@routes.delete("/v1/tokens/{token_id}")
async def revoke_token(request: web.Request) -> web.Response:
    """Revoke one of the owner's tokens (404 if it is not theirs)."""
    email = (await request.app[DOOR].enter(request, "basic", api=OWNER_API)).caller.owner
    if not await request.app[AUTHORITY].tokens.revoke(email, request.match_info["token_id"]):
        raise Refusal(404, "not_found", "no such token")
    return web.json_response({"revoked": True})

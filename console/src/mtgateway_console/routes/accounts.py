"""The owner's accounts over HTTP: ``POST /v1/accounts`` (the account registration of
``docs/authority.md``, HTTP Basic owner credentials; its answer is the shape both JSON APIs
share, ``shapes.py``)."""

from __future__ import annotations

from aiohttp import web

from mtgateway_base.mt4web.console_models import Registration

from ..appkeys import AUTHORITY
from ..door import DOOR
from ..service import AccountRegistration
from ..shapes import account_json
from .refusals import OWNER_API

__all__ = ["AccountCreate", "routes"]

routes = web.RouteTableDef()


class AccountCreate(Registration):
    """``POST /v1/accounts``: the registration's fields, as ``docs/authority.md`` lists them."""


@routes.post("/v1/accounts")
async def register_account(request: web.Request) -> web.Response:
    """Register an MT5 account and its risk policy."""
    entry = await request.app[DOOR].enter(request, "basic", AccountCreate, api=OWNER_API)
    email, body = entry.caller.owner, entry.body
    registration = AccountRegistration(**{**body.model_dump(),
                                          "allowed_symbols": tuple(body.allowed_symbols)})
    row = await request.app[AUTHORITY].accounts.register(email, registration)
    return web.json_response(account_json(row), status=201)

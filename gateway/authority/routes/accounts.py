"""The owner's accounts over HTTP: ``POST /v1/accounts`` (the account registration of
``docs/authority.md``, HTTP Basic owner credentials; its answer is the shape both JSON APIs
share, ``shapes.py``)."""

from __future__ import annotations

from aiohttp import web

from ...base.mt4web.console_models import Registration
from ..appkeys import AUTHORITY
from ..door import DOOR
from ..errors import AccountExists, Refusal
from ..service import AccountRegistration, TerminalClaimed
from ..service.accounts import LiveOpen
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
    try:
        row = await request.app[AUTHORITY].accounts.register(email, registration)
    except LiveOpen as exc:
        raise Refusal(409, "live_trades_open", f"{exc.words}. Nothing was registered: "
                      "register it live, or switch paper on from the console's Accounts "
                      "page, which asks you to confirm") from None
    except AccountExists:
        raise Refusal(409, "account_exists", f"Account {body.login} already exists") from None
    except TerminalClaimed as exc:
        raise Refusal(409, "terminal_claimed", str(exc)) from None
    except ValueError as exc:
        raise Refusal(400, "invalid_request", str(exc)) from None
    return web.json_response(account_json(row), status=201)

"""The owner's accounts over HTTP: ``POST /v1/accounts`` (the account registration of
``docs/authority.md``, HTTP Basic owner credentials)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ...base.mt4web.console_models import Registration
from ..appkeys import AUTHORITY
from ..errors import AccountExists
from ..service import AccountRegistration, TerminalClaimed
from ..store import AccountRow
from .common import Fail, owner, read_json

__all__ = ["AccountCreate", "account_json", "routes"]

routes = web.RouteTableDef()


class AccountCreate(Registration):
    """``POST /v1/accounts``: the registration's fields, as ``docs/authority.md`` lists them."""


def account_json(row: AccountRow) -> dict[str, Any]:
    """An account as the API shows it (no password)."""
    created = datetime.fromtimestamp(row.created_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": row.id, "name": row.name, "broker": row.broker, "login": row.login,
            "server": row.server, "is_live": row.is_live, "is_active": row.is_active,
            "allowed_symbols": list(row.allowed_symbols),
            "max_lot_size": float(row.max_lot_size), "risk_pct": float(row.risk_pct),
            "auto_trade_enabled": row.auto_trade_enabled,
            "paper_trade_enabled": row.paper_trade_enabled, "mt5_path": row.mt5_path,
            "account_type": row.account_type, "created_at": created}


@routes.post("/v1/accounts")
async def register_account(request: web.Request) -> web.Response:
    """Register an MT5 account and its risk policy."""
    email = await owner(request)
    body = await read_json(request, AccountCreate)
    registration = AccountRegistration(**{**body.model_dump(),
                                          "allowed_symbols": tuple(body.allowed_symbols)})
    try:
        row = await request.app[AUTHORITY].accounts.register(email, registration)
    except AccountExists:
        raise Fail(409, "account_exists", f"Account {body.login} already exists") from None
    except TerminalClaimed as exc:
        raise Fail(409, "terminal_claimed", str(exc)) from None
    except ValueError as exc:
        raise Fail(400, "invalid_request", str(exc)) from None
    return web.json_response(account_json(row), status=201)

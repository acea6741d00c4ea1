"""The owner's accounts over HTTP: ``POST /v1/accounts`` (the account registration of
``docs/authority.md``, HTTP Basic owner credentials)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from aiohttp import web
from pydantic import Field

from ..appkeys import AUTHORITY
from ..errors import AccountExists
from ..service import AccountRegistration, TerminalClaimed
from ..store import AccountRow
from .common import Body, Fail, owner, read_json

__all__ = ["AccountCreate", "account_json", "routes"]

routes = web.RouteTableDef()


class AccountCreate(Body):
    """``POST /v1/accounts``: the registration's fields, as ``docs/authority.md`` lists them."""

    name: str = Field(max_length=100, min_length=1)
    broker: str = Field(max_length=100, min_length=1)
    login: int = Field(gt=0, le=2**63 - 1, strict=True)  # MT logins are 64-bit
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

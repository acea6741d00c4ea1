"""The shapes the console's JSON entry points share: a request body's base, an account's
registration and an account as the API shows it.

The owner API (``routes/``) and the MT4 Web API (``mt4api/``) both register accounts and
answer them, and stand side by side without importing each other (an import contract in
``pyproject.toml``): what both read and write is declared once, here, below them. Pydantic at
the edge only: the service below sees plain values (``service.AccountRegistration``,
``store.AccountRow``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .store import AccountRow

__all__ = ["AccountCreate", "Body", "account_json"]


class Body(BaseModel):
    """A JSON request body: unknown fields refused, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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

"""The shapes the console's JSON entry points share: a request body's base, an account as the
API shows it, and an instruction to a terminal (paper money, a chart message) as it shows one.

The owner API (``routes/``) and the MT4 Web API (``mt4api/``) both register accounts and
answer them, and both answer an instruction as it stands; they stand side by side without
importing each other (an import contract in ``pyproject.toml``): what both write is declared
once, here, below them (what both read, an account's registration, is the MT4 Web API
document's ``Registration``, ``mtgateway_base/mt4web/console_models.py``). Pydantic at the
edge only: the service below sees plain values (``service.AccountRegistration``,
``store.AccountRow``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from mtgateway_base.mt4web.console_models import OperationOut

from .tables.instructions import Instruction
from .tables.store import AccountRow

__all__ = ["Body", "account_json", "operation_out"]


class Body(BaseModel):
    """A JSON request body: unknown fields refused, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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


def operation_out(i: Instruction) -> OperationOut:
    """An instruction as the API shows it."""
    return OperationOut(id=i.id, login=i.login, server=i.server, kind=i.kind,  # type: ignore[arg-type]
                        amount=float(i.amount), comment=i.text, state=i.state,  # type: ignore[arg-type]
                        deal=i.deal, detail=i.detail, created_at=i.created_at,
                        settled_at=i.done_at)

"""The owner's groups of accounts: a name and a risk policy its accounts share.

A group is the owner's (a prop-style desk's "evaluation" and "funded", a fund's "strategy A"),
not the broker's. Moving an account into a group gives it the group's policy (``allowed
symbols, lot cap, risk per trade, automated trading``; paper trading stays the account's
own), and changing a group's policy changes every member's: the policy a record carries stays
the account's row (``risk_of``), so a daemon sees one policy whichever way it was set. An
account is in at most one group.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..database import Tx

__all__ = ["Group", "group", "groups_of", "members", "membership",
           "move", "save"]


@dataclass(frozen=True, slots=True)
class Group:
    """A group and its policy (decimals as text, as the accounts keep them)."""

    name: str
    allowed_symbols: tuple[str, ...]
    max_lot_size: str
    risk_pct: str
    auto_trade_enabled: bool
    created_at: int

    def policy_json(self) -> dict[str, Any]:
        """The policy as the API shows it."""
        return {"allowed_symbols": list(self.allowed_symbols),
                "max_lot_size": float(self.max_lot_size), "risk_pct": float(self.risk_pct),
                "auto_trade_enabled": self.auto_trade_enabled}


def _group(r: Any) -> Group:
    return Group(str(r[0]), tuple(json.loads(str(r[1]))), str(r[2]), str(r[3]), bool(r[4]),
                 int(r[5]))


def save(tx: Tx, owner_email: str, g: Group) -> None:
    """Create the group, or replace its policy."""
    tx.execute("INSERT INTO account_groups VALUES (?,?,?,?,?,?,?) ON CONFLICT "
               "(owner_email, name) DO UPDATE SET allowed_symbols = excluded.allowed_symbols, "
               "max_lot_size = excluded.max_lot_size, risk_pct = excluded.risk_pct, "
               "auto_trade_enabled = excluded.auto_trade_enabled",
               (owner_email, g.name, json.dumps(list(g.allowed_symbols)), g.max_lot_size,
                g.risk_pct, int(g.auto_trade_enabled), g.created_at))


def group(tx: Tx, owner_email: str, name: str) -> Group | None:
    """The owner's group of this name."""
    r = tx.query_one("SELECT name, allowed_symbols, max_lot_size, risk_pct, auto_trade_enabled, "
                     "created_at FROM account_groups WHERE owner_email = ? AND name = ?",
                     (owner_email, name))
    return None if r is None else _group(r)


def groups_of(tx: Tx, owner_email: str) -> list[Group]:
    """The owner's groups, by name."""
    rows = tx.query("SELECT name, allowed_symbols, max_lot_size, risk_pct, "
                    "auto_trade_enabled, created_at FROM account_groups WHERE "
                    "owner_email = ? ORDER BY name", (owner_email,))
    return [_group(r) for r in rows]


def move(tx: Tx, owner_email: str, account_id: int, name: str | None) -> None:
    """Put the owner's account in group ``name`` (``None``: in none)."""
    tx.execute("DELETE FROM account_group_members WHERE account_id = ?", (account_id,))
    if name is not None:
        tx.execute("INSERT INTO account_group_members VALUES (?, ?, ?)",
                   (account_id, owner_email, name))


def membership(tx: Tx, owner_email: str) -> dict[int, str]:
    """Account id → the name of its group, for the owner's accounts in one."""
    rows = tx.query("SELECT account_id, name FROM account_group_members WHERE "
                    "owner_email = ?", (owner_email,))
    return {int(r[0]): str(r[1]) for r in rows}


def members(tx: Tx, owner_email: str, name: str) -> list[int]:
    """The account ids in the owner's group ``name``."""
    rows = tx.query("SELECT account_id FROM account_group_members WHERE owner_email = ? AND "
                    "name = ? ORDER BY account_id", (owner_email, name))
    return [int(r[0]) for r in rows]


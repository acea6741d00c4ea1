"""Accounts: an owner's registered MT5 accounts and the risk policy each record carries.

A registration claims its terminal under the terminal's lock (as a token does), and both a
registration and a policy change tell the daemons holding the account's live tokens at once,
through the revocation feed (a "look now": they refresh their signed records, which carry the
policy), so a switch to paper or a lower lot cap acts within seconds rather than at the next
five-minute refresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from ..database import Tx
from ..store import AccountRow
from .common import Shared, check_claim, decimal_text, normalize_email, serves, terminal_lock

__all__ = ["AccountRegistration", "Accounts", "RiskForm", "loosened"]


@dataclass(frozen=True, slots=True)
class AccountRegistration:
    """An account registration (``POST /v1/accounts``; validated again here)."""

    name: str
    broker: str
    login: int
    #: Optional (may be empty): kept encrypted for launching the terminal; trading never
    #: needs it, the EA runs inside a terminal that is already logged in.
    password: str
    server: str
    is_live: bool = False
    allowed_symbols: tuple[str, ...] = ()
    max_lot_size: Decimal = Decimal("0.1")
    risk_pct: Decimal = Decimal("0.01")
    auto_trade_enabled: bool = True
    #: Orders fill in the daemon's paper book, priced by live ticks; none reaches the broker.
    paper_trade_enabled: bool = False
    mt5_path: str = ""
    account_type: str = "USD"

    def check(self) -> None:
        """Raise ``ValueError`` naming the first field out of its range."""
        rules = (
            ("name", 0 < len(self.name) <= 100), ("broker", 0 < len(self.broker) <= 100),
            ("login", self.login > 0), ("password", len(self.password) <= 200),
            ("server", 0 < len(self.server) <= 200),
            ("max_lot_size", Decimal(0) <= self.max_lot_size <= Decimal(100)),
            ("risk_pct", Decimal(0) <= self.risk_pct <= Decimal(1)),
            ("mt5_path", len(self.mt5_path) <= 500),
            ("account_type", self.account_type in ("USD", "USC")),
        )
        for field_name, ok in rules:
            if not ok:
                raise ValueError(f"{field_name} is out of range")


class Accounts:
    """Register accounts, list them, change their risk policy."""

    def __init__(self, shared: Shared) -> None:
        self._shared = shared
        self._store = shared.store

    async def register(self, owner_email: str, registration: AccountRegistration
                       ) -> AccountRow:
        """Store an account and its risk policy (raises ``AccountExists``, ``TerminalClaimed``
        when another owner holds live tokens for the terminal, or ``ValueError``).

        The MT5 credentials are not checked against a terminal here: the authority has none.
        """
        registration.check()
        row = AccountRow(
            id=0, owner_email=normalize_email(owner_email), name=registration.name,
            broker=registration.broker, login=registration.login, server=registration.server,
            is_live=registration.is_live, is_active=True,
            allowed_symbols=tuple(registration.allowed_symbols),
            max_lot_size=decimal_text(registration.max_lot_size),
            risk_pct=decimal_text(registration.risk_pct),
            auto_trade_enabled=registration.auto_trade_enabled,
            paper_trade_enabled=registration.paper_trade_enabled,
            mt5_path=registration.mt5_path, account_type=registration.account_type,
            created_at=self._shared.now())
        return await self._shared.run(self._register, row, registration.password)

    def _register(self, tx: Tx, row: AccountRow, password: str) -> AccountRow:
        """The claim, the account, its feed rows and its activity, as one."""
        tx.lock(terminal_lock(row.login, row.server))
        check_claim(tx, self._store, row.owner_email, row.login, row.server, row.created_at)
        stored = self._store.add_account(tx, row, password)
        # Tokens issued before the registration carried the permissive default policy
        # (live): the daemons holding them look again now, so a registration with paper
        # trading on, or with limits, acts within seconds, not at the next periodic refresh.
        for token in self._store.tokens_of(tx, row.owner_email):
            if (token.login, token.server) == (stored.login, stored.server) \
                    and serves(tx, self._store, token):
                self._shared.feed.add(tx, row.owner_email, row.created_at,
                                      token_id=token.token_id)
        self._shared.activity.add(tx, row.owner_email, "account_registered",
                                  f"{stored.name} ({stored.login}@{stored.server})",
                                  row.created_at)
        return stored

    async def of(self, owner_email: str) -> list[AccountRow]:
        """The owner's registered accounts (no passwords)."""
        return await self._shared.run(self._store.accounts_of, normalize_email(owner_email))

    async def update_risk(self, owner_email: str, account_id: int,
                          allowed_symbols: Sequence[str], max_lot_size: Decimal,
                          risk_pct: Decimal, auto_trade_enabled: bool,
                          paper_trade_enabled: bool | None = None) -> bool:
        """Change an account's risk policy (and its paper-trading switch unless ``None``);
        ``ValueError`` out of range, ``False`` if the account is not the owner's. The daemons
        holding the account's live tokens are told at once through the feed."""
        if not Decimal(0) <= max_lot_size <= Decimal(100):
            raise ValueError("max_lot_size is out of range")
        if not Decimal(0) <= risk_pct <= Decimal(1):
            raise ValueError("risk_pct is out of range")
        symbols = tuple(dict.fromkeys(s.strip() for s in allowed_symbols if s.strip()))
        return await self._shared.run(
            self._update_risk, normalize_email(owner_email), account_id, symbols,
            decimal_text(max_lot_size), decimal_text(risk_pct), auto_trade_enabled,
            paper_trade_enabled, self._shared.now())

    def _update_risk(self, tx: Tx, owner_email: str, account_id: int,
                     symbols: tuple[str, ...], max_lot: str, risk: str, auto_trade: bool,
                     paper: bool | None, now: int) -> bool:
        if not self._store.update_account_risk(tx, owner_email, account_id, symbols, max_lot,
                                               risk, auto_trade, paper):
            return False
        account = next((a for a in self._store.accounts_of(tx, owner_email)
                        if a.id == account_id), None)
        if account is not None:
            for row in self._store.tokens_of(tx, owner_email):
                if (row.login, row.server) == (account.login, account.server) \
                        and serves(tx, self._store, row):
                    self._shared.feed.add(tx, owner_email, now, token_id=row.token_id)
        switch = "" if paper is None else f", paper {'on' if paper else 'off'}"
        self._shared.activity.add(tx, owner_email, "risk_updated",
                                  f"account {account_id}: symbols {','.join(symbols) or 'any'}, "
                                  f"max lot {max_lot}, risk {risk}, auto-trade "
                                  f"{'on' if auto_trade else 'off'}{switch}", now)
        return True


@dataclass(frozen=True, slots=True)
class RiskForm:
    """An account's risk policy as edited on the accounts page."""

    allowed_symbols: tuple[str, ...]
    max_lot_size: Decimal
    risk_pct: Decimal
    auto_trade_enabled: bool
    paper_trade_enabled: bool


def loosened(new: RiskForm, old: AccountRow) -> list[str]:
    """What ``new`` loosens of ``old``'s policy, in words (empty: it keeps or tightens all).

    Loosening lets a bot do more at the broker: a higher lot cap or risk fraction, automated
    trading switched on, paper trading switched off (orders reach the broker), or a symbol
    list that admits a symbol the old one did not (an empty list admits every symbol). The
    daemon compares symbols without case (``gateway/trading/risk.py``), so this does too.
    """
    words = []
    if new.max_lot_size > Decimal(old.max_lot_size):
        words.append(f"raise the lot cap to {new.max_lot_size}")
    if new.risk_pct > Decimal(old.risk_pct):
        words.append(f"raise the risk per trade to {new.risk_pct}")
    if new.auto_trade_enabled and not old.auto_trade_enabled:
        words.append("switch automated trading on")
    if old.paper_trade_enabled and not new.paper_trade_enabled:
        words.append("leave paper trading (orders reach the broker)")
    before = {s.upper() for s in old.allowed_symbols}
    after = {s.upper() for s in new.allowed_symbols}
    if before and (not after or not after <= before):
        words.append("allow every symbol" if not after else
                     f"allow {', '.join(sorted(after - before))}")
    return words

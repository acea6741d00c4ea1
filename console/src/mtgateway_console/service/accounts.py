"""Accounts: an owner's registered MT5 accounts and the risk policy each record carries.

A registration claims its terminal under the terminal's lock (as a token does). Every change
of an account, from whichever door (the accounts page, the owner's API, a group's
automated-trading switch, the operator's ``mtgateway paper``), is one call here: it writes the
row by the store's one statement, tells the daemons holding the account's live tokens at once
(``common.announce``: they refresh their signed records, which carry the policy, so a switch
to paper or a lower lot cap acts within seconds rather than at the next five-minute refresh),
and notes it in the owner's activity, in one transaction. What a change loosens
(:func:`loosened`) asks for the owner's password (``consent.py``): the rule lives here, so a
door cannot forget it.

Switching an account to paper while its live book holds positions or pending orders at the
broker (its daemon's latest report says how many) is refused with :class:`LiveOpen`, which
says what stays open, until the change comes confirmed: paper never reaches the live book, so
those stay open at the broker, and bots on paper can neither see nor close them. The owner
decides that knowingly, on every door (the page's checkbox, the API's
``confirm_live_open``, ``mtgateway paper on --confirm-live-open``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Final

from mtgateway_base.wire.errors import AuthorityError
from mtgateway_base.wire.records import MAX_LOT_SIZE_BOUNDS, RISK_PCT_BOUNDS

from ..database import Tx
from ..errors import InvalidRequest
from ..tables import groups as group_rows
from ..tables.snapshots import live_open, open_words
from ..tables.store import AccountRow
from .common import Shared, announce, check_claim, decimal_text, normalize_email, terminal_lock
from .consent import Consent, PasswordNeeded

__all__ = ["AccountChanges", "AccountRegistration", "Accounts", "LiveOpen", "RiskForm",
           "loosened", "loosens"]

#: The fields of an account's risk policy (a change of only these is a "risk_updated").
_POLICY: Final = ("allowed_symbols", "max_lot_size", "risk_pct", "auto_trade_enabled",
                  "paper_trade_enabled")


class LiveOpen(AuthorityError):
    """Paper trading would go on while the account's live book holds positions or pending
    orders at the broker: nothing was changed. Say what stays open, and send the change again
    confirmed (``confirm_live_open``) to switch anyway."""

    def __init__(self, login: int, server: str, positions: int, orders: int) -> None:
        self.positions, self.orders = positions, orders
        self.words = (f"{open_words(positions, orders)} of {login}@{server} stay open at the "
                      "broker: paper trading never reaches the live book, so bots on paper "
                      "can neither see nor close them (a close sent on paper is refused, "
                      "naming the live book); the dashboard and Live keep showing them as "
                      "live")
        super().__init__(self.words)


def _within(value: Decimal, bounds: tuple[Decimal, Decimal]) -> bool:
    """Whether ``value`` is within a policy's ``bounds`` (inclusive)."""
    return bounds[0] <= value <= bounds[1]


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
            ("max_lot_size", _within(self.max_lot_size, MAX_LOT_SIZE_BOUNDS)),
            ("risk_pct", _within(self.risk_pct, RISK_PCT_BOUNDS)),
            ("mt5_path", len(self.mt5_path) <= 500),
            ("account_type", self.account_type in ("USD", "USC")),
        )
        for field_name, ok in rules:
            if not ok:
                raise InvalidRequest(f"{field_name} is out of range")


@dataclass(frozen=True, slots=True)
class AccountChanges:
    """A change of one account (``None``: unchanged): its description, and its policy."""

    name: str | None = None
    broker: str | None = None
    is_live: bool | None = None
    allowed_symbols: tuple[str, ...] | None = None
    max_lot_size: Decimal | None = None
    risk_pct: Decimal | None = None
    auto_trade_enabled: bool | None = None
    paper_trade_enabled: bool | None = None
    mt5_path: str | None = None
    account_type: str | None = None

    def check(self) -> None:
        """Raise ``ValueError`` naming the first field out of its range."""
        if self.max_lot_size is not None and not _within(self.max_lot_size, MAX_LOT_SIZE_BOUNDS):
            raise InvalidRequest("max_lot_size is out of range")
        if self.risk_pct is not None and not _within(self.risk_pct, RISK_PCT_BOUNDS):
            raise InvalidRequest("risk_pct is out of range")

    def named(self) -> list[str]:
        """The fields this change sets, in declaration order."""
        return [n for n in AccountChanges.__dataclass_fields__ if getattr(self, n) is not None]

    def applied_to(self, account: AccountRow) -> AccountRow:
        """``account`` with this change made (symbols trimmed, each once; decimals as the
        store keeps them)."""
        c = self
        return replace(
            account,
            name=account.name if c.name is None else c.name,
            broker=account.broker if c.broker is None else c.broker,
            is_live=account.is_live if c.is_live is None else c.is_live,
            allowed_symbols=account.allowed_symbols if c.allowed_symbols is None
            else tuple(dict.fromkeys(s.strip() for s in c.allowed_symbols if s.strip())),
            max_lot_size=account.max_lot_size if c.max_lot_size is None
            else decimal_text(c.max_lot_size),
            risk_pct=account.risk_pct if c.risk_pct is None else decimal_text(c.risk_pct),
            auto_trade_enabled=account.auto_trade_enabled if c.auto_trade_enabled is None
            else c.auto_trade_enabled,
            paper_trade_enabled=account.paper_trade_enabled if c.paper_trade_enabled is None
            else c.paper_trade_enabled,
            mt5_path=account.mt5_path if c.mt5_path is None else c.mt5_path,
            account_type=account.account_type if c.account_type is None else c.account_type)


def _described(c: AccountChanges, new: AccountRow) -> str:
    """What a change set, as the activity names it (a policy field with its new value)."""
    said = {"allowed_symbols": f"symbols {','.join(new.allowed_symbols) or 'any'}",
            "max_lot_size": f"max lot {new.max_lot_size}", "risk_pct": f"risk {new.risk_pct}",
            "auto_trade_enabled": f"auto-trade {'on' if new.auto_trade_enabled else 'off'}",
            "paper_trade_enabled": f"paper {'on' if new.paper_trade_enabled else 'off'}"}
    return ", ".join(said.get(name, name) for name in c.named()) or "nothing"


class Accounts:
    """Register accounts, list them, change them (see the module docstring)."""

    def __init__(self, shared: Shared, consent: Consent) -> None:
        self._shared = shared
        self._store = shared.store
        self._consent = consent

    async def register(self, owner_email: str, registration: AccountRegistration, *,
                       confirm_live_open: bool = False) -> AccountRow:
        """Store an account and its risk policy (raises ``AccountExists``, ``TerminalClaimed``
        when another owner holds live tokens for the terminal, ``LiveOpen`` when it would
        start on paper over open live trades unconfirmed, or ``ValueError``).

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
        return await self._shared.run(self._register, row, registration.password,
                                      confirm_live_open)

    def _register(self, tx: Tx, row: AccountRow, password: str,
                  live_open_confirmed: bool = False) -> AccountRow:
        """The claim, the account, its feed rows and its activity, as one."""
        tx.lock(terminal_lock(row.login, row.server))
        check_claim(tx, self._store, row.owner_email, row.login, row.server, row.created_at)
        if row.paper_trade_enabled and not live_open_confirmed:
            positions, orders = live_open(tx, row.owner_email, row.login, row.server)
            if positions or orders:
                raise LiveOpen(row.login, row.server, positions, orders)
        stored = self._store.add_account(tx, row, password)
        # Tokens issued before the registration carried the permissive default policy
        # (live): the daemons holding them look again now, so a registration with paper
        # trading on, or with limits, acts within seconds, not at the next periodic refresh.
        announce(tx, self._shared, row.owner_email, stored.login, stored.server,
                 row.created_at)
        self._shared.activity.add(tx, row.owner_email, "account_registered",
                                  f"{stored.name} ({stored.login}@{stored.server})",
                                  row.created_at)
        return stored

    async def of(self, owner_email: str) -> list[AccountRow]:
        """The owner's registered accounts (no passwords)."""
        return await self._shared.run(self._store.accounts_of, normalize_email(owner_email))

    async def with_groups(self, owner_email: str) -> list[tuple[AccountRow, str | None]]:
        """The owner's accounts, each with the name of its group (or ``None``)."""
        return await self._shared.run(self._with_groups, normalize_email(owner_email))

    def _with_groups(self, tx: Tx, owner: str) -> list[tuple[AccountRow, str | None]]:
        member = group_rows.membership(tx, owner)
        return [(a, member.get(a.id)) for a in self._store.accounts_of(tx, owner)]

    async def update(self, owner_email: str, account_id: int, changes: AccountChanges, *,
                     password: str | None = None, via: str = "",
                     by_operator: bool = False,
                     confirm_live_open: bool = False) -> AccountRow | None:
        """Make ``changes`` to the owner's account: the account as it now stands, or ``None``
        if it is not theirs. The daemons holding its tokens are told at once; ``via`` names
        the door in the activity (``"API"``).

        What the change loosens needs the owner's ``password``; ``by_operator``: the
        operator at the console's machine changes it (``mtgateway paper``: access to the
        database is the authority, as ``token revoke`` treats it), never a door's caller.

        Switching paper on while the live book holds trades needs ``confirm_live_open``.

        Raises:
            ValueError: a field out of its range.
            PasswordNeeded: it loosens the policy and the right password did not come.
            LiveOpen: it switches paper on over open live trades, unconfirmed.
        """
        changes.check()
        owner, now = normalize_email(owner_email), self._shared.now()
        if by_operator:
            return await self._shared.run(self._update, True, owner, account_id, changes, via,
                                          now, confirm_live_open)
        return await self._consent.run(owner, password, self._update, owner, account_id,
                                       changes, via, now, confirm_live_open)

    def _update(self, tx: Tx, confirmed: bool, owner: str, account_id: int,
                c: AccountChanges, via: str, now: int,
                live_open_confirmed: bool = False) -> AccountRow | None:
        account = next((a for a in self._store.accounts_of(tx, owner) if a.id == account_id),
                       None)
        if account is None:
            return None
        new = c.applied_to(account)
        words = loosens(new, account)
        if words and not confirmed:
            raise PasswordNeeded(words)
        if new.paper_trade_enabled and not account.paper_trade_enabled \
                and not live_open_confirmed:
            positions, orders = live_open(tx, owner, account.login, account.server)
            if positions or orders:
                raise LiveOpen(account.login, account.server, positions, orders)
        self._store.update_account(tx, new)
        announce(tx, self._shared, owner, account.login, account.server, now)
        kind = "risk_updated" if set(c.named()) <= set(_POLICY) else "account_changed"
        self._shared.activity.add(tx, owner, kind, f"{account.login}@{account.server}: "
                                  f"{_described(c, new)}{f' ({via})' if via else ''}", now)
        return new

    async def set_auto_trade(self, owner_email: str, account_ids: Sequence[int],
                             enabled: bool, *, password: str | None = None) -> None:
        """Switch automated trading on or off for many of the owner's accounts at once (on
        loosens: it needs the ``password``).

        Raises:
            KeyError: an id that is none of the owner's accounts.
            PasswordNeeded: it switches automated trading on and the right password did not
                come.
        """
        owner = normalize_email(owner_email)
        await self._consent.run(owner, password, self._auto_trade, owner, list(account_ids),
                                enabled, self._shared.now())

    def _auto_trade(self, tx: Tx, confirmed: bool, owner: str, account_ids: list[int],
                    enabled: bool, now: int) -> None:
        accounts = {a.id: a for a in self._store.accounts_of(tx, owner)}
        changed = {i: replace(accounts[i], auto_trade_enabled=enabled) for i in account_ids}
        words = sorted({w for i, new in changed.items() for w in loosens(new, accounts[i])})
        if words and not confirmed:
            raise PasswordNeeded(words)
        for new in changed.values():
            self._store.update_account(tx, new)
            announce(tx, self._shared, owner, new.login, new.server, now)
        self._shared.activity.add(tx, owner, "risk_updated",
                                  f"auto-trade {'on' if enabled else 'off'} for "
                                  f"{', '.join(str(accounts[i].login) for i in account_ids)} "
                                  "(API)", now)

    async def set_password(self, owner_email: str, account_id: int, password: str) -> bool:
        """Replace the stored MT5 password of the owner's account (encrypted as at
        registration; never shown again); ``False`` if the account is not theirs."""
        return await self._shared.run(self._set_password, normalize_email(owner_email),
                                      account_id, password, self._shared.now())

    def _set_password(self, tx: Tx, owner: str, account_id: int, password: str,
                      now: int) -> bool:
        account = next((a for a in self._store.accounts_of(tx, owner) if a.id == account_id),
                       None)
        if account is None:
            return False
        self._store.replace_account_password(tx, account, password)
        self._shared.activity.add(tx, owner, "account_password_changed",
                                  f"{account.login}@{account.server}", now)
        return True


def loosens(new: AccountRow, old: AccountRow) -> list[str]:
    """What writing ``new`` over ``old`` loosens of its policy, in words (:func:`loosened`
    on two rows)."""
    return loosened(RiskForm(new.allowed_symbols, Decimal(new.max_lot_size),
                             Decimal(new.risk_pct), new.auto_trade_enabled,
                             new.paper_trade_enabled), old)


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

"""One owner, many accounts: what the console's API does beyond one terminal.

The MT4 Web API document is a broker's Manager API; on the console its endpoints mean what an
owner can truly do across their own accounts:

- **users** are the owner's registered accounts (:meth:`Manager.update`, the stored MT5
  password: :meth:`Manager.set_password`);
- **money** moves on *paper* accounts only (:meth:`Manager.move_money`): an instruction
  (``instructions.py``) carried in the terminal's signed records to the daemon, which applies
  it once in the paper book; a live account's money is the broker's to move;
- **the kill switch** (:meth:`Manager.halt`, :meth:`Manager.resume`; ``halts.py``) and
  **chart messages** (:meth:`Manager.send_message`) reach daemons the same way;
- **groups** share a risk policy (``groups.py``; :meth:`Manager.move_to_group`,
  :meth:`Manager.set_auto_trade`);
- **margins, open trades, history** and **who is online** come from what daemons report
  (``snapshots.py``, ``reports.py``), each with the time it was read.

Every change a daemon must act on is told to the daemons holding the terminal's live tokens
in its own transaction, through the revocation feed ("look now": they refresh their records
within seconds), and is written to the owner's activity log in that transaction too.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Final

from .. import groups as groupstore
from .. import halts, instructions, snapshots
from ..database import Tx
from ..groups import Group
from ..halts import Halt
from ..instructions import Instruction
from ..reports import SILENT_AFTER_S, TerminalReport, TerminalRow
from ..reports import of as terminals_of
from ..store import AccountRow
from .common import Shared, decimal_text, normalize_email, serves

__all__ = ["AccountChanges", "KeyReused", "LiveMoney", "Manager", "Online"]


class LiveMoney(ValueError):
    """Money was to move on an account that is not a paper account: its money is the
    broker's (a live account's, or a demo account's at its broker)."""


class KeyReused(ValueError):
    """An idempotency key (``operation_id``) was used before for another operation."""


@dataclass(frozen=True, slots=True)
class AccountChanges:
    """What ``PUT /api/users/{login}`` may change; ``None``: unchanged."""

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


@dataclass(frozen=True, slots=True)
class Online:
    """A terminal active now on one of the owner's devices."""

    row: TerminalRow


def _tell(tx: Tx, shared: Shared, owner_email: str, login: int, server: str, now: int) -> None:
    """Put the terminal's live tokens on the feed: their daemons refresh their records now."""
    for token in shared.store.tokens_of(tx, owner_email):
        if (token.login, token.server) == (login, server) and serves(tx, shared.store, token):
            shared.feed.add(tx, owner_email, now, token_id=token.token_id)


#: How long a pass of the live page's stream keeps its owner watched (its passes come at
#: least every ``web/live.BEAT_S``, 15 s).
WATCH_HOLD_S: Final = 60


class Manager:
    """The owner's API across accounts (see the module docstring)."""

    def __init__(self, shared: Shared) -> None:
        self._shared = shared
        self._store = shared.store
        #: Woken when a daemon's report settles an instruction in this process.
        self._settled = asyncio.Event()
        #: Per owner, woken when a report of theirs is stored in this process (the live
        #: page's push, ``web/live.py``).
        self._reported: dict[str, asyncio.Event] = {}
        #: Per owner watching the live page on this instance, until when (epoch s): their
        #: daemons are asked for live reports (:meth:`wants_live`).
        self._watched: dict[str, int] = {}

    # -- accounts ---------------------------------------------------------------------------

    async def accounts(self, owner_email: str) -> list[tuple[AccountRow, str | None]]:
        """The owner's accounts, each with the name of its group (or ``None``)."""
        return await self._shared.run(self._accounts, normalize_email(owner_email))

    def _accounts(self, tx: Tx, owner: str) -> list[tuple[AccountRow, str | None]]:
        member = groupstore.membership(tx, owner)
        return [(a, member.get(a.id)) for a in self._store.accounts_of(tx, owner)]

    async def update(self, owner_email: str, account_id: int, changes: AccountChanges
                     ) -> AccountRow | None:
        """Apply ``changes`` to the owner's account (``None`` if not theirs); the daemons
        holding its tokens are told at once. The caller asked for the password where the
        change loosens the policy."""
        return await self._shared.run(self._update, normalize_email(owner_email), account_id,
                                      changes, self._shared.now())

    def _update(self, tx: Tx, owner: str, account_id: int, c: AccountChanges, now: int
                ) -> AccountRow | None:
        account = next((a for a in self._store.accounts_of(tx, owner) if a.id == account_id),
                       None)
        if account is None:
            return None
        symbols = account.allowed_symbols if c.allowed_symbols is None else tuple(
            dict.fromkeys(s.strip() for s in c.allowed_symbols if s.strip()))
        tx.execute("UPDATE accounts SET name = ?, broker = ?, is_live = ?, allowed_symbols = ?, "
                   "max_lot_size = ?, risk_pct = ?, auto_trade_enabled = ?, "
                   "paper_trade_enabled = ?, mt5_path = ?, account_type = ? "
                   "WHERE id = ? AND owner_email = ?",
                   (c.name if c.name is not None else account.name,
                    c.broker if c.broker is not None else account.broker,
                    int(account.is_live if c.is_live is None else c.is_live),
                    json.dumps(list(symbols)),
                    account.max_lot_size if c.max_lot_size is None
                    else decimal_text(c.max_lot_size),
                    account.risk_pct if c.risk_pct is None else decimal_text(c.risk_pct),
                    int(account.auto_trade_enabled if c.auto_trade_enabled is None
                        else c.auto_trade_enabled),
                    int(account.paper_trade_enabled if c.paper_trade_enabled is None
                        else c.paper_trade_enabled),
                    c.mt5_path if c.mt5_path is not None else account.mt5_path,
                    c.account_type if c.account_type is not None else account.account_type,
                    account_id, owner))
        changed = [name for name, value in _fields(c) if value is not None]
        _tell(tx, self._shared, owner, account.login, account.server, now)
        self._shared.activity.add(tx, owner, "account_changed",
                                  f"{account.login}@{account.server}: "
                                  f"{', '.join(changed) or 'nothing'} (API)", now)
        return self._store.account_for(tx, account.login, account.server)

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

    # -- instructions: paper money and chart messages -----------------------------------------

    async def move_money(self, owner_email: str, account: AccountRow, kind: str,
                         amount: Decimal, comment: str, request_key: str = ""
                         ) -> tuple[Instruction, bool]:
        """Instruct the paper book of ``account`` to move money: a deposit or withdrawal
        (``amount`` > 0) or credit (signed). The instruction and whether it is new (``False``:
        the same ``request_key`` made it before, with the same terms).

        Raises:
            LiveMoney: the account is not a paper account.
            KeyReused: ``request_key`` made another operation.
        """
        if not account.paper_trade_enabled:
            raise LiveMoney(
                f"account {account.login} is "
                f"{'a live' if account.is_live else 'not a paper'} account: its money is the "
                "broker's to move (deposits, withdrawals and credit go through the broker); "
                "only a paper account's money moves here")
        owner = normalize_email(owner_email)
        made = Instruction(
            id="ins_" + secrets.token_hex(8), owner_email=owner, login=account.login,
            server=account.server, kind=kind, amount=decimal_text(amount), text=comment,
            request_key=request_key, created_at=self._shared.now())
        return await self._shared.run(self._instruct, made)

    def _instruct(self, tx: Tx, made: Instruction) -> tuple[Instruction, bool]:
        before = instructions.by_request_key(tx, made.owner_email, made.request_key) \
            or instructions.add(tx, made)  # another request's, stored since: that one
        if before is not None:
            if (before.login, before.server, before.kind, before.amount, before.text) != (
                    made.login, made.server, made.kind, made.amount, made.text):
                raise KeyReused(f"operation_id {made.request_key!r} was used for another "
                                "operation")
            return before, False
        _tell(tx, self._shared, made.owner_email, made.login, made.server, made.created_at)
        what = (f"{made.kind} {made.amount}" if made.kind != "message"
                else f"message: {made.text[:80]}")
        self._shared.activity.add(tx, made.owner_email,
                                  "message_sent" if made.kind == "message"
                                  else "paper_money", f"{made.login}@{made.server}: {what} "
                                  f"({made.id})", made.created_at)
        return made, True

    async def send_message(self, owner_email: str, terminals: Sequence[tuple[int, str]],
                           text: str) -> list[Instruction]:
        """A message for each terminal's chart (its EA shows it), kept in the activity."""
        owner = normalize_email(owner_email)
        made = []
        for login, server in terminals:
            instruction, _ = await self._shared.run(self._instruct, Instruction(
                id="ins_" + secrets.token_hex(8), owner_email=owner, login=login,
                server=server, kind="message", amount="0", text=text, request_key="",
                created_at=self._shared.now()))
            made.append(instruction)
        return made

    async def instruction(self, owner_email: str, instruction_id: str) -> Instruction | None:
        """The owner's instruction as it stands."""
        return await self._shared.run(instructions.by_id, normalize_email(owner_email),
                                      instruction_id)

    async def wait_settled(self, owner_email: str, instruction_id: str, timeout_s: float
                           ) -> Instruction | None:
        """The instruction once a daemon settled it, or as it stands after ``timeout_s``
        (a daemon reports a settlement at once; one reporting to another console instance
        is seen when the wait ends)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            woken = self._settled
            found = await self.instruction(owner_email, instruction_id)
            left = deadline - loop.time()
            if found is None or found.state != "pending" or left <= 0:
                return found
            try:
                async with asyncio.timeout(left):
                    await woken.wait()
            except TimeoutError:
                pass

    def _wake(self) -> None:
        self._settled.set()
        self._settled = asyncio.Event()

    def report_event(self, owner_email: str) -> asyncio.Event:
        """An event set when the next report of the owner's terminals is stored by this
        console instance (a report stored by another instance is not heard). Take it before
        doing what a report should follow (the live page's stream writes after taking it), so
        a report stored meanwhile is not missed."""
        return self._reported.setdefault(normalize_email(owner_email), asyncio.Event())

    def watch(self, owner_email: str) -> None:
        """The owner is watching the live page: for :data:`WATCH_HOLD_S` from now, reports
        from their daemons are answered with a request for live ones (the live page calls
        this on every pass of its stream)."""
        self._watched[normalize_email(owner_email)] = self._shared.now() + WATCH_HOLD_S

    async def wants_live(self, device_id: str) -> bool:
        """Whether a report from ``device_id`` is answered "report live": one of the owners
        who approve it is watching the live page on this instance.

        Why only then: an active terminal holding positions reported every 5 s instead of
        every 30 s is six times the console's report load, and nobody reads the figures in
        between when nobody watches (the API's readings carry the time they were read). No
        one watching, as for almost every report, costs nothing: no query."""
        now = self._shared.now()
        watched = [o for o, until in self._watched.items() if until > now]
        if len(watched) != len(self._watched):
            self._watched = {o: u for o, u in self._watched.items() if u > now}
        if not watched:
            return False
        return await self._shared.run(self._approved_by_any, device_id, watched)

    def _approved_by_any(self, tx: Tx, device_id: str, owners: list[str]) -> bool:
        for owner in owners:
            approval = self._store.approval(tx, owner, device_id)
            if approval is not None and approval.status == "approved":
                return True
        return False

    def wake_all(self) -> None:
        """Set every :meth:`report_event` now (the console is shutting down)."""
        for event in self._reported.values():
            event.set()
        self._reported.clear()

    def _report_stored(self, owner_email: str) -> None:
        event = self._reported.pop(owner_email, None)
        if event is not None:
            event.set()

    async def instructions_of(self, owner_email: str, login: int | None = None
                              ) -> list[Instruction]:
        """The owner's newest instructions (of one login), newest first."""
        return await self._shared.run(instructions.of_owner, normalize_email(owner_email),
                                      login)

    # -- the kill switch ----------------------------------------------------------------------

    async def halt(self, owner_email: str, terminals: Sequence[tuple[int, str]] | None,
                   reason: str) -> None:
        """Refuse every order of the named terminals (``None``: all of the owner's) until
        :meth:`resume`; their daemons are told at once."""
        await self._shared.run(self._switch, normalize_email(owner_email),
                               None if terminals is None else list(terminals), reason, True,
                               self._shared.now())

    async def resume(self, owner_email: str, terminals: Sequence[tuple[int, str]] | None
                     ) -> None:
        """Lift the halt of the named terminals (``None``: every halt of the owner)."""
        await self._shared.run(self._switch, normalize_email(owner_email),
                               None if terminals is None else list(terminals), "", False,
                               self._shared.now())

    def _switch(self, tx: Tx, owner: str, terminals: list[tuple[int, str]] | None,
                reason: str, on: bool, now: int) -> None:
        known = self._terminals(tx, owner)
        if on:
            halts.halt(tx, owner, terminals, reason, now)
        else:
            halts.resume(tx, owner, terminals, known)
        for login, server in (known if terminals is None else terminals):
            _tell(tx, self._shared, owner, login, server, now)
        named = ("every terminal" if terminals is None
                 else ", ".join(f"{login}@{server}" for login, server in terminals))
        self._shared.activity.add(tx, owner, "trading_halted" if on else "trading_resumed",
                                  named + (f": {reason}" if on and reason else ""), now)

    def _terminals(self, tx: Tx, owner: str) -> list[tuple[int, str]]:
        """Every terminal of the owner: registered accounts and live tokens' terminals."""
        found = {(a.login, a.server): None for a in self._store.accounts_of(tx, owner)}
        now = self._shared.now()
        for token in self._store.tokens_of(tx, owner):
            if token.revoked_at is None and (token.expires_at is None or token.expires_at > now):
                found.setdefault((token.login, token.server), None)
        return list(found)

    async def halts(self, owner_email: str) -> list[Halt]:
        """Every halt of the owner."""
        return await self._shared.run(halts.halts_of, normalize_email(owner_email))

    # -- groups -------------------------------------------------------------------------------

    async def groups(self, owner_email: str) -> list[tuple[Group, list[int]]]:
        """The owner's groups, each with its accounts' ids."""
        return await self._shared.run(self._groups, normalize_email(owner_email))

    def _groups(self, tx: Tx, owner: str) -> list[tuple[Group, list[int]]]:
        return [(g, groupstore.members(tx, owner, g.name))
                for g in groupstore.groups_of(tx, owner)]

    async def move_to_group(self, owner_email: str, account_ids: Sequence[int],
                            name: str | None, policy: Group | None = None) -> None:
        """Put the accounts in group ``name`` (``None``: in none), made with ``policy`` when
        new (else the first account's policy); a ``policy`` given for an existing group
        replaces it for every member. Members take the group's policy; their daemons are
        told at once."""
        await self._shared.run(self._move, normalize_email(owner_email), list(account_ids),
                               name, policy, self._shared.now())

    def _move(self, tx: Tx, owner: str, account_ids: list[int], name: str | None,
              policy: Group | None, now: int) -> None:
        accounts = {a.id: a for a in self._store.accounts_of(tx, owner)}
        if name is not None:
            current = groupstore.group(tx, owner, name)
            if policy is not None:
                current = replace(policy, name=name,
                                  created_at=current.created_at if current else now)
                groupstore.save(tx, owner, current)
            elif current is None:
                first = accounts[account_ids[0]]
                current = Group(name, first.allowed_symbols, first.max_lot_size,
                                first.risk_pct, first.auto_trade_enabled, now)
                groupstore.save(tx, owner, current)
            targets = set(account_ids) | set(groupstore.members(tx, owner, name))
            for account_id in sorted(targets):
                account = accounts[account_id]
                groupstore.move(tx, owner, account_id, name)
                self._store.update_account_risk(
                    tx, owner, account_id, current.allowed_symbols, current.max_lot_size,
                    current.risk_pct, current.auto_trade_enabled)
                _tell(tx, self._shared, owner, account.login, account.server, now)
        else:
            for account_id in account_ids:
                groupstore.move(tx, owner, account_id, None)
        logins = ", ".join(str(accounts[i].login) for i in account_ids)
        self._shared.activity.add(tx, owner, "group_changed",
                                  f"{logins} -> {name or 'no group'}", now)

    async def set_auto_trade(self, owner_email: str, account_ids: Sequence[int],
                             enabled: bool) -> None:
        """Switch automated trading on or off for many accounts at once."""
        await self._shared.run(self._auto_trade, normalize_email(owner_email),
                               list(account_ids), enabled, self._shared.now())

    def _auto_trade(self, tx: Tx, owner: str, account_ids: list[int], enabled: bool,
                    now: int) -> None:
        accounts = {a.id: a for a in self._store.accounts_of(tx, owner)}
        for account_id in account_ids:
            a = accounts[account_id]
            self._store.update_account_risk(tx, owner, account_id, a.allowed_symbols,
                                            a.max_lot_size, a.risk_pct, enabled)
            _tell(tx, self._shared, owner, a.login, a.server, now)
        self._shared.activity.add(tx, owner, "risk_updated",
                                  f"auto-trade {'on' if enabled else 'off'} for "
                                  f"{', '.join(str(accounts[i].login) for i in account_ids)} "
                                  "(API)", now)

    # -- what daemons report ------------------------------------------------------------------

    async def snapshots(self, owner_email: str
                        ) -> dict[tuple[str, int, str], snapshots.Snapshot]:
        """The latest snapshot of each of the owner's active terminals, per device."""
        return await self._shared.run(snapshots.snapshots_of, normalize_email(owner_email))

    async def deals(self, owner_email: str, terminals: Sequence[tuple[int, str]], **where: Any
                    ) -> list[tuple[int, str, float, dict[str, Any]]]:
        """The deals daemons reported for the owner's terminals (``snapshots.deals_of``)."""
        return await self._shared.run(snapshots.deals_of, normalize_email(owner_email),
                                      list(terminals), **where)

    async def online(self, owner_email: str) -> list[TerminalRow]:
        """The owner's terminals active now (reported active and not silent)."""
        now = self._shared.now()
        rows = await self._shared.run(terminals_of, normalize_email(owner_email))
        return [r for r in rows if r.state == "active" and now - r.reported_at <= SILENT_AFTER_S]

    def observe_report(self, tx: Tx, owner_email: str, device_id: str, report: TerminalReport,
                       as_of: float, now: int, snapshot_kept: bool = True) -> None:
        """A stored report's details and settlements (called in the report's transaction,
        ``terminals.py``): the snapshot replaced or dropped, new deals kept, instructions
        settled. ``snapshot_kept``: whether the report's lookup found a snapshot stored
        (without one there is none to drop)."""
        key = (owner_email, device_id, report.login, report.server)
        tx.after_commit(lambda: self._report_stored(owner_email))
        details = report.details
        if report.state == "active" and details is not None:
            snapshots.save(tx, key, details, as_of)
            snapshots.add_deals(tx, owner_email, device_id, report.login, report.server,
                                details.deals, as_of, now)
        elif snapshot_kept:
            snapshots.drop(tx, key)
        settled = False
        for done in report.done:
            row = instructions.settle(tx, owner_email, report.login, report.server, done.id,
                                      done.state, done.deal, done.detail, device_id, now)
            settled = settled or row is not None
        if settled:
            tx.after_commit(self._wake)


def _fields(c: AccountChanges) -> list[tuple[str, Any]]:
    return [(name, getattr(c, name)) for name in AccountChanges.__dataclass_fields__]

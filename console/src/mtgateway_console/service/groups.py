"""Groups: accounts of one owner sharing a risk policy (the rows are ``groups.py``'s).

Moving accounts into a group writes the group's policy to every member, the accounts moved
and those already in it, so the members stay alike whatever was changed on one of them
since. Every account whose policy the move writes is judged for what it loosens
(``accounts.loosens``), the existing members included, and the move asks for the owner's
password when any is (``consent.py``): a member the owner tightened is not loosened again by
moving another account in. The daemons holding the members' tokens are told at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..database import Tx
from ..tables import groups as group_rows
from ..tables.groups import Group
from .accounts import loosens
from .common import Shared, announce, normalize_email
from .consent import Consent, PasswordNeeded

__all__ = ["Groups"]


class Groups:
    """The owner's groups, and moving accounts between them."""

    def __init__(self, shared: Shared, consent: Consent) -> None:
        self._shared = shared
        self._store = shared.store
        self._consent = consent

    async def of(self, owner_email: str) -> list[tuple[Group, list[int]]]:
        """The owner's groups, each with its accounts' ids."""
        return await self._shared.run(self._of, normalize_email(owner_email))

    @staticmethod
    def _of(tx: Tx, owner: str) -> list[tuple[Group, list[int]]]:
        return [(g, group_rows.members(tx, owner, g.name))
                for g in group_rows.groups_of(tx, owner)]

    async def move(self, owner_email: str, account_ids: Sequence[int], name: str | None,
                   policy: Group | None = None, *, password: str | None = None) -> None:
        """Put the accounts in group ``name`` (``None``: in none), made with ``policy`` when
        new (else the first account's policy); a ``policy`` given for an existing group
        replaces it for every member. Every member takes the group's policy; their daemons
        are told at once.

        Raises:
            KeyError: an id that is none of the owner's accounts.
            PasswordNeeded: the policy written loosens a member's (moved or already in)
                and the right password did not come; nothing moved.
        """
        owner = normalize_email(owner_email)
        await self._consent.run(owner, password, self._move, owner, list(account_ids), name,
                                policy, self._shared.now())

    def _move(self, tx: Tx, confirmed: bool, owner: str, account_ids: list[int],
              name: str | None, policy: Group | None, now: int) -> None:
        accounts = {a.id: a for a in self._store.accounts_of(tx, owner)}
        if name is None:
            for account_id in account_ids:
                group_rows.move(tx, owner, account_id, None)
        else:
            current = group_rows.group(tx, owner, name)
            if policy is not None:
                target = replace(policy, name=name,
                                 created_at=current.created_at if current else now)
            elif current is not None:
                target = current
            else:
                first = accounts[account_ids[0]]
                target = Group(name, first.allowed_symbols, first.max_lot_size,
                               first.risk_pct, first.auto_trade_enabled, now)
            members = sorted(set(account_ids) | set(group_rows.members(tx, owner, name)))
            changed = {i: replace(accounts[i], allowed_symbols=target.allowed_symbols,
                                  max_lot_size=target.max_lot_size, risk_pct=target.risk_pct,
                                  auto_trade_enabled=target.auto_trade_enabled)
                       for i in members}
            words = sorted({w for i, new in changed.items() for w in loosens(new, accounts[i])})
            if words and not confirmed:
                raise PasswordNeeded(words)
            if target != current:
                group_rows.save(tx, owner, target)
            for account_id, new in changed.items():
                group_rows.move(tx, owner, account_id, name)
                self._store.update_account(tx, new)
                announce(tx, self._shared, owner, new.login, new.server, now)
        logins = ", ".join(str(accounts[i].login) for i in account_ids)
        self._shared.activity.add(tx, owner, "group_changed",
                                  f"{logins} -> {name or 'no group'}", now)

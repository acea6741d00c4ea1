"""The kill switch: the owner halts trading on named terminals or on all of them, and lifts it
(the rows are ``halts.py``'s).

Halting only takes away, so it is one call with whatever speaks for the owner. Lifting a halt
lets every bot on those terminals trade again, the kind of change a runaway bot or a leaked
credential must not be able to make: it asks for the owner's password (``consent.py``), and
lifting what is not halted asks nothing. Either way the daemons holding the terminals' tokens
are told at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..database import Tx
from ..tables import halts as halt_rows
from ..tables.halts import ALL, Halt
from .common import Shared, announce, normalize_email
from .consent import Consent, PasswordNeeded

__all__ = ["Halts"]


class Halts:
    """Halt and resume the owner's terminals."""

    def __init__(self, shared: Shared, consent: Consent) -> None:
        self._shared = shared
        self._store = shared.store
        self._consent = consent

    async def of(self, owner_email: str) -> list[Halt]:
        """Every halt of the owner."""
        return await self._shared.run(halt_rows.halts_of, normalize_email(owner_email))

    async def halt(self, owner_email: str, terminals: Sequence[tuple[int, str]] | None,
                   reason: str) -> None:
        """Refuse every order of the named terminals (``None``: all of the owner's) until
        :meth:`resume`; their daemons are told at once."""
        await self._shared.run(self._switch, True, normalize_email(owner_email),
                               None if terminals is None else list(terminals), reason, True,
                               self._shared.now())

    async def resume(self, owner_email: str, terminals: Sequence[tuple[int, str]] | None, *,
                     password: str | None = None) -> None:
        """Lift the halt of the named terminals (``None``: every halt of the owner).

        Raises:
            PasswordNeeded: a halt would be lifted and the right password did not come.
        """
        owner = normalize_email(owner_email)
        await self._consent.run(owner, password, self._switch, owner,
                                None if terminals is None else list(terminals), "", False,
                                self._shared.now())

    def _switch(self, tx: Tx, confirmed: bool, owner: str,
                terminals: list[tuple[int, str]] | None, reason: str, on: bool,
                now: int) -> None:
        known = self._terminals(tx, owner)
        if on:
            halt_rows.halt(tx, owner, terminals, reason, now)
        else:
            lifted = self._lifted(tx, owner, terminals)
            if lifted and not confirmed:
                raise PasswordNeeded([f"lift the halt of {lifted} (every bot there may "
                                      "trade again)"])
            halt_rows.resume(tx, owner, terminals, known)
        for login, server in (known if terminals is None else terminals):
            announce(tx, self._shared, owner, login, server, now)
        named = ("every terminal" if terminals is None
                 else ", ".join(f"{login}@{server}" for login, server in terminals))
        self._shared.activity.add(tx, owner, "trading_halted" if on else "trading_resumed",
                                  named + (f": {reason}" if on and reason else ""), now)

    @staticmethod
    def _lifted(tx: Tx, owner: str, terminals: list[tuple[int, str]] | None) -> str:
        """What a resume of ``terminals`` would lift, in words (empty: nothing is halted)."""
        if terminals is None:
            halted = halt_rows.halts_of(tx, owner)
            if any((h.login, h.server) == ALL for h in halted):
                return "every terminal"
            return ", ".join(f"{h.login}@{h.server}" for h in halted)
        return ", ".join(f"{login}@{server}" for login, server in terminals
                         if halt_rows.halt_of(tx, owner, login, server) is not None)

    def _terminals(self, tx: Tx, owner: str) -> list[tuple[int, str]]:
        """Every terminal of the owner: registered accounts and live tokens' terminals."""
        found = {(a.login, a.server): None for a in self._store.accounts_of(tx, owner)}
        now = self._shared.now()
        for token in self._store.tokens_of(tx, owner):
            if token.revoked_at is None and (token.expires_at is None or token.expires_at > now):
                found.setdefault((token.login, token.server), None)
        return list(found)

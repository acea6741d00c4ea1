"""The owner's kill switch: terminals whose orders the daemons refuse until it is lifted.

``POST /api/test/disconnect`` (the MT4 Web API document's "disconnect from the trade
server") halts trading on named accounts or on all of an owner's terminals; ``/connect``
lifts it. A halt is a row per terminal, or one row with login 0 and server ``""`` for every
terminal of the owner (today's and those a token is issued for later). It reaches daemons as
the risk policy does: ``risk.trading_halted`` in every record of the terminal, refreshed at once
through the revocation feed; the daemon's trade gate then refuses every ``order_send``
(``-32012``, ``data.rule = "trading_halted"``) while the EA stays connected and streaming.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..database import Tx

__all__ = ["ALL", "HALTED_OF_TOKEN", "Halt", "halt", "halt_of", "halts_of", "resume"]

#: The (login, server) of a halt of every terminal of the owner.
ALL: Final = (0, "")
#: Whether a halt is in force on the terminal of the token ``t`` for its owner (as
#: :func:`halt_of` finds one), as a column of a read of the tokens table named ``t``
#: (``basis.py``: a record's whole basis in one statement).
HALTED_OF_TOKEN: Final = (
    "EXISTS (SELECT 1 FROM trading_halts h WHERE h.owner_email = t.owner_email AND "
    "((h.login = t.login AND h.server = t.server) OR (h.login = 0 AND h.server = '')))")


@dataclass(frozen=True, slots=True)
class Halt:
    """One halt: its terminal (:data:`ALL` for every one), why and since when."""

    login: int
    server: str
    reason: str
    halted_at: int


def halt(tx: Tx, owner_email: str, terminals: list[tuple[int, str]] | None, reason: str,
         now: int) -> None:
    """Halt the named terminals, or every terminal of the owner (``None``); a terminal
    already halted keeps its first time."""
    for login, server in ([ALL] if terminals is None else terminals):
        tx.execute("INSERT INTO trading_halts VALUES (?, ?, ?, ?, ?) ON CONFLICT "
                   "(owner_email, login, server) DO NOTHING",
                   (owner_email, login, server, reason[:200], now))


def resume(tx: Tx, owner_email: str, terminals: list[tuple[int, str]] | None,
           others: list[tuple[int, str]]) -> None:
    """Lift the halt of the named terminals, or every halt of the owner (``None``). Lifting
    named terminals while every terminal is halted keeps the rest halted: the owner-wide row
    becomes one row per terminal of ``others`` (the owner's known terminals)."""
    if terminals is None:
        tx.execute("DELETE FROM trading_halts WHERE owner_email = ?", (owner_email,))
        return
    everything = halt_of(tx, owner_email, *ALL)
    if everything is not None:
        tx.execute("DELETE FROM trading_halts WHERE owner_email = ? AND login = ? AND "
                   "server = ?", (owner_email, *ALL))
        halt(tx, owner_email, [t for t in others if t not in terminals], everything.reason,
             everything.halted_at)
    for login, server in terminals:
        tx.execute("DELETE FROM trading_halts WHERE owner_email = ? AND login = ? AND "
                   "server = ?", (owner_email, login, server))


def halt_of(tx: Tx, owner_email: str, login: int, server: str) -> Halt | None:
    """The halt in force on one terminal of the owner (its own, or the owner-wide one)."""
    r = tx.query_one("SELECT login, server, reason, halted_at FROM trading_halts WHERE "
                     "owner_email = ? AND ((login = ? AND server = ?) OR (login = 0 AND "
                     "server = '')) ORDER BY login DESC LIMIT 1",
                     (owner_email, login, server))
    return None if r is None else Halt(int(r[0]), str(r[1]), str(r[2]), int(r[3]))


def halts_of(tx: Tx, owner_email: str) -> list[Halt]:
    """Every halt of the owner."""
    rows = tx.query("SELECT login, server, reason, halted_at FROM trading_halts WHERE "
                    "owner_email = ? ORDER BY login, server", (owner_email,))
    return [Halt(int(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]

"""Which terminals proved they hold an account: the console's "verified" mark.

A "verified" that followed the current report would flip back to "not yet verified" when the
token is revoked, which is false: the terminal did prove it. So verified means: a daemon once
reported a terminal with this login and server logged in under one of the owner's tokens
(``active`` or ``disconnected``; a ``refused`` report only repeats what an unauthenticated EA
claimed). That is a fact about the past and stays true; whether a token works today is shown
beside it, from the tokens. Rows live in ``verified_terminals`` (schema 8); the first proof's
time is kept.
"""

from __future__ import annotations

from typing import Final

from ..database import Tx

__all__ = ["PROVEN_STATES", "note_proof", "verified_of"]

#: Reported states that prove a terminal logged in under one of the owner's tokens.
PROVEN_STATES: Final = frozenset({"active", "disconnected"})


def note_proof(tx: Tx, owner_email: str, login: int, server: str, now: int) -> None:
    """Record that the owner's terminal proved itself now (the first time is kept)."""
    tx.execute("INSERT INTO verified_terminals VALUES (?, ?, ?, ?) "
               "ON CONFLICT (owner_email, login, server) DO NOTHING",
               (owner_email, login, server, now))


def verified_of(tx: Tx, owner_email: str) -> dict[tuple[int, str], int]:
    """The owner's verified terminals: (login, server) → when first proved."""
    rows = tx.query("SELECT login, server, verified_at FROM verified_terminals "
                    "WHERE owner_email = ?", (owner_email,))
    return {(int(r[0]), str(r[1])): int(r[2]) for r in rows}

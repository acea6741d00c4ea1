"""The owners' table: each owner's e-mail, the hash of the password, the sign-in generation.

The rules (a password's length, its hashing, who may change it) are the service's
(``service/owners``, ``service/recovery``, ``service/resets``); the statements on the table stand
here. Every function takes the transaction it runs in (``tx``, first).
"""

from __future__ import annotations

from ..database import Tx

__all__ = [
    "add_owner",
    "owner_password_hash",
    "owners",
    "set_owner_password",
]


def add_owner(tx: Tx, email: str, password_hash: str, now: int) -> bool:
    """Create an owner; ``False`` if the e-mail is taken."""
    cur = tx.execute("INSERT INTO owners (email, password_hash, created_at) VALUES "
                     "(?, ?, ?) ON CONFLICT DO NOTHING",
                     (email, password_hash, now))
    return cur.rowcount == 1


def owner_password_hash(tx: Tx, email: str) -> str | None:
    """The stored hash, or ``None`` for an unknown e-mail."""
    row = tx.query_one("SELECT password_hash FROM owners WHERE email = ?",
                       (email,))
    return None if row is None else str(row[0])


def set_owner_password(tx: Tx, email: str, password_hash: str) -> bool:
    """Replace an owner's password hash; ``False`` for an unknown e-mail. The owner's
    sign-in generation is raised with it, so no console-API token issued under the old
    password is accepted afterwards, whichever way the password was set
    (``signins.end_credentials`` ends the rest)."""
    cur = tx.execute("UPDATE owners SET password_hash = ?, "
                     "signin_generation = signin_generation + 1 WHERE email = ?",
                     (password_hash, email))
    return cur.rowcount == 1


def owners(tx: Tx) -> list[str]:
    """Every owner's e-mail."""
    rows = tx.query("SELECT email FROM owners ORDER BY email")
    return [str(r[0]) for r in rows]

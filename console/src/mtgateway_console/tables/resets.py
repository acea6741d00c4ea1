"""The tables of password resets: the links mailed (``password_resets``, only each link's
SHA-256) and the asks counted per address typed (``reset_requests``).

Only SQL, each statement a function of the transaction it runs in: the rules (how often, to
whom, what a reset ends) are the service's (``service/resets.py``), which call these. A link
is spent by one conditional ``UPDATE``, so two instances presenting it at once cannot both
win.
"""

from __future__ import annotations

from ..database import Tx

__all__ = ["add_link", "asks_since", "link_owner", "links_since", "note_ask", "spend_link",
           "sweep_asks", "sweep_links", "void_links"]


def sweep_asks(tx: Tx, before: int) -> None:
    """Forget the asks made at or before ``before``."""
    tx.execute("DELETE FROM reset_requests WHERE requested_at <= ?", (before,))


def asks_since(tx: Tx, address: str, since: int) -> int:
    """How often ``address`` was asked for after ``since``."""
    return int(tx.query_one("SELECT count(*) FROM reset_requests WHERE address = ? AND "
                            "requested_at > ?", (address, since))[0])


def note_ask(tx: Tx, address: str, now: int) -> None:
    """Count an ask for ``address``."""
    tx.execute("INSERT INTO reset_requests VALUES (?, ?)", (address, now))


def links_since(tx: Tx, email: str, since: int) -> int:
    """How many links were made for the owner after ``since``."""
    return int(tx.query_one("SELECT count(*) FROM password_resets WHERE owner_email = ? "
                            "AND created_at > ?", (email, since))[0])


def sweep_links(tx: Tx, before: int) -> None:
    """Forget the links made at or before ``before``."""
    tx.execute("DELETE FROM password_resets WHERE created_at <= ?", (before,))


def add_link(tx: Tx, digest: str, email: str, now: int, expires_at: int) -> None:
    """Keep a link for the owner (its token's SHA-256)."""
    tx.execute("INSERT INTO password_resets VALUES (?, ?, ?, ?, NULL)",
               (digest, email, now, expires_at))


def link_owner(tx: Tx, digest: str, now: int) -> str | None:
    """The owner of a link neither spent nor expired, or ``None`` (spends nothing)."""
    row = tx.query_one("SELECT owner_email FROM password_resets WHERE token_sha256 = ? "
                       "AND used_at IS NULL AND expires_at > ?", (digest, now))
    return None if row is None else str(row[0])


def spend_link(tx: Tx, digest: str, now: int) -> str | None:
    """Spend a link neither spent nor expired: its owner, or ``None`` (another instance
    spent it a moment ago, or it is none)."""
    row = tx.query_one("UPDATE password_resets SET used_at = ? WHERE token_sha256 = ? "
                       "AND used_at IS NULL AND expires_at > ? RETURNING owner_email",
                       (now, digest, now))
    return None if row is None else str(row[0])


def void_links(tx: Tx, email: str, now: int) -> None:
    """Spend every open link of the owner."""
    tx.execute("UPDATE password_resets SET used_at = ? WHERE owner_email = ? AND "
               "used_at IS NULL", (now, email))

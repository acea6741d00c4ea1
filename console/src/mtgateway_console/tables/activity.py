"""The owner's activity log: what happened to their tokens, devices and terminals, and who
signed in.

The console's activity page reads it; nothing decides anything from it, so it is a plain
append-only table beside the authority's others (in its database: on PostgreSQL every console
instance writes and shows the same log), pruned by count so a noisy refusal loop cannot grow it
without bound. Entries carry no secrets: token ids, device ids and names, reason words.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Final

from ..database import Tx
from .migrations import ensure_tables

__all__ = ["KINDS", "ActivityEntry", "ActivityLog"]

#: Every kind of entry, with the words the activity page shows for it.
KINDS: Final = {
    "login": "signed in",
    "login_failed": "sign-in refused",
    "logout": "signed out",
    "token_created": "token created",
    "token_revoked": "token revoked",
    "device_approved": "device approved",
    "device_revoked": "device revoked",
    "device_denied": "device denied",
    "device_forgotten": "device removed from the list",
    "device_allowed": "device allowed again",
    "token_labelled": "token label changed",
    "password_changed": "password changed",
    "account_registered": "account registered",
    "risk_updated": "risk policy changed",
    "refusal": "terminal refused",
    "mail_failed": "e-mail not sent",
    "second_factor_on": "two-step sign-in turned on",
    "second_factor_off": "two-step sign-in turned off",
    "recovery_codes_new": "new recovery codes made",
    "recovery_code_used": "recovery code used",
    "password_reset_sent": "password reset link sent",
    "password_reset": "password reset by e-mail link",
    "second_factor_undone": "two-step sign-in taken back by the e-mailed link",
    "second_factor_reset": "two-step sign-in turned off by the operator",
    "password_reset_by_operator": "signed out everywhere and password set aside by the "
                                  "operator",
    "sessions_ended": "signed-in sessions ended",
    "alert_failed": "alert not delivered",
    "alerts_changed": "alert settings changed",
    # The owner's API across accounts (``service/accounts.py``, ``groups.py``, ``halts.py``,
    # ``instructions.py``).
    "account_changed": "account changed",
    "account_password_changed": "account's MT5 password changed",
    "paper_money": "paper money moved",
    "message_sent": "message sent to a terminal's chart",
    "message_shown": "message shown on a terminal's chart",
    "trading_halted": "trading halted (kill switch)",
    "trading_resumed": "trading resumed",
    "group_changed": "accounts moved between groups",
}

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS activity (
    id INTEGER PRIMARY KEY AUTOINCREMENT, owner_email TEXT NOT NULL, at INTEGER NOT NULL,
    kind TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS activity_owner ON activity (owner_email, id);
"""
#: Entries kept per owner (the oldest go first); a page shows the newest 200.
_KEEP_PER_OWNER: Final = 5000
_MAX_DETAIL: Final = 300


@dataclass(frozen=True, slots=True)
class ActivityEntry:
    """One thing that happened, at ``at`` (epoch seconds)."""

    at: int
    kind: str
    detail: str

    @property
    def label(self) -> str:
        """What the page calls this kind."""
        return KINDS.get(self.kind, self.kind)


class ActivityLog:
    """Append and read an owner's activity in the authority's database (each method runs
    inside the transaction it is given)."""

    def __init__(self) -> None:
        #: Entries added by this process and committed, by kind (the console's metrics).
        self.counts: Counter[str] = Counter()

    @staticmethod
    def create_table(tx: Tx) -> None:
        """Create the table if it is missing (at start)."""
        ensure_tables(tx, _SCHEMA)

    def add(self, tx: Tx, owner_email: str, kind: str, detail: str, now: int) -> None:
        """Append an entry (``kind`` one of :data:`KINDS`) in ``tx``; the owner's oldest
        beyond the bound are dropped."""
        if kind not in KINDS:
            raise ValueError(f"unknown activity kind {kind!r}")
        tx.after_commit(lambda: self.counts.update((kind,)))
        row = tx.query_one("INSERT INTO activity (owner_email, at, kind, detail) "
                           "VALUES (?, ?, ?, ?) RETURNING id",
                           (owner_email, now, kind, detail[:_MAX_DETAIL]))
        if int(row[0]) % 100 == 0:
            tx.execute("DELETE FROM activity WHERE owner_email = ? AND id <= ("
                       "SELECT id FROM activity WHERE owner_email = ? ORDER BY id DESC "
                       "LIMIT 1 OFFSET ?)", (owner_email, owner_email, _KEEP_PER_OWNER))

    @staticmethod
    def of(tx: Tx, owner_email: str, limit: int = 200) -> list[ActivityEntry]:
        """The owner's newest entries, newest first."""
        rows = tx.query("SELECT at, kind, detail FROM activity WHERE owner_email = ? "
                        "ORDER BY id DESC LIMIT ?", (owner_email, limit))
        return [ActivityEntry(int(r[0]), str(r[1]), str(r[2])) for r in rows]

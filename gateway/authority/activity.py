"""The owner's activity log: what happened to their tokens, devices and terminals, and who
signed in.

The console's activity page reads it; nothing decides anything from it, so it is a plain
append-only table beside the authority's others (``authority.sqlite3``), pruned by age and
count so a noisy refusal loop cannot grow it without bound. Entries carry no secrets: token
ids, device ids and names, reason words. Each call opens its own connection, like
:class:`~gateway.authority.store.AuthorityStore`.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

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
    "password_changed": "password changed",
    "account_registered": "account registered",
    "risk_updated": "risk policy changed",
    "refusal": "terminal refused",
    "mail_failed": "e-mail not sent",
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
    """Append and read an owner's activity in the authority's database file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        #: Entries added by this process, by kind (the console's metrics read them).
        self.counts: Counter[str] = Counter()
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=5.0)) as db, db:
            yield db

    def add(self, owner_email: str, kind: str, detail: str, now: int) -> None:
        """Append an entry (``kind`` one of :data:`KINDS`); the owner's oldest beyond the
        bound are dropped."""
        if kind not in KINDS:
            raise ValueError(f"unknown activity kind {kind!r}")
        self.counts[kind] += 1
        with self._db() as db:
            cur = db.execute("INSERT INTO activity (owner_email, at, kind, detail) "
                             "VALUES (?, ?, ?, ?)", (owner_email, now, kind, detail[:_MAX_DETAIL]))
            if cur.lastrowid is not None and cur.lastrowid % 100 == 0:
                db.execute("DELETE FROM activity WHERE owner_email = ? AND id <= ("
                           "SELECT id FROM activity WHERE owner_email = ? ORDER BY id DESC "
                           "LIMIT 1 OFFSET ?)", (owner_email, owner_email, _KEEP_PER_OWNER))

    def of(self, owner_email: str, limit: int = 200) -> list[ActivityEntry]:
        """The owner's newest entries, newest first."""
        with self._db() as db:
            rows = db.execute("SELECT at, kind, detail FROM activity WHERE owner_email = ? "
                              "ORDER BY id DESC LIMIT ?", (owner_email, limit)).fetchall()
        return [ActivityEntry(int(r[0]), str(r[1]), str(r[2])) for r in rows]

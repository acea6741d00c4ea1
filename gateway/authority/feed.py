"""The revocation feed: how a revocation reaches a connected daemon within seconds.

Records are refreshed every few minutes, which is too slow for "I revoked it, is it dead?".
So every revocation (a token, or a device's approval) appends a row to ``revocations`` in the
authority's database, and a daemon keeps one long-poll open (``POST /v1/device/revocations``,
signed with its device key) that answers as soon as a row past its cursor concerns it; the
daemon then refreshes its records at once, and the refresh (signed, verified as always) is
what actually kills the token: the feed carries no authority of its own, only "look now".

Waiters in this process are woken by :meth:`RevocationFeed.notify` the moment a revocation is
written here; a revocation written by another process on the same database (``mtgateway token
revoke`` beside a local-mode daemon) is found by one poller, which reads the table's head every
``poll_s`` while anyone waits and wakes them all when it moved. So a console holding a
thousand daemons' long-polls makes two queries a second, not two thousand; each waiter reads
its own rows only when woken. The cursor is the table's row id, so it survives a console
restart.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Final

__all__ = ["RevocationFeed"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS revocations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, owner_email TEXT NOT NULL, token_id TEXT,
    device_id TEXT, at INTEGER NOT NULL);
"""
_KEEP_S: Final = 7 * 86400


class RevocationFeed:
    """Append revocations; wait for the next one that concerns a device."""

    def __init__(self, path: Path, *, poll_s: float = 0.5) -> None:
        self.path = path
        self._poll_s = poll_s
        self._changed = asyncio.Event()
        self._closed = False
        self._waiters = 0
        self._poller: asyncio.Task[None] | None = None
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=5.0)) as db, db:
            yield db

    def add(self, owner_email: str, now: int, *, token_id: str | None = None,
            device_id: str | None = None) -> None:
        """Record a revocation and wake this process's waiters."""
        with self._db() as db:
            db.execute("INSERT INTO revocations (owner_email, token_id, device_id, at) "
                       "VALUES (?, ?, ?, ?)", (owner_email, token_id, device_id, now))
            db.execute("DELETE FROM revocations WHERE at < ?", (now - _KEEP_S,))
        self.notify()

    def notify(self) -> None:
        """Wake every waiter to look again."""
        self._changed.set()
        self._changed = asyncio.Event()

    def close(self) -> None:
        """Answer every waiter now and stop the poller (the console is shutting down)."""
        self._closed = True
        self.stop_polling()
        self.notify()

    def stop_polling(self) -> None:
        """Cancel the poller (a later wait starts it again): nothing is left pending on a
        loop that is about to close."""
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None

    def head(self) -> int:
        """The newest row id (0 when empty): a new daemon's starting cursor."""
        with self._db() as db:
            row = db.execute("SELECT COALESCE(MAX(seq), 0) FROM revocations").fetchone()
        return int(row[0])

    def since(self, device_id: str, cursor: int) -> tuple[int, list[str]]:
        """Rows past ``cursor`` whose owner has this device on record (any approval status):
        the new cursor and the token ids named (``""`` for a device revocation)."""
        with self._db() as db:
            head = int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM revocations").fetchone()[0])
            rows = db.execute(
                "SELECT COALESCE(token_id, '') FROM revocations WHERE seq > ? AND seq <= ? AND "
                "(device_id = ? OR owner_email IN "
                "(SELECT owner_email FROM approvals WHERE device_id = ?)) ORDER BY seq",
                (cursor, head, device_id, device_id)).fetchall()
        return max(head, cursor), [str(r[0]) for r in rows]

    async def wait(self, device_id: str, cursor: int | None,
                   timeout_s: float) -> tuple[int, list[str]]:
        """The next revocations for ``device_id`` past ``cursor``, waiting up to
        ``timeout_s``; ``(head, [])`` at once for ``cursor=None`` or a cursor from a
        database that has since been reset (beyond the head)."""
        head = self.head()
        if cursor is None or cursor > head:
            return head, []
        clock = asyncio.get_running_loop().time  # a wait, not a time of record
        deadline = clock() + timeout_s
        self._waiters += 1
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll(head))
        try:
            while True:
                new_cursor, token_ids = self.since(device_id, cursor)
                left = deadline - clock()
                if token_ids or left <= 0 or self._closed:
                    return new_cursor, token_ids
                cursor = new_cursor
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), left)
        finally:
            self._waiters -= 1

    async def _poll(self, head: int) -> None:
        """While anyone waits: wake them when the head moved (a revocation written by
        another process); ends by itself when the last waiter is gone."""
        while self._waiters > 0 and not self._closed:
            await asyncio.sleep(self._poll_s)
            now = self.head()
            if now != head:
                head = now
                self.notify()

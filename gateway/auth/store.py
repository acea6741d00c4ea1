"""The local token store: issues tokens and keeps their records in a SQLite file.

It stores the SHA-256 of each token, never the token: the plaintext is returned once by
:meth:`LocalTokenStore.issue` and lives only where the user pastes it (the EA's inputs, the
bot's config). The daemon and ``mtgateway token ...`` commands may run in different processes
against the same file, so the in-memory view is re-read when it is older than ``refresh_s`` and
on a miss (at most every ``miss_refresh_s``, so a flood of bad tokens cannot hammer the file).
Reads are sub-millisecond on a local file, so they run inline on the event loop.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from .records import SCOPES, TokenRecord
from .tokens import generate_token, token_sha256

__all__ = ["IssuedToken", "LocalTokenStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    token_id     TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    login        INTEGER NOT NULL,
    server       TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    owner_email  TEXT NOT NULL,
    created_at   REAL NOT NULL,
    expires_at   REAL,
    revoked_at   REAL
)
"""
_COLUMNS = ("token_id, token_sha256, login, server, scopes, owner_email, created_at, "
            "expires_at, revoked_at")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly issued token: ``token`` is shown once and never stored."""

    token: str
    record: TokenRecord


class LocalTokenStore:
    """Token records in one SQLite file; a :class:`~gateway.auth.records.RecordSource`."""

    def __init__(self, path: Path, *, refresh_s: float = 1.0, miss_refresh_s: float = 0.25,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time,
                 new_token: Callable[[], str] = generate_token,
                 new_id: Callable[[], str] | None = None) -> None:
        self.path = path
        self._refresh_s = refresh_s
        self._miss_refresh_s = miss_refresh_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._new_token = new_token
        self._new_id = new_id or (lambda: "tok_" + generate_token()[5:21])
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with closing(self._connect()) as db, db:
            db.execute(_SCHEMA)
        self._by_hash: dict[str, TokenRecord] = {}
        self._loaded_at = float("-inf")
        self._reload()

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=5.0)

    def _reload(self) -> None:
        with closing(self._connect()) as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM tokens").fetchall()
        self._by_hash = {row[1]: _record(row) for row in rows}
        self._loaded_at = self._clock()

    # -- RecordSource ----------------------------------------------------------------------

    async def find_by_hash(self, token_sha256: str) -> TokenRecord | None:
        """The record for a token hash; re-reads the file when stale or on a miss."""
        now = self._clock()
        if now - self._loaded_at >= self._refresh_s:
            self._reload()
        record = self._by_hash.get(token_sha256)
        if record is None and now - self._loaded_at >= self._miss_refresh_s:
            self._reload()
            record = self._by_hash.get(token_sha256)
        return record

    async def records(self) -> Sequence[TokenRecord]:
        """Every record, re-read from the file (the EA handshake is rare)."""
        self._reload()
        return list(self._by_hash.values())

    # -- management (CLI and demo) ---------------------------------------------------------

    def issue(self, *, login: int, server: str, scopes: frozenset[str] = SCOPES,
              owner_email: str = "", expires_in_s: float | None = None) -> IssuedToken:
        """Create a token bound to ``login@server``; the plaintext is in the result only.

        Raises:
            ValueError: a bad login, server, scope set or lifetime.
        """
        if login <= 0:
            raise ValueError("login must be a positive integer")
        if not server or len(server) > 128:
            raise ValueError("server must be 1 to 128 characters")
        if not scopes or not scopes <= SCOPES:
            raise ValueError(f"scopes must be a non-empty subset of {sorted(SCOPES)}")
        if expires_in_s is not None and expires_in_s <= 0:
            raise ValueError("expires_in_s must be positive")
        token = self._new_token()
        now = self._wall_clock()
        record = TokenRecord(
            token_id=self._new_id(), token_sha256=token_sha256(token), login=login,
            server=server, scopes=frozenset(scopes), owner_email=owner_email, created_at=now,
            expires_at=None if expires_in_s is None else now + expires_in_s)
        with closing(self._connect()) as db, db:
            db.execute(f"INSERT INTO tokens ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                       (record.token_id, record.token_sha256, record.login, record.server,
                        ",".join(sorted(record.scopes)), record.owner_email, record.created_at,
                        record.expires_at, None))
        self._reload()
        return IssuedToken(token, record)

    def revoke(self, token_id: str) -> bool:
        """Mark a token revoked; False when there is no such token or it already was."""
        with closing(self._connect()) as db, db:
            cursor = db.execute(
                "UPDATE tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
                (self._wall_clock(), token_id))
            changed = cursor.rowcount > 0
        self._reload()
        return changed

    def list(self) -> list[TokenRecord]:
        """Every record, oldest first."""
        self._reload()
        return sorted(self._by_hash.values(), key=lambda r: (r.created_at, r.token_id))


def _record(row: tuple[object, ...]) -> TokenRecord:
    (token_id, sha, login, server, scopes, email, created, expires, revoked) = row
    return TokenRecord(
        token_id=str(token_id), token_sha256=str(sha), login=int(str(login)), server=str(server),
        scopes=frozenset(s for s in str(scopes).split(",") if s), owner_email=str(email),
        created_at=float(str(created)),
        expires_at=None if expires is None else float(str(expires)),
        revoked_at=None if revoked is None else float(str(revoked)))

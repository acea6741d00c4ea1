"""Helpers for the authority's database tests: the database a parametrized test runs on, a
migrated store that closes, and a raw query through the door
(``gateway/authority/database.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from gateway.authority.database import Database, Tx
from gateway.authority.store import AuthorityStore
from tests.pgkit import PostgresServer

__all__ = ["database_url_of", "fetch", "migrated_store"]


def database_url_of(request: pytest.FixtureRequest) -> str:
    """The database of a fixture parametrized ``"sqlite"`` / ``"postgres"``: ``""`` (the SQLite
    file in the data directory) or a fresh database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return ""
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()


@asynccontextmanager
async def migrated_store(data_dir: Path, database_url: str = "") -> AsyncIterator[AuthorityStore]:
    """An :class:`AuthorityStore` on ``data_dir`` (SQLite) or ``database_url``, migrated; its
    database closed at the end."""
    store = AuthorityStore(data_dir, database_url)
    try:
        await store.migrate()
        yield store
    finally:
        await store.database.close()


def _fetch(tx: Tx, sql: str, args: Sequence[Any]) -> list[Any]:
    return tx.execute(sql, args).fetchall()


async def fetch(database: Database, sql: str, args: Sequence[Any] = ()) -> list[Any]:
    """Every row of one statement, in a transaction of its own."""
    return await database.run(_fetch, sql, args)

"""Versioned schema migrations: an old database is upgraded at start or by
``mtgateway-console migrate`` without losing a row, on SQLite and on a real PostgreSQL.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from console.tests.dbkit import fetch, migrated_store
from mtgateway.credential import TokenKeys
from mtgateway_console.database import Database, DatabaseError, Tx
from mtgateway_console.tables import approvals as approval_rows
from mtgateway_console.tables import equity, snapshots
from mtgateway_console.tables import owners as owner_rows
from mtgateway_console.tables.migrations import MIGRATIONS, migrate, schema_version
from mtgateway_console.tables.store import DB_FILE, AuthorityStore
from tests.pgkit import PostgresServer

LATEST = len(MIGRATIONS)
#: The tokens the previous release stored (by their SHA-256 only).
TOKENS = [f"mtgw_{i}" + "M" * 31 + "ZZZZZZ" for i in range(3)]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """``""`` (the SQLite file in the data dir) or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        return ""
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()


def _version_1_rows(tx: Tx) -> None:
    """Rows in every table, written with plain SQL as the previous release wrote them."""
    tx.execute("INSERT INTO owners VALUES (?, ?, ?)", ("o@example.com", "scrypt$h", 1))
    for i in range(3):
        tx.execute("INSERT INTO tokens VALUES (?,?,?,?,?,?,?,?,?,?)",
                   (f"tok_{i}", hashlib.sha256(TOKENS[i].encode()).hexdigest(),
                    TokenKeys.of(TOKENS[i]).hint, "o@example.com", 5012345,
                    "MTG-Demo", json.dumps(["read"]), 100 + i, None,
                    200 if i == 2 else None))
    tx.execute("INSERT INTO devices VALUES (?, ?, ?, ?, ?, ?)",
               ("D" * 26, b"\x07" * 32, "laptop", "linux", 10, 20))
    tx.execute("INSERT INTO approvals VALUES (?,?,?,?,?,?,?,?,?)",
               ("o@example.com", "D" * 26, "apr_1", "approved", 10, None, None, 0, 20))
    tx.execute("INSERT INTO code_sends VALUES (?, ?, ?)", ("D" * 26, "o@example.com", 15))
    tx.execute("INSERT INTO code_failures VALUES (?, ?, ?)", ("o@example.com", "D" * 26, 16))
    tx.execute("INSERT INTO approval_locks VALUES (?, ?, ?)", ("o@example.com", 17, 99))


async def _assert_rows_kept(store: AuthorityStore) -> None:
    assert await schema_version(store.database) == LATEST
    assert await store.run(owner_rows.owner_password_hash, "o@example.com") == "scrypt$h"
    tokens = await store.run(store.tokens_of, "o@example.com")
    assert [t.token_id for t in tokens] == ["tok_0", "tok_1", "tok_2"]
    for row, token in zip(tokens, TOKENS, strict=True):  # the same tokens, nothing re-pasted
        keys = TokenKeys.of(token)
        assert row.token_hint == keys.hint
        assert row.stored_key == keys.verifier.stored_key.hex()
        assert store.server_key(row) == keys.verifier.server_key
    # the digests, which opened sessions, are gone
    columns = await fetch(store.database, "SELECT * FROM tokens")
    digests = {hashlib.sha256(t.encode()).hexdigest() for t in TOKENS}
    assert not digests & {str(value) for row in columns for value in row}
    assert await store.run(store.live_token_owners, 5012345, "MTG-Demo", 150) \
        == {"o@example.com"}
    device = await store.run(approval_rows.device, "D" * 26)
    assert device is not None and device.public_key == b"\x07" * 32
    approval = await store.run(approval_rows.approval, "o@example.com", "D" * 26)
    assert approval is not None and approval.status == "approved"
    assert await store.run(approval_rows.sends, device_id="D" * 26, since=0) == [15]
    assert await store.run(approval_rows.failures, "o@example.com", since=0) == [(16, "D" * 26)]
    assert await store.run(approval_rows.approvals_locked_until, "o@example.com") == 99


def _version_1_tables(tx: Tx) -> None:
    """Exactly what the previous release ran: migration 1, no version."""
    first = MIGRATIONS[0]
    assert isinstance(first, str)
    for statement in first.split(";"):
        if statement.strip():
            tx.execute(statement)


async def test_a_database_made_before_versioning_is_upgraded_in_place(tmp_path: Path) -> None:
    """The previous release's SQLite file (its tables, no schema_version) counts as version 1
    and is brought to the latest schema on open, every row kept."""
    os.chmod(tmp_path, 0o700)
    path = tmp_path / DB_FILE
    db = Database(path=path)
    await db.run(_version_1_tables)
    assert await schema_version(db) == 1
    await db.run(_version_1_rows)
    await db.close()
    os.chmod(path, 0o600)
    async with migrated_store(tmp_path) as store:
        await _assert_rows_kept(store)
    raw = path.read_bytes()  # secure_delete: the dropped table's pages were overwritten
    assert not any(hashlib.sha256(t.encode()).hexdigest().encode() in raw for t in TOKENS)


async def test_an_older_schema_is_upgraded_at_start_without_losing_a_row(
        tmp_path: Path, database_url: str) -> None:
    """A database left at version 1 is migrated when the store opens, on both backends."""
    old = AuthorityStore(tmp_path, database_url)
    assert await migrate(old.database, target=1) == (0, 1)
    await old.database.run(_version_1_rows)
    await old.database.close()
    async with migrated_store(tmp_path, database_url) as store:
        await _assert_rows_kept(store)
        assert await store.migrate() == (LATEST, LATEST)  # applied once, never again


async def test_a_database_from_a_newer_release_is_refused(tmp_path: Path,
                                                          database_url: str) -> None:
    """A schema this program does not know is not used (nor downgraded)."""
    async with migrated_store(tmp_path, database_url) as store:
        await fetch(store.database, "UPDATE schema_version SET version = ? RETURNING version",
                    (LATEST + 1,))
    store = AuthorityStore(tmp_path, database_url)
    with pytest.raises(DatabaseError, match="newer than this program"):
        await store.migrate()
    await store.database.close()


async def test_instances_starting_together_migrate_once(tmp_path: Path,
                                                        postgres: PostgresServer) -> None:
    """Several consoles starting on one new PostgreSQL database: the advisory lock lets one
    migrate and the others find the work done (no duplicate-table error)."""
    url = postgres.new_database()
    stores = [AuthorityStore(tmp_path / f"instance-{n}", url) for n in range(4)]
    results = await asyncio.gather(*(store.migrate() for store in stores))
    for store in stores:
        await store.database.close()
    assert sorted(results) == [(0, LATEST)] + [(LATEST, LATEST)] * 3


def test_console_migrate_upgrades_and_reports(tmp_path: Path,
                                              postgres: PostgresServer) -> None:
    """``mtgateway-console migrate`` takes the URL from the environment, upgrades, says
    which versions, and never prints the password."""
    url = postgres.new_database().replace("postgres@", "postgres:s3cret-pw@")
    data = tmp_path / "data"

    async def version_1() -> None:
        old = AuthorityStore(data, url)
        await migrate(old.database, target=1)
        await old.database.run(_version_1_rows)
        await old.database.close()

    async def kept() -> None:
        async with migrated_store(data, url) as store:
            await _assert_rows_kept(store)

    asyncio.run(version_1())
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{data.as_posix()}"\n', encoding="utf-8")
    env = {**os.environ, "MTGATEWAY_DATABASE_URL": url}
    first = subprocess.run([sys.executable, "-m", "mtgateway_console", "migrate", "-c",
                            str(config)], env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    assert f"schema version 1 -> {LATEST}" in first.stdout
    # the command's name before it was the console's own works for a release, with a warning
    again = subprocess.run([sys.executable, "-m", "gateway", "console", "migrate", "-c",
                            str(config)], env=env, capture_output=True, text=True, check=False)
    assert again.returncode == 0 and "nothing to migrate" in again.stdout
    assert again.stderr.startswith("warning: `mtgateway console` is now the console's own "
                                   "command, `mtgateway-console`"), again.stderr
    assert "s3cret-pw" not in first.stdout + first.stderr + again.stdout + again.stderr
    asyncio.run(kept())


@pytest.mark.not_on_windows("postgresql")
def test_an_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    """A wrong host or port is a clear error naming the server, not the secret."""
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{(tmp_path / "data").as_posix()}"\n', encoding="utf-8")
    env = {**os.environ,
           "MTGATEWAY_DATABASE_URL": "postgresql://u:hunter2-pw@127.0.0.1:1/db"}
    done = subprocess.run([sys.executable, "-m", "mtgateway_console", "migrate", "-c",
                           str(config)], env=env, capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "cannot connect to postgresql://u:***@127.0.0.1:1/db" in done.stderr
    assert "hunter2-pw" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def _unbooked_rows(tx: Tx) -> None:
    """A terminal's kept deal, equity point and snapshot as a release before books wrote
    them (no book column)."""
    key = ("o@example.com", "D" * 26, 5012345, "MTG-Demo")
    tx.execute("INSERT INTO terminal_deals (owner_email, login, server, ticket, time, as_of, "
               "deal, device_id) VALUES (?,?,?,?,?,?,?,?)",
               (key[0], key[2], key[3], 1001, 50, 60.0,
                '{"ticket":1001,"time":50,"position_id":0,"entry":0,"type":2,"profit":5.0}',
                ""))
    tx.execute("INSERT INTO equity_points VALUES (?,?,?,?,?,?,?)", (*key, 60, 10.0, 11.0))
    tx.execute("INSERT INTO terminal_snapshots VALUES (?,?,?,?,?,?,?)",
               (*key, 60.0, '{"balance":10.0,"equity":11.0}',
                '{"trades":[],"positions_total":0,"orders_total":0}'))


async def test_rows_kept_before_books_are_read_as_the_live_book(
        tmp_path: Path, database_url: str) -> None:
    """Deals, equity points and snapshots stored before the book was kept are the live
    account's after the migration (a daemon of that release traded live only, or mixed
    both unmarked: live is what they were reported as), and a paper deal with the same
    ticket is kept beside the live one."""
    old = AuthorityStore(tmp_path, database_url)
    assert await old.migrate(target=16) == (0, 16)
    await old.database.run(_unbooked_rows)
    await old.database.close()
    async with migrated_store(tmp_path, database_url) as store:
        deals = await store.run(snapshots.deals_of, "o@example.com", [(5012345, "MTG-Demo")],
                                books=("live", "paper"))
        assert [(d.book, d.deal["ticket"]) for d in deals] == [("live", 1001)]
        await store.run(snapshots.add_deals, "o@example.com", "", 5012345, "MTG-Demo",
                        [{"ticket": 1001, "time": 70, "position_id": 0, "entry": 0,
                          "type": 2, "profit": 7.0}], 80.0, 100, book="paper")
        deals = await store.run(snapshots.deals_of, "o@example.com", [(5012345, "MTG-Demo")],
                                books=("live", "paper"))
        assert [(d.book, d.deal["profit"]) for d in deals] == [("live", 5.0), ("paper", 7.0)]
        [points] = (await store.run(equity.series_of, "o@example.com", 100)).values()
        assert [(p.at, p.book) for p in points] == [(60, "live")]
        rows = await fetch(store.database, "SELECT book FROM terminal_snapshots")
        assert [r[0] for r in rows] == ["live"]

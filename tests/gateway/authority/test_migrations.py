"""Versioned schema migrations: an old database is upgraded at start or by
``mtgateway console migrate`` without losing a row, on SQLite and on a real PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gateway.authority.database import MIGRATIONS, Database, DatabaseError
from gateway.authority.store import DB_FILE, AuthorityStore
from mtgateway.credential import TokenKeys
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


def _fill_version_1(db: Database) -> None:
    """Rows in every table, written with plain SQL as the previous release wrote them."""
    with db.tx() as tx:
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
        tx.execute("INSERT INTO code_failures VALUES (?, ?, ?)",
                   ("o@example.com", "D" * 26, 16))
        tx.execute("INSERT INTO approval_locks VALUES (?, ?, ?)", ("o@example.com", 17, 99))


def _assert_rows_kept(store: AuthorityStore) -> None:
    assert store.database.schema_version() == LATEST
    assert store.owner_password_hash("o@example.com") == "scrypt$h"
    tokens = store.tokens_of("o@example.com")
    assert [t.token_id for t in tokens] == ["tok_0", "tok_1", "tok_2"]
    for row, token in zip(tokens, TOKENS, strict=True):  # the same tokens, nothing re-pasted
        keys = TokenKeys.of(token)
        assert row.token_hint == keys.hint
        assert row.stored_key == keys.verifier.stored_key.hex()
        assert store.server_key(row) == keys.verifier.server_key
    with store.database.tx() as tx:  # the digests, which opened sessions, are gone
        columns = tx.execute("SELECT * FROM tokens").fetchall()
    digests = {hashlib.sha256(t.encode()).hexdigest() for t in TOKENS}
    assert not digests & {str(value) for row in columns for value in row}
    assert store.live_token_owners(5012345, "MTG-Demo", 150) == {"o@example.com"}
    device = store.device("D" * 26)
    assert device is not None and device.public_key == b"\x07" * 32
    approval = store.approval("o@example.com", "D" * 26)
    assert approval is not None and approval.status == "approved"
    assert store.sends(device_id="D" * 26, since=0) == [15]
    assert store.failures("o@example.com", since=0) == [(16, "D" * 26)]
    assert store.approvals_locked_until("o@example.com") == 99


def test_a_database_made_before_versioning_is_upgraded_in_place(tmp_path: Path) -> None:
    """The previous release's SQLite file (its tables, no schema_version) counts as version 1
    and is brought to the latest schema on open, every row kept."""
    tmp_path.chmod(0o700)
    path = tmp_path / DB_FILE
    db = Database(path=path)
    with db.tx() as tx:  # exactly what the previous release ran: migration 1, no version
        for statement in MIGRATIONS[0].split(";"):
            if statement.strip():
                tx.execute(statement)
    assert db.schema_version() == 1
    _fill_version_1(db)
    path.chmod(0o600)
    _assert_rows_kept(AuthorityStore(tmp_path))
    raw = path.read_bytes()  # secure_delete: the dropped table's pages were overwritten
    assert not any(hashlib.sha256(t.encode()).hexdigest().encode() in raw for t in TOKENS)


def test_an_older_schema_is_upgraded_at_start_without_losing_a_row(
        tmp_path: Path, database_url: str) -> None:
    """A database left at version 1 is migrated when the store opens, on both backends."""
    old = AuthorityStore(tmp_path, database_url, migrate=False)
    assert old.database.migrate(target=1) == (0, 1)
    _fill_version_1(old.database)
    store = AuthorityStore(tmp_path, database_url)
    _assert_rows_kept(store)
    assert store.migrate() == (LATEST, LATEST)  # applied once, never again


def test_a_database_from_a_newer_release_is_refused(tmp_path: Path, database_url: str) -> None:
    """A schema this program does not know is not used (nor downgraded)."""
    store = AuthorityStore(tmp_path, database_url)
    with store.database.tx() as tx:
        tx.execute("UPDATE schema_version SET version = ?", (LATEST + 1,))
    with pytest.raises(DatabaseError, match="newer than this program"):
        AuthorityStore(tmp_path, database_url)


def test_instances_starting_together_migrate_once(tmp_path: Path,
                                                  postgres: PostgresServer) -> None:
    """Several consoles starting on one new PostgreSQL database: the advisory lock lets one
    migrate and the others find the work done (no duplicate-table error)."""
    url = postgres.new_database()
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run(n: int) -> None:
        store = AuthorityStore(tmp_path / f"instance-{n}", url, migrate=False)
        start.wait()
        try:
            results.append(store.migrate())
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [(0, LATEST)] + [(LATEST, LATEST)] * 3


def test_console_migrate_upgrades_and_reports(tmp_path: Path,
                                              postgres: PostgresServer) -> None:
    """``mtgateway console migrate`` takes the URL from the environment, upgrades, says
    which versions, and never prints the password."""
    url = postgres.new_database().replace("postgres@", "postgres:s3cret-pw@")
    data = tmp_path / "data"
    old = AuthorityStore(data, url, migrate=False)
    old.database.migrate(target=1)
    _fill_version_1(old.database)
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{data.as_posix()}"\n')
    env = {**os.environ, "MTGATEWAY_DATABASE_URL": url}
    first = subprocess.run([sys.executable, "-m", "gateway", "console", "migrate", "-c",
                            str(config)], env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    assert f"schema version 1 -> {LATEST}" in first.stdout
    again = subprocess.run([sys.executable, "-m", "gateway", "console", "migrate", "-c",
                            str(config)], env=env, capture_output=True, text=True, check=False)
    assert again.returncode == 0 and "nothing to migrate" in again.stdout
    assert "s3cret-pw" not in first.stdout + first.stderr + again.stdout + again.stderr
    _assert_rows_kept(AuthorityStore(data, url))


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path: Path) -> None:
    """A wrong host or port is a clear error naming the server, not the secret."""
    config = tmp_path / "config.toml"
    config.write_text(f'data_dir = "{(tmp_path / "data").as_posix()}"\n')
    env = {**os.environ,
           "MTGATEWAY_DATABASE_URL": "postgresql://u:hunter2-pw@127.0.0.1:1/db"}
    done = subprocess.run([sys.executable, "-m", "gateway", "console", "migrate", "-c",
                           str(config)], env=env, capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "cannot connect to postgresql://u:***@127.0.0.1:1/db" in done.stderr
    assert "hunter2-pw" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr

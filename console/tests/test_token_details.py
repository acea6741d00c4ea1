"""Tokens told apart (review round 4, m9) and verification kept (m8): the throttle of
last-use writes, and the schema migration that adds their tables to an old database, on
SQLite and on a real PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mtgateway_console.database import Tx
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from mtgateway_console.tables.migrations import MIGRATIONS, schema_version
from mtgateway_console.tables.store import AuthorityStore
from mtgateway_console.tables.token_details import (
    LABEL_MAX,
    USE_NOTE_INTERVAL_S,
    UseThrottle,
    clean_label,
    details_of,
    note_use,
)
from mtgateway_console.tables.verification import note_proof, verified_of

LATEST = len(MIGRATIONS)
#: The schema before token labels and verified terminals (migration 8) were added.
BEFORE_DETAILS = next(i for i, m in enumerate(MIGRATIONS, 1)
                      if isinstance(m, str) and "token_details" in m) - 1
OWNER, PASSWORD = "o@example.com", "correct horse battery"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """``""`` (the SQLite file in the data dir) or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        return ""
    return str(request.getfixturevalue("postgres").new_database())


def _written_if_due(throttle: UseThrottle, token_id: str, device_id: str, address: str,
                    now: int) -> bool:
    """Whether the use is due; if so, written (its transaction committed)."""
    due = throttle.due(token_id, device_id, address, now)
    if due:
        throttle.written(token_id, device_id, address, now)
    return due


def test_a_hot_token_is_written_once_a_minute_but_a_new_place_at_once() -> None:
    throttle = UseThrottle()
    assert _written_if_due(throttle, "tok_a", "DEV1", "10.0.0.1", 1000)
    assert not _written_if_due(throttle, "tok_a", "DEV1", "10.0.0.1", 1001)
    assert not _written_if_due(throttle, "tok_a", "DEV1", "10.0.0.1",
                               1000 + USE_NOTE_INTERVAL_S - 1)
    assert _written_if_due(throttle, "tok_b", "DEV1", "10.0.0.1", 1001)  # its own
    assert _written_if_due(throttle, "tok_a", "DEV2", "10.0.0.1", 1002)  # a device: news
    assert _written_if_due(throttle, "tok_a", "DEV2", "10.0.0.9", 1003)  # an address: news
    assert _written_if_due(throttle, "tok_a", "DEV2", "10.0.0.9", 1003 + USE_NOTE_INTERVAL_S)


async def test_a_use_whose_transaction_rolled_back_is_written_by_the_next(
        tmp_path: Path, database_url: str) -> None:
    """A transaction may roll back, or run again (a connection found broken is replaced):
    the throttle counts a use as written only once its transaction committed, so the next
    use is written (it was not: the rolled-back one had counted)."""
    store = AuthorityStore(tmp_path, database_url)
    await store.migrate()
    throttle = UseThrottle()

    def use_then_fail(tx: Tx) -> None:
        note_use(tx, throttle, ["tok_a"], "DEV1", "10.0.0.1", 1000)
        raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        await store.database.run(use_then_fail)
    await store.database.run(note_use, throttle, ["tok_a"], "DEV1", "10.0.0.1", 1001)
    found = await store.database.run(details_of, ["tok_a"])
    assert found["tok_a"].used_at == 1001 and found["tok_a"].used_device == "DEV1"
    await store.database.run(note_use, throttle, ["tok_a"], "DEV1", "10.0.0.1", 1002)
    assert (await store.database.run(details_of, ["tok_a"]))["tok_a"].used_at == 1001
    await store.database.close()


def test_a_label_is_cleaned_and_bounded() -> None:
    assert clean_label("  EA\ton the\x00  VPS \n") == "EA on the VPS"
    assert clean_label("x" * LABEL_MAX) == "x" * LABEL_MAX
    with pytest.raises(ValueError, match="at most"):
        clean_label("x" * (LABEL_MAX + 1))


def _schema_7_rows(tx: Tx) -> None:
    """An owner and a token, as schema 7 stored them."""
    tx.execute("INSERT INTO owners VALUES (?, ?, ?)", (OWNER, "scrypt$h", 1))
    tx.execute("INSERT INTO tokens (token_id, stored_key, server_key_enc, token_hint, "
               "owner_email, login, server, scopes, created_at, expires_at, revoked_at) "
               "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
               ("tok_old", "ab" * 32, b"sealed", "cd" * 16, OWNER, 5012345, "MTG-Demo",
                json.dumps(["read"]), 100, None, None))


async def test_an_old_database_gains_labels_last_uses_and_proofs(
        tmp_path: Path, database_url: str) -> None:
    """Schema 8 on a database left at 7: its token stays and lists with no label and no use
    until it is labelled; a terminal's proof is recorded once (the first time kept)."""
    old = AuthorityStore(tmp_path, database_url)
    assert await old.migrate(target=BEFORE_DETAILS) == (0, BEFORE_DETAILS)
    await old.database.run(_schema_7_rows)
    await old.database.close()
    authority = Authority(AuthorityStore(tmp_path, database_url), RecordingMailer())
    await authority.prepare()
    assert await schema_version(authority.store.database) == LATEST
    [listed] = await authority.tokens.of(OWNER)
    assert listed["token_id"] == "tok_old"
    assert (listed["label"], listed["used_at"], listed["used_address"]) == ("", None, "")
    assert await authority.tokens.relabel(OWNER, "tok_old", " EA on the VPS ")
    assert not await authority.tokens.relabel("other@example.com", "tok_old", "mine")
    [listed] = await authority.tokens.of(OWNER)
    assert listed["label"] == "EA on the VPS"
    await authority.run(note_proof, OWNER, 5012345, "MTG-Demo", 1000)
    await authority.run(note_proof, OWNER, 5012345, "MTG-Demo", 2000)
    assert await authority.run(verified_of, OWNER) == {(5012345, "MTG-Demo"): 1000}
    await authority.close()

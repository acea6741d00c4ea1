"""One ``operation_id``, one instruction, on PostgreSQL as on SQLite.

Concurrent deposits with the same ``operation_id`` reach the console's several database
connections at once. On PostgreSQL the test holds ``owner_instructions`` in EXCLUSIVE mode
(reads pass, writes wait) until every request has looked for the key, found none and waits to
insert, then lets go: without a unique index each would store its own instruction, and each
would be applied by the daemon (its paper book dedups by instruction id, not by operation id).
SQLite runs one transaction at a time; the same requests are asked of it at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from console.tests.dbkit import database_url_of, fetch
from mtgateway_console.database import Tx
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import AccountRegistration, Authority
from mtgateway_console.service.instructions import KeyReused
from mtgateway_console.tables import instructions
from mtgateway_console.tables.store import AccountRow, AuthorityStore
from tests.testkit import until

OWNER = "owner@example.com"
PASSWORD = "a long enough password"
#: Requests at once: as many as the console's PostgreSQL connections (``POOL_SIZE``).
AT_ONCE = 8
#: The schema version whose ``owner_instructions`` had no unique key (the previous release's).
_BEFORE_THE_INDEX = 14


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """``""`` (the SQLite file in the data dir) or a fresh PostgreSQL database's URL."""
    return database_url_of(request)


def _waiting_on_locks(admin: psycopg.Connection[tuple[object, ...]]) -> int:
    row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND wait_event_type = 'Lock'").fetchone()
    assert row is not None
    return int(row[0])


async def _paper_account(authority: Authority) -> AccountRow:
    await authority.owners.create(OWNER, PASSWORD)
    return await authority.accounts.register(OWNER, AccountRegistration(
        name="paper", broker="MetaQuotes", login=4242, server="MTG-Demo", password="",
        is_live=False, paper_trade_enabled=True))


Made = tuple[instructions.Instruction, bool]


async def _at_once(database_url: str, deposits: list[Coroutine[Any, Any, Made]]
                   ) -> list[Made | BaseException]:
    """Every deposit's answer (or refusal), all asked at once: on PostgreSQL each has looked
    for its key and waits to write before any may (the table held in EXCLUSIVE mode)."""
    if not database_url:
        return await asyncio.gather(*deposits, return_exceptions=True)
    with psycopg.connect(database_url, autocommit=True) as admin:
        holder = psycopg.connect(database_url)
        holder.execute("LOCK TABLE owner_instructions IN EXCLUSIVE MODE")
        asked = [asyncio.create_task(d) for d in deposits]
        await until(lambda: _waiting_on_locks(admin) >= len(asked), timeout_s=30)
        holder.rollback()  # lets go of the table
        holder.close()
        return await asyncio.gather(*asked, return_exceptions=True)


def _keyed(tx: Tx, key: str) -> list[str]:
    return [str(r[0]) for r in tx.query(
        "SELECT id FROM owner_instructions WHERE request_key = ?", (key,))]


async def test_one_operation_id_makes_one_instruction_however_many_ask_at_once(
        tmp_path: Path, database_url: str) -> None:
    """Eight deposits with one ``operation_id`` at the same moment store one instruction;
    every answer is that instruction, and only one of them made it."""
    authority = await Authority.open(tmp_path, RecordingMailer(), database_url=database_url)
    try:
        account = await _paper_account(authority)
        answers = await _at_once(database_url, [authority.instructions.move_money(
            OWNER, account, "deposit", Decimal(100), "", "pay-1") for _ in range(AT_ONCE)])
        stored = await authority.run(_keyed, "pay-1")
        assert len(stored) == 1, stored
        made = [a for a in answers if not isinstance(a, BaseException)]
        assert len(made) == AT_ONCE, answers
        assert {m.id for m, _ in made} == set(stored)
        assert [new for _, new in made].count(True) == 1
    finally:
        await authority.close()


async def test_the_same_operation_id_for_other_terms_loses_the_race_and_is_refused(
        tmp_path: Path, database_url: str) -> None:
    """Deposits of 100 and of 250 under one ``operation_id`` at once: one instruction is
    stored, the requests with its terms answer it, the others are refused (``KeyReused``:
    409 ``operation_id_reused`` on the API)."""
    authority = await Authority.open(tmp_path, RecordingMailer(), database_url=database_url)
    try:
        account = await _paper_account(authority)
        amounts = [Decimal(100), Decimal(250)] * (AT_ONCE // 2)
        answers = await _at_once(database_url, [authority.instructions.move_money(
            OWNER, account, "deposit", amount, "", "pay-2") for amount in amounts])
        [stored] = await authority.run(_keyed, "pay-2")
        won = next(a for a in answers if not isinstance(a, BaseException))[0]
        assert won.id == stored
        for amount, answer in zip(amounts, answers, strict=True):
            if Decimal(won.amount) == amount:
                assert not isinstance(answer, BaseException) and answer[0].id == stored
            else:
                assert isinstance(answer, KeyReused), answer
    finally:
        await authority.close()


def _instruction(tx: Tx, instruction_id: str, key: str, at: int) -> None:
    tx.execute("INSERT INTO owner_instructions (id, owner_email, login, server, kind, amount, "
               "text, request_key, created_at, state, done_at, done_device, deal, detail) "
               "VALUES (?, ?, 4242, 'MTG-Demo', 'deposit', '100', '', ?, ?, 'applied', ?, "
               "'', 7, '')", (instruction_id, OWNER, key, at, at))


async def test_duplicates_stored_before_keep_their_rows_and_the_first_keeps_the_key(
        tmp_path: Path, database_url: str) -> None:
    """A database that stored one ``operation_id`` twice (the race, before the unique index)
    migrates: both rows stay (each was applied), the first keeps the key, and the key then
    answers the first."""
    store = AuthorityStore(tmp_path, database_url)
    try:
        await store.migrate(target=_BEFORE_THE_INDEX)
        await store.run(_instruction, "ins_b", "pay-3", 100)
        await store.run(_instruction, "ins_a", "pay-3", 101)
        await store.run(_instruction, "ins_c", "other", 102)
        await store.migrate()
        rows = await fetch(store.database, "SELECT id, request_key FROM owner_instructions "
                                           "ORDER BY created_at")
        assert [tuple(r) for r in rows[::2]] == [("ins_b", "pay-3"), ("ins_c", "other")]
        assert rows[1][0] == "ins_a" and rows[1][1] != "pay-3"
        found = await store.run(instructions.by_request_key, OWNER, "pay-3")
        assert found is not None and found.id == "ins_b"
    finally:
        await store.database.close()

"""A terminal's claim cannot race between console instances (issue 22 item 2).

Two authorities stand for two instances (each its own data directory with copies of the key
files) on one real PostgreSQL database, and two owners ask, at the same moment, for a token for
the same terminal. The test holds the ``tokens`` table in EXCLUSIVE mode (reads pass, writes
wait) until both requests are waiting on a lock, then lets go: without the terminal's lock
both would have checked "nobody holds it" before either wrote, and both would own it.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import psycopg
import pytest

from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import AccountRegistration, Authority, TerminalClaimed
from mtgateway_console.tables.store import DATA_KEY_FILE, SIGNING_KEY_FILE
from tests.pgkit import PostgresServer
from tests.testkit import until

PASSWORD = "a long enough password"


def _waiting_on_locks(admin: psycopg.Connection[tuple[object, ...]]) -> int:
    row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND wait_event_type = 'Lock'").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("claim", ["token", "account"])
async def test_two_owners_claiming_one_terminal_at_once_through_two_instances(
        tmp_path: Path, postgres: PostgresServer, claim: str) -> None:
    url = postgres.new_database()
    first = await Authority.open(tmp_path / "a", RecordingMailer(), database_url=url)
    (tmp_path / "b").mkdir(mode=0o700)
    for name in (SIGNING_KEY_FILE, DATA_KEY_FILE):
        shutil.copy2(tmp_path / "a" / name, tmp_path / "b" / name)
    second = await Authority.open(tmp_path / "b", RecordingMailer(), database_url=url)
    await first.owners.create("alice@example.com", PASSWORD)
    await first.owners.create("bob@example.com", PASSWORD)
    table = "tokens" if claim == "token" else "accounts"

    async def ask(authority: Authority, owner: str) -> str:
        try:
            if claim == "token":
                await authority.tokens.issue(owner, 5012345, "MTG-Demo")
            else:
                await authority.accounts.register(owner, AccountRegistration(
                    name="main", broker="MetaQuotes", login=5012345, server="MTG-Demo",
                    password="", is_live=False))
        except TerminalClaimed:
            return "refused"
        return "claimed"

    # Both requests' transactions run on the database's worker threads (the door): this loop
    # stays free to watch them reach the lock.
    with psycopg.connect(url, autocommit=True) as admin:
        holder = psycopg.connect(url)
        holder.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        asks = [asyncio.create_task(ask(first, "alice@example.com")),
                asyncio.create_task(ask(second, "bob@example.com"))]
        await until(lambda: _waiting_on_locks(admin) >= 2, timeout_s=30)
        holder.rollback()  # lets go of the table
        holder.close()
        results = await asyncio.gather(*asks)
    outcomes = dict(zip(("alice@example.com", "bob@example.com"), results, strict=True))
    assert sorted(outcomes.values()) == ["claimed", "refused"], outcomes
    winner = next(o for o, what in outcomes.items() if what == "claimed")
    loser = next(o for o in outcomes if o != winner)
    if claim == "token":
        assert [t["login"] for t in await first.tokens.of(winner)] == [5012345]
        assert await second.tokens.of(loser) == []
    else:
        assert [a.login for a in await first.accounts.of(winner)] == [5012345]
        assert await second.accounts.of(loser) == []
    await first.close()
    await second.close()

"""A terminal's claim cannot race between console instances (issue 22 item 2).

Two authorities stand for two instances (each its own data directory with copies of the key
files) on one real PostgreSQL database, and two owners ask, at the same moment, for a token for
the same terminal. The test holds the ``tokens`` table in EXCLUSIVE mode (reads pass, writes
wait) until both requests are waiting on a lock, then lets go: without the terminal's lock
both would have checked "nobody holds it" before either wrote, and both would own it.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import psycopg
import pytest

from gateway.authority.mailer import RecordingMailer
from gateway.authority.service import AccountRegistration, Authority, TerminalClaimed
from gateway.authority.store import DATA_KEY_FILE, SIGNING_KEY_FILE
from tests.pgkit import PostgresServer

PASSWORD = "a long enough password"


def _waiting_on_locks(admin: psycopg.Connection[tuple[object, ...]]) -> int:
    row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND wait_event_type = 'Lock'").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("claim", ["token", "account"])
def test_two_owners_claiming_one_terminal_at_once_through_two_instances(
        tmp_path: Path, postgres: PostgresServer, claim: str) -> None:
    url = postgres.new_database()
    first = Authority.open(tmp_path / "a", RecordingMailer(), database_url=url)
    (tmp_path / "b").mkdir(mode=0o700)
    for name in (SIGNING_KEY_FILE, DATA_KEY_FILE):
        shutil.copy2(tmp_path / "a" / name, tmp_path / "b" / name)
    second = Authority.open(tmp_path / "b", RecordingMailer(), database_url=url)
    first.create_owner("alice@example.com", PASSWORD)
    first.create_owner("bob@example.com", PASSWORD)
    table = "tokens" if claim == "token" else "accounts"
    outcomes: dict[str, str] = {}

    def ask(authority: Authority, owner: str) -> None:
        try:
            if claim == "token":
                authority.issue_token(owner, 5012345, "MTG-Demo")
            else:
                authority.register_account(owner, AccountRegistration(
                    name="main", broker="MetaQuotes", login=5012345, server="MTG-Demo",
                    password="", is_live=False))
            outcomes[owner] = "claimed"
        except TerminalClaimed:
            outcomes[owner] = "refused"

    with psycopg.connect(url, autocommit=True) as admin:
        holder = psycopg.connect(url)
        holder.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        threads = [threading.Thread(target=ask, args=(first, "alice@example.com")),
                   threading.Thread(target=ask, args=(second, "bob@example.com"))]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while _waiting_on_locks(admin) < 2:
            assert time.monotonic() < deadline, "both requests never reached a lock"
            time.sleep(0.01)
        holder.rollback()  # lets go of the table
        holder.close()
        for thread in threads:
            thread.join(timeout=30)
    assert sorted(outcomes.values()) == ["claimed", "refused"], outcomes
    winner = next(o for o, what in outcomes.items() if what == "claimed")
    loser = next(o for o in outcomes if o != winner)
    if claim == "token":
        assert [t["login"] for t in first.list_tokens(winner)] == [5012345]
        assert second.list_tokens(loser) == []
    else:
        assert [a.login for a in first.accounts_of(winner)] == [5012345]
        assert second.accounts_of(loser) == []

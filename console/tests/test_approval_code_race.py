"""A code's tries cannot be double-spent between console instances (issue 22 item 2).

An approval code allows five tries. Two authorities stand for two instances on one real
PostgreSQL database, and the same device sends a wrong code to each at the same moment. The
test holds the ``approvals`` table in EXCLUSIVE mode (reads pass, writes wait) until both
guesses are waiting on a lock, then lets go: without the device's lock both read "five left"
before either wrote, both wrote "four left", and a code gave a guesser a sixth try.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mtgateway.credential import token_hint
from mtgateway_base.wire.proofs import device_info
from mtgateway_console.devices import MAX_TRIES
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from mtgateway_console.tables import approvals as approval_rows
from mtgateway_console.tables.store import DATA_KEY_FILE, SIGNING_KEY_FILE
from tests.pgkit import PostgresServer
from tests.testkit import until

OWNER, PASSWORD = "owner@example.com", "a long enough password"
WRONG = "0000 0000"


def _waiting_on_locks(admin: psycopg.Connection[tuple[object, ...]]) -> int:
    row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND wait_event_type = 'Lock'").fetchone()
    assert row is not None
    return int(row[0])


async def test_two_wrong_codes_at_once_through_two_instances_spend_two_tries(
        tmp_path: Path, postgres: PostgresServer) -> None:
    url = postgres.new_database()
    codes = iter(range(12_345_678, 12_345_700))
    first = await Authority.open(tmp_path / "a", RecordingMailer(), database_url=url,
                                 randbelow=lambda n: next(codes))
    (tmp_path / "b").mkdir(mode=0o700)
    for name in (SIGNING_KEY_FILE, DATA_KEY_FILE):
        shutil.copy2(tmp_path / "a" / name, tmp_path / "b" / name)
    second = await Authority.open(tmp_path / "b", RecordingMailer(), database_url=url)
    await first.owners.create(OWNER, PASSWORD)
    device = device_info(Ed25519PrivateKey.generate())
    token = (await first.tokens.issue(OWNER, 5012345, "MTG-Demo")).token
    answer = await first.lookup(device, token_hint=token_hint(token), device_name="guesser",
                                os="AnyOS")
    assert answer.status == "pending"

    # Both guesses' transactions run on the database's worker threads (the door): this loop
    # stays free to watch them reach the lock.
    with psycopg.connect(url, autocommit=True) as admin:
        holder = psycopg.connect(url)
        holder.execute("LOCK TABLE approvals IN EXCLUSIVE MODE")
        guesses = [asyncio.create_task(authority.verify_device(device, WRONG))
                   for authority in (first, second)]
        await until(lambda: _waiting_on_locks(admin) >= 2, timeout_s=30)
        holder.rollback()  # lets go of the table
        holder.close()
        left = [answer.tries_left for answer in await asyncio.gather(*guesses)]
    assert sorted(left, key=lambda n: n or 0) == [MAX_TRIES - 2, MAX_TRIES - 1]
    (approval,) = await first.store.run(approval_rows.approvals_of_device, device.device_id)
    assert approval.tries_left == MAX_TRIES - 2
    await first.close()
    await second.close()

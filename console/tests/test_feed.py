"""The revocation feed: in-process revocations wake waiters at once; on SQLite one written
through another connection to the same database (as ``mtgateway token revoke`` in another
process does) is found by the single poller and wakes every waiter; on PostgreSQL (a real
server, ``tests/pgkit.py``) one written by another instance arrives by LISTEN/NOTIFY, and a
LISTEN connection that was cut reconnects and makes every waiter look again."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mtgateway_base.wire.proofs import device_info
from mtgateway_console.database import Timing, Tx
from mtgateway_console.database.listener import APPLICATION_NAME
from mtgateway_console.devices import Approval
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from mtgateway_console.tables import approvals as approval_rows
from mtgateway_console.tables.feed import RevocationFeed
from mtgateway_console.tables.store import AuthorityStore
from tests.pgkit import PostgresServer

OWNER, PASSWORD = "owner@example.com", "correct horse battery"
WAIT_S = 10.0


async def test_a_revocation_written_elsewhere_wakes_every_waiter(tmp_path: Path) -> None:
    here = await Authority.open(tmp_path, RecordingMailer())
    await here.owners.create(OWNER, PASSWORD)
    issued = await here.tokens.issue(OWNER, 5012345, "MTG-Demo")
    devices = [device_info(Ed25519PrivateKey.generate()) for _ in range(20)]
    for device in devices:
        await here.approvals.approve_local(device)
    stranger = device_info(Ed25519PrivateKey.generate())  # never asked this owner for anything
    await here.store.run(approval_rows.upsert_device, stranger.device_id, stranger.public_key,
                         "x", "y", 0)
    head, ids = await here.wait_revocations(devices[0], None, 30)
    assert ids == []  # a new waiter's cursor, at once
    waits = [asyncio.create_task(here.wait_revocations(d, head, 30)) for d in devices]
    unrelated = asyncio.create_task(here.wait_revocations(stranger, head, 1.5))
    await asyncio.sleep(0)
    elsewhere = await Authority.open(tmp_path, RecordingMailer())  # its own connections and feed
    assert await elsewhere.tokens.revoke(OWNER, issued.token_id)
    try:
        async with asyncio.timeout(WAIT_S):  # the poller's 0.5 s, far below the 30 s wait
            answers = await asyncio.gather(*waits)
        assert {tuple(ids) for _, ids in answers} == {(issued.token_id,)}
        assert {cursor for cursor, _ in answers} == {head + 1}
        cursor, ids = await unrelated  # not this device's owner: nothing, at its own timeout
        assert (cursor, ids) == (head + 1, [])
    finally:
        await here.close()
        await elsewhere.close()


def _listening(url: str) -> bool:
    """Whether a feed's LISTEN connection is open on ``url``'s database."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                           "current_database() AND application_name = %s",
                           (APPLICATION_NAME,)).fetchone()
    return row is not None and int(row[0]) == 1


def _wait_listening(url: str) -> bool:
    """Whether the LISTEN connection a first waiter starts is open within ``WAIT_S``."""
    deadline = time.monotonic() + WAIT_S
    while not (seen := _listening(url)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return seen


async def _until_listening(url: str) -> None:
    assert await asyncio.to_thread(_wait_listening, url)


async def test_a_revocation_on_another_instance_wakes_waiters_through_notify(
        tmp_path: Path, postgres: PostgresServer) -> None:
    """Two authorities on one PostgreSQL (two console instances): a daemon's long-poll held
    by one is answered when the other revokes, by the NOTIFY of the revocation's transaction
    (there is no poller on PostgreSQL)."""
    url = postgres.new_database()
    here = await Authority.open(tmp_path / "a", RecordingMailer(), database_url=url)
    elsewhere = await Authority.open(tmp_path / "b", RecordingMailer(), database_url=url)
    try:
        await here.owners.create(OWNER, PASSWORD)
        issued = await here.tokens.issue(OWNER, 5012345, "MTG-Demo")
        device = device_info(Ed25519PrivateKey.generate())
        await here.approvals.approve_local(device)
        head, _ = await here.wait_revocations(device, None, 30)
        waiting = asyncio.create_task(here.wait_revocations(device, head, 30))
        await _until_listening(url)
        assert await elsewhere.tokens.revoke(OWNER, issued.token_id)
        async with asyncio.timeout(WAIT_S):  # far below the 30 s the poll is held
            assert await waiting == (head + 1, [issued.token_id])
    finally:
        await here.close()
        await elsewhere.close()
    assert not await asyncio.to_thread(_listening, url)  # closed with the authority


async def test_a_reconnected_listener_wakes_every_waiter_to_look_again(
        tmp_path: Path, postgres: PostgresServer) -> None:
    """A notification sent while the LISTEN connection is down is lost; so the listener,
    once it has reconnected, wakes every waiter, and a revocation written meanwhile (here a
    row no NOTIFY announced) is found."""
    url = postgres.new_database()
    authority = await Authority.open(tmp_path, RecordingMailer(), database_url=url)
    feed = RevocationFeed(authority.store.database, listen_retry_s=0.05)
    try:
        await authority.owners.create(OWNER, PASSWORD)
        device = device_info(Ed25519PrivateKey.generate())
        await authority.approvals.approve_local(device)
        head = await feed.head()
        waiting = asyncio.create_task(feed.wait(device.device_id, head, 30))
        await _until_listening(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO revocations (owner_email, token_id, device_id, at) "
                          "VALUES (%s, 'tok_missed', NULL, 0)", (OWNER,))
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                         "datname = current_database() AND application_name = %s",
                         (APPLICATION_NAME,))
        async with asyncio.timeout(WAIT_S):
            assert await waiting == (head + 1, ["tok_missed"])
        await _until_listening(url)  # and it listens again
    finally:
        await feed.stopped()
        await authority.close()


async def test_a_poll_that_finds_nothing_costs_one_transaction(tmp_path: Path) -> None:
    """Every connected daemon renews its long-poll about every 25 s, so a renewal that finds
    nothing is most of the feed's load: one transaction (the head and the device's rows read
    together), none while it waits, none when its time is up. It was three (the head, the
    rows, the rows again at the timeout): issue 44's open-loop bench at 10,000 daemons."""
    authority = await Authority.open(tmp_path, RecordingMailer())
    try:
        await authority.owners.create(OWNER, PASSWORD)
        device = device_info(Ed25519PrivateKey.generate())
        await authority.approvals.approve_local(device)
        head, _ = await authority.wait_revocations(device, None, 0)
        ran: list[float] = []
        authority.store.database.timed = lambda timing: ran.append(timing.ran_s)
        assert await authority.wait_revocations(device, head, 0) == (head, [])
        assert len(ran) == 1
        assert await authority.wait_revocations(device, head, 0.1) == (head, [])
        assert len(ran) == 2
    finally:
        await authority.close()


async def test_a_revocation_wakes_only_the_waiters_it_concerns(tmp_path: Path) -> None:
    """One read decides whom a revocation wakes: the devices on record with its owner read
    their rows, the others go on waiting (every waiter used to read: at 10,000 daemons a
    revocation cost 10,000 transactions, issue 44). Another owner's six waiters (asked first,
    so their reads would come first) add no transaction: the revocation, the one read, and
    the six concerned waiters' reads, and at most the SQLite poller's look at the head."""
    authority = await Authority.open(tmp_path, RecordingMailer())
    try:
        for owner in (OWNER, "other@example.com"):
            await authority.owners.create(owner, PASSWORD)
        issued = await authority.tokens.issue(OWNER, 5012345, "MTG-Demo")
        concerned, others = [], []
        for group, owner in ((concerned, OWNER), (others, "other@example.com")):
            for _ in range(6):
                device = device_info(Ed25519PrivateKey.generate())
                await authority.store.run(approval_rows.upsert_device, device.device_id,
                                          device.public_key, "x", "y", 0)
                await authority.store.run(_approve, authority.store, owner, device.device_id)
                group.append(device)
        head, _ = await authority.wait_revocations(concerned[0], None, 0)
        looked = asyncio.Event()
        loop = asyncio.get_running_loop()
        ran: list[float] = []

        def timed(timing: Timing) -> None:  # on the door's worker
            ran.append(timing.ran_s)
            if len(ran) == 12:
                loop.call_soon_threadsafe(looked.set)

        authority.store.database.timed = timed
        waits = [asyncio.create_task(authority.wait_revocations(d, head, WAIT_S))
                 for d in others + concerned]
        async with asyncio.timeout(WAIT_S):
            await looked.wait()  # every waiter's first read done
        for _ in range(20):
            await asyncio.sleep(0)  # and each waiting on its wake-up
        ran.clear()
        assert await authority.tokens.revoke(OWNER, issued.token_id)
        async with asyncio.timeout(WAIT_S):
            answers = await asyncio.gather(*waits[6:])
        assert {tuple(ids) for _, ids in answers} == {(issued.token_id,)}
        assert len(ran) <= 1 + 1 + 6 + 1, len(ran)
        assert not any(w.done() for w in waits[:6])  # still waiting: nothing for them
        for wait in waits[:6]:
            wait.cancel()
        await asyncio.gather(*waits[:6], return_exceptions=True)
    finally:
        await authority.close()


def _approve(tx: Tx, store: AuthorityStore, owner: str, device_id: str) -> None:
    approval_rows.save_approval(tx, Approval(approval_id=f"apr_{device_id[:12]}", owner_email=owner,
                                     device_id=device_id, status="approved", created_at=0,
                                     approved_at=0))


async def test_held_polls_run_out_together_on_the_grid(tmp_path: Path) -> None:
    """A poll of a second or more whose time runs out ends on the next multiple of the grid
    of the loop's clock, never before its time: two asked to wait different times that
    fall in one cell of the grid end in one pass of the loop (a fleet's polls share the
    console's wake-ups), and a short wait ends when asked, off the grid."""
    authority = await Authority.open(tmp_path, RecordingMailer())
    grid = 1.0
    feed = RevocationFeed(authority.store.database, end_grid_s=grid)
    loop = asyncio.get_running_loop()
    try:
        await authority.owners.create(OWNER, PASSWORD)
        first, second, short = (device_info(Ed25519PrivateKey.generate()) for _ in range(3))
        for device in (first, second, short):
            await authority.approvals.approve_local(device)
        head, _ = await feed.wait(first.device_id, None, 0)
        ended: dict[str, float] = {}

        async def poll(device_id: str, wait_s: float) -> tuple[int, list[str]]:
            answer = await feed.wait(device_id, head, wait_s)
            ended[device_id] = loop.time()
            return answer

        began = loop.time()
        cell_end = math.ceil((began + 1.0) / grid) * grid
        if cell_end - began < 1.5:
            cell_end += grid  # 1.5-2.5 s away: room for two waits of a second or more in it
        # two waits 0.4 s apart, both ending in the cell before ``cell_end``
        sooner, later = cell_end - began - 0.45, cell_end - began - 0.05
        answers = await asyncio.gather(poll(first.device_id, sooner),
                                       poll(second.device_id, later),
                                       poll(short.device_id, 0.3))
        assert list(answers) == [(head, [])] * 3
        assert ended[first.device_id] >= cell_end - 0.01  # (the loop's timer resolution)
        assert abs(ended[first.device_id] - ended[second.device_id]) < 0.01
        assert ended[short.device_id] < began + 0.9  # 0.3 s asked, the grid not applied
    finally:
        feed.close()
        await authority.close()

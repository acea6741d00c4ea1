"""The revocation feed: in-process revocations wake waiters at once; one written through
another connection to the same database (as ``mtgateway token revoke`` in another process
does) is found by the single poller and wakes every waiter."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.authority.mailer import RecordingMailer
from gateway.authority.proofs import device_info
from gateway.authority.service import Authority

OWNER, PASSWORD = "owner@example.com", "correct horse battery"
WAIT_S = 10.0


async def test_a_revocation_written_elsewhere_wakes_every_waiter(tmp_path: Path) -> None:
    here = Authority.open(tmp_path, RecordingMailer())
    here.create_owner(OWNER, PASSWORD)
    issued = here.issue_token(OWNER, 5012345, "MTG-Demo")
    devices = [device_info(Ed25519PrivateKey.generate()) for _ in range(20)]
    for device in devices:
        here.local_device_auto_approve(device.device_id, device.public_key)
    stranger = device_info(Ed25519PrivateKey.generate())  # never asked this owner for anything
    here.store.upsert_device(stranger.device_id, stranger.public_key, "x", "y", 0)
    head, ids = await here.wait_revocations(devices[0], None, 30)
    assert ids == []  # a new waiter's cursor, at once
    waits = [asyncio.create_task(here.wait_revocations(d, head, 30)) for d in devices]
    unrelated = asyncio.create_task(here.wait_revocations(stranger, head, 1.5))
    await asyncio.sleep(0)
    elsewhere = Authority.open(tmp_path, RecordingMailer())  # its own connections and feed
    assert elsewhere.revoke_token(OWNER, issued.token_id)
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

"""``[console] public_key_work``: a device call answers the same whether its public-key work
(the proof's signature, a record's signing and sealing) runs on the event loop or on the
database door's workers with the call's transaction.

The real console on loopback, in both settings; the daemon's own client parts
(``RemoteAuthority``, ``RecordCache``) make the calls and verify what comes back (the record's
signature, its nonce, its ``server_key`` box opened), so a record signed on a worker is held
to exactly what a daemon checks. A refused proof (a bad signature, a copy) is refused the
same way in both, and a bad signature leaves no replay row behind (on a worker, the
transaction it ran in is rolled back).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import pytest

from gateway.auth.cache import RecordCache
from gateway.auth.client import RemoteAuthority
from mtgateway.credential import token_hint
from mtgateway_base.wire.proofs import device_info
from mtgateway_console.appkeys import KEY_GATE
from mtgateway_console.console import AUTHORITY
from mtgateway_console.database import Tx
from tests.e2e.consolekit import Console, device_proof, issue_token, running_console

Setting = Literal["workers", "loop"]


@pytest.fixture(params=["workers", "loop"])
async def console(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Console]:
    setting: Setting = request.param
    async with running_console(tmp_path, public_key_work=setting) as running:
        yield running


def _replay_rows(tx: Tx) -> int:
    return int(tx.execute("SELECT count(*) FROM proof_replays").fetchone()[0])


async def test_a_daemon_gets_the_same_answers(console: Console) -> None:
    """Lookup (pending, then a verified record whose box opens), refresh, a report, the
    revocation feed naming a revoked token, the device's status; the device becomes known to
    the key gate once a proof of it passed with its row on record."""
    authority = console.app[AUTHORITY]
    token = (await issue_token(console))["token"]
    remote = RemoteAuthority(console.url, console.key, clock=lambda: console.clock.now)
    device = remote.device
    cache = RecordCache(remote, [console.pinned()], device, clock=lambda: console.clock.now)
    try:
        hint = token_hint(token)
        gate = console.app[KEY_GATE]
        assert not gate.known(device.device_id)
        answer = await remote.lookup(device, token_hint=hint, nonce="0" * 32,
                                     box_key=bytes(32))
        assert answer.status == "pending"  # the device row is written: an owner was asked
        await authority.approvals.approve_local(device)
        record = await cache.find(token_hint=hint)
        assert record.server_key is not None and record.login == 5012345
        assert gate.known(device.device_id)
        assert await cache.refresh_once()
        assert cache.is_fresh(record.token_id)
        cursor, ids = await remote.wait_revocations(device, None, 0)
        assert ids == []
        assert await authority.tokens.revoke("owner@example.com", record.token_id)
        assert await remote.wait_revocations(device, cursor, 5) == (cursor + 1,
                                                                    [record.token_id])
        status = await remote.device_status(device)
        assert [s for _, s in status.approvals] == ["approved"]
    finally:
        await remote.close()


async def test_a_refused_proof_is_refused_alike_and_writes_nothing(console: Console) -> None:
    """A proof signed by another key than the one it names: 401 bad_device_signature and no
    replay row; a copy of an accepted proof: 401 replayed_device_proof."""
    authority = console.app[AUTHORITY]
    await authority.approvals.approve_local(device_info(console.key))
    assert (await console.device("GET", "/v1/device/status"))[0] == 200
    rows = await authority.run(_replay_rows)
    status, body, _ = await console.device("GET", "/v1/device/status", skew_s=0.5)
    assert status == 200, body
    forged = dict(_signed(console, "GET", "/v1/device/status"))
    other = _signed(console, "GET", "/v1/device/status", ms=7)
    forged["X-Device-Signature"] = other["X-Device-Signature"]  # another message's
    async with console.session.get(console.url + "/v1/device/status",
                                   headers=forged) as response:
        assert response.status == 401
        assert (await response.json())["error"]["reason"] == "bad_device_signature"
    assert await authority.run(_replay_rows) == rows + 1  # the 200 above, not the forgery
    copy = _signed(console, "GET", "/v1/device/status", ms=9)
    for expected in (200, 401):
        async with console.session.get(console.url + "/v1/device/status",
                                       headers=copy) as response:
            assert response.status == expected
    async with console.session.get(console.url + "/v1/device/status",
                                   headers=copy) as response:
        assert (await response.json())["error"]["reason"] == "replayed_device_proof"


def _signed(console: Console, method: str, path: str, ms: int = 3) -> dict[str, str]:
    return device_proof(console.key, method, path, b"", console.clock.now, ms_offset=1000 + ms)

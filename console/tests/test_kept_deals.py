"""The deals the console keeps from daemons' reports (``mtgateway_console/tables/snapshots.py``)
speak for the owner only while the device that reported them is one the owner approves, on SQLite
and on a real PostgreSQL (``tests/pgkit.py``): a revoked device's deals are not read, and the
next report of an approved device that names the same ticket stands in their place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console.tests.dbkit import database_url_of
from mtgateway_base.wire.api import DeviceInfo
from mtgateway_base.wire.records import device_id_for
from mtgateway_console.database import Tx
from mtgateway_console.devices import Approval
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from mtgateway_console.tables import approvals as approval_rows
from mtgateway_console.tables import snapshots
from mtgateway_console.tables.store import AuthorityStore

OWNER = "owner@example.com"
LOGIN, SERVER = 5012345, "MTG-Demo"
NOW = 1_763_942_400


@pytest.fixture(params=["sqlite", "postgres"])
async def authority(request: pytest.FixtureRequest, tmp_path: Path) -> Authority:
    found = await Authority.open(tmp_path, RecordingMailer(),
                                 database_url=database_url_of(request), clock=lambda: float(NOW))
    await found.owners.create(OWNER, "a long enough password")
    return found


def _approve(tx: Tx, store: AuthorityStore, device: DeviceInfo, approval_id: str) -> None:
    approval_rows.upsert_device(tx, device.device_id, device.public_key, "desk", "linux", 100)
    approval_rows.save_approval(tx, Approval(approval_id, OWNER, device.device_id, "approved", 100,
                                     approved_at=100))


async def _device(authority: Authority, approval_id: str) -> str:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    device = DeviceInfo(device_id_for(raw), raw)
    await authority.run(_approve, authority.store, device, approval_id)
    return device.device_id


def _deal(ticket: int, profit: float) -> dict[str, Any]:
    return {"ticket": ticket, "time": NOW - 60, "position_id": ticket, "entry": 0,
            "profit": profit}


async def _kept(authority: Authority) -> dict[int, float]:
    rows = await authority.run(snapshots.deals_of, OWNER, [(LOGIN, SERVER)])
    return {kept.deal["ticket"]: kept.deal["profit"] for kept in rows}


async def test_a_revoked_devices_deals_are_not_read_and_an_approved_report_replaces_them(
        authority: Authority) -> None:
    first = await _device(authority, "apr_1")
    second = await _device(authority, "apr_2")
    await authority.run(snapshots.add_deals, OWNER, first, LOGIN, SERVER,
                        [_deal(11, 5.0), _deal(12, 7.0)], float(NOW), NOW)
    assert await _kept(authority) == {11: 5.0, 12: 7.0}

    # while the first device stands, its report of a ticket stands: another's is ignored
    await authority.run(snapshots.add_deals, OWNER, second, LOGIN, SERVER,
                        [_deal(11, 999.0)], float(NOW), NOW)
    assert await _kept(authority) == {11: 5.0, 12: 7.0}

    assert await authority.approvals.revoke(OWNER, first)
    assert await _kept(authority) == {}  # a revoked device speaks for no deal

    # the approved device names ticket 11 again: its report stands in the revoked one's place
    await authority.run(snapshots.add_deals, OWNER, second, LOGIN, SERVER,
                        [_deal(11, 5.5)], float(NOW), NOW)
    assert await _kept(authority) == {11: 5.5}


async def test_deals_kept_before_devices_were_noted_stay_readable(
        authority: Authority) -> None:
    """A row from before migration 14 carries no device: it is read as it was."""
    def keep_unattributed(tx: Tx) -> None:
        tx.execute("INSERT INTO terminal_deals (owner_email, login, server, ticket, time, "
                   "as_of, deal) VALUES (?,?,?,?,?,?,?)",
                   (OWNER, LOGIN, SERVER, 21, NOW - 60, float(NOW),
                    '{"ticket":21,"time":0,"position_id":21,"entry":0,"profit":3.0}'))

    await authority.run(keep_unattributed)
    assert await _kept(authority) == {21: 3.0}
    device = await _device(authority, "apr_3")
    await authority.run(snapshots.add_deals, OWNER, device, LOGIN, SERVER,
                        [_deal(21, 3.25)], float(NOW), NOW)
    assert await _kept(authority) == {21: 3.25}  # now attributed, to an approved device

"""What the console shows beside the records (terminal states, account figures, the activity
log) lives in the authority's database, so every console instance on one PostgreSQL shows the
same dashboard (issue 22: several instances behind a load balancer act as one authority).

Two authorities stand for two instances on two machines: each has its own data directory (a
copy of the key files every instance needs, as a deployment mounts them) and both use one real
PostgreSQL database. Before, these tables lived in each instance's side SQLite file: a report
that reached one instance was invisible to the other.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mtgateway.credential import token_hint
from mtgateway_base.wire.api import DeviceInfo
from mtgateway_base.wire.records import device_id_for
from mtgateway_base.wire.reports import AccountFigures, TerminalReport
from mtgateway_console.database import Tx
from mtgateway_console.devices import Approval
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from mtgateway_console.tables import approvals as approval_rows
from mtgateway_console.tables.store import DATA_KEY_FILE, SIGNING_KEY_FILE, AuthorityStore
from tests.pgkit import PostgresServer

OWNER = "owner@example.com"


@pytest.fixture
async def two_instances(tmp_path: Path, postgres: PostgresServer) -> tuple[Authority, Authority]:
    url = postgres.new_database()
    first = await Authority.open(tmp_path / "a", RecordingMailer(), database_url=url)
    (tmp_path / "b").mkdir(mode=0o700)
    for name in (SIGNING_KEY_FILE, DATA_KEY_FILE):
        shutil.copy2(tmp_path / "a" / name, tmp_path / "b" / name)
    second = await Authority.open(tmp_path / "b", RecordingMailer(), database_url=url)
    return first, second


def _approve(tx: Tx, store: AuthorityStore, device: DeviceInfo) -> None:
    approval_rows.upsert_device(tx, device.device_id, device.public_key, "laptop", "linux", 100)
    approval_rows.save_approval(tx, Approval("apr_1", OWNER, device.device_id, "approved", 100,
                                     approved_at=100))


async def _approved_device(authority: Authority) -> DeviceInfo:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    device = DeviceInfo(device_id_for(raw), raw)
    await authority.run(_approve, authority.store, device)
    return device


async def test_a_report_to_one_instance_is_on_the_others_dashboard(
        two_instances: tuple[Authority, Authority]) -> None:
    first, second = two_instances
    await first.owners.create(OWNER, "a long enough password")
    token = await first.tokens.issue(OWNER, 5012345, "MTG-Demo")
    device = await _approved_device(first)
    figures = AccountFigures(10_000.0, 10_012.5, "USD", 2)
    stored = await first.report_terminals(device, [TerminalReport(
        5012345, "MTG-Demo", "active", token_id=token.token_id, platform="MT5",
        ea_version="1.2.0", figures=figures)])
    assert stored == 1

    [row] = await second.terminals.of(OWNER)
    assert (row.device_id, row.login, row.server, row.state, row.token_id) == (
        device.device_id, 5012345, "MTG-Demo", "active", token.token_id)
    assert await second.terminals.figures_of(OWNER) \
        == {(device.device_id, 5012345, "MTG-Demo"): figures}

    # The terminal goes down, reported to the other instance: the figures go with it, and the
    # first instance shows the change (and a refusal is in both activity logs).
    await second.report_terminals(device, [TerminalReport(
        5012345, "MTG-Demo", "refused", reason="token_expired", token_id=token.token_id)])
    [row] = await first.terminals.of(OWNER)
    assert (row.state, row.reason) == ("refused", "token_expired")
    assert await first.terminals.figures_of(OWNER) == {}
    kinds = [entry.kind for entry in await first.owners.activity(OWNER)]
    assert kinds[0] == "refusal" and "token_created" in kinds
    assert [e.kind for e in await second.owners.activity(OWNER)] == kinds
    await first.close()
    await second.close()


def _fresh_device() -> DeviceInfo:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return DeviceInfo(device_id_for(raw), raw)


async def test_the_per_token_code_limit_counts_across_instances_and_restarts(
        two_instances: tuple[Authority, Authority], tmp_path: Path,
        postgres: PostgresServer) -> None:
    """Seven fresh devices present one token, alternately through two instances: codes go
    out for five (CODES_PER_DAY_PER_TOKEN) in all, and a restarted instance still refuses the
    next (before, each instance counted its own five in memory: ten codes, and a restart
    reset the count)."""
    first, second = two_instances
    await first.owners.create(OWNER, "a long enough password")
    hint = token_hint((await first.tokens.issue(OWNER, 5012345, "MTG-Demo")).token)
    for i in range(6):
        instance = first if i % 2 == 0 else second
        answer = await instance.lookup(_fresh_device(), token_hint=hint)
        assert answer.status == "pending"
    await first.close()
    await second.close()
    mailers = [first.mailer, second.mailer]
    assert sum(len(m.messages) for m in mailers if isinstance(m, RecordingMailer)) == 5
    restarted = await Authority.open(tmp_path / "a", RecordingMailer(),
                                     database_url=first.store.database.url)
    assert (await restarted.lookup(_fresh_device(), token_hint=hint)).status \
        == "pending"
    await restarted.close()
    assert isinstance(restarted.mailer, RecordingMailer) and restarted.mailer.messages == []

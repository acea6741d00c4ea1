"""A record's basis in one read (``basis.py``) answers what the five reads it replaced answer.

The token, its terminal's account, the device's approval and stored name, the kill switch and
the pending instructions, on SQLite and a real PostgreSQL: each compared with the reader of
its own module (``store.py``, ``halts.py``, ``instructions.py``), in states where a join could
go wrong: another owner's halt and instructions on the same terminal, an owner-wide halt, a
settled instruction, another terminal's, a device never seen, an unknown token.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console.tests.dbkit import database_url_of
from mtgateway.credential import token_hint
from mtgateway_base.wire.proofs import device_info
from mtgateway_console.database import Tx
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from mtgateway_console.tables import approvals as approval_rows
from mtgateway_console.tables import basis, halts, instructions
from mtgateway_console.tables.basis import Basis
from mtgateway_console.tables.instructions import Instruction
from mtgateway_console.tables.store import AccountRow
from tests.testkit import FakeClock

OWNER, OTHER = "owner@example.com", "other@example.com"
LOGIN, SERVER = 5012345, "MTG-Demo"
T0 = 1_763_942_400


@pytest.fixture(params=["sqlite", "postgres"])
async def authority(request: pytest.FixtureRequest, tmp_path: Path) -> Authority:
    found = await Authority.open(tmp_path, RecordingMailer(),
                                 database_url=database_url_of(request),
                                 clock=FakeClock(float(T0)))
    for owner in (OWNER, OTHER):
        await found.owners.create(owner, "a long enough password")
    return found


def _instruction(n: int, owner: str, login: int) -> Instruction:
    return Instruction(f"ins_{n}", owner, login, SERVER, "message", "", f"note {n}",
                       f"key-{n}", T0 + n, "pending", None, "", None, "")


def _apart(tx: Tx, authority: Authority, device_id: str, hint: str) -> tuple[object, ...]:
    """What the five reads found, each by its own module, for the token with ``hint``."""
    store = authority.store
    row = store.token_by_hint(tx, hint)
    assert row is not None
    known = approval_rows.device(tx, device_id)
    return (row, store.account_for(tx, row.login, row.server),
            approval_rows.approval(tx, row.owner_email, device_id),
            None if known is None else (known.name, known.os),
            halts.halt_of(tx, row.owner_email, row.login, row.server) is not None,
            instructions.pending_for(tx, row.owner_email, row.login, row.server))


def _together(found: Basis | None) -> tuple[object, ...]:
    assert found is not None
    return (found.token, found.account, found.approval, found.device, found.halted,
            found.pending)


async def test_the_one_read_answers_what_the_five_reads_answered(authority: Authority) -> None:
    try:
        mine = await authority.tokens.issue(OWNER, LOGIN, SERVER)
        neighbour = await authority.tokens.issue(OWNER, LOGIN + 1, SERVER)
        hints = [token_hint(t.token) for t in (mine, neighbour)]
        device = device_info(Ed25519PrivateKey.generate())
        stranger = device_info(Ed25519PrivateKey.generate())

        def both(tx: Tx, device_id: str) -> list[tuple[tuple[object, ...], tuple[object, ...]]]:
            asked = [basis.ask(tx, device_id, "token_hint", h) for h in hints]
            by_id = basis.ask(tx, device_id, "token_id", neighbour.token_id)
            out = [(_together(a.read()), _apart(tx, authority, device_id, h))
                   for a, h in zip(asked, hints, strict=True)]
            out.append((_together(by_id.read()), out[1][1]))
            assert basis.ask(tx, device_id, "token_hint", "no-such-hint").read() is None
            return out

        async def compare(device_id: str) -> list[tuple[object, ...]]:
            pairs = await authority.run(both, device_id)
            for together, apart in pairs:
                assert together == apart
            return [together for together, _ in pairs]

        # Nothing yet: no account, no approval, a device never seen, no halt, nothing pending.
        [first, _, _] = await compare(device.device_id)
        assert first[1:] == (None, None, None, False, [])

        await authority.approvals.approve_local(device)
        await authority.run(authority.store.add_account, AccountRow(
            0, OWNER, "main", "MTG", LOGIN, SERVER, False, True, ("EURUSD",), "0.5", "0.02",
            True, False, "", "USD", T0), "an account password")
        await authority.run(approval_rows.upsert_device, device.device_id, device.public_key,
                            "vps-1", "Windows", T0)

        def give(tx: Tx) -> None:
            instructions.add(tx, _instruction(1, OWNER, LOGIN))
            instructions.add(tx, _instruction(2, OWNER, LOGIN + 1))  # the neighbour's
            instructions.add(tx, _instruction(3, OTHER, LOGIN))  # another owner's
            instructions.add(tx, _instruction(4, OWNER, LOGIN))
            instructions.settle(tx, OWNER, LOGIN, SERVER, "ins_4", "shown", None, "", "d", T0)
            halts.halt(tx, OWNER, [(LOGIN, SERVER)], "mine only", T0)
            halts.halt(tx, OTHER, None, "another owner's, everywhere", T0)

        await authority.run(give)
        mine_now, neighbour_now, _ = await compare(device.device_id)
        assert mine_now[1] is not None and mine_now[1].login == LOGIN  # type: ignore[attr-defined]
        assert mine_now[2] is not None and mine_now[2].status == "approved"  # type: ignore[attr-defined]
        assert mine_now[3] == ("vps-1", "Windows")
        assert (mine_now[4], neighbour_now[4]) == (True, False)
        assert [i.id for i in mine_now[5]] == ["ins_1"]  # type: ignore[attr-defined]
        assert [i.id for i in neighbour_now[5]] == ["ins_2"]  # type: ignore[attr-defined]

        await authority.run(halts.halt, OWNER, None, "every terminal", T0 + 1)
        _, neighbour_now, _ = await compare(device.device_id)
        assert neighbour_now[4] is True
        [unseen, _, _] = await compare(stranger.device_id)  # another device: its own rows
        assert (unseen[2], unseen[3]) == (None, None)
    finally:
        await authority.close()

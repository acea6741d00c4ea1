"""Issue 35 item 3: the positions and the equity/balance history the console keeps from the
terminal reports (``mtgateway_console/tables/positions.py``, ``equity.py``), on SQLite and on a real
PostgreSQL (``tests/pgkit.py``), with the authority's clock injected: every point kept for
48 h, the last of each hour for 90 days, nothing older.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console.tests.dbkit import database_url_of
from mtgateway_base.wire.api import DeviceInfo
from mtgateway_base.wire.records import device_id_for
from mtgateway_base.wire.reports import AccountFigures, Position, PositionsBook, TerminalReport
from mtgateway_console.database import Tx
from mtgateway_console.devices import Approval
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from mtgateway_console.tables import approvals as approval_rows
from mtgateway_console.tables import equity
from mtgateway_console.tables.equity import DRAWN, FULL_DETAIL_S, HOUR_S, KEPT_FOR_S, Point
from mtgateway_console.tables.store import AuthorityStore
from mtgateway_console.web.chart import drawn

OWNER = "owner@example.com"
#: A Monday 00:00 UTC: hours line up with the test's arithmetic.
T0 = 1_763_942_400


class Clock:
    def __init__(self) -> None:
        self.now = float(T0)

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
async def authority(request: pytest.FixtureRequest, tmp_path: Path) -> Authority:
    clock = Clock()
    found = await Authority.open(tmp_path, RecordingMailer(),
                                 database_url=database_url_of(request), clock=clock)
    found.test_clock = clock  # type: ignore[attr-defined]
    await found.owners.create(OWNER, "a long enough password")
    return found


def _approve(tx: Tx, store: AuthorityStore, device: DeviceInfo) -> None:
    approval_rows.upsert_device(tx, device.device_id, device.public_key, "desk", "linux", 100)
    approval_rows.save_approval(tx, Approval("apr_1", OWNER, device.device_id, "approved", 100,
                                     approved_at=100))


async def _device(authority: Authority) -> DeviceInfo:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    device = DeviceInfo(device_id_for(raw), raw)
    await authority.run(_approve, authority.store, device)
    return device


async def test_every_point_for_48_h_then_the_last_of_each_hour_then_none_past_90_days(
        authority: Authority) -> None:
    clock: Clock = authority.test_clock  # type: ignore[attr-defined]
    token = await authority.tokens.issue(OWNER, 5012345, "MTG-Demo")
    device = await _device(authority)
    key = (device.device_id, 5012345, "MTG-Demo")

    async def report(balance: float, equity: float) -> None:
        stored = await authority.report_terminals(device, [TerminalReport(
            5012345, "MTG-Demo", "active", token_id=token.token_id,
            figures=AccountFigures(balance, equity, "USD", 0))])
        assert stored == 1

    # three hours of reports every 10 minutes (an old daemon: "as of" is the receive time)
    for i in range(18):
        clock.now = T0 + i * 600
        await report(10_000.0, 10_000.0 + i)
    series = (await authority.terminals.history_of(OWNER))[key]
    assert [p.at for p in series] == [T0 + i * 600 for i in range(18)]
    assert series[5] == Point(T0 + 3000, 10_000.0, 10_005.0)

    # 48 h after the second hour began: the first hour is thinned to its last point, the
    # second (crossing now) to its last point past the line, the rest kept whole
    clock.now = T0 + HOUR_S + FULL_DETAIL_S + 1
    await report(10_000.0, 20_000.0)
    ats = [p.at for p in (await authority.terminals.history_of(OWNER))[key]]
    assert ats == [T0 + 3000, T0 + HOUR_S] + [T0 + i * 600 for i in range(7, 18)] \
        + [int(clock.now)]

    # two more days: the third hour is behind the 48 h line too, one point per hour stays
    clock.now = T0 + 4 * HOUR_S + FULL_DETAIL_S
    await report(10_000.0, 20_001.0)
    ats = [p.at for p in (await authority.terminals.history_of(OWNER))[key]]
    assert ats == [T0 + 3000, T0 + HOUR_S + 3000, T0 + 2 * HOUR_S + 3000,
                   T0 + HOUR_S + FULL_DETAIL_S + 1, int(clock.now)]

    # past 90 days, the first hours are gone (from the page at once, from the table with
    # the next report)
    clock.now = T0 + KEPT_FOR_S + 2 * HOUR_S
    assert [p.at for p in (await authority.terminals.history_of(OWNER))[key]] == [
        T0 + 2 * HOUR_S + 3000, T0 + HOUR_S + FULL_DETAIL_S + 1,
        T0 + 4 * HOUR_S + FULL_DETAIL_S]
    await report(9_000.0, 9_000.0)
    count = await authority.run(lambda tx: tx.execute(
        "SELECT COUNT(*) FROM equity_points").fetchone()[0])
    assert count == 4


async def test_the_book_is_the_latest_report_as_of_its_read_time_and_goes_with_the_state(
        authority: Authority) -> None:
    clock: Clock = authority.test_clock  # type: ignore[attr-defined]
    token = await authority.tokens.issue(OWNER, 5012345, "MTG-Demo")
    device = await _device(authority)
    key = (device.device_id, 5012345, "MTG-Demo")
    buy = Position(7, "BTCUSD", "buy", 0.1, 97_000.0, 97_120.5, 96_000.0, 0.0, 12.05, -0.4)
    figures = AccountFigures(10_000.0, 10_011.65, "USD", 1)

    async def report(state: str, book: PositionsBook | None) -> None:
        await authority.report_terminals(device, [TerminalReport(
            5012345, "MTG-Demo", state, token_id=token.token_id,  # type: ignore[arg-type]
            figures=figures if state == "active" else None, book=book)])

    clock.now = T0 + 100
    await report("active", PositionsBook(T0 + 98.25, (buy,)))
    assert (await authority.terminals.books_of(OWNER)) == {
        key: PositionsBook(T0 + 98.25, (buy,))}
    assert (await authority.terminals.history_of(OWNER))[key] == [
        Point(T0 + 98, 10_000.0, 10_011.65)]
    # a daemon clock ahead of the console's: "as of" is never later than the receive time
    clock.now = T0 + 200
    await report("active", PositionsBook(T0 + 260.0, ()))
    assert (await authority.terminals.books_of(OWNER)) == {key: PositionsBook(T0 + 200.0, ())}
    # disconnected: no current positions; the history stays
    clock.now = T0 + 300
    await report("disconnected", None)
    assert await authority.terminals.books_of(OWNER) == {}
    assert len((await authority.terminals.history_of(OWNER))[key]) == 2


async def test_a_long_series_is_read_as_the_last_point_of_each_of_240_slices(
        authority: Authority) -> None:
    """A dashboard refresh reads at most 240 points per terminal, chosen by the database;
    they are the points the chart would draw from the whole series."""
    clock: Clock = authority.test_clock  # type: ignore[attr-defined]
    key = ("dev", 5012345, "MTG-Demo")
    stored = [Point(T0 + 30 * i + i % 7, 10_000.0 + i, 10_000.0 - i % 13) for i in range(1000)]

    def fill(tx: Tx) -> None:
        for point in stored:
            equity.add(tx, (OWNER, *key), point)

    await authority.run(fill)
    clock.now = stored[-1].at
    series = (await authority.terminals.history_of(OWNER))[key]
    assert series == list(drawn(stored)) and len(series) == DRAWN
    assert series[-1] == stored[-1] and all(p in stored for p in series)
    # slice k holds the points with (at - first) * 240 // (span + 1) == k: its last is drawn
    span = stored[-1].at - stored[0].at + 1
    for k in (0, 117, 239):
        inside = [p for p in stored if (p.at - stored[0].at) * DRAWN // span == k]
        assert inside[-1] in series and not set(inside[:-1]) & set(series)

"""Alerts (``alerts.py``, ``delivery.py``, the authority's alerts room): the rules, the
webhook address check, the documented signature, and exactly one alert per transition when
two authorities on one PostgreSQL database judge the same terminal at the same moment."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import shutil
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.auth.reporter import account_figures
from mtgateway.credential import token_hint
from mtgateway_base.wire.proofs import device_info
from mtgateway_base.wire.reports import TerminalReport
from mtgateway_console.delivery import sign
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from mtgateway_console.tables.alerts import (
    LEASE_S,
    AlertSettings,
    Seen,
    check_webhook_url,
    conditions,
    enqueue,
)
from mtgateway_console.tables.reports import SILENT_AFTER_S
from mtgateway_console.tables.store import DATA_KEY_FILE, SIGNING_KEY_FILE
from tests.pgkit import PostgresServer
from tests.testkit import until

DOCS = Path(__file__).resolve().parents[2] / "docs" / "console.md"
OWNER, PASSWORD = "owner@example.com", "correct horse battery"
NOW = 1_795_000_000


def test_the_documented_signature_vector() -> None:
    text = DOCS.read_text(encoding="utf-8")
    secret = re.search(r"secret\s+`(whsec_[0-9a-f]{64})`", text)
    t = re.search(r"`t` `(\d+)`", text)
    body = re.search(r"body `(\{[^`]+\})`", text)
    header = re.search(r"→ `Mtgw-Signature: (t=\d+,v1=[0-9a-f]{64})`", text)
    assert secret and t and body and header, "the test vector is missing from docs/console.md"
    assert sign(secret.group(1), int(t.group(1)), body.group(1).encode()) == header.group(1)
    # and it is what the documented receiver computes
    expected = hmac.new(secret.group(1).encode(), f"{t.group(1)}.{body.group(1)}".encode(),
                        hashlib.sha256).hexdigest()
    assert header.group(1).endswith(expected)


def _seen(state: str, reported_ago: int, changed_ago: int, reason: str = "",
          device: str = "D1") -> Seen:
    return Seen(device, state, reason, NOW - changed_ago, NOW - reported_ago)


def test_a_fresh_active_report_anywhere_means_neither_offline_nor_refused() -> None:
    verdict = conditions([_seen("refused", 0, 0, "token_revoked", "OLD"),
                          _seen("active", 5, 3600, device="NEW")], NOW, 10)
    assert (verdict.offline, verdict.refused, verdict.device_id) == (None, None, "NEW")


def test_a_silent_active_report_goes_offline_after_the_owners_minutes() -> None:
    rows = [_seen("active", 10 * 60, 3600)]  # last heard 10 min ago
    assert conditions(rows, NOW, 10).offline is None  # exactly N: not yet more than N
    assert conditions([_seen("active", 10 * 60 + 1, 3600)], NOW, 10).offline == \
        "not active for 10 min"
    assert conditions([_seen("active", SILENT_AFTER_S + 1, 3600)], NOW, 0).offline is None


def test_offline_counts_from_the_change_away_from_active() -> None:
    rows = [_seen("disconnected", 5, 11 * 60, "terminal_closed")]
    assert conditions(rows, NOW, 10).offline == "not active for 11 min"
    assert conditions(rows, NOW, 12).offline is None


def test_refused_follows_the_latest_report_with_its_reason() -> None:
    assert conditions([_seen("refused", 1, 100, "token_expired")], NOW, 0).refused == \
        "token_expired"
    later_down = [_seen("refused", 50, 100, "token_expired", "A"),
                  _seen("disconnected", 1, 1, "terminal_closed", "B")]
    assert conditions(later_down, NOW, 0).refused is None
    assert conditions([], NOW, 10) == conditions([], NOW, 10)
    assert conditions([], NOW, 10).offline is None


@pytest.mark.parametrize("url", ["https://example.com/hook", "http://127.0.0.1:8080/a?b=c",
                                 "https://[::1]:9000/x", "  https://example.com/x  "])
def test_webhook_addresses_accepted(url: str) -> None:
    assert check_webhook_url(url) == url.strip()


@pytest.mark.parametrize(("url", "why"), [
    ("ftp://example.com/", "http:// or https://"), ("file:///etc/passwd", "http:// or https://"),
    ("javascript:alert(1)", "http:// or https://"), ("example.com/hook", "http:// or https://"),
    ("https://", "names no host"), ("https://u:p@example.com/", "no user name or password"),
    ("https://u@example.com/", "no user name or password"), ("https://example.com/#x", "fragment"),
    ("https://example.com:99999/", "not a valid"), ("https://exa mple.com/", "no spaces"),
    ("https://exämple.com/", "non-ASCII"), ("https://example.com/" + "a" * 2000, "at most"),
    ("https://example.com:0/", "not a valid port")])
def test_webhook_addresses_refused(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_webhook_url(url)


async def test_the_reporter_reads_margin_and_margin_level_from_account_info() -> None:
    info = {"balance": 10_000.0, "equity": 9_500.0, "currency": "USD", "margin": 7_600.0,
            "margin_level": 125.0}

    async def call(terminal: object, method: str, params: object, timeout_s: float) -> object:
        return info if method == "account_info" else 2

    figures = await account_figures(call)(None)  # type: ignore[arg-type]
    assert figures is not None
    assert (figures.margin, figures.margin_level) == (7_600.0, 125.0)
    info.update(margin=float("nan"), margin_level=-1)  # nonsense is not believed
    figures = await account_figures(call)(None)  # type: ignore[arg-type]
    assert figures is not None and (figures.margin, figures.margin_level) == (None, None)
    del info["margin"], info["margin_level"]  # an EA that does not send them: no margin
    figures = await account_figures(call)(None)  # type: ignore[arg-type]
    assert figures is not None and figures.balance == 10_000.0 and figures.margin is None


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


def _waiting_on_locks(admin: psycopg.Connection[tuple[object, ...]]) -> int:
    row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND wait_event_type = 'Lock'").fetchone()
    assert row is not None
    return int(row[0])


async def test_two_instances_judging_at_once_on_postgresql_alert_once(
        tmp_path: Path, postgres: PostgresServer) -> None:
    url = postgres.new_database()
    clock = Clock()
    first = await Authority.open(tmp_path / "a", RecordingMailer(), database_url=url,
                                 clock=clock)
    (tmp_path / "b").mkdir(mode=0o700)
    for name in (SIGNING_KEY_FILE, DATA_KEY_FILE):
        shutil.copy2(tmp_path / "a" / name, tmp_path / "b" / name)
    second = await Authority.open(tmp_path / "b", RecordingMailer(), database_url=url,
                                  clock=clock)
    try:
        await first.owners.create(OWNER, PASSWORD)
        issued = await first.tokens.issue(OWNER, 5012345, "MTG-Demo")
        device = device_info(Ed25519PrivateKey.generate())
        assert (await first.lookup(device, token_hint=token_hint(issued.token),
                                   device_name="pc", os="Linux")).status == "pending"
        assert await first.approvals.approve(OWNER, device.device_id)  # it speaks for it now
        secret = await first.alerts.save(OWNER, AlertSettings(
            email=True, webhook_url="https://example.com/hook", offline_minutes=5,
            margin_pct=150.0))
        assert secret is not None and await second.alerts.secret(OWNER) == secret  # sealed
        await first.report_terminals(device, [TerminalReport(
            5012345, "MTG-Demo", "disconnected", "terminal_closed", issued.token_id)])
        clock.now += 6 * 60

        async def at_once(*calls: object) -> list[int]:
            """Start every call while a lock holds the episodes, then let go: they meet."""
            with psycopg.connect(url, autocommit=True) as admin:
                holder = psycopg.connect(url)
                holder.execute("LOCK TABLE alert_episodes IN EXCLUSIVE MODE")
                tasks = [asyncio.create_task(c) for c in calls]  # type: ignore[arg-type]
                await until(lambda: _waiting_on_locks(admin) >= 2, timeout_s=30)
                holder.rollback()
                holder.close()
                return list(await asyncio.gather(*tasks))

        counts = await at_once(first.alerts.sweep(), second.alerts.sweep())
        assert sorted(counts) == [0, 2]  # e-mail and webhook, by one of them

        # The recovery too: both see the terminal back, one sends.
        back = [TerminalReport(5012345, "MTG-Demo", "active", "", issued.token_id)]
        await first.report_terminals(device, back)
        (delivered,) = {d.event for d in await first.alerts.deliveries(OWNER, 10)
                        if d.event == "alert.recovered"}
        assert delivered == "alert.recovered"
        assert len(await second.alerts.deliveries(OWNER, 10)) == 4

        # Two senders claiming the same due deliveries: each goes to exactly one.
        due = await first.alerts.due()
        assert len(due) == 4
        claims = await asyncio.gather(*(a.alerts.claim(i) for i in due
                                        for a in (first, second)))
        assert sorted(c.id for c in claims if c is not None) == sorted(due)
        outcomes = [await second.alerts.finish(c, "" if c.channel == "email" else "HTTP 500",
                                               "test") for c in claims if c is not None]
        assert sorted(outcomes) == ["pending", "pending", "sent", "sent"]

        # Turning "offline" off ends its episode silently.
        clock.now += 3600
        await first.alerts.save(OWNER, AlertSettings(email=True, margin_pct=150.0))
        assert await first.alerts.sweep() == 0
    finally:
        await first.close()
        await second.close()


async def test_a_superseded_claim_cannot_overwrite_the_one_that_took_over(
        tmp_path: Path) -> None:
    clock = Clock()
    authority = await Authority.open(tmp_path, RecordingMailer(), clock=clock)
    try:
        settings = AlertSettings(email=True, refused=True)
        await authority.alerts.save(OWNER, settings)
        payload: dict[str, object] = {"type": "alert.opened", "kind": "refused"}
        assert await authority.run(enqueue, OWNER, settings, payload, NOW) == 1
        (due,) = await authority.alerts.due()
        lost = await authority.alerts.claim(due)  # a sender that then stalls past its lease
        assert lost is not None and await authority.alerts.claim(due) is None
        clock.now += LEASE_S
        taken = await authority.alerts.claim(due)
        assert taken is not None and taken.attempts == 2
        # the stalled one wakes up and reports a failure while the other is still sending
        assert await authority.alerts.finish(lost, "timed out", "late") == ""
        assert await authority.alerts.finish(taken, "", "on time") == "sent"
        (delivery,) = await authority.alerts.deliveries(OWNER)
        assert (delivery.status, delivery.last_error) == ("sent", "")
    finally:
        await authority.close()

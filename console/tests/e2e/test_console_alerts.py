"""Issue 35 item 2: alerts, end to end.

The real console (``consolekit``: real SMTP sink, the test's clock), the owner's choices made
through the settings page's real form, terminal states reported as a daemon reports them
(signed device calls), e-mails received by the aiosmtpd sink and webhooks by an aiohttp
server on loopback that checks each signature from the documented format with ``hmac``
(not with our ``sign``). Time moves only on the console's injected clock; the tests wait on
the sender's attempt count and the receivers' events, never on sleeps.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mtgateway.credential import token_hint
from mtgateway_base.wire.proofs import device_info
from mtgateway_console.console import AUTHORITY
from mtgateway_console.delivery import ALERT_SENDER, AlertSender
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from mtgateway_console.tables.alerts import LEASE_S, MAX_ATTEMPTS, RETRY_AFTER_S, AlertSettings
from mtgateway_console.tables.reports import SILENT_AFTER_S
from tests.e2e.consolekit import OWNER, PASSWORD, WAIT_S, Browser, Console, create_token, signed_in
from tests.e2e.hookkit import Receiver
from tests.e2e.world import OWNER as OWNER_W
from tests.e2e.world import live_terminal, world

#: What a console of this release says it takes, in every report's answer.
TAKEN = ["digits", "book", "live_book", "poll_report", "server_offset"]

LOGIN, SERVER = 5012345, "MTG-Demo"
def _sender(console: Console) -> AlertSender:
    return console.app[ALERT_SENDER]


def _authority(console: Console) -> Authority:
    return console.app[AUTHORITY]


def subject(message: Message) -> str:
    """The subject unfolded (a long one arrives folded, as RFC 5322 allows)."""
    return " ".join(str(message["Subject"]).split())


def alert_mails(console: Console) -> list[Message]:
    return [m for m in console.sink.messages if subject(m).startswith("MT Gateway alert")]


def text_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


async def attempts(console: Console, count: int) -> None:
    """Kick the sender (the background one may be first) and wait for ``count`` attempts in
    all; then nothing more is due."""
    await _sender(console).deliver_due()
    async with asyncio.timeout(WAIT_S):
        await _sender(console).wait_attempts(count)
    assert await _sender(console).deliver_due() == 0
    assert _sender(console).attempts == count


async def pending_device(console: Console, browser: Browser) -> tuple[str, str]:
    """Sign in, make a token, and have the console's device ask for approval with it; the
    token and its id (the device is pending: the code e-mail went to the sink)."""
    await signed_in(browser)
    _, token, token_id = await create_token(browser)
    status, body, _ = await console.device("POST", "/v1/records/lookup", {
        "token_hint": token_hint(token), "device_name": "desk-pc", "os": "Windows 11"})
    assert (status, body) == (200, {"status": "pending"})
    await console.sink.wait_for(1)
    return token, token_id


async def approved_device(console: Console, browser: Browser) -> tuple[str, str]:
    """:func:`pending_device`, then approved with the e-mailed code (only an approved device
    speaks for the owner's terminals); the token and its id."""
    token, token_id = await pending_device(console, browser)
    status, body, _ = await console.device("POST", "/v1/device/verify",
                                           {"code": console.sink.code()})
    assert status == 200, body
    return token, token_id


async def report(console: Console, **state: Any) -> None:
    body = {"login": LOGIN, "server": SERVER, "platform": "MT5", "ea_version": "1.2.0", **state}
    status, answer, _ = await console.device("POST", "/v1/terminals/report",
                                             {"terminals": [body]})
    assert (status, answer) == (200, {"stored": 1, "takes": TAKEN}), \
        answer


async def set_alerts(browser: Browser, *, webhook: str = "", email: bool = True,
                     offline: int = 0, refused: bool = False, margin: float = 0,
                     password: str = PASSWORD, status: int | None = None) -> str:
    """Save the alerts form on the settings page; the page's answer text."""
    form = [("webhook_url", webhook), ("owner_password", password),
            ("offline_minutes", str(offline or 10)), ("margin_pct", str(margin or 150))]
    form += [(name, "on") for name, on in (("email", email), ("offline", offline > 0),
                                           ("refused", refused), ("margin", margin > 0)) if on]
    page = await browser.submit("/settings", "/settings/alerts", form)
    if status is not None:
        assert page.status == status, page.text
    return page.text


def secret_on(page: str) -> str:
    found = re.search(r'id="new-secret" value="(whsec_[0-9a-f]{64})"', page)
    assert found is not None, "no signing secret on the page"
    return found.group(1)


async def test_offline_alerts_once_per_episode_and_once_on_recovery(
        console: Console, browser: Browser, receiver: Receiver) -> None:
    _, token_id = await approved_device(console, browser)
    receiver.secret = secret_on(await set_alerts(browser, webhook=receiver.url, offline=10,
                                                 status=201))
    await report(console, state="active", token_id=token_id)
    await attempts(console, 0)  # active: nothing to say

    # The daemon dies: no report speaks, the sweep on the console's clock does.
    console.clock.now += 9 * 60
    assert await _authority(console).alerts.sweep() == 0  # 9 min: not yet
    console.clock.now += 2 * 60
    assert await _authority(console).alerts.sweep() == 2  # e-mail and webhook
    await attempts(console, 2)
    assert await _authority(console).alerts.sweep() == 0  # the same episode: nothing new
    mails = alert_mails(console)
    assert len(mails) == 1 and "offline for more than 10 min" in subject(mails[0])
    assert f"{LOGIN}@{SERVER}" in text_of(mails[0])
    (hook,) = receiver.received
    assert hook["verified"] and hook["event"] == "alert.opened"
    assert hook["payload"]["kind"] == "offline" and hook["payload"]["login"] == LOGIN
    assert int(hook["t"]) == int(console.clock.now)

    # Back: the first report closes the episode, once; more reports say nothing more.
    await report(console, state="active", token_id=token_id)
    await report(console, state="active", token_id=token_id)
    await attempts(console, 4)
    await receiver.wait_for(2)
    recovered = receiver.received[1]
    assert recovered["verified"] and recovered["payload"]["type"] == "alert.recovered"
    assert len(alert_mails(console)) == 2
    assert "back online" in subject(alert_mails(console)[1])
    assert len(receiver.received) == 2

    # A second episode is a new one: alerted again.
    console.clock.now += SILENT_AFTER_S + 11 * 60
    assert await _authority(console).alerts.sweep() == 2
    await attempts(console, 6)
    assert len(receiver.received) == 3
    assert receiver.received[2]["payload"]["id"] != hook["payload"]["id"]


async def test_an_offline_alert_says_since_when_and_names_the_device(
        console: Console, browser: Browser, receiver: Receiver) -> None:
    """The alert's "since" is when the condition began: the terminal's last report as active,
    not the moment the sweep noticed (a daemon killed at 03:43:05 was said offline "since
    03:44:42"); the device is named by the name it reported, its id beside it. The webhook
    carries the same time as ``opened_at`` and the name as ``device_name``."""
    _, token_id = await approved_device(console, browser)
    receiver.secret = secret_on(await set_alerts(browser, webhook=receiver.url, offline=10,
                                                 status=201))
    await report(console, state="active", token_id=token_id)
    last_active = int(console.clock.now)
    console.clock.now += 11 * 60
    assert await _authority(console).alerts.sweep() == 2
    await attempts(console, 2)
    (mail,) = alert_mails(console)
    device_id = device_info(console.key).device_id
    text = text_of(mail)
    assert f"since:    {_utc(last_active)}" in text, text
    assert f"device:   desk-pc ({device_id[:8]}" in text, text
    (hook,) = receiver.received
    assert hook["payload"]["opened_at"] == last_active
    assert hook["payload"]["device_name"] == "desk-pc"
    assert hook["payload"]["device_id"] == device_id


async def test_a_revoked_token_is_one_alert_not_also_offline_a_minute_later(
        console: Console, browser: Browser) -> None:
    """One cause, one alert: a terminal refused because its token was revoked is not also
    alerted offline once the offline threshold passes (it was, 60 s later); its recovery is
    one "no longer refused" mail, not also "back online". An owner who watches only offline
    still hears of it as offline."""
    token, token_id = await approved_device(console, browser)
    await set_alerts(browser, offline=1, refused=True, status=303)
    await report(console, state="active", token_id=token_id)
    refused = {"state": "refused", "reason": "token_revoked", "token_hint": token_hint(token)}
    await report(console, **refused)
    await attempts(console, 1)
    console.clock.now += 2 * 60
    assert await _authority(console).alerts.sweep() == 0
    await report(console, **refused)
    console.clock.now += 10 * 60
    assert await _authority(console).alerts.sweep() == 0
    await attempts(console, 1)
    (mail,) = alert_mails(console)
    assert "refused: token_revoked" in subject(mail)
    await report(console, state="active", token_id=token_id)
    await attempts(console, 2)
    assert [subject(m).rpartition(": ")[2] for m in alert_mails(console)][1:] == [
        f"terminal {LOGIN}@{SERVER} is no longer refused"]

    await set_alerts(browser, offline=1, status=303)  # offline only
    await report(console, **refused)
    console.clock.now += 2 * 60
    assert await _authority(console).alerts.sweep() == 1
    await attempts(console, 3)
    assert "offline for more than 1 min" in subject(alert_mails(console)[2])


def _utc(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


async def test_two_instances_judging_at_once_alert_once(
        console: Console, browser: Browser, tmp_path: Path) -> None:
    _, token_id = await approved_device(console, browser)
    await set_alerts(browser, offline=5, status=303)
    await report(console, state="disconnected", token_id=token_id, reason="terminal_closed")
    console.clock.now += 6 * 60
    # A second console instance on the same database (and so also a restarted one).
    other = await Authority.open(tmp_path, RecordingMailer(), clock=console.clock)
    try:
        counts = await asyncio.gather(*(a.alerts.sweep() for a in
                                        (_authority(console), other, _authority(console),
                                         other)))
    finally:
        await other.close()
    assert sum(counts) == 1  # e-mail only: one alert, by whichever claimed it
    await attempts(console, 1)
    assert len(alert_mails(console)) == 1


async def test_a_refused_terminal_alerts_naming_the_reason_then_recovers(
        console: Console, browser: Browser, receiver: Receiver) -> None:
    token, token_id = await approved_device(console, browser)
    receiver.secret = secret_on(await set_alerts(browser, webhook=receiver.url, refused=True,
                                                 status=201))
    refused = {"state": "refused", "reason": "token_expired", "token_hint": token_hint(token)}
    for _ in range(3):  # the EA keeps trying: one episode
        await report(console, **refused)
    await attempts(console, 2)
    (mail,) = alert_mails(console)
    assert "refused: token_expired" in subject(mail)
    assert f"device:   desk-pc ({device_info(console.key).device_id})" in text_of(mail)
    (hook,) = receiver.received
    assert hook["verified"] and hook["payload"]["reason"] == "token_expired"

    await report(console, state="active", token_id=token_id)
    await attempts(console, 4)
    assert "no longer refused" in subject(alert_mails(console)[1])
    assert receiver.received[1]["payload"]["type"] == "alert.recovered"
    assert len(receiver.received) == 2


async def test_margin_under_the_threshold_alerts_and_recovers_above_it(
        console: Console, browser: Browser) -> None:
    _, token_id = await approved_device(console, browser)
    await set_alerts(browser, margin=150, status=303)
    active = {"state": "active", "token_id": token_id, "balance": 10_000.0,
              "equity": 9_000.0, "currency": "USD", "positions": 2}
    await report(console, **active, margin=6_000.0, margin_level=150.0)  # at the line: fine
    await report(console, **active)  # an older daemon sends no margin: no verdict
    await attempts(console, 0)
    await report(console, **active, margin=7_500.0, margin_level=120.0)
    await report(console, **active, margin=7_000.0, margin_level=128.6)  # same episode
    await report(console, **active, margin=5_600.0, margin_level=160.0)  # not 165 % yet
    await attempts(console, 1)
    (mail,) = alert_mails(console)
    assert "margin level of 5012345@MTG-Demo at 120.00 %, under 150.0 %" in subject(mail)
    await report(console, **active, margin=4_500.0, margin_level=200.0)
    await attempts(console, 2)
    assert "back at 200.00 %" in subject(alert_mails(console)[1])
    # No positions, no margin in use: still no alert (a level of 0 means nothing).
    await report(console, **active, margin=0.0, margin_level=0.0)
    await attempts(console, 2)


async def test_a_failing_webhook_is_retried_then_given_up_and_the_owner_sees_it(
        console: Console, browser: Browser, receiver: Receiver,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _, token_id = await approved_device(console, browser)
    secret = secret_on(await set_alerts(browser, webhook=receiver.url, email=False,
                                        offline=1, status=201))
    receiver.secret, receiver.status = secret, 500
    await report(console, state="disconnected", token_id=token_id, reason="terminal_closed")
    console.clock.now += 2 * 60
    assert await _authority(console).alerts.sweep() == 1
    await attempts(console, 1)
    page = await browser.get("/settings")
    assert 'data-status="pending"' in page.text and "retrying" in page.text
    for tried, wait_s in enumerate(RETRY_AFTER_S, start=1):
        console.clock.now += wait_s - 1
        assert await _sender(console).deliver_due() == 0  # not yet due
        console.clock.now += 1
        await attempts(console, tried + 1)
    assert len(receiver.received) == MAX_ATTEMPTS
    assert all(r["verified"] for r in receiver.received)
    assert len({r["delivery"] for r in receiver.received}) == 1  # one delivery, retried
    console.clock.now += 24 * 3600
    await attempts(console, MAX_ATTEMPTS)  # given up: never tried again
    await signed_in(browser)  # a day later: the session ended
    page = await browser.get("/settings")
    assert 'data-status="failed"' in page.text
    assert f"not delivered</span> after {MAX_ATTEMPTS} tries: 127.0.0.1: HTTP 500" in page.text
    activity = await browser.get("/activity")
    assert 'data-kind="alert_failed"' in activity.text
    ours = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records
                     if not r.name.startswith("aiohttp.access"))  # the receiver's own log
    assert secret not in ours and "s3cr3t-path-part" not in ours
    assert secret not in activity.text and secret not in page.text


async def test_a_redirect_is_not_followed(console: Console, browser: Browser,
                                          receiver: Receiver) -> None:
    _, token_id = await approved_device(console, browser)
    receiver.secret = secret_on(await set_alerts(browser, webhook=receiver.url, email=False,
                                                 offline=1, status=201))
    receiver.status, receiver.location = 307, "file:///etc/passwd"
    await report(console, state="disconnected", token_id=token_id, reason="terminal_closed")
    console.clock.now += 2 * 60
    await _authority(console).alerts.sweep()
    await attempts(console, 1)
    assert len(receiver.received) == 1
    (delivery,) = await _authority(console).alerts.deliveries(OWNER)
    assert delivery.last_error == "127.0.0.1: HTTP 307 redirect (to file) not followed"


async def test_the_webhook_address_is_checked_and_its_secret_shown_once(
        console: Console, browser: Browser, receiver: Receiver) -> None:
    await signed_in(browser)
    for url, why in (("ftp://example.com/x", "an http:// or https:// address"),
                     ("javascript:alert(1)", "an http:// or https:// address"),
                     ("http://user:pw@example.com/", "no user name or password"),
                     ("https:///nohost", "names no host"),
                     ("https://example.com/a b", "no spaces")):
        page = await set_alerts(browser, webhook=url, status=400)
        assert why in page and 'id="error-webhook_url"' in page
        assert 'value="' + url.replace("&", "&amp;") + '"' in page  # what was typed is kept
    for field, box, value in (("margin_pct", "margin", "-5"), ("margin_pct", "margin", "nan"),
                              ("offline_minutes", "offline", "0"),
                              ("offline_minutes", "offline", "1.5")):
        page = (await browser.submit("/settings", "/settings/alerts",
                                     {box: "on", field: value})).text
        assert f'id="error-{field}"' in page and f'value="{value}"' in page
    page = await set_alerts(browser, webhook=receiver.url, password="wrong", status=401)
    assert "Wrong password." in page
    assert (await _authority(console).alerts.settings(OWNER)).webhook_url == ""

    first = secret_on(await set_alerts(browser, webhook=receiver.url, status=201))
    settings = await browser.get("/settings")
    assert first not in settings.text and 'id="new-secret"' not in settings.text
    # Saved again with the same address: no password needed, the secret stays.
    await set_alerts(browser, webhook=receiver.url, refused=True, password="", status=303)
    assert await _authority(console).alerts.secret(OWNER) == first

    rotate = await browser.submit("/settings", "/settings/alerts/secret",
                                  {"owner_password": "wrong"})
    assert rotate.status == 401 and 'id="error-rotate_password"' in rotate.text
    rotate = await browser.submit("/settings", "/settings/alerts/secret",
                                  {"owner_password": PASSWORD})
    assert rotate.status == 201
    second = secret_on(rotate.text)
    assert second != first and await _authority(console).alerts.secret(OWNER) == second
    # A new address gets a secret of its own; removing the webhook forgets it.
    third = secret_on(await set_alerts(browser, webhook=receiver.url + "/v2", status=201))
    assert third not in (first, second)
    await set_alerts(browser, webhook="", password="", status=303)
    assert await _authority(console).alerts.secret(OWNER) is None
    activity = await browser.get("/activity")
    assert 'data-kind="alerts_changed"' in activity.text and "webhook to 127.0.0.1" in activity.text
    assert "s3cr3t-path-part" not in activity.text


async def test_a_real_daemon_refused_then_serving_alerts_by_e_mail(tmp_path: Path) -> None:
    """The whole chain: on the approved daemon, the emulated EA is refused by the real daemon
    (its token belongs to another terminal), whose reporter tells the console, which e-mails
    the owner; connected as the token's terminal, the recovery follows."""
    async with world(tmp_path) as w:
        await w.authority.alerts.save(OWNER_W, AlertSettings(email=True, refused=True,
                                                             offline_minutes=60))
        token, _ = await w.issue()
        await w.approve_device(token)
        assert (await w.ea_refusal(token, login=LOGIN + 1)).reason == "terminal_mismatch"
        sender = w.console[ALERT_SENDER]

        async def alert_mails_w(count: int) -> list[str]:
            async with asyncio.timeout(WAIT_S):
                while True:
                    subjects = [" ".join(str(m["Subject"]).split()) for m in w.sink.messages]
                    found = [s for s in subjects if s.startswith("MT Gateway alert")]
                    if len(found) >= count:
                        return found
                    await sender.wait_attempts(sender.attempts + 1)

        (opened,) = await alert_mails_w(1)
        assert opened == (f"MT Gateway alert: terminal {LOGIN}@{SERVER} refused: "
                          "terminal_mismatch")
        async with live_terminal(w, token):
            found = await alert_mails_w(2)
        assert found[1] == f"MT Gateway alert: terminal {LOGIN}@{SERVER} is no longer refused"
        assert len(found) == 2


async def test_a_sender_that_dies_mid_send_leaves_the_alert_to_another_once(
        console: Console, browser: Browser, receiver: Receiver, tmp_path: Path) -> None:
    _, token_id = await approved_device(console, browser)
    receiver.secret = secret_on(await set_alerts(browser, webhook=receiver.url, email=False,
                                                 offline=1, status=201))
    await report(console, state="disconnected", token_id=token_id, reason="terminal_closed")
    console.clock.now += 2 * 60
    # Another instance (or this one before a restart) judges, claims the alert, and dies
    # before sending it.
    other = await Authority.open(tmp_path, RecordingMailer(), clock=console.clock)
    try:
        assert await other.alerts.sweep() == 1
        (due,) = await other.alerts.due()
        lost = await other.alerts.claim(due)
        assert lost is not None
        assert await _sender(console).deliver_due() == 0  # its lease holds it
        console.clock.now += LEASE_S
        await attempts(console, 1)  # taken over, delivered once
        (hook,) = await receiver.wait_for(1)
        assert hook["verified"] and hook["payload"]["kind"] == "offline"
        # The lost sender comes back and reports a failure: it changes nothing.
        assert await other.alerts.finish(lost, "127.0.0.1: HTTP 500", "late") == ""
        (delivery,) = await other.alerts.deliveries(OWNER)
        assert (delivery.status, delivery.attempts) == ("sent", 2)
        console.clock.now += 3600
        assert await other.alerts.sweep() == 0 and await _authority(console).alerts.sweep() == 0
        await attempts(console, 1)
        assert len(receiver.received) == 1
    finally:
        await other.close()


async def test_an_alert_in_flight_is_sending_not_retrying(
        console: Console, browser: Browser, tmp_path: Path) -> None:
    """A test alert claimed by a sender and not yet answered (its first try in flight) is
    "sending" (it read "retrying (1 tries; last: ; next just now)"); only a try that failed
    makes it "retrying", with the reason. The alert is made and claimed by another instance
    on the same database, whose sender does not run (this console's is not woken by it)."""
    await signed_in(browser)
    await set_alerts(browser)
    other = await Authority.open(tmp_path, RecordingMailer(), clock=console.clock)
    try:
        assert await other.alerts.test(OWNER) == 1
        (due,) = await other.alerts.due()
        claimed = await other.alerts.claim(due)
        assert claimed is not None and claimed.attempts == 1
        for path in ("/settings", "/settings/alerts"):
            page = (await browser.get(path)).text
            row = re.search(r'<tr data-status="sending".*?</tr>', page, re.S)
            assert row is not None, page
            assert ">sending</span>" in row.group(0) and "retrying" not in row.group(0), \
                row.group(0)
            assert "last: ;" not in page
        assert await other.alerts.finish(claimed, "mail.example: connection refused",
                                         "test") == "pending"
        page = (await browser.get("/settings/alerts")).text
        assert "retrying</span> (1 tries; last: mail.example: connection refused;" in page
    finally:
        await other.close()


async def test_a_test_alert_reaches_every_chosen_channel_signed(
        console: Console, browser: Browser, receiver: Receiver) -> None:
    await signed_in(browser)
    answer = await browser.submit("/settings", "/settings/alerts/test", {})
    assert answer.status == 303
    assert "Choose e-mail or a webhook first" in (await browser.get("/settings")).text
    receiver.secret = secret_on(await set_alerts(browser, webhook=receiver.url, status=201))
    answer = await browser.submit("/settings", "/settings/alerts/test", {})
    assert answer.status == 303
    await attempts(console, 2)
    (hook,) = receiver.received
    assert hook["verified"] and hook["event"] == "alert.test"
    (mail,) = alert_mails(console)
    assert subject(mail) == "MT Gateway alert: test alert (your alerts arrive here)"
    page = (await browser.get("/settings")).text
    assert page.count('data-status="sent"') == 2 and 'id="test-alert"' in page


async def test_a_leaked_token_on_an_unapproved_device_moves_no_alert_and_shows_nowhere(
        console: Console, browser: Browser) -> None:
    """Review round 5 (the owner's side, M5): a second machine holding the owner's token,
    never approved (then denied), showed as a red "refused" terminal, opened a "refused"
    alert, was the device the offline alert named, and, reporting refusals whose reason
    changed, pushed the offline clock back for as long as it liked. Only approved devices
    speak for a terminal: the approved daemon dies and the offline alert opens on the
    injected clock exactly when it would without the intruder, naming the daemon."""
    token, token_id = await approved_device(console, browser)
    vps = device_info(console.key).device_id
    await set_alerts(browser, offline=1, refused=True, status=303)
    await report(console, state="active", token_id=token_id)
    intruder = Ed25519PrivateKey.generate()
    status, body, _ = await console.device("POST", "/v1/records/lookup", {
        "token_hint": token_hint(token), "device_name": "unknown-box", "os": "Linux"},
        key=intruder)
    assert (status, body) == (200, {"status": "pending"})
    intruder_id = device_info(intruder).device_id
    died = console.clock.now  # the daemon's last report: it is killed now
    reasons = ("device_not_approved", "terminal_mismatch", "device_revoked")
    opened_at = None
    for step in range(1, 9):  # every 30 s: the intruder reports, the sweep judges
        console.clock.now = died + 30 * step
        if step == 4:  # the owner denies it halfway: it keeps reporting
            asked = await browser.submit("/devices", f"/devices/{intruder_id}/deny", {})
            denied = await browser.post(f"/devices/{intruder_id}/deny",
                                        {"csrf": asked.csrf(), "confirm": "yes"})
            assert denied.status == 303
        for state in ({"state": "refused", "reason": reasons[step % 3],
                       "token_hint": token_hint(token)},
                      {"state": "active", "token_id": token_id}):
            status, body, _ = await console.device(
                "POST", "/v1/terminals/report", {"terminals": [
                    {"login": LOGIN, "server": SERVER, "platform": "MT5", **state}]},
                key=intruder)
            assert (status, body) == (200, {"stored": 0, "takes": TAKEN})
        if await _authority(console).alerts.sweep() and opened_at is None:
            opened_at = console.clock.now - died
    # Offline once no active report is fresh (SILENT_AFTER_S) and the minute has passed:
    # the first sweep after both, as if the intruder were not there.
    assert opened_at == 30 * (SILENT_AFTER_S // 30 + 1)
    await attempts(console, 1)
    (mail,) = alert_mails(console)
    assert "offline for more than 1 min" in subject(mail)
    assert f"device:   desk-pc ({vps})" in text_of(mail) and intruder_id not in text_of(mail)
    rows = (await browser.get("/dashboard/rows")).text
    assert intruder_id not in rows and "refused" not in rows
    assert [e.kind for e in await _authority(console).owners.activity(OWNER)
            if e.kind == "refusal"] == []

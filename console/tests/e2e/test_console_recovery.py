"""Getting the account back (review round 5, the owner's side): a second factor someone else
turned on is taken back by the link in its notice, with only the owner's e-mail and no
operator; an owner who lost the phone and the recovery codes is restored by the operator's
``mtgateway owner reset-2fa``; the owner sees every signed-in session and signs out one or
all.

The real console with its real SMTP sink and the test's clocks (``consolekit``); the
operator's command runs as a process against the console's own database, mailing through the
same sink. The same path in Chromium at both widths: ``test_console_2fa_browser.py``.
"""

from __future__ import annotations

import html
import re
from email.message import Message
from pathlib import Path

import pytest

from mtgateway_console import totp
from mtgateway_console.console import AUTHORITY
from mtgateway_console.service.recovery import UNDO_TTL_S
from mtgateway_console.tables.alerts import AlertSettings
from tests.e2e.consolekit import OWNER, PASSWORD, Browser, Console, signed_in
from tests.e2e.factorkit import code_step, enrol, password_step, reset_2fa, secret_of

pytestmark = pytest.mark.network_edge

NEW_PASSWORD = "a password only the owner knows"


def _body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def _undo_link(console: Console) -> str:
    """The path of the newest "take it back" link the sink received."""
    links = [m.group(1) for message in console.sink.messages
             if (m := re.search(re.escape(console.url) + r"(/recover/\S+)", _body(message)))]
    assert links, [str(m["Subject"]) for m in console.sink.messages]
    return links[-1]


async def _take_back(browser: Browser, path: str, password: str = NEW_PASSWORD) -> int:
    """Open the link and post the new password (a gone link's page has no form: the form
    token then comes from another page before sign-in)."""
    page = await browser.get(path)
    if 'id="recover-form"' not in page.text:
        page = await browser.get("/forgot")
    answer = await browser.post(path, {"csrf": page.csrf(), "new_password": password,
                                       "new_password2": password})
    return answer.status


async def test_someone_elses_second_factor_is_taken_back_by_the_link_in_its_notice(
        console: Console, browser: Browser) -> None:
    """The thief has the password and turns two-step sign-in on (holding the only key and
    every recovery code); the notice tells the owner at once and carries the link. Opening
    it spends nothing; using it turns that factor off, signs the thief out, sets the owner's
    new password; the owner signs in with it and no code. The link works once."""
    thief = browser
    await enrol(console, thief)  # the thief's authenticator, the thief's recovery codes
    (notice,) = await console.sink.wait_for(1)
    text = _body(notice)
    assert str(notice["Subject"]) == "MT Gateway: two-step sign-in was turned on"
    assert f"within {UNDO_TTL_S // 3600} hours" in text and "It works once" in text
    assert f"mtgateway owner reset-2fa --email {OWNER}" in text  # once it has expired
    path = _undo_link(console)
    owner = Browser(console.url)
    try:
        opened = await owner.get(path)
        assert opened.status == 200 and 'id="recover-form"' in opened.text
        assert "o***@example.com" in html.unescape(opened.text)
        opened = await owner.get(path)
        assert opened.status == 200  # opening spends nothing
        short = await owner.post(path, {"csrf": opened.csrf(), "new_password": "short",
                                        "new_password2": "short"})
        assert short.status == 400 and await console.app[AUTHORITY].second_factor.enrolled(
            OWNER)  # a refused form changes nothing
        assert await _take_back(owner, path) == 200
        assert not await console.app[AUTHORITY].second_factor.enrolled(OWNER)
        assert (await thief.get("/")).status == 303  # signed out
        assert (await thief.sign_in(OWNER, PASSWORD)).status == 401  # the old password
        signed = await owner.sign_in(OWNER, NEW_PASSWORD)  # no code asked
        assert signed.status == 303 and signed.headers["Location"] == "/"
        assert (await owner.get(path)).status == 410  # once
        assert await _take_back(thief, path, "yet another password") == 410
        *_, told = await console.sink.wait_for(2)
        assert str(told["Subject"]) == "MT Gateway: two-step sign-in was taken back"
        kinds = [e.kind for e in await console.app[AUTHORITY].owners.activity(OWNER)]
        assert "second_factor_undone" in kinds
    finally:
        await owner.close()


async def test_the_link_outlives_what_the_thief_can_do_and_ends_with_its_window(
        console: Console, browser: Browser) -> None:
    """Bound to the owner and "enrolled since": whoever holds the password cannot void the
    link by changing the password, signing out everywhere or turning the factor off and on
    again (a new secret); the first link takes back the newest factor, and every other link
    is void after it."""
    thief = browser
    key, _ = await enrol(console, thief)
    await console.sink.wait_for(1)
    first = _undo_link(console)
    changed = await thief.submit("/settings", "/settings/password", {
        "owner_password": PASSWORD, "new_password": "the thief's password",
        "new_password2": "the thief's password"})
    assert changed.status == 303
    off = await thief.submit("/settings", "/settings/2fa/disable", {
        "owner_password": "the thief's password", "code": totp.totp(key, console.clock.now)})
    assert off.status == 303
    console.clock.now += totp.STEP_S
    started = await thief.submit("/settings", "/settings/2fa/start",
                                 {"owner_password": "the thief's password"})
    new_key = secret_of(started.text)
    on = await thief.submit("/settings", "/settings/2fa/confirm",
                            {"code": totp.totp(new_key, console.clock.now)})
    assert on.status == 200
    await console.sink.wait_for(4)  # on, password changed, off, on again
    second = _undo_link(console)
    assert second != first
    everywhere = await thief.submit("/settings/sessions", "/settings/sessions/end-all",
                                    {"confirm": "yes"})
    assert everywhere.status == 303
    owner = Browser(console.url)
    try:
        assert (await owner.get(first)).status == 200
        assert await _take_back(owner, first) == 200
        assert not await console.app[AUTHORITY].second_factor.enrolled(OWNER)
        signed = await owner.sign_in(OWNER, NEW_PASSWORD)
        assert signed.status == 303 and signed.headers["Location"] == "/"
        assert (await owner.get(second)).status == 410  # void once one link was used
    finally:
        await owner.close()


async def test_a_link_past_its_window_undoes_nothing(console: Console,
                                                    browser: Browser) -> None:
    """Once its window has closed, the link is refused and the factor stays on."""
    await enrol(console, browser)
    await console.sink.wait_for(1)
    late = _undo_link(console)
    console.clock.now += UNDO_TTL_S
    other = Browser(console.url)
    try:
        assert (await other.get(late)).status == 410
        assert await _take_back(other, late) == 410
    finally:
        await other.close()
    assert await console.app[AUTHORITY].second_factor.enrolled(OWNER)


async def test_a_password_reset_by_mail_honours_the_link(console: Console,
                                                         browser: Browser) -> None:
    """An owner who first resets the password by mail (the thief's sessions end) can still
    take the factor back with the notice's link afterwards."""
    await enrol(console, browser)
    await console.sink.wait_for(1)
    link = _undo_link(console)
    owner = Browser(console.url)
    try:
        form = await owner.get("/forgot")
        await owner.post("/forgot", {"csrf": form.csrf(), "email": OWNER})
        *_, mail = await console.sink.wait_for(2)
        reset = re.search(re.escape(console.url) + r"(/reset/\S+)", _body(mail))
        assert reset is not None
        assert await _take_back(owner, reset.group(1), "a reset password 123") == 200
        assert (await browser.get("/")).status == 303  # the thief is out
        assert await _take_back(owner, link) == 200
        assert not await console.app[AUTHORITY].second_factor.enrolled(OWNER)
    finally:
        await owner.close()


async def test_turning_the_factor_on_is_rate_limited(console: Console,
                                                    browser: Browser) -> None:
    """Three enrolments a day: a fourth is refused until the oldest is a day old, so cycling
    the factor off and on cannot flood the owner's mailbox with notices."""
    key, _ = await enrol(console, browser)
    for _ in range(2):
        off = await browser.submit("/settings", "/settings/2fa/disable", {
            "owner_password": PASSWORD, "code": totp.totp(key, console.clock.now)})
        assert off.status == 303
        console.clock.now += totp.STEP_S
        key, _ = await enrol(console, browser, sign_in=False)
    off = await browser.submit("/settings", "/settings/2fa/disable", {
        "owner_password": PASSWORD, "code": totp.totp(key, console.clock.now)})
    assert off.status == 303
    mails = len(await console.sink.wait_for(6))  # three on, three off
    refused = await browser.submit("/settings", "/settings/2fa/start",
                                   {"owner_password": PASSWORD})
    assert refused.status == 303
    shown = html.unescape((await browser.get("/settings")).text)
    assert "turned on 3 times in the last 24 hours" in shown
    assert 'id="totp-secret"' not in shown
    assert len(console.sink.messages) == mails
    console.clock.now += 24 * 3600
    await enrol(console, browser)  # a day later (signed in again) it works again


async def test_the_take_back_removes_the_alerts_webhook(console: Console,
                                                        browser: Browser) -> None:
    """The thief pointed the alerts at a webhook of theirs: the take-back removes it (e-mail
    alerts stay), notes it in the Activity and says so in the mail; the notice's checklist
    names the alerts."""
    authority = console.app[AUTHORITY]
    await authority.alerts.save(OWNER, AlertSettings(email=True,
                                                     webhook_url="https://hooks.example.com/x",
                                                     offline_minutes=5))
    await enrol(console, browser)
    (notice,) = await console.sink.wait_for(1)
    assert "Alerts" in _body(notice) and "webhook" in _body(notice)
    owner = Browser(console.url)
    try:
        assert await _take_back(owner, _undo_link(console)) == 200
    finally:
        await owner.close()
    settings = await authority.alerts.settings(OWNER)
    assert (settings.webhook_url, settings.has_secret) == ("", False)
    assert settings.email and settings.offline_minutes == 5
    entries = await authority.owners.activity(OWNER)
    assert any(e.kind == "alerts_changed" and "take-back" in e.detail for e in entries)
    *_, told = await console.sink.wait_for(2)
    assert "webhook" in _body(told)


async def test_the_operator_restores_an_owner_who_lost_the_phone_and_the_codes(
        console: Console, browser: Browser, tmp_path: Path) -> None:
    """No code, no recovery code: the operator's command turns the factor off, ends every
    session, notes it in the owner's Activity and mails the owner; the owner signs in with
    the password alone. Run again, it says there is nothing to do; an unknown address is a
    usage error."""
    await enrol(console, browser)
    await console.sink.wait_for(1)
    waiting = Browser(console.url)  # a half-done sign-in, waiting for a code nobody has
    try:
        await password_step(waiting)
        code, out, err = await reset_2fa(console, tmp_path, OWNER)
        assert code == 0, err
        assert "the owner was mailed" in out and "every session" in out
        assert (await browser.get("/")).status == 303  # signed out
        assert (await waiting.get("/login/code")).status == 303  # the half sign-in ended
    finally:
        await waiting.close()
    *_, told = await console.sink.wait_for(2)
    assert told["To"] == OWNER
    assert str(told["Subject"]) == "MT Gateway: the operator turned two-step sign-in off"
    assert f"{console.url}/forgot" in _body(told)
    signed = await browser.sign_in(OWNER, PASSWORD)
    assert signed.status == 303 and signed.headers["Location"] == "/"
    activity = await browser.get("/activity")
    assert 'data-kind="second_factor_reset"' in activity.text
    code, _, err = await reset_2fa(console, tmp_path, OWNER)
    assert code == 1 and "nothing changed" in err
    code, _, err = await reset_2fa(console, tmp_path, "nobody@example.com")
    assert code == 2 and "no owner has the address" in err and "Traceback" not in err


async def test_the_operator_ends_a_leaked_password_without_a_second_factor(
        console: Console, browser: Browser, tmp_path: Path) -> None:
    """Round 7 (T7-F3): an owner without two-step sign-in whose password leaked; the thief's
    page session and API token worked on after the operator's only command (``reset-2fa``:
    "nothing changed"). ``mtgateway owner reset-password`` ends both at once, the old
    password signs in nowhere, and the mailed link sets a new one."""
    await signed_in(browser)
    async with console.session.post(console.url + "/api/auth/login", data={
            "username": OWNER, "password": PASSWORD}) as answer:
        token = (await answer.json())["access_token"]
    code, out, err = await reset_2fa(console, tmp_path, OWNER, "reset-password")
    assert code == 0, err
    assert "set aside" in out and "the owner was mailed" in out
    ended = await browser.get("/")  # signed out, and told why
    assert (ended.status, ended.headers["Location"]) == (
        303, "/login?after=password_reset_by_operator")
    assert "operator set your password aside and ended every sign-in" in \
        (await browser.get(ended.headers["Location"])).text
    async with console.session.get(console.url + "/api/users/",
                                   headers={"Authorization": f"Bearer {token}"}) as answer:
        assert answer.status == 401
    thief = Browser(console.url)
    try:
        assert (await thief.sign_in(OWNER, PASSWORD)).status == 401
    finally:
        await thief.close()
    *_, told = await console.sink.wait_for(1)
    link = re.search(r"(/reset/\S+)", _body(told))
    assert told["To"] == OWNER and link is not None
    page = await browser.get(link.group(1))
    done = await browser.post(link.group(1), {"csrf": page.csrf(),
                                              "new_password": "the owner's new password",
                                              "new_password2": "the owner's new password"})
    assert done.status == 200 and "Password set" in done.text
    assert (await browser.sign_in(OWNER, "the owner's new password")).status == 303


async def test_the_owner_sees_every_session_and_signs_out_one_or_all(
        console: Console) -> None:
    """Each session shows its browser, address and last use; "Sign out" ends another
    session at once; "Sign out everywhere" (confirmed) ends them all, this one too, and
    half-done sign-ins; each is noted in the Activity."""
    desk = Browser(console.url, user_agent="Mozilla/5.0 (X11; Linux) DeskBrowser/1.0")
    phone = Browser(console.url, user_agent="Mozilla/5.0 (iPhone) PhoneBrowser/2.0")
    stranger = Browser(console.url, user_agent="Stranger/9.9")
    try:
        for b in (desk, phone, stranger):
            await signed_in(b)
        console.clock.now += 60
        assert (await phone.get("/")).status == 200  # the phone is used later
        page = await desk.get("/settings/sessions")
        assert page.status == 200
        rows = re.findall(r'<tr data-session="([0-9a-f]{64})"( data-current="yes")?>', page.text)
        assert len(rows) == 3 and sum(bool(current) for _, current in rows) == 1
        text = html.unescape(page.text)
        assert "PhoneBrowser/2.0" in text and "DeskBrowser/1.0" in text and "127.0.0.1" in text
        assert text.index("PhoneBrowser/2.0") < text.index("Stranger/9.9")  # latest use first
        strangers = re.search(r'<tr data-session="([0-9a-f]{64})">\s*<td data-label="Browser">'
                              r'<span class="agent" title="Stranger/9\.9">', page.text)
        assert strangers is not None
        ended = await desk.post(f"/settings/sessions/{strangers.group(1)}/end",
                                {"csrf": page.csrf()})
        assert ended.status == 303
        assert (await stranger.get("/")).status == 303  # out at once
        assert (await phone.get("/")).status == 200
        waiting = Browser(console.url)
        try:
            asked = await desk.submit("/settings/sessions", "/settings/sessions/end-all", {})
            assert asked.status == 200 and 'id="confirm-form"' in asked.text
            done = await desk.post("/settings/sessions/end-all",
                                   {"csrf": asked.csrf(), "confirm": "yes"})
            assert done.status == 303 and done.headers["Location"] == "/login?after=everywhere"
        finally:
            await waiting.close()
        assert (await desk.get("/")).status == 303 and (await phone.get("/")).status == 303
        await signed_in(desk)
        activity = (await desk.get("/activity")).text
        assert activity.count('data-kind="sessions_ended"') == 2
        assert "Stranger/9.9" in html.unescape(activity)
    finally:
        for b in (desk, phone, stranger):
            await b.close()


async def test_a_reset_still_keeps_a_factor_the_owner_turned_on(console: Console,
                                                              browser: Browser) -> None:
    """The control: a password reset alone (the mailbox) does not take the factor away;
    only the notice's link, within its window, or the operator does."""
    key, _ = await enrol(console, browser)
    form = await browser.get("/forgot")
    await browser.post("/forgot", {"csrf": form.csrf(), "email": OWNER})
    *_, mail = await console.sink.wait_for(2)
    reset = re.search(re.escape(console.url) + r"(/reset/\S+)", _body(mail))
    assert reset is not None
    assert await _take_back(browser, reset.group(1)) == 200
    await password_step(browser, NEW_PASSWORD)
    assert await code_step(browser, totp.totp(key, console.clock.now)) == 303

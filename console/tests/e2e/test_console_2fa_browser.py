"""Issue 35 item 4 in headless Chromium at 1280 and 390 px: two-step sign-in and password reset;
and (review round 5) taking the account back from someone else's second factor, and the
signed-in sessions.

The real console with its real SMTP sink (aiosmtpd) and the test's clock (``consolekit``),
driven by Selenium in Debian's ``chromium`` (``tests/e2e/chromium.py``). Every code is computed
by the test from the key the settings page shows, at the console's injected time, as the
owner's authenticator app would; steps pass by moving that clock, never by sleeping. Each page
is checked to be no wider than the window. Screenshots: ``$MTGATEWAY_SCREENSHOTS/2fa-<width>/``.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from mtgateway_console import totp
from mtgateway_console.service.resets import TTL_S
from tests.e2e.chromium import Owner, chromium_at
from tests.e2e.consolekit import OWNER, PASSWORD, Browser, Console
from tests.e2e.factorkit import enrol

NEW_PASSWORD = "a-brand-new-password"


def _link(console: Console, index: int) -> str:
    """The path of the ``index``-th reset link the sink received (the security notices
    between them carry none)."""
    links = []
    for message in console.sink.messages:
        payload = message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        match = re.search(r"http://127\.0\.0\.1:\d+(/reset/\S+)", payload.decode())
        if match is not None:
            links.append(match.group(1))
    return links[index]


def _subjects(console: Console) -> list[str]:
    return [str(message["Subject"]) for message in console.sink.messages]


async def _code(b: Owner, code: str) -> None:
    await b.wait_for("#code-form")
    await b.fill({"code": code})
    await b.submit("code-submit")


async def _sign_out(b: Owner) -> None:
    await b.submit("logout")
    await b.wait_for("#login-form")


@pytest.mark.parametrize("width", [1280, 390])
async def test_two_step_sign_in_and_reset_in_a_real_browser(console: Console, shots: Path,
                                                            width: int) -> None:
    out = shots / f"2fa-{width}"
    out.mkdir(parents=True, exist_ok=True)
    clock = console.clock
    with chromium_at(width) as driver:
        b = Owner(driver, console.url, out)
        await b.sign_in(OWNER, PASSWORD)
        await b.wait_for("header.top nav")

        # Enrol: the password, then the key (typed into the app), then its first code.
        await b.page("/settings", "#factor-start-form", "00-settings-off")
        await b.fill({"start-owner_password": PASSWORD})
        await b.submit("factor-start")
        await b.wait_for("#totp-secret")
        await b.fits("01-key-shown")
        await b.shot("01-key-shown")
        shown = str(await b.do(lambda: b.text("#totp-secret"))).replace(" ", "")
        key = base64.b32decode(shown + "=" * (-len(shown) % 8))
        uri = str(await b.do(lambda: driver.find_element(By.ID, "totp-uri")
                              .get_attribute("value")))
        assert uri.startswith("otpauth://totp/") and f"secret={shown}" in uri
        qr = await b.do(lambda: driver.execute_script(
            "const r = document.querySelector('#totp-qr svg').getBoundingClientRect();"
            "return [r.width, r.height, r.right <= window.innerWidth];"))
        assert qr[0] >= 150 and qr[1] >= 150 and qr[2], qr  # drawn, whole, inside the window
        await b.fill({"confirm-code": totp.totp(key, clock.now)})
        await b.submit("factor-confirm")
        await b.wait_for("#recovery-codes")
        assert "Two-step sign-in is on" in await b.notice()
        codes = await b.do(lambda: [e.text for e in driver.find_elements(
            By.CSS_SELECTOR, "#recovery-codes code")])
        assert len(codes) == 10
        await b.fits("02-recovery-codes")
        await b.shot("02-recovery-codes")

        # Sign out, sign in: the password, then the app's code.
        clock.now += totp.STEP_S
        await _sign_out(b)
        await b.sign_in(OWNER, PASSWORD)
        await b.wait_for("#code-form")
        await b.fits("03-code-step")
        await b.shot("03-code-step")
        used = totp.totp(key, clock.now)
        await _code(b, used)
        await b.wait_for("header.top nav")
        assert await b.do(lambda: driver.current_url) == console.url + "/"

        # The same code again is refused; a recovery code gets in instead.
        await _sign_out(b)
        await b.sign_in(OWNER, PASSWORD)
        await _code(b, used)
        await b.wait_for("#code-error")
        assert "already used" in await b.do(lambda: b.text("#code-error"))
        await b.fits("04-code-replayed")
        await b.shot("04-code-replayed")
        await _code(b, codes[0])
        await b.wait_for("header.top nav")
        await b.page("/settings", "#factor-state", "05-settings-on")
        assert "9 recovery codes left" in await b.do(lambda: b.text("#factor-state"))

        # Forgot password: the link from the real SMTP sink sets a new one, once.
        await _sign_out(b)
        await b.click("forgot-link")
        await b.wait_for("#forgot-form")
        await b.fill({"forgot-email": OWNER})
        await b.submit("forgot-submit")
        await b.wait_for("#forgot-sent")
        await b.fits("06-forgot-sent")
        await b.shot("06-forgot-sent")
        await console.sink.wait_for(2)  # the notice that two-step sign-in is on, the link
        assert _subjects(console) == ["MT Gateway: two-step sign-in was turned on",
                                      "MT Gateway: reset your console password"]
        link = _link(console, 0)
        await b.page(link, "#reset-form", "07-reset-form")
        await b.fill({"acct-new_password": NEW_PASSWORD, "acct-new_password2": NEW_PASSWORD})
        await b.submit("reset-submit")
        await b.wait_for("#login-notice")
        assert "Password set" in await b.do(lambda: b.text("#login-notice"))
        await b.page(link, "#reset-gone", "08-link-used")

        # The new password signs in, and the second factor is still asked for.
        clock.now += totp.STEP_S
        await b.sign_in(OWNER, NEW_PASSWORD)
        await _code(b, totp.totp(key, clock.now))
        await b.wait_for("header.top nav")

        # A link past its 30 minutes is refused.
        await _sign_out(b)
        await b.open("/forgot")
        await b.wait_for("#forgot-form")
        await b.fill({"forgot-email": OWNER})
        await b.submit("forgot-submit")
        await b.wait_for("#forgot-sent")
        await console.sink.wait_for(4)  # and the notice of the reset, then this link
        assert "MT Gateway: your console password was reset" in _subjects(console)
        clock.now += TTL_S
        await b.page(_link(console, 1), "#reset-gone", "09-link-expired")


@pytest.mark.parametrize("width", [1280, 390])
async def test_taking_the_account_back_in_a_real_browser(console: Console, shots: Path,
                                                         width: int) -> None:
    """Review round 5 (the owner's side): someone with the password turned two-step sign-in
    on. The owner opens the link from the notice, sets a new password, signs in without a
    code, finds the signed-in sessions on the settings page (this browser, and a bot signed
    in to the console API) and signs out everywhere, the bot too; the spent link then says
    what still works. Every page fits the window."""
    out = shots / f"recover-{width}"
    out.mkdir(parents=True, exist_ok=True)
    thief = Browser(console.url)
    try:
        await enrol(console, thief)
        (notice,) = await console.sink.wait_for(1)
        payload = notice.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found = re.search(re.escape(console.url) + r"(/recover/\S+)", payload.decode())
        assert found is not None
        link = found.group(1)
        with chromium_at(width) as driver:
            b = Owner(driver, console.url, out)
            await b.page(link, "#recover-form", "00-take-back")
            assert "o***@example.com" in await b.do(lambda: b.text("#recover-what"))
            await b.fill({"acct-new_password": NEW_PASSWORD,
                          "acct-new_password2": NEW_PASSWORD})
            await b.submit("recover-submit")
            await b.wait_for("#login-notice")
            assert "Two-step sign-in is off" in await b.do(lambda: b.text("#login-notice"))
            await b.fits("01-taken-back")
            await b.shot("01-taken-back")
            assert (await thief.get("/")).status == 303  # the thief was signed out

            await b.sign_in(OWNER, NEW_PASSWORD)  # no code step any more
            await b.wait_for("header.top nav")
            async with console.session.post(console.url + "/api/auth/login", data={
                    "username": OWNER, "password": NEW_PASSWORD},
                    headers={"User-Agent": "desk-bot/2.1"}) as signed:
                token = (await signed.json())["access_token"]
            await b.page("/settings", "#sessions-card", "02-settings")
            await b.click("sessions-link")
            await b.wait_for("#sessions")
            rows = await b.do(lambda: driver.find_elements(By.CSS_SELECTOR,
                                                           "#sessions tbody tr"))
            assert len(rows) == 1
            assert "this browser" in await b.do(lambda: b.text("#sessions tbody tr"))
            bots = await b.do(lambda: driver.find_elements(By.CSS_SELECTOR,
                                                           "#api-sessions tbody tr"))
            assert len(bots) == 1  # the bot's API sign-in, listed beside the browsers
            assert "desk-bot/2.1" in await b.do(lambda: b.text("#api-sessions tbody tr"))
            await b.fits("03-sessions")
            await b.shot("03-sessions")
            await b.submit("end-all")
            await b.wait_for("#confirm-form")
            await b.fits("04-sign-out-everywhere")
            await b.shot("04-sign-out-everywhere")
            await b.submit("confirm-yes")
            await b.wait_for("#login-form")
            async with console.session.get(console.url + "/api/users/", headers={
                    "Authorization": f"Bearer {token}"}) as ended:
                assert ended.status == 401  # signed out everywhere: the bot too
            await b.page(link, "#recover-gone", "05-link-spent")
            assert "mtgateway owner reset-2fa" in await b.do(lambda: b.text("#recover-gone"))
    finally:
        await thief.close()

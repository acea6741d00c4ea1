"""The second factor and password reset over real HTTP on loopback (issue 35 item 4).

A real console with a real SMTP sink (aiosmtpd) and the test's clocks (``consolekit``): each
code is computed by the test from the secret the settings page shows, at the console's
injected time, so steps pass without sleeping. The same flows in a real browser:
``test_console_2fa_browser.py``.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys

import pytest

from gateway.auth.owner import OwnerConsole
from mtgateway_base.wire.api import AuthorityRefused
from mtgateway_console import totp
from mtgateway_console.appkeys import OWNER_THROTTLE
from mtgateway_console.console import AUTHORITY
from mtgateway_console.service.resets import TTL_S
from mtgateway_console.web.sessions import STEP_S, STEP_TRIES
from tests.e2e.consolekit import OWNER, PASSWORD, Browser, Console, signed_in
from tests.e2e.factorkit import code_step, codes_of, enrol, password_step

pytestmark = pytest.mark.network_edge


async def test_sign_in_asks_for_the_code_and_a_code_is_spent_once(console: Console,
                                                                   browser: Browser) -> None:
    key, _ = await enrol(console, browser)
    await browser.post("/logout", {"csrf": (await browser.get("/")).csrf()})
    await password_step(browser)
    assert (await browser.get("/")).status == 303  # half signed in is not signed in
    code = totp.totp(key, console.clock.now)
    assert await code_step(browser, code) == 303
    assert (await browser.get("/")).status == 200
    other = Browser(console.url)
    try:
        await password_step(other)
        assert await code_step(other, code) == 401  # the same code, replayed
        assert (await other.get("/")).status == 303
    finally:
        await other.close()


async def test_a_recovery_code_signs_in_once(console: Console, browser: Browser) -> None:
    _, codes = await enrol(console, browser)
    fresh = Browser(console.url)
    try:
        await password_step(fresh)
        assert await code_step(fresh, codes[3].upper()) == 303
        assert (await fresh.get("/")).status == 200
    finally:
        await fresh.close()
    again = Browser(console.url)
    try:
        await password_step(again)
        assert await code_step(again, codes[3]) == 401
    finally:
        await again.close()
    settings = await browser.get("/settings")
    assert "9 recovery codes left" in settings.text


async def test_the_code_step_expires_and_allows_a_few_tries(console: Console,
                                                            browser: Browser) -> None:
    key, _ = await enrol(console, browser)
    late = Browser(console.url)
    try:
        await password_step(late)
        console.clock.now += STEP_S
        form = await late.get("/login/code")
        assert form.status == 303 and form.headers["Location"] == "/login"
        pre = await late.get("/login")
        answer = await late.post("/login/code", {"csrf": pre.csrf(),
                                                 "code": totp.totp(key, console.clock.now)})
        assert answer.status == 401 and "took too long" in answer.text
        assert (await late.get("/")).status == 303
        await password_step(late)
        wrong = "000000" if totp.totp(key, console.clock.now) != "000000" else "111111"
        for _ in range(STEP_TRIES - 1):
            assert await code_step(late, wrong) == 401
        form = await late.get("/login/code")
        last = await late.post("/login/code", {"csrf": form.csrf(), "code": wrong})
        assert last.status == 401 and "Too many wrong codes" in last.text
        assert (await late.get("/login/code")).status == 303  # the step is over
    finally:
        await late.close()
    # every wrong code paid the owner throttle's delay (counted with wrong passwords)
    assert len(console.pauses.delays) >= STEP_TRIES


async def test_turning_off_and_new_codes_need_the_password_and_a_code(
        console: Console, browser: Browser) -> None:
    key, codes = await enrol(console, browser)
    refused = await browser.submit("/settings", "/settings/2fa/disable",
                                   {"owner_password": PASSWORD, "code": ""})
    assert refused.status == 401 and "Enter the code from your app." in refused.text
    refused = await browser.submit("/settings", "/settings/2fa/codes",
                                   {"owner_password": "wrong password", "code":
                                    totp.totp(key, console.clock.now)})
    assert refused.status == 401 and "Wrong password." in refused.text
    fresh = await browser.submit("/settings", "/settings/2fa/codes",
                                 {"owner_password": PASSWORD,
                                  "code": totp.totp(key, console.clock.now)})
    assert fresh.status == 200 and len(codes_of(fresh.text)) == 10
    assert not set(codes_of(fresh.text)) & set(codes)
    off = await browser.submit("/settings", "/settings/2fa/disable",
                               {"owner_password": PASSWORD, "code": codes_of(fresh.text)[0]})
    assert off.status == 303
    assert not await console.app[AUTHORITY].second_factor.enrolled(OWNER)
    other = Browser(console.url)
    try:
        signed = await other.sign_in(OWNER, PASSWORD)
        assert signed.status == 303 and signed.headers["Location"] == "/"
    finally:
        await other.close()


async def test_the_owner_api_and_the_cli_client_need_the_code(console: Console,
                                                              browser: Browser) -> None:
    key, codes = await enrol(console, browser)
    status, body = await console.owner("GET", "/v1/tokens")
    assert status == 401 and body["error"]["reason"] == "second_factor_required"
    assert "X-Owner-Code" in body["error"]["message"]
    status, body = await console.owner("GET", "/v1/tokens", auth=(OWNER, "wrong password"))
    assert status == 401 and body["error"]["reason"] == "bad_credentials"  # no code asked
    plain = OwnerConsole(console.url, console.pinned())
    with pytest.raises(AuthorityRefused) as refused:
        await plain.list_tokens(OWNER, PASSWORD)
    assert refused.value.reason == "second_factor_required"
    asked: list[str] = []

    def ask() -> str:
        asked.append("code")
        return totp.totp(key, console.clock.now)

    cli = OwnerConsole(console.url, console.pinned(), code=ask)
    assert await cli.list_tokens(OWNER, PASSWORD) == []
    with pytest.raises(AuthorityRefused) as replay:  # the same step's code again
        await cli.list_tokens(OWNER, PASSWORD)
    assert replay.value.reason == "bad_second_factor"
    assert asked == ["code", "code"]
    recovery = OwnerConsole(console.url, console.pinned(), code=lambda: codes[0])
    assert await recovery.list_tokens(OWNER, PASSWORD) == []


async def test_forgot_password_by_the_link_from_the_smtp_sink(console: Console,
                                                              browser: Browser) -> None:
    key, _ = await enrol(console, browser)
    [notice] = await console.sink.wait_for(1)
    assert notice["To"] == OWNER
    assert notice["Subject"] == "MT Gateway: two-step sign-in was turned on"
    stranger = Browser(console.url)
    try:
        form = await stranger.get("/forgot")
        unknown = await stranger.post("/forgot", {"csrf": form.csrf(),
                                                  "email": "nobody@example.com"})
        form = await stranger.get("/forgot")
        known = await stranger.post("/forgot", {"csrf": form.csrf(), "email": OWNER})
        assert unknown.status == known.status == 200
        assert unknown.text == known.text  # the same answer: no enumeration
        _, mail = await console.sink.wait_for(2)
        assert mail["To"] == OWNER
        body = mail.get_payload(decode=True)
        assert isinstance(body, bytes)
        link = re.search(r"(http://127\.0\.0\.1:\d+)(/reset/\S+)", body.decode())
        assert link is not None and link.group(1) == console.url
        path = link.group(2)
        opened = await stranger.get(path)
        assert opened.status == 200 and 'id="reset-form"' in opened.text
        opened = await stranger.get(path)  # opening twice spends nothing
        mismatch = await stranger.post(path, {"csrf": opened.csrf(), "new_password":
                                              "a brand new password", "new_password2": "x"})
        assert mismatch.status == 400
        done = await stranger.post(path, {"csrf": mismatch.csrf(),
                                          "new_password": "a brand new password",
                                          "new_password2": "a brand new password"})
        assert done.status == 200 and "Password set." in done.text
        *_, told = await console.sink.wait_for(3)  # the owner hears of it at once
        assert told["To"] == OWNER
        assert told["Subject"] == "MT Gateway: your console password was reset"
        again = await stranger.get(path)
        assert again.status == 410 and "expired or was already used" in again.text
        fresh_form = await stranger.get("/forgot")  # a gone link's page has no form
        reuse = await stranger.post(path, {"csrf": fresh_form.csrf(),
                                           "new_password": "another new password",
                                           "new_password2": "another new password"})
        assert reuse.status == 410
    finally:
        await stranger.close()
    ended = await browser.get("/")  # the owner's sessions ended, and the browser says why
    assert (ended.status, ended.headers["Location"]) == (303, "/login?after=password_reset")
    assert "your console password was reset with a link" in \
        (await browser.get(ended.headers["Location"])).text
    assert (await browser.sign_in(OWNER, PASSWORD)).status == 401
    await password_step(browser, "a brand new password")  # the second factor stays on
    assert await code_step(browser, totp.totp(key, console.clock.now)) == 303


async def test_an_expired_reset_link_is_refused(console: Console, browser: Browser) -> None:
    form = await browser.get("/forgot")
    await browser.post("/forgot", {"csrf": form.csrf(), "email": OWNER})
    [mail] = await console.sink.wait_for(1)
    body = mail.get_payload(decode=True)
    assert isinstance(body, bytes)
    link = re.search(r"http://127\.0\.0\.1:\d+(/reset/\S+)", body.decode())
    assert link is not None
    console.clock.now += TTL_S
    page = await browser.get(link.group(1))
    assert page.status == 410
    form = await browser.get("/forgot")  # a gone link's page has no form
    answer = await browser.post(link.group(1), {"csrf": form.csrf(),
                                                "new_password": "a brand new password",
                                                "new_password2": "a brand new password"})
    assert answer.status == 410
    await signed_in(browser)  # the old password still works


async def _cli(console: Console, **env: str) -> tuple[int, str, str]:
    """``python -m gateway token list`` against the console, its owner secrets in ``env``
    only (standard input is not a terminal: nothing can be prompted)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_OWNER_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "token", "list", "--console", console.url,
        "--console-key", console.pinned().b64, "--email", OWNER,
        env={**base, "MTGATEWAY_OWNER_PASSWORD": PASSWORD, **env},
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_the_cli_sends_the_code_or_says_how(console: Console, browser: Browser) -> None:
    key, _ = await enrol(console, browser)
    code, _, err = await _cli(console)
    assert code == 2, err
    assert "two-step sign-in" in err and "MTGATEWAY_OWNER_CODE" in err
    right = totp.totp(key, console.clock.now)
    code, out, err = await _cli(console, MTGATEWAY_OWNER_CODE=right)
    assert (code, out.strip()) == (0, "no tokens"), err
    code, _, err = await _cli(console, MTGATEWAY_OWNER_CODE=right)  # spent
    assert code == 1 and "bad_second_factor" in err and "next code" in err


async def test_a_password_change_ends_half_done_sign_ins(console: Console,
                                                        browser: Browser) -> None:
    key, _ = await enrol(console, browser)
    thief = Browser(console.url)  # had the old password, waits at the code step
    try:
        await password_step(thief)
        changed = await browser.submit("/settings", "/settings/password", {
            "owner_password": PASSWORD, "new_password": "a brand new password",
            "new_password2": "a brand new password"})
        assert changed.status == 303
        form = await thief.get("/login/code")
        assert form.status == 303 and form.headers["Location"] == "/login"
        pre = await thief.get("/login")
        answer = await thief.post("/login/code", {"csrf": pre.csrf(),
                                                  "code": totp.totp(key, console.clock.now)})
        assert answer.status == 401 and (await thief.get("/")).status == 303
    finally:
        await thief.close()


async def test_no_code_is_checked_during_a_lockout_whatever_the_door(
        console: Console, browser: Browser) -> None:
    """Review round 5, T5-F1: for an owner with a second factor, nothing is vouched before
    the password *and* a code succeeded, and no code is checked during a lockout. The
    console vouched for the password alone (a right password on the sign-in page, or any
    successful API call), so an attacker who knew the password had every code checked at
    once on the owner API, during the lockout too, and a right recovery code got in."""
    key, codes = await enrol(console, browser)
    # The owner's CLI signed in with the password and a code before (it used to vouch).
    assert (await console.owner("GET", "/v1/tokens",
                                code=totp.totp(key, console.clock.now)))[0] == 200
    console.clock.now += totp.STEP_S
    # The attacker has the password: the page's first step (a step cookie, no session).
    thief = Browser(console.url)
    try:
        await password_step(thief)
        throttle = console.app[OWNER_THROTTLE]
        right = totp.totp(key, console.clock.now)
        wrong = next(c for c in ("000000", "111111", "222222")
                     if c not in {totp.totp(key, console.clock.now + d * totp.STEP_S)
                                  for d in (-1, 0, 1)})
        for _ in range(throttle.limit + 1):  # each one checked, failed and counted
            status, body = await console.owner("GET", "/v1/tokens", code=wrong)
            assert (status, body["error"]["reason"]) == (401, "bad_second_factor")
        # The lockout is on: no code is checked, right or wrong, on any door.
        for code in (wrong, right, codes[0]):
            status, body = await console.owner("GET", "/v1/tokens", code=code)
            assert (status, body["error"]["reason"]) == (429, "rate_limited"), code
        assert (await console.owner("GET", "/v1/tokens", auth=(OWNER, "wrong password"),
                                    code=right))[0] == 429
        assert await code_step(thief, right) == 429
        assert (await thief.sign_in(OWNER, PASSWORD)).status == 429
        assert (await console.app[AUTHORITY].second_factor.status(OWNER)).recovery_left == 10
        # Nothing was spent: once the lockout is over the same right code is good.
        console.throttle_clock.now += throttle.lockout_s
        assert (await console.owner("GET", "/v1/tokens", code=right))[0] == 200
    finally:
        await thief.close()


async def test_a_browser_signed_out_by_two_step_sign_in_elsewhere_is_told_why(
        console: Console, browser: Browser) -> None:
    """The phone is signed in; the desk turns two-step sign-in on, which signs every other
    browser out. The phone's next page sends it to the sign-in page saying why (it was the
    bare sign-in page); its dead cookie is cleared; a browser that merely signed out, or
    never signed in, is told nothing."""
    phone = Browser(console.url)
    try:
        assert (await phone.sign_in(OWNER, PASSWORD)).status == 303
        assert (await phone.get("/")).status == 200
        await enrol(console, browser)
        answer = await phone.get("/")
        assert (answer.status, answer.headers["Location"]) == (303, "/login?after=two_step_on")
        assert any(c.startswith("mtgw_session=") and "Max-Age=0" in c
                   for c in answer.set_cookies), answer.set_cookies
        page = await phone.get(answer.headers["Location"])
        assert "two-step sign-in was turned on for your account from another browser" in \
            page.text
        assert 'id="login-notice"' in page.text
        again = await phone.get("/")  # the cookie is gone: a plain sign-in page now
        assert (again.status, again.headers["Location"]) == (303, "/login")
    finally:
        await phone.close()
    stranger = Browser(console.url)
    try:
        answer = await stranger.get("/")
        assert (answer.status, answer.headers["Location"]) == (303, "/login")
    finally:
        await stranger.close()

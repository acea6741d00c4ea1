"""Everything that speaks for an owner ends together: a console-API token (the MT4 Web API's
bearer), a page session and a half-done sign-in are all ended by a password change, the second
factor turned on or off or reset by the operator, "Sign out everywhere" and a take-back; the
sessions page lists each of them (the API's sign-ins with their browser or bot, the live
take-back links) and ends an API sign-in one by one.

The real console with its real SMTP sink and the test's clocks (``consolekit``); the
operator's command runs as a process against the console's own database.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest

from mtgateway_console import totp
from mtgateway_console.console import AUTHORITY
from tests.e2e.consolekit import OWNER, PASSWORD, Browser, Console, signed_in
from tests.e2e.factorkit import enrol, reset_2fa

pytestmark = pytest.mark.network_edge

#: An API sign-in's row on the sessions page: its id and what signed in.
ROW = r'<tr data-api-session="([A-Za-z0-9_-]+)">\s*<td data-label="Signed in by">([^<]+)<'
ACCOUNT = {"name": "Paper desk", "broker": "MetaQuotes", "login": 5012345,
           "server": "MTG-Demo", "max_lot_size": 0.1, "paper_trade_enabled": True}


async def api_login(console: Console, code: str = "", agent: str = "bot/1.0"
                    ) -> tuple[int, dict[str, Any]]:
    """``POST /api/auth/login`` (with ``otp`` when ``code`` is given) as a bot saying
    ``agent``."""
    form = {"username": OWNER, "password": PASSWORD, **({"otp": code} if code else {})}
    async with console.session.post(console.url + "/api/auth/login", data=form,
                                    headers={"User-Agent": agent}) as response:
        return response.status, await response.json()


async def token_of(console: Console, code: str = "", agent: str = "bot/1.0") -> str:
    status, body = await api_login(console, code, agent)
    assert status == 200, body
    return str(body["access_token"])


async def api(console: Console, token: str, method: str = "GET", path: str = "/api/users/",
              body: Any = None) -> tuple[int, dict[str, Any]]:
    async with console.session.request(method, console.url + path, json=body, headers={
            "Authorization": f"Bearer {token}"}) as response:
        return response.status, await response.json()


async def assert_ended(console: Console, token: str) -> None:
    status, body = await api(console, token)
    assert (status, body["data"]["reason"]) == (401, "token_revoked"), body


async def test_turning_two_step_sign_in_on_ends_the_api_tokens_made_without_it(
        console: Console, browser: Browser) -> None:
    """A token made with the password alone is refused once the owner turns two-step
    sign-in on (with the password it can no longer loosen a policy either); the browser that
    turned it on stays signed in, every other one is signed out; a new token needs the
    code."""
    before = await token_of(console)
    assert (await api(console, before, "POST", "/api/users/", ACCOUNT))[0] == 201
    other = Browser(console.url)
    try:
        await signed_in(other)
        key, _ = await enrol(console, browser)
        await assert_ended(console, before)
        status, body = await api(console, before, "PUT", "/api/users/5012345", {
            "paper_trade_enabled": False, "max_lot_size": 50, "owner_password": PASSWORD})
        assert status == 401 and body["data"]["reason"] == "token_revoked"
        assert (await browser.get("/settings")).status == 200  # the one that turned it on
        assert (await other.get("/settings")).status == 303  # signed out
    finally:
        await other.close()
    status, body = await api_login(console)
    assert (status, body["data"]["reason"]) == (401, "second_factor_required")
    after = await token_of(console, totp.totp(key, console.clock.now))
    assert (await api(console, after))[0] == 200
    [account] = await console.app[AUTHORITY].accounts.of(OWNER)
    assert account.paper_trade_enabled and account.max_lot_size == "0.1"


async def test_turning_two_step_sign_in_off_ends_the_api_tokens_made_with_it(
        console: Console, browser: Browser) -> None:
    """Off is a change of how the owner signs in too: the tokens made with the code end."""
    key, _ = await enrol(console, browser)
    token = await token_of(console, totp.totp(key, console.clock.now))
    console.clock.now += totp.STEP_S
    off = await browser.submit("/settings", "/settings/2fa/disable", {
        "owner_password": PASSWORD, "code": totp.totp(key, console.clock.now)})
    assert off.status == 303
    await assert_ended(console, token)
    assert (await browser.get("/settings")).status == 200


async def test_signing_out_everywhere_ends_the_api_tokens_too(console: Console,
                                                               browser: Browser) -> None:
    """"Sign out everywhere" ends the API's sign-ins with the browsers' sessions."""
    token = await token_of(console)
    assert (await api(console, token))[0] == 200
    await signed_in(browser)
    asked = await browser.submit("/settings/sessions", "/settings/sessions/end-all", {})
    assert "API" in html.unescape(asked.text)  # the confirmation says what ends
    done = await browser.post("/settings/sessions/end-all",
                              {"csrf": asked.csrf(), "confirm": "yes"})
    assert done.status == 303 and done.headers["Location"] == "/login?after=everywhere"
    await assert_ended(console, token)
    fresh = await token_of(console)
    assert (await api(console, fresh))[0] == 200  # signing in again works


async def test_the_operators_reset_ends_every_api_token(console: Console, browser: Browser,
                                                        tmp_path: Path) -> None:
    """``mtgateway owner reset-2fa`` ends the tokens made before two-step sign-in was on
    (password alone) and after (password and code), as it ends the browsers' sessions."""
    plain = await token_of(console)
    key, _ = await enrol(console, browser)
    with_code = await token_of(console, totp.totp(key, console.clock.now))
    assert (await api(console, with_code))[0] == 200
    code, out, err = await reset_2fa(console, tmp_path, OWNER)
    assert code == 0, err
    await assert_ended(console, plain)
    await assert_ended(console, with_code)
    assert "API" in out  # it says the API's sign-ins ended too
    assert (await browser.get("/settings")).status == 303


async def test_the_sessions_page_lists_the_api_sign_ins_and_ends_one(
        console: Console, browser: Browser) -> None:
    """Each API sign-in is listed with what signed in (its User-Agent), from where, when and
    when last used; "Sign out" ends that one at once and no other, and is noted in the
    Activity."""
    desk = await token_of(console, agent="desk-bot/2.1")
    night = await token_of(console, agent="night-bot/0.9")
    console.clock.now += 120
    assert (await api(console, night))[0] == 200
    await signed_in(browser)
    page = await browser.get("/settings/sessions")
    text = html.unescape(page.text)
    assert "desk-bot/2.1" in text and "night-bot/0.9" in text
    assert text.index("night-bot/0.9") < text.index("desk-bot/2.1")  # latest use first
    rows = re.findall(ROW, page.text)
    assert sorted(agent for _, agent in rows) == ["desk-bot/2.1", "night-bot/0.9"]
    [desk_id] = [key for key, agent in rows if agent == "desk-bot/2.1"]
    ended = await browser.post(f"/settings/sessions/api/{desk_id}/end", {"csrf": page.csrf()})
    assert ended.status == 303
    await assert_ended(console, desk)
    assert (await api(console, night))[0] == 200
    again = await browser.get("/settings/sessions")
    assert "Signed out: the API sign-in of desk-bot/2.1" in html.unescape(again.text)
    assert [agent for _, agent in re.findall(ROW, again.text)] == ["night-bot/0.9"]
    activity = html.unescape((await browser.get("/activity")).text)
    assert "desk-bot/2.1" in activity
    stranger = await browser.post(f"/settings/sessions/api/{'x' * 16}/end",
                                  {"csrf": page.csrf()})
    assert stranger.status == 303  # nothing of the owner's: "had already ended"
    assert (await api(console, night))[0] == 200


async def test_a_password_change_keeps_this_browser_and_ends_everything_else(
        console: Console, browser: Browser) -> None:
    """The settings page's password change ends the API's sign-ins and every other browser,
    and keeps the browser that made it."""
    token = await token_of(console)
    other = Browser(console.url)
    try:
        await signed_in(other)
        await signed_in(browser)
        changed = await browser.submit("/settings", "/settings/password", {
            "owner_password": PASSWORD, "new_password": "another long password",
            "new_password2": "another long password"})
        assert changed.status == 303
        await assert_ended(console, token)
        assert (await other.get("/settings")).status == 303
        assert (await browser.get("/settings")).status == 200
    finally:
        await other.close()

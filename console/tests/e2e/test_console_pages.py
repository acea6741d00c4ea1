"""The console's web pages over real HTTP on loopback, with their web-security rules.

A :class:`~tests.e2e.consolekit.Browser` keeps cookies and posts forms with the CSRF token
read from the page, like a browser without JavaScript. The console's epoch clock is the
test's, so session expiry and "daemon not heard from" are reached without sleeping; the
owner throttle's sleep returns at once and records its delays
(:class:`~tests.e2e.consolekit.Pauses`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from mtgateway.credential import token_hint
from mtgateway_base.guard import ConnectionLimits
from mtgateway_console.config import ConsoleConfig, ConsoleFile
from mtgateway_console.console import AUTHORITY, CONNECTIONS, create_console_app, start_console
from mtgateway_console.service.common import risk_of
from mtgateway_console.tables.reports import SILENT_AFTER_S
from mtgateway_console.web import PAGES, ROOMS
from mtgateway_console.web.security import CSP, SESSION_COOKIE
from mtgateway_console.web.sessions import ABSOLUTE_S, IDLE_S
from tests.e2e.consolekit import (
    OWNER,
    PASSWORD,
    Browser,
    Clock,
    Console,
    CountingClock,
    Pauses,
    create_token,
    signed_in,
)
from tests.e2e.fixtures import WAIT_S
from tests.e2e.tlskit import self_signed

#: What a console of this release says it takes, in every report's answer.
TAKEN = ["digits", "book", "live_book", "poll_report", "server_offset"]

#: The console's pages are a network edge like the daemon's: both event loops.
pytestmark = pytest.mark.network_edge

POST_ROUTES = ["/logout", "/tokens", "/tokens/tok_x/revoke", "/tokens/tok_x/label",
               "/devices/D/allow", "/devices/D/revoke-token", "/devices/D/revoke",
               "/devices/D/forget", "/accounts", "/accounts/1/risk"]
PAGES_ROUTES = ["/", "/tokens", "/devices", "/accounts", "/activity"]
#: The pages a browser sees before sign-in (the kit's ``before_sign_in``).
PUBLIC_ROUTES = {"/login", "/login/code", "/forgot", "/reset/{token}", "/recover/{token}"}
#: The parts of a page its script fetches again (the kit's ``signed_in_part``: 401).
PART_ROUTES = {"/dashboard/rows", "/dashboard/books", "/live/panels", "/live/stream"}


# -- sign-in and sessions ------------------------------------------------------------------

async def test_pages_need_a_session_and_sign_in_leads_to_the_dashboard(
        console: Console, browser: Browser) -> None:
    for path in PAGES_ROUTES:
        answer = await browser.get(path)
        assert answer.status == 303 and answer.headers["Location"] == "/login", path
    await signed_in(browser)
    dashboard = await browser.get("/")
    assert dashboard.status == 200 and "Terminals" in dashboard.text
    assert OWNER in dashboard.text
    for path in PAGES_ROUTES:
        assert (await browser.get(path)).status == 200, path


async def test_session_cookie_is_httponly_samesite_strict_and_not_secure_on_plain_http(
        console: Console, browser: Browser) -> None:
    answer = await browser.sign_in(OWNER, PASSWORD)
    cookie = next(c for c in answer.set_cookies if c.startswith("mtgw_session="))
    attributes = [a.strip().lower() for a in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes  # a browser drops a Secure cookie set over http


async def test_session_cookie_is_secure_under_tls(tmp_path: Path) -> None:
    server_ctx, client_ctx = self_signed(tmp_path)
    config = ConsoleFile(data_dir=str(tmp_path / "data"), console=ConsoleConfig(port=0))
    app = create_console_app(config, clock=Clock(), throttle_clock=CountingClock(),
                             sleep=Pauses())
    runner, port = await start_console(app, "127.0.0.1", 0, ssl_context=server_ctx)
    try:
        await app[AUTHORITY].owners.create(OWNER, PASSWORD)
        connector = aiohttp.TCPConnector(ssl=client_ctx)
        async with aiohttp.ClientSession(connector=connector,
                                         cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            url = f"https://127.0.0.1:{port}"
            async with http.get(url + "/login") as response:
                form = await response.text()
                pre = response.headers.getall("Set-Cookie")
            csrf = re.search(r'name="csrf" value="([^"]+)"', form)
            assert csrf is not None
            assert all("secure" in [a.strip().lower() for a in c.split(";")] for c in pre)
            async with http.post(url + "/login", allow_redirects=False,
                                 data={"csrf": csrf.group(1), "email": OWNER,
                                       "password": PASSWORD}) as response:
                assert response.status == 303
                cookie = next(c for c in response.headers.getall("Set-Cookie")
                              if c.startswith("mtgw_session="))
        attributes = [a.strip().lower() for a in cookie.split(";")]
        assert {"secure", "httponly", "samesite=strict"} <= set(attributes)
    finally:
        await runner.cleanup()


async def test_a_session_ends_after_the_idle_time(console: Console, browser: Browser) -> None:
    await signed_in(browser)
    console.clock.now += IDLE_S - 1
    assert (await browser.get("/")).status == 200  # activity renews the idle time
    console.clock.now += IDLE_S - 1
    assert (await browser.get("/")).status == 200
    console.clock.now += IDLE_S
    answer = await browser.get("/")
    assert answer.status == 303 and answer.headers["Location"] == "/login"
    assert await console.app[PAGES].sessions.count() == 0  # forgotten, not just refused


async def test_a_busy_session_still_ends_at_the_absolute_time(
        console: Console, browser: Browser) -> None:
    await signed_in(browser)
    step = IDLE_S - 60
    elapsed = 0
    while elapsed + step < ABSOLUTE_S:
        console.clock.now += step
        elapsed += step
        assert (await browser.get("/tokens")).status == 200, elapsed
    console.clock.now += ABSOLUTE_S - elapsed
    answer = await browser.get("/tokens")
    assert answer.status == 303 and answer.headers["Location"] == "/login"


async def test_sign_out_ends_the_session(console: Console, browser: Browser) -> None:
    await signed_in(browser)
    old_cookie = browser.session.cookie_jar.filter_cookies(
        aiohttp.client.URL(console.url))["mtgw_session"].value
    answer = await browser.submit("/", "/logout", {})
    assert answer.status == 303 and answer.headers["Location"] == "/login"
    assert (await browser.get("/")).status == 303
    # the old cookie value is dead on the server, not only deleted in this browser
    browser.session.cookie_jar.update_cookies({"mtgw_session": old_cookie})
    assert (await browser.get("/")).status == 303


# -- CSRF ----------------------------------------------------------------------------------

async def test_every_state_changing_form_without_its_csrf_token_gets_403(
        console: Console, browser: Browser) -> None:
    await signed_in(browser)
    for path in POST_ROUTES:
        bare = await browser.post(path, {"login": "1", "server": "S", "name": "n"})
        assert bare.status == 403, path
        wrong = await browser.post(path, {"csrf": "x" * 43, "login": "1", "server": "S"})
        assert wrong.status == 403, path
    # nothing happened: still signed in, no token, no account
    assert (await browser.get("/")).status == 200
    assert await console.app[AUTHORITY].tokens.of(OWNER) == []
    assert await console.app[AUTHORITY].accounts.of(OWNER) == []


async def test_every_route_of_every_page_room_goes_through_the_kit(
        console: Console, browser: Browser) -> None:
    """Each route the page rooms mount (read from their tables, not listed here) is a page
    before sign-in or goes through the kit's signed-in prologue: signed out, a page sends
    the browser to sign in, a part answers 401 and a form 403; signed in, a form without the
    session's token is refused 403 too (confirmed, so a confirmation page cannot hide an
    action), and nothing happens. A room whose handler skips the kit fails here."""
    routes = [(d.method, d.path) for room in ROOMS for d in room.routes
              if isinstance(d, web.RouteDef)]
    assert all(any(isinstance(d, web.RouteDef) for d in room.routes) for room in ROOMS)
    assert PUBLIC_ROUTES | PART_ROUTES <= {path for _, path in routes}

    def url(path: str) -> str:
        return re.sub(r"\{[^}]+\}", "1", path)

    for method, path in routes:
        if method == "GET" and path not in PUBLIC_ROUTES:
            answer = await browser.get(url(path))
            if path in PART_ROUTES:
                assert answer.status == 401, path
            else:
                assert answer.status == 303 and answer.headers["Location"] == "/login", path
        elif method == "POST":  # a page before sign-in checks its own form's token
            assert (await browser.post(url(path), {"confirm": "yes"})).status == 403, path
    await signed_in(browser)
    for method, path in routes:
        if method == "POST" and path not in PUBLIC_ROUTES:
            for form in ({"confirm": "yes"}, {"confirm": "yes", "csrf": "x" * 43}):
                assert (await browser.post(url(path), form)).status == 403, path
    assert (await browser.get("/")).status == 200  # still signed in: even /logout was refused
    assert await console.app[AUTHORITY].tokens.of(OWNER) == []
    assert await console.app[AUTHORITY].accounts.of(OWNER) == []


async def test_sign_in_without_the_forms_token_gets_403_even_with_the_right_password(
        console: Console, browser: Browser) -> None:
    answer = await browser.post("/login", {"email": OWNER, "password": PASSWORD})
    assert answer.status == 403
    assert not [c for c in answer.set_cookies if c.startswith("mtgw_session=")]


async def test_another_sessions_csrf_token_is_refused(console: Console) -> None:
    first, second = Browser(console.url), Browser(console.url)
    try:
        await signed_in(first)
        await signed_in(second)
        theirs = (await first.get("/tokens")).csrf()
        answer = await second.post("/tokens", {"csrf": theirs, "login": "1", "server": "S",
                                               "scopes": "read"})
        assert answer.status == 403
    finally:
        await first.close()
        await second.close()


# -- headers, CSP, escaping ----------------------------------------------------------------

async def test_every_page_has_a_strict_csp_no_store_and_no_inline_script(
        console: Console, browser: Browser) -> None:
    login = await browser.get("/login")
    await signed_in(browser)
    await create_token(browser)
    pages = [login] + [await browser.get(p) for p in PAGES_ROUTES]
    for page in pages:
        assert page.headers["Content-Security-Policy"] == CSP
        assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        scripts = re.findall(r"<script\b[^>]*>", page.text)
        assert scripts and all('src="/static/' in s for s in scripts), scripts
        bodies = re.findall(r"<script\b[^>]*>(.*?)</script>", page.text, re.S)
        assert bodies and all(not b.strip() for b in bodies)  # no inline script
        assert re.search(r"\son[a-z]+=", page.text) is None  # no inline handlers
        assert re.search(r'\sstyle="', page.text) is None  # no inline styles
    static = await browser.get("/static/console.js")
    assert static.status == 200 and "addEventListener" in static.text


async def test_user_strings_render_as_text(console: Console, browser: Browser) -> None:
    await signed_in(browser)
    evil = "<script>alert(1)</script>"
    answer = await browser.submit("/accounts", "/accounts", {
        "name": evil, "broker": '"><img src=x>', "login": "777", "password": "pw",
        "server": "Evil<b>Server", "max_lot_size": "1", "risk_pct": "0.02"})
    assert answer.status == 303
    accounts = await browser.get("/accounts")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in accounts.text
    assert evil not in accounts.text and "<img src=x>" not in accounts.text
    assert "Evil&lt;b&gt;Server" in accounts.text
    activity = await browser.get("/activity")
    assert evil not in activity.text and "&lt;script&gt;" in activity.text


# -- the login throttle --------------------------------------------------------------------

async def test_the_login_throttle_applies_to_the_form(console: Console,
                                                      browser: Browser) -> None:
    """The form shares the API's owner throttle: each failure waits its delay, more than the
    limit locks out credentials not yet seen to succeed (429, checked not at all), and an
    owner who signed in before still gets in."""
    await signed_in(browser)  # this owner's credentials are now vouched for
    await browser.submit("/", "/logout", {})
    limit = ConsoleConfig().auth_failure_limit + 1  # more than the limit locks out
    for attempt in range(limit):
        answer = await browser.sign_in(OWNER, f"wrong {attempt}")
        assert answer.status == 401 and "Wrong e-mail or password" in answer.text
    assert len(console.pauses.delays) == limit  # each failure waited its delay
    locked = await browser.sign_in("nobody@example.com", "guess")
    assert locked.status == 429 and "Too many failed sign-ins" in locked.text
    assert int(locked.headers["Retry-After"]) > 0
    # the API's Basic auth is locked out by the form's failures: one allowance, not two
    status, body = await console.owner("GET", "/v1/tokens", auth=(OWNER, "wrong"))
    assert status == 429 and body["error"]["reason"] == "rate_limited"
    # the owner who signed in before still gets in
    await signed_in(browser)
    activity = await browser.get("/activity")
    assert activity.text.count('data-kind="login_failed"') == limit
    assert activity.text.count('data-kind="login"') == 2


# -- tokens --------------------------------------------------------------------------------

async def test_a_token_is_shown_once_and_never_again(
        console: Console, browser: Browser, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await signed_in(browser)
    created, token, token_id = await create_token(browser)
    assert created.headers["Cache-Control"] == "no-store"
    assert 'data-copy="new-token"' in created.text
    assert "shown this once" in created.text
    for path in PAGES_ROUTES:
        page = await browser.get(path)
        assert token not in page.text, path
    assert token_id in (await browser.get("/tokens")).text
    assert token not in caplog.text
    assert all(token not in r for r in console.responses)
    listed = await console.app[AUTHORITY].tokens.of(OWNER)
    assert [t["token_id"] for t in listed] == [token_id]
    assert token not in repr(listed)


async def test_token_form_errors_are_shown_next_to_the_field_and_keep_the_input(
        console: Console, browser: Browser) -> None:
    await signed_in(browser)
    answer = await browser.submit("/tokens", "/tokens", {"login": "abc",
                                                          "server": "Kept-Server",
                                                          "expires_days": "0"})
    assert answer.status == 400
    assert 'id="error-login"' in answer.text and 'id="error-scopes"' in answer.text
    assert 'id="error-expires_days"' in answer.text
    assert 'value="Kept-Server"' in answer.text
    assert await console.app[AUTHORITY].tokens.of(OWNER) == []


async def test_a_token_for_a_linked_account_takes_its_terminal_and_expiry(
        console: Console, browser: Browser) -> None:
    await signed_in(browser)
    await browser.submit("/accounts", "/accounts", {
        "name": "Demo", "broker": "MetaQuotes", "login": "4242", "password": "pw",
        "server": "MetaQuotes-Demo"})
    account = (await console.app[AUTHORITY].accounts.of(OWNER))[0]
    answer = await browser.submit("/tokens", "/tokens", [
        ("account_id", str(account.id)), ("scopes", "read"), ("expires_days", "7"),
        ("owner_password", PASSWORD)])
    assert answer.status == 201
    [token] = await console.app[AUTHORITY].tokens.of(OWNER)
    assert (token["login"], token["server"], token["scopes"]) == (4242, "MetaQuotes-Demo",
                                                                  ["read"])
    assert token["expires_at"] == token["created_at"] + 7 * 86400


async def test_revoking_a_token_on_the_page(console: Console, browser: Browser) -> None:
    await signed_in(browser)
    _, _, token_id = await create_token(browser)
    # the button asks first; nothing is revoked until the owner confirms
    asked = await browser.submit("/tokens", f"/tokens/{token_id}/revoke", {})
    assert asked.status == 200 and 'id="confirm-yes"' in asked.text
    assert "stops working at once" in asked.text
    assert (await console.app[AUTHORITY].tokens.of(OWNER))[0]["revoked_at"] is None
    answer = await browser.post(f"/tokens/{token_id}/revoke",
                                {"csrf": asked.csrf(), "confirm": "yes"})
    assert answer.status == 303 and answer.headers["Location"] == "/tokens"
    [token] = await console.app[AUTHORITY].tokens.of(OWNER)
    assert token["revoked_at"] is not None
    page = await browser.get("/tokens")
    assert "revoked" in page.text and f'id="revoke-{token_id}"' not in page.text
    assert f'id="notice">Token {token_id} revoked.' in page.text  # said once ...
    assert 'id="notice"' not in (await browser.get("/tokens")).text  # ... then gone
    activity = await browser.get("/activity")
    assert 'data-kind="token_created"' in activity.text
    assert 'data-kind="token_revoked"' in activity.text
    # someone else's (or no) token: 404, nothing changes
    assert (await browser.submit("/tokens", "/tokens/tok_nope/revoke", {})).status == 404


# -- accounts ------------------------------------------------------------------------------

async def test_registration_errors_are_shown_next_to_each_field(
        console: Console, browser: Browser) -> None:
    await signed_in(browser)
    answer = await browser.submit("/accounts", "/accounts", {
        "name": "", "broker": "B" * 101, "login": "-5", "password": "p" * 201,
        "server": "Kept", "max_lot_size": "101", "risk_pct": "abc", "account_type": "EUR"})
    assert answer.status == 400
    for field_name in ("name", "broker", "login", "password", "max_lot_size", "risk_pct",
                       "account_type"):
        assert f'id="error-{field_name}"' in answer.text, field_name
    assert 'id="error-server"' not in answer.text
    assert 'value="Kept"' in answer.text
    assert await console.app[AUTHORITY].accounts.of(OWNER) == []


async def test_a_registered_login_is_a_409_next_to_the_login(
        console: Console, browser: Browser) -> None:
    await signed_in(browser)
    fields = {"name": "A", "broker": "B", "login": "99", "password": "pw", "server": "S"}
    assert (await browser.submit("/accounts", "/accounts", fields)).status == 303
    again = await browser.submit("/accounts", "/accounts", fields)
    assert again.status == 409 and 'id="error-login"' in again.text
    assert "already exists" in again.text
    assert "pw" not in re.findall(r'name="password"[^>]*>', again.text)[0]


async def test_editing_the_risk_policy_reaches_the_signed_record(
        console: Console, browser: Browser) -> None:
    await signed_in(browser)
    await browser.submit("/accounts", "/accounts", {
        "name": "A", "broker": "B", "login": "5012345", "password": "pw",
        "server": "MTG-Demo", "auto_trade_enabled": "on"})
    account = (await console.app[AUTHORITY].accounts.of(OWNER))[0]
    bad = await browser.submit("/accounts", f"/accounts/{account.id}/risk",
                               {"max_lot_size": "500", "risk_pct": "0.5"})
    assert bad.status == 400 and "a number from 0 to 100" in bad.text
    ok = await browser.submit("/accounts", f"/accounts/{account.id}/risk", {
        "allowed_symbols": "EURUSD, BTCUSD", "max_lot_size": "2.5", "risk_pct": "0.05",
        "owner_password": PASSWORD})  # a higher lot cap and risk: loosening (T4-F5)
    assert ok.status == 303
    [after] = await console.app[AUTHORITY].accounts.of(OWNER)
    assert after.allowed_symbols == ("EURUSD", "BTCUSD")
    assert (after.max_lot_size, after.risk_pct, after.auto_trade_enabled) == ("2.5", "0.05",
                                                                              False)
    authority = console.app[AUTHORITY]
    risk = (await authority.run(risk_of, authority.store, 5012345, "MTG-Demo")).as_json()
    assert risk["max_lot_size"] in ("2.5", 2.5) and risk["auto_trade_enabled"] is False
    other = await browser.submit("/accounts", "/accounts/9999/risk", {"max_lot_size": "1"})
    assert other.status == 404


async def test_loosening_a_risk_limit_or_leaving_paper_asks_for_the_password(
        console: Console, browser: Browser) -> None:
    """Round-4 T4-F5, the review's reproduction first: with the session cookie alone, an
    account on paper (lot 0.1, risk 0.01) was switched to live with lot 100 and risk 1. Now
    each loosening alone (lot up, risk up, automated trading on, paper off, a symbol added,
    the list emptied: every symbol) answers 401 asking for the password and changes nothing,
    keeping what was typed; every tightening alone is one click; the right password saves."""
    status, _ = await console.owner("POST", "/v1/accounts", {
        "name": "Paper", "broker": "B", "login": 7301, "server": "Paper-Srv",
        "allowed_symbols": ["EURUSD", "GBPUSD"], "max_lot_size": 0.1, "risk_pct": 0.01,
        "auto_trade_enabled": False, "paper_trade_enabled": True})
    assert status == 201
    await signed_in(browser)
    [before] = await console.app[AUTHORITY].accounts.of(OWNER)
    risk = f"/accounts/{before.id}/risk"
    same = {"allowed_symbols": "EURUSD, GBPUSD", "max_lot_size": "0.1", "risk_pct": "0.01",
            "paper_trade_enabled": "on"}

    async def saved() -> tuple[object, ...]:
        [row] = await console.app[AUTHORITY].accounts.of(OWNER)
        return (row.allowed_symbols, row.max_lot_size, row.risk_pct, row.auto_trade_enabled,
                row.paper_trade_enabled)

    kept = await saved()
    review = await browser.submit("/accounts", risk, {
        "max_lot_size": "100", "risk_pct": "1", "auto_trade_enabled": "on"})
    assert review.status == 401, review.text
    assert "Enter your console password to confirm" in review.text
    assert "leave paper trading" in review.text and "raise the lot cap to 100" in review.text
    assert 'name="max_lot_size" inputmode="decimal" value="100"' in review.text  # kept
    assert await saved() == kept
    for change, words in [({"max_lot_size": "0.2"}, "raise the lot cap to 0.2"),
                          ({"risk_pct": "0.02"}, "raise the risk per trade to 0.02"),
                          ({"auto_trade_enabled": "on"}, "switch automated trading on"),
                          ({"paper_trade_enabled": ""}, "leave paper trading"),
                          ({"allowed_symbols": "EURUSD, gbpusd, XAUUSD"}, "allow XAUUSD"),
                          ({"allowed_symbols": ""}, "allow every symbol")]:
        answer = await browser.submit("/accounts", risk, {**same, **change})
        assert answer.status == 401 and words in answer.text, (change, answer.status)
        assert await saved() == kept, change
    wrong = await browser.submit("/accounts", risk, {**same, "max_lot_size": "5",
                                                     "owner_password": "not the password"})
    assert wrong.status == 401 and "Wrong password." in wrong.text and await saved() == kept
    tighter = dict(same)
    for change in ({}, {"max_lot_size": "0.05"}, {"risk_pct": "0.005"},
                   {"allowed_symbols": "eurusd"}):  # each one more step, no password
        tighter.update(change)
        assert (await browser.submit("/accounts", risk, tighter)).status == 303, change
    assert await saved() == (("eurusd",), "0.05", "0.005", False, True)
    assert (await browser.submit("/accounts", risk, {**tighter, "paper_trade_enabled": "",
                                                     "owner_password": PASSWORD})).status == 303
    assert (await saved())[4] is False
    assert (await browser.submit("/accounts", risk, tighter)).status == 303  # paper on again
    assert (await saved())[4] is True
    live = await browser.submit("/accounts", risk, {
        "max_lot_size": "100", "risk_pct": "1", "auto_trade_enabled": "on",
        "owner_password": PASSWORD})
    assert live.status == 303
    assert await saved() == ((), "100", "1", True, False)


async def test_dashboard_rows_answer_401_when_signed_out(console: Console,
                                                         browser: Browser) -> None:
    assert (await browser.get("/dashboard/rows")).status == 401
    await signed_in(browser)
    rows = await browser.get("/dashboard/rows")
    assert rows.status == 200 and "No terminals yet" in rows.text
    await create_token(browser)
    rows = await browser.get("/dashboard/rows")
    assert 'data-state="never"' in rows.text and "5012345@MTG-Demo" in rows.text


# -- terminal states and the revocation feed (device side) ---------------------------------

async def _pending_device(console: Console, browser: Browser) -> tuple[str, str, str]:
    """A token created on the page and a device that asked for it (pending): token, id,
    and the e-mailed code."""
    await signed_in(browser)
    _, token, token_id = await create_token(browser)
    status, body, _ = await console.device("POST", "/v1/records/lookup", {
        "token_hint": token_hint(token), "device_name": "desk-pc", "os": "Windows 11"})
    assert (status, body) == (200, {"status": "pending"})
    await console.sink.wait_for(1)
    return token, token_id, console.sink.code()


async def test_reported_states_reach_the_dashboard_and_the_activity(
        console: Console, browser: Browser) -> None:
    token, token_id, code = await _pending_device(console, browser)
    devices = await browser.get("/devices")
    assert 'data-status="pending"' in devices.text and "desk-pc" in devices.text
    refused = {"login": 5012345, "server": "MTG-Demo", "state": "refused",
               "reason": "device_not_approved", "token_hint": token_hint(token),
               "platform": "MT5", "ea_version": "1.2.0"}
    # Pending: not yet a device of the owner's, so it speaks for no terminal (the owner
    # hears of it by the approval e-mail and sees it here, under Devices).
    status, body, _ = await console.device("POST", "/v1/terminals/report",
                                           {"terminals": [refused]})
    assert (status, body) == (200, {"stored": 0, "takes": TAKEN})
    assert 'data-state="never"' in (await browser.get("/dashboard/rows")).text

    status, body, _ = await console.device("POST", "/v1/device/verify", {"code": code})
    assert status == 200
    status, body, _ = await console.device("POST", "/v1/terminals/report", {"terminals": [
        {**refused, "reason": "token_expired"}]})
    assert (status, body) == (200, {"stored": 1, "takes": TAKEN})
    rows = await browser.get("/dashboard/rows")
    assert 'data-state="refused"' in rows.text and "refused: token expired" in rows.text
    assert (await browser.get("/activity")).text.count('data-kind="refusal"') == 1
    active = {"login": 5012345, "server": "MTG-Demo", "state": "active",
              "token_id": token_id, "platform": "MT5", "ea_version": "1.2.0"}
    await console.device("POST", "/v1/terminals/report", {"terminals": [active]})
    dashboard = await browser.get("/")
    assert 'data-state="active"' in dashboard.text
    assert "MT5" in dashboard.text and "1.2.0" in dashboard.text and "desk-pc" in dashboard.text
    activity = await browser.get("/activity")
    assert 'data-kind="device_approved"' in activity.text
    # a periodic re-report of an unchanged state logs nothing new
    await console.device("POST", "/v1/terminals/report", {"terminals": [active]})
    assert (await browser.get("/activity")).text.count('data-kind="refusal"') == 1
    # a daemon that stops reporting is shown as not heard from
    console.clock.now += SILENT_AFTER_S + 1
    assert 'data-state="silent"' in (await browser.get("/dashboard/rows")).text


async def test_reports_from_a_device_the_owner_never_saw_are_dropped(
        console: Console, browser: Browser) -> None:
    await signed_in(browser)
    _, token, token_id = await create_token(browser)
    report = {"login": 5012345, "server": "MTG-Demo", "state": "active", "token_id": token_id}
    status, body, _ = await console.device("POST", "/v1/terminals/report",
                                           {"terminals": [report]})
    assert (status, body) == (200, {"stored": 0, "takes": TAKEN})
    status, body, _ = await console.device("POST", "/v1/terminals/report",
                                           {"terminals": [{**report, "state": "dancing"}]})
    assert status == 400
    assert 'data-state="never"' in (await browser.get("/dashboard/rows")).text


async def test_a_revocation_answers_the_devices_long_poll(
        console: Console, browser: Browser) -> None:
    _, token_id, code = await _pending_device(console, browser)
    await console.device("POST", "/v1/device/verify", {"code": code})
    status, body, _ = await console.device("POST", "/v1/device/revocations", {})
    assert status == 200 and body["token_ids"] == []
    cursor = body["cursor"]
    poll = asyncio.create_task(console.device("POST", "/v1/device/revocations",
                                              {"cursor": cursor, "wait_s": 30}))
    await asyncio.sleep(0.2)
    assert not poll.done()  # held open: nothing revoked yet
    await browser.submit("/tokens", f"/tokens/{token_id}/revoke", {"confirm": "yes"})
    async with asyncio.timeout(5):  # answered at once, far within the 30 s wait
        status, body, _ = await poll
    assert status == 200 and body["token_ids"] == [token_id] and body["cursor"] > cursor
    # an empty wait answers with no ids and the same cursor
    status, body2, _ = await console.device("POST", "/v1/device/revocations",
                                            {"cursor": body["cursor"], "wait_s": 0})
    assert body2 == {"cursor": body["cursor"], "token_ids": []}


# -- the connection budget (issue 16 F6): a signed-in owner's page is a credential holder's --


async def _raw_get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str,
                   cookie: str = "") -> bytes:
    extra = f"Cookie: {cookie}\r\n" if cookie else ""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode())
    async with asyncio.timeout(WAIT_S):
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
    return head


async def test_a_signed_in_page_is_evicted_after_an_anonymous_one(
        console: Console, browser: Browser) -> None:
    """A full console makes room by evicting an idle connection that showed no credential,
    even a newer one, before an idle signed-in owner's page (before, a page session did not
    count as a credential, so the owner's older connection went first)."""
    await signed_in(browser)
    cookie = next(f"{c.key}={c.value}" for c in browser.session.cookie_jar
                  if c.key == SESSION_COOKIE)
    await browser.close()
    port = int(console.url.rsplit(":", 1)[1])
    owner = await asyncio.open_connection("127.0.0.1", port)
    assert (await _raw_get(*owner, "/", cookie)).startswith(b"HTTP/1.1 200")
    anonymous = await asyncio.open_connection("127.0.0.1", port)
    assert (await _raw_get(*anonymous, "/health")).startswith(b"HTTP/1.1 200")
    budget = console.app[CONNECTIONS]
    assert budget.active == 2  # only these two: the newcomer must evict one of them
    budget.limits = ConnectionLimits(max_connections=budget.active,
                                     header_timeout_s=budget.limits.header_timeout_s,
                                     body_timeout_s=budget.limits.body_timeout_s)
    async with aiohttp.ClientSession() as session, \
            session.get(console.url + "/health") as answer:
        assert answer.status == 200
    async with asyncio.timeout(WAIT_S):
        assert await anonymous[0].read() == b""  # the anonymous one left
    assert (await _raw_get(*owner, "/", cookie)).startswith(b"HTTP/1.1 200")
    for _, writer in (owner, anonymous):
        writer.close()

"""The owner's console flows of issue 23 item 3 and issue 16 F8, over real HTTP on loopback.

The same world as ``test_console_pages.py``: a real console with a real SMTP sink and the
test's clocks, a :class:`~tests.e2e.consolekit.Browser` that posts forms with the page's CSRF
token, and a daemon's device played by signed ``/v1/...`` calls. (The same flows in a real
browser, at desktop and phone width: ``test_console_browser.py``.)
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from typing import Any

import pytest
from yarl import URL

from mtgateway.credential import token_hint
from mtgateway_console.console import AUTHORITY
from mtgateway_console.tables import approvals as approval_rows
from tests.e2e.consolekit import OWNER, PASSWORD, Browser, Console, create_token, signed_in

#: What a console of this release says it takes, in every report's answer.
TAKEN = ["digits", "book", "live_book", "poll_report", "server_offset"]

pytestmark = pytest.mark.network_edge

TOKEN_FORM = [("login", "5012345"), ("server", "MTG-Demo"), ("scopes", "read"),
              ("scopes", "trade")]


async def _pending(console: Console, browser: Browser) -> tuple[str, str, str]:
    """A token made on the page and this test's device asking for it: the token, the device
    id (as the devices page lists it) and the e-mailed code."""
    await signed_in(browser)
    _, token, _ = await create_token(browser)
    status, body, _ = await console.device("POST", "/v1/records/lookup", {
        "token_hint": token_hint(token), "device_name": "desk-pc", "os": "Windows 11"})
    assert (status, body) == (200, {"status": "pending"})
    await console.sink.wait_for(1)
    [device] = await console.app[AUTHORITY].approvals.of_owner(OWNER)
    return token, device["device_id"], console.sink.code()


# -- F8: the session cookie alone mints nothing ---------------------------------------------

async def test_a_session_cookie_alone_cannot_mint_a_token(console: Console,
                                                          browser: Browser) -> None:
    """The review's reproduction: another local process holding only the cookie (cookies
    are not isolated by port) reads the CSRF token and posts the token form."""
    await signed_in(browser)
    cookie = next(c for c in browser.session.cookie_jar if c.key == "mtgw_session")
    thief = Browser(console.url)  # another process: nothing but the cookie
    try:
        thief.session.cookie_jar.update_cookies({"mtgw_session": cookie.value},
                                                URL(console.url))
        answer = await thief.submit("/tokens", "/tokens", TOKEN_FORM)
        assert answer.status == 401, answer.status
        assert "Enter your console password to confirm." in answer.text
        assert "mtgw_" not in answer.text.replace("mtgw_session", "")
        wrong = await thief.submit("/tokens", "/tokens",
                                   [*TOKEN_FORM, ("owner_password", "not-the-password")])
        assert wrong.status == 401 and "Wrong password." in wrong.text
        assert 'value="not-the-password"' not in wrong.text  # never echoed
    finally:
        await thief.close()
    assert await console.app[AUTHORITY].tokens.of(OWNER) == []
    activity = await browser.get("/activity")
    assert 'data-kind="login_failed"' in activity.text
    # the owner, who knows the password, gets the token
    page, token, _ = await create_token(browser)
    assert page.status == 201 and token.startswith("mtg")


# -- devices: approve or deny in the console ------------------------------------------------

async def test_the_owner_approves_a_pending_device_with_the_password(
        console: Console, browser: Browser) -> None:
    token, device_id, _ = await _pending(console, browser)
    dashboard = await browser.get("/")
    assert 'id="pending-devices"' in dashboard.text
    devices = await browser.get("/devices")
    assert f'id="approve-{device_id}"' in devices.text and f'id="deny-{device_id}"' in devices.text
    refused = await browser.submit("/devices", f"/devices/{device_id}/approve",
                                   {"owner_password": "wrong-one"})
    assert refused.status == 401 and f'id="approve-error-{device_id}"' in refused.text
    assert (await console.app[AUTHORITY].approvals.of_owner(OWNER))[0]["status"] == "pending"
    answer = await browser.submit("/devices", f"/devices/{device_id}/approve",
                                  {"owner_password": PASSWORD})
    assert answer.status == 303 and answer.headers["Location"] == "/devices"
    page = await browser.get("/devices")
    assert 'data-status="approved"' in page.text and "desk-pc approved" in page.text
    # the daemon's next lookup gets the signed record, no code needed
    status, body, _ = await console.device("POST", "/v1/records/lookup",
                                           {"token_hint": token_hint(token)})
    assert status == 200 and body["status"] == "ok" and body["record"]["record"]["login"] == 5012345
    assert 'data-kind="device_approved"' in (await browser.get("/activity")).text
    # approving again says so and changes nothing; an approved device offers Revoke
    again = await browser.submit("/devices", f"/devices/{device_id}/approve",
                                 {"owner_password": PASSWORD})
    assert again.status == 303
    assert "is not waiting for approval" in (await browser.get("/devices")).text
    revoke = await browser.submit("/devices", f"/devices/{device_id}/revoke", {})
    assert revoke.status == 200 and "Revoke this device?" in revoke.text


async def test_denying_a_device_asks_first_and_kills_its_code(
        console: Console, browser: Browser) -> None:
    _, device_id, code = await _pending(console, browser)
    asked = await browser.submit("/devices", f"/devices/{device_id}/deny", {})
    assert asked.status == 200 and "Deny this device?" in asked.text
    assert (await console.app[AUTHORITY].approvals.of_owner(OWNER))[0]["status"] == "pending"
    done = await browser.post(f"/devices/{device_id}/deny",
                              {"csrf": asked.csrf(), "confirm": "yes"})
    assert done.status == 303
    assert (await console.app[AUTHORITY].approvals.of_owner(OWNER))[0]["status"] == "denied"
    assert "desk-pc denied" in (await browser.get("/devices")).text
    status, body, _ = await console.device("POST", "/v1/device/verify", {"code": code})
    assert status == 400 and body["error"]["reason"] == "no_pending_approval"
    missing = await browser.submit("/devices", "/devices/dev_nope/deny", {"confirm": "yes"})
    assert missing.status == 404 and "Page not found" in missing.text


async def _sends(console: Console, device_id: str) -> int:
    """How many approval codes were issued (each is an e-mail) for ``device_id``."""
    authority = console.app[AUTHORITY]
    return len(await authority.run(approval_rows.sends, device_id=device_id, since=0))


async def test_a_denied_device_stays_denied_while_it_keeps_asking(
        console: Console, browser: Browser) -> None:
    """Review round 4, M2: the device's daemon retries every few seconds; after Deny it was
    pending again at once, under the "denied" notice, and another e-mail went out. Now it
    stays denied (no new request, no code, no e-mail) and the row offers Allow again (with the
    password), Remove, and the revocation of the token it presented."""
    token, device_id, _ = await _pending(console, browser)
    [listed] = await console.app[AUTHORITY].tokens.of(OWNER)
    asked = await browser.submit("/devices", f"/devices/{device_id}/deny", {})
    assert "stays denied" in asked.text and 'id="confirm-option"' in asked.text
    assert listed["token_id"] in asked.text  # the dialog offers to revoke the token it used
    await browser.post(f"/devices/{device_id}/deny", {"csrf": asked.csrf(), "confirm": "yes"})
    for _ in range(3):  # the daemon keeps asking, past every resend interval
        console.clock.now += 120
        status, body, _ = await console.device("POST", "/v1/records/lookup", {
            "token_hint": token_hint(token), "device_name": "desk-pc", "os": "Windows 11"})
        # not approved, as before; denied, so the daemon can say no code is coming
        assert (status, body) == (200, {"status": "pending", "denied": True})
    [device] = await console.app[AUTHORITY].approvals.of_owner(OWNER)
    assert device["status"] == "denied" and await _sends(console, device_id) == 1
    page = (await browser.get("/devices")).text
    assert f'data-device-id="{device_id}" data-status="denied"' in page
    assert f'id="approve-{device_id}"' not in page and f'id="deny-{device_id}"' not in page
    for button in (f"allow-{device_id}", f"forget-{device_id}", f"revoke-token-{device_id}"):
        assert f'id="{button}"' in page
    # Allow again is a loosening: the password first
    refused = await browser.submit("/devices", f"/devices/{device_id}/allow", {})
    assert refused.status == 401 and f'id="approve-error-{device_id}"' in refused.text
    assert (await console.app[AUTHORITY].approvals.of_owner(OWNER))[0]["status"] == "denied"
    allowed = await browser.submit("/devices", f"/devices/{device_id}/allow",
                                   {"owner_password": PASSWORD})
    assert allowed.status == 303
    assert "allowed again" in (await browser.get("/devices")).text
    status, body, _ = await console.device("POST", "/v1/records/lookup",
                                           {"token_hint": token_hint(token)})
    assert status == 200 and body["status"] == "ok"
    assert 'data-kind="device_allowed"' in (await browser.get("/activity")).text
    await console.drain_mail()
    assert len(console.sink.messages) == 1  # the first request's code, and nothing after


async def test_the_deny_dialog_revokes_the_token_the_device_presented(
        console: Console, browser: Browser) -> None:
    _, device_id, _ = await _pending(console, browser)
    [listed] = await console.app[AUTHORITY].tokens.of(OWNER)
    asked = await browser.submit("/devices", f"/devices/{device_id}/deny", {})
    done = await browser.post(f"/devices/{device_id}/deny", {
        "csrf": asked.csrf(), "confirm": "yes", "revoke_token": "yes"})
    assert done.status == 303
    page = (await browser.get("/devices")).text
    assert f"Token {listed['token_id']} revoked." in page
    assert f'id="revoke-token-{device_id}"' not in page  # nothing left to revoke
    [after] = await console.app[AUTHORITY].tokens.of(OWNER)
    assert after["revoked_at"] is not None
    assert 'data-kind="token_revoked"' in (await browser.get("/activity")).text


async def test_the_approval_email_says_what_the_console_offers(
        console: Console, browser: Browser) -> None:
    """Review round 4, m14: the e-mail said "revoke it in the console (devices: revoke)" for
    a pending device, which the console can only approve or deny; and nothing of approving
    there."""
    await _pending(console, browser)
    [listed] = await console.app[AUTHORITY].tokens.of(OWNER)
    payload = console.sink.messages[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    text = payload.decode()
    assert "devices: revoke" not in text
    assert "(Devices, Approve" in text and "(Devices, Deny)" in text
    assert "stays denied" in text and listed["token_id"] in text
    assert "Revoke its token" in text


async def test_a_revoked_device_row_can_be_removed_after_a_confirmation(
        console: Console, browser: Browser) -> None:
    """A live (pending) device offers no Remove and refuses one; once denied (revoked), its
    row has a Remove button that asks first, needs the form's CSRF token, and then drops only
    that row; a later lookup from the device asks again."""
    token, device_id, _ = await _pending(console, browser)
    assert f'id="forget-{device_id}"' not in (await browser.get("/devices")).text
    early = await browser.submit("/devices", f"/devices/{device_id}/forget", {"confirm": "yes"})
    assert early.status == 303
    assert (await console.app[AUTHORITY].approvals.of_owner(OWNER))[0]["status"] == "pending"
    asked = await browser.submit("/devices", f"/devices/{device_id}/deny", {})
    await browser.post(f"/devices/{device_id}/deny", {"csrf": asked.csrf(), "confirm": "yes"})
    assert f'id="forget-{device_id}"' in (await browser.get("/devices")).text
    forged = await browser.post(f"/devices/{device_id}/forget", {"confirm": "yes"})
    assert forged.status == 403
    asked = await browser.submit("/devices", f"/devices/{device_id}/forget", {})
    assert asked.status == 200 and "Remove this device from the list?" in asked.text
    assert len(await console.app[AUTHORITY].approvals.of_owner(OWNER)) == 1
    done = await browser.post(f"/devices/{device_id}/forget",
                              {"csrf": asked.csrf(), "confirm": "yes"})
    assert done.status == 303 and done.headers["Location"] == "/devices"
    assert await console.app[AUTHORITY].approvals.of_owner(OWNER) == []
    page = (await browser.get("/devices")).text
    assert "desk-pc removed from the list." in page and f'data-device-id="{device_id}"' not in page
    assert 'data-kind="device_forgotten"' in (await browser.get("/activity")).text
    status, body, _ = await console.device("POST", "/v1/records/lookup",
                                           {"token_hint": token_hint(token)})
    assert (status, body) == (200, {"status": "pending"})


# -- password change ------------------------------------------------------------------------

async def test_changing_the_password_checks_the_old_one_and_ends_other_sessions(
        console: Console, browser: Browser) -> None:
    await signed_in(browser)
    other = Browser(console.url)
    try:
        await signed_in(other)
        new = "a-new-long-password"
        wrong = await browser.submit("/settings", "/settings/password", {
            "owner_password": "nope", "new_password": new, "new_password2": new})
        assert wrong.status == 401 and 'id="error-owner_password"' in wrong.text
        differ = await browser.submit("/settings", "/settings/password", {
            "owner_password": PASSWORD, "new_password": new, "new_password2": new + "x"})
        assert differ.status == 400 and 'id="error-new_password2"' in differ.text
        short = await browser.submit("/settings", "/settings/password", {
            "owner_password": PASSWORD, "new_password": "short", "new_password2": "short"})
        assert short.status == 400 and 'id="error-new_password"' in short.text
        ok = await browser.submit("/settings", "/settings/password", {
            "owner_password": PASSWORD, "new_password": new, "new_password2": new})
        assert ok.status == 303
        assert "Password changed." in (await browser.get("/settings")).text
        # signed out, and told why on the sign-in page
        assert (await other.get("/")).headers["Location"] == "/login?after=password_changed"
        assert (await other.sign_in(OWNER, PASSWORD)).status == 401
        assert (await other.sign_in(OWNER, new)).status == 303
        assert 'data-kind="password_changed"' in (await browser.get("/activity")).text
        [told] = await console.sink.wait_for(1)  # the owner hears of it by e-mail at once
        assert told["To"] == OWNER
        assert told["Subject"] == "MT Gateway: your console password was changed"
        assert new not in str(told.get_payload(decode=True))
    finally:
        await other.close()


# -- pages ----------------------------------------------------------------------------------

async def test_an_unknown_address_gets_a_friendly_page_and_the_api_keeps_json(
        console: Console, browser: Browser) -> None:
    page = await browser.get("/no/such/page")
    assert page.status == 404 and page.headers["Content-Type"].startswith("text/html")
    assert "Page not found" in page.text and 'id="back-home"' in page.text
    assert "Content-Security-Policy" in page.headers
    await signed_in(browser)
    signed = await browser.get("/no/such/page")
    assert signed.status == 404 and OWNER in signed.text  # the nav stays
    api = await browser.get("/v1/no-such-thing")
    assert api.status == 404 and api.headers["Content-Type"].startswith("application/json")


async def test_the_mt5_password_is_optional_and_an_account_is_verified_by_its_terminal(
        console: Console, browser: Browser) -> None:
    token, device_id, code = await _pending(console, browser)
    form = await browser.get("/accounts")
    assert "MT5 password (optional)" in form.text and "enforced by the daemon" in form.text
    assert "Trading never needs your MT5 password" in form.text  # says what it is (not) for
    assert "within seconds" in form.text and "0.01 = 1 %" in form.text  # when, and an example
    answer = await browser.submit("/accounts", "/accounts", {
        "name": "Demo", "broker": "MetaQuotes", "login": "5012345", "server": "MTG-Demo"})
    assert answer.status == 303
    accounts = await browser.get("/accounts")
    assert 'data-verified="no"' in accounts.text and "5012345@MTG-Demo registered" in \
        accounts.text
    status, _, _ = await console.device("POST", "/v1/device/verify", {"code": code})
    assert status == 200
    [token_row] = await console.app[AUTHORITY].tokens.of(OWNER)
    report = {"login": 5012345, "server": "MTG-Demo", "state": "active",
              "token_id": token_row["token_id"], "platform": "MT5", "ea_version": "1.2.0"}
    status, body, _ = await console.device("POST", "/v1/terminals/report",
                                           {"terminals": [report]})
    assert (status, body) == (200, {"stored": 1, "takes": TAKEN})
    assert 'data-verified="yes"' in (await browser.get("/accounts")).text
    dashboard = await browser.get("/")
    assert 'id="getting-started"' not in dashboard.text  # every step done
    assert re.search(r"<time title=\"[^\"]+ UTC\">just now</time>", dashboard.text)
    # the JSON API takes an account without an MT5 password too
    status, _ = await console.owner("POST", "/v1/accounts", {
        "name": "B", "broker": "B", "login": 777, "server": "MTG-Demo"})
    assert status == 201


async def test_the_paper_switch_reaches_the_record_and_wakes_the_daemon_at_once(
        console: Console, browser: Browser) -> None:
    token, device_id, code = await _pending(console, browser)
    assert (await console.device("POST", "/v1/device/verify", {"code": code}))[0] == 200
    await browser.submit("/accounts", "/accounts", {
        "name": "Demo", "broker": "MetaQuotes", "login": "5012345", "server": "MTG-Demo",
        "auto_trade_enabled": "on"})
    [account] = await console.app[AUTHORITY].accounts.of(OWNER)
    assert account.paper_trade_enabled is False
    _, body, _ = await console.device("POST", "/v1/device/revocations", {})
    poll = asyncio.create_task(console.device("POST", "/v1/device/revocations",
                                              {"cursor": body["cursor"], "wait_s": 30}))
    saved = await browser.submit("/accounts", f"/accounts/{account.id}/risk", {
        "max_lot_size": "0.1", "risk_pct": "0.01", "auto_trade_enabled": "on",
        "paper_trade_enabled": "on"})
    assert saved.status == 303
    async with asyncio.timeout(5):  # answered at once, far within the 30 s wait
        status, woke, _ = await poll
    [token_row] = await console.app[AUTHORITY].tokens.of(OWNER)
    assert status == 200 and woke["token_ids"] == [token_row["token_id"]]
    status, records, _ = await console.device("POST", "/v1/records/refresh",
                                              {"token_ids": [token_row["token_id"]]})
    assert status == 200 and records["records"][0]["record"]["risk"]["paper_trade_enabled"] is True
    page = await browser.get("/accounts")
    assert f'id="paper-{account.id}" checked' in page.text
    assert "connected daemons apply it within seconds" in page.text


async def test_the_dashboard_shows_the_figures_an_active_terminal_reports(
        console: Console, browser: Browser) -> None:
    token, _, code = await _pending(console, browser)
    assert (await console.device("POST", "/v1/device/verify", {"code": code}))[0] == 200
    [token_row] = await console.app[AUTHORITY].tokens.of(OWNER)
    active = {"login": 5012345, "server": "MTG-Demo", "state": "active",
              "token_id": token_row["token_id"], "platform": "MT5", "ea_version": "1.2.0",
              "balance": 10000.5, "equity": 10234.25, "currency": "USD", "positions": 3}
    for bad in ({"balance": "lots"}, {"positions": -1}, {"currency": "U$D"}):
        status, body, _ = await console.device("POST", "/v1/terminals/report",
                                               {"terminals": [{**active, **bad}]})
        assert status == 400 and body["error"]["reason"] == "invalid_request", bad
    status, _, _ = await console.device("POST", "/v1/terminals/report", {"terminals": [active]})
    assert status == 200
    rows = (await browser.get("/dashboard/rows")).text
    assert '<span class="balance">10,000.50</span>' in rows
    assert '<span class="equity">10,234.25</span> USD' in rows
    assert 'class="positions">3</td>' in rows
    # the terminal goes down: its figures are not shown as if current
    down = {**active, "state": "disconnected", "reason": "ea_closed"}
    assert (await console.device("POST", "/v1/terminals/report", {"terminals": [down]}))[0] == 200
    rows = (await browser.get("/dashboard/rows")).text
    assert 'data-state="disconnected"' in rows and 'class="equity"' not in rows


# -- F11: the owner API is not for other sites' pages ---------------------------------------

async def test_the_owner_api_refuses_a_foreign_origin_and_a_body_that_is_not_json(
        console: Console) -> None:
    """The review's reproduction: text/plain (what a cross-site form can send) and a foreign
    Origin, with valid Basic credentials and a JSON body."""
    basic = "Basic " + base64.b64encode(f"{OWNER}:{PASSWORD}".encode()).decode()
    body = json.dumps({"login": 5012345, "server": "MTG-Demo"})

    async def post(headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        async with console.session.post(console.url + "/v1/tokens", data=body,
                                        headers={"Authorization": basic, **headers}) as answer:
            return answer.status, await answer.json()

    status, answer = await post({"Content-Type": "text/plain",
                                 "Origin": "https://evil.example"})
    assert status == 403 and answer["error"]["reason"] == "origin_refused"
    status, answer = await post({"Content-Type": "text/plain"})
    assert status == 415 and answer["error"]["reason"] == "unsupported_media_type"
    status, answer = await post({"Content-Type": "application/json", "Origin": "null"})
    assert status == 403
    assert await console.app[AUTHORITY].tokens.of(OWNER) == []
    # the console's own origin, and no Origin at all (the CLI, curl), are served
    status, answer = await post({"Content-Type": "application/json", "Origin": console.url})
    assert status == 201 and answer["token"].startswith("mtg")
    status, _ = await console.owner("GET", "/v1/tokens")
    assert status == 200


# -- F10: what a device's reports can claim -------------------------------------------------

async def test_reports_name_only_the_tokens_terminal_and_a_revoked_device_is_never_live(
        console: Console, browser: Browser) -> None:
    """The review's reproduction: a device that only looked a token up by its hint (pending)
    reports another terminal active; after the owner revokes it, it reports the token's own
    terminal active. Since review round 5 a device speaks for no terminal until the owner
    approves it, nor once the owner revoked it (what it said before is no longer shown)."""
    token, device_id, code = await _pending(console, browser)
    hint = token_hint(token)
    forged = {"login": 424242, "server": "Fake-Broker-Live", "state": "active",
              "token_hint": hint}
    mismatch = {**forged, "state": "refused", "reason": "terminal_mismatch"}
    for pending_says in (forged, mismatch):
        status, body, _ = await console.device("POST", "/v1/terminals/report",
                                               {"terminals": [pending_says]})
        assert (status, body) == (200, {"stored": 0, "takes": TAKEN})
    assert (await console.device("POST", "/v1/device/verify", {"code": code}))[0] == 200
    status, body, _ = await console.device("POST", "/v1/terminals/report",
                                           {"terminals": [forged]})
    assert (status, body) == (200, {"stored": 0, "takes": TAKEN})
    # an approved device's refusal under the hint is shown on the token's own terminal
    status, body, _ = await console.device("POST", "/v1/terminals/report",
                                           {"terminals": [mismatch]})
    assert (status, body) == (200, {"stored": 1, "takes": TAKEN})
    rows = (await browser.get("/dashboard/rows")).text
    assert "424242" not in rows and "Fake-Broker-Live" not in rows
    assert 'data-terminal="5012345@MTG-Demo"' in rows and "refused: terminal mismatch" in rows
    # revoked: nothing it says is believed, and what it said is no longer shown
    asked = await browser.submit("/devices", f"/devices/{device_id}/revoke", {})
    assert (await browser.post(f"/devices/{device_id}/revoke",
                               {"csrf": asked.csrf(), "confirm": "yes"})).status == 303
    [token_row] = await console.app[AUTHORITY].tokens.of(OWNER)
    live = {"login": 5012345, "server": "MTG-Demo", "state": "active",
            "token_id": token_row["token_id"], "platform": "MT5", "ea_version": "9.9"}
    status, body, _ = await console.device("POST", "/v1/terminals/report",
                                           {"terminals": [live]})
    assert (status, body) == (200, {"stored": 0, "takes": TAKEN})
    rows = (await browser.get("/dashboard/rows")).text
    assert 'data-state="active"' not in rows and "9.9" not in rows
    assert "terminal mismatch" not in rows


async def test_verified_stays_after_the_token_is_revoked(
        console: Console, browser: Browser) -> None:
    """Review round 4, m8: "verified" followed the latest report, so the refusal after a
    revocation turned a verified account into "not yet verified". The proof is kept; the
    token state is shown beside it."""
    token, device_id, _ = await _pending(console, browser)
    await browser.submit("/devices", f"/devices/{device_id}/approve",
                         {"owner_password": PASSWORD})
    status, _ = await console.owner("POST", "/v1/accounts", {
        "name": "Demo", "broker": "MetaQuotes", "login": 5012345, "server": "MTG-Demo"})
    assert status == 201
    [listed] = await console.app[AUTHORITY].tokens.of(OWNER)
    active = {"login": 5012345, "server": "MTG-Demo", "state": "active",
              "token_id": listed["token_id"], "platform": "MT5", "ea_version": "1.2.0"}
    assert (await console.device("POST", "/v1/terminals/report",
                                 {"terminals": [active]}))[0] == 200
    page = (await browser.get("/accounts")).text
    assert 'data-verified="yes"' in page and "1 live token" in page
    await browser.submit("/tokens", f"/tokens/{listed['token_id']}/revoke", {"confirm": "yes"})
    refused = {**active, "state": "refused", "reason": "token_revoked", "token_id": "",
               "token_hint": token_hint(token)}
    assert (await console.device("POST", "/v1/terminals/report", {"terminals": [refused]})
            )[1] == {"stored": 1, "takes": TAKEN}
    page = (await browser.get("/accounts")).text
    assert 'data-verified="yes"' in page and "not yet verified" not in page
    assert "no live token" in page


async def test_the_owner_api_labels_tokens(console: Console) -> None:
    """m9 over the owner API: a label at creation, changed with PATCH, listed with the last
    use (none yet); another owner's or an unknown token is 404; a label too long is refused."""
    status, body = await console.owner("POST", "/v1/tokens", {
        "login": 5012345, "server": "MTG-Demo", "label": "EA on the VPS"})
    assert status == 201 and body["record"]["label"] == "EA on the VPS"
    token_id = body["token_id"]
    status, changed = await console.owner("PATCH", f"/v1/tokens/{token_id}",
                                          {"label": "backtest bot"})
    assert (status, changed) == (200, {"label": "backtest bot"})
    status, listed = await console.owner("GET", "/v1/tokens")
    [row] = listed["tokens"]
    assert (row["label"], row["used_at"], row["used_device"]) == ("backtest bot", None, "")
    status, _ = await console.owner("PATCH", "/v1/tokens/tok_nope", {"label": "x"})
    assert status == 404
    status, refused = await console.owner("PATCH", f"/v1/tokens/{token_id}", {"label": "x" * 61})
    assert status in (400, 422) and refused["error"]["reason"] == "invalid_request"

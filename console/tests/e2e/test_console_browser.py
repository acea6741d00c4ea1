"""Issue 23 item 3: the owner's console flows in headless Chromium, at desktop and phone width.

The real console with its real SMTP sink (``test_console``'s fixture, the test's clock), driven
by Selenium in Debian's ``chromium`` through ``chromium-driver`` (``.ci/system-packages``
installs both; without them this fails, it never skips). A daemon's device is played by
signed calls over the console's device API (the real protocol, a real Ed25519 key). Each step
asserts what the owner sees change, and every page is checked to be no wider than the window
(at 390 px a table or a long id must scroll inside its box, not widen the page). Screenshots:
``$MTGATEWAY_SCREENSHOTS/owner-<width>/`` (default: the test's temporary directory).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from mtgateway.credential import token_hint
from mtgateway_console.console import AUTHORITY
from tests.e2e.chromium import Owner, chromium_at
from tests.e2e.consolekit import OWNER, PASSWORD, Console

LOGIN, SERVER = 5012345, "MTG-Demo"
NEW_PASSWORD = "a-brand-new-password"


@pytest.mark.parametrize("width", [1280, 390])
async def test_the_owner_flows_in_a_real_browser(console: Console, shots: Path,
                                                 width: int) -> None:
    out = shots / f"owner-{width}"
    out.mkdir(parents=True, exist_ok=True)
    with chromium_at(width) as driver:
        b = Owner(driver, console.url, out)
        await b.open("/login")
        inner = await b.do(lambda: driver.execute_script("return window.innerWidth;"))
        assert int(inner) == width
        await b.wait_for("#login-form")
        await b.fits("00-login")

        # Sign in (on the page just checked): the dashboard starts with the getting-started
        # checklist, nothing done.
        await b.fill({"email": OWNER, "password": PASSWORD})
        await b.submit("login")
        await b.page("/", "#getting-started", "01-dashboard-checklist")
        await b.nav_reachable()
        todo = await b.do(lambda: [e.get_attribute("data-done") for e in
                                   driver.find_elements(By.CSS_SELECTOR, ".checklist li")])
        assert todo == ["no", "no", "no", "no"]

        # Register the account without the MT5 password: it is optional, and says why.
        await b.page("/accounts", "#account-form", "02-accounts-empty")
        assert await b.visible("register-account") and await b.visible("password-explained")
        assert "never needs" in await b.do(lambda: b.text("#password-explained"))
        await b.fill({"acct-name": "Demo", "acct-broker": "MetaQuotes",
                      "acct-login": str(LOGIN), "acct-server": SERVER})
        await b.click("register-account")
        assert "registered" in await b.notice()
        await b.wait_for('article.account[data-verified="no"]')
        await b.fits("03-account-registered")
        await b.shot("03-account-registered")

        # Create a token: the password is asked again; then the next steps.
        await b.open("/tokens")
        await b.wait_for("#token-form")
        await b.do(lambda: Select(driver.find_element(By.ID, "account_id")).select_by_index(1))
        await b.click("create-token")
        await b.wait_for("#error-owner_password")
        assert not await b.do(lambda: driver.find_elements(By.ID, "new-token"))
        await b.fits("04-token-password-asked")
        await b.shot("04-token-password-asked")
        await b.do(lambda: Select(driver.find_element(By.ID, "account_id")).select_by_index(1))
        await b.fill({"owner_password": PASSWORD})
        await b.click("create-token")
        await b.wait_for("#new-token")
        token = str(await b.do(lambda: driver.find_element(By.ID, "new-token")
                               .get_attribute("value")))
        assert token.startswith("mtg")
        assert await b.visible("next-dashboard") and await b.visible("new-token")
        await b.fits("05-token-created")
        await b.shot("05-token-created")
        # The list comes first now; the form hides behind its button until asked for.
        await b.open("/tokens")
        await b.wait_for("tr[data-token-id]")
        assert not await b.do(lambda: driver.find_element(By.ID, "create-token").is_displayed())
        await b.click("new-token-button")
        assert await b.do(lambda: driver.find_element(By.ID, "create-token").is_displayed())

        # The daemon's machine asks for the token: the owner approves it here.
        status, body, _ = await console.device("POST", "/v1/records/lookup", {
            "token_hint": token_hint(token), "device_name": "trading-pc", "os": "Windows 11"})
        assert (status, body) == (200, {"status": "pending"})
        [device] = await console.app[AUTHORITY].approvals.of_owner(OWNER)
        device_id = device["device_id"]
        await b.page("/", "#pending-devices", "06-dashboard-device-waiting")
        await b.page("/devices", f'tr[data-device-id="{device_id}"][data-status="pending"]',
                     "07-devices-pending")
        assert await b.visible(f"approve-{device_id}") and await b.visible(f"deny-{device_id}")
        await b.fill({f"approve-password-{device_id}": "not-it"})
        await b.click(f"approve-{device_id}")
        await b.wait_for(f"#approve-error-{device_id}")
        await b.fill({f"approve-password-{device_id}": PASSWORD})
        await b.click(f"approve-{device_id}")
        assert "trading-pc approved" in await b.notice()
        await b.wait_for(f'tr[data-device-id="{device_id}"][data-status="approved"]')
        await b.fits("08-device-approved")
        await b.shot("08-device-approved")
        status, body, _ = await console.device("POST", "/v1/records/lookup", {
            "token_hint": token_hint(token), "device_name": "trading-pc", "os": "Windows 11"})
        assert status == 200 and body["status"] == "ok"  # a daemon names itself every time

        # A machine the owner does not know asks too: denied here, after a confirmation.
        stranger = Ed25519PrivateKey.generate()
        status, body, _ = await console.device("POST", "/v1/records/lookup", {
            "token_hint": token_hint(token), "device_name": "unknown-pc", "os": "Linux"},
            key=stranger)
        assert (status, body) == (200, {"status": "pending"})
        [other] = [d for d in await console.app[AUTHORITY].approvals.of_owner(OWNER)
                   if d["device_id"] != device_id]
        other_id = other["device_id"]
        await b.page("/devices", f'tr[data-device-id="{other_id}"][data-status="pending"]',
                     "08b-devices-stranger")
        await b.click(f"deny-{other_id}")
        await b.wait_for("#confirm-yes")
        assert "unknown-pc" in await b.do(lambda: b.text("#confirm"))
        await b.fits("08c-deny-confirm")
        await b.shot("08c-deny-confirm")
        await b.click("confirm-yes")
        assert "unknown-pc denied" in await b.notice()
        assert not await b.do(lambda: driver.find_elements(
            By.CSS_SELECTOR, f'tr[data-device-id="{other_id}"][data-status="pending"]'))
        assert [d["status"] for d in await console.app[AUTHORITY].approvals.of_owner(OWNER)
                if d["device_id"] == other_id] == ["denied"]  # and it stays denied

        # The daemon reports the terminal logged in: active, and the account verified.
        [listed] = await console.app[AUTHORITY].tokens.of(OWNER)
        status, _, _ = await console.device("POST", "/v1/terminals/report", {"terminals": [
            {"login": LOGIN, "server": SERVER, "state": "active",
             "token_id": listed["token_id"], "platform": "MT5", "ea_version": "1.2.0",
             "balance": 10000.0, "equity": 10125.5, "currency": "USD", "positions": 2}]})
        assert status == 200
        await b.page("/", 'tr[data-state="active"]', "09-dashboard-active")
        row = await b.do(lambda: b.text('tr[data-state="active"]'))
        assert "10,000.00 / 10,125.50 USD" in row and "2" in row and "trading-pc" in row
        assert not await b.do(lambda: driver.find_elements(By.ID, "pending-devices"))
        assert not await b.do(lambda: driver.find_elements(By.ID, "getting-started"))
        assert "just now" in await b.do(lambda: b.text('tr[data-state="active"]'))
        await b.page("/accounts", 'article.account[data-verified="yes"]', "10-account-verified")

        # Paper trading on: saved, said, shown.
        [account] = await console.app[AUTHORITY].accounts.of(OWNER)
        await b.click(f"paper-{account.id}")
        await b.click(f"save-risk-{account.id}")
        assert "within seconds" in await b.notice()
        assert await b.do(lambda: driver.find_element(By.ID, f"paper-{account.id}")
                          .is_selected())
        assert (await console.app[AUTHORITY].accounts.of(OWNER))[0].paper_trade_enabled
        await b.fits("11-paper-on")
        await b.shot("11-paper-on")
        await b.open("/accounts")  # and off again: orders reach the broker, so the password
        await b.wait_for(f"#paper-{account.id}:checked")
        await b.click(f"paper-{account.id}")
        await b.submit(f"save-risk-{account.id}")
        await b.wait_for(f"#risk-error-{account.id}")
        assert "leave paper trading" in await b.do(
            lambda: b.text(f"#risk-error-{account.id}"))
        assert (await console.app[AUTHORITY].accounts.of(OWNER))[0].paper_trade_enabled  # still on
        await b.fits("11b-paper-off-password-asked")
        await b.shot("11b-paper-off-password-asked")
        assert not await b.do(lambda: driver.find_element(By.ID, f"paper-{account.id}")
                              .is_selected())  # what was typed is kept
        await b.fill({f"risk-password-{account.id}": PASSWORD})
        await b.submit(f"save-risk-{account.id}")
        assert "within seconds" in await b.notice()
        assert not await b.do(lambda: driver.find_element(By.ID, f"paper-{account.id}")
                              .is_selected())
        assert not (await console.app[AUTHORITY].accounts.of(OWNER))[0].paper_trade_enabled

        # Revoke the token: it asks first; Cancel keeps it, confirming revokes it.
        revoke = f"revoke-{listed['token_id']}"
        await b.page("/tokens", f"#{revoke}", "12-tokens")
        await b.click(revoke)
        await b.wait_for("#confirm-yes")
        await b.fits("13-revoke-confirm")
        await b.shot("13-revoke-confirm")
        await b.click("confirm-cancel")
        await b.wait_for('tr[data-status="valid"]')
        await b.click(revoke)
        await b.wait_for("#confirm-yes")
        await b.click("confirm-yes")
        assert "revoked" in await b.notice()
        await b.wait_for('tr[data-status="revoked"]')
        assert (await console.app[AUTHORITY].tokens.of(OWNER))[0]["revoked_at"] is not None

        # Everything above is in the activity, in words and relative times.
        await b.page("/activity", 'tr[data-kind="token_revoked"]', "13b-activity")
        activity = await b.do(lambda: b.text("#activity"))
        assert "just now" in activity and "token_revoked" not in activity

        # Change the password, sign out, sign in with the new one.
        await b.page("/settings", "#password-form", "14-settings")
        await b.fill({"acct-owner_password": PASSWORD, "acct-new_password": NEW_PASSWORD,
                      "acct-new_password2": NEW_PASSWORD})
        await b.click("change-password")
        assert "Password changed" in await b.notice()
        await b.click("logout")
        await b.wait_for("#login-form")
        await b.fill({"email": OWNER, "password": PASSWORD})
        await b.submit("login")
        await b.wait_for("#login-error")
        await b.fill({"email": OWNER, "password": NEW_PASSWORD})
        await b.submit("login")
        await b.wait_for("#terminals")

        # A mistyped address: a page that says so and leads back.
        await b.page("/tokns", "#error-page", "15-not-found")
        assert "Page not found" in await b.do(lambda: b.text("#error-page"))
        await b.click("back-home")
        await b.wait_for("#terminals")

"""Issue 35 item 2: the alerts section of the settings page, walked in headless Chromium at
desktop (1280 px) and phone (390 px) width.

The real console (``consolekit``), Selenium in Debian's ``chromium`` (``tests/e2e/chromium.py``),
a webhook receiver on loopback that checks the signature with the secret the page showed. The
owner ticks what to hear about, is asked for the password before a webhook address is saved,
copies the secret shown once, sees a refused address explained next to its field, and, after a
terminal goes offline, the alert listed as delivered. Each page must fit the window.
Screenshots: ``$MTGATEWAY_SCREENSHOTS/alerts-<width>/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from mtgateway.credential import token_hint
from mtgateway_base.wire.proofs import device_info
from mtgateway_console.console import AUTHORITY
from mtgateway_console.delivery import ALERT_SENDER
from tests.e2e.chromium import Owner, chromium_at
from tests.e2e.consolekit import OWNER, PASSWORD, Console
from tests.e2e.hookkit import Receiver

LOGIN, SERVER = 5012345, "MTG-Demo"


@pytest.mark.parametrize("width", [1280, 390])
async def test_the_owner_sets_alerts_in_a_real_browser(console: Console, shots: Path,
                                                       receiver: Receiver, width: int) -> None:
    out = shots / f"alerts-{width}"
    out.mkdir(parents=True, exist_ok=True)
    authority = console.app[AUTHORITY]
    issued = await authority.tokens.issue(OWNER, LOGIN, SERVER)
    status, _, _ = await console.device("POST", "/v1/records/lookup", {
        "token_hint": token_hint(issued.token), "device_name": "trading-pc", "os": "Linux"})
    assert status == 200
    # approved: only an approved machine speaks for the owner's terminals
    assert await authority.approvals.approve(OWNER, device_info(console.key).device_id)
    with chromium_at(width) as driver:
        b = Owner(driver, console.url, out)
        await b.sign_in(OWNER, PASSWORD)
        await b.open("/settings")
        await b.wait_for("#alerts-form")
        await b.do(lambda: driver.execute_script(
            "document.getElementById('alerts').scrollIntoView();"))
        await b.fits("01-settings-alerts")
        await b.shot("01-settings-alerts")
        assert await b.visible("save-alerts") and await b.visible("alert-webhook_url")
        assert "No alert yet." in await b.do(lambda: b.text("#deliveries"))

        # A refused address: said next to the field, what was typed kept.
        await b.click("alert-offline")
        await b.fill({"alert-offline_minutes": "5", "alert-webhook_url": "ftp://example.com/x"})
        await b.click("alert-email")
        await b.submit("save-alerts")
        await b.wait_for("#error-webhook_url")
        assert "http:// or https://" in await b.do(lambda: b.text("#error-webhook_url"))
        assert await b.do(lambda: driver.find_element(By.ID, "alert-webhook_url")
                          .get_attribute("value")) == "ftp://example.com/x"
        assert await b.do(lambda: driver.find_element(By.ID, "alert-offline").is_selected())
        await b.fits("02-address-refused")
        await b.shot("02-address-refused")

        # A good address without the password: asked for it, nothing saved.
        await b.fill({"alert-webhook_url": receiver.url})
        await b.submit("save-alerts")
        await b.wait_for("#error-alert-owner_password")
        assert (await authority.alerts.settings(OWNER)).webhook_url == ""
        await b.fill({"alert-owner_password": PASSWORD})
        await b.submit("save-alerts")
        await b.wait_for("#new-secret")
        receiver.secret = str(await b.do(lambda: driver.find_element(By.ID, "new-secret")
                                     .get_attribute("value")))
        assert receiver.secret.startswith("whsec_") and await b.visible("new-secret")
        # the answer opens on the secret (below the password form), not at the page's top
        assert await b.do(lambda: driver.execute_script(
            "const r = document.getElementById('new-secret').getBoundingClientRect();"
            "return r.top >= 0 && r.bottom <= window.innerHeight;"))
        await b.fits("03-secret-shown-once")
        await b.shot("03-secret-shown-once")
        saved = await authority.alerts.settings(OWNER)
        assert (saved.email, saved.offline_minutes, saved.webhook_url) == (True, 5, receiver.url)

        # The terminal goes offline: the alert arrives signed, and is listed as delivered.
        await console.device("POST", "/v1/terminals/report", {"terminals": [
            {"login": LOGIN, "server": SERVER, "state": "disconnected",
             "reason": "terminal_closed", "token_id": issued.token_id}]})
        console.clock.now += 6 * 60
        assert await authority.alerts.sweep() == 2
        sender = console.app[ALERT_SENDER]
        await sender.deliver_due()
        await sender.wait_attempts(2)
        (got,) = await receiver.wait_for(1)
        assert got["verified"] and got["payload"]["kind"] == "offline"
        await b.open("/settings")
        await b.wait_for('#deliveries tr[data-status="sent"]')
        await b.do(lambda: driver.execute_script(
            "document.getElementById('deliveries').scrollIntoView();"))
        await b.fits("04-alert-delivered")
        await b.shot("04-alert-delivered")
        assert not await b.do(lambda: driver.find_elements(By.ID, "new-secret"))  # once only
        listed = await b.do(lambda: b.text("#deliveries"))
        assert f"terminal {LOGIN}@{SERVER} offline for more than 5 min" in listed
        assert "delivered" in listed and "webhook" in listed and "e-mail" in listed
        assert await b.visible("rotate-secret")

        # The test button: one more signed webhook, listed with the rest.
        await b.submit("test-alert")
        assert "Test alert on its way" in await b.notice()
        await sender.deliver_due()
        await sender.wait_attempts(4)
        (_, tested) = await receiver.wait_for(2)
        assert tested["verified"] and tested["event"] == "alert.test"
        await b.open("/settings")
        await b.wait_for('#deliveries tr[data-status="sent"]')
        assert "test alert" in await b.do(lambda: b.text("#deliveries"))
        await b.fits("05-test-alert")

"""Issue 11, item 5: the auth-flow document walked in a real browser.

Headless Chromium from Debian's ``chromium`` package, driven by Selenium through Debian's
``chromium-driver`` (``.ci/run`` installs both; without them this test fails, it never skips).
The console, a real SMTP server (aiosmtpd), the daemon in remote mode and the emulated terminal
all run on loopback in this process; Selenium's blocking calls run in a worker thread so the
event loop keeps serving them. The steps are those of ``seed-auth-flow.txt``: sign in, register
the account, create the token, start the terminal with it, approve the new device with the
code from the e-mail, see the terminal active on the dashboard, call ``account_info`` with the
same token, revoke it, and see the terminal refused.

Every page is saved as a PNG in ``$MTGATEWAY_SCREENSHOTS`` (default: the test's temporary
directory); the README shows two of them from ``docs/img/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings, TerminalRefused
from gateway.auth.client import RemoteAuthority
from gateway.keys import BRIDGE, DEVICE
from tests.e2e.chromium import STEP_S, Walk, chromium, paced
from tests.e2e.world import LOGIN, OWNER, PASSWORD, SERVER, TERMINAL, world

CODE = re.compile(r"device verify (\d{4} \d{4})")


async def test_the_auth_flow_in_a_real_browser(tmp_path: Path, shots: Path) -> None:
    async with world(tmp_path) as w:
        with chromium() as driver:
            b = Walk(driver, w.console_url, shots)

            # 1. Log in to the web console with the owner's e-mail and password.
            await b.open("/login")
            await b.fill({"email": OWNER, "password": PASSWORD})
            await b.shot("01-login")
            await b.click("login")
            await b.wait_for("#terminals")
            assert OWNER in await b.do(lambda: b.text("header .who"))

            # 2. Register the MT5 account (seed-register-account), a mistake first.
            await b.open("/accounts")
            await b.fill({"acct-name": "Demo account", "acct-broker": "MetaQuotes",
                          "acct-login": "not a number", "acct-password": "mt5-password",
                          "acct-server": SERVER, "acct-allowed_symbols": "EURUSD, BTCUSD",
                          "acct-max_lot_size": "0.5", "acct-risk_pct": "0.02"})
            await b.click("register-account")
            await b.wait_for("#error-login")
            await b.shot("02-account-error")
            await b.fill({"acct-login": str(LOGIN), "acct-password": "mt5-password"})
            await b.click("register-account")
            await b.wait_for("article.account")
            await b.shot("03-accounts")

            # 3. Create the token for that account; it is shown once.
            await b.open("/tokens")
            await b.do(lambda: Select(driver.find_element(By.ID, "account_id"))
                       .select_by_index(1))
            await b.fill({"owner_password": PASSWORD})  # a token asks for it again (F8)
            await b.click("create-token")
            await b.wait_for("#new-token")
            token = await b.do(lambda: driver.find_element(By.ID, "new-token")
                               .get_attribute("value"))
            assert token and token.startswith("mtg")
            copy_visible = await b.do(lambda: driver.find_element(
                By.CSS_SELECTOR, "button[data-copy]").is_displayed())
            assert copy_visible  # the script showed the copy button
            await b.shot("04-token-created")
            await b.open("/tokens")
            assert token not in await b.do(lambda: driver.page_source)  # never again

            # 4. Start the (emulated) terminal with the token: this machine is new.
            # (retrying at most every 0.5 s while its device waits for approval, not 4 s)
            terminal = EmulatedTerminal(token, port=w.bridge_port, settings=EmulatorSettings(
                login=LOGIN, server=SERVER, symbols=("EURUSD", "BTCUSD"),
                reconnect_max_s=0.5))
            ea = asyncio.create_task(terminal.run())
            try:
                # The new machine is not the owner's yet: once it asked (the code's e-mail
                # is out), the dashboard asks for its approval and shows no state of it (only
                # approved devices speak for a terminal).
                async with asyncio.timeout(STEP_S):
                    mails = await w.sink.wait_for(1)
                await b.open("/")
                await b.wait_for("#pending-devices")
                await b.wait_for('tr[data-state="never"]')
                await b.shot("05-dashboard-device-pending")

                # 5. Approve the new device with the code from the e-mail (what `mtgateway
                # device verify 1234 5678` sends, signed with the daemon's device key).
                found = [m for m in (CODE.search(x.get_content()) for x in mails) if m]
                assert found
                await b.open("/devices")
                await b.wait_for('tr[data-status="pending"]')
                await b.shot("06-devices-pending")
                device = w.daemon[DEVICE]
                async with RemoteAuthority(w.console_url, device.private_key) as client:
                    answer = await client.verify_device(device.info, found[-1].group(1))
                assert answer.status == "approved"

                # 6. The dashboard shows the terminal active (the EA retries by itself; the
                # page's own 2 s refresh brings the row, its clock paced to 0.2 s here).
                with paced(driver, 10):
                    await b.open("/")
                    await b.wait_for('tr[data-state="active"]')
                    row = await b.do(lambda: b.text('tr[data-state="active"]'))
                    assert f"{LOGIN}@{SERVER}" in row and "MT5" in row
                    # every getting-started step is done: the checklist goes (the page
                    # reloads itself when its rows turn active under a checklist still
                    # waiting for that)
                    await b.do(lambda: WebDriverWait(driver, STEP_S, poll_frequency=0.1).until(
                        lambda d: not d.find_elements(By.ID, "getting-started")))
                    await b.shot("07-dashboard-active")

                # 7. account_info with the same token.
                status, body = await w.rpc(token)
                assert status == 200 and body["result"]["login"] == LOGIN

                # 8. Revoke the token; the dashboard shows the terminal refused.
                await b.open("/tokens")
                token_id = await b.do(lambda: driver.find_element(
                    By.CSS_SELECTOR, "tr[data-token-id]").get_attribute("data-token-id"))
                await b.click(f"revoke-{token_id}")
                await b.wait_for("#confirm-yes")  # it asks first
                await b.click("confirm-yes")
                await b.wait_for("#notice")
                await w.daemon[BRIDGE].wait_for_terminal_down(TERMINAL, STEP_S)
                with paced(driver, 10):  # the refused row comes with the page's refresh
                    await b.open("/")
                    await b.wait_for('tr[data-state="refused"]')
                    assert "token revoked" in await b.do(lambda: b.text("#terminal-rows"))
                    await b.shot("08-dashboard-refused")
                status, body = await w.rpc(token)
                assert status == 401 and body["error"]["data"]["reason"] == "token_revoked"

                await b.open("/activity")
                await b.wait_for('tr[data-kind="token_revoked"]')
                await b.shot("09-activity")
            finally:
                await terminal.close()
                ea.cancel()
                with contextlib.suppress(asyncio.CancelledError, TerminalRefused):
                    await ea

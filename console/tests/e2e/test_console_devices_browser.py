"""Issue 35 (review round 4, M2, m8, m9, m19) in headless Chromium at 1280 and 390 px: a
denied device stays denied while its daemon keeps asking; tokens told apart by a label and
their last use, the dashboard naming the token each terminal presents; "verified" kept after
the token is revoked; and the console's copy and layout nits.

The same world as ``test_console_browser.py`` (its :class:`Owner` walk): the real console with
its real SMTP sink and the test's clock, a daemon's device played by signed calls over the
device API. Screenshots: ``$MTGATEWAY_SCREENSHOTS/devices-<width>/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from mtgateway.credential import token_hint
from mtgateway_base.wire.proofs import device_info
from mtgateway_console.console import AUTHORITY
from mtgateway_console.tables import approvals as approval_rows
from tests.e2e.chromium import Owner, chromium_at
from tests.e2e.consolekit import OWNER, PASSWORD, Console, issue_token

LOGIN, SERVER = 5012345, "MTG-Demo"
ACCOUNT = {"name": "Demo", "broker": "MetaQuotes", "login": LOGIN, "password": "",
           "server": SERVER}


@contextmanager
def _browser(width: int) -> Iterator[WebDriver]:
    with chromium_at(width) as driver:
        yield driver


async def _sign_in(b: Owner) -> None:
    await b.sign_in(OWNER, PASSWORD)
    await b.wait_for("#terminals")


async def _sends(console: Console, device_id: str) -> int:
    authority = console.app[AUTHORITY]
    return len(await authority.run(approval_rows.sends, device_id=device_id, since=0))


@pytest.mark.parametrize("width", [1280, 390])
async def test_a_denied_device_stays_denied_and_tokens_are_told_apart(
        console: Console, shots: Path, width: int) -> None:
    out = shots / f"devices-{width}"
    out.mkdir(parents=True, exist_ok=True)
    status, _ = await console.owner("POST", "/v1/accounts", ACCOUNT)
    assert status == 201
    vps = await issue_token(console, label="EA on the VPS")
    spare = await issue_token(console)
    with _browser(width) as driver:
        b = Owner(driver, console.url, out)
        await _sign_in(b)

        # A machine the owner does not know asks with the VPS token: one e-mail.
        stranger = Ed25519PrivateKey.generate()
        lookup = {"token_hint": token_hint(vps["token"]), "device_name": "unknown-pc",
                  "os": "Linux"}
        status, body, _ = await console.device("POST", "/v1/records/lookup", lookup,
                                               key=stranger)
        assert (status, body) == (200, {"status": "pending"})
        await console.sink.wait_for(1)
        [device] = await console.app[AUTHORITY].approvals.of_owner(OWNER)
        device_id = device["device_id"]
        row = f'tr[data-device-id="{device_id}"]'
        await b.page("/devices", f'{row}[data-status="pending"]', "01-pending")
        shown = await b.do(lambda: b.text(f"{row} td.presented"))
        assert vps["token_id"] in shown and "EA on the VPS" in shown

        # Deny: the dialog says the denial holds and offers to revoke the token it presented.
        await b.click(f"deny-{device_id}")
        await b.wait_for("#confirm-option")
        dialog = await b.do(lambda: b.text("#confirm"))
        assert "stays denied" in dialog and vps["token_id"] in dialog
        assert await b.visible("confirm-option") and await b.visible("confirm-yes")
        await b.fits("02-deny-dialog")
        await b.shot("02-deny-dialog")
        await b.submit("confirm-yes")
        assert "stays denied" in await b.notice()

        # Its daemon keeps asking, past every resend interval: still denied, no new e-mail.
        for _ in range(3):
            console.clock.now += 120
            status, body, _ = await console.device("POST", "/v1/records/lookup", lookup,
                                                   key=stranger)
            assert (status, body) == (200, {"status": "pending", "denied": True})
        await b.page("/devices", f'{row}[data-status="denied"]', "03-denied")
        assert not await b.do(lambda: driver.find_elements(
            By.CSS_SELECTOR, f'{row}[data-status="pending"]'))
        for button in (f"allow-{device_id}", f"forget-{device_id}",
                       f"revoke-token-{device_id}"):
            assert await b.visible(button), button
        assert not await b.do(lambda: driver.find_elements(By.ID, f"deny-{device_id}"))
        assert await _sends(console, device_id) == 1
        assert not await b.do(lambda: driver.find_elements(By.ID, "pending-devices"))

        # Allow again asks for the password, then approves it.
        await b.click(f"allow-{device_id}")
        await b.wait_for(f"#approve-error-{device_id}")
        await b.fill({f"approve-password-{device_id}": PASSWORD})
        await b.submit(f"allow-{device_id}")
        assert "allowed again" in await b.notice()
        await b.wait_for(f'{row}[data-status="approved"]')
        status, body, _ = await console.device("POST", "/v1/records/lookup", lookup,
                                               key=stranger)
        assert status == 200 and body["status"] == "ok"

        # Tokens told apart: label, last use (when, by which device, from where), never.
        await b.page("/tokens", f"#used-{vps['token_id']}", "04-tokens")
        used = await b.do(lambda: b.text(f"#used-{vps['token_id']}"))
        assert "unknown-pc" in used and "127.0.0.1" in used and "just now" in used
        assert await b.do(lambda: b.text(f"#used-{spare['token_id']}")) == "never"
        assert await b.do(lambda: driver.find_element(
            By.ID, f"label-{vps['token_id']}").get_attribute("value")) == "EA on the VPS"
        await b.fill({f"label-{spare['token_id']}": "backtest bot"})
        await b.submit(f"save-label-{spare['token_id']}")
        assert "labelled" in await b.notice()
        assert await b.do(lambda: driver.find_element(
            By.ID, f"label-{spare['token_id']}").get_attribute("value")) == "backtest bot"
        assert await b.visible(f"save-label-{spare['token_id']}")
        await b.fits("05-token-labelled")
        await b.shot("05-token-labelled")

        # The dashboard names the token the terminal presents.
        report = {"login": LOGIN, "server": SERVER, "state": "active",
                  "token_id": vps["token_id"], "platform": "MT5", "ea_version": "1.2.0"}
        status, _, _ = await console.device("POST", "/v1/terminals/report",
                                            {"terminals": [report]}, key=stranger)
        assert status == 200
        await b.page("/", 'tr[data-state="active"]', "06-dashboard-token")
        named = await b.do(lambda: b.text('tr[data-state="active"] .token-named'))
        assert vps["token_id"] in named and "EA on the VPS" in named
        await b.page("/accounts", 'article.account[data-verified="yes"]', "07-verified")

        # m8: the token revoked, the terminal refused: verified stays, the token state shows.
        for token in (vps, spare):
            status, _ = await console.owner("DELETE", f"/v1/tokens/{token['token_id']}")
            assert status == 200
        refused = {**report, "state": "refused", "reason": "token_revoked"}
        status, body, _ = await console.device("POST", "/v1/terminals/report",
                                               {"terminals": [refused]}, key=stranger)
        assert (status, body["stored"]) == (200, 1)
        [account] = await console.app[AUTHORITY].accounts.of(OWNER)
        await b.page("/accounts", f"#token-state-{account.id}", "08-verified-after-revoke")
        assert await b.do(lambda: driver.find_elements(
            By.CSS_SELECTOR, 'article.account[data-verified="yes"]'))
        assert await b.do(lambda: b.text(f"#token-state-{account.id}")) == "no live token"
    await console.drain_mail()
    assert len(console.sink.messages) == 1  # the first request's code only


@pytest.mark.parametrize("width", [1280, 390])
async def test_the_consoles_copy_and_layout_nits_are_gone(
        console: Console, shots: Path, width: int) -> None:
    """Review round 4, m19: snake_case reasons in Activity and its "When" wrapping; the
    ragged risk row at desktop width; the login header shorter than the others; the hint's
    command wrapping mid-number and empty figure labels on refused rows at 390 px; "Register
    an MT5 account"; "Next: create a token for it" for a terminal that has one."""
    out = shots / f"nits-{width}"
    out.mkdir(parents=True, exist_ok=True)
    token = await issue_token(console)
    with _browser(width) as driver:
        b = Owner(driver, console.url, out)

        def header_height() -> float:
            return float(driver.execute_script(
                "return document.querySelector('header.top').getBoundingClientRect().height;"))

        await b.open("/login")
        await b.wait_for("#login-form")
        signed_out = await b.do(header_height)
        assert "mtgateway demo" in await b.do(lambda: b.text("#login-form, section.card"))
        await _sign_in(b)
        if width >= 800:  # at 390 px the signed-in header wraps its navigation, by design
            assert abs(await b.do(header_height) - signed_out) < 1

        # Register the terminal that already has a token: no "create a token" next.
        await b.open("/accounts")
        await b.wait_for("#account-form")
        assert await b.do(lambda: b.text("#new-account-button")) == \
            "Register an MT4 or MT5 account"
        await b.fill({"acct-name": "Demo", "acct-broker": "MetaQuotes",
                      "acct-login": str(LOGIN), "acct-server": SERVER})
        await b.submit("register-account")
        notice = await b.notice()
        assert "registered" in notice and "create a token" not in notice
        if width >= 800:
            bottoms = await b.do(lambda: driver.execute_script(
                "return [...document.querySelectorAll('form.risk input[type=text]')]"
                ".map(e => e.getBoundingClientRect().bottom);"))
            assert len(bottoms) == 3 and max(bottoms) - min(bottoms) < 1, bottoms
        await b.fits("01-accounts")
        await b.shot("01-accounts")

        # A refused terminal: no empty figure labels on the phone's card (an approved
        # machine's EA presented the token as another terminal's).
        device_key = Ed25519PrivateKey.generate()
        status, _, _ = await console.device("POST", "/v1/records/lookup", {
            "token_hint": token_hint(token["token"]), "device_name": "desk-pc",
            "os": "Windows 11"}, key=device_key)
        assert status == 200
        assert await console.app[AUTHORITY].approvals.approve(
            OWNER, device_info(device_key).device_id)
        status, _, _ = await console.device("POST", "/v1/terminals/report", {"terminals": [
            {"login": LOGIN, "server": SERVER, "state": "refused",
             "reason": "terminal_mismatch", "token_hint": token_hint(token["token"])}]},
            key=device_key)
        assert status == 200
        await b.page("/", 'tr[data-state="refused"]', "02-refused")
        if width < 800:
            card = await b.do(lambda: b.text('tr[data-state="refused"]'))
            assert "Balance / equity" not in card and "Open positions" not in card

        # Activity: reasons in words, each time on one line.
        await b.page("/activity", 'tr[data-kind="refusal"]', "03-activity")
        activity = await b.do(lambda: b.text("#activity"))
        assert "terminal mismatch" in activity and "terminal_mismatch" not in activity
        lines = await b.do(lambda: driver.execute_script(
            "return [...document.querySelectorAll('#activity time')].map(e => "
            "e.getClientRects().length);"))
        assert lines and set(lines) == {1}, lines

        # Devices: the hint's command on one line.
        await b.page("/devices", "code.nowrap", "04-devices")
        assert await b.do(lambda: driver.execute_script(
            "return document.querySelector('code.nowrap').getClientRects().length;")) == 1

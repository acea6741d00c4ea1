"""The console shows each state it keeps where the owner acts on it, in headless Chromium at
desktop (1280 px) and phone (390 px) width: a halted account (the kill switch) with its reason
and the button that lifts it, an account's group where its policy is edited, a chart
message's delivery, who each signed-in browser is, and the notices after signing out
everywhere and after a recovery code.

The real console with its SMTP sink and injected clock (``consolekit``); a daemon's device is
played by signed reports over the device API. Screenshots: ``$MTGATEWAY_SCREENSHOTS/state-*/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from mtgateway_console.console import AUTHORITY
from mtgateway_console.service.accounts import AccountRegistration
from mtgateway_console.tables.alerts import AlertSettings
from mtgateway_console.tables.groups import Group
from mtgateway_console.web.alertview import SHOWN_ON_SETTINGS
from mtgateway_console.web.views import when
from tests.e2e.chromium import Owner, chromium_at
from tests.e2e.consolekit import (
    OWNER,
    PASSWORD,
    Browser,
    Console,
    approved_token,
    issue_token,
)
from tests.e2e.consolekit import signed_in as signed_in_over_http
from tests.e2e.factorkit import enrol

LOGIN, SERVER = 5012345, "MTG-Demo"


async def reporting(console: Console, equities: tuple[float, ...] = (10_000.0,),
                    step_s: float = 30) -> dict[str, Any]:
    """A token, this test's device approved for it, and one report of an active terminal per
    equity in ``equities``, ``step_s`` apart on the console's clock: the last report's body."""
    token_id = await approved_token(console)
    body: dict[str, Any] = {}
    for equity in equities:
        console.clock.now += step_s
        body = {"login": LOGIN, "server": SERVER, "state": "active",
                "token_id": token_id, "platform": "MT5", "ea_version": "1.3.0",
                "balance": 10_000.0, "equity": equity, "currency": "USD", "positions": 0,
                "as_of": console.clock.now - 0.4, "open_positions": []}
        status, _, _ = await console.device("POST", "/v1/terminals/report",
                                            {"terminals": [body]})
        assert status == 200
    return body


async def register(console: Console, login: int = LOGIN, name: str = "Main") -> int:
    """An account of the owner's, registered with the form's defaults: its id."""
    row = await console.app[AUTHORITY].accounts.register(OWNER, AccountRegistration(
        name=name, broker="MetaQuotes", login=login, password="", server=SERVER))
    return row.id


@pytest.mark.parametrize("width", [1280, 390])
async def test_a_halted_account_is_shown_halted_with_its_reason_and_lifted_there(
        console: Console, shots: Path, width: int) -> None:
    """n3: with the kill switch on, Dashboard, Live and Accounts each say the account is
    halted, why and since when, beside a button that lifts it; lifting asks for the password
    (a wrong one keeps the halt), and the Accounts page no longer says closes are never
    refused."""
    await register(console)
    await reporting(console, (10_000.0, 10_004.5))
    authority = console.app[AUTHORITY]
    await authority.halts.halt(OWNER, [(LOGIN, SERVER)], "news spike")
    out = shots / f"state-halt-{width}"
    out.mkdir(parents=True, exist_ok=True)
    with chromium_at(width) as driver:
        b = Owner(driver, console.url, out)
        await b.sign_in(OWNER, PASSWORD)
        for path, name in (("/", "dashboard"), ("/live", "live"), ("/accounts", "accounts")):
            await b.page(path, "#halts .halt", f"01-{name}")
            said = await b.do(lambda: b.text("#halts"))
            assert f"{LOGIN}@{SERVER}" in said and "news spike" in said, (name, said)
            assert "halted" in said.lower() and "closes included" in said, (name, said)
            assert await b.do(lambda: driver.find_element(
                By.CSS_SELECTOR, "#halts button.lift").is_displayed()), name
        # the dashboard's row says it too, and keeps saying it across its own refresh
        await b.open("/")
        await b.wait_for('tr.terminal[data-halted="yes"] .halted-mark')
        # r10: the badge does not widen the table past the page: nothing scrolls sideways,
        # "Last seen" included
        wide = await b.do(lambda: driver.execute_script(
            "const w = document.querySelector('#terminals').closest('.table-wrap');"
            "return [w.scrollWidth, w.clientWidth];"))
        assert wide[0] <= wide[1], f"the terminals table is {wide[0]} px in {wide[1]} px"

        await b.open("/accounts")
        await b.wait_for("#risk-explained")
        rules = await b.do(lambda: b.text("#risk-explained"))
        assert "never refused" not in rules
        assert "halted" in rules and "closes" in rules, rules
        assert await b.do(lambda: b.text(".account .halted-mark")) != ""

        # a wrong password: the halt stays, and the page says why
        halt_id = await b.do(lambda: driver.find_element(
            By.CSS_SELECTOR, "#halts .halt").get_attribute("data-id"))
        await b.fill({f"lift-password-{halt_id}": "wrong"})
        await b.submit(f"lift-{halt_id}")
        assert "Wrong password" in await b.notice()
        assert [h.reason for h in await authority.halts.of(OWNER)] == ["news spike"]

        # the right one lifts it, back on the page it was lifted from
        await b.fill({f"lift-password-{halt_id}": PASSWORD})
        await b.submit(f"lift-{halt_id}")
        notice = await b.notice()
        assert "lifted" in notice and f"{LOGIN}@{SERVER}" in notice, notice
        assert await b.do(lambda: driver.current_url) == console.url + "/accounts"
        assert await b.do(lambda: driver.find_elements(By.CSS_SELECTOR, "#halts")) == []
        await b.fits("lifted")
        await b.shot("02-lifted")
    assert await authority.halts.of(OWNER) == []


async def test_every_terminal_halted_is_said_once_and_lifted_whole(
        console: Console, shots: Path) -> None:
    """n3: a halt of every terminal (the owner-wide switch) is one line, "every terminal",
    and its button lifts it whole."""
    await register(console)
    await reporting(console)
    authority = console.app[AUTHORITY]
    await authority.halts.halt(OWNER, None, "")
    with chromium_at(1280) as driver:
        b = Owner(driver, console.url, shots)
        await b.sign_in(OWNER, PASSWORD)
        await b.page("/live", "#halts .halt", "state-halt-all")
        assert len(await b.do(lambda: driver.find_elements(By.CSS_SELECTOR,
                                                            "#halts .halt"))) == 1
        assert "every terminal" in await b.do(lambda: b.text("#halts"))
        await b.fill({"lift-password-all": PASSWORD})
        await b.submit("lift-all")
        assert "lifted" in await b.notice()
        assert await b.do(lambda: driver.current_url) == console.url + "/live"
    assert await authority.halts.of(OWNER) == []


async def test_an_accounts_group_is_named_where_its_policy_is_edited(
        console: Console, shots: Path) -> None:
    """n4: an account in a group says so on its risk form, and what saving there does: it
    changes this account alone, and the group's next change writes the group's policy over
    it again."""
    first = await register(console)
    await register(console, login=LOGIN + 1, name="Second")
    await console.app[AUTHORITY].groups.move(OWNER, [first], "scalpers", Group(
        "scalpers", ("EURUSD", "XAUUSD"), "0.05", "0.005", True, 0))
    with chromium_at(390) as driver:
        b = Owner(driver, console.url, shots)
        await b.sign_in(OWNER, PASSWORD)
        await b.page("/accounts", f"#group-{first}", "state-group-390")
        said = await b.do(lambda: b.text(f"#group-{first}"))
        assert "scalpers" in said and "this account alone" in said, said
        assert "group" in await b.do(lambda: b.text(
            f'article[data-account-id="{first}"] h3'))
        others = await b.do(lambda: driver.find_elements(
            By.CSS_SELECTOR, f'article.account:not([data-account-id="{first}"]) .group-note'))
        assert others == []


FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


async def test_sessions_are_told_apart_and_signing_out_everywhere_says_it_worked(
        console: Console, shots: Path) -> None:
    """n8: each browser signed in is named by its browser and system ("Firefox 128 on
    Windows", "Headless Chrome ... on Linux"), the whole User-Agent only in its title; n9:
    "Sign out everywhere" lands on the sign-in page saying it worked."""
    other = Browser(console.url, user_agent=FIREFOX)
    try:
        await signed_in_over_http(other)
        with chromium_at(390) as driver:
            b = Owner(driver, console.url, shots)
            await b.sign_in(OWNER, PASSWORD)
            await b.page("/settings/sessions", "#sessions .agent", "state-sessions-390")
            names = await b.do(lambda: [str(e.text) for e in driver.find_elements(
                By.CSS_SELECTOR, "#sessions .agent")])
            assert "Firefox 128 on Windows" in names, names
            assert any(n.startswith(("Headless Chrome", "Chrome")) and n.endswith("on Linux")
                       for n in names), names
            assert not any("Mozilla/5.0" in n for n in names), names
            titles = await b.do(lambda: [str(e.get_attribute("title")) for e in
                                         driver.find_elements(By.CSS_SELECTOR,
                                                              "#sessions .agent")])
            assert FIREFOX in titles

            await b.submit("end-all")
            await b.wait_for("#confirm")
            await b.submit("confirm-yes")
            await b.wait_for("#login-form")
            said = await b.do(lambda: b.text("#login-notice"))
            assert "Signed out everywhere" in said, said
            await b.shot("state-signed-out-everywhere-390")
        assert (await other.get("/")).status == 303  # the other browser is out too
    finally:
        await other.close()


async def test_a_recovery_code_sign_in_says_what_to_do_for_a_lost_phone(
        console: Console, shots: Path) -> None:
    """n13: after signing in with a recovery code, the dashboard says how many are left and
    what to do for a lost phone (turn two-step sign-in off, set it up on the new phone)."""
    enrolling = Browser(console.url)
    try:
        _, codes = await enrol(console, enrolling)
    finally:
        await enrolling.close()
    with chromium_at(390) as driver:
        b = Owner(driver, console.url, shots)
        await b.sign_in(OWNER, PASSWORD)
        await b.wait_for("#code")
        await b.fill({"code": codes[0]})
        await b.submit("code-submit")
        said = await b.notice()
        assert "recovery code" in said and "9 recovery codes left" in said, said
        assert "turn two-step sign-in off" in said and "new phone" in said, said
        await b.fits("recovery-code-dashboard")
        await b.shot("state-recovery-code-390")
        # shown once: the next page does not repeat it
        await b.open("/")
        await b.wait_for("#terminals")
        assert await b.do(lambda: driver.find_elements(By.ID, "notice")) == []


async def test_a_spent_reset_link_leaves_the_address_bar(console: Console, shots: Path
                                                        ) -> None:
    """m15: after a password is set by a reset link, the sign-in page it answers with shows
    ``/login`` in the address bar: the link's token is not left there or in the history."""
    await console.app[AUTHORITY].resets.request(OWNER)
    [mail] = await console.sink.wait_for(1)
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    link = re.search(re.escape(console.url) + r"(/reset/\S+)", payload.decode())
    assert link is not None
    with chromium_at(1280) as driver:
        b = Owner(driver, console.url, shots)
        await b.open(link.group(1))
        await b.wait_for("#reset-form")
        await b.fill({"acct-new_password": "a brand new password",
                      "acct-new_password2": "a brand new password"})
        await b.submit("reset-submit")
        await b.wait_for("#login-notice")
        assert await b.do(lambda: driver.execute_script("return location.pathname;")) \
            == "/login"
        assert "/reset/" not in await b.do(lambda: driver.current_url)


async def test_last_seen_and_stale_read_one_moment_in_one_wording(
        console: Console, shots: Path) -> None:
    """n10: a daemon reporting every minute whose last lookup was minutes ago is "just now"
    on the Devices page as on the dashboard (both the report's time); m7: 71 s after the
    last report the dashboard's table says "stale: read 71 s ago" beside "active", in the
    words of the panel below it."""
    await reporting(console, (10_000.0,) * 8, step_s=60)  # the lookup was 8 min ago
    with chromium_at(1280) as driver:
        b = Owner(driver, console.url, shots)
        await b.sign_in(OWNER, PASSWORD)
        await b.page("/devices", "#devices", "state-devices")
        device_seen = await b.do(lambda: b.text('td[data-label="Last seen"]'))
        await b.page("/", "tr.terminal", "state-dashboard-fresh")
        row_seen = await b.do(lambda: b.text('tr.terminal td[data-label="Last seen"]'))
        assert device_seen == row_seen == "just now", (device_seen, row_seen)

        console.clock.now += 71
        await b.open("/")
        await b.wait_for("tr.terminal .stale-mark")
        row = await b.do(lambda: b.text('tr.terminal td[data-label="State"]'))
        panel = await b.do(lambda: b.text("#terminal-books .stale-mark"))
        assert row.startswith("active") and "stale: read 71 s ago" in row, row
        assert panel == "stale: read 71 s ago", panel
        await b.shot("state-dashboard-stale")


def _svg_boxes(driver: Any, scope: str) -> dict[str, Any]:
    """The chart in ``scope``: its lines, dots, time labels, the plot's box and the low
    value label's box (in the SVG's own units)."""
    return dict(driver.execute_script(
        "const s = document.querySelector(arguments[0] + ' svg.equity-chart');"
        "const plot = s.querySelector('rect.plot').getBBox();"
        "const low = s.querySelector('text.tick.low').getBBox();"
        "return {equity: s.querySelectorAll('polyline.line-equity').length,"
        " dots: s.querySelectorAll('circle.dot-equity').length,"
        " times: Array.from(s.querySelectorAll('text.tick.time'), t => t.textContent),"
        " values: Array.from(s.querySelectorAll('text.tick.value'), t => t.textContent),"
        " plot_bottom: plot.y + plot.height, low_top: low.y, low_bottom: low.y + low.height,"
        " times_top: Math.min(...Array.from(s.querySelectorAll('text.tick.time'),"
        "                                    t => t.getBBox().y))};", scope))


@pytest.mark.parametrize("width", [1280, 390])
async def test_the_charts_draw_one_point_a_flat_line_small_and_a_gap_as_a_gap(
        console: Console, shots: Path, width: int) -> None:
    """n14: a terminal with one report draws a dot and one time label, not an empty box
    labelled "03:39 ... 03:39"; m2: the dashboard's axis spans 1 % of the level, so a flat
    10,000 is not drawn on a 9,999-10,001 axis; m3: an outage breaks the dashboard's line and
    is counted, and the low value label sits under the plot, off the line; /live never says
    "-0.00 %"."""
    body = await reporting(console)
    out = shots / f"state-charts-{width}"
    out.mkdir(parents=True, exist_ok=True)
    with chromium_at(width) as driver:
        b = Owner(driver, console.url, out)
        await b.sign_in(OWNER, PASSWORD)
        await b.page("/", "#terminal-books svg.equity-chart", "01-one-point")
        one = await b.do(lambda: _svg_boxes(driver, "#terminal-books"))
        assert one["dots"] == 1 and len(one["times"]) == 1, one
        assert one["values"][0] == "10,050.00", one  # 1 % of 10,000 around it

        # two reports 30 s apart, a 10-minute outage, then two more; a 12-cent fall
        for step, equity in ((30, 10_000.0), (600, 10_000.0), (30, 9_999.88)):
            console.clock.now += step
            body = {**body, "equity": equity, "as_of": console.clock.now - 0.4}
            status, _, _ = await console.device("POST", "/v1/terminals/report",
                                                {"terminals": [body]})
            assert status == 200
        await b.page("/", "#terminal-books svg.equity-chart", "02-gap")
        gap = await b.do(lambda: _svg_boxes(driver, "#terminal-books"))
        assert gap["equity"] == 2 and gap["dots"] == 0 and len(gap["times"]) == 2, gap
        assert "1 gap in the reports" in await b.do(lambda: b.text("#terminal-books"))
        assert gap["low_top"] >= gap["plot_bottom"], gap  # under the plot: no line there
        assert gap["low_bottom"] <= gap["times_top"] + 1, gap  # and above the times

        await b.page("/live", "p.drawdown", "03-live")
        change = await b.do(lambda: b.text("p.drawdown .pl"))
        assert change == "-0.12 (0.00 %)", change


async def test_the_latest_alerts_are_short_on_a_phone_with_a_link_to_the_rest(
        console: Console, shots: Path) -> None:
    """n12: Settings lists the newest few alert deliveries, each in two short lines at
    390 px, and links to the rest (twenty 6-line cards made the page 5,433 px tall)."""
    authority = console.app[AUTHORITY]
    await authority.alerts.save(OWNER, AlertSettings(email=True, offline_minutes=5))
    for _ in range(12):
        assert await authority.alerts.test(OWNER) == 1
    with chromium_at(390) as driver:
        b = Owner(driver, console.url, shots)
        await b.sign_in(OWNER, PASSWORD)
        await b.page("/settings", "#deliveries tbody tr", "state-alerts-390")
        rows = await b.do(lambda: driver.execute_script(
            "return Array.from(document.querySelectorAll('#deliveries tbody tr'),"
            " r => r.getBoundingClientRect().height);"))
        assert len(rows) == SHOWN_ON_SETTINGS, rows
        line = await b.do(lambda: driver.execute_script(
            "return parseFloat(getComputedStyle(document.body).lineHeight);"))
        assert all(h <= 2.5 * line + 12 for h in rows), (rows, line)  # two lines, not six
        tall = await b.do(lambda: driver.execute_script(
            "return document.documentElement.scrollHeight;"))
        assert tall < 3600, tall
        await b.submit("all-deliveries")
        await b.wait_for("#deliveries")
        assert len(await b.do(lambda: driver.find_elements(
            By.CSS_SELECTOR, "#deliveries tbody tr"))) == 12
        await b.fits("all-alerts")


async def test_the_layout_nits_are_gone(console: Console, shots: Path) -> None:
    """m16: at 1280 px "Save risk policy" is a button of its own height, not a block as tall
    as the form's row, and a token's label field shows its whole hint ("label: where it
    goes" was cut)."""
    await register(console)
    await issue_token(console)
    with chromium_at(1280) as driver:
        b = Owner(driver, console.url, shots)
        await b.sign_in(OWNER, PASSWORD)
        await b.page("/accounts", "form.risk button", "state-nits-accounts")
        button = await b.do(lambda: driver.execute_script(
            "const r = document.querySelector('form.risk button').getBoundingClientRect();"
            "const f = document.querySelector('form.risk input[name=max_lot_size]')"
            ".getBoundingClientRect(); return [r.height, f.height];"))
        assert button[0] <= button[1] + 12, button  # about an input's height
        await b.page("/tokens", "form.label-form input[name=label]", "state-nits-tokens")
        room = await b.do(lambda: driver.execute_script(
            "const i = document.querySelector('form.label-form input[name=label]');"
            "const s = getComputedStyle(i); const c = document.createElement('canvas')"
            ".getContext('2d'); c.font = s.font;"
            "return [c.measureText(i.placeholder).width, i.clientWidth"
            " - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight)];"))
        assert room[0] <= room[1], room


#: What a risk form's layout is measured by at 1280 px: each caption of the three text fields
#: (the label's text before its input), each checkbox label, the inputs, the form, the line.
_RISK_FORM_BOXES = """
const form = document.querySelector('form.risk');
const line = parseFloat(getComputedStyle(form).lineHeight);
const texts = [...form.querySelectorAll('input[type=text]')];
const caption = i => { const r = document.createRange(); r.setStart(i.closest('label'), 0);
  r.setEndBefore(i); return r.getBoundingClientRect().height; };
const symbols = form.querySelector('input[name=allowed_symbols]');
return {line: line, captions: texts.map(caption),
        tops: texts.map(i => i.getBoundingClientRect().top - form.getBoundingClientRect().top),
        bottoms: texts.map(i => i.getBoundingClientRect().bottom),
        boxes: [...form.querySelectorAll('label.inline')].map(l => l.getBoundingClientRect()
          .height),
        symbols: [symbols.value, symbols.scrollWidth, symbols.clientWidth]};
"""


async def test_the_risk_form_at_1280_has_captions_of_one_height_and_a_readable_list(
        console: Console, shots: Path) -> None:
    """u12 (ux round 8): at 1280 px the Accounts form's "Paper trading" label wrapped to 7
    lines in a column of its own and pushed the row's inputs down, and the allowed-symbols
    input showed "EURUSD, USDJPY, XAU". Now the text fields' captions are one line each
    (one height), their inputs on one line just under them, each checkbox's label at most
    two lines, and the whole symbol list shows."""
    await console.app[AUTHORITY].accounts.register(OWNER, AccountRegistration(
        name="Demo hedging", broker="MT Gateway Simulated Broker", login=LOGIN, password="",
        server=SERVER, allowed_symbols=("EURUSD", "USDJPY", "XAUUSD", "BTCUSD"),
        paper_trade_enabled=True))
    with chromium_at(1280) as driver:
        b = Owner(driver, console.url, shots)
        await b.sign_in(OWNER, PASSWORD)
        await b.page("/accounts", "form.risk", "state-risk-form-1280")
        box = await b.do(lambda: driver.execute_script(_RISK_FORM_BOXES))
        line = float(box["line"])
        assert max(box["captions"]) - min(box["captions"]) < 1, box  # one height
        assert max(box["captions"]) < 1.5 * line, box  # of one line
        assert max(box["bottoms"]) - min(box["bottoms"]) < 1, box
        assert max(box["tops"]) < 2 * line, box  # nothing taller above them
        assert len(box["boxes"]) == 2 and max(box["boxes"]) < 2.5 * line, box
        value, needed, shown = box["symbols"]
        assert value == "EURUSD, USDJPY, XAUUSD, BTCUSD" and needed <= shown, box
        await b.fits("the Accounts page")


async def test_the_checklist_completes_without_a_registered_account_and_says_so(
        console: Console, shots: Path) -> None:
    """m17: a terminal active here completes the getting-started checklist, as the demo's
    does without a registered account (it stayed open for ever); the dashboard says instead
    that the terminal trades under no risk policy, and where to give it one."""
    await reporting(console)
    with chromium_at(1280) as driver:
        b = Owner(driver, console.url, shots)
        await b.sign_in(OWNER, PASSWORD)
        await b.page("/", "#no-policy", "state-checklist-done")
        assert await b.do(lambda: driver.find_elements(By.ID, "getting-started")) == []
        said = await b.do(lambda: b.text("#no-policy"))
        assert f"{LOGIN}@{SERVER}" in said and "no limits" in said, said
    await register(console)
    with chromium_at(1280) as driver:
        b = Owner(driver, console.url, shots)
        await b.sign_in(OWNER, PASSWORD)
        await b.page("/", "#terminals", "state-checklist-registered")
        assert await b.do(lambda: driver.find_elements(By.ID, "no-policy")) == []


async def test_a_revoked_tokens_row_says_so_and_the_checklist_asks_for_a_token(
        console: Console, browser: Browser) -> None:
    """u13 (ux round 8): after ``mtgateway setup --undo`` revoked the terminal's only token
    and stopped its daemon, the dashboard's row said "daemon not heard from" and "Getting
    started" still ticked "Create a token for that terminal — done". Now the row says
    "token revoked" (since the revocation, no figures) and the step is undone while no live
    token remains; a new token does it again."""
    await signed_in_over_http(browser)
    body = await reporting(console)
    assert await console.app[AUTHORITY].tokens.revoke(OWNER, body["token_id"])
    revoked_at = int(console.clock.now)
    console.clock.now += 300  # its daemon stopped with it: silent for five minutes
    page = (await browser.get("/")).text
    [row] = re.findall(r'<tr class="terminal".*?</tr>', page, re.S)
    assert 'data-state="revoked"' in row, row
    assert "token revoked" in row and "not heard from" not in row, row
    assert f'title="{when(revoked_at)}">5 min ago' in row, row
    assert 'class="balance"' not in row
    assert re.search(r'<li data-step="token" data-done="no"', page), page
    assert (await browser.get("/dashboard/rows")).text.strip() == row.strip()
    await issue_token(console)
    page = (await browser.get("/")).text
    assert 'id="getting-started"' not in page  # every step done again


async def test_a_chart_message_is_shown_as_shown_once_its_daemon_says_so(
        console: Console, shots: Path) -> None:
    """n5: a chart message the daemon reports shown is an Activity entry of its own ("message
    shown on a terminal's chart", naming the message), after the one that says it was sent:
    the owner sees pending become shown (the store knew, the pages did not say)."""
    body = await reporting(console)
    [made] = await console.app[AUTHORITY].instructions.send_message(
        OWNER, [(LOGIN, SERVER)], "news at 14:30: flat by then")
    assert made.state == "pending"
    console.clock.now += 5
    status, _, _ = await console.device("POST", "/v1/terminals/report", {"terminals": [
        {**body, "as_of": console.clock.now, "done": [{"id": made.id, "state": "shown"}]}]})
    assert status == 200
    assert (await console.app[AUTHORITY].instructions.get(OWNER, made.id)).state == "shown"
    with chromium_at(390) as driver:
        b = Owner(driver, console.url, shots)
        await b.sign_in(OWNER, PASSWORD)
        await b.page("/activity", 'tr[data-kind="message_shown"]', "state-message-shown-390")
        shown = await b.do(lambda: b.text('tr[data-kind="message_shown"]'))
        assert "shown on a terminal's chart" in shown and made.id in shown, shown
        assert "news at 14:30" in shown
        order = await b.do(lambda: [str(r.get_attribute("data-kind")) for r in
                                    driver.find_elements(By.CSS_SELECTOR, "#activity tr")])
        assert order.index("message_shown") < order.index("message_sent")  # newest first


async def test_lifting_what_is_not_halted_says_so_and_a_bad_form_lifts_nothing(
        console: Console, browser: Browser) -> None:
    """n3: the lift form for a terminal that is not halted says so, and one naming no
    terminal lifts nothing; either way the owner lands back where they came from."""
    await signed_in_over_http(browser)
    await console.app[AUTHORITY].halts.halt(OWNER, [(LOGIN + 1, SERVER)], "other one")
    for terminal, said in ((f"{LOGIN}@{SERVER}", "was not halted"),
                           ("nonsense", "No such halt")):
        answer = await browser.submit("/accounts", "/halts/lift", {
            "terminal": terminal, "back": "/accounts", "owner_password": PASSWORD})
        assert answer.status == 303 and answer.headers["Location"] == "/accounts"
        assert said in (await browser.get("/accounts")).text
    assert [h.reason for h in await console.app[AUTHORITY].halts.of(OWNER)] == ["other one"]

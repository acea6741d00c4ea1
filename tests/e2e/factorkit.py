"""The second factor's steps as the owner's browser takes them (``consolekit``'s
:class:`Browser`): turn it on from the settings page, reading the key and the recovery codes
off the page as the owner would, and sign in with the password, then the code; and the
operator's ``mtgateway owner reset-2fa`` as a process beside the console. Shared by the
second factor's tests, the account-recovery tests and the credentials' tests.
"""

from __future__ import annotations

import asyncio
import base64
import html
import os
import re
import sys
from pathlib import Path

from gateway.authority import totp
from gateway.authority.web.settingsview import qr_svg
from tests.e2e.consolekit import OWNER, PASSWORD, WAIT_S, Browser, Console, signed_in

__all__ = ["code_step", "codes_of", "enrol", "password_step", "reset_2fa", "secret_of"]


def secret_of(page_text: str) -> bytes:
    """The key the settings page shows, as the authenticator app reads it."""
    match = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page_text)
    assert match is not None, "no secret on the page"
    typed = match.group(1).replace(" ", "")
    return base64.b32decode(typed + "=" * (-len(typed) % 8))


def codes_of(page_text: str) -> list[str]:
    return re.findall(r"<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>", page_text)


async def enrol(console: Console, browser: Browser, *,
                sign_in: bool = True) -> tuple[bytes, list[str]]:
    """Sign in (unless ``sign_in`` is false: the browser is signed in) and turn two-step
    sign-in on: the secret and the recovery codes."""
    if sign_in:
        await signed_in(browser)
    started = await browser.submit("/settings", "/settings/2fa/start",
                                   {"owner_password": PASSWORD})
    assert started.status == 200, started.text
    key = secret_of(started.text)
    uri = re.search(r'id="totp-uri" value="([^"]+)"', started.text)
    assert uri is not None and html.unescape(uri.group(1)).startswith("otpauth://totp/")
    # the QR code is the same address, drawn in the page as SVG (unescaped, no script)
    assert str(qr_svg(html.unescape(uri.group(1)))) in started.text
    done = await browser.submit("/settings", "/settings/2fa/confirm",
                                {"code": totp.totp(key, console.clock.now)})
    assert done.status == 200, done.text
    codes = codes_of(done.text)
    assert len(codes) == 10
    assert "Two-step sign-in is on" in done.text
    again = await browser.get("/settings")
    assert codes_of(again.text) == []  # shown once
    assert "10 recovery codes left" in again.text
    console.clock.now += totp.STEP_S  # the confirming code's step is spent
    return key, codes


async def password_step(browser: Browser, password: str = PASSWORD) -> None:
    answer = await browser.sign_in(OWNER, password)
    assert answer.status == 303 and answer.headers["Location"] == "/login/code", answer.text
    assert not any("mtgw_session=" in c and "mtgw_session=;" not in c
                   for c in answer.set_cookies)  # no session yet


async def code_step(browser: Browser, code: str) -> int:
    form = await browser.get("/login/code")
    assert form.status == 200, form.status
    answer = await browser.post("/login/code", {"csrf": form.csrf(), "code": code})
    return answer.status


async def reset_2fa(console: Console, tmp_path: Path, email: str,
                    action: str = "reset-2fa") -> tuple[int, str, str]:
    """``mtgateway owner reset-2fa --email`` (or another operator's ``action`` of ``owner``:
    ``reset-password``) as the operator runs it, on the console's database, mailing through
    the console's SMTP server: its exit code, output, errors."""
    config = tmp_path / "operator.toml"
    port = console.url.rpartition(":")[2]
    config.write_text(f'data_dir = "{tmp_path.as_posix()}"\n[console]\nport = {port}\n'
                      f'[smtp]\nhost = "127.0.0.1"\nport = {console.smtp_port}\n'
                      'security = "none"\nfrom_address = "gateway@example.net"\n', "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "owner", action, "-c", str(config), "--email",
        email, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), WAIT_S * 3)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()

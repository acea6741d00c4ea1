"""The demo's mailbox (``gateway/mailbox.py``) on a real console, as ``mtgateway demo`` mounts
it: shown only to whoever holds the link the demo printed (it holds the owner's reset and
approval mails, so anyone else reading it could take the console over), readable on a
390 px phone in a real Chromium, its folded subjects read as they were written.

E-mails travel the real way: aiosmtplib (the console's SMTP client) to the real SMTP sink
(aiosmtpd), which parses them as the demo's does.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import aiosmtplib
import pytest

from gateway.mailbox import MAIL_PATH, mailbox_routes
from gateway.mailsink import MailSink
from mtgateway_console.config import ConsoleConfig, ConsoleFile
from mtgateway_console.console import create_console_app, start_console
from mtgateway_console.mailer import RecordingMailer
from tests.e2e.chromium import Walk, chromium_at

OWNER = "demo-owner@example.com"
#: An alert's subject that SMTP folds right after "Subject:" (no space to break at before
#: its 78th column): the review saw it read back with a double space.
FOLDED = "MT Gateway alert: margin level of 5012345@MTG-Demo at 92.50 %, under 150 %"
#: A reset mail's body: a link far wider than a phone, on one line.
RESET = ("Someone asked to reset your MT Gateway password. Set a new one here (the link works "
         "once, for an hour):\n\n  http://127.0.0.1:8720/reset/" + "Q" * 120 + "\n")


@dataclass
class Mailbox:
    """The demo's console with its mailbox mounted, and the mailbox's key."""

    url: str
    key: str
    session: aiohttp.ClientSession

    async def get(self, path: str) -> tuple[int, str, dict[str, str]]:
        async with self.session.get(self.url + path) as r:
            return r.status, await r.text(), dict(r.headers)


async def _send(sink: MailSink, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "mtgateway@localhost", OWNER, subject
    message.set_content(body)
    await aiosmtplib.send(message, hostname="127.0.0.1", port=sink.port)


@contextlib.asynccontextmanager
async def mailbox(tmp_path: Path) -> AsyncIterator[Mailbox]:
    """A console with the demo's mailbox on it, holding a folded alert and a reset mail."""
    sink = MailSink()
    await sink.start()
    app = create_console_app(ConsoleFile(data_dir=str(tmp_path), console=ConsoleConfig(
        port=0)), mailer=RecordingMailer())
    key = "k3y-" + "x" * 20
    app.router.add_routes(mailbox_routes(lambda: sink.messages, key))
    runner, port = await start_console(app, "127.0.0.1", 0)
    try:
        await _send(sink, FOLDED, "Margin level 92.50 % on 5012345@MTG-Demo.\n")
        await _send(sink, "MT Gateway: reset your password", RESET)
        async with aiohttp.ClientSession() as session:
            yield Mailbox(f"http://127.0.0.1:{port}", key, session)
    finally:
        await runner.cleanup()
        await sink.close()


async def test_the_mailbox_is_shown_only_with_its_key(tmp_path: Path) -> None:
    """Without the key (the address alone, or a wrong key) the mailbox shows nothing of any
    e-mail, the owner's address included, and says where the way in was printed; with it,
    every e-mail, as a page or as text, never cached nor passed on as a referrer."""
    async with mailbox(tmp_path) as box:
        for path in (MAIL_PATH, f"{MAIL_PATH}?format=text", f"{MAIL_PATH}/",
                     f"{MAIL_PATH}/wrong-key", f"{MAIL_PATH}/wrong-key?format=text",
                     f"{MAIL_PATH}/{box.key[:-1]}"):
            status, text, _ = await box.get(path)
            assert status in (403, 404), (path, status)
            assert OWNER not in text and "/reset/" not in text, path
        status, text, _ = await box.get(MAIL_PATH)
        assert status == 403 and "printed" in text and "mail_url" in text
        status, text, headers = await box.get(f"{MAIL_PATH}/{box.key}")
        assert status == 200 and OWNER in text and "/reset/" in text
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"
        status, text, _ = await box.get(f"{MAIL_PATH}/{box.key}?format=text")
        assert status == 200 and f"Subject: {FOLDED}\n" in text


@pytest.mark.parametrize("width", [1280, 390])
async def test_the_mailbox_fits_the_screen_and_reads_its_subjects_whole(
        tmp_path: Path, shots: Path, width: int) -> None:
    """In a real Chromium the page is laid out at the screen's width and no wider, a phone's
    too (no zooming out; a long link wraps inside its e-mail), and a subject SMTP folded reads
    as it was written."""
    async with mailbox(tmp_path) as box:
        with chromium_at(width) as driver:
            walk = Walk(driver, box.url, shots)
            await walk.open(f"{MAIL_PATH}/{box.key}")
            await walk.wait_for("article")
            page, window = await walk.do(lambda: driver.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth];"))
            assert page <= width and window == width, (page, window)
            await walk.shot(f"demo-mail-{width}")
            subjects = await walk.do(lambda: [e.text for e in driver.find_elements(
                "css selector", "article h2, article dd")])
            assert f"#1: {FOLDED}" in subjects and FOLDED in subjects, subjects
            assert not any("  " in s for s in subjects), subjects

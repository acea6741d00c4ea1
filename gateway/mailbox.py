"""The demo's mailbox: every e-mail its console sent, readable at ``/demo/mail``.

``mtgateway demo`` has no real mail server; its console sends through an SMTP sink
(``mailsink.py``). An owner trying the product should see what each channel sends --
approval codes, alerts, password resets, security notices -- so the demo mounts this page on
its console and prints its address, and prints a line for each e-mail as it lands. The page
is the demo's only: a console on its own never has it.

Plain server-rendered HTML, every header and line escaped, newest first; ``?format=text``
answers the same as plain text (for a terminal: ``curl .../demo/mail?format=text``).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from typing import Final

from aiohttp import web

__all__ = ["MAIL_PATH", "body_text", "mailbox_route"]

#: Where the demo's console serves its mailbox.
MAIL_PATH: Final = "/demo/mail"


def body_text(message: EmailMessage) -> str:
    """The message's plain-text body (its text part; empty when it has none)."""
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    content = part.get_content()
    return content if isinstance(content, str) else ""


def _text(messages: Sequence[EmailMessage]) -> str:
    out = [f"{len(messages)} e-mail(s) sent by the demo's console, newest first.\n"]
    for number, message in reversed(list(enumerate(messages, 1))):
        out.append(f"--- #{number} ---")
        for header in ("Date", "From", "To", "Subject"):
            out.append(f"{header}: {message[header] or ''}")
        out.append("")
        out.append(body_text(message).rstrip())
        out.append("")
    return "\n".join(out)


def _html(messages: Sequence[EmailMessage]) -> str:
    items = []
    for number, message in reversed(list(enumerate(messages, 1))):
        head = "".join(f"<dt>{h}</dt><dd>{html.escape(str(message[h] or ''))}</dd>"
                       for h in ("Date", "From", "To", "Subject"))
        items.append(f'<article id="mail-{number}"><h2>#{number}: '
                     f'{html.escape(str(message["Subject"] or ""))}</h2><dl>{head}</dl>'
                     f"<pre>{html.escape(body_text(message).rstrip())}</pre></article>")
    empty = "<p>No e-mail yet.</p>" if not messages else ""
    return ("<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">"
            "<title>The demo's mailbox</title><h1>The demo's mailbox</h1>"
            f"<p>{len(messages)} e-mail(s) the demo's console sent (approval codes, alerts, "
            "password resets, notices), newest first. "
            f'<a href="{MAIL_PATH}?format=text">as text</a></p>{empty}{"".join(items)}')


def mailbox_route(messages: Callable[[], Sequence[EmailMessage]]) -> web.RouteDef:
    """``GET /demo/mail`` over the sink's ``messages``."""

    async def page(request: web.Request) -> web.Response:
        got = messages()
        if request.query.get("format") == "text":
            return web.Response(text=_text(got), content_type="text/plain")
        return web.Response(text=_html(got), content_type="text/html")

    return web.get(MAIL_PATH, page)

"""The demo's mailbox: every e-mail its console sent, for the demo's user only.

``mtgateway demo`` has no real mail server; its console sends through an SMTP sink
(``mailsink.py``). An owner trying the product should see what each channel sends --
approval codes, alerts, password resets, security notices -- so the demo mounts this page on
its console and prints its address, and prints a line for each e-mail as it lands. The page
is the demo's only: a console on its own never has it.

**Behind a key.** The mailbox holds the owner's password-reset links and device approval
codes: whoever reads it can take the demo's console over, and the console's loopback port
answers every local user. So the page is at ``/demo/mail/<key>``, a random key the demo makes
for its run, prints once with the page's address and writes to its ``--state-file`` (0600,
``mail_url``). A wrong key is 404, as a path that does not exist; the bare ``/demo/mail``
answers 403 saying where the address was printed. The key is a secret in a path: the access
log masks it (``mtgateway_base/access.py``), the page is never cached and passes on no referrer.

Plain server-rendered HTML on the console's stylesheet (a phone's width: the bodies wrap),
every header and line escaped, headers unfolded to one line, newest first;
``?format=text`` answers the same as plain text (``curl <address>?format=text``).
"""

from __future__ import annotations

import hmac
import html
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from typing import Final

from aiohttp import web

__all__ = ["MAIL_PATH", "body_text", "mail_url", "mailbox_routes"]

#: Where the demo's console serves its mailbox: ``MAIL_PATH/<key>``.
MAIL_PATH: Final = "/demo/mail"
_HEADERS: Final = ("Date", "From", "To", "Subject")
#: What a page that may show a reset link says to caches and to the pages its links open.
_PRIVATE: Final = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_WHERE: Final = ("The demo's mailbox holds the owner's password-reset links and approval "
                 "codes, so it is shown only at the address `mtgateway demo` printed when it "
                 "started (also `mail_url` in its --state-file).\n")


def mail_url(console_url: str, key: str) -> str:
    """The mailbox's address on the console at ``console_url`` (no trailing slash)."""
    return f"{console_url}{MAIL_PATH}/{key}"


def body_text(message: EmailMessage) -> str:
    """The message's plain-text body (its text part; empty when it has none)."""
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    content = part.get_content()
    return content if isinstance(content, str) else ""


def _header(message: EmailMessage, name: str) -> str:
    """A header's value on one line: SMTP folds a long one (a subject it cannot break before
    its 78th column starts on the next line), and unfolded that reads with a leading or a
    doubled space."""
    return " ".join(str(message[name] or "").split())


def _text(messages: Sequence[EmailMessage]) -> str:
    out = [f"{len(messages)} e-mail(s) sent by the demo's console, newest first.\n"]
    for number, message in reversed(list(enumerate(messages, 1))):
        out.append(f"--- #{number} ---")
        out += [f"{name}: {_header(message, name)}" for name in _HEADERS if message[name]]
        out.append("")
        out.append(body_text(message).rstrip())
        out.append("")
    return "\n".join(out)


def _html(messages: Sequence[EmailMessage]) -> str:
    items = []
    for number, message in reversed(list(enumerate(messages, 1))):
        head = "".join(f'<dt>{name}</dt><dd class="{name.lower()}">'
                       f"{html.escape(_header(message, name))}</dd>"
                       for name in _HEADERS if message[name])
        items.append(f'<article class="card mail" id="mail-{number}"><h2>#{number}: '
                     f"{html.escape(_header(message, 'Subject'))}</h2><dl>{head}</dl>"
                     f"<pre>{html.escape(body_text(message).rstrip())}</pre></article>")
    empty = "<p>No e-mail yet.</p>" if not messages else ""
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>The demo's mailbox · MT Gateway</title>"
            '<link rel="stylesheet" href="/static/console.css"></head><body><main>'
            "<h1>The demo's mailbox</h1>"
            f'<p class="hint">{len(messages)} e-mail(s) the demo\'s console sent (approval '
            "codes, alerts, password resets, notices), newest first. "
            f'<a href="?format=text">As text</a>.</p>{empty}{"".join(items)}</main></body>'
            "</html>")


def mailbox_routes(messages: Callable[[], Sequence[EmailMessage]], key: str
                   ) -> list[web.RouteDef]:
    """``GET /demo/mail/<key>`` over the sink's ``messages`` (404 for another key), and
    ``GET /demo/mail``, which says where the address was printed (403)."""
    expected = key.encode()

    async def page(request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.match_info["token"].encode(), expected):
            raise web.HTTPNotFound()
        got = messages()
        if request.query.get("format") == "text":
            return web.Response(text=_text(got), content_type="text/plain", headers=_PRIVATE)
        return web.Response(text=_html(got), content_type="text/html", headers=_PRIVATE)

    async def where(request: web.Request) -> web.Response:
        return web.Response(status=403, text=_WHERE, content_type="text/plain")

    return [web.get(MAIL_PATH, where), web.get(MAIL_PATH + "/", where),
            web.get(MAIL_PATH + "/{token}", page)]

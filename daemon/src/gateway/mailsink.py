"""A loopback SMTP server that keeps what it receives: the demo's (and the tests') mailbox.

The device-approval flow is only real if the code travels the way it will in production: the
authority's SMTP client (aiosmtplib) talking SMTP over a socket. ``mtgateway demo`` has no
mail server to talk to, so it runs this one (aiosmtpd, on the event loop, port 0) and prints
what arrives. It accepts anything, relays nothing, and keeps messages in memory only.
"""

from __future__ import annotations

import asyncio
import email.policy
from collections.abc import Callable
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = ["MailSink"]


class MailSink:
    """An SMTP server on ``host`` (loopback) whose messages land in :attr:`messages`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 on_message: Callable[[EmailMessage], None] | None = None) -> None:
        self.host = host
        self._requested_port = port
        #: Told of each message as it lands (the demo prints where to read it).
        self._on_message = on_message
        self.messages: list[EmailMessage] = []
        self._changed = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Start listening."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname="localhost", loop=loop), self.host,
            self._requested_port)

    @property
    def port(self) -> int:
        """The port actually bound."""
        if self._server is None or not self._server.sockets:
            return self._requested_port
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening and drop open sessions."""
        if self._server is not None:
            self._server.close()
            close_clients = getattr(self._server, "close_clients", None)
            if close_clients is not None:  # Python 3.13+
                close_clients()
            await self._server.wait_closed()
            self._server = None

    async def handle_DATA(self, server: SMTP, session: Session,  # noqa: N802 - aiosmtpd's name
                          envelope: Envelope) -> str:
        """aiosmtpd hook: keep the message."""
        content: Any = envelope.original_content or envelope.content or b""
        data = content if isinstance(content, bytes) else str(content).encode("utf-8")
        message = BytesParser(policy=email.policy.default).parsebytes(data)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self._changed.set()
        if self._on_message is not None:
            self._on_message(message)
        return "250 Message accepted for delivery"

    async def wait_for(self, count: int) -> list[EmailMessage]:
        """Return once at least ``count`` messages have arrived (callers bound the wait)."""
        while len(self.messages) < count:
            self._changed.clear()
            await self._changed.wait()
        return list(self.messages)

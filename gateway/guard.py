"""Slow-client protection for the HTTP listener: a connection cap and a header deadline.

aiohttp has neither (``security.md``: no total header-read deadline, so slowloris protection is
ours), and a daemon that can place trades must not be starved by a client that opens sockets
and trickles bytes. Two parts:

* :class:`HeaderWatch` -- sans-I/O. Fed the bytes of one connection, it says when a request's
  header block is complete and when its body (by ``Content-Length``) has arrived, so the
  deadline can be re-armed for the next request on a keep-alive connection. It stops watching
  for a WebSocket upgrade (what follows is frames, not HTTP) and for a chunked body (the body
  deadline in the handler covers that request; idle time is the keep-alive timeout's job).
* :class:`GuardedProtocol` -- wraps aiohttp's per-connection protocol: refuses connections
  beyond the cap with a 503, closes a connection whose headers are not complete within
  ``header_timeout_s`` of the request's first byte (or of the connection opening), and answers
  a request without exactly one ``Host`` header with 421 itself, before aiohttp's parser
  (which would say 400) sees the end of that header block.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Final, cast

from .errors import MISDIRECTED, TOO_MANY_CONNECTIONS

__all__ = ["ConnectionLimits", "GuardedProtocol", "HeaderWatch"]

log = logging.getLogger("gateway.guard")

_END_OF_HEADERS: Final = b"\r\n\r\n"
#: aiohttp refuses longer header blocks anyway; past this we stop buffering and close.
_MAX_HEADER_BYTES: Final = 64 * 1024
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d{1,12})[ \t]*\r\n", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r\n]*chunked", re.IGNORECASE)
_UPGRADE = re.compile(rb"\r\nupgrade:", re.IGNORECASE)
_HOST = re.compile(rb"\r\nhost:", re.IGNORECASE)


#: Refusals made before aiohttp has parsed anything, as whole responses (decided in errors.py).
_MISDIRECTED_RESPONSE: Final = MISDIRECTED.raw()
_BUSY_RESPONSE: Final = TOO_MANY_CONNECTIONS.raw()


class HeaderWatch:
    """Tracks request boundaries on one connection's byte stream (no I/O, no clock).

    States: *idle* (between requests), *headers* (a request has started, headers incomplete),
    *body* (counting ``Content-Length`` bytes), *off* (upgrade or chunked: stop watching).
    """

    __slots__ = ("_buffer", "_body_left", "state")

    def __init__(self) -> None:
        self.state = "idle"
        self._buffer = bytearray()
        self._body_left = 0

    @property
    def awaiting_headers(self) -> bool:
        """True while a request's header block is incomplete (the deadline applies)."""
        return self.state == "headers"

    def feed(self, data: bytes) -> list[bytes] | None:
        """Account for ``data``; returns the header blocks it completed (request line and
        headers), or None when a header block is absurdly large."""
        heads: list[bytes] = []
        while data and self.state != "off":
            if self.state == "idle":
                self.state = "headers"
            if self.state == "headers":
                start = max(0, len(self._buffer) - 3)
                self._buffer += data
                end = self._buffer.find(_END_OF_HEADERS, start)
                if end < 0:
                    return heads if len(self._buffer) <= _MAX_HEADER_BYTES else None
                head = bytes(self._buffer[: end + 2])
                data = bytes(self._buffer[end + 4:])
                self._buffer.clear()
                heads.append(head)
                if _UPGRADE.search(head) or _CHUNKED.search(head):
                    self.state = "off"
                    return heads
                match = _CONTENT_LENGTH.search(head)
                self._body_left = int(match.group(1)) if match else 0
                self.state = "body" if self._body_left else "idle"
            elif self.state == "body":
                taken = min(self._body_left, len(data))
                self._body_left -= taken
                data = data[taken:]
                if self._body_left == 0:
                    self.state = "idle"
        return heads


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The listener's limits (``[server]`` config: ``max_connections``, ``header_timeout_s``)."""

    max_connections: int
    header_timeout_s: float


class _Counter:
    """Live connection count shared by one listener's protocols."""

    __slots__ = ("active",)

    def __init__(self) -> None:
        self.active = 0


class GuardedProtocol(asyncio.Protocol):
    """Forwards everything to aiohttp's protocol, enforcing the cap and the header deadline."""

    def __init__(self, inner: asyncio.Protocol, limits: ConnectionLimits,
                 counter: _Counter) -> None:
        self._inner = inner
        self._limits = limits
        self._counter = counter
        self._watch = HeaderWatch()
        self._timer: asyncio.TimerHandle | None = None
        self._transport: asyncio.Transport | None = None
        self._admitted = False
        #: Until the first byte, the deadline also covers an opened-but-silent connection.
        self._fresh = True

    @staticmethod
    def new_counter() -> _Counter:
        """One counter per listener."""
        return _Counter()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport
        # (an isinstance check here once kept every 421 and 503 from being written on uvloop).
        self._transport = cast(asyncio.Transport, transport)
        if self._counter.active >= self._limits.max_connections:
            log.warning("connection refused: %d connections open (the cap)",
                        self._counter.active)
            self._transport.write(_BUSY_RESPONSE)
            self._transport.close()
            return
        self._admitted = True
        self._counter.active += 1
        self._inner.connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        self._fresh = False
        was_idle = not self._watch.awaiting_headers
        heads = self._watch.feed(data)
        if heads is None:
            self._close("header block too large")
            return
        if any(len(_HOST.findall(head)) != 1 for head in heads):
            self._disarm()
            if self._transport is not None:
                self._transport.write(_MISDIRECTED_RESPONSE)
            self._close("request without exactly one Host header")
            return
        if self._watch.awaiting_headers:
            if was_idle:
                self._arm()
        else:
            self._disarm()
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._admitted else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._admitted:
            self._admitted = False
            self._counter.active -= 1
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def _arm(self) -> None:
        self._disarm()
        self._timer = asyncio.get_running_loop().call_later(self._limits.header_timeout_s,
                                                            self._on_deadline)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_deadline(self) -> None:
        self._timer = None
        if self._fresh or self._watch.awaiting_headers:
            self._close("request headers not received in time")

    def _close(self, why: str) -> None:
        log.warning("closing a slow HTTP connection: %s", why)
        if self._transport is not None:
            self._transport.close()

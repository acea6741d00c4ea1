"""A listening socket accepted until the kernel has nothing more, on a loop that would not.

uvloop's libuv accepts one connection per readiness event of a listening socket and relies on
level-triggered polling for the next: on a loop busy with a thousand connections' callbacks
that is one accept per loop pass, and at two console instances with 1,000 daemons connections
waited 10-26 s in the kernel's accept queue (``docs/history/performance-notes.md``, "the 2 x
1,000 tail").
asyncio's own loop accepts up to the backlog per pass already, and its Windows loop (the
Proactor, which has no ``add_reader``) accepts through its own completion port: both keep
``loop.create_server``.

:class:`AcceptingServer` watches the listening socket with ``loop.add_reader`` and, each time
it is readable, accepts until ``EAGAIN`` (at most ``batch`` per pass, so one burst cannot keep
the loop from everything else), handing each connection to the loop with
``connect_accepted_socket`` (TLS included). It is the ``asyncio.AbstractServer`` aiohttp's
site keeps: ``close`` and ``sockets``.

Every connection a daemon opens passes here (a daemon's report every 30 s comes on a new
connection), so the accept is made without the ``socket`` module's Python layer:
``socket.accept`` is a Python function that reads the listening socket's ``family`` and
``type`` (each an enum made anew, in Python), and uvloop reads the accepted socket's three
more times. The listening socket's own accept
(``_accept``, which the ``socket`` module's wraps) gives the descriptor, and the socket is
made as an :class:`_Accepted` of the listener's family, whose ``family`` and ``type`` are
values, not properties (a ``socket.socket`` still: uvloop detaches it when the connection
closes, so its descriptor is closed once, by libuv).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
from collections.abc import Callable

__all__ = ["AcceptingServer", "accepts_one_per_pass"]

log = logging.getLogger(__name__)

#: accept() failures that mean "not now" (the process or the system is out of descriptors or
#: memory, or the peer gave up before the accept): logged, the next readiness tries again.
_TRANSIENT = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM,
                        errno.ECONNABORTED, errno.EPERM})


class _Accepted(socket.socket):
    """An accepted TCP connection's socket, its ``type`` a value (an accepted socket is the
    listener's type: a stream)."""

    __slots__ = ()
    type = socket.SOCK_STREAM


class _AcceptedV4(_Accepted):
    __slots__ = ()
    family = socket.AF_INET


class _AcceptedV6(_Accepted):
    __slots__ = ()
    family = socket.AF_INET6


def _accepted(listener: socket.socket) -> type[_Accepted] | None:
    """The socket class of ``listener``'s connections (None: not TCP over IPv4 or IPv6, whose
    connections are made by the ``socket`` module's own accept)."""
    if listener.type != socket.SOCK_STREAM:
        return None
    return {socket.AF_INET: _AcceptedV4, socket.AF_INET6: _AcceptedV6}.get(listener.family)


def accepts_one_per_pass(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether ``loop`` accepts one connection per loop pass (uvloop's libuv)."""
    return type(loop).__module__.split(".")[0] == "uvloop"


class AcceptingServer(asyncio.AbstractServer):
    """Listening sockets whose connections are accepted in bursts (see the module)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sockets: list[socket.socket],
                 factory: Callable[[], asyncio.BaseProtocol], *,
                 ssl_context: ssl.SSLContext | None, batch: int) -> None:
        self._loop, self._sockets, self._factory = loop, sockets, factory
        self._ssl, self._batch = ssl_context, batch
        self._serving = False
        self._handshakes: set[asyncio.Task[None]] = set()

    @classmethod
    def listen(cls, loop: asyncio.AbstractEventLoop, host: str, port: int,
               factory: Callable[[], asyncio.BaseProtocol], *,
               ssl_context: ssl.SSLContext | None, backlog: int) -> AcceptingServer:
        """Bind every address ``host`` names on ``port`` (0: one free port for all), listen
        and serve."""
        sockets: list[socket.socket] = []
        try:
            for family, kind, proto, _, address in socket.getaddrinfo(
                    host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE):
                sock = socket.socket(family, kind, proto)
                sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                if port == 0 and len(sockets) > 1:  # one port for every address, as asyncio
                    address = (address[0], sockets[0].getsockname()[1], *address[2:])
                sock.bind(address)
                sock.listen(backlog)
        except OSError:
            for sock in sockets:
                sock.close()
            raise
        return cls.adopt(loop, sockets, factory, ssl_context=ssl_context, batch=backlog)

    @classmethod
    def adopt(cls, loop: asyncio.AbstractEventLoop, sockets: list[socket.socket],
              factory: Callable[[], asyncio.BaseProtocol], *,
              ssl_context: ssl.SSLContext | None, batch: int) -> AcceptingServer:
        """Serve sockets already listening."""
        server = cls(loop, sockets, factory, ssl_context=ssl_context, batch=batch)
        for sock in sockets:
            sock.setblocking(False)
            loop.add_reader(sock.fileno(), server._accept, sock, _accepted(sock), sock.family,
                            sock.proto)
        server._serving = True
        return server

    def _accept(self, sock: socket.socket, kind: type[_Accepted] | None, family: int,
                proto: int) -> None:
        """Accept what ``sock`` has queued (at most ``batch``); ``kind``: the class of its
        connections' sockets (:func:`_accepted`), made from the descriptor the accept gives
        with ``sock``'s ``family`` and ``proto`` (TCP_NODELAY is set by the loop's TCP
        transport)."""
        for _ in range(self._batch):
            try:
                if kind is None:
                    conn, _ = sock.accept()
                else:
                    fd, _ = sock._accept()  # type: ignore[attr-defined] # (``socket.accept``'s)
                    conn = kind(family, socket.SOCK_STREAM, proto, fd)
            except (BlockingIOError, InterruptedError):
                return  # EAGAIN: the queue is empty
            except OSError as exc:
                if exc.errno in _TRANSIENT:
                    log.warning("accepting a connection failed: %s", exc)
                    return
                raise
            conn.setblocking(False)
            task = self._loop.create_task(self._connect(conn))
            self._handshakes.add(task)
            task.add_done_callback(self._handshakes.discard)

    async def _connect(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._factory, conn, ssl=self._ssl)
        except (OSError, ssl.SSLError, asyncio.CancelledError) as exc:
            conn.close()
            if not isinstance(exc, asyncio.CancelledError):
                log.debug("an accepted connection failed before it was served: %s", exc)

    # -- asyncio.AbstractServer ---------------------------------------------------------------

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        """The listening sockets."""
        return tuple(self._sockets)

    def close(self) -> None:
        """Stop accepting and close the listening sockets (connections stay, as asyncio's)."""
        if not self._serving:
            return
        self._serving = False
        for sock in self._sockets:
            self._loop.remove_reader(sock.fileno())
            sock.close()
        for task in self._handshakes:
            task.cancel()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        """Serving from :meth:`adopt` on."""

    async def serve_forever(self) -> None:
        raise NotImplementedError("AcceptingServer serves from adopt(); await wait_closed()")

    async def wait_closed(self) -> None:
        """Wait for the connections still in their TLS handshake after :meth:`close`."""
        if self._handshakes:
            await asyncio.gather(*self._handshakes, return_exceptions=True)

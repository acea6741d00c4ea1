"""``POST /rpc`` on llhttp (httptools): the daemon's hot path without aiohttp's request machinery.

aiohttp's request and response objects cost several times what an ``asyncio.Protocol`` on llhttp
does (the profile is in ``docs/performance.md``), so ``[server] rpc_edge = "llhttp"`` (the
default) serves ``POST /rpc`` on the ground floor's llhttp edge (``mtgateway_base.httpedge``,
the one the console's device calls stand on too) and hands every other request, ``/ws`` upgrades
included, to aiohttp's own protocol on the same connection, with the bytes already read (then
the connection is aiohttp's for good). What is the daemon's alone is here:

* **which requests** -- :func:`ours`: ``POST /rpc`` (any query: its token check is the door's
  too) on plain HTTP/1.x; anything else is aiohttp's;
* **its values** -- :func:`edge_settings`: the runner's ``[server]`` limits, the linger after
  an early refusal, the 400 of ``errors.py`` for bytes that are not HTTP, and the repeated
  header block parsed once (a client sends one block on every call of a connection);
* **the answer** -- :func:`answerer`: every request through the door every ``/rpc`` door
  calls (``door.py``: :meth:`~gateway.edge.door.Door.edge_rpc`, the ladder, the body
  deadline, the token, the mark, the context, the dispatcher), with its head as llhttp parsed
  it (:func:`~gateway.edge.head.edge_head`) and itself as the body to wait for; every answer
  is from ``errors.py``. A handler is never cancelled by a client leaving (a trade in flight
  finishes, as with aiohttp's defaults); with ``[logging] access_log`` each request's line,
  with the JSON-RPC methods it answered.

The edge itself (its request assembly, the pipelining, the keep-alive timer, the hand-off,
the answers' bytes) is ``mtgateway_base.httpedge``'s, with its tests of every split of a
stream (``daemon/tests/gateway/edge/test_llhttp.py``, on this module's settings).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Final

from mtgateway_base.httpedge import (
    Answer,
    Answerer,
    EdgeRequest,
    EdgeSettings,
    RequestAssembly,
)
from mtgateway_base.log import log_access

from ..errors import MALFORMED_REQUEST

if TYPE_CHECKING:
    from mtgateway_base.guard import GuardedProtocol

    from ..config import ServerConfig
    from .door import Door

__all__ = ["LINGERING_S", "answerer", "assembly", "edge_settings", "ours"]

#: After an early refusal, the rest of the body is read and dropped for this long before the
#: connection is closed instead (aiohttp's ``lingering_time`` on the daemon, ``listener.py``).
LINGERING_S: Final = 2.0


def ours(request: EdgeRequest) -> bool:
    """``POST /rpc`` (any query: its token check is ours too); anything else is aiohttp's,
    as is a request with an upgrade or an expectation other than ``100-continue`` (on
    HTTP/1.1), which the edge hands off before asking (:func:`plain_request`)."""
    target = request.target
    return request.method == b"POST" and (target == b"/rpc" or target.startswith(b"/rpc?"))


def edge_settings(server: ServerConfig) -> EdgeSettings:
    """The edge's values for a daemon with ``[server]`` ``server``: those its aiohttp runner
    is given (``listener.start_http``), so a request is treated alike whichever parser reads
    it."""
    return EdgeSettings(ours=ours, max_body_bytes=server.max_body_bytes,
                        keepalive_timeout_s=server.keepalive_timeout_s,
                        lingering_s=LINGERING_S, malformed=MALFORMED_REQUEST.raw(),
                        repeats=True)


def assembly(max_body_bytes: int) -> RequestAssembly:
    """A connection's request assembly as the daemon's edge makes it (for reading a stream
    without a connection: the tests of every split)."""
    return RequestAssembly(max_body_bytes, ours, repeats=True)


def answerer(door: Door, access_log: logging.Logger | None) -> Answerer:
    """How the edge answers an ``/rpc`` request: the door's :meth:`~.door.Door.edge_rpc`
    itself (no call of this module's between the edge and the door), or with
    ``access_log``, that and the request's line (method, path without its query string,
    the JSON-RPC methods answered, status, size, time)."""
    if access_log is None:
        return door.edge_rpc
    logger = access_log

    async def logged(request: EdgeRequest, peer: str, conn: GuardedProtocol | None
                     ) -> Answer:
        started = time.perf_counter()
        called: list[str] = []
        answer = await door.edge_rpc(request, peer, conn, called)
        status, body, _ = answer
        log_access(logger, peer, request.method.decode("latin-1"),
                   request.path.decode("latin-1"), called, status, len(body) if body else 0,
                   time.perf_counter() - started)
        return answer

    return logged

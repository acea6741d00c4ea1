"""What a request's header block says, as one value, whichever parser read it.

The daemon parses HTTP twice over: llhttp (``httptools``) on the ``/rpc`` edge
(``llhttp.py``) and aiohttp's own parser for everything else (and for ``/rpc`` with
``[server] rpc_edge = "aiohttp"``). Each has its own request object, with its own names,
types and decodings; the rules of the ladder (``ladder.py``) and the door's sequence
(``door.py``) read neither. Each parser builds one :class:`RequestHead` (aiohttp's request
through :meth:`RequestHead.of_aiohttp`, the llhttp edge's through
:meth:`~gateway.edge.llhttp.RpcRequest.head`, beside its parser), decoded alike (UTF-8 with
``surrogateescape``, as aiohttp decodes header values), and every rule reads that.

Sans-I/O: no socket, no clock; aiohttp's request only as the type of one constructor's
argument.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["RequestHead"]


class RequestHead(NamedTuple):
    """The parts of a request's header block the rules read (immutable).

    A ``NamedTuple`` rather than a frozen dataclass: it is built once per request on the hot
    path, and a frozen dataclass sets each of its ten fields through ``object.__setattr__``,
    several times the cost of one tuple.
    """

    #: The request method, as sent (``POST``).
    method: str
    #: The request target as sent (``/rpc?x=1``, or an absolute form ``http://host/rpc``).
    target: str
    #: Every ``Host`` header's value, in order (the rule wants exactly one).
    hosts: Sequence[str]
    #: The first ``Origin`` value, if any.
    origin: str | None
    #: The query string's keys, decoded (empty without a query string).
    query_keys: Collection[str]
    #: The first ``Content-Type`` value, if any.
    content_type: str | None
    #: The declared ``Content-Length``, if any (None for a chunked body).
    content_length: int | None
    #: The peer's address (for the security log of a refused Host).
    peer: str
    #: The first ``Authorization`` value, if any (the bearer token is read from it).
    authorization: str | None
    #: The parser already knows the bytes are not acceptable HTTP (llhttp, when a bad chunk
    #: came in the same read as the header block): rung 1.
    malformed: bool = False

    @classmethod
    def of_aiohttp(cls, request: web.BaseRequest) -> RequestHead:
        """The head of a request aiohttp's parser read (which refused malformed bytes with
        400 before any handler ran)."""
        headers = request.headers
        return cls(request.method, request.raw_path, headers.getall("Host", ()),
                   headers.get("Origin"),
                   request.query.keys() if request.query_string else (),
                   headers.get("Content-Type"), request.content_length,
                   request.remote or "?", headers.get("Authorization"))

"""What a request's header block says, as one value, whichever parser read it.

The daemon parses HTTP twice over: llhttp (``httptools``) on the ``/rpc`` edge
(``llhttp.py``, on the ground floor's ``mtgateway_base.httpedge``) and aiohttp's own parser
for everything else (and for ``/rpc`` with ``[server] rpc_edge = "aiohttp"``). Each has its
own request object, with its own names, types and decodings; the rules of the ladder
(``ladder.py``) and the door's sequence (``door.py``) read neither. Each parser's request
gives one :class:`RequestHead` (aiohttp's through :meth:`RequestHead.of_aiohttp`, the llhttp
edge's through :func:`edge_head`), decoded alike (UTF-8 with ``surrogateescape``, as aiohttp
decodes header values), and every rule reads that.

Sans-I/O: no socket, no clock; each parser's request only as the type of an argument.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import partial
from typing import TYPE_CHECKING, Final, NamedTuple
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from aiohttp import web

    from mtgateway_base.httpedge import EdgeRequest

__all__ = ["RequestHead", "edge_head"]


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


#: ``RequestHead(...)`` from a tuple without the ``NamedTuple``'s interpreted ``__new__``
#: (built for every header block the llhttp edge parses).
_head: Final = partial(tuple.__new__, RequestHead)


def edge_head(request: EdgeRequest, peer: str) -> RequestHead:
    """What the header block of a request the llhttp edge read says, as every rule reads it,
    for a request from ``peer`` (decoded as aiohttp decodes a request's).

    Built once per header block and kept as the request's ``known`` (and its template's):
    the requests that repeat a connection's block (the same peer's: one edge's requests,
    ``RequestAssembly._repeat``) are given the same head, so the door judges it once
    (``Door.enter_now``). The noted values are decoded here, not through
    ``EdgeRequest.first`` (a call each, on every block).
    """
    known: RequestHead | None = request.known
    if known is not None and known.peer == peer:
        return known
    template = request.template
    if template is not None:
        known = template.known
        if known is not None and known.peer == peer:
            request.known = known
            return known
    noted, target, hosts = request.noted, request.target, request.hosts
    origin, content_type = noted.get(b"origin"), noted.get(b"content-type")
    authorization = noted.get(b"authorization")
    method = request.method
    known = request.known = _head((  # (the usual method and target, not decoded)
        "POST" if method == b"POST" else method.decode("latin-1"),
        "/rpc" if target == b"/rpc" else target.decode("utf-8", "surrogateescape"),
        [hosts[0].decode("utf-8", "surrogateescape")] if len(hosts) == 1
        else [value.decode("utf-8", "surrogateescape") for value in hosts],
        None if origin is None else origin.decode("utf-8", "surrogateescape"),
        _query_keys(target) if b"?" in target else (),
        None if content_type is None else content_type.decode("utf-8", "surrogateescape"),
        request.content_length, peer,
        None if authorization is None else authorization.decode("utf-8", "surrogateescape"),
        request.broken))
    if template is not None and not request.broken:
        template.known = known
    return known


def _query_keys(target: bytes) -> tuple[str, ...]:
    """The query string's keys, decoded (none without a query string)."""
    query = target.partition(b"?")[2]
    if not query:
        return ()
    return tuple(key for key, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True))

"""The HTTP edge rules the daemon and the console share, written once for both processes.

Both serve HTTP on loopback by default, and a web page whose own domain is rebound to
127.0.0.1 (DNS rebinding) reaches either with its domain in ``Host``: so both refuse a
request whose ``Host`` is not loopback or a configured name (421), and an operator hears of
such attempts once per window on the ``gateway.security`` logger. The module stands on the
ground floor both processes share (``mtgateway_base``): the daemon's HTTP edge
(``gateway.edge.ladder``) and ``app.py``, the console and the guard (``guard.py``) import it
from here.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Final

from .loopback import is_loopback

__all__ = ["HOST_REFUSAL_LOG_WINDOW_S", "HeldRequests", "HostRefusals", "forwarded_clients",
           "host_allowed", "target_authority"]

security_log = logging.getLogger("gateway.security")

#: A refused Host is logged at most once per this many seconds (with the count since).
HOST_REFUSAL_LOG_WINDOW_S: Final = 60.0


def target_authority(target: str) -> str | None:
    """The authority (``host[:port]``) of an absolute-form request target
    (``http://host:port/path``, RFC 9112 §3.2.2), ``None`` for any other form.

    Userinfo before the last ``@`` is dropped, as a client would connect to what follows it.
    """
    if target.startswith("/") or "://" not in target:
        return None  # origin form, asterisk form, authority form (CONNECT: no route here)
    rest = target.partition("://")[2]
    for stop in "/?#":
        rest = rest.partition(stop)[0]
    return rest.rpartition("@")[2]


def forwarded_clients(forwarded: list[str], x_forwarded_for: list[str]) -> list[str]:
    """The client address a reverse proxy put in each forwarding header present: the last
    ``for=`` of ``Forwarded`` (RFC 7239 §4-5, quoted, bracketed IPv6 and a port allowed) and
    the last entry of ``X-Forwarded-For``, each header's values joined as one list. The last
    entry is the one the proxy itself appended; entries before it are what the client sent
    and prove nothing. An obfuscated or ``unknown`` node comes back as it is (not loopback).
    """
    found = []
    elements = [e for value in forwarded for e in value.split(",") if e.strip()]
    if elements:
        node = ""
        for pair in elements[-1].split(";"):
            name, _, value = pair.strip().partition("=")
            if name.strip().lower() == "for":
                node = value.strip().strip('"')
        found.append(_address_of(node))
    entries = [e.strip() for value in x_forwarded_for for e in value.split(",") if e.strip()]
    if entries:
        found.append(_address_of(entries[-1]))
    return found


def _address_of(node: str) -> str:
    """``node`` without brackets or port: ``[::1]:4711`` -> ``::1``, ``1.2.3.4:80`` ->
    ``1.2.3.4``; a bare IPv6 address is kept whole."""
    if node.startswith("["):
        return node[1:].partition("]")[0]
    if node.count(":") == 1:
        return node.partition(":")[0]
    return node


def host_allowed(values: Sequence[str], extra: tuple[str, ...], target: str = "") -> bool:
    """Exactly one Host header, naming loopback (or a configured name), with an optional port;
    and, for an absolute-form ``target``, its authority too.

    RFC 9112 §3.2.2: a server receiving an absolute-form target uses the target's authority
    and ignores Host. Browsers never send that form to a server, so it opens no rebinding
    path, but a request must not be served for a name the rule refuses: the authority, which
    wins, is held to the rule, and the Host header still is (every HTTP/1.1 request carries
    one, §3.2).
    """
    if len(values) != 1:
        return False
    if target and not target.startswith("/"):  # (origin form, the usual one: no authority)
        authority = target_authority(target)
        if authority is not None and not _name_allowed(authority, extra):
            return False
    # the usual case without a call: the name was allowed before (:func:`_name_allowed`)
    return (values[0], extra) in _ALLOWED or _name_allowed(values[0], extra)


def _name_allowed(value: str, extra: tuple[str, ...]) -> bool:
    """``value`` (``host[:port]``) names loopback or a configured name, with a valid port.

    Asked on every request of both processes, nearly always with the same value: a name
    allowed once is remembered (:data:`_ALLOWED`, bounded: full, it starts again, so a
    client sending a new name each time grows nothing), and the request after it costs one
    look-up; a refused one is worked out each time."""
    if (value, extra) in _ALLOWED:
        return True
    if not _name_allowed_now(value, extra):
        return False
    if len(_ALLOWED) >= _ALLOWED_MAX:
        _ALLOWED.clear()
    _ALLOWED.add((value, extra))
    return True


#: Names (with the configured names they were judged against) :func:`_name_allowed` found
#: allowed; at most :data:`_ALLOWED_MAX` (the loopback names a machine's clients use).
_ALLOWED: Final[set[tuple[str, tuple[str, ...]]]] = set()
_ALLOWED_MAX: Final = 64


def _name_allowed_now(value: str, extra: tuple[str, ...]) -> bool:
    """:func:`_name_allowed`, worked out."""
    host = value.strip().lower()
    name, port = host, ""
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return False
        name, rest = host[: end + 1], host[end + 1:]
        if rest and not rest.startswith(":"):
            return False
        port = rest[1:]
    elif ":" in host:
        name, _, port = host.rpartition(":")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        return False
    if extra and name in {h.lower() for h in extra}:  # none configured: no set per request
        return True
    return is_loopback(name[1:-1] if name.startswith("[") else name)  # 127.0.0.2 too


class HostRefusals:
    """Counts 421 refusals of a foreign or missing Host; logs one warning per window.

    The first refusal of a window is logged at once (naming the Host, shortened, and the
    peer); the others are counted and the next line says how many there were.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 window_s: float = HOST_REFUSAL_LOG_WINDOW_S, what: str = "the daemon") -> None:
        self.what = what
        self._clock = clock
        self._window_s = window_s
        self._logged_at: float | None = None
        self._unlogged = 0

    def note(self, host: str | None, peer: str) -> None:
        """One request refused with 421 for its Host (None: missing or more than one)."""
        now = self._clock()
        if self._logged_at is not None and now - self._logged_at < self._window_s:
            self._unlogged += 1
            return
        shown = "missing or repeated" if host is None else repr(host[:80])
        security_log.warning(
            "security: %s refused a request from %s naming Host %s with 421 (only loopback or "
            "configured allowed_hosts; a DNS-rebinding web page sends its own name); %d more "
            "refused since the last such line, next line in %.0f s at the earliest",
            self.what, peer, shown, self._unlogged, self._window_s)
        self._logged_at = now
        self._unlogged = 0


class HeldRequests:
    """Requests a server holds open (long-polls), counted per key and per peer, bounded.

    A long-poll costs the server a socket and a waiter for up to a minute while the client
    pays nothing, and a device key costs nothing to make (300 long-polls, each under a fresh
    key, once exhausted the console's file descriptors). :meth:`enter` says whether
    one more may be held for ``key`` from ``peer``; past either bound the caller refuses it.
    """

    def __init__(self, *, per_key: int, per_peer: int, longest_s: float = math.inf) -> None:
        self.per_key = per_key
        self.per_peer = per_peer
        #: The longest one is held, whatever its client asks (the server's own bound, below
        #: a proxy's idle timeout in front of it).
        self.longest_s = longest_s
        self._keys: Counter[str] = Counter()
        self._peers: Counter[str] = Counter()
        self._changed = asyncio.Event()

    def held(self, *, key: str | None = None, peer: str | None = None) -> int:
        """How many are held for ``key`` (or from ``peer``)."""
        return self._keys[key] if key is not None else self._peers[peer or ""]

    def enter(self, key: str, peer: str) -> bool:
        """Count one more held request, or False (nothing counted) past a bound."""
        if self._keys[key] >= self.per_key or self._peers[peer] >= self.per_peer:
            return False
        self._keys[key] += 1
        self._peers[peer] += 1
        self._notify()
        return True

    def leave(self, key: str, peer: str) -> None:
        """One request :meth:`enter` admitted is answered."""
        for counts, name in ((self._keys, key), (self._peers, peer)):
            counts[name] -= 1
            if counts[name] <= 0:
                del counts[name]
        self._notify()

    async def until_held(self, key: str, count: int) -> None:
        """Wait until ``count`` requests are held for ``key`` (for observers: tests)."""
        while self._keys[key] < count:
            await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

"""Answers the console holds open: the live page's event streams, within bounds of their own.

A stream (``GET /live/stream``) costs the console a connection for up to
:data:`~..web.live.STREAM_S` while the browser pays nothing, and a signed-in request in
progress used to be work the connection budget never evicted: one session could open streams
until the budget was spent, and then ``/health``, the sign-in page and the daemons' reports
were all refused 503. So a stream is held only within three bounds, like the revocation
long-poll's per device key and per address:

- per session (:data:`PER_SESSION`): a page and a second tab of one browser;
- per owner (:data:`PER_OWNER`): a few browsers of one owner;
- per address (``[console] max_streams_per_peer``): every owner behind one proxy shares it.

Past a bound the newcomer is refused 429 with ``Retry-After`` (the live page's script then
fetches its panels every few seconds instead), never the oldest stream ended for it. Why:
ending the oldest would let whoever holds a stolen session cookie end the owner's own live
page by opening streams, and two tabs past the bound would end each other in turn, each
reconnect a request; refusing keeps what is held and costs the refused one a poll.

Within the bounds a held stream is still the connection budget's to end
(``base/guard.mark_held``): when the budget is spent, a newcomer evicts the oldest stream
after every idle connection, so no number of streams, whoever opens them, keeps a daemon or a
sign-in out. A held stream also ends when its session does: at once when this instance ends
the session (sign-out, "sign out everywhere", a password change ending the other sessions:
:meth:`HeldStreams.ended`), and at the stream's next beat when it ended any other way (another
instance, a password reset, the operator's command), when the stream asks the door for its
session again; and every stream ends when the console shuts down (:meth:`HeldStreams.close`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Final

__all__ = ["PER_OWNER", "PER_SESSION", "RETRY_S", "Held", "HeldStreams"]

#: Streams held at once for one page session (a page and a second tab).
PER_SESSION: Final = 2
#: Streams held at once for one owner (a few browsers).
PER_OWNER: Final = 4
#: The ``Retry-After`` of a stream refused past a bound.
RETRY_S: Final = 30


class Held:
    """One held stream: whose it is, and whether it has been told to end."""

    __slots__ = ("_end", "owner", "peer", "session_key")

    def __init__(self, session_key: str, owner: str, peer: str) -> None:
        self.session_key = session_key
        self.owner = owner
        self.peer = peer
        self._end = asyncio.Event()

    @property
    def ended(self) -> bool:
        """Whether the stream was told to end (its session ended, the console shuts down)."""
        return self._end.is_set()

    def end(self) -> None:
        """Tell the stream to end (it wakes if it waits)."""
        self._end.set()

    async def wait(self, news: asyncio.Event, timeout_s: float) -> bool:
        """Wait until ``news`` is set, the stream is told to end, or ``timeout_s`` passes;
        whether ``news`` came (and the stream may go on)."""
        if not self.ended:
            heard = asyncio.ensure_future(news.wait())
            over = asyncio.ensure_future(self._end.wait())
            try:
                await asyncio.wait((heard, over), timeout=timeout_s,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                heard.cancel()
                over.cancel()
        return news.is_set() and not self.ended


class HeldStreams:
    """The streams held open, counted per session, per owner and per address, bounded."""

    def __init__(self, *, per_peer: int, per_session: int = PER_SESSION,
                 per_owner: int = PER_OWNER) -> None:
        self.per_session = per_session
        self.per_owner = per_owner
        self.per_peer = per_peer
        self._held: dict[Held, None] = {}
        self._sessions: Counter[str] = Counter()
        self._owners: Counter[str] = Counter()
        self._peers: Counter[str] = Counter()
        self._closed = False

    def held(self, *, owner: str | None = None, peer: str | None = None) -> int:
        """How many are held (for ``owner``, or from ``peer``)."""
        if owner is not None:
            return self._owners[owner]
        if peer is not None:
            return self._peers[peer]
        return len(self._held)

    def enter(self, session_key: str, owner: str, peer: str) -> Held | None:
        """Hold one more stream, or None (nothing held) past a bound or while closing."""
        if (self._closed or self._sessions[session_key] >= self.per_session
                or self._owners[owner] >= self.per_owner or self._peers[peer] >= self.per_peer):
            return None
        held = Held(session_key, owner, peer)
        self._held[held] = None
        self._sessions[session_key] += 1
        self._owners[owner] += 1
        self._peers[peer] += 1
        return held

    def leave(self, held: Held) -> None:
        """A stream :meth:`enter` held has ended."""
        if held in self._held:
            del self._held[held]
            for counts, name in ((self._sessions, held.session_key), (self._owners, held.owner),
                                 (self._peers, held.peer)):
                counts[name] -= 1
                if counts[name] <= 0:
                    del counts[name]

    def ended(self, *, owner: str | None = None, key: str | None = None,
              keep: str | None = None) -> int:
        """Sessions ended on this instance: ``key``'s, or every one of ``owner``'s (but
        ``keep``); their streams are told to end. How many were."""
        told = 0
        for held in self._held:
            if (key is None or held.session_key == key) \
                    and (owner is None or held.owner == owner) \
                    and (keep is None or held.session_key != keep) and not held.ended:
                held.end()
                told += 1
        return told

    def close(self) -> None:
        """End every stream now and hold no more (the console shuts down)."""
        self._closed = True
        for held in self._held:
            held.end()

"""The fair share on the daemon: what one token may hold of the connections every caller shares.

The connection budget (``mtgateway_base/guard.py``) never evicts a token holder's request in
progress, nor its WebSocket once authenticated: that is what keeps the owner's bot served
under a flood. But it made one token, any token the daemon accepts, able to hold every
connection: an attack opened the daemon's 256 ``/ws`` streams with a read-only token (one whose
terminal's EA is paired with another token, so every call under it is refused anyway), and
the trading bot's ``POST /rpc`` got 503 for as long as the streams stayed open. The console
bounds each credential's requests in progress (``mtgateway_console/fairshare.py``); the daemon
now does too, per **token** (its ``token_id``: a challenge session counts as its token),
with the same answer past a bound, 429 at once:

=========================  =====================================  ===========================
what one token holds       its bound                              past it
=========================  =====================================  ===========================
work: requests in          half of ``[server] max_connections``   429 ``too_many_requests``
progress on ``/rpc`` and   (128 of 256; at least 1)               (``Retry-After: 1``)
the REST mirror, and its
open ``/ws`` streams
open ``/ws`` streams       ``[ws] max_streams_per_token`` (64)    429 ``too_many_streams`` on
(within its work)                                                 the upgrade; close 1013
                                                                  ``too_many_streams`` at the
                                                                  first message
=========================  =====================================  ===========================

Why these:

- **Work, half the budget.** A request in progress, or an authenticated stream, keeps its
  connection (the guard never evicts it); everything else a token holds (an idle keep-alive
  connection, a request still arriving) leaves for a newcomer. So the connections a token can
  keep from everyone else are exactly its work, and half the budget leaves the other half to
  every other token and caller, whatever one token does. Streams count in the same work as
  requests so the promise holds for any ``max_connections`` (a stream bound of its own beside
  a request bound of half could add up to the whole budget when the budget is small). Half
  of the default 256 is 128: a bot on aiohttp's default pool (100 connections, the Python
  client's streams included: ``mtgateway.aio`` opens one WebSocket per stream in the same
  session) is never refused.
- **Streams, 64.** A stream is work that lasts hours, a request a moment; streams bounded
  apart leave the rest of a token's share to its calls. A bot that follows 28 symbols'
  candles on two timeframes, its ticks, trades and terminal opens 59; a stream refused is one
  the client retries with backoff (the Python client does on any HTTP status but 401/403,
  and on close 1013).
- **Refused, not evictable.** A stream is not the budget's to end for a newcomer (the
  console's live page streams are, ``guard.mark_held``): a bot's trade events stream is how
  it hears of its fills, and ending it for any newcomer would cost it a gap and a resync each
  time someone connects; with the bound, no token's streams and requests can hold more than
  half the budget, so the newcomer always finds a place without ending anyone's.
- **No owner bound.** The console counts every owner's credentials together, because many
  owners share a console. A daemon's tokens nearly always belong to one owner: the owner's
  bot and the read-only token the owner gave a third party. A bound per owner would let that
  third party's token use up the owner's share and refuse the owner's own bot, the very
  attack; so the daemon counts tokens only, and every other token keeps its own share. What
  is not promised: tokens together (an owner who gives two tokens to one party gives it two
  shares, the whole budget at the default), as many addresses together are not.

The count is two plain dicts, which the door reads and writes itself on ``/rpc``'s path
(:meth:`~gateway.edge.door.Door._dispatch`: every call takes them, in a module of the
compiled build); the streams' side is this class's methods, called once per stream.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MIN_WORK", "TokenShare", "work_bound"]

#: A token's work bound is never below this, whatever the budget (a budget of one connection
#: must still serve one request).
MIN_WORK: Final = 1


def work_bound(max_connections: int) -> int:
    """A token's requests in progress and open streams together, at most: half the
    connection budget (at least :data:`MIN_WORK`), so one token never holds every connection
    with work the guard never evicts."""
    return max(MIN_WORK, max_connections // 2)


class TokenShare:
    """Each token's work (requests in progress and open streams) and open streams, each
    under its bound; keyed by ``token_id``.

    Args:
        max_connections: the connection budget the daemon serves (``[server]
            max_connections`` as fitted to the open-file limit): the work bound is half.
        max_streams: ``[ws] max_streams_per_token``.
    """

    __slots__ = ("_streams_of", "stream_bound", "streams", "work", "work_bound")

    def __init__(self, max_connections: int, max_streams: int) -> None:
        self.work_bound = work_bound(max_connections)
        self.stream_bound = max_streams
        #: Each token's requests in progress and open streams (read and written by the
        #: door itself on every ``/rpc`` call: a missing token is no work).
        self.work: dict[str, int] = {}
        #: Each token's open streams.
        self.streams: dict[str, int] = {}
        #: Which token each open stream counts for (a stream presents another token in band:
        #: :meth:`move`), by the stream's own key (the socket).
        self._streams_of: dict[object, str] = {}

    def held(self, token_id: str) -> int:
        """How much work ``token_id`` holds now."""
        return self.work.get(token_id, 0)

    def enter(self, token_id: str) -> bool:
        """One more request in progress for ``token_id``; False (nothing taken) past its
        work bound. The REST mirror's; the door takes the same steps itself for ``/rpc``."""
        work = self.work
        held = work.get(token_id, 0)
        if held >= self.work_bound:
            return False
        work[token_id] = held + 1
        return True

    def leave(self, token_id: str) -> None:
        """Give back one :meth:`enter` took."""
        work = self.work
        held = work[token_id] - 1
        if held:
            work[token_id] = held
        else:
            del work[token_id]

    def open(self, stream: object, token_id: str) -> bool:
        """``stream`` opens for ``token_id``: one more stream and one more work; False
        (nothing taken) past either bound."""
        if self.streams.get(token_id, 0) >= self.stream_bound \
                or self.work.get(token_id, 0) >= self.work_bound:
            return False
        self._take(stream, token_id)
        return True

    def move(self, stream: object, token_id: str) -> bool:
        """``stream`` presented ``token_id`` in band (``/ws``'s ``authenticate``): it counts
        for that token from now on; False (it stays its token's) when that token is past a
        bound. Without the check, a token with room could open streams and hand each to
        another, which would then hold any number."""
        old = self._streams_of.get(stream)
        if old == token_id:
            return True
        if not self.open(stream, token_id):
            return False
        if old is not None:
            self._give(old)
        return True

    def close(self, stream: object) -> None:
        """``stream`` closed (or never opened): its place is free; nothing for a stream not
        counted."""
        token_id = self._streams_of.pop(stream, None)
        if token_id is not None:
            self._give(token_id)

    def _take(self, stream: object, token_id: str) -> None:
        self._streams_of[stream] = token_id
        self.streams[token_id] = self.streams.get(token_id, 0) + 1
        self.work[token_id] = self.work.get(token_id, 0) + 1

    def _give(self, token_id: str) -> None:
        for counts in (self.streams, self.work):
            held = counts[token_id] - 1
            if held:
                counts[token_id] = held
            else:
                del counts[token_id]

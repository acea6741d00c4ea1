"""Who leaves a full connection budget for a newcomer, and what choosing costs.

The real ``ConnectionBudget`` and ``GuardedProtocol`` on transports that record what they are
told (the interface the event loop's give the guard): the order of ranks (never credentialed
idle, then unfinished, then unproven work, then a credential holder's idle connection, the
longest idle first), and that a credential holder's held work, the bulk of a console's
connections, is never looked at when choosing.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mtgateway_base.guard import ConnectionBudget, ConnectionLimits, GuardedProtocol, Refusals


class RecordingTransport(asyncio.Transport):
    """A transport that records writes and closes (the guard's view of a socket)."""

    def __init__(self, peer: str) -> None:
        super().__init__()
        self.peer = peer
        self.written: list[bytes] = []
        self.closed = False
        self._protocol: asyncio.BaseProtocol | None = None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return (self.peer, 40000) if name == "peername" else default

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return False

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None
        return self._protocol


class Ranked(GuardedProtocol):
    """The guard, counting how often a connection's rank was asked for."""

    asked = 0

    def eviction_rank(self) -> int | None:
        Ranked.asked += 1
        return super().eviction_rank()


REQUEST = b"POST /v1/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"


def _budget(size: int) -> ConnectionBudget:
    return ConnectionBudget(ConnectionLimits(max_connections=size, header_timeout_s=60),
                            Refusals(misdirected=b"421", busy=b"503"))


def _connect(budget: ConnectionBudget, peer: str = "127.0.0.1") -> tuple[Ranked,
                                                                         RecordingTransport]:
    conn, transport = Ranked(asyncio.Protocol(), budget), RecordingTransport(peer)
    conn.connection_made(transport)
    return conn, transport


def _held(budget: ConnectionBudget, peer: str = "127.0.0.1") -> Ranked:
    """A credential holder's request in progress (a held long-poll)."""
    conn, _ = _connect(budget, peer)
    conn.data_received(REQUEST)
    conn.request_started()
    conn.authenticate()
    return conn


def _idle_holder(budget: ConnectionBudget) -> tuple[Ranked, RecordingTransport]:
    conn, transport = _connect(budget)
    conn.data_received(REQUEST)
    conn.request_started()
    conn.authenticate()
    conn.request_finished()
    return conn, transport


async def test_a_full_budget_of_held_work_refuses_a_newcomer_without_looking_at_it() -> None:
    budget = _budget(1000)
    for _ in range(1000):
        _held(budget)
    Ranked.asked = 0
    _, newcomer = _connect(budget)
    assert newcomer.written == [b"503"] and newcomer.closed
    assert Ranked.asked == 0  # the walk once asked each of the 1,000 held connections


async def test_the_longest_idle_holder_leaves_and_held_work_is_not_looked_at() -> None:
    budget = _budget(1000)
    older, older_transport = _idle_holder(budget)
    _, younger_transport = _idle_holder(budget)
    for _ in range(998):
        _held(budget)
    Ranked.asked = 0
    _held(budget)
    assert older_transport.closed and not younger_transport.closed
    assert Ranked.asked == 1  # the walk once asked each of the 1,000


async def test_a_holder_that_worked_again_is_idle_from_then() -> None:
    budget = _budget(3)
    first, first_transport = _idle_holder(budget)
    _, second_transport = _idle_holder(budget)
    first.request_started()  # a report on the connection idle the longest
    first.request_finished()
    _held(budget)
    _held(budget)
    assert second_transport.closed and not first_transport.closed


async def test_a_connection_that_never_showed_a_credential_leaves_before_any_holder() -> None:
    budget = _budget(3)
    _, holder = _idle_holder(budget)
    silent, silent_transport = _connect(budget)    # opened, sent nothing: rank 1
    idle, idle_transport = _connect(budget)        # a request done without a credential: 0
    idle.data_received(REQUEST)
    idle.request_started()
    idle.request_finished()
    _held(budget)
    assert idle_transport.closed and not silent_transport.closed and not holder.closed
    _held(budget)
    assert silent_transport.closed and not holder.closed
    _held(budget)
    assert holder.closed


async def test_a_peer_over_its_own_bound_gives_up_its_own_connection_only() -> None:
    budget = ConnectionBudget(ConnectionLimits(max_connections=100, header_timeout_s=60,
                                               max_connections_per_peer=2),
                              Refusals(misdirected=b"421", busy=b"503"))
    _, other = _idle_holder(budget)  # 127.0.0.1, idle the longest
    _, first = _connect(budget, "10.0.0.9")
    _connect(budget, "10.0.0.9")
    _connect(budget, "10.0.0.9")
    assert first.closed and not other.closed


def _stream(budget: ConnectionBudget, peer: str = "127.0.0.1") -> tuple[Ranked,
                                                                        RecordingTransport]:
    """A credential holder's answer held open that may end (a live page's stream)."""
    conn, transport = _connect(budget, peer)
    conn.data_received(REQUEST)
    conn.request_started()
    conn.authenticate()
    conn.hold()
    return conn, transport


async def test_a_held_stream_leaves_after_every_idle_connection_oldest_first() -> None:
    """A stream a credential holder holds is evicted for a newcomer only once no idle
    connection is left, the oldest stream first; work that may not end never is."""
    budget = _budget(4)
    _, older = _stream(budget)
    _, younger = _stream(budget)
    _, idle = _idle_holder(budget)
    _held(budget)
    _held(budget)  # the budget is spent: the idle connection leaves first
    assert idle.closed and not older.closed and not younger.closed
    _held(budget)
    assert older.closed and not younger.closed
    _held(budget)
    assert younger.closed
    _, newcomer = _connect(budget)
    assert newcomer.written == [b"503"]  # only work that may not end is left


async def test_a_stream_that_ended_is_no_longer_held_on_its_connection() -> None:
    """Once the held answer is over, its keep-alive connection is an idle holder's again,
    and a request that follows on it is work that is never evicted."""
    budget = _budget(2)
    stream, transport = _stream(budget)
    stream.request_finished()
    assert stream.eviction_rank() == 3
    stream.request_started()
    assert stream.eviction_rank() is None
    _held(budget)
    _, newcomer = _connect(budget)
    assert newcomer.written == [b"503"] and not transport.closed


async def test_a_peer_over_its_own_bound_ends_its_own_stream() -> None:
    """A peer whose every connection holds a stream gives up its oldest for its own
    newcomer, instead of being refused."""
    budget = ConnectionBudget(ConnectionLimits(max_connections=100, header_timeout_s=60,
                                               max_connections_per_peer=2),
                              Refusals(misdirected=b"421", busy=b"503"))
    _, first = _stream(budget, "10.0.0.9")
    _, second = _stream(budget, "10.0.0.9")
    _, newcomer = _connect(budget, "10.0.0.9")
    assert first.closed and not second.closed and not newcomer.written


def _arriving(budget: ConnectionBudget, shape: str, peer: str = "127.0.0.1"
              ) -> tuple[Ranked, RecordingTransport]:
    """A credential holder's keep-alive connection whose next request is still arriving:
    ``headers`` (a header block begun), ``body`` (its body short of its end), ``body-busy``
    (the same, its handler started: a body still read)."""
    conn, transport = _idle_holder_at(budget, peer)
    if shape == "headers":
        conn.data_received(b"POST /v1/x HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    else:
        conn.data_received(b"POST /v1/x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           b"Content-Length: 10\r\n\r\nxxxx")
        if shape == "body-busy":
            conn.request_started()
    return conn, transport


def _idle_holder_at(budget: ConnectionBudget, peer: str) -> tuple[Ranked, RecordingTransport]:
    conn, transport = _connect(budget, peer)
    conn.data_received(REQUEST)
    conn.request_started()
    conn.authenticate()
    conn.request_finished()
    return conn, transport


@pytest.mark.parametrize("shape", ["headers", "body", "body-busy"])
async def test_a_request_still_arriving_is_no_ones_work(shape: str) -> None:
    """Round 7: one signed-in session held every connection of the console with requests
    whose bodies (or header blocks) were trickled in, each on a connection that had shown
    the credential once: an authenticated connection was never evicted mid-request. A
    request not yet whole leaves for a newcomer now, before an idle holder, whoever's it is;
    work whose request has arrived whole still never does."""
    budget = _budget(3)
    _, idle = _idle_holder(budget)
    conn, arriving = _arriving(budget, shape)
    worker = _held(budget)
    assert conn.eviction_rank() == (1 if shape == "headers" else 2)
    _connect(budget, "10.0.0.9")
    assert arriving.closed and not idle.closed and worker.eviction_rank() is None


async def test_a_request_that_arrived_whole_is_work_again() -> None:
    """Once the rest of the body arrives, the credential holder's request is work that is
    never evicted (the newcomer is refused instead)."""
    budget = _budget(2)
    conn, transport = _arriving(budget, "body-busy")
    conn.data_received(b"xxxxxx")
    assert conn.eviction_rank() is None
    _held(budget)
    _, newcomer = _connect(budget)
    assert newcomer.written == [b"503"] and not transport.closed


async def test_a_held_long_poll_leaves_after_every_stream() -> None:
    """A revocation long-poll (held ``last``) is evicted for a newcomer only once no idle
    connection and no stream is left: a budget full of them no longer answers 503 (one
    owner's devices could hold it; round 7's note), and the daemon polls again."""
    budget = _budget(3)
    _, older = _stream(budget)
    poll, polled = _connect(budget)
    poll.data_received(REQUEST)
    poll.request_started()
    poll.authenticate()
    poll.hold(last=True)
    _, younger = _stream(budget)
    assert poll.eviction_rank() == 5
    _held(budget)
    assert older.closed and not polled.closed and not younger.closed
    _held(budget)
    assert younger.closed and not polled.closed
    _held(budget)
    assert polled.closed
    _, newcomer = _connect(budget)
    assert newcomer.written == [b"503"]  # only work that may not end is left


async def test_an_ipv6_peer_counts_by_its_64() -> None:
    """The per-address bound counts an IPv6 peer by its /64 (an attacker's /64 would
    otherwise be 2^64 addresses)."""
    budget = ConnectionBudget(ConnectionLimits(max_connections=100, header_timeout_s=60,
                                               max_connections_per_peer=2),
                              Refusals(misdirected=b"421", busy=b"503"))
    _held(budget, "2001:db8:1:2::1")
    _held(budget, "2001:db8:1:2::2")
    _, same = _connect(budget, "2001:db8:1:2:ffff::9")
    _, other = _connect(budget, "2001:db8:1:3::1")
    assert same.written == [b"503"] and not other.written

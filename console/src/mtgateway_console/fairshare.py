"""The console's fair-share rule: what every caller shares, and how much one caller may hold.

A server that anyone may call is a set of things every caller shares. One caller, with a
credential or without, must never hold so much of one that the others wait for it: a signed-in
session that held every connection with bodies trickled in, or made-up password-reset links
that each cost a password hash on the pool every sign-in used, stopped the console answering
``/health``, other owners' sign-ins and the daemons' reports. So each shared thing has a bound
per **credential** (what the caller proved: a page session, an API sign-in, the owner's
password, a device key), per **owner** (every credential of one owner together) and per
**address** (callers that proved nothing yet, counted by where they come from), and it is
enforced where the thing is handed out, never page by page:

======================  ============  =========  ==============  ===========================
shared                  a credential  an owner   an address      where it is handed out
======================  ============  =========  ==============  ===========================
connections             what its requests in progress hold       ``guard.ConnectionBudget``
                        (below); a request still arriving is
                        never protected, whoever's
requests in progress    8             16         its connections the console's door
password hashing        1             1          2               ``Hashing`` (its own pool,
(a pool of 2 workers)                                            2 threads)
the database's lane     4             8          2               the database's door
rows kept               see :data:`ROWS`                         where each row is written
======================  ============  =========  ==============  ===========================

- **Held answers** are requests in progress too, with bounds of their own: the live page's
  streams (2 per session, 4 per owner, ``[console] max_streams_per_peer`` per address) and the
  daemons' revocation long-polls (2 per device key, ``max_long_polls_per_peer`` per address);
  both are the connection budget's to end for a newcomer, the long-polls last.
- **Per address** applies to callers that have proved no credential yet (an address stands
  for them); a credential holder is counted by its credential and its owner instead, so the
  owners and daemons behind one proxy or one NAT do not share one address's bound. An IPv6
  address counts by its /64 (``mtgateway_base.fairshare.address_key``): one subscriber's
  network is one address, or an attacker with a /64 would be 2^64 callers. ``[console]
  max_connections_per_peer`` bounds an address's connections, and so its requests in progress.
- **Beyond a bound** the caller waits for its own earlier work (the hashing pool, the lane:
  :class:`Lane`), or is refused at once with 429 (requests in progress: :class:`Share`), or the
  oldest of its own rows gives way (sessions, API sign-ins). Never does the newcomer of
  another caller wait for it.
- **A request still arriving is not protected work**, whoever's connection it is on: a header
  block or a body not yet whole leaves for a newcomer when the connection budget is spent
  (``guard.GuardedProtocol.eviction_rank``), and a connection is a credential holder's only
  once its request's body is read.
- **A link that is made up, used or expired costs no hash**: the link is looked up first, and
  every dead link is answered alike.

:class:`FairShare` is the console's set of them, one object (a second edge, a parser of its
own, asks the same object); who the current request's task serves is :data:`CALLER`, which
the console's door sets and the hashing pool and the database's lane read. How an address
counts is the ground floor's (``mtgateway_base.fairshare.address_key``): the connection
budget both processes run counts by it too. The daemon bounds each token's work by a rule of
its own (``gateway/edge/tokenshare.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextvars import Context, ContextVar, copy_context
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = ["API_SIGN_INS_PER_OWNER", "CALLER", "FORGOT_PER_ADDRESS", "FORGOT_WINDOW_S",
           "HASHING", "HASH_WORKERS", "LANE", "REQUESTS", "ROWS", "SESSIONS_PER_OWNER",
           "STEPS_PER_OWNER", "Allowance", "Bounds", "FairShare", "Lane", "Share", "Who",
           "current", "server_work"]

#: How a caller is counted: by its credential, its owner, or its address (no credential yet).
Kind = Literal["credential", "owner", "address"]


@dataclass(frozen=True, slots=True)
class Who:
    """Whom a request (or a piece of work) is done for."""

    #: What the caller proved (``session:<key>``, ``api:<sign-in>``, ``basic:<owner>``,
    #: ``device:<id>``); empty: nothing yet.
    credential: str = ""
    #: The owner it speaks for (or, before a password is checked, the owner it names).
    owner: str = ""
    #: Where it comes from (``mtgateway_base.fairshare.address_key``).
    address: str = ""

    def naming(self, owner: str) -> Who:
        """This caller, counted also as ``owner``'s when it speaks for no owner yet (a
        password being checked is counted against the owner it names)."""
        return self if self.owner or not owner else Who(self.credential, owner, self.address)


@dataclass(frozen=True, slots=True)
class Bounds:
    """One shared thing's bound per credential, per owner and per address (callers without a
    credential); None: not counted that way."""

    per_credential: int
    per_owner: int
    per_address: int | None

    def of(self, who: Who) -> list[tuple[Kind, str, int]]:
        """The counters ``who`` takes, each with its bound, in the order they are taken."""
        keys: list[tuple[Kind, str, int]] = (
            [("credential", who.credential, self.per_credential)] if who.credential
            else [("address", who.address, self.per_address)] if self.per_address is not None
            else [])
        if who.owner:
            keys += [("owner", who.owner, self.per_owner)]
        return keys


#: Requests in progress (from the door's step that knew the caller to the answer).
REQUESTS: Final = Bounds(per_credential=8, per_owner=16, per_address=None)
#: Password hashes (scrypt, 16 MiB and tens of ms each) queued or running.
HASHING: Final = Bounds(per_credential=1, per_owner=1, per_address=2)
#: The pool the hashes run on: two threads, whatever else the process runs on its own.
HASH_WORKERS: Final = 2
#: Transactions asked of the database's door and not answered (SQLite runs one at a time:
#: the lane every request, report and sign-in queues in).
LANE: Final = Bounds(per_credential=4, per_owner=8, per_address=2)
#: "Forgot password" asks kept per address in :data:`FORGOT_WINDOW_S` (each is a row, kept
#: that long, whatever address it names).
FORGOT_PER_ADDRESS: Final = 10
FORGOT_WINDOW_S: Final = 3600.0
#: Rows a caller can make the console keep, and their bound (where each is written says so).
ROWS: Final[dict[str, str]] = {
    "page sessions": "32 per owner: the least recently used ends for a new one",
    "console-API sign-ins": "32 per owner: the least recently used ends for a new one",
    "half-done sign-ins": "8 per owner: the oldest ends for a new one",
    "forgot-password asks": f"{FORGOT_PER_ADDRESS} an hour per address, 3 an hour per address "
                            "typed, 5 links a day per owner; swept at most once a minute",
    "failed sign-ins": "the lockout: 21 a minute, counted in all",
    "activity entries": "5,000 per owner, the oldest leaving first",
    "devices": "only a lookup naming a live token writes one; 5 approval codes a day per "
               "token, 10 per owner",
    "proof replay rows": "one per proof, kept for the proof's window (5 minutes)",
}
#: Rows counted per owner (the bounds of :data:`ROWS`, as numbers).
SESSIONS_PER_OWNER: Final = 32
API_SIGN_INS_PER_OWNER: Final = 32
STEPS_PER_OWNER: Final = 8

#: Whom the current task works for: set by the console's door for each request (its address
#: first, then its credential once proved); None: the server's own work (start-up, timers),
#: which no share bounds.
CALLER: Final[ContextVar[Who | None]] = ContextVar("mtgateway_caller", default=None)


def current() -> Who | None:
    """Whom the current task works for (:data:`CALLER`)."""
    return CALLER.get()


def server_work() -> Context:
    """A context for a task the server starts for everyone while serving one caller (the
    revocation feed's reader, started by whichever poll came first): it works for no caller,
    so no caller's share bounds it (a task copies its creator's context otherwise)."""
    context = copy_context()
    context.run(CALLER.set, None)
    return context


class Share:
    """A shared thing handed out at once or refused: counts per credential, owner and address,
    each under its bound (requests in progress)."""

    def __init__(self, name: str, bounds: Bounds) -> None:
        self.name = name
        self.bounds = bounds
        #: What each caller holds now (a plain ``dict``: a ``Counter`` answers a missing key
        #: through a method of its own, on every request).
        self._held: dict[tuple[Kind, str], int] = {}
        #: The most held at once by one caller, per kind (what a test reads).
        self.most: Counter[Kind] = Counter({"credential": 0, "owner": 0, "address": 0})
        #: Refusals, per kind of bound that was full.
        self.refused: Counter[Kind] = Counter()

    def held(self, kind: Kind, name: str) -> int:
        """How many ``name`` (of ``kind``) holds now."""
        return self._held.get((kind, name), 0)

    def take(self, who: Who) -> Kind | None:
        """Hold one more for ``who``: None when taken, else the kind of bound that was full
        (nothing taken)."""
        keys = self.bounds.of(who)
        held = self._held
        for kind, name, bound in keys:
            if held.get((kind, name), 0) >= bound:
                self.refused[kind] += 1
                return kind
        most = self.most
        for kind, name, _ in keys:
            count = held[(kind, name)] = held.get((kind, name), 0) + 1
            if count > most[kind]:
                most[kind] = count
        return None

    def give(self, who: Who) -> None:
        """Give back one :meth:`take` held for ``who``."""
        held = self._held
        for kind, name, _ in self.bounds.of(who):
            key = (kind, name)
            count = held[key] - 1
            if count <= 0:
                del held[key]
            else:
                held[key] = count


class _Queue:
    """One counter of a :class:`Lane`: how many it holds, and who waits for it, in order."""

    __slots__ = ("held", "waiters")

    def __init__(self) -> None:
        self.held = 0
        self.waiters: deque[asyncio.Future[None]] = deque()


class Lane:
    """A shared thing a caller waits for, in its own line: past its bound a caller's work
    waits for its own earlier work (first come, first served within the caller), never
    another caller's (the password-hashing pool, the database's lane)."""

    def __init__(self, name: str, bounds: Bounds) -> None:
        self.name = name
        self.bounds = bounds
        self._queues: dict[tuple[Kind, str], _Queue] = {}
        #: The most held at once by one caller, per kind (what a test reads).
        self.most: Counter[Kind] = Counter({"credential": 0, "owner": 0, "address": 0})
        #: Set at the next change, for an observer waiting in :meth:`until` (None: nobody
        #: waits, so a turn costs no event: the database's lane takes one per transaction).
        self._changed: asyncio.Event | None = None

    def held(self, kind: Kind, name: str) -> int:
        """How many ``name`` (of ``kind``) holds now."""
        queue = self._queues.get((kind, name))
        return queue.held if queue is not None else 0

    def waiting(self, kind: Kind | None = None, name: str = "") -> int:
        """How many of ``name``'s wait for its own bound (without ``kind``: everyone's)."""
        if kind is None:
            return sum(len(queue.waiters) for queue in self._queues.values())
        queue = self._queues.get((kind, name))
        return len(queue.waiters) if queue is not None else 0

    async def until(self, check: Callable[[Lane], bool]) -> None:
        """Wait until ``check(self)`` holds (for observers: tests)."""
        while not check(self):
            if self._changed is None:
                self._changed = asyncio.Event()
            await self._changed.wait()

    def _notify(self) -> None:
        changed, self._changed = self._changed, None
        if changed is not None:
            changed.set()

    @contextlib.asynccontextmanager
    async def turn(self, who: Who | None) -> AsyncIterator[None]:
        """Hold ``who``'s share for the block (waiting in its own line first); None: the
        server's own work, not counted."""
        keys = self.bounds.of(who) if who is not None else []
        taken: list[tuple[Kind, str]] = []
        try:
            for kind, name, bound in keys:  # always in the same order: no two wait crosswise
                await self._acquire((kind, name), bound)
                taken.append((kind, name))
            yield
        finally:
            for key in reversed(taken):
                self._release(key)

    def enter(self, who: Who) -> list[tuple[tuple[Kind, str], _Queue]] | None:
        """``who``'s share taken at once, when each of its counters has room and nobody waits
        in its line: what was taken, to give back with :meth:`leave`; None when it must wait
        its turn (:meth:`turn`: nothing was taken).

        What :meth:`turn` does when it does not wait, without an asynchronous context
        manager's machinery: the database's lane takes a turn for every transaction, and
        nearly every turn has room.
        """
        queues = self._queues
        keys = self.bounds.of(who)
        for kind, name, bound in keys:
            queue = queues.get((kind, name))
            if queue is not None and (queue.held >= bound or queue.waiters):
                return None
        taken = []
        most = self.most
        for kind, name, _ in keys:
            key = (kind, name)
            queue = queues.get(key)
            if queue is None:
                queue = queues[key] = _Queue()
            queue.held += 1
            if queue.held > most[kind]:
                most[kind] = queue.held
            taken.append((key, queue))
        if self._changed is not None:
            self._notify()
        return taken

    def leave(self, taken: list[tuple[tuple[Kind, str], _Queue]]) -> None:
        """Give back what :meth:`enter` took (the next in a line, if any, takes its slot)."""
        for key, queue in reversed(taken):
            if queue.waiters:
                self._release(key)
                continue
            queue.held -= 1
            if queue.held <= 0:
                self._queues.pop(key, None)
            if self._changed is not None:
                self._notify()

    async def _acquire(self, key: tuple[Kind, str], bound: int) -> None:
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Queue()
        if queue.held < bound and not queue.waiters:
            queue.held += 1
            self.most[key[0]] = max(self.most[key[0]], queue.held)
            self._notify()
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.waiters.append(waiter)
        self._notify()
        try:
            await waiter  # the slot is handed over by the release that wakes it
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release(key)  # handed over just as it was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    queue.waiters.remove(waiter)
                self._forget(key, queue)
            raise

    def _release(self, key: tuple[Kind, str]) -> None:
        queue = self._queues[key]
        while queue.waiters:
            waiter = queue.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot goes to the next in line, held as it is
                self._notify()
                return
        queue.held -= 1
        self._forget(key, queue)
        self._notify()

    def _forget(self, key: tuple[Kind, str], queue: _Queue) -> None:
        if queue.held <= 0 and not queue.waiters:
            self._queues.pop(key, None)


class Allowance:
    """Rows one address may make a server keep in a window (``forgot password`` asks): a
    count per address of the times it was let through, forgotten as they leave the window;
    the addresses remembered are bounded (the least recently seen is forgotten first)."""

    def __init__(self, limit: int, window_s: float, *,
                 clock: Callable[[], float] = time.monotonic, addresses: int = 65_536) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._addresses = addresses
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def admit(self, address: str) -> float | None:
        """Count one more for ``address``: None when let through, else the seconds until
        one will be (nothing counted)."""
        now = self._clock()
        times = self._seen.pop(address, None) or deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        self._seen[address] = times
        while len(self._seen) > self._addresses:
            self._seen.popitem(last=False)
        if len(times) >= self.limit:
            return max(0.0, times[0] + self.window_s - now)
        times.append(now)
        return None


@dataclass
class FairShare:
    """The console's shared things and each one's bound (the module docstring's table): one
    object, asked by whatever serves the console's callers.

    Args:
        forgot_clock: the clock of the forgot-password allowance (the console's throttle
            clock: tests move it).
    """

    forgot_clock: Callable[[], float] = time.monotonic
    requests_bounds: Bounds = REQUESTS
    hashing_bounds: Bounds = HASHING
    lane_bounds: Bounds = LANE
    hash_workers: int = HASH_WORKERS
    forgot_per_address: int = FORGOT_PER_ADDRESS
    #: The rows per owner (:data:`ROWS`): kept, the least recently used ending first.
    sessions_per_owner: int = SESSIONS_PER_OWNER
    api_sign_ins_per_owner: int = API_SIGN_INS_PER_OWNER
    steps_per_owner: int = STEPS_PER_OWNER
    #: Requests in progress (refused past a bound: 429).
    requests: Share = field(init=False)
    #: The password-hashing pool's turns (waited for).
    hashing: Lane = field(init=False)
    #: The database's lane (waited for).
    lane: Lane = field(init=False)
    #: Forgot-password asks per address (refused past it: 429).
    forgot: Allowance = field(init=False)

    def __post_init__(self) -> None:
        self.requests = Share("requests in progress", self.requests_bounds)
        self.hashing = Lane("password hashing", self.hashing_bounds)
        self.lane = Lane("the database's lane", self.lane_bounds)
        self.forgot = Allowance(self.forgot_per_address, FORGOT_WINDOW_S,
                                clock=self.forgot_clock)

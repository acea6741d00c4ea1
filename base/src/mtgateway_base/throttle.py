"""Brute-force protection for authentication: serialized checks, a delay per failure, a lockout.

The policy (``docs/security.md``, "Guessing tokens and owner passwords"): every failed
authentication is answered only after ``delay_s`` (0.25 s), served one at a time, so guessing
runs at four a second however many connections the attacker opens (the Bitcoin Core and Electrum
pattern). More than ``limit`` failures inside ``window_s`` start a lockout of ``lockout_s``.

A simpler throttle can be got around in three ways; :meth:`AuthThrottle.check` closes them
as one rule:

* **Checks, not only answers, are serialized.** A credential this throttle has not yet seen
  succeed ("unvouched") is checked only in its turn, behind every failure still paying its
  delay. Delaying only the *answer* to a failure let an attacker fire guesses in parallel and
  read the one fast answer (the right one) without waiting for the slow ones.
* **No check during a lockout** (the default; the console's owner passwords). An unvouched
  credential is not checked at all while locked out: it waits its turn, pays the delay and
  gets 429. Answering wrong guesses at once with 429 (362 guesses/s) while a right one still
  got in made 200-vs-429 a fast oracle.
* **A valid daemon token is honoured during a lockout**, after the same delay a failure pays, in
  its turn: a throttle made with ``honour_during_lockout`` checks an unvouched credential during
  a lockout once the delay has run, lets a right one in and answers a wrong one 429 (uncounted).
  Both answers come after the same delay and at the same serialized rate as outside a lockout,
  so there is no fast oracle and guessing stays at four a second; a token carries over 200 bits,
  so refusing right ones bought nothing and let one misbehaving client lock every new bot out.
  The console's throttle (owner passwords, human-chosen) keeps the stricter rule: nothing is
  checked while locked.
* **Vouched credentials are never locked out.** One that already succeeded in this process (the
  owner's running bots, a signed-in owner) is checked without waiting its turn, so an attack
  cannot lock the owner out of what already works; a new credential presented during a lockout
  waits it out. The daemon vouches by *token*: a client challenge, and every session it yields,
  count under their token's key, so a bot whose token worked once opens new sessions while
  guessers flood the daemon. The memory is least-recently-used: at its bound it forgets one
  credential, never all of them.

Every failure pays the delay on every path (a vouched credential that now fails too) and
counts towards the lockout; a lockout is logged once, when it starts, on the
``gateway.security`` logger. Clock and sleep are injected; the daemon (``/rpc``, ``/ws``) and
the console (owner Basic credentials) each own one throttle.

Where the failures and the lockout are counted is a :class:`FailureLedger`: this process's
memory (:class:`MemoryLedger`, the daemon's) or the authority's database (the console's,
``signins.StoredLoginFailures``), so failed sign-ins on one console instance count on every
other and a restart forgets none. The serialization and the delay stay per process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Final, Protocol, TypeVar

__all__ = ["AuthThrottle", "FailureLedger", "MemoryLedger", "RateLimited"]

log = logging.getLogger("gateway.security")

T = TypeVar("T")

#: Credentials remembered as vouched (only successes get in; this only bounds memory).
_VOUCHED_MAX: Final = 4096


class RateLimited(Exception):
    """Too many failed authentications: a credential not seen to succeed before is refused
    unchecked for ``retry_after_s`` more seconds; retry after that wait. Both processes answer
    it 429 (the daemon's error table: -32005 with ``retry_after_ms``).

    It is the throttle's own refusal, raised only by :class:`AuthThrottle`, so it stands
    beside the throttle on the ground floor rather than in either process's exception tree
    (it was an ``AuthorityError`` while the throttle lived in the authority; nothing caught it
    by that root)."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__("Too many failed authentications")
        self.retry_after_s = retry_after_s


class FailureLedger(Protocol):
    """Failures and the lockout of one throttle, wherever they are kept."""

    async def record(self, now: float, *, limit: int, window_s: float,
                     lockout_s: float) -> bool:
        """Count a failure at ``now`` unless locked out; start the lockout when more than
        ``limit`` fell inside ``window_s`` (its failures are then forgotten). Whether a
        lockout started."""
        ...

    async def locked_until(self) -> float:
        """When the lockout ends (0 or a past time when there is none)."""
        ...


class MemoryLedger:
    """A :class:`FailureLedger` in this process's memory."""

    def __init__(self) -> None:
        self._failures: deque[float] = deque()
        self._locked_until = 0.0

    async def record(self, now: float, *, limit: int, window_s: float,
                     lockout_s: float) -> bool:
        if self._locked_until > now:
            return False
        failures = self._failures
        failures.append(now)
        while failures and failures[0] <= now - window_s:
            failures.popleft()
        if len(failures) <= limit:
            return False
        self._locked_until = now + lockout_s
        failures.clear()
        return True

    async def locked_until(self) -> float:
        return self._locked_until


class AuthThrottle:
    """Serializes unvouched credential checks, delays failures, and locks out bursts.

    Args:
        what: what is being guessed, for the security log line ("daemon tokens").
        delay_s: how long every failure waits before it is answered, one at a time.
        limit: failures allowed in ``window_s``; one more starts the lockout.
        clock: monotonic seconds (a wall-clock step must not shorten a lockout).
        sleep: how a delay is waited out (tests hold or release it).
        honour_during_lockout: check an unvouched credential during a lockout after the
            delay, and let a right one in (daemon tokens); False: refuse it unchecked.
        ledger: where failures and the lockout are counted (default: this process's
            memory); a shared ledger needs a clock every sharer reads alike (wall time).
    """

    def __init__(self, *, delay_s: float, limit: int, window_s: float, lockout_s: float,
                 what: str = "credentials",
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 honour_during_lockout: bool = False,
                 ledger: FailureLedger | None = None) -> None:
        self.delay_s = delay_s
        self.limit = limit
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.what = what
        self._clock = clock
        self._sleep = sleep
        self.honour_during_lockout = honour_during_lockout
        self._ledger: FailureLedger = ledger if ledger is not None else MemoryLedger()
        self._lock = asyncio.Lock()
        self._vouched: OrderedDict[str, None] = OrderedDict()

    async def retry_after_s(self) -> float | None:
        """Seconds until the lockout ends, or None when not locked out."""
        remaining = await self._ledger.locked_until() - self._clock()
        return remaining if remaining > 0 else None

    async def record_failure(self) -> None:
        """Count one failure; start the lockout (and log it, once) when the window overflows.

        Failures arriving during a lockout are never checked, so they are not counted: the
        next lockout needs a fresh burst after this one ends.
        """
        if await self._ledger.record(self._clock(), limit=self.limit, window_s=self.window_s,
                                     lockout_s=self.lockout_s):
            log.warning("security: brute-force lockout of %s: more than %d failures in %.0f s; "
                        "credentials not yet seen to succeed are refused unchecked (429) for "
                        "%.0f s", self.what, self.limit, self.window_s, self.lockout_s)

    def vouched(self, key: str) -> bool:
        """Whether ``key`` has succeeded before in this process."""
        return key in self._vouched

    def touch(self, key: str) -> bool:
        """Whether ``key`` has succeeded before, and if so it becomes the most recently used,
        as :meth:`check` makes it: for a caller that reuses a success it already had (the
        daemon's door, for a token whose check the authenticator may reuse) and so does not
        go through :meth:`check`, whose bound on what it remembers must still see the key
        in use."""
        vouched = self._vouched
        if key in vouched:
            vouched.move_to_end(key)
            return True
        return False

    def vouch(self, key: str) -> None:
        """Remember that ``key`` succeeded (bounded: at the bound the least recently used one
        is forgotten)."""
        self._vouched[key] = None
        self._vouched.move_to_end(key)
        while len(self._vouched) > _VOUCHED_MAX:
            self._vouched.popitem(last=False)

    async def check(self, key: str, verify: Callable[[], Awaitable[T]],
                    refused: type[BaseException], *, vouch: bool = True) -> T:
        """Run ``verify`` for the credential ``key`` under the rules of the module docstring.

        ``verify`` raises ``refused`` for a wrong credential; any other exception (the
        authority cannot be asked, ...) passes through uncounted and undelayed. With ``vouch``
        false a success is not remembered (a step that proves nothing about ``key``).

        Raises:
            RateLimited: ``key`` is unvouched and a lockout is on (``verify`` did not run,
                or, with ``honour_during_lockout``, refused it after the delay).
            refused: the credential is wrong (after the delay).
        """
        if key in self._vouched:
            self._vouched.move_to_end(key)
            try:
                return await verify()
            except refused:
                await self.penalize()
                raise
        async with self._lock:
            retry_after = await self.retry_after_s()
            if retry_after is not None:
                await self._pay()
                if not self.honour_during_lockout:
                    # 0: it ended meanwhile
                    raise RateLimited(await self.retry_after_s() or 0.0)
                try:
                    result = await verify()
                except refused:  # not counted: the lockout is on
                    raise RateLimited(await self.retry_after_s() or 0.0) from None
                if vouch:
                    self.vouch(key)
                return result
            try:
                result = await verify()
            except refused:
                await self.record_failure()
                await self._pay()
                raise
        if vouch:
            self.vouch(key)
        return result

    async def penalize(self) -> None:
        """Record a failure and wait out the delay, one failure at a time."""
        await self.record_failure()
        async with self._lock:
            await self._pay()

    async def _pay(self) -> None:
        if self.delay_s > 0:
            await self._sleep(self.delay_s)

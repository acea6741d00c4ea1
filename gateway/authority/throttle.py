"""Brute-force protection for authentication: a delay per failure, and a lockout on bursts.

Security policy 6 (``security.md``): every failed authentication is answered only after
``delay_s`` (0.25 s), and failures are served one at a time under a lock, so guessing tokens
runs at four a second however many connections the attacker opens (the Bitcoin Core and
Electrum pattern). More than ``limit`` failures inside ``window_s`` switches unauthenticated
requests to HTTP 429 for ``lockout_s``; a request with a valid token is never locked out, so
an attack cannot lock the owner's own bots out.

The counting is pure (injected clock); only :meth:`AuthThrottle.penalize` awaits, on an
injectable ``sleep`` so tests can hold or release a delay without waiting for real. The daemon
(``/rpc``, ``/ws``) and the console (owner Basic credentials) each own one throttle.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

__all__ = ["AuthThrottle"]


class AuthThrottle:
    """Counts failed authentications and says when to refuse with 429."""

    def __init__(self, *, delay_s: float, limit: int, window_s: float, lockout_s: float,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.delay_s = delay_s
        self.limit = limit
        self.window_s = window_s
        self.lockout_s = lockout_s
        self._clock = clock
        self._sleep = sleep
        self._failures: deque[float] = deque()
        self._locked_until = 0.0
        self._lock = asyncio.Lock()

    def retry_after_s(self) -> float | None:
        """Seconds until the lockout ends, or None when not locked out."""
        remaining = self._locked_until - self._clock()
        return remaining if remaining > 0 else None

    def record_failure(self) -> None:
        """Count one failure; start the lockout when the window overflows."""
        now = self._clock()
        failures = self._failures
        failures.append(now)
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if len(failures) > self.limit:
            self._locked_until = now + self.lockout_s
            failures.clear()

    async def penalize(self) -> None:
        """Record a failure and wait out the delay, one failure at a time."""
        self.record_failure()
        if self.delay_s > 0:
            async with self._lock:
                await self._sleep(self.delay_s)

"""What every check of ``mtgateway check`` shares: the connected client, the terminal as the
daemon sees it, the symbol the checks read, and the calls' error handling.

A check calls the daemon's public JSON-RPC through the :mod:`mtgateway` client (``call``: the
raw result, or :class:`~mtgateway.errors.MtGatewayError`), states what it expects with
:func:`expect` (a :class:`Mismatch` names what was found instead), and returns its outcome
with the evidence. History that the terminal is still loading answers -32008 ("ask again
shortly"): :meth:`Probe.settled` asks again, within ``history_timeout_s``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from mtgateway.aio import AsyncClient
from mtgateway.errors import MtGatewayError

__all__ = ["HISTORY_LOADING", "UNSUPPORTED", "Mismatch", "Probe", "expect", "gateway_code",
           "percentiles_us"]

HISTORY_LOADING: Final = -32008
UNSUPPORTED: Final = -32009
UNKNOWN_SYMBOL: Final = -32006


class Mismatch(Exception):
    """A check found something other than what MetaTrader (and docs/api.md) promise."""


def expect(condition: object, what: str) -> None:
    """Raise :class:`Mismatch` with ``what`` unless ``condition`` holds."""
    if not condition:
        raise Mismatch(what)


def gateway_code(exc: MtGatewayError) -> int | None:
    """The daemon's JSON-RPC error code of a failed call (None for a local failure)."""
    return exc.error.gateway_code


def percentiles_us(samples_ns: Sequence[int]) -> tuple[float, float]:
    """p50 and p99 (nearest rank) of nanosecond samples, in microseconds."""
    if not samples_ns:
        return float("nan"), float("nan")
    ordered = sorted(samples_ns)

    def rank(q: float) -> float:
        return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]
    return rank(50) / 1000, rank(99) / 1000


@dataclass
class Probe:
    """The connected client and what the checks learnt about the terminal first."""

    client: AsyncClient
    status: dict[str, Any]
    symbol: str = ""
    market_watch: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    tick: dict[str, Any] = field(default_factory=dict)
    history_timeout_s: float = 60.0
    stream_s: float = 10.0
    #: How old each streamed tick was at its receipt (tick_stream fills it; none on MT4,
    #: whose ticks carry seconds only).
    tick_ages_ns: list[int] = field(default_factory=list)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    monotonic_ns: Callable[[], int] = time.monotonic_ns

    @property
    def platform(self) -> str:
        return str(self.status.get("terminal", {}).get("platform") or "")

    @property
    def mt4(self) -> bool:
        return self.platform == "MT4"

    async def call(self, method: str, params: dict[str, Any] | list[Any] | None = None) -> Any:
        return await self.client.call(method, params)

    async def settled(self, method: str, params: dict[str, Any]) -> tuple[Any, int]:
        """``method``'s answer once the history it needs is loaded, and how many times the
        terminal answered -32008 before (it loads history on request; the EA answers -32008
        rather than wait for it, so a caller asks again).

        Raises:
            MtGatewayError: another error, or still -32008 after ``history_timeout_s``.
        """
        deadline = self.monotonic_ns() + int(self.history_timeout_s * 1e9)
        retries = 0
        while True:
            try:
                return await self.call(method, params), retries
            except MtGatewayError as exc:
                if gateway_code(exc) != HISTORY_LOADING or self.monotonic_ns() >= deadline:
                    raise
            retries += 1
            await self.sleep(min(1.0, 0.1 * retries))

"""Fixed days and the terminal clocks the end-to-end tests inject, in one place.

The emulator follows the real clock, and on a weekend only BTCUSD trades: a test that needs the
forex markets open starts the terminal's clock on a fixed Wednesday (:data:`WEDNESDAY_MS`,
:class:`SteppedClock`), and one that needs bars to close quickly runs it fast
(:class:`FastClock`, a minute of the broker's time per real second). The demo's ``--start-time``
tests replay a fixed Sunday (:data:`SUNDAY`), Saturday (:data:`SATURDAY`) or Wednesday
(:data:`WEDNESDAY`). Several test modules share these, so they live
here rather than in one of them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

#: A Wednesday, 14:00 UTC.
WEDNESDAY_MS = int(datetime(2026, 11, 18, 14, 0, tzinfo=UTC).timestamp() * 1000)
#: The same Wednesday half a minute later, 14:00:30 UTC, where the candle tests start.
WEDNESDAY_MID_BAR_MS = int(datetime(2026, 11, 18, 14, 0, 30, tzinfo=UTC).timestamp() * 1000)
SUNDAY = "2026-11-15T12:00:00Z"  # a week before the day this was written on
SUNDAY_S = int(datetime.fromisoformat(SUNDAY).timestamp())
SUNDAY_MS = SUNDAY_S * 1000
#: The day before, as the demo's ``--start-time`` takes it and as a terminal's clock: FX, metals
#: and indices closed since Friday's close, BTCUSD open (a weekend's other day than Sunday,
#: whose evening differs: FX reopens at 22:00 UTC on a UTC+2 server clock).
SATURDAY = "2026-11-14T12:00:00Z"
SATURDAY_MS = int(datetime.fromisoformat(SATURDAY).timestamp()) * 1000
#: :data:`WEDNESDAY_MS` as the demo's ``--start-time`` takes it.
WEDNESDAY = "2026-11-18T14:00:00Z"


class SteppedClock:
    """Epoch ms UTC: ``start`` plus real elapsed time plus the jumps a test makes."""

    def __init__(self, start_ms: int) -> None:
        self._start_ms = start_ms
        self._started_ns = time.monotonic_ns()
        self._jumped_ms = 0

    def __call__(self) -> int:
        return self._start_ms + self._jumped_ms + \
            (time.monotonic_ns() - self._started_ns) // 1_000_000

    def jump_to(self, when_ms: int) -> None:
        """Move the clock forward to ``when_ms`` (real time keeps running after it)."""
        self._jumped_ms += max(0, when_ms - self())


class FastClock:
    """Epoch ms UTC: ``start`` plus ``speed`` times the real time elapsed, plus jumps."""

    def __init__(self, start_ms: int, speed: float = 60.0) -> None:
        self._start_ms, self._speed = start_ms, speed
        self._started = time.monotonic()
        self._jumped_ms = 0

    def __call__(self) -> int:
        return self._start_ms + self._jumped_ms + int(
            (time.monotonic() - self._started) * 1000 * self._speed)

    def jump(self, ms: int) -> None:
        """Move the clock ``ms`` forward at once."""
        self._jumped_ms += ms

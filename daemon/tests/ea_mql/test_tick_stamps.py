"""The tick stamps ``python -m bench --ea`` measures by are the wall's clock.

The bench's tick latency through the compiled EA is ``monotonic_ns()`` at the subscriber
minus the arrival time the kit stamps in the tick's volume (``MTGW_STAMP_TICKS=1``). The kit
moves the program's clock past the Sleeps it does not wait out before the first network call
(the MQL5 EA's second of entropy stirs, ``mql_clock.h``); stamped on that clock, every tick
looked a second older than it was, and the bench printed latencies of about -1,007,000 us.
"""

from __future__ import annotations

from pathlib import Path

from bench.common import Pinning
from bench.daemon import RunDaemon
from bench.eapath import _tick_run
from bench.rpc import EA_LOGIN, EA_SERVER


async def test_a_stamped_tick_reaches_a_subscriber_after_it_arrived_and_within_a_second(
        ea_binary: Path, tmp_path: Path) -> None:
    daemon = RunDaemon(Pinning(None, None), login=EA_LOGIN, server=EA_SERVER)
    try:
        await daemon.wait_ready()
        summary = await _tick_run(ea_binary, daemon, tmp_path, 1, True, 2.0)
    finally:
        daemon.stop()
    assert summary["n"] > 0, summary
    # a latency is never negative, and on loopback far below a second (microseconds)
    assert 0 < summary["p50_us"] <= summary["max_us"] < 1_000_000, summary

"""The daemon's garbage-collector settings, applied once start-up is done.

Why: CPython's cyclic collector stops the event loop while it runs. With the default gen-0
threshold (700 net new container objects) a busy daemon runs a young collection every few
milliseconds and a generation-1 collection every ~10 of those; during tick fan-out these
pauses were measured at 1.3-1.8 ms each (a ``gc.callbacks`` probe), enough to set the tick
latency p99. Almost everything the hot paths allocate dies by reference counting, so a larger
gen-0 threshold collects far less often without holding more garbage for long, and
``gc.freeze()`` moves the objects that exist after start-up (modules, config, app, caches)
into the permanent generation so no collection ever scans them again. Figures before/after:
``docs/performance.md`` ("GC settings").
"""

from __future__ import annotations

import gc
from typing import Final

__all__ = ["GEN0_THRESHOLD", "tune_gc"]

#: Net new tracked container objects between young collections (CPython's default is 700).
GEN0_THRESHOLD: Final = 50_000


def tune_gc() -> None:
    """Collect start-up garbage, freeze the survivors, then raise the gen-0 threshold.

    Call once, after the daemon is listening (everything built at start-up is long-lived);
    the older generations' thresholds are kept as they are.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)

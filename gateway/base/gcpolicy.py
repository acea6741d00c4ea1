"""The collector's settings in a serving process, and what its pauses cost.

Why: CPython's cyclic collector stops the process while it runs, every thread, with the GIL
held. It runs on allocation counts, not on need: a young collection after 700 net new
container objects, an older one every 10 of those, and a full one (the whole heap) when the
objects moved to the oldest generation since the last full one reach a quarter of it. A
serving process allocates fast and frees almost everything by reference counting, so nearly
all that work finds nothing:

* the daemon: during tick fan-out young collections came every few milliseconds, 1.3-1.8 ms
  each (a ``gc.callbacks`` probe), enough to set the tick latency's p99;
* the console at the daemons' cadence: every held revocation long-poll lives its whole wait
  (25 s when this was measured, 50 s since), so its objects reach the oldest generation and
  a full collection of the whole heap followed every ~10 s: at 3,000 daemons 9 full
  collections in 2 minutes, 364 ms the longest, and the collector reclaimed ~9,400 objects
  in all (1,231 collections, 2.8 s of pauses); the p99 of a daemon's call was 434 ms. With
  these settings: no full collection during the steps, and the p99 46 ms
  (``docs/performance.md``, "The collector").

:func:`tune_gc`, called once start-up is over: ``gc.freeze()`` moves what start-up built
(modules, config, app, caches) into the permanent generation, which no collection scans again,
and the gen-0 threshold goes to 50,000 net new objects: a steady state (as many objects freed
as made) then triggers almost no collection, while a heap that really grows is still
collected, and the older generations keep their thresholds (a full collection stays possible
when cyclic garbage piles up).

What a young collection then costs: CPython counts allocations minus deallocations of *any*
generation, so while long-lived objects are replaced one for one (a console's held polls,
renewed every ~50 s) the count stays near zero and the youngest generation fills with every
replacement. The collection that growth finally triggers walks all of them: at 8,000 daemons
283,256 young objects when the count said 50,001, 72-258 ms of CPU (``docs/performance.md``,
"The late bursts at 8,000 are the collector"). A higher threshold makes those collections
rarer, not shorter: a pause is bounded by the live objects made since the last one.

:func:`pauses` times every collection of the process (one ``gc.callbacks`` hook, installed
once), and :class:`GcPauseCollector` shows them on a process's registry as
``mtgateway_gc_pause_seconds{generation}`` with ``mtgateway_gc_frozen_objects``, so an
operator reading a latency tail sees whether the collector set it.
"""

from __future__ import annotations

import bisect
import gc
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["GEN0_THRESHOLD", "PAUSE_BUCKETS_S", "GcPauseCollector", "GcPauses", "pauses",
           "tune_gc"]

#: Net new tracked container objects between young collections (CPython's default is 700).
GEN0_THRESHOLD: Final = 50_000
#: Upper bounds (s) of the pause histogram's buckets: a young collection takes well under a
#: millisecond, a full one of a large heap up to seconds.
PAUSE_BUCKETS_S: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                          1.0, 2.5)


def tune_gc() -> None:
    """Collect start-up garbage, freeze the survivors, then raise the gen-0 threshold.

    Call once, after the process serves (everything built at start-up is long-lived); the
    older generations' thresholds are kept as they are.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)


class GcPauses:
    """Every collection of this process, timed: per generation, how many fell in each bucket
    of :data:`PAUSE_BUCKETS_S`, and their sum.

    The hook only adds to lists of numbers: a collection can start inside any allocation, in
    any thread (the database door's workers too), so it takes no lock and calls nothing that
    could; the collector holds the GIL from its start to its end, so no two collections (nor
    their hooks) overlap.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        #: Per generation: the count in each bucket (the last: above every bound).
        self.buckets = [[0] * (len(PAUSE_BUCKETS_S) + 1) for _ in range(3)]
        #: Per generation: the seconds paused in all.
        self.seconds = [0.0, 0.0, 0.0]
        self._began = 0.0

    def hook(self, phase: str, info: dict[str, Any]) -> None:
        """``gc.callbacks``' signature: ``start`` before a collection, ``stop`` after."""
        if phase == "start":
            self._began = self._clock()
            return
        took = self._clock() - self._began
        generation = min(int(info.get("generation", 2)), 2)
        self.buckets[generation][bisect.bisect_left(PAUSE_BUCKETS_S, took)] += 1
        self.seconds[generation] += took


_PAUSES: GcPauses | None = None
_INSTALLING: Final = threading.Lock()


def pauses() -> GcPauses:
    """This process's :class:`GcPauses`, its hook installed on the first call (one hook per
    process, however many apps or registries read it)."""
    global _PAUSES  # noqa: PLW0603 - one hook per process: gc.callbacks is process-wide
    with _INSTALLING:
        if _PAUSES is None:
            _PAUSES = GcPauses()
            gc.callbacks.append(_PAUSES.hook)
        return _PAUSES


class GcPauseCollector(Collector):
    """The process's collector pauses and frozen objects, for a registry of its own."""

    def __init__(self, watched: GcPauses | None = None) -> None:
        self._pauses = watched if watched is not None else pauses()

    def collect(self) -> Iterator[Metric]:
        histogram = HistogramMetricFamily(
            "mtgateway_gc_pause_seconds", "Time the cyclic garbage collector stopped the "
            "process, by generation collected (2: the whole heap)", labels=["generation"])
        bounds = [*(repr(b) for b in PAUSE_BUCKETS_S), "+Inf"]
        for generation in range(3):
            counts = list(self._pauses.buckets[generation])
            running, cumulative = 0, []
            for bound, count in zip(bounds, counts, strict=True):
                running += count
                cumulative.append((bound, running))
            histogram.add_metric([str(generation)], cumulative,
                                 self._pauses.seconds[generation])
        yield histogram
        yield GaugeMetricFamily(
            "mtgateway_gc_frozen_objects", "Objects in the permanent generation, which no "
            "collection scans (start-up's, frozen once the process serves)",
            value=gc.get_freeze_count())

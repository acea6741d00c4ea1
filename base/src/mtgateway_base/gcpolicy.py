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
  (``docs/history/performance-notes.md``, "The collector").

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
283,256 young objects when the count said 50,001, 72-258 ms of CPU
(``docs/history/performance-notes.md``, "The late bursts at 8,000 are the collector"). A
higher threshold makes those collections rarer, not shorter: a pause is bounded by the live
objects made since the last one.

So a process that holds requests for tens of seconds (the console) runs its collector on a
clock instead, :func:`pace_gc`: every half second it collects the two younger generations,
which walks only what the last half second left alive and moves it straight to the oldest
generation, where a held poll dies by reference counting without being walked again; the
whole heap is walked once every ten minutes, by the pacer, never by an allocation that
happens to land in a burst (the oldest generation's threshold is raised out of the
allocator's reach while the pacer runs; the younger thresholds stay, for a burst between two
ticks). Each surviving object is walked once before it is old, half a second's worth at a
time, so a pause is bounded by the arrivals of half a second instead of by the fleet: in
ramps to 10,000 daemons no collection inside a step took over 55 ms, against young ones of
72-258 ms of CPU before, while a middle collection every ten one-second ticks (young ones in
between) still paused 172-371 ms, walking ten seconds' worth. It costs some work the
count-triggered policy skipped (it walked survivors only when growth came): ~1.2 % of a core
per process at 10,000 daemons in its collections over 2 ms; every collection timed at 6,000,
0.8-1.05 % over a step that grew and 0.36-0.48 % once it was steady. A full collection
walks every live poll: 356-375 ms at 3,000 polls a process, once in ten minutes, each process
at a phase of its own (``docs/history/performance-notes.md``, "The collector on a clock").
:class:`CollectionPace` decides which collection each tick makes (no I/O, its clock
injected); :func:`pace_collections` is the loop that applies it.

:func:`pauses` times every collection of the process (one ``gc.callbacks`` hook, installed
once), and :class:`GcPauseCollector` shows them on a process's registry as
``mtgateway_gc_pause_seconds{generation}`` with ``mtgateway_gc_frozen_objects`` and
``mtgateway_gc_threshold{generation}``, so an operator reading a latency tail sees whether the
collector set it, and under which policy.
"""

from __future__ import annotations

import asyncio
import bisect
import gc
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["FULL_EVERY_S", "GEN0_THRESHOLD", "PACED_OLDEST_THRESHOLD", "PAUSE_BUCKETS_S",
           "TICK_S", "CollectionPace", "GcPauseCollector", "GcPauses", "pace_collections",
           "pace_gc", "pauses", "tune_gc"]

#: Net new tracked container objects between young collections (CPython's default is 700).
GEN0_THRESHOLD: Final = 50_000
#: The paced collector (:func:`pace_gc`): the two younger generations are collected this
#: often (s)...
TICK_S: Final = 0.5
#: ...and the whole heap once this often (s): what bounds cyclic garbage that reached the
#: oldest generation.
FULL_EVERY_S: Final = 600.0
#: The oldest generation's threshold while the pacer runs (collections of the middle one
#: between two full ones; CPython's default is 10): above the 1,200 its ticks make in
#: :data:`FULL_EVERY_S`, so a burst's young collection never turns into a full one.
PACED_OLDEST_THRESHOLD: Final = 10_000
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


class CollectionPace:
    """Which collection each tick of the pacer makes: the two younger generations, or the
    whole heap once ``full_every_s`` has passed on ``clock`` since the last (ticks come late
    when the loop is busy: time, not a count of ticks, bounds the garbage left in the oldest
    generation).

    ``phase`` (0 to 1) moves the first full collection that fraction of an interval earlier:
    the processes of an instance start together, and a full collection stops a process for
    hundreds of milliseconds, so each takes its own (random) phase and they do not all stop
    at once."""

    def __init__(self, clock: Callable[[], float], *, full_every_s: float = FULL_EVERY_S,
                 phase: float = 0.0) -> None:
        if full_every_s <= 0 or not 0.0 <= phase < 1.0:
            raise ValueError(f"a pace needs full_every_s > 0 and 0 <= phase < 1, not "
                             f"{full_every_s!r} and {phase!r}")
        self._clock = clock
        self._full_every_s = full_every_s
        self._last_full = clock() - phase * full_every_s

    def generation(self) -> int:
        """The oldest generation to collect at this tick: 1 (with 0), or 2 (all three)."""
        now = self._clock()
        if now - self._last_full >= self._full_every_s:
            self._last_full = now
            return 2
        return 1


async def pace_collections(pace: CollectionPace, every_s: float = TICK_S, *,
                           collect: Callable[[int], object] = gc.collect) -> None:
    """Collect ``pace``'s generation every ``every_s`` until cancelled (``collect`` is
    injected for tests; a tick the loop serves late only makes that collection walk more)."""
    while True:
        await asyncio.sleep(every_s)
        collect(pace.generation())


def pace_gc(every_s: float = TICK_S, *,
            rng: Callable[[], float] = random.random) -> asyncio.Task[None]:
    """:func:`tune_gc`, then the collector on a clock (see the module): the oldest
    generation's threshold goes to :data:`PACED_OLDEST_THRESHOLD` and a task on the running
    loop collects, its full collections at a phase drawn from ``rng``. Call once start-up is
    over, in a process whose requests are held for seconds (the console); cancel the task to
    stop (the thresholds are left as they are)."""
    tune_gc()
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, PACED_OLDEST_THRESHOLD)
    loop = asyncio.get_running_loop()
    pace = CollectionPace(loop.time, phase=rng())
    return loop.create_task(pace_collections(pace, every_s), name="gc-pace")


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
        thresholds = GaugeMetricFamily(
            "mtgateway_gc_threshold", "The collector's threshold of each generation (0: net "
            "new objects; 1 and 2: collections of the one below): the policy in force, 10,000 "
            "for the oldest where the collector runs on a clock", labels=["generation"])
        for generation, threshold in enumerate(gc.get_threshold()):
            thresholds.add_metric([str(generation)], threshold)
        yield thresholds

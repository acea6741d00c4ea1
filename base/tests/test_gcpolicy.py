"""The collector's settings once a process serves, and its pauses as a histogram."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mtgateway_base.gcpolicy import (
    GEN0_THRESHOLD,
    PACED_OLDEST_THRESHOLD,
    CollectionPace,
    GcPauseCollector,
    GcPauses,
    pace_collections,
    pace_gc,
    pauses,
    tune_gc,
)


@pytest.fixture
def collector_as_it_was() -> Iterator[None]:
    """tune_gc changes process-wide state: put the thresholds back and unfreeze after."""
    before = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_tune_gc_freezes_start_up_and_raises_only_the_young_threshold(
        collector_as_it_was: None) -> None:
    gc.unfreeze()
    _, gen1, gen2 = gc.get_threshold()
    tune_gc()
    assert gc.get_threshold() == (GEN0_THRESHOLD, gen1, gen2)
    assert gc.get_freeze_count() > 1000  # the modules, classes and functions loaded so far


def test_each_collection_lands_in_its_generations_bucket() -> None:
    now = [0.0]
    watched = GcPauses(clock=lambda: now[0])
    for generation, took in ((0, 0.0002), (2, 0.3)):
        watched.hook("start", {"generation": generation})
        now[0] += took
        watched.hook("stop", {"generation": generation, "collected": 0, "uncollectable": 0})
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in GcPauseCollector(watched).collect() for s in family.samples}

    def bucket(generation: str, le: str) -> float:
        return samples[("mtgateway_gc_pause_seconds_bucket",
                        (("generation", generation), ("le", le)))]

    assert bucket("0", "0.0005") == 1 and bucket("1", "+Inf") == 0
    assert bucket("2", "0.25") == 0 and bucket("2", "0.5") == bucket("2", "+Inf") == 1
    assert samples[("mtgateway_gc_pause_seconds_sum", (("generation", "2"),))] == \
        pytest.approx(0.3)
    assert samples[("mtgateway_gc_frozen_objects", ())] == gc.get_freeze_count()


def test_the_process_hook_is_installed_once_and_times_real_collections() -> None:
    watched = pauses()
    assert pauses() is watched and gc.callbacks.count(watched.hook) == 1
    before = sum(watched.buckets[2])
    gc.collect()
    assert sum(watched.buckets[2]) == before + 1 and watched.seconds[2] > 0
    registry = CollectorRegistry()
    registry.register(GcPauseCollector())
    names = {f.name for f in text_string_to_metric_families(generate_latest(registry).decode())}
    assert {"mtgateway_gc_pause_seconds", "mtgateway_gc_frozen_objects"} <= names


def test_the_pace_collects_the_younger_generations_each_tick_and_all_on_the_clock() -> None:
    now = [0.0]
    pace = CollectionPace(lambda: now[0], full_every_s=600.0)
    ticks = []
    for _ in range(5):
        now[0] += 0.5
        ticks.append(pace.generation())
    assert ticks == [1] * 5
    now[0] = 600.0  # ticks the loop served late: the clock, not their count, calls a full one
    assert pace.generation() == 2
    assert pace.generation() == 1  # counted from the full one
    now[0] = 1199.9
    assert pace.generation() == 1
    now[0] = 1200.0
    assert pace.generation() == 2


def test_a_phase_moves_only_the_first_full_collection_earlier() -> None:
    """Two processes started together, phases 0 and 0.25: their full collections fall 150 s
    apart, every time."""
    now = [0.0]
    paces = [CollectionPace(lambda: now[0], full_every_s=600.0, phase=p) for p in (0.0, 0.25)]
    full: list[list[float]] = [[], []]
    while now[0] < 1800.0:
        now[0] += 0.5
        for k, pace in enumerate(paces):
            if pace.generation() == 2:
                full[k].append(now[0])
    assert full == [[600.0, 1200.0, 1800.0], [450.0, 1050.0, 1650.0]]


@pytest.mark.parametrize("bad", [{"full_every_s": 0.0}, {"full_every_s": -1.0},
                                 {"phase": -0.1}, {"phase": 1.0}])
def test_a_pace_that_would_never_collect_the_whole_heap_is_refused(
        bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="full_every_s > 0 and 0 <= phase < 1"):
        CollectionPace(lambda: 0.0, **bad)


async def test_the_pacer_collects_what_its_pace_says_until_cancelled() -> None:
    now = [0.0]
    pace = CollectionPace(lambda: now[0], full_every_s=2.0)
    collected: list[int] = []
    enough = asyncio.Event()

    def collect(generation: int) -> None:
        collected.append(generation)
        now[0] += 0.5
        if len(collected) == 7:
            enough.set()

    pacer = asyncio.get_running_loop().create_task(pace_collections(pace, 0.0, collect=collect))
    await enough.wait()
    pacer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pacer
    assert collected == [1, 1, 1, 1, 2, 1, 1]


async def test_pace_gc_raises_the_oldest_threshold_and_collects_on_the_loop(
        collector_as_it_was: None) -> None:
    """The real collector: the younger generations are collected from the pacer's task, on
    this loop's thread, with a full collection out of the allocator's reach."""
    gc.unfreeze()
    _, gen1, _ = gc.get_threshold()
    loop = asyncio.get_running_loop()
    paced = asyncio.Event()

    def hook(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] == 1:
            loop.call_soon(paced.set)  # not set() inside the collection itself

    pacer = pace_gc(every_s=0.0, rng=lambda: 0.5)
    gc.callbacks.append(hook)
    try:
        assert gc.get_threshold() == (GEN0_THRESHOLD, gen1, PACED_OLDEST_THRESHOLD)
        assert gc.get_freeze_count() > 1000
        await paced.wait()
        assert not pacer.done()
    finally:
        gc.callbacks.remove(hook)
        pacer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pacer


def test_the_scrape_shows_the_thresholds_in_force(collector_as_it_was: None) -> None:
    gc.set_threshold(GEN0_THRESHOLD, 10, PACED_OLDEST_THRESHOLD)
    samples = {(s.name, tuple(s.labels.items())): s.value
               for family in GcPauseCollector(GcPauses()).collect() for s in family.samples}
    assert [samples[("mtgateway_gc_threshold", (("generation", str(g)),))]
            for g in range(3)] == [GEN0_THRESHOLD, 10, PACED_OLDEST_THRESHOLD]

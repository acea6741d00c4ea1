"""The collector's settings once a process serves, and its pauses as a histogram."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway.base.gcpolicy import (
    GEN0_THRESHOLD,
    GcPauseCollector,
    GcPauses,
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

"""The Prometheus text both processes serve: a registry's metrics without the client
library's ``*_created`` series.

Each counter and histogram of ``prometheus_client`` exports a second series, its creation time:
no dashboard reads it and every scrape stores it. This is a view over a
registry, not a global switch: ``prometheus_client.disable_created_metrics()`` would change
every registry in the process (the demo runs the daemon and the console in one).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

__all__ = ["WithoutCreated", "exposition"]


class WithoutCreated(Collector):
    """``registry``'s metrics with their ``*_created`` samples left out."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for metric in self._registry.collect():
            kept = [s for s in metric.samples if not s.name.endswith("_created")]
            if len(kept) != len(metric.samples):
                metric = copy.copy(metric)
                metric.samples = kept
            yield metric


def exposition(registry: CollectorRegistry) -> bytes:
    """The exposition text of every metric of ``registry`` but the ``*_created`` series."""
    return generate_latest(WithoutCreated(registry))

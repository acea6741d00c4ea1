"""The console's request metrics, counted in plain values on the loop
(``metrics._Requests``), read as ``prometheus_client``'s own counter and histogram would be:
the same exposition text for the same requests, series and order."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Counter, Histogram

from mtgateway_base.exposition import exposition
from mtgateway_console.metrics import _REQUEST_BUCKETS, ConsoleMetrics

REQUESTS_HELP = ("HTTP requests answered, by route (its canonical path, e.g. /reset/{token}; "
                 "other: no route matched) and status code")
DURATION_HELP = "Time to answer an HTTP request, by route"


def test_the_requests_read_as_the_librarys_counter_and_histogram() -> None:
    metrics = ConsoleMetrics()
    reference = CollectorRegistry()
    counter = Counter("mtgateway_console_requests", REQUESTS_HELP, ["route", "status"],
                      registry=reference)
    histogram = Histogram("mtgateway_console_request_duration_seconds", DURATION_HELP,
                          ["route"], buckets=_REQUEST_BUCKETS, registry=reference)
    pick = random.Random(7)
    # every bound itself, just past it, past the last, and zero
    times = [*_REQUEST_BUCKETS, *(b * 1.001 for b in _REQUEST_BUCKETS), 0.0, 61.0, 1e-6]
    for _ in range(600):
        route = pick.choice(["/v1/records/lookup", "/reset/{token}", "other"])
        status, seconds = pick.choice([200, 401, 429, 503]), pick.choice(times)
        metrics.answered(route, status, seconds)
        counter.labels(route, str(status)).inc()
        histogram.labels(route).observe(seconds)
    ours = exposition(metrics.registry).decode()
    start = ours.index("# HELP mtgateway_console_requests_total")
    end = ours.index("# HELP mtgateway_console_database_transaction_seconds")
    assert ours[start:end] == exposition(reference).decode()


def test_no_request_yet_is_each_family_without_a_series() -> None:
    text = exposition(ConsoleMetrics().registry).decode()
    assert "# TYPE mtgateway_console_requests_total counter" in text
    assert "# TYPE mtgateway_console_request_duration_seconds histogram" in text
    assert "mtgateway_console_requests_total{" not in text

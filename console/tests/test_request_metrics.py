"""The console's request and transaction metrics, counted in plain values (on the loop,
``metrics._Requests``; on the database's workers, ``metrics._Transactions``), read as
``prometheus_client``'s own counters and histograms would be: the same exposition text for the
same requests and transactions, series and order."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Counter, Histogram

from mtgateway_base.exposition import exposition
from mtgateway_console.database import Timing
from mtgateway_console.metrics import _DATABASE_BUCKETS, _REQUEST_BUCKETS, ConsoleMetrics

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


def test_the_transactions_read_as_the_librarys_histograms_and_counters() -> None:
    """The database's transactions, told by its workers (``Database.timed``), read as the
    library's two histograms and three counters by name would read."""
    metrics = ConsoleMetrics()
    reference = CollectorRegistry()
    ran = Histogram("mtgateway_console_database_transaction_seconds", "Time a database "
                    "transaction ran on a worker (connection, statements, commit, retries)",
                    buckets=_DATABASE_BUCKETS, registry=reference)
    waited = Histogram("mtgateway_console_database_wait_seconds", "Time a database "
                       "transaction waited for a free worker (connection) before it ran",
                       buckets=_DATABASE_BUCKETS, registry=reference)
    count = Counter("mtgateway_console_database_transactions", "Database transactions run, "
                    "by name (the transaction's function)", ["transaction"],
                    registry=reference)
    run_seconds = Counter("mtgateway_console_database_transaction_run_seconds", "Time "
                          "database transactions ran on a worker, by name (divide by the "
                          "transactions for the mean)", ["transaction"], registry=reference)
    trips = Counter("mtgateway_console_database_round_trips", "Messages database "
                    "transactions sent to the server and waited for (PostgreSQL; none on "
                    "SQLite), by name", ["transaction"], registry=reference)
    pick = random.Random(11)
    times = [*_DATABASE_BUCKETS, *(b * 1.01 for b in _DATABASE_BUCKETS), 0.0, 11.0]
    for _ in range(600):
        timing = Timing(pick.choice(["claimed.first_the_row", "AuthorityStore.owner",
                                     "version_of"]),
                        pick.choice(times), pick.choice(times), pick.choice([0, 1, 2, 5]))
        metrics._transaction_timed(timing)
        waited.observe(timing.waited_s)
        ran.observe(timing.ran_s)
        count.labels(timing.name).inc()
        run_seconds.labels(timing.name).inc(timing.ran_s)
        trips.labels(timing.name).inc(timing.round_trips)
    ours = exposition(metrics.registry).decode()
    start = ours.index("# HELP mtgateway_console_database_transaction_seconds")
    end = ours.index("# HELP mtgateway_console_database_round_trips")
    ours = ours[start:ours.index("# HELP", end + 1)] if "# HELP" in ours[end + 1:] \
        else ours[start:]
    assert ours == exposition(reference).decode()

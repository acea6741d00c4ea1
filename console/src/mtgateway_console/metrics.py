"""The console's Prometheus metrics (``GET /metrics``): requests, sign-ins, e-mails, approvals
pending, the database door's transactions.

Like the daemon's (``gateway/metrics.py``, which this service may not import: it stands alone),
on a registry of its own, with the standard client library. Fed by seams, not hooks in the
pages: the mailer the console sends through is wrapped (:class:`CountingMailer`: sent and
failed), the activity log counts what it records (sign-ins, refused sign-ins, tokens, device
approvals, terminal refusals), and the approvals waiting for a code are read from the store
at scrape time (through the database's door; left out of a scrape the database cannot
answer). Requests are counted and timed by one middleware (:meth:`ConsoleMetrics.middleware`,
the outermost), labelled by the route's *canonical* path (``/reset/{token}``), never the path
asked for, which may carry a secret (a reset link's token); the database's transactions are
timed on its worker threads (``Database.timed``: the wait for a worker, the run), and
counted by name (the transaction's function, ``AuthorityStore.owner_password_hash``: a label
the code bounds, as Synapse's ``desc``) with the time each ran and the round trips it waited
for. No owner, device or token is ever a label.

The route asks for the scrape token (``base.scrape``: ``[console] metrics_token``, else the
data directory's ``metrics.token``), from every peer, loopback too: how often owners sign in,
fail to, reset a password or turn two-step sign-in on is nobody else's business, and loopback
is every local user's. With ``[console] metrics_open`` it answers loopback peers only, as it
did before: a Prometheus server scrapes it from the same machine, or through a tunnel. Behind
a reverse proxy on the same machine every request
comes from loopback, so with a proxy configured the client is the one the proxy names
(``Forwarded``/``X-Forwarded-For``), and a request naming the proxy's public host without
such a header is not taken for a local one.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterator
from email.message import EmailMessage
from typing import Final

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from mtgateway_base.edge import forwarded_clients
from mtgateway_base.exposition import exposition
from mtgateway_base.gcpolicy import GcPauseCollector
from mtgateway_base.loopback import is_loopback
from mtgateway_base.scrape import ScrapeGuard

from .config import ConsoleConfig
from .database import Database, DatabaseUnavailable, Timing
from .mailer import Mailer
from .service import Authority
from .tables.activity import KINDS

__all__ = ["CONTENT_TYPE", "OTHER_ROUTE", "ConsoleMetrics", "CountingMailer", "route_of"]

#: The text exposition format's media type.
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
#: Request latency buckets (s): the daemon's (0.5 ms to 10 s: a page or a lookup takes a few
#: ms, a password check ~0.1 s, one stuck on the database up to its bound), and 30 s and 60 s
#: for the revocation long-poll (held 50 s by default).
_REQUEST_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                           1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Database buckets (s): a SQLite transaction takes ~0.1-1 ms, a PostgreSQL one on the same
#: host ~1 ms; a caller gives up after connect + statement timeouts (10 s by default).
_DATABASE_BUCKETS: Final = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                            0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: The request buckets' ``le`` labels, +Inf last, as the library's histogram writes them
#: (``floatToGoString``, untyped: typed here).
_go_string: Callable[[float], str] = floatToGoString
_BUCKET_LABELS: Final = tuple(_go_string(bound) for bound in (*_REQUEST_BUCKETS, math.inf))
_DATABASE_LABELS: Final = tuple(_go_string(bound)
                                for bound in (*_DATABASE_BUCKETS, math.inf))
#: The route label of a request no route matched (404, 405): its path is anyone's to write.
OTHER_ROUTE: Final = "other"

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ConsoleMetrics:
    """The console's registry: e-mails by outcome, activity by kind, approvals pending.

    Args:
        config: who may scrape (``metrics_open``, ``behind_proxy``, ``allowed_hosts``).
        guard: the scrape token asked for (``base.scrape``: ``metrics_token``, else the data
            directory's ``metrics.token``); default: ``metrics_token`` or none.
    """

    def __init__(self, config: ConsoleConfig | None = None,
                 guard: ScrapeGuard | None = None) -> None:
        self._config = config if config is not None else ConsoleConfig()
        self.guard = guard if guard is not None else ScrapeGuard(
            self._config.metrics_token.get_secret_value() or None)
        self.registry = CollectorRegistry()
        self.registry.register(GcPauseCollector())
        self.mails = Counter("mtgateway_console_emails", "E-mails the console tried to send, "
                             "by outcome (sent, failed)", ["outcome"], registry=self.registry)
        for outcome in ("sent", "failed"):
            self.mails.labels(outcome)
        #: The requests answered, counted on the loop in plain values and read at each
        #: scrape (:class:`_Requests`).
        self._requests = _Requests()
        self.registry.register(self._requests)
        #: The database's transactions, counted on its workers in plain values under one
        #: lock and read at each scrape (:class:`_Transactions`).
        self._transactions = _Transactions()
        self.registry.register(self._transactions)
        self._authority: Callable[[], Authority] | None = None
        self._collector: _AuthorityCollector | None = None

    def answered(self, route: str, status: int, seconds: float) -> None:
        """One request answered ``status`` after ``seconds`` (``route``: a canonical path)."""
        requests = self._requests
        key = (route, status)
        requests.counted[key] = requests.counted.get(key, 0) + 1
        timed = requests.timed.get(route)
        if timed is None:
            timed = requests.timed[route] = [0.0] * (len(_REQUEST_BUCKETS) + 2)
        timed[bisect_left(_REQUEST_BUCKETS, seconds)] += 1  # the first bucket it fits
        timed[-1] += seconds

    @web.middleware
    async def middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Count and time every request (the app's outermost middleware: the answers of the
        others are counted too). A request whose client left before its answer (a long-poll
        cancelled) is not counted: nobody was answered."""
        started = time.perf_counter()
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # a redirect, or an error the middlewares passed on
            self.answered(route_of(request), exc.status, time.perf_counter() - started)
            raise
        except Exception:
            self.answered(route_of(request), 500, time.perf_counter() - started)
            raise
        self.answered(route_of(request), response.status, time.perf_counter() - started)
        return response

    def time_transactions(self, database: Database) -> None:
        """Time each transaction ``database`` runs (its worker threads observe)."""
        database.timed = self._transaction_timed

    def _transaction_timed(self, timing: Timing) -> None:
        self._transactions.timed(timing)

    def watch(self, authority: Callable[[], Authority]) -> None:
        """Read the authority (``authority()``, opened at start-up) at every scrape."""
        self._authority = authority
        self._collector = _AuthorityCollector(authority)
        self.registry.register(self._collector)

    async def refresh(self) -> None:
        """Read what the store holds for the next :meth:`render` (the approvals pending)."""
        if self._collector is None or self._authority is None:
            return
        try:
            authority = self._authority()
        except KeyError:  # not started yet
            return
        try:
            self._collector.pending = await authority.approvals.pending()
        except DatabaseUnavailable:
            self._collector.pending = None

    def render(self) -> bytes:
        """The exposition text of every metric but the ``*_created`` series (as the
        daemon's: ``base.exposition``)."""
        return exposition(self.registry)

    async def handle(self, request: web.Request) -> web.Response:
        """``GET /metrics``: with a scrape token (the default), for whoever carries it (401
        otherwise); with ``metrics_open``, for a local peer (:meth:`local`), 404 to anyone
        else."""
        if self.guard.token is not None:
            if not self.guard.allows(request.headers.get("Authorization", "")):
                # the console's error shape (``console._error_response``), with the scheme
                # a scraper must use
                return web.json_response(
                    {"error": {"code": 401, "reason": "metrics_token", "message":
                               "GET /metrics needs Authorization: Bearer <the scrape token: "
                               "[console] metrics_token, else the data directory's "
                               "metrics.token>"}}, status=401,
                    headers={"WWW-Authenticate": 'Bearer realm="mtgateway-metrics"'})
        elif not self.local(request):
            raise web.HTTPNotFound()
        await self.refresh()
        return web.Response(body=self.render(), headers={"Content-Type": CONTENT_TYPE})

    def local(self, request: web.Request) -> bool:
        """Whether the client is on this machine: the peer is loopback and, with a proxy
        configured, so is every client a forwarding header names; a request without such a
        header that names one of ``allowed_hosts`` (the proxy's public name) came through the
        proxy, whose configuration forgot the header: not local."""
        if not is_loopback(request.remote or ""):
            return False
        if not self._config.proxied:
            return True  # no proxy: a forwarding header is anyone's to write
        clients = forwarded_clients(request.headers.getall("Forwarded", []),
                                    request.headers.getall("X-Forwarded-For", []))
        if clients:
            return all(is_loopback(client) for client in clients)
        named = request.host.rpartition(":")[0] if request.host.count(":") == 1 \
            else request.host
        return named.lower() not in {h.lower() for h in self._config.allowed_hosts}


def route_of(request: web.Request) -> str:
    """The canonical path of the route ``request`` matched (``/reset/{token}``, never the
    path asked for), or :data:`OTHER_ROUTE`."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else OTHER_ROUTE


class CountingMailer:
    """A :class:`~.mailer.Mailer` that counts each send as sent or failed, then is ``inner``."""

    def __init__(self, inner: Mailer, metrics: ConsoleMetrics) -> None:
        self.inner, self._metrics = inner, metrics
        self.from_address = inner.from_address

    async def send(self, message: EmailMessage) -> None:
        """Send through ``inner``.

        Raises:
            Exception: whatever ``inner`` raised (counted as failed first).
        """
        try:
            await self.inner.send(message)
        except BaseException:
            self._metrics.mails.labels("failed").inc()
            raise
        self._metrics.mails.labels("sent").inc()


class _Requests(Collector):
    """The requests answered, by route and status, and their time, by route: the series a
    ``prometheus_client`` counter and histogram would give, counted in plain values on the
    loop and turned into samples at each scrape.

    The library's counter and histogram take a lock and keep their books in Python for each
    request, where three assignments here do; a scrape, every few seconds at most, does the
    rest.
    """

    def __init__(self) -> None:
        #: Requests answered, by (route, status).
        self.counted: dict[tuple[str, int], int] = {}
        #: By route: each bucket's own count (the last, past every bound: +Inf), then the
        #: sum of the times.
        self.timed: dict[str, list[float]] = {}

    def collect(self) -> Iterator[Metric]:
        counted = CounterMetricFamily(
            "mtgateway_console_requests", "HTTP requests answered, by route (its canonical "
            "path, e.g. /reset/{token}; other: no route matched) and status code",
            labels=["route", "status"])
        for (route, status), count in list(self.counted.items()):
            counted.add_metric([route, str(status)], count)
        yield counted
        timed = HistogramMetricFamily(
            "mtgateway_console_request_duration_seconds", "Time to answer an HTTP request, "
            "by route", labels=["route"])
        for route, counts in list(self.timed.items()):
            timed.add_metric([route], _cumulative(_BUCKET_LABELS, counts), counts[-1])
        yield timed


class _Transactions(Collector):
    """The database's transactions: the time each ran and waited for a worker (histograms),
    and by name how many ran, for how long, with how many round trips (counters): the series
    ``prometheus_client``'s histograms and counters would give, told by the door's worker
    threads (``Database.timed``) and kept in plain values under one lock (the library takes
    one per series, five a transaction, and keeps its books in Python), turned into samples
    at each scrape."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: Each bucket's own count (the last, past every bound: +Inf), then the sum.
        self._ran = [0.0] * (len(_DATABASE_BUCKETS) + 2)
        self._waited = [0.0] * (len(_DATABASE_BUCKETS) + 2)
        #: By name (the code's, so bounded): transactions, seconds run, round trips.
        self._named: dict[str, list[float]] = {}

    def timed(self, timing: Timing) -> None:
        """One transaction ran (on a worker's thread)."""
        ran = bisect_left(_DATABASE_BUCKETS, timing.ran_s)
        waited = bisect_left(_DATABASE_BUCKETS, timing.waited_s)
        with self._lock:
            self._ran[ran] += 1
            self._ran[-1] += timing.ran_s
            self._waited[waited] += 1
            self._waited[-1] += timing.waited_s
            named = self._named.get(timing.name)
            if named is None:
                named = self._named[timing.name] = [0.0, 0.0, 0.0]
            named[0] += 1
            named[1] += timing.ran_s
            named[2] += timing.round_trips

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            ran, waited = list(self._ran), list(self._waited)
            named = [(name, list(values)) for name, values in self._named.items()]
        for metric, counts, text in (
                ("mtgateway_console_database_transaction_seconds", ran,
                 "Time a database transaction ran on a worker (connection, statements, "
                 "commit, retries)"),
                ("mtgateway_console_database_wait_seconds", waited,
                 "Time a database transaction waited for a free worker (connection) before "
                 "it ran")):
            family = HistogramMetricFamily(metric, text)
            family.add_metric([], _cumulative(_DATABASE_LABELS, counts), counts[-1])
            yield family
        for index, (metric, text) in enumerate((
                ("mtgateway_console_database_transactions",
                 "Database transactions run, by name (the transaction's function)"),
                ("mtgateway_console_database_transaction_run_seconds",
                 "Time database transactions ran on a worker, by name (divide by the "
                 "transactions for the mean)"),
                ("mtgateway_console_database_round_trips",
                 "Messages database transactions sent to the server and waited for "
                 "(PostgreSQL; none on SQLite), by name"))):
            counter = CounterMetricFamily(metric, text, labels=["transaction"])
            for name, values in named:
                counter.add_metric([name], values[index])
            yield counter


def _cumulative(labels: tuple[str, ...], counts: list[float]) -> list[tuple[str, float]]:
    """A histogram's buckets, each with the count at or below its bound, from each bucket's
    own count (``counts``; its last item, the sum, is not read)."""
    buckets, total = [], 0.0
    for bound, each in zip(labels, counts, strict=False):
        total += each
        buckets.append((bound, total))
    return buckets


class _AuthorityCollector(Collector):
    def __init__(self, authority: Callable[[], Authority]) -> None:
        self._authority = authority
        #: The approvals pending at the last read (``ConsoleMetrics.refresh``), or None.
        self.pending: int | None = None

    def collect(self) -> Iterator[Metric]:
        try:
            authority = self._authority()
        except KeyError:  # not started yet
            return
        counts = authority.activity.counts
        family = CounterMetricFamily(
            "mtgateway_console_activity", "What the activity log recorded since start, by "
            "kind (login: sign-ins; login_failed: refused sign-ins; device_approved; "
            "refusal: a terminal refused; ...)", labels=["kind"])
        for kind in KINDS:
            family.add_metric([kind], counts.get(kind, 0))
        yield family
        if self.pending is not None:
            yield GaugeMetricFamily("mtgateway_console_approvals_pending", "Device approvals "
                                    "waiting for the owner's code", value=self.pending)
        yield GaugeMetricFamily("mtgateway_console_database_transactions_in_flight",
                                "Database transactions asked for and not answered yet",
                                value=authority.store.database.in_flight)
        yield GaugeMetricFamily("mtgateway_console_database_connections",
                                "Database connections, and transaction workers, this process "
                                "holds at most ([authority] database_connections; 1 on SQLite)",
                                value=authority.store.database.pool_size)

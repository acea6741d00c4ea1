"""What an operator watches: Prometheus metrics (``GET /metrics``) and readiness (``GET /ready``).

``/health`` stays liveness (the process answers); ``/ready`` says whether the daemon can serve
a bot now: an EA is connected, the token record its session authenticated with is fresh (a
stale one refuses trades, ``auth_stale``), and, when ``[server] ready_max_tick_age_s`` asks for
it, the newest tick is recent enough. Ticks are not required by default: on a weekend a terminal
whose symbols are all closed is healthy and silent, and a watchdog must not restart it.

The metrics use the standard client library (``prometheus_client``) on a registry of this
daemon's own (no module state: two daemons in one process, as in the tests, count apart).
The one exception is the per-call pair (``mtgateway_rpc_requests`` and the latency
histogram), counted by :class:`CallStats`: the library's counter and histogram take a lock
per update (their cost: ``docs/history/performance-notes.md``, "Measured costs by
module"), and these are fed on every call from the event loop's thread only, which also
scrapes; the series exported are the library's own (names, labels, buckets), built by its
metric families at scrape time.
Counters are fed where things happen, by seams rather than by reaching into the parts:

* the dispatcher's observer (``rpc.py``) gives every JSON-RPC call on ``/rpc`` and ``/ws``:
  its method, its outcome (``ok`` or the error code) and its duration;
* the door (:meth:`~gateway.edge.door.Door.admit`) reports each refused token by reason word,
  and the dispatcher's ``-32012`` answers each risk refusal by rule;
* the bridge's listener protocol gives EA sessions opened and closed (by reason), and the time
  of the last tick; the EA verifier wrapper gives refused handshakes by reason.

Gauges are read when scraped (a custom collector): terminals connected, streaming subscribers,
ticks conflated for slow subscribers, and orders by final state, counted from the audit trail's
new lines since the last scrape (the journal is the one record of outcomes; nothing in the
desk needs to know it is watched). Labels are bounded: method names come from the method table
(anything else is ``unknown``), reasons and states are the contract's words (an EA's close
reason outside them is ``other``); no terminal,
token or client id is ever a label.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from ea_bridge import SessionInfo, TerminalId
from ea_bridge.interfaces import EAVerifier, ObservedVerifier
from ea_bridge.messages import REFUSAL_REASONS
from mtgateway_base.exposition import exposition
from mtgateway_base.gcpolicy import GcPauseCollector

from .auth import RecordCache
from .hub import Hub
from .terminals import TerminalDirectory
from .trading.journal import OrderJournal

__all__ = ["CONTENT_TYPE", "CallStats", "DaemonMetrics", "metered_verifier", "Readiness"]

#: The text exposition format's media type (version 0.0.4, what Prometheus scrapes).
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
#: Latency buckets (s): a read answered by the EA takes ~0.1-1 ms on loopback; a trade up to
#: the trade deadline (10 s). Typed as a tuple of any length: a fixed-length one the compiled
#: build keeps as fourteen C doubles and boxes into a new tuple on every call's ``bisect_left``.
_BUCKETS: Final[tuple[float, ...]] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Audit events that move an order to the state they carry (a note, such as ``deduplicated``,
#: repeats a state without moving anything).
_TRANSITIONS: Final = frozenset({"outcome", "reconciled", "reconcile_miss", "unknown_at_restart"})
_OUTCOME_STATES: Final = frozenset({"ACCEPTED", "REJECTED", "UNKNOWN", "RESOLVED_ACCEPTED",
                                    "RESOLVED_NOT_FOUND"})
_RISK_REFUSAL: Final = -32012
#: Why an EA session may end, as labels: the words either side sends in a ``bye`` or
#: ``refuse`` (docs/protocol.md §5), and the connection's own (the peer went, or fell silent).
_CLOSE_REASONS: Final = REFUSAL_REASONS | {"eof", "heartbeat_timeout"}


class DaemonMetrics:
    """The daemon's registry and the counters its parts feed.

    Args:
        methods: the method names that may be labels (the dispatcher's table).
        monotonic: the clock of tick ages (injected by tests).
    """

    def __init__(self, methods: frozenset[str], *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry()
        self._methods = methods
        self._clock = monotonic
        self.last_tick_at: dict[TerminalId, float] = {}
        self.calls = CallStats()
        self.registry.register(self.calls)
        self.registry.register(GcPauseCollector())
        self._refusals = Counter(
            "mtgateway_refusals", "Requests and EA handshakes refused, by reason word "
            "(auth_*: a bot's token; ea_*: an EA handshake; risk_*: a risk rule)", ["reason"],
            registry=self.registry)
        self._sessions = Counter(
            "mtgateway_ea_sessions", "EA sessions opened (handshakes completed); its growth "
            "beyond the terminals connected is reconnects", registry=self.registry)
        self._disconnects = Counter(
            "mtgateway_ea_disconnects", "EA sessions ended, by reason", ["reason"],
            registry=self.registry)

    # -- fed by the dispatcher (rpc.py) ------------------------------------------------------

    def rpc_answered(self, method: str, error: dict[str, Any] | None, seconds: float) -> None:
        """One call answered: ``error`` is its JSON-RPC error object, None on success."""
        name = method if method in self._methods else "unknown"
        if error is None:
            self.calls.answered(name, "ok", seconds)
            return
        code = error.get("code")
        self.calls.answered(name, str(code), seconds)
        if code == _RISK_REFUSAL:
            data = error.get("data")
            rule = data.get("rule") if isinstance(data, dict) else None
            self.refused(f"risk_{rule if isinstance(rule, str) else 'other'}")

    def refused(self, reason: str) -> None:
        """One refusal, by its reason word (prefixed by what was refused)."""
        self._refusals.labels(reason[:64]).inc()

    # -- BridgeListener (added to the bridge's fan-out) ---------------------------------------

    def session_up(self, info: SessionInfo) -> None:
        """Count the session."""
        self._sessions.inc()

    def session_down(self, info: SessionInfo, reason: str) -> None:
        """Count the end, by reason: a protocol word, else ``other`` (a ``bye`` from the EA
        carries any string it likes, and each would be a new series)."""
        self._disconnects.labels(reason if reason in _CLOSE_REASONS else "other").inc()

    def ticks(self, terminal: TerminalId, symbol: str, rows: list[list[Any]]) -> None:
        """Note when the terminal's last tick arrived (the daemon's clock, not the server's)."""
        if rows:
            self.last_tick_at[terminal] = self._clock()

    def event(self, terminal: TerminalId, name: str, payload: dict[str, Any], missed: int) -> None:
        """Nothing: events are counted by the directory."""

    def tick_age_s(self, terminal: TerminalId) -> float | None:
        """Seconds since ``terminal``'s last tick, None if none arrived."""
        at = self.last_tick_at.get(terminal)
        return None if at is None else max(0.0, self._clock() - at)

    # -- scraped ------------------------------------------------------------------------------

    def watch(self, terminals: TerminalDirectory, hub: Hub, journal: OrderJournal) -> None:
        """Read these parts' state at every scrape (call once, when they exist)."""
        self.registry.register(_StateCollector(self, terminals, hub, journal))

    def render(self) -> bytes:
        """The exposition text of every metric, without the client library's ``*_created``
        series (each counter's and histogram's creation time: a second series per family
        that no dashboard reads and every scrape stores)."""
        return exposition(self.registry)


class CallStats(Collector):
    """``mtgateway_rpc_requests`` (by method and outcome) and
    ``mtgateway_rpc_request_duration_seconds`` (by method, buckets :data:`_BUCKETS`), the
    series ``prometheus_client``'s ``Counter`` and ``Histogram`` export, without their locks.

    Why not the library's: each update takes a lock and walks the buckets in Python, on every
    call, on the hottest path of the daemon. Updates and scrapes all run on
    the daemon's event loop thread (the dispatcher's observer and the ``/metrics`` handler),
    so plain integers are enough; the families are built by the library at scrape time, so
    the exposition text is the library's own.
    """

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        #: method -> [count per bucket (the last is +Inf), sum of seconds]
        self._latency: dict[str, list[Any]] = {}

    def answered(self, method: str, outcome: str, seconds: float) -> None:
        """Count one call of ``method`` ending in ``outcome`` and its duration."""
        key = (method, outcome)
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1
        entry = self._latency.get(method)
        if entry is None:
            entry = self._latency[method] = [[0] * (len(_BUCKETS) + 1), 0.0]
        # the first bucket whose upper bound is >= seconds, as Histogram.observe picks it
        entry[0][bisect_left(_BUCKETS, seconds)] += 1
        entry[1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "mtgateway_rpc_requests", "JSON-RPC calls answered, by method and outcome (ok, or "
            "the JSON-RPC error code)", labels=["method", "outcome"])
        for (method, outcome), value in self._counts.items():
            requests.add_metric([method, outcome], value)
        yield requests
        latency = HistogramMetricFamily(
            "mtgateway_rpc_request_duration_seconds", "Time to answer a JSON-RPC call, by "
            "method", labels=["method"])
        for method, (buckets, total) in self._latency.items():
            cumulative, rows = 0, []
            for bound, count in zip(_BOUNDS, buckets, strict=True):
                cumulative += count
                rows.append((bound, float(cumulative)))
            latency.add_metric([method], rows, total)
        yield latency


#: The library's float formatting of ``le`` labels (untyped there).
_go_string: Callable[[float], str] = floatToGoString
#: The ``le`` label of each bucket, as the library writes it (``+Inf`` last).
_BOUNDS: Final = (*map(_go_string, _BUCKETS), _go_string(float("inf")))


class _StateCollector(Collector):
    """Gauges read at scrape time, and orders by final state from the audit trail."""

    def __init__(self, metrics: DaemonMetrics, terminals: TerminalDirectory, hub: Hub,
                 journal: OrderJournal) -> None:
        self._metrics, self._terminals, self._hub, self._journal = (metrics, terminals, hub,
                                                                    journal)
        self._seen_seq = 0
        self._orders: dict[str, int] = {}

    def collect(self) -> Iterator[Metric]:
        connected = [s for s in self._terminals.states() if s.connected]
        yield GaugeMetricFamily("mtgateway_terminals_connected",
                                "Terminals whose EA session is live", value=len(connected))
        ages = [age for s in connected
                if (age := self._metrics.tick_age_s(s.terminal)) is not None]
        if ages:
            yield GaugeMetricFamily("mtgateway_last_tick_age_seconds", "Seconds since the "
                                    "newest tick of any connected terminal", value=min(ages))
        stats = self._hub.stats
        yield GaugeMetricFamily("mtgateway_stream_subscribers",
                                "Streaming clients attached (WebSockets)",
                                value=self._hub.client_count())
        yield CounterMetricFamily("mtgateway_ticks_conflated", "Ticks replaced by a newer one "
                                  "of the same symbol before a slow subscriber took them",
                                  value=stats.ticks_conflated)
        yield CounterMetricFamily("mtgateway_stream_clients_dropped", "Streaming clients "
                                  "closed for falling too far behind", value=stats.overflows)
        yield self._order_outcomes()

    def _order_outcomes(self) -> Metric:
        try:
            while True:
                rows = self._journal.audit(after_seq=self._seen_seq, limit=1000)
                for row in rows:
                    self._seen_seq = row.seq
                    if row.event in _TRANSITIONS and row.state in _OUTCOME_STATES \
                            and not (row.event == "reconcile_miss" and row.state == "UNKNOWN"):
                        self._orders[row.state] = self._orders.get(row.state, 0) + 1
                if len(rows) < 1000:
                    break
        except Exception:  # noqa: BLE001 - a closed journal must not break the scrape
            pass
        family = CounterMetricFamily("mtgateway_orders", "Orders reaching each outcome "
                                     "state (as the audit trail records them) since start",
                                     labels=["state"])
        for state in sorted(_OUTCOME_STATES):
            family.add_metric([state], self._orders.get(state, 0))
        return family


def metered_verifier(inner: EAVerifier, metrics: DaemonMetrics) -> EAVerifier:
    """``inner``, counting refused handshakes by reason (``ea_<reason>``)."""
    return ObservedVerifier(inner, lambda _hello, reason: metrics.refused(f"ea_{reason}"))


class Readiness:
    """The answer of ``GET /ready``: ready, and why not.

    Args:
        terminals: the live sessions.
        cache: token records, to say whether each session's is fresh.
        metrics: the last tick's time per terminal.
        max_tick_age_s: a newest tick older than this makes the daemon not ready; 0 reports
            the age without requiring it.
    """

    def __init__(self, terminals: TerminalDirectory, cache: RecordCache, metrics: DaemonMetrics,
                 max_tick_age_s: float) -> None:
        self._terminals, self._cache, self._metrics = terminals, cache, metrics
        self._max_tick_age_s = max_tick_age_s

    def check(self) -> tuple[bool, dict[str, Any]]:
        """``(ready, body)``: counts and ages only (no terminal, token or account names: the
        endpoint needs no token)."""
        sessions = [s.session for s in self._terminals.states() if s.session is not None]
        fresh = [info for info in sessions if self._cache.is_fresh(info.token_id)]
        ages = [age for info in sessions
                if (age := self._metrics.tick_age_s(info.terminal)) is not None]
        newest = min(ages) if ages else None
        problems = []
        if not sessions:
            problems.append("no EA is connected")
        elif len(fresh) < len(sessions):
            problems.append("a connected EA's token record is stale (the token authority has "
                            "not confirmed it lately); trades are refused until it does")
        if self._max_tick_age_s > 0 and sessions and (newest is None
                                                      or newest > self._max_tick_age_s):
            problems.append(f"no tick in the last {self._max_tick_age_s:g} s")
        body: dict[str, Any] = {
            "status": "ready" if not problems else "not_ready",
            "ea_connected": len(sessions), "records_fresh": len(fresh),
            "last_tick_age_s": None if newest is None else round(newest, 3),
            "problems": problems}
        return not problems, body

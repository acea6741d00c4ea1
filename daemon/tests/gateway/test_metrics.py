"""The per-call metrics (``gateway/metrics.py``, :class:`CallStats`) export exactly the series
``prometheus_client``'s ``Counter`` and ``Histogram`` export for the same calls: names, labels,
``le`` buckets, counts and sums (the text an operator's dashboards and
``docs/operations.md`` name)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from gateway.metrics import _BUCKETS, CallStats, DaemonMetrics

#: (method, outcome, seconds): every bucket edge, values just either side of one, beyond the
#: last bound, zero, and two methods and outcomes.
CALLS = [("symbol_info_tick", "ok", s) for s in (0.0, 0.0001, 0.0005, 0.00050001, 0.001,
                                                  0.003, 0.25, 9.99, 10.0, 12.5)] + [
    ("account_info", "ok", 0.002), ("account_info", "-32001", 0.0004),
    ("unknown", "-32601", 0.0), ("symbol_info_tick", "-32602", 0.07)]


def _text(registry: CollectorRegistry) -> list[str]:
    """The exposition's lines, ``*_created`` left out (``DaemonMetrics.render`` drops them)."""
    return sorted(line for line in generate_latest(registry).decode().splitlines()
                  if "_created" not in line)


def test_call_stats_export_what_the_library_exports() -> None:
    library = CollectorRegistry()
    requests = Counter("mtgateway_rpc_requests", "JSON-RPC calls answered, by method and "
                       "outcome (ok, or the JSON-RPC error code)", ["method", "outcome"],
                       registry=library)
    latency = Histogram("mtgateway_rpc_request_duration_seconds", "Time to answer a JSON-RPC "
                        "call, by method", ["method"], buckets=_BUCKETS, registry=library)
    ours = CollectorRegistry()
    stats = CallStats()
    ours.register(stats)
    for method, outcome, seconds in CALLS:
        requests.labels(method, outcome).inc()
        latency.labels(method).observe(seconds)
        stats.answered(method, outcome, seconds)
    assert _text(ours) == _text(library)


def test_daemon_metrics_count_calls_by_outcome_and_risk_rule() -> None:
    metrics = DaemonMetrics(frozenset({"symbol_info_tick", "order_send"}))
    metrics.rpc_answered("symbol_info_tick", None, 0.0003)
    metrics.rpc_answered("nope", {"code": -32601}, 0.0)
    metrics.rpc_answered("order_send", {"code": -32012, "data": {"rule": "max_volume"}}, 0.002)
    text = metrics.render().decode()
    assert 'mtgateway_rpc_requests_total{method="symbol_info_tick",outcome="ok"} 1.0' in text
    assert 'mtgateway_rpc_requests_total{method="unknown",outcome="-32601"} 1.0' in text
    assert 'mtgateway_rpc_request_duration_seconds_bucket{le="0.0005",method=' \
           '"symbol_info_tick"} 1.0' in text
    assert 'mtgateway_rpc_request_duration_seconds_count{method="order_send"} 1.0' in text
    assert 'mtgateway_refusals_total{reason="risk_max_volume"} 1.0' in text
    assert "_created" not in text

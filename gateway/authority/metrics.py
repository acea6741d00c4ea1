"""The console's Prometheus metrics (``GET /metrics``): sign-ins, e-mails, approvals pending.

Like the daemon's (``gateway/metrics.py``, which this service may not import: it stands alone),
on a registry of its own, with the standard client library. Fed by seams, not hooks in the
pages: the mailer the console sends through is wrapped (:class:`CountingMailer`: sent and
failed), the activity log counts what it records (sign-ins, refused sign-ins, tokens, device
approvals, terminal refusals), and the approvals waiting for a code are read from the store
at scrape time (through the database's door; left out of a scrape the database cannot
answer). No owner, device or token is ever a label.

The route answers loopback peers only: a console may face the internet (behind TLS), and how
often its owners sign in is nobody else's business; a Prometheus server scrapes it from the
same machine, or through a tunnel. Behind a reverse proxy on the same machine every request
comes from loopback, so with a proxy configured the client is the one the proxy names
(``Forwarded``/``X-Forwarded-For``), and a request naming the proxy's public host without
such a header is not taken for a local one (round-4 T4-F9). With ``[console] metrics_token``
set, the token decides instead, from any peer (a scrape through the proxy).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Final

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..base.edge import forwarded_clients
from ..base.loopback import is_loopback
from .activity import KINDS
from .config import ConsoleConfig
from .database import DatabaseUnavailable
from .mailer import Mailer
from .service import Authority

__all__ = ["CONTENT_TYPE", "ConsoleMetrics", "CountingMailer"]

#: The text exposition format's media type.
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


class ConsoleMetrics:
    """The console's registry: e-mails by outcome, activity by kind, approvals pending.

    Args:
        config: who may scrape (``metrics_token``, ``behind_proxy``, ``allowed_hosts``).
    """

    def __init__(self, config: ConsoleConfig | None = None) -> None:
        self._config = config if config is not None else ConsoleConfig()
        self.registry = CollectorRegistry()
        self.mails = Counter("mtgateway_console_emails", "E-mails the console tried to send, "
                             "by outcome (sent, failed)", ["outcome"], registry=self.registry)
        for outcome in ("sent", "failed"):
            self.mails.labels(outcome)
        self._authority: Callable[[], Authority] | None = None
        self._collector: _AuthorityCollector | None = None

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
        """The exposition text of every metric."""
        return generate_latest(self.registry)

    async def handle(self, request: web.Request) -> web.Response:
        """``GET /metrics``: with a metrics token, for whoever carries it (401 otherwise);
        without one, for a local peer (:meth:`local`), 404 to anyone else."""
        token = self._config.metrics_token.get_secret_value()
        if token:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                # the console's error shape (``console._error_response``), with the scheme
                # a scraper must use
                return web.json_response(
                    {"error": {"code": 401, "reason": "metrics_token", "message":
                               "GET /metrics needs Authorization: Bearer <[console] "
                               "metrics_token>"}}, status=401,
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

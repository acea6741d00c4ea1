"""``mtgateway-console``: the token authority's HTTP API and pages (``docs/authority.md``).

This module composes the application: the middlewares (the request metrics, the connection
guard's work count, the door's Host allowlist and its boundary, where every failure becomes
the refusal its entry point renders, the pages' security headers), the console's door
(``door/``: who is calling, the body, the refusals, the held streams), its three entry points
(the JSON routes, ``routes/``, one module per job; the MT4 Web API, ``mt4api/``; the pages,
``web/``), the metrics, and the authority itself, opened at start-up. Owners manage tokens,
accounts and devices with HTTP Basic credentials; devices (daemons) look up and refresh signed
records and complete approvals with a device proof on every call.

The database is behind its door (``database/``): no request's store call runs on the event
loop, so ``/health`` and every request that needs no database answer while the database is
slow, paused or gone, and a request that needs it answers 503 ``database_unavailable`` within
``[authority] database_connect_timeout_s`` + ``database_statement_timeout_s``. ``/ready``
answers from a state a background check keeps (``readiness.py``), at once whatever the
database does. A console that starts while its database is unreachable serves anyway
(``/ready`` says ``database_unreachable``) and prepares the schema as soon as the database
answers.

The console binds loopback unless ``[console] insecure_allow_non_loopback`` is set: it takes
owner passwords and hands out signed records, so beyond this machine it belongs behind TLS.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Final

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from mtgateway_base.access import log_access
from mtgateway_base.configfile import database_url
from mtgateway_base.edge import HeldRequests, HostRefusals
from mtgateway_base.guard import (
    BUDGET,
    ConnectionBudget,
    ConnectionLimits,
    GuardedSite,
    Refusals,
    connection_of,
    note_switch,
    raw_response,
    work_middleware,
)
from mtgateway_base.loopback import is_loopback
from mtgateway_base.proxyheader import TrustedProxies
from mtgateway_base.scrape import ScrapeGuard
from mtgateway_base.throttle import AuthThrottle

from .address import ConsoleAddress
from .appkeys import (
    AUTHORITY,
    CLOCKS,
    CONSOLE_ADDRESS,
    CONSOLE_METRICS,
    FAIR_SHARE,
    KEY_GATE,
    LONG_POLLS,
    OWNER_SIGN_IN,
    OWNER_THROTTLE,
    PROOFS_OFF_LOOP,
    READINESS,
    Clocks,
)
from .config import ConsoleFile, SmtpConfig
from .database import DatabaseError, DatabaseUnavailable
from .delivery import ALERT_SENDER, AlertSender, alert_sender
from .door import (
    DOOR,
    MISDIRECTED,
    Door,
    HeldStreams,
    boundary,
    fair_share,
    host_allowlist,
    proxied_client,
)
from .door.edge import DeviceEdge, DeviceSite
from .door.edge import settings as edge_settings
from .errors import ConsoleConfigError
from .fairshare import FairShare
from .keygate import KeyGate
from .mailer import Mailer, SmtpMailer
from .metrics import ConsoleMetrics, CountingMailer
from .mt4api import add_api
from .readiness import Readiness
from .routes import add_routes
from .routes.refusals import render as render_refusal
from .service import Authority
from .service.signin import OwnerSignIn
from .tables import approvals as approval_rows
from .tables.migrations import MIGRATIONS
from .tables.signins import StoredLoginFailures
from .web import mount_pages, security_headers

__all__ = ["AUTHORITY", "CONNECTIONS", "CONSOLE_METRICS", "KEY_GATE", "LONG_POLLS",
           "LONG_POLLS_PER_DEVICE", "create_console_app", "mailer_from_config",
           "start_console"]

log = logging.getLogger(__name__)

_MAX_BODY_BYTES: Final = 64 * 1024
#: Revocation long-polls held at once per device key (a daemon holds one; a restart overlaps).
LONG_POLLS_PER_DEVICE: Final = 2
#: The console port's connection budget and deadlines (``base.guard``, as the daemon's).
CONNECTIONS: Final = BUDGET
#: Whether ``[logging] access_log`` asked for a line per request.
_ACCESS_LOG: Final = web.AppKey("access_log", bool)
#: The device calls on the llhttp edge (``[console] device_edge = "llhttp"``), else None.
_DEVICE_EDGE: Final = web.AppKey("device_edge", object)
#: aiohttp's keep-alive and lingering times, which the console's runner keeps (the edge
#: holds its connections to the same).
_KEEPALIVE_S: Final = 3630.0
_LINGERING_S: Final = 10.0
#: How long the start-up waits between tries to prepare an unreachable database (it doubles
#: from the first to the last).
_PREPARE_RETRY_S: Final = (1.0, 10.0)
#: The guard's own answers, in the console's error shape.
_REFUSALS: Final = Refusals(
    misdirected=raw_response(421, "Misdirected Request", json.dumps(
        {"error": {"code": 421, "reason": "misdirected", "message": MISDIRECTED}}).encode()),
    busy=raw_response(503, "Service Unavailable", json.dumps(
        {"error": {"code": 503, "reason": "too_many_connections",
                   "message": "too many connections; try again"}}).encode()),
    unproxied=raw_response(400, "Bad Request", json.dumps(
        {"error": {"code": 400, "reason": "proxy_header_expected",
                   "message": "a connection from a proxy in [console] trusted_proxies must "
                              "begin with a PROXY protocol header (HAProxy: send-proxy-v2); "
                              "call the console through the proxy"}}).encode()))


def mailer_from_config(smtp: SmtpConfig) -> SmtpMailer:
    """The SMTP mailer ``[smtp]`` describes."""
    return SmtpMailer(smtp.host, smtp.port, smtp.security, smtp.username,
                      smtp.password.get_secret_value(), smtp.from_address, smtp.timeout_s)


def _check_bind(host: str, allowed: bool) -> None:
    if not allowed and not is_loopback(host):
        raise ConsoleConfigError(f"[console] host = {host!r} is not loopback; set "
                                 "insecure_allow_non_loopback = true (behind TLS) to allow it")


class AccessLogger(AbstractAccessLogger):
    """One line per request, as the daemon writes it (``base.access``): the peer, method,
    path *without* its query string, status, size and time, as text and, in the JSON log
    format, as the fields ``remote``, ``method``, ``path``, ``status``, ``bytes`` and
    ``duration_ms``, so a log shipper filters on ``status`` without parsing text. The peer is
    the client a configured proxy named (``[console] trusted_proxies``), as the door counts
    it, while its connection is open."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        conn = connection_of(request)
        log_access(self.logger, conn.peer if conn is not None else request.remote,
                   request.method, request.path, None, response.status,
                   response.body_length, time)


async def _learn_devices(authority: Authority, gate: KeyGate) -> None:
    """Note every device that asked an owner's approval as known to the key gate (read once,
    when the database first answers: ``keygate``). A device row is written only by a lookup
    naming a live token. Unreachable now: each known device is noted again when its first
    proof passes."""
    try:
        for device_id in await authority.run(approval_rows.asking_devices):
            gate.verified(device_id)
    except DatabaseUnavailable as exc:
        log.warning("the console's known devices could not be read: %s", exc)


async def _prepare_until_ready(authority: Authority, gate: KeyGate) -> None:
    """Try to prepare the schema until the database answers (the console started without
    it); each failure is logged once per try, at growing intervals."""
    delay, most = _PREPARE_RETRY_S
    while not authority.prepared:
        await asyncio.sleep(delay)
        delay = min(most, delay * 2)
        try:
            await authority.prepare()
        except DatabaseUnavailable as exc:
            log.warning("the authority's database is still unreachable: %s", exc)
    log.info("the authority's database answers; the schema is ready")
    await _learn_devices(authority, gate)


async def _schema_version(authority: Authority) -> int:
    """The readiness check: the schema version the database holds, the schema prepared first
    if the console started without its database.

    Raises:
        DatabaseUnavailable: the database did not answer.
    """
    try:
        if not authority.prepared:
            await authority.prepare()
    except DatabaseUnavailable:
        raise
    except DatabaseError:
        pass  # a schema newer than this program's: the version read says which
    return await authority.schema_version()


async def _readiness_ctx(app: web.Application) -> AsyncIterator[None]:
    """Keep ``/ready``'s state (``readiness.py``): one check before the console serves, so a
    console started with its database is ready at once, then one every second."""
    authority = app[AUTHORITY]
    readiness = app[READINESS] = Readiness(lambda: _schema_version(authority), len(MIGRATIONS))
    await readiness.check_once()
    task = asyncio.get_running_loop().create_task(readiness.run())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def create_console_app(config: ConsoleFile, *, mailer: Mailer | None = None,
                       clock: Callable[[], float] = time.time,
                       randbelow: Callable[[int], int] = secrets.randbelow,
                       data_dir: Path | None = None,
                       throttle_clock: Callable[[], float] = time.time,
                       sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                       shares: FairShare | None = None) -> web.Application:
    """The console app; the authority opens on startup and drains its e-mails on cleanup.

    ``clock`` (epoch seconds) drives code lifetimes, the account lock, record times and the
    device-proof window; ``throttle_clock`` (epoch seconds: the throttle's failures and lockout
    are rows of the database every instance reads, so every instance must read one clock; a
    wall-clock step moves a lockout's end with it) and ``sleep`` drive the owner-credential
    throttle. Tests inject all three. ``shares``: the fair-share rule's bounds
    (``fairshare.py``; its defaults, on the throttle's clock, unless a test gives its
    own). Raises :class:`~.errors.ConsoleConfigError` for a non-loopback host not allowed.
    """
    console = config.console
    _check_bind(console.host, console.insecure_allow_non_loopback)
    host_refusals = HostRefusals(throttle_clock, what="the console")
    directory = data_dir if data_dir is not None else config.resolved_data_dir()
    metrics = ConsoleMetrics(console, ScrapeGuard.of(console.metrics_token.get_secret_value(),
                                                     console.metrics_open, directory))
    proxies = TrustedProxies(console.trusted_proxies) if console.trusted_proxies else None
    if proxies is None and console.proxied:
        log.warning("[console] behind_proxy or allowed_hosts says a reverse proxy is in front, "
                    "and trusted_proxies is empty: every client through it counts as the "
                    "proxy's address (one client's 10 \"forgot password\" asks an hour, or "
                    "its flood of sign-ins, hold everyone's share); have the proxy send a "
                    "PROXY header (HAProxy: send-proxy-v2) and list its address in "
                    "trusted_proxies")
    app = web.Application(
        middlewares=[metrics.middleware,  # outermost: counts what the others answer
                     work_middleware(lambda request: request.app[CONNECTIONS]),
                     # the client a configured proxy named, as every request's remote
                     *([proxied_client] if proxies is not None else []),
                     host_allowlist(console.allowed_hosts, host_refusals),
                     # whom each request's work is for, and its share given back at the end
                     fair_share,
                     # the pages' headers on every answer but the owner API's, a refusal's too
                     security_headers, boundary],
        client_max_size=_MAX_BODY_BYTES)
    app[CONNECTIONS] = ConnectionBudget(ConnectionLimits(
        max_connections=console.max_connections, header_timeout_s=console.header_timeout_s,
        max_connections_per_peer=console.max_connections_per_peer,
        body_timeout_s=console.body_timeout_s), _REFUSALS, host_refusals, proxies=proxies)
    app.on_response_prepare.append(note_switch)  # the guard stops at a 101 written, only
    app[CLOCKS] = Clocks(wall=clock)
    address = app[CONSOLE_ADDRESS] = ConsoleAddress(console.public_url, console.allowed_hosts)
    app[OWNER_THROTTLE] = AuthThrottle(
        delay_s=console.auth_failure_delay_s, limit=console.auth_failure_limit,
        window_s=console.auth_failure_window_s, lockout_s=console.auth_lockout_s,
        what="console owner credentials", clock=throttle_clock, sleep=sleep,
        # Counted in the database: failed sign-ins on any instance count on every other.
        ledger=StoredLoginFailures(lambda: app[AUTHORITY].store.database, "console-owner"))
    # The throttle vouches for credentials by a keyed hash, never the password itself.
    app[OWNER_SIGN_IN] = OwnerSignIn(app[OWNER_THROTTLE], lambda: app[AUTHORITY],
                                     secrets.token_bytes(32))
    app[KEY_GATE] = KeyGate(clock=throttle_clock)  # the throttle's clock (tests inject it)
    app[LONG_POLLS] = HeldRequests(per_key=LONG_POLLS_PER_DEVICE,
                                   per_peer=console.max_long_polls_per_peer,
                                   longest_s=console.long_poll_s)
    shares = app[FAIR_SHARE] = shares if shares is not None \
        else FairShare(forgot_clock=throttle_clock)
    door = app[DOOR] = Door(app, HeldStreams(per_peer=console.max_streams_per_peer))
    app[_ACCESS_LOG] = config.logging.access_log
    off_loop = app[PROOFS_OFF_LOOP] = console.public_key_work == "workers"
    app[CONSOLE_METRICS] = metrics
    chosen = CountingMailer(mailer if mailer is not None else mailer_from_config(config.smtp),
                            metrics)
    section = config.authority

    async def authority_ctx(app: web.Application) -> AsyncIterator[None]:
        authority = Authority.closed(
            directory, chosen, clock=clock, randbelow=randbelow,
            database_url=database_url(section),
            connect_timeout_s=section.database_connect_timeout_s,
            statement_timeout_s=section.database_statement_timeout_s,
            pool_size=section.database_connections, sign_off_loop=off_loop,
            address=address,
            # a password confirming a change is checked by the one owner rule (its throttle)
            password_check=app[OWNER_SIGN_IN].password,
            # the callers' turns at the password hashes and the database (fairshare.py)
            shares=shares)
        metrics.time_transactions(authority.store.database)
        preparing: asyncio.Task[None] | None = None
        try:
            await authority.prepare()
        except DatabaseUnavailable as exc:
            # Served anyway: /health answers, /ready and the requests that need the database
            # say it is unreachable until it answers.
            log.warning("the console starts without its database: %s", exc)
            preparing = asyncio.get_running_loop().create_task(
                _prepare_until_ready(authority, app[KEY_GATE]))
        except BaseException:
            await authority.close()
            raise
        else:
            await _learn_devices(authority, app[KEY_GATE])
        app[AUTHORITY] = authority
        yield
        if preparing is not None:
            preparing.cancel()
            await asyncio.gather(preparing, return_exceptions=True)
        await authority.close()

    async def end_held(app: web.Application) -> None:
        app[AUTHORITY].feed.close()  # the long-polls
        door.streams.close()

    app.cleanup_ctx.append(authority_ctx)
    app.cleanup_ctx.append(_readiness_ctx)  # after the authority's: it asks it
    app[ALERT_SENDER] = AlertSender(lambda: app[AUTHORITY],
                                    private_networks=console.webhook_private_networks)
    app.cleanup_ctx.append(alert_sender)  # after the authority's: it reads it
    app.on_shutdown.append(end_held)
    add_routes(app)
    if console.device_edge == "llhttp":
        edge = app[_DEVICE_EDGE] = DeviceEdge(
            app, console.allowed_hosts, host_refusals, render_refusal, edge_settings(
                max_body_bytes=_MAX_BODY_BYTES, keepalive_timeout_s=_KEEPALIVE_S,
                lingering_s=_LINGERING_S),
            logging.getLogger("gateway.access") if config.logging.access_log else None)
        app.on_shutdown.append(edge.drain)  # after end_held: the long-polls ended first
    add_api(app)  # the MT4 Web API across the owner's accounts, /api/...
    app.router.add_get("/metrics", metrics.handle)
    metrics.watch(lambda: app[AUTHORITY])
    mount_pages(app, lambda: app[AUTHORITY], app[OWNER_SIGN_IN], clock=clock)
    return app


async def start_console(app: web.Application, host: str, port: int, *,
                        ssl_context: ssl.SSLContext | None = None,
                        sock: socket.socket | None = None) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host:port`` (0 picks a port), or on ``sock`` (bound: one of several
    processes of an instance, ``processes.py``), over TLS with ``ssl_context``; the runner
    and the bound port."""
    # A daemon that goes away mid long-poll (POST /v1/device/revocations) ends its handler at
    # once instead of holding it (and the shutdown) until the poll's time is up.
    runner = web.AppRunner(app, handle_signals=False, handler_cancellation=True,
                           access_log_class=AccessLogger,
                           access_log=logging.getLogger("gateway.access")
                           if app.get(_ACCESS_LOG) else None)
    await runner.setup()
    try:
        # Through the guard (base.guard): the connection budget and the header and body
        # deadlines, as the daemon's port: a client trickling bytes or parking sockets must
        # not starve the process that issues the daemons' tokens either.
        edge = app.get(_DEVICE_EDGE)
        if isinstance(edge, DeviceEdge):  # the device calls on llhttp (door/edge.py)
            await DeviceSite(runner, host, port, app[CONNECTIONS], edge, sock,
                             ssl_context=ssl_context).start()
        else:
            await GuardedSite(runner, host, port, app[CONNECTIONS], sock,
                              ssl_context=ssl_context).start()
    except OSError:
        await runner.cleanup()
        raise
    bound = int(runner.addresses[0][1])
    app[CONSOLE_ADDRESS].serving("https" if ssl_context is not None else "http", host, bound)
    return runner, bound

"""The console's configuration: its sections of the one TOML file, read by the console itself.

``mtgateway-console -c F`` reads ``[console]`` and ``[smtp]`` (its own), and ``data_dir``,
``[authority]`` (its database) and ``[logging]`` with the daemon (their models are the ground
floor's, ``mtgateway_base.configfile``, as are where the file is and the rules every reader
holds it to); the daemon's sections are set aside unread. :class:`ConsoleFile` is what the
console reads of the file, and what its composition, its commands and a daemon that embeds it
(the demo) build it from.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from mtgateway.places import default_data_dir
from mtgateway_base.configfile import (
    AuthorityConfig,
    ConfigFileError,
    EdgeLimits,
    LoggingConfig,
    Section,
    checked_metrics_token,
    read_config,
)
from mtgateway_base.proxyheader import proxy_networks

from .address import check_public_url
from .errors import ConsoleConfigError

__all__ = ["ConsoleConfig", "ConsoleFile", "SmtpConfig", "load_console_config"]


class ConsoleConfig(EdgeLimits):
    """``mtgateway-console``: the authority's HTTP API (database ``authority.sqlite3`` in
    ``data_dir``); its deadlines and brute-force rules are the edge's,
    :class:`~mtgateway_base.configfile.EdgeLimits`, as the daemon's ``[server]`` has them."""

    host: str = "127.0.0.1"
    port: int = Field(default=8720, ge=0, le=65535)
    #: The console hands out signed records and takes owner passwords: beyond loopback it
    #: belongs behind a TLS reverse proxy, and must be asked for by name.
    insecure_allow_non_loopback: bool = False
    #: Host names accepted besides 127.0.0.1, localhost and [::1] (a TLS-terminating proxy's
    #: public name); any other Host is refused 421 (DNS-rebinding guard, ``base.edge``).
    allowed_hosts: tuple[str, ...] = Field(default=(), strict=False)
    #: Revocation long-polls held at once from one address (each device key: 2). Behind a
    #: proxy every daemon shares its address: raise it to the number of daemons served.
    max_long_polls_per_peer: int = Field(default=64, ge=1, le=100_000)
    #: The longest a revocation long-poll is held, whatever a daemon asks (it asks 50 s): keep
    #: it under the idle timeout of any proxy or balancer in front of the console (one that
    #: closes requests idle for 30 s needs 25 here), or every held poll is cut there.
    long_poll_s: float = Field(default=55.0, gt=0, le=55)
    #: The live page's event streams held at once from one address (each session holds 2 at
    #: most, each owner 4). Behind a proxy every owner shares its address: raise it to 4 per
    #: owner watching at once.
    max_streams_per_peer: int = Field(default=32, ge=1, le=100_000)
    #: The daemon's connection rules (``[server]``'s keys of the same names, one edge module:
    #: ``base.guard``). Open connections at most; beyond it an idle connection, or one
    #: whose request is still arriving (whoever's), leaves for a newcomer, then a live
    #: page's stream, then a revocation long-poll (a whole request with a verified device
    #: proof, owner password or session never does), else 503.
    max_connections: int = Field(default=512, ge=1, le=100_000)
    #: Open connections from one address at most (behind a proxy: raise it).
    max_connections_per_peer: int = Field(default=256, ge=1, le=100_000)
    #: ``GET /metrics`` answers any peer carrying ``Authorization: Bearer <token>``, and no
    #: one else (401, from loopback too): how often owners sign in is nobody else's business.
    #: The token is this one when set (16+ characters; a Prometheus server may then scrape
    #: through the TLS proxy), else one the console keeps in ``<data_dir>/metrics.token``
    #: (0600; Prometheus's ``credentials_file`` reads it). ``/health`` and ``/ready`` stay
    #: open (they name no owner, token or account).
    metrics_token: SecretStr = Field(default=SecretStr(""), strict=False)
    #: ``true``: no token is asked for, and ``/metrics`` answers loopback peers only (404 to
    #: others): every local user reads it (the behaviour before this setting existed).
    metrics_open: bool = False
    #: The console is reached through a reverse proxy on this machine even though
    #: ``allowed_hosts`` is empty (a proxy that passes ``Host: 127.0.0.1`` on). With a proxy
    #: (this, or ``allowed_hosts`` naming one) every proxied request comes from loopback, so the
    #: loopback rule of ``/metrics`` reads the client the proxy names in ``Forwarded`` or
    #: ``X-Forwarded-For`` (the rightmost entry, the one the proxy added) instead.
    behind_proxy: bool = False
    #: The reverse proxies (addresses or networks: ``["10.0.0.5"]``, ``["127.0.0.1"]``) that
    #: begin each connection with a PROXY protocol header (v1 or v2; HAProxy's
    #: ``send-proxy-v2``, as ``deploy/haproxy-console.cfg.template`` sends it) naming the
    #: client: a connection from one of them counts as that client's everywhere an address
    #: is counted (connections, "forgot password" asks, the hashing pool's and the database
    #: lane's lines for callers with no credential, keys the console does not know, streams,
    #: long-polls), and must begin with the header (closed otherwise: a client calling this
    #: port straight from a proxy's address is refused). Any other peer is counted as
    #: itself, whatever it sends: no forwarding header is believed for a count. Empty (the
    #: default): no header is read, and behind a proxy every client shares the proxy's
    #: address (a warning at start); the header must be turned on at both ends at once.
    trusted_proxies: tuple[str, ...] = Field(default=(), strict=False)
    #: Where the public-key work of a device call runs: ``workers`` (the database door's
    #: threads, each as part of the call's transaction: the proof's signature with its replay
    #: row, a record's signing and sealing with its read; libsodium and ``cryptography``
    #: release the GIL, so the event loop serves other requests meanwhile) or ``loop`` (on
    #: the event loop).
    #: ``loop`` by default: measured at the daemons' cadence on two cores, the hand-offs to
    #: the workers cost more than the loop time they free (5,000 daemons: p50 357 ms and p99
    #: 1.9 s on the workers, 117 ms and 1.1 s on the loop), and again with libsodium's
    #: cheaper operations (10,000 daemons, two processes: p99 135 ms and 0.88 cores on the
    #: workers, 83 ms and 0.77 on the loop; docs/performance.md).
    public_key_work: Literal["workers", "loop"] = "loop"
    #: Who parses the daemons' device calls (``door/edge.py``): ``llhttp``, the ground floor's
    #: edge behind the same door (a device call without aiohttp's request machinery), or
    #: ``aiohttp``, which parses every request. Either way the pages and the owner's APIs are
    #: aiohttp's, on the same port.
    device_edge: Literal["llhttp", "aiohttp"] = "llhttp"
    #: Serving processes of this instance, sharing its port (``processes.py``: each its own
    #: socket with SO_REUSEPORT on Linux, one shared listening socket elsewhere). More than
    #: one needs the database in PostgreSQL; ``max_connections`` and the database's pool of
    #: 8 connections are per process.
    processes: int = Field(default=1, ge=1, le=64)
    #: Each serving process (and every thread it starts) runs on one CPU of those the
    #: instance may use, process k on the k-th (Linux only: ``processes.pin``). For a host
    #: or container given to the console: a process's event loop and its database workers
    #: hand the GIL and each transaction's answer to one another at every statement, and
    #: on a virtual machine each such wake-up on another CPU costs an interrupt between
    #: CPUs. Measured at the daemons' cadence on a 2-vCPU VM, ``processes = 2``: the
    #: console's CPU 0.77 -> 0.69 cores and p99 108 -> 57 ms at 7,000 daemons
    #: (docs/performance.md). Off by default: on a host shared with busy services a pinned
    #: process cannot move away from a CPU they keep busy.
    pin_processes: bool = False
    #: The address owners open the console at, as every link it mails names it (a password
    #: reset, undoing a second factor, the approval and alert mails): a TLS proxy's
    #: ``https://console.example.com``. Empty: the address the console serves on. Never the
    #: ``Host`` a request named (any loopback port passes the Host rule).
    public_url: str = ""
    #: Alert webhooks may post to loopback, private and link-local addresses too (a console
    #: whose owners are its operator, with a receiver on the same machine or LAN). Off: an
    #: owner cannot make the console post into its own network (``destinations.py``).
    webhook_private_networks: bool = False

    @field_validator("pin_processes")
    @classmethod
    def _pinning_needs_linux(cls, value: bool) -> bool:
        if value and sys.platform != "linux":
            raise ValueError("pin_processes needs Linux (sched_setaffinity); this platform "
                             "has no way to run a process on one CPU that the console uses")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_long_enough(cls, value: SecretStr) -> SecretStr:
        return checked_metrics_token(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return proxy_networks(value)

    @field_validator("public_url")
    @classmethod
    def _public_url_is_an_address(cls, value: str) -> str:
        return check_public_url(value)

    @property
    def proxied(self) -> bool:
        """Whether a reverse proxy is configured (``behind_proxy`` or ``allowed_hosts``)."""
        return self.behind_proxy or bool(self.allowed_hosts)


class SmtpConfig(Section):
    """Where the console sends device-approval codes."""

    host: str = "localhost"
    port: int = Field(default=587, ge=1, le=65535)
    #: ``starttls`` (port 587), ``tls`` (implicit TLS, port 465) or ``none`` (local relay only).
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    #: Never logged or shown (a SecretStr); prefer a dedicated sending account.
    password: SecretStr = Field(default=SecretStr(""), strict=False)
    from_address: str = "mtgateway@localhost"
    timeout_s: float = Field(default=30.0, gt=0, le=300)


class ConsoleFile(Section):
    """What the console reads of the configuration file."""

    #: Where the console keeps its state (the key files, ``authority.sqlite3``): the daemon's
    #: ``data_dir`` when the two share a file. Empty means the platform's per-user data
    #: directory.
    data_dir: str = ""
    authority: AuthorityConfig = AuthorityConfig()
    console: ConsoleConfig = ConsoleConfig()
    smtp: SmtpConfig = SmtpConfig()
    logging: LoggingConfig = LoggingConfig()

    def resolved_data_dir(self) -> Path:
        """``data_dir`` as a path, the platform default when empty."""
        return Path(self.data_dir).expanduser() if self.data_dir else default_data_dir()


def load_console_config(path: str | Path | None) -> ConsoleFile:
    """Read and validate the console's sections of a TOML file; ``None`` gives the defaults.

    Raises:
        ConsoleConfigError: the file is missing, not TOML, refused (others could write it, or
            read a secret in it), or does not validate; the message names the file and every
            offending key.
    """
    if path is None:
        return ConsoleFile()
    try:
        return read_config(Path(path), ConsoleFile, "console")
    except ConfigFileError as exc:
        raise ConsoleConfigError(str(exc)) from None

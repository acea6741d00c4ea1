"""The authority's own configuration models: ``[console]`` and ``[smtp]``.

The daemon's ``gateway/config.py`` reads the one TOML file and embeds these sections as they
are; the authority never imports the daemon's config. What the console needs from the loaded
file is :class:`ConsoleSettings`, which the daemon's ``GatewayConfig`` satisfies.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Final, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from .address import check_public_url

__all__ = ["DATABASE_URL_ENV", "ConsoleConfig", "ConsoleSettings", "DatabaseSettings",
           "LoggingSettings", "SmtpConfig", "checked_metrics_token", "database_url"]

#: The environment variable that overrides ``[authority] database_url`` (a secret: deployments
#: pass it from their secret store rather than writing it into the config file). It never had
#: another name, so it is read directly: the door for renamed variables (``ea_bridge.environment``)
#: is outside what the authority imports.
DATABASE_URL_ENV: Final = "MTGATEWAY_DATABASE_URL"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


def checked_metrics_token(value: SecretStr) -> SecretStr:
    """A metrics token (``[server]`` or ``[console] metrics_token``) is empty (off) or at
    least 16 characters without blanks: it is compared, never throttled, so it must be a
    random string rather than a word.

    Raises:
        ValueError: too short or with blanks.
    """
    token = value.get_secret_value()
    if token and (len(token) < 16 or any(c.isspace() for c in token)):
        raise ValueError("must be at least 16 characters without blanks (e.g. python -c "
                         "'import secrets; print(secrets.token_urlsafe(24))')")
    return value


class ConsoleConfig(_Section):
    """``mtgateway console``: the authority's HTTP API (database ``authority.sqlite3`` in
    ``data_dir``)."""

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
    #: A request's header block must arrive within this long of its first byte (slowloris).
    header_timeout_s: float = Field(default=10.0, gt=0, le=300)
    #: A request's body must arrive within this long of its headers (the connection closes).
    body_timeout_s: float = Field(default=30.0, gt=0, le=600)
    #: Each wrong owner e-mail/password is answered after this delay, one at a time (the
    #: daemon's ``[server]`` rule, applied to password guessing).
    auth_failure_delay_s: float = Field(default=0.25, ge=0, le=10)
    #: More wrong owner credentials than this within the window start the lockout: credentials
    #: not signed in with before answer 429 unchecked; those signed in with still work.
    auth_failure_limit: int = Field(default=20, ge=1, le=100_000)
    auth_failure_window_s: float = Field(default=60.0, gt=0, le=86_400)
    auth_lockout_s: float = Field(default=60.0, gt=0, le=86_400)
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

    @field_validator("public_url")
    @classmethod
    def _public_url_is_an_address(cls, value: str) -> str:
        return check_public_url(value)

    @property
    def proxied(self) -> bool:
        """Whether a reverse proxy is configured (``behind_proxy`` or ``allowed_hosts``)."""
        return self.behind_proxy or bool(self.allowed_hosts)


class SmtpConfig(_Section):
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


class DatabaseSettings(Protocol):
    """What the authority reads of ``[authority]``."""

    @property
    def database_url(self) -> SecretStr:
        """``postgresql://...`` for a shared database, empty for ``authority.sqlite3``."""
        ...

    @property
    def database_connect_timeout_s(self) -> float:
        """How long opening a database connection (or waiting for a free one) may take."""
        ...

    @property
    def database_statement_timeout_s(self) -> float:
        """How long one statement may take (PostgreSQL's ``statement_timeout``; SQLite: how
        long a busy file is waited for)."""
        ...

    @property
    def database_connections(self) -> int:
        """PostgreSQL connections (and transaction workers) of one process."""
        ...


class LoggingSettings(Protocol):
    """What the console reads of ``[logging]``."""

    @property
    def access_log(self) -> bool:
        """Log a line per HTTP request."""
        ...


def database_url(section: DatabaseSettings) -> str:
    """The authority's database: ``$MTGATEWAY_DATABASE_URL``, else ``[authority]
    database_url``; empty means the SQLite file in the data directory."""
    return os.environ.get(DATABASE_URL_ENV) or section.database_url.get_secret_value()


class ConsoleSettings(Protocol):
    """What the console reads of the loaded configuration file."""

    @property
    def authority(self) -> DatabaseSettings:
        """The ``[authority]`` section (its ``database_url``)."""
        ...

    @property
    def console(self) -> ConsoleConfig:
        """The ``[console]`` section."""
        ...

    @property
    def smtp(self) -> SmtpConfig:
        """The ``[smtp]`` section."""
        ...

    @property
    def logging(self) -> LoggingSettings:
        """The ``[logging]`` section (its ``access_log``)."""
        ...

    def resolved_data_dir(self) -> Path:
        """The directory of ``authority.sqlite3``."""
        ...

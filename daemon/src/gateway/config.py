"""The daemon's configuration: its sections of the one TOML file, validated strictly, frozen
once loaded.

Strict because a typo in a security setting must fail loudly at start rather than fall back to
a default silently: unknown keys are errors, ``"8710"`` is not a port, and every duration or
size carries its unit in its name (``request_timeout_s``, ``max_body_bytes``). Frozen because
the running daemon shares one config object between every component.
``config.example.toml`` documents every key and is loaded by a test so it cannot drift.

The file is shared with the console (``mtgateway_base.configfile``: where it is, who reads
which section, the rules every reader holds it to): the daemon reads ``[server]``, ``[bridge]``,
``[device]``, ``[trading]`` and ``[ws]``, and ``data_dir``, ``[authority]`` and ``[logging]``
with the console; the console's ``[console]`` and ``[smtp]`` are its own to read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from mtgateway.places import default_data_dir
from mtgateway_base.configfile import (
    CONFIG_ENV,
    AuthorityConfig,
    ConfigFileError,
    EdgeLimits,
    LoggingConfig,
    Section,
    checked_metrics_token,
    console_url_problem,
    default_config_path,
    read_config,
)
from mtgateway_base.configfile import find_config as _find_config

from .errors import ConfigError
from .unix_socket import refusal as unix_socket_refusal

__all__ = [
    "CONFIG_ENV",
    "AuthorityConfig",
    "BridgeConfig",
    "DeviceConfig",
    "GatewayConfig",
    "LoggingConfig",
    "ServerConfig",
    "TradingConfig",
    "WsConfig",
    "default_config_path",
    "console_url_problem",
    "default_data_dir",
    "find_config",
    "load_config",
]


class ServerConfig(EdgeLimits):
    """The HTTP side: ``/rpc``, ``/ws`` and ``/health`` (its deadlines and brute-force rules are
    the edge's, :class:`~mtgateway_base.configfile.EdgeLimits`, as the console's)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8710, ge=0, le=65535)
    #: Listening beyond loopback exposes trading to the network; it must be asked for by name.
    insecure_allow_non_loopback: bool = False
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    allowed_origins: tuple[str, ...] = Field(default=(), strict=False)
    #: Deadline for a read forwarded to the EA (-32013 TIMEOUT after it).
    request_timeout_s: float = Field(default=10.0, gt=0, le=300)
    #: Deadline for a trade forwarded to the EA (-32003 OUTCOME_UNKNOWN after it).
    trade_timeout_s: float = Field(default=10.0, gt=0, le=300)
    #: Extra Host names accepted besides 127.0.0.1, localhost and [::1] (DNS-rebinding guard).
    allowed_hosts: tuple[str, ...] = Field(default=(), strict=False)
    #: Open connections on the HTTP port. A newcomer beyond it takes the place of an idle or
    #: unfinished one (unauthenticated first); 503 only when every connection is working.
    #: 256: aiohttp's default client opens up to 100, and a bot using it must be served.
    max_connections: int = Field(default=256, ge=1, le=10_000)
    #: Open connections from one remote address (beyond it, that address's own idle or
    #: unfinished connections make room, else 503).
    max_connections_per_peer: int = Field(default=128, ge=1, le=10_000)
    #: An idle keep-alive connection is closed after this long.
    keepalive_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    #: ``GET /ready`` answers 503 when the newest tick is older than this; 0 reports the age
    #: without requiring it (a terminal whose markets are all closed is silent and healthy).
    ready_max_tick_age_s: float = Field(default=0.0, ge=0, le=7 * 86_400)
    #: Also serve /rpc and /ws on a UNIX socket file with mode 0600 (POSIX only; refused on
    #: Windows): only this user can connect (``gateway/unix_socket.py``). Empty: off.
    unix_socket: str = ""
    #: What parses ``POST /rpc`` on the TCP port: ``llhttp`` (``gateway/edge/llhttp.py``,
    #: httptools; every other request is handed to aiohttp on the same connection) or
    #: ``aiohttp`` (the A/B baseline). The UNIX socket (``unix_socket``) is aiohttp's either way.
    rpc_edge: Literal["llhttp", "aiohttp"] = "llhttp"
    #: ``GET /metrics`` and ``GET /ready``'s details (counts, ages, problems) answer only a
    #: request carrying ``Authorization: Bearer <token>`` (401 otherwise; ``/ready`` still
    #: answers anyone its status word, 200 or 503, for a watchdog): they tell when and how
    #: much the owner trades, which tokens were refused, and when the EA is down, which is
    #: nobody else's business on a shared machine. The token is this one when set (at least
    #: 16 characters, a random string), else one the daemon keeps in ``<data_dir>/
    #: metrics.token`` (0600; Prometheus's ``credentials_file`` reads it). ``/health`` stays
    #: open.
    metrics_token: SecretStr = Field(default=SecretStr(""), strict=False)
    #: ``true``: no token is asked for and ``/ready`` shows its details to anyone (every
    #: local user reads them: the behaviour before this setting existed).
    metrics_open: bool = False

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_long_enough(cls, value: SecretStr) -> SecretStr:
        return checked_metrics_token(value)

    @field_validator("unix_socket")
    @classmethod
    def _unix_socket_here(cls, value: str) -> str:
        reason = unix_socket_refusal(value or None)
        if reason is not None:
            raise ValueError(reason)
        return value


class BridgeConfig(Section):
    """The EA side: the TCP port the Expert Advisors connect to."""

    host: str = "127.0.0.1"
    port: int = Field(default=8711, ge=0, le=65535)
    insecure_allow_non_loopback: bool = False
    heartbeat_interval_s: float = Field(default=5.0, gt=0, le=60)
    heartbeat_timeout_s: float = Field(default=15.0, gt=0, le=600)
    handshake_timeout_s: float = Field(default=5.0, gt=0, le=60)
    #: Connections allowed to be waiting for their handshake at once; a newcomer beyond it
    #: closes the oldest (bare connections once exhausted the daemon's file descriptors).
    max_pending_handshakes: int = Field(default=16, ge=1, le=1024)
    max_frame_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024)

    @model_validator(mode="after")
    def _interval_below_timeout(self) -> BridgeConfig:
        if self.heartbeat_interval_s >= self.heartbeat_timeout_s:
            raise ValueError("heartbeat_interval_s must be below heartbeat_timeout_s")
        return self


class DeviceConfig(Section):
    """This machine as a device of the authority: its key and its name."""

    #: ``auto``: the OS keyring when a real one exists (never keyrings.alt), else a 0600 file
    #: ``device.key`` in ``data_dir``; ``keyring`` or ``file`` force one.
    key_storage: Literal["auto", "keyring", "file"] = "auto"
    #: The name shown in the approval e-mail; empty means this machine's host name.
    name: str = Field(default="", max_length=64)


class TradingConfig(Section):
    """How orders are stamped, how lost answers are reconciled, how long outcomes are kept."""

    #: The MT5 ``magic`` put on every order whose request gives none: 0, the package's (what
    #: scripts tell manual trades by), unless you set your own.
    magic: int = Field(default=0, ge=0, le=2**63 - 1)
    #: Your consent to tag: an order whose request has no comment then carries
    #: ``comment = "<prefix>:<client_id>"``, a second piece of evidence for reconciliation
    #: beside the EA's order record. Off, the comment is the request's, as the package sends it.
    comment_tag: bool = False
    #: The tag's prefix; 1 keeps the tag within MetaApi's 26 chars.
    comment_prefix: str = Field(default="g", pattern=r"^[A-Za-z0-9]{1,5}$")
    #: How long a symbol's ``filling_mode`` and ``trade_exemode`` are cached (picking
    #: ``type_filling``, pricing a market order), and the server clock's offset.
    symbol_cache_s: float = Field(default=60.0, ge=0, le=3600)
    #: Reconciliation pass period while some order's outcome is unknown.
    reconcile_interval_s: float = Field(default=30.0, gt=0, le=3600)
    #: History searched before the oldest unknown order's creation.
    reconcile_lookback_s: float = Field(default=300.0, ge=0, le=7 * 86400)
    #: Passes without a match before an order is declared RESOLVED_NOT_FOUND.
    reconcile_max_passes: int = Field(default=3, ge=1, le=100)
    #: Finished order-journal rows (ACCEPTED, REJECTED, RESOLVED_*) are deleted this long after
    #: they finished, freeing their client_id; rows whose outcome is open never are. At least
    #: 24 h because a client_id must stay idempotent that long (security spec).
    journal_retention_h: float = Field(default=72.0, ge=24, le=24 * 3650)


class WsConfig(Section):
    """``GET /ws`` streaming; the limits bound what one client can make the daemon hold."""

    #: Largest inbound message; bigger closes the socket with 1009.
    max_message_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    #: WebSocket ping period; a peer silent for half of it after a ping is dropped.
    ping_interval_s: float = Field(default=20.0, gt=0, le=600)
    #: Without an ``Authorization`` header, the ``authenticate`` message must come this fast.
    auth_timeout_s: float = Field(default=5.0, gt=0, le=60)
    #: A socket's token is re-checked on every message and at least this often (1008 if dead).
    token_recheck_s: float = Field(default=30.0, gt=0, le=3600)
    #: Queued trade/terminal notifications per client before it is closed with 1013.
    event_queue_max: int = Field(default=1000, ge=1, le=1_000_000)
    #: Transport write buffer above which a client's ticks are conflated per symbol.
    tick_high_water_bytes: int = Field(default=256 * 1024, ge=1024, le=64 * 1024 * 1024)
    #: Ready tick notifications per client before ticks are conflated regardless.
    max_queued_ticks: int = Field(default=256, ge=1, le=100_000)
    #: The kernel send buffer of each socket (SO_SNDBUF; 0 leaves the OS default, which
    #: autotunes to MBs): small keeps a slow client's ticks fresh, as conflation starts sooner.
    send_buffer_bytes: int = Field(default=256 * 1024, ge=0, le=64 * 1024 * 1024)
    #: Open streams (WebSockets) per token, whichever address they come from; past it a new
    #: one is refused (429 on the upgrade, close 1013 at a first-message ``authenticate``).
    #: 64: a bot following 28 symbols' candles on two timeframes, its ticks, trades and
    #: terminal opens 59. A token's streams and requests in progress together are held to
    #: half of ``[server] max_connections`` besides (``gateway/edge/tokenshare.py``), so no
    #: one token's streams keep another token out.
    max_streams_per_token: int = Field(default=64, ge=1, le=10_000)
    #: Live subscriptions per connection.
    max_subscriptions: int = Field(default=64, ge=1, le=10_000)
    #: Symbols in one ticks subscription.
    max_symbols: int = Field(default=256, ge=1, le=10_000)


class GatewayConfig(Section):
    """The whole configuration file."""

    #: Where the daemon keeps its state (authority database, device key, order journal).
    #: Empty means the platform's per-user data directory (see :func:`default_data_dir`).
    data_dir: str = ""
    server: ServerConfig = ServerConfig()
    bridge: BridgeConfig = BridgeConfig()
    authority: AuthorityConfig = AuthorityConfig()
    device: DeviceConfig = DeviceConfig()
    logging: LoggingConfig = LoggingConfig()
    trading: TradingConfig = TradingConfig()
    ws: WsConfig = WsConfig()

    def resolved_data_dir(self) -> Path:
        """``data_dir`` as a path, the platform default when empty."""
        return Path(self.data_dir).expanduser() if self.data_dir else default_data_dir()


def find_config(explicit: str | Path | None) -> Path | None:
    """The config file every command uses (``mtgateway_base.configfile.find_config``: ``-c``,
    else ``$MTGATEWAY_CONFIG``, else the per-user default if it exists, else ``None``).

    Raises:
        ConfigError: ``$MTGATEWAY_CONFIG`` names no readable file.
    """
    try:
        return _find_config(explicit)
    except ConfigFileError as exc:
        raise ConfigError(str(exc)) from None


def load_config(path: str | Path | None) -> GatewayConfig:
    """Read and validate the daemon's sections of a TOML file; ``None`` gives the defaults.

    Raises:
        ConfigError: the file is missing, not TOML, refused (others could write it, or read a
            secret in it), or does not validate; the message names the file and every
            offending key.
    """
    if path is None:
        return GatewayConfig()
    try:
        return read_config(Path(path), GatewayConfig, "daemon")
    except ConfigFileError as exc:
        raise ConfigError(str(exc)) from None

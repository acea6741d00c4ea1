"""The daemon's configuration: one TOML file, validated strictly, frozen once loaded.

Strict because a typo in a security setting must fail loudly at start rather than fall back to
a default silently: unknown keys are errors, ``"8710"`` is not a port, and every duration or
size carries its unit in its name (``request_timeout_s``, ``max_body_bytes``). Frozen because
the running daemon shares one config object between every component.
``config.example.toml`` documents every key and is loaded by a test so it cannot drift.

This module is the only place TOML is read.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import os
import stat
import sys
import tomllib
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from mtgateway_base.environment import read_env
from mtgateway_base.loopback import is_loopback
from mtgateway_console.config import ConsoleConfig, SmtpConfig, checked_metrics_token
from mtgateway_console.database import redact_url

from .errors import ConfigError
from .unix_socket import refusal as unix_socket_refusal

__all__ = [
    "CONFIG_ENV",
    "AuthorityConfig",
    "BridgeConfig",
    "ConsoleConfig",
    "DeviceConfig",
    "GatewayConfig",
    "LoggingConfig",
    "ServerConfig",
    "SmtpConfig",
    "TradingConfig",
    "WsConfig",
    "default_config_path",
    "console_url_problem",
    "default_data_dir",
    "find_config",
    "load_config",
]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class ServerConfig(_Section):
    """The HTTP side: ``/rpc``, ``/ws`` and ``/health``."""

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
    #: A request's headers must arrive within this long of its first byte (slowloris guard).
    header_timeout_s: float = Field(default=10.0, gt=0, le=300)
    #: A request's body must arrive within this long (408 after it).
    body_timeout_s: float = Field(default=30.0, gt=0, le=600)
    #: An idle keep-alive connection is closed after this long.
    keepalive_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    #: Each failed authentication is answered after this delay, one at a time (brute force).
    auth_failure_delay_s: float = Field(default=0.25, ge=0, le=10)
    #: More failed authentications than this within the window answer 429 for the lockout.
    auth_failure_limit: int = Field(default=20, ge=1, le=100_000)
    auth_failure_window_s: float = Field(default=60.0, gt=0, le=86_400)
    auth_lockout_s: float = Field(default=60.0, gt=0, le=86_400)
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


class BridgeConfig(_Section):
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


class AuthorityConfig(_Section):
    """The token authority: embedded (``local``) or ``mtgateway console`` elsewhere (``remote``)."""

    #: ``local``: the authority runs inside the daemon on ``authority.sqlite3`` in ``data_dir``
    #: (tokens made with ``mtgateway token create``); ``remote``: the daemon asks ``url``.
    mode: Literal["local", "remote"] = "local"
    #: The console's base URL (remote mode), e.g. ``http://127.0.0.1:8720``.
    url: str = ""
    #: The authority's Ed25519 public key, base64 of the raw 32 bytes, pinned (remote mode).
    public_key: str = ""
    #: Every cached record is refreshed this often; one older than this (plus slack) is stale
    #: and trades are refused (-32014 auth_stale) until a refresh succeeds.
    refresh_interval_s: float = Field(default=300.0, gt=0, le=86_400)
    #: How long reads go on without the authority; capped by each record's ``valid_until``.
    offline_grace_s: float = Field(default=86_400.0, ge=0, le=7 * 86_400)
    #: Deadline for one call to a remote authority.
    request_timeout_s: float = Field(default=10.0, gt=0, le=300)
    #: Where the authority (the console, or the embedded one in local mode) keeps its data:
    #: empty for ``authority.sqlite3`` in ``data_dir``, ``postgresql://user@host/db`` for a
    #: database several console instances share. ``$MTGATEWAY_DATABASE_URL`` overrides it.
    database_url: SecretStr = Field(default=SecretStr(""), strict=False)
    #: How long opening a connection to that database (or waiting for a free one) may take.
    #: With ``database_statement_timeout_s``, the most a console request waits for the
    #: database before it answers 503 ``database_unavailable`` (docs/authority.md).
    database_connect_timeout_s: float = Field(default=5.0, gt=0, le=300)
    #: How long one statement may run (PostgreSQL's ``statement_timeout``, a lock wait
    #: included; SQLite: how long a busy file is waited for).
    database_statement_timeout_s: float = Field(default=5.0, gt=0, le=300)
    #: PostgreSQL connections, and the worker threads that run transactions on them, of one
    #: console process (the revocation feed's ``LISTEN`` connection is one more): what the
    #: instances ask of the server's ``max_connections``. A transaction past them waits for a
    #: free one; a server a network away may need more, each transaction holding its
    #: connection through its round trips (docs/authority.md).
    database_connections: int = Field(default=8, ge=1, le=64)

    @field_validator("public_key")
    @classmethod
    def _key_is_32_bytes_of_base64(cls, value: str) -> str:
        if not value:
            return value
        try:
            raw = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ValueError("must be the base64 of the authority's 32-byte Ed25519 public key, "
                             "as GET /v1/keys on the console shows it")
        return value.strip()

    @model_validator(mode="after")
    def _remote_needs_url_and_key(self) -> AuthorityConfig:
        if self.mode == "remote" and not (self.url and self.public_key):
            raise ValueError("mode = \"remote\" needs url and public_key")
        problem = console_url_problem(self.url) if self.url else None
        if problem:
            raise ValueError(problem)
        return self


def console_url_problem(url: str) -> str | None:
    """Why ``url`` may not name a console, or None.

    Plain ``http`` is allowed only to this machine (a loopback address or ``localhost``): to
    anywhere else, the records (with their token hashes) and the owner's password would cross
    the network readable and unauthenticated, and an attacker on the path could answer in the
    console's place. The message names the host, never the whole URL (it may carry
    credentials).
    """
    parts = urlsplit(url)
    try:
        host = parts.hostname
    except ValueError:
        host = None
    if parts.scheme not in ("http", "https") or not host:
        return "the console url must be http(s)://host[:port]"
    if parts.scheme == "http" and not is_loopback(host):  # hostname: lower case, no []
        return (f"the console url is plain http to {host}, another machine: use https (plain "
                "http is allowed only to 127.0.0.1, ::1 or localhost)")
    return None


class DeviceConfig(_Section):
    """This machine as a device of the authority: its key and its name."""

    #: ``auto``: the OS keyring when a real one exists (never keyrings.alt), else a 0600 file
    #: ``device.key`` in ``data_dir``; ``keyring`` or ``file`` force one.
    key_storage: Literal["auto", "keyring", "file"] = "auto"
    #: The name shown in the approval e-mail; empty means this machine's host name.
    name: str = Field(default="", max_length=64)


class LoggingConfig(_Section):
    """Log output (secrets are always redacted, whatever the level)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: Log every HTTP request (tokens and query strings never appear in it).
    access_log: bool = False
    #: ``text`` lines for people, or ``json``: one object per line for a log shipper.
    format: Literal["text", "json"] = "text"

    @field_validator("level", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class TradingConfig(_Section):
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


class WsConfig(_Section):
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
    #: Live subscriptions per connection.
    max_subscriptions: int = Field(default=64, ge=1, le=10_000)
    #: Symbols in one ticks subscription.
    max_symbols: int = Field(default=256, ge=1, le=10_000)


class GatewayConfig(_Section):
    """The whole configuration file."""

    #: Where the daemon keeps its state (authority database, device key, order journal).
    #: Empty means the platform's per-user data directory (see :func:`default_data_dir`).
    data_dir: str = ""
    server: ServerConfig = ServerConfig()
    bridge: BridgeConfig = BridgeConfig()
    authority: AuthorityConfig = AuthorityConfig()
    device: DeviceConfig = DeviceConfig()
    console: ConsoleConfig = ConsoleConfig()
    smtp: SmtpConfig = SmtpConfig()
    logging: LoggingConfig = LoggingConfig()
    trading: TradingConfig = TradingConfig()
    ws: WsConfig = WsConfig()

    def resolved_data_dir(self) -> Path:
        """``data_dir`` as a path, the platform default when empty."""
        return Path(self.data_dir).expanduser() if self.data_dir else default_data_dir()


def default_data_dir() -> Path:
    """``%LOCALAPPDATA%\\mtgateway`` on Windows, ``$XDG_DATA_HOME/mtgateway`` elsewhere."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "mtgateway"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mtgateway"


#: The environment variable naming the config file when ``-c`` is not given.
CONFIG_ENV: Final = "MTGATEWAY_CONFIG"


def default_config_path() -> Path:
    """``%APPDATA%\\mtgateway\\config.toml`` on Windows, ``$XDG_CONFIG_HOME/mtgateway/
    config.toml`` (``~/.config``) elsewhere."""
    if sys.platform == "win32":
        base = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
        return Path(base) / "mtgateway" / "config.toml"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mtgateway" / "config.toml"


def find_config(explicit: str | Path | None) -> Path | None:
    """The config file every command uses: ``-c`` if given, else ``$MTGATEWAY_CONFIG``, else the
    per-user :func:`default_config_path` if it exists, else ``None`` (the defaults).

    One rule for every command, so ``mtgateway device status`` reads the same ``[device]``
    and ``data_dir`` as ``mtgateway run`` and never makes a second device key beside the
    daemon's. A ``$MTGATEWAY_CONFIG`` naming a missing file is an error, not a silent default.
    """
    if explicit is not None:
        return Path(explicit)
    named = (read_env(CONFIG_ENV) or "").strip()
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV}={named} does not name a readable file")
        return path
    default = default_config_path()
    return default if default.is_file() else None


def load_config(path: str | Path | None) -> GatewayConfig:
    """Read and validate a TOML file; ``None`` gives the defaults.

    Raises:
        ConfigError: the file is missing, not TOML, or does not validate; the message names
            the file and every offending key.
    """
    if path is None:
        return GatewayConfig()
    path = Path(path)
    try:
        with path.open("rb") as fh:
            info = os.fstat(fh.fileno())  # the file read, not whatever the name points to now
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    try:
        config = GatewayConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {_problem(err)}"
            for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
    if _POSIX:
        _check_config_access(path, info, secrets=_secrets_held(config))
    return config


def _problem(error: Any) -> str:
    """One validation error in words; an unknown key says so, with the closest known key
    of its section when one is close (``dat_dir`` -> ``data_dir``), rather than pydantic's
    "Extra inputs are not permitted"."""
    if error["type"] != "extra_forbidden":
        return str(error["msg"])
    *section, key = (str(part) for part in error["loc"])
    model: Any = GatewayConfig
    for name in section:
        field = model.model_fields.get(name)
        model = field.annotation if field is not None else None
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return "unknown key"
    close = difflib.get_close_matches(key, list(model.model_fields), n=1, cutoff=0.75)
    return f"unknown key (did you mean {close[0]}?)" if close else "unknown key"


def _secrets_held(config: GatewayConfig) -> list[str]:
    """The secrets written in the file, by key: the SMTP password, and a database URL that
    carries a password (``user:password@`` or a ``password=`` parameter: whoever reads it
    has the authority's database, its token rows and the power to write new ones)."""
    held = []
    if config.smtp.password.get_secret_value():
        held.append("[smtp] password")
    url = config.authority.database_url.get_secret_value()
    if url and redact_url(url) != url:
        held.append("[authority] database_url with a password")
    for section, token in (("server", config.server.metrics_token),
                           ("console", config.console.metrics_token)):
        if token.get_secret_value():
            held.append(f"[{section}] metrics_token")
    return held


_POSIX: Final = sys.platform != "win32"


def _check_config_access(path: Path, info: os.stat_result, *, secrets: list[str]) -> None:
    """Refuse a config file others could have written, or could read while it holds a secret.

    The file decides ``data_dir``, the pinned authority URL and key, and whether ports leave
    loopback: whoever can write it can make the daemon trust records they sign. So, like the
    data directory (``mtgateway_base/files.py``): no group/other write bit, owned by this
    user, in a directory others cannot write (a sticky one such as ``/tmp`` is fine: others
    cannot replace a file there); and a file holding a secret (``secrets``: the
    ``[smtp] password``, a ``[authority] database_url`` with a password) readable by its
    owner alone. On Windows the file's ACL decides (a config under ``%APPDATA%`` inherits the
    profile's, which admits the user, SYSTEM and administrators only), so nothing is checked.

    Raises:
        ConfigError: one line naming the file and the command that fixes it.
    """
    mode = stat.S_IMODE(info.st_mode)
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise ConfigError(f"{path} belongs to another user (uid {info.st_uid}), who could "
                          "change what this daemon trusts; refusing it. Copy it into a file "
                          "of your own")
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(f"{path} can be changed by group or others (mode {mode:o}), who "
                          "could point the daemon at their own authority; refusing it. Run: "
                          f"chmod go-w {path}")
    if secrets and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} holds {' and '.join(secrets)} and group or others can "
                          f"read it (mode {mode:o}); refusing it. Run: chmod 600 {path}")
    folder = path.absolute().parent
    try:
        parent = folder.stat()
    except OSError:
        return
    if parent.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not parent.st_mode & stat.S_ISVTX:
        raise ConfigError(f"{path} is in {folder}, which group or others can write (mode "
                          f"{stat.S_IMODE(parent.st_mode):o}): they could replace the file; "
                          f"refusing it. Run: chmod go-w {folder}")

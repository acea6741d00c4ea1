"""The daemon's configuration: one TOML file, validated strictly, frozen once loaded.

Strict because a typo in a security setting must fail loudly at start rather than fall back to
a default silently: unknown keys are errors, ``"8710"`` is not a port, and every duration or
size carries its unit in its name (``request_timeout_s``, ``max_body_bytes``). Frozen because
the running daemon shares one config object between every component.
``config.example.toml`` documents every key and is loaded by a test so it cannot drift.

This module is the only place TOML is read.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ConfigError

__all__ = [
    "AuthConfig",
    "BridgeConfig",
    "GatewayConfig",
    "LoggingConfig",
    "ServerConfig",
    "default_data_dir",
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


class BridgeConfig(_Section):
    """The EA side: the TCP port the Expert Advisors connect to."""

    host: str = "127.0.0.1"
    port: int = Field(default=8711, ge=0, le=65535)
    insecure_allow_non_loopback: bool = False
    heartbeat_interval_s: float = Field(default=5.0, gt=0, le=60)
    heartbeat_timeout_s: float = Field(default=15.0, gt=0, le=600)
    handshake_timeout_s: float = Field(default=5.0, gt=0, le=60)
    max_frame_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024)

    @model_validator(mode="after")
    def _interval_below_timeout(self) -> BridgeConfig:
        if self.heartbeat_interval_s >= self.heartbeat_timeout_s:
            raise ValueError("heartbeat_interval_s must be below heartbeat_timeout_s")
        return self


class AuthConfig(_Section):
    """Where token records come from."""

    #: ``local``: the daemon keeps its own token store under ``data_dir``.
    mode: Literal["local"] = "local"


class LoggingConfig(_Section):
    """Log output (secrets are always redacted, whatever the level)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: Log every HTTP request (tokens and query strings never appear in it).
    access_log: bool = False


class GatewayConfig(_Section):
    """The whole configuration file."""

    #: Where the daemon keeps its state (token store, later the idempotency journal).
    #: Empty means the platform's per-user data directory (see :func:`default_data_dir`).
    data_dir: str = ""
    server: ServerConfig = ServerConfig()
    bridge: BridgeConfig = BridgeConfig()
    auth: AuthConfig = AuthConfig()
    logging: LoggingConfig = LoggingConfig()

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
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    try:
        return GatewayConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None

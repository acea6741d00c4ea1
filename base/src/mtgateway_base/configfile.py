"""The one configuration file both services read: where it is, who reads which section, the
sections both read, and the rules every reader holds it to.

One TOML file can configure a machine's daemon and its console (``mtgateway -c F`` and
``mtgateway-console -c F``). Each service validates what it reads, strictly (an unknown key is
an error, ``"8710"`` is not a port, every duration carries its unit), and only that: the
daemon's loader (``gateway/config.py``) sets the console's sections aside unread, the console's
loader (``mtgateway_console/config.py``) the daemon's. Who reads which is :data:`SECTIONS`;
``data_dir``, ``[authority]`` and ``[logging]`` are read by both, with the models here;
``data_dir``'s default, the per-user data directory, is the client's
(``mtgateway.places.default_data_dir``), since a bot finds what setup wrote there.

Whoever can write the file decides what a daemon trusts and where a console keeps its data, and
it may hold secrets (the SMTP password, a database URL with a password, a metrics token), so
every reader refuses it on the same terms (:func:`read_config`): not owned by this user,
writable by others, or holding a secret others can read.

The edge's rules that the daemon's ``[server]`` and the console's ``[console]`` both set are
one model, :class:`EdgeLimits`, each section adding its own.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import os
import re
import stat
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal, TypeVar
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

from .environment import read_env
from .loopback import is_loopback

__all__ = ["CONFIG_ENV", "DATABASE_URL_ENV", "SECTIONS", "AuthorityConfig", "ConfigFileError",
           "EdgeLimits", "LoggingConfig", "Section", "checked_metrics_token",
           "console_url_problem", "database_url", "default_config_path",
           "find_config", "read_config", "redact_url"]

#: Which service reads each top-level key of the file: the other sets it aside unread (and
#: validates nothing of it); ``both`` are read, with the same models, by each.
SECTIONS: Final[Mapping[str, Literal["daemon", "console", "both"]]] = {
    "data_dir": "both", "authority": "both", "logging": "both",
    "server": "daemon", "bridge": "daemon", "device": "daemon", "trading": "daemon",
    "ws": "daemon",
    "console": "console", "smtp": "console",
}

#: The environment variable naming the config file when ``-c`` is not given.
CONFIG_ENV: Final = "MTGATEWAY_CONFIG"
#: The environment variable that overrides ``[authority] database_url`` (a secret: deployments
#: pass it from their secret store rather than writing it into the config file).
DATABASE_URL_ENV: Final = "MTGATEWAY_DATABASE_URL"


class ConfigFileError(ValueError):
    """The configuration file cannot be used; the message names the file and the key, or the
    command that fixes it. Each service raises it as its own configuration error."""


class Section(BaseModel):
    """A section of the file: frozen once loaded, strict, no key it does not know."""

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


class EdgeLimits(Section):
    """The HTTP edge's deadlines and brute-force rules, the daemon's ``[server]`` and the
    console's ``[console]`` alike (``guard.py``, ``throttle.py``: one edge for both)."""

    #: A request's header block must arrive within this long of its first byte (slowloris).
    header_timeout_s: float = Field(default=10.0, gt=0, le=300)
    #: A request's body must arrive within this long of its headers (the connection closes).
    body_timeout_s: float = Field(default=30.0, gt=0, le=600)
    #: Each failed authentication (a token, an owner's password) is answered after this delay,
    #: one at a time (brute force).
    auth_failure_delay_s: float = Field(default=0.25, ge=0, le=10)
    #: More failed authentications than this within the window start the lockout: credentials
    #: not proven before answer 429 unchecked until it ends; those proven still work.
    auth_failure_limit: int = Field(default=20, ge=1, le=100_000)
    auth_failure_window_s: float = Field(default=60.0, gt=0, le=86_400)
    auth_lockout_s: float = Field(default=60.0, gt=0, le=86_400)


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


class AuthorityConfig(Section):
    """The token authority: embedded in the daemon (``local``) or a console elsewhere
    (``remote``), and where the authority keeps its data. The daemon reads how to reach it; a
    console, and a daemon that embeds it, where its database is."""

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


def database_url(section: AuthorityConfig) -> str:
    """The authority's database: ``$MTGATEWAY_DATABASE_URL``, else ``[authority]
    database_url``; empty means the SQLite file in the data directory."""
    return os.environ.get(DATABASE_URL_ENV) or section.database_url.get_secret_value()


class LoggingConfig(Section):
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


#: ``scheme://user:`` then the password, up to the authority's LAST ``@`` (a raw ``@`` or
#: ``/`` in an unencoded password must not leave its tail): the authority ends at ``?``, ``#``
#: or white space. An ``@`` in the query is not the authority's.
_USERINFO_PASSWORD: Final = re.compile(r"(://[^:/@?#\s]*:)[^?#\s]*@")
#: libpq's ``password=`` keyword: a URL parameter (up to ``&``/``#``) or a key=value
#: conninfo value, quoted or not, as a driver's message may quote it.
_PASSWORD_PARAMETER: Final = re.compile(
    r"\b(password)\s*=\s*(?:'(?:[^'\\]|\\.)*'|[^&#\s]*)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` (or a message quoting one) with every password replaced by ``***``.

    Both of libpq's places for it (``postgresql://user:password@host`` and a
    ``password=`` parameter, PostgreSQL 16 docs §34.1.1) are hidden, each occurrence.
    """
    url = _USERINFO_PASSWORD.sub(r"\1***@", url)
    return _PASSWORD_PARAMETER.sub(r"\1=***", url)


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

    One rule for every command of both services, so ``mtgateway device status`` reads the same
    ``[device]`` and ``data_dir`` as ``mtgateway run`` and never makes a second device key
    beside the daemon's. A ``$MTGATEWAY_CONFIG`` naming a missing file is an error, not a
    silent default.

    Raises:
        ConfigFileError: ``$MTGATEWAY_CONFIG`` names no readable file.
    """
    if explicit is not None:
        return Path(explicit)
    named = (read_env(CONFIG_ENV) or "").strip()
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigFileError(f"{CONFIG_ENV}={named} does not name a readable file")
        return path
    default = default_config_path()
    return default if default.is_file() else None


M = TypeVar("M", bound=BaseModel)


def read_config(path: Path, model: type[M], reader: Literal["daemon", "console"]) -> M:
    """Read the TOML file at ``path`` and validate what ``reader`` reads of it (its sections
    and the shared ones, :data:`SECTIONS`) as ``model``; the other service's sections are set
    aside unread. The file is refused if others could have written it, or could read a
    secret it holds, whichever service holds them (:func:`_check_access`).

    Raises:
        ConfigFileError: the file is missing, not TOML, refused, or does not validate; the
            message names the file and every offending key.
    """
    try:
        with path.open("rb") as fh:
            info = os.fstat(fh.fileno())  # the file read, not whatever the name points to now
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigFileError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{path} is not valid TOML: {exc}") from None
    mine = {key: value for key, value in data.items()
            if SECTIONS.get(key) in (reader, "both", None)}
    try:
        loaded = model.model_validate(mine)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {_problem(err, model)}"
            for err in exc.errors()
        )
        raise ConfigFileError(f"{path}: {problems}") from None
    if _POSIX:
        _check_access(path, info, secrets=_secrets_held(data))
    return loaded


def _problem(error: Any, model: type[BaseModel]) -> str:
    """One validation error in words; an unknown key says so, with the closest known key
    of its section when one is close (``dat_dir`` -> ``data_dir``), rather than pydantic's
    "Extra inputs are not permitted"."""
    if error["type"] != "extra_forbidden":
        return str(error["msg"])
    *section, key = (str(part) for part in error["loc"])
    found: Any = model
    for name in section:
        field = found.model_fields.get(name)
        found = field.annotation if field is not None else None
        if not (isinstance(found, type) and issubclass(found, BaseModel)):
            return "unknown key"
    known = list(found.model_fields) + ([k for k in SECTIONS if k not in found.model_fields]
                                         if not section else [])
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    return f"unknown key (did you mean {close[0]}?)" if close else "unknown key"


def _secrets_held(data: Mapping[str, Any]) -> list[str]:
    """The secrets written in the file, by key, whichever service reads them: the SMTP
    password, a database URL that carries a password (``user:password@`` or a ``password=``
    parameter: whoever reads it has the authority's database, its token rows and the power to
    write new ones) and the metrics tokens."""
    def value(section: str, key: str) -> str:
        table = data.get(section)
        found = table.get(key) if isinstance(table, Mapping) else None
        return found if isinstance(found, str) else ""

    held = []
    if value("smtp", "password"):
        held.append("[smtp] password")
    url = value("authority", "database_url")
    if url and redact_url(url) != url:
        held.append("[authority] database_url with a password")
    held += [f"[{section}] metrics_token" for section in ("server", "console")
             if value(section, "metrics_token")]
    return held


_POSIX: Final = sys.platform != "win32"


def _check_access(path: Path, info: os.stat_result, *, secrets: list[str]) -> None:
    """Refuse a config file others could have written, or could read while it holds a secret.

    The file decides ``data_dir``, the pinned authority URL and key, and whether ports leave
    loopback: whoever can write it can make the daemon trust records they sign. So, like the
    data directory (``files.py``): no group/other write bit, owned by this user, in a
    directory others cannot write (a sticky one such as ``/tmp`` is fine: others cannot
    replace a file there); and a file holding a secret (``secrets``: the ``[smtp] password``,
    a ``[authority] database_url`` with a password) readable by its owner alone. On Windows
    the file's ACL decides (a config under ``%APPDATA%`` inherits the profile's, which admits
    the user, SYSTEM and administrators only), so nothing is checked.

    Raises:
        ConfigFileError: one line naming the file and the command that fixes it.
    """
    mode = stat.S_IMODE(info.st_mode)
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise ConfigFileError(f"{path} belongs to another user (uid {info.st_uid}), who could "
                              "change what this daemon trusts; refusing it. Copy it into a "
                              "file of your own")
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigFileError(f"{path} can be changed by group or others (mode {mode:o}), who "
                              "could point the daemon at their own authority; refusing it. "
                              f"Run: chmod go-w {path}")
    if secrets and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigFileError(f"{path} holds {' and '.join(secrets)} and group or others can "
                              f"read it (mode {mode:o}); refusing it. Run: chmod 600 {path}")
    folder = path.absolute().parent
    try:
        parent = folder.stat()
    except OSError:
        return
    if parent.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not parent.st_mode & stat.S_ISVTX:
        raise ConfigFileError(f"{path} is in {folder}, which group or others can write (mode "
                              f"{stat.S_IMODE(parent.st_mode):o}): they could replace the "
                              f"file; refusing it. Run: chmod go-w {folder}")

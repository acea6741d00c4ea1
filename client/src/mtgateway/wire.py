"""The JSON-RPC wire, without I/O: where to connect, what to send, how to read the answer.

Both clients (the synchronous one over ``http.client``, the asyncio one over aiohttp) move
bytes only; everything they share lives here so they cannot disagree: finding the gateway and
the token (:func:`resolve_endpoint`), a package-style call as one JSON-RPC request with named
params (:class:`Call`), reading an answer into a result or a :class:`~mtgateway.errors.LastError`
(:func:`read_response`), and following ``next_cursor`` pages (:class:`Pager`).

Params always go by name: the package mixes positional and keyword arguments
(``history_deals_get(date_from, date_to, group="*USD*")``), which JSON-RPC cannot express in
one call, so the client binds them to the package's signature and sends an object.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

from . import constants as c
from .errors import (
    CALL_FAILED,
    OK,
    LastError,
    MtGatewayError,
    gateway_error,
    in_package_words,
    local_error,
)
from .places import SetupCheckRefused, read_setup_check, setup_check_file

__all__ = [
    "DEFAULT_URL",
    "ENV_STATE_FILE",
    "ENV_TOKEN",
    "ENV_URL",
    "RATES_DTYPE",
    "TICKS_DTYPE",
    "Call",
    "Endpoint",
    "Pager",
    "encode_request",
    "named",
    "outcome_data",
    "read_response",
    "resolve_endpoint",
    "terminal_mismatch",
    "to_wire_time",
]

T = TypeVar("T")

DEFAULT_URL: Final = "http://127.0.0.1:8710"
ENV_URL: Final = "MTGATEWAY_URL"
ENV_TOKEN: Final = "MTGATEWAY_TOKEN"
ENV_STATE_FILE: Final = "MTGATEWAY_STATE_FILE"

#: The package's numpy dtypes for ``copy_rates_*`` and ``copy_ticks_*`` (as
#: https://www.mql5.com/en/docs/python_metatrader5/mt5copyratesfrom_py shows them).
RATES_DTYPE: Final = [("time", "<i8"), ("open", "<f8"), ("high", "<f8"), ("low", "<f8"),
                      ("close", "<f8"), ("tick_volume", "<u8"), ("spread", "<i4"),
                      ("real_volume", "<u8")]
TICKS_DTYPE: Final = [("time", "<i8"), ("bid", "<f8"), ("ask", "<f8"), ("last", "<f8"),
                      ("volume", "<u8"), ("time_msc", "<i8"), ("flags", "<u4"),
                      ("volume_real", "<f8")]


#: The scheme of a daemon on a UNIX socket: ``http+unix:///run/user/1000/mtgateway.sock``
#: (the socket file's absolute path after ``//``; ``[server] unix_socket``, POSIX only).
UNIX_SCHEME: Final = "http+unix"


@dataclass(frozen=True)
class Endpoint:
    """Where the gateway is and the token to present. ``repr`` never shows the token."""

    base_url: str
    token: str = field(repr=False)

    @property
    def unix_path(self) -> str | None:
        """The socket file of an ``http+unix://`` URL, else None."""
        parts = urllib.parse.urlsplit(self.base_url)
        return parts.path if parts.scheme == UNIX_SCHEME else None

    @property
    def http_base(self) -> str:
        """The base of request URLs (``http://localhost`` over a UNIX socket)."""
        return "http://localhost" if self.unix_path is not None else self.base_url

    @property
    def rpc_url(self) -> str:
        return self.http_base + "/rpc"

    @property
    def ws_url(self) -> str:
        parts = urllib.parse.urlsplit(self.http_base)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urllib.parse.urlunsplit((scheme, parts.netloc, parts.path + "/ws", "", ""))


def _base_of(url: str) -> str:
    """``http://host:port`` from what a user may pass: with or without ``/rpc`` or ``/ws``;
    ``http+unix:///path/to/socket`` as it is."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme == UNIX_SCHEME:
        if parts.netloc or parts.query or not parts.path.startswith("/"):
            raise ValueError(f"not an {UNIX_SCHEME}:///absolute/path/to/socket URL: {url!r}")
        return urllib.parse.urlunsplit((UNIX_SCHEME, "", parts.path, "", ""))
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    if scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL of the gateway: {url!r}")
    if parts.query or "@" in parts.netloc:
        raise ValueError("the gateway URL takes no query and no credentials (the token is "
                         "passed as token=)")
    path = parts.path.rstrip("/")
    for suffix in ("/rpc", "/ws"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return urllib.parse.urlunsplit((scheme, parts.netloc, path, "", ""))


def resolve_endpoint(url: str | None = None, token: str | None = None,
                     state_file: str | os.PathLike[str] | None = None,
                     environ: Mapping[str, str] | None = None,
                     platform: str | None = None) -> Endpoint | LastError:
    """The endpoint from, in order: the arguments, ``MTGATEWAY_URL`` / ``MTGATEWAY_TOKEN``,
    a JSON state file named by ``state_file`` or ``MTGATEWAY_STATE_FILE`` (``mtgateway demo
    --state-file`` writes one), and, when neither a token nor a state file is named, the
    ``check.json`` ``mtgateway setup`` wrote for this user (:mod:`mtgateway.places`: read only
    when it is this user's alone). The URL defaults to ``http://127.0.0.1:8710``.

    A state file fills only what the arguments and variables left out, so a URL given
    explicitly still wins over the file's. ``environ`` and ``platform`` default to this
    process's (a test injects its own, the setup's file then found from its variables alone).

    Returns the :class:`Endpoint`, or the :class:`LastError` that ``initialize`` reports.
    """
    env = os.environ if environ is None else environ
    url = url or env.get(ENV_URL) or None
    token = token or env.get(ENV_TOKEN) or None
    state_path = state_file or env.get(ENV_STATE_FILE) or None
    setups = None if token or state_path else setup_check_file(environ, platform)
    if setups is not None:
        try:
            found = read_setup_check(setups)
        except SetupCheckRefused as exc:
            return local_error(c.RES_E_AUTH_FAILED, f"no token: {exc}")
        except (OSError, ValueError) as exc:
            return local_error(c.RES_E_INTERNAL_FAIL_INIT,
                               f"cannot read {str(setups)!r} (written by `mtgateway setup`): "
                               f"{exc}")
        if found is not None:
            url = url or found.get("rpc_url")
            token = found.get("token")
    elif state_path is not None and (url is None or token is None):
        try:
            state = json.loads(Path(state_path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return local_error(c.RES_E_INTERNAL_FAIL_INIT,
                               f"cannot read the state file {str(state_path)!r}: {exc}")
        if not isinstance(state, dict):
            return local_error(c.RES_E_INTERNAL_FAIL_INIT,
                               f"the state file {str(state_path)!r} holds no JSON object")
        url = url or state.get("rpc_url")
        token = token or state.get("token")
    if not token:
        where = f", or run `mtgateway setup`, which writes {setups}" if setups else ""
        return local_error(c.RES_E_AUTH_FAILED,
                           f"no token: pass initialize(token=...), or set {ENV_TOKEN} or "
                           f"{ENV_STATE_FILE}{where}")
    try:
        base = _base_of(url or DEFAULT_URL)
    except ValueError as exc:
        return local_error(c.RES_E_INVALID_PARAMS, str(exc))
    return Endpoint(base, token)


#: What the package's ``last_error()`` says when the account it is asked to log in to refuses
#: (a wrong login, password or server): code that retries or re-logs in matches on the pair.
AUTHORIZATION_FAILED: Final = "Terminal: Authorization failed"


def terminal_mismatch(terminal: Mapping[str, Any], login: int | None,
                      server: str | None) -> LastError | None:
    """Why ``initialize(login=, server=)`` / ``login()`` fail for the token's ``terminal``
    (``gateway_status().terminal``), or None when they name it (or nothing).

    The failure is the package's for an account that refuses the log-in, ``(-6, 'Terminal:
    Authorization failed')`` exactly; which account the token is bound to is in ``.data``.
    """
    if (login is None or terminal.get("login") == login) and \
            (server is None or terminal.get("server") == server):
        return None
    return local_error(c.RES_E_AUTH_FAILED, AUTHORIZATION_FAILED, {
        "reason": f"the token is bound to {terminal.get('login')}@{terminal.get('server')}, "
                  f"not {login or terminal.get('login')}@{server or terminal.get('server')}",
        "login": terminal.get("login"), "server": terminal.get("server")})


def outcome_data(params: Any) -> dict[str, Any] | None:
    """For a call whose answer was lost: the ``client_id`` of the order it carried (what to
    ask ``order_status`` about), else None."""
    if isinstance(params, Mapping):
        request = params.get("request")
        if isinstance(request, Mapping) and "client_id" in request:
            return {"client_id": request["client_id"]}
    return None


def to_wire_time(value: Any) -> Any:
    """Epoch seconds for a ``datetime`` (a naive one is local time, as Python and the package
    read it; pass an aware one, e.g. ``tzinfo=timezone.utc``, to be exact); a numpy number as
    the Python number it holds (the package accepts ``numpy.int64`` and ``numpy.float64``
    wherever it takes a number). Anything else is sent as given and the gateway validates it."""
    if isinstance(value, datetime):
        seconds = value.timestamp()
        return int(seconds) if seconds == int(seconds) else seconds
    if type(value).__module__ == "numpy" and callable(getattr(value, "item", None)):
        return value.item()  # a numpy scalar (a datetime64 too: the gateway then refuses it)
    return value


def named(**params: Any) -> dict[str, Any]:
    """The params object: every argument given (not None), times and numbers converted."""
    return {name: to_wire_time(value) for name, value in params.items() if value is not None}


@dataclass(frozen=True)
class Call(Generic[T]):
    """One package-style call: the JSON-RPC method, its named params, and how the result
    becomes what the package returns. ``pager`` is set for ``copy_*``, whose answers are
    pages to follow. ``stamped``: the params' ``request`` takes a ``client_id`` when it has
    none (``order_send``: :meth:`with_client_id`). ``refused``: what the call answers, given the
    params it was sent with, for a refusal the package would answer as a result (a trade
    server's retcode), else None. ``package_errors``: the package's ``(code, description)``
    for a gateway error code the package has its own words for in this call (an unknown
    symbol: ``-32006``), :meth:`failure`."""

    method: str
    params: dict[str, Any]
    convert: Callable[[Any], T]
    pager: Callable[[], Pager] | None = None
    stamped: bool = False
    refused: Callable[[Mapping[str, Any], LastError], T | None] | None = None
    package_errors: Mapping[int, tuple[int, str]] = field(default_factory=dict)

    def failure(self, error: LastError) -> tuple[LastError, T | None]:
        """What ``last_error()`` holds and what the call answers when it failed with ``error``.

        A refusal the package answers as a result (``refused``) is a call that worked, as a
        terminal's is: ``last_error()`` is ``(1, 'Success')``, the gateway's error kept beside
        the pair (``.gateway_code``, ``.data``, its message in ``.data["reason"]``;
        ``refusals.py``). An error the package words its own way in this call
        is answered in its words, the gateway's kept in ``.data["reason"]`` and
        ``.gateway_code`` (:func:`~mtgateway.errors.in_package_words`). Anything else is
        the gateway's error as it came, and the call answers ``None``."""
        if self.refused is not None:
            result = self.refused(self.params, error)
            if result is not None:
                return in_package_words(error, *OK), result
        words = self.package_errors.get(error.gateway_code) \
            if error.gateway_code is not None else None
        if words is not None:
            return in_package_words(error, *words), None
        return error, None

    def with_client_id(self, make: Callable[[], str]) -> Call[T]:
        """This call, its request given a ``client_id`` from ``make`` when it is stamped and
        the request has none: with it, resending the same call after a dropped connection
        can never open a second position."""
        request = self.params.get("request")
        if not self.stamped or not isinstance(request, dict) or \
                request.get("client_id") is not None:
            return self
        return replace(self, params={**self.params,
                                     "request": {**request, "client_id": make()}})


def encode_request(request_id: int, method: str, params: dict[str, Any]) -> bytes:
    """One JSON-RPC 2.0 request, params by name.

    Raises:
        MtGatewayError: a parameter cannot be sent (an object JSON has no form for, NaN):
            ``RES_E_INVALID_PARAMS``, so the call answers ``None`` as the package's would.
    """
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params:
        body["params"] = params
    try:
        return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise MtGatewayError(local_error(
            c.RES_E_INVALID_PARAMS, f"{method}: a parameter cannot be sent: {exc}")) from None


def read_response(status: int, body: bytes, retry_after: str | None = None) -> Any:
    """The ``result`` of a JSON-RPC answer.

    Raises:
        MtGatewayError: the answer is a JSON-RPC error (its code, message and data), an HTTP
            refusal without one (``RES_E_FAIL`` with the status), or unreadable.
    """
    try:
        reply = json.loads(body) if body else None
    except ValueError:
        reply = None
    if isinstance(reply, dict) and isinstance(reply.get("error"), dict):
        error = reply["error"]
        data = error.get("data")
        if retry_after is not None and data is None:
            data = {"retry_after_s": retry_after}
        raise MtGatewayError(gateway_error(int(error.get("code", -32603)),
                                           str(error.get("message", "")), data))
    if status != 200:
        raise MtGatewayError(local_error(c.RES_E_FAIL, f"HTTP {status} from the gateway"))
    if not isinstance(reply, dict) or "result" not in reply:
        raise MtGatewayError(local_error(c.RES_E_INTERNAL_FAIL_RECEIVE,
                                         "the gateway's answer is not a JSON-RPC response"))
    return reply["result"]


class Pager:
    """Follows ``next_cursor`` until the query is complete (``docs/api.md`` "Paging").

    Forward queries (``copy_ticks_*``, ``copy_rates_range``) append each page; count-back
    ones (``copy_rates_from``, ``copy_rates_from_pos``) walk back in time, so each page is
    put before the ones already read. Pure: the client sends :meth:`params` and feeds each
    answer to :meth:`feed` until it returns False.
    """

    def __init__(self, params: dict[str, Any], *, backward: bool,
                 columns: list[tuple[str, str]], missing: str | None = None) -> None:
        self._first = dict(params)
        self._cursor: str | None = None
        self._pages: list[list[Any]] = []
        self._backward = backward
        self._columns = [name for name, _ in columns]
        self._missing = missing
        self.dtype = columns

    def params(self) -> dict[str, Any]:
        """The params of the next request: the query, then only the cursor."""
        return self._first if self._cursor is None else {"cursor": self._cursor}

    def feed(self, result: Any) -> bool:
        """Take one page; True while another page is to be asked for.

        Raises:
            MtGatewayError: the page is not ``{"columns", "rows", "next_cursor"}`` with the
                package's columns (client and gateway disagree on the protocol).
        """
        if (not isinstance(result, dict) or result.get("columns") != self._columns
                or not isinstance(result.get("rows"), list)):
            raise MtGatewayError(local_error(
                c.RES_E_INTERNAL_FAIL_RECEIVE,
                f"unexpected page shape (expected columns {self._columns})"))
        self._pages.append(result["rows"])
        cursor = result.get("next_cursor")
        self._cursor = cursor if isinstance(cursor, str) else None
        return self._cursor is not None

    def rows(self) -> list[Any]:
        """Every row, in MT5's order (oldest first)."""
        pages = reversed(self._pages) if self._backward else iter(self._pages)
        return [row for page in pages for row in page]

    def result(self) -> Any:
        """The rows as the package returns them: a numpy structured array with the package's
        dtype when numpy is installed (``pip install 'mtgateway-client[numpy]'``), else a tuple of
        plain tuples in the same column order.

        Raises:
            MtGatewayError: no row came back for a query whose empty answer the package
                reports as a failed call (``missing``, the reason, is set: a count-back read of
                bars beyond the history), ``(-1, 'Terminal: Call failed')`` as the package.
        """
        rows = self.rows()
        if not rows and self._missing is not None:
            raise MtGatewayError(local_error(c.RES_E_FAIL, CALL_FAILED,
                                             {"reason": self._missing}))
        try:
            import numpy
        except ImportError:
            return tuple(tuple(row) for row in rows)
        return numpy.array([tuple(row) for row in rows], dtype=self.dtype)

"""The synchronous client: the ``MetaTrader5`` package's API over MT Gateway's ``POST /rpc``.

Standard library only (``http.client``), one kept-alive connection per client, a lock so
threads may share it. Each method answers what the package's function answers, or ``None``
(``False`` for the boolean ones) with :meth:`Client.last_error` saying why, as the package does.

A kept-alive connection the daemon has since closed fails only when it is next used; such a
call is sent once more on a fresh connection. That is safe for every method: reads change
nothing, and ``order_send`` always carries a ``client_id`` (made here when the request has
none), so the daemon answers a resend with the first outcome instead of trading twice.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import secrets
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from . import constants as c
from . import records as r
from .calls import Functions, gateway_status_call
from .errors import OK, LastError, MtGatewayError, gateway_error, local_error, not_connected
from .functions import Job, SyncFace
from .handshake import CHALLENGE_PATH, SESSION_PATH, Handshake, HandshakeRefused
from .wire import (
    Call,
    Endpoint,
    encode_request,
    outcome_data,
    read_response,
    resolve_endpoint,
    terminal_mismatch,
)

__all__ = ["DEFAULT_TIMEOUT_S", "Client", "new_client_id"]

T = TypeVar("T")

#: How long one HTTP exchange may take: above the daemon's own request and trade timeouts
#: (10 s by default), so the daemon's answer (-32013, -32003) arrives before ours would.
DEFAULT_TIMEOUT_S = 60.0
#: How long ``initialize`` waits for the terminal's EA by default (the package's 60 s).
DEFAULT_CONNECT_TIMEOUT_MS = 60_000
_POLL_S = 0.25

#: Errors of a kept-alive connection the peer had closed: nothing of the request was handled.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
          ConnectionAbortedError)


def new_client_id() -> str:
    """A fresh ``client_id``: 20 characters of ``[A-Za-z0-9_-]`` (120 random bits)."""
    return secrets.token_urlsafe(15)


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over the daemon's UNIX socket (``http+unix://``; POSIX)."""

    def __init__(self, path: str, timeout_s: float) -> None:
        super().__init__("localhost", timeout=timeout_s)
        self._path = path

    def connect(self) -> None:
        family = getattr(socket, "AF_UNIX", None)
        if family is None:
            raise ConnectionRefusedError("UNIX sockets are not offered on this platform")
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class _Http:
    """One kept-alive HTTP/1.1 connection to the gateway, authenticated by the challenge.

    The token is never sent: the first request runs the challenge (``handshake.py``), and
    every ``/rpc`` request carries the session it gives. A session the daemon no longer knows
    (it restarted, or the session lapsed unused) answers 401 before anything is dispatched, so
    the request is sent again once after a new challenge.
    """

    def __init__(self, endpoint: Endpoint, timeout_s: float) -> None:
        parts = urllib.parse.urlsplit(endpoint.http_base)
        self._prefix = parts.path or ""
        self._endpoint = endpoint
        self._session: str | None = None
        self._conn: http.client.HTTPConnection
        if endpoint.unix_path is not None:
            self._conn = _UnixHTTPConnection(endpoint.unix_path, timeout_s)
        elif parts.scheme == "https":
            self._conn = http.client.HTTPSConnection(parts.hostname or "127.0.0.1", parts.port,
                                                     timeout=timeout_s)
        else:
            self._conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                                    timeout=timeout_s)
        self._used = False

    def post(self, body: bytes) -> tuple[int, bytes, str | None]:
        """``(status, body, Retry-After)`` of one ``/rpc`` POST.

        Raises:
            MtGatewayError: the challenge failed (the peer did not prove it is the daemon, or
                the daemon refused the token).
        """
        fresh = self._session is None
        if self._session is None:
            self._session = self._authenticate()
        status, data, retry_after = self._post("/rpc", body, self._session)
        if status == 401 and not fresh:
            self._session = None
            self._session = self._authenticate()
            status, data, retry_after = self._post("/rpc", body, self._session)
        return status, data, retry_after

    def _authenticate(self) -> str:
        """Run the challenge; the session it gives."""
        shake = Handshake(self._endpoint.token)
        try:
            status, data, retry_after = self._post(
                CHALLENGE_PATH, json.dumps(shake.challenge_body()).encode(), None)
            answer = self._answer(status, data, retry_after)
            status, data, retry_after = self._post(
                SESSION_PATH, json.dumps(shake.session_body(answer)).encode(), None)
            return Handshake.session(self._answer(status, data, retry_after))
        except HandshakeRefused as exc:
            raise MtGatewayError(local_error(
                c.RES_E_AUTH_FAILED,
                f"the peer at {self._endpoint.base_url} did not prove it is the MT Gateway "
                f"daemon holding this token ({exc}); the token was not sent")) from None

    @staticmethod
    def _answer(status: int, data: bytes, retry_after: str | None) -> Any:
        """A challenge step's JSON answer; a daemon's refusal (401, 429, 503) as its error."""
        try:
            answer = json.loads(data) if data else None
        except ValueError:
            answer = None
        if status == 200:
            return answer
        if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
            read_response(status, data, retry_after)  # raises the daemon's refusal
        raise HandshakeRefused(f"HTTP {status} to the challenge")

    def _post(self, path: str, body: bytes,
              session: str | None) -> tuple[int, bytes, str | None]:
        """One POST, retried once if the kept-alive connection turns out to be closed."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if session is not None:
            headers["Authorization"] = f"Bearer {session}"
        reused = self._used
        try:
            return self._exchange(self._prefix + path, body, headers)
        except _STALE:
            if not reused:
                raise
            self._conn.close()
            return self._exchange(self._prefix + path, body, headers)

    def _exchange(self, path: str, body: bytes,
                  headers: dict[str, str]) -> tuple[int, bytes, str | None]:
        try:
            self._conn.request("POST", path, body, headers)
            response = self._conn.getresponse()
            data = response.read()
        except BaseException:
            self._conn.close()
            self._used = False
            raise
        self._used = True
        if response.will_close:
            self._conn.close()
            self._used = False
        return response.status, data, response.getheader("Retry-After")

    def close(self) -> None:
        self._conn.close()


class Client(SyncFace, Functions):
    """One gateway connection with the package's functions as methods.

    ``import mtgateway as mt5`` gives a default instance's methods as module functions; make
    more instances to talk to several terminals at once (each token is bound to one). The
    functions are the table's (``calls.Functions``): this class carries them out.

    Args:
        make_client_id: makes the ``client_id`` of an ``order_send`` whose request has none
            (injected so tests can predict it).
        monotonic, sleep: the clock ``initialize`` waits for the terminal with.
    """

    def __init__(self, *, make_client_id: Callable[[], str] = new_client_id,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._lock = threading.RLock()
        self._http: _Http | None = None
        self._endpoint: Endpoint | None = None
        self._error: LastError = OK
        self._ids = itertools.count(1)
        self._make_client_id = make_client_id
        self._monotonic, self._sleep = monotonic, sleep

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- the table's jobs ----------------------------------------------------------------------

    def _do(self, job: Job) -> Any:
        """Carry out one function's job (``functions.py``)."""
        if isinstance(job, Call):
            return self._run(job)
        if job.name == "initialize":
            return self._initialize(**job.arguments)
        if job.name == "login":
            return self._login(**job.arguments)
        if job.name == "shutdown":
            return self._shutdown()
        if job.name == "last_error":
            return self._error
        raise AssertionError(f"no step {job.name!r}")

    def _initialize(self, *, login: int | None, server: str | None, timeout: int | None,
                    token: str | None, url: str | None,
                    state_file: str | os.PathLike[str] | None) -> bool:
        with self._lock:
            self._close()
            endpoint = resolve_endpoint(url, token, state_file)
            if isinstance(endpoint, LastError):
                self._error = endpoint
                return False
            self._endpoint = endpoint
            self._http = _Http(endpoint, DEFAULT_TIMEOUT_S)
            wait_ms = DEFAULT_CONNECT_TIMEOUT_MS if timeout is None else int(timeout)
            deadline = self._monotonic() + wait_ms / 1000
            while True:
                status = self._run(gateway_status_call())
                if status is None:
                    self._close()
                    return False
                terminal = status.get("terminal") or {}
                mismatch = terminal_mismatch(terminal, login, server)
                if mismatch is not None:
                    self._error = mismatch
                    self._close()
                    return False
                if terminal.get("connected"):
                    self._error = OK
                    return True
                if self._monotonic() >= deadline:
                    self._error = gateway_error(
                        -32001, f"the terminal {terminal.get('login')}@{terminal.get('server')} "
                        f"has no EA connected (waited {wait_ms} ms)")
                    self._close()
                    return False
                self._sleep(_POLL_S)

    def _login(self, *, login: int, server: str | None) -> bool:
        with self._lock:
            status = self._run(gateway_status_call())
            if status is None:
                return False
            mismatch = terminal_mismatch(status.get("terminal") or {}, login, server)
            if mismatch is not None:
                self._error = mismatch
            return mismatch is None

    def _shutdown(self) -> bool:
        with self._lock:
            self._close()
            self._endpoint = None
            self._error = OK
            return True

    def _close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _refuse(self, error: LastError) -> None:
        """A call refused before it was sent (``arguments.py``): its error is the last."""
        with self._lock:
            self._error = error

    # -- the engine ----------------------------------------------------------------------------

    def call(self, method: str, params: Mapping[str, Any] | list[Any] | None = None) -> Any:
        """Call any JSON-RPC method by name and return its raw ``result``.

        Raises:
            MtGatewayError: the call failed; ``.error`` is also what ``last_error()`` answers.
        """
        with self._lock:
            try:
                result = self._send(method, params)
            except MtGatewayError as exc:
                self._error = exc.error
                raise
            self._error = OK
            return result

    def _send(self, method: str, params: Mapping[str, Any] | list[Any] | None) -> Any:
        if self._http is None:
            raise MtGatewayError(not_connected())
        body = encode_request(next(self._ids), method, params)  # type: ignore[arg-type]
        try:
            status, data, retry_after = self._http.post(body)
        except TimeoutError:
            raise MtGatewayError(local_error(
                c.RES_E_INTERNAL_FAIL_TIMEOUT,
                f"no answer from the gateway within {DEFAULT_TIMEOUT_S:g} s",
                outcome_data(params))) from None
        except (OSError, http.client.HTTPException) as exc:
            assert self._endpoint is not None
            reason = (exc.strerror if isinstance(exc, OSError) and exc.strerror
                      else type(exc).__name__)
            code = (c.RES_E_INTERNAL_FAIL_CONNECT if isinstance(exc, ConnectionRefusedError |
                                                                 socket.gaierror)
                    else c.RES_E_INTERNAL_FAIL_RECEIVE)
            raise MtGatewayError(local_error(
                code, f"cannot reach the gateway at {self._endpoint.base_url}: {reason}",
                outcome_data(params))) from None
        return read_response(status, data, retry_after)

    def _run(self, call: Call[T]) -> T | None:
        call = call.with_client_id(self._make_client_id)
        with self._lock:
            try:
                if call.pager is None:
                    value = call.convert(self._send(call.method, call.params))
                else:
                    pager = call.pager()
                    while pager.feed(self._send(call.method, pager.params())):
                        pass
                    value = pager.result()
            except MtGatewayError as exc:
                self._error, answer = call.failure(exc.error)
                return answer
            except r.WireMismatch as exc:
                self._error = local_error(c.RES_E_INTERNAL_FAIL_RECEIVE, str(exc))
                return None
            self._error = OK
            return value

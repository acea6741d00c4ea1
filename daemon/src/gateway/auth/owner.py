"""The owner's calls to a console (the CLI in remote mode, the demo): the password never goes to
a process that has not proved it is the console.

On one machine the console listens on ``http://127.0.0.1:8720``; while it restarts any local
user may bind that port, and an owner who runs ``mtgateway token list`` meanwhile would send
``Authorization: Basic <e-mail:password>`` to whatever took the port. So every owner call
is one connection on which, first, the console proves it holds the authority key the config
pins: the client sends a fresh nonce (``POST /v1/hello``) and checks the Ed25519 signature of
the nonce and the address it asked (``Host``) against the pinned key. Only then does the owner's
request go, on the same connection: ``http.client`` is told never to open another one, so a
console that went away between the two steps is never replaced by whatever took its port. A
console that does not prove itself gets nothing but the nonce.

Without a pinned key there is nothing to check a plain-http console against, so the call is
refused before anything is sent; an ``https`` console is authenticated by TLS and its
certificate instead (its proof is still checked when a key is pinned).

The exchange is blocking (``http.client``, one connection per call, a few per command) and
runs in a worker thread, so the methods can be awaited like
:class:`~gateway.auth.client.RemoteAuthority`'s.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from mtgateway_base.wire.api import AuthorityUnreachable, IssuedToken
from mtgateway_base.wire.errors import AuthorityRefused, ConsoleUnproven
from mtgateway_base.wire.records import AuthorityKey

from .client import console_answer

__all__ = ["ConsoleUnproven", "OwnerConsole"]

_HELLO_PATH = "/v1/hello"
#: The header that carries the owner's second-factor code (``mtgateway_console/door/callers.py``).
CODE_HEADER = "X-Owner-Code"


def _basic(email: str, password: str) -> str:
    """HTTP Basic in UTF-8."""
    return "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode("ascii")


class OwnerConsole:
    """The owner endpoints of a console at ``base_url``, each call after the console's proof.

    Args:
        base_url: ``http://host:port`` or ``https://...`` (a path prefix is kept).
        pinned: the authority key the config pins (``[authority] public_key``); required for
            plain http.
        timeout_s: per connection and read.
        code: asked for the second-factor code (or a recovery code) when the console says
            the owner has two-step sign-in on; it may raise to refuse (no terminal to ask).
            Without it such an owner's calls fail with ``second_factor_required``.

    Raises:
        ConsoleUnproven: (from the constructor) plain http with no pinned key.
    """

    def __init__(self, base_url: str, pinned: AuthorityKey | None, *,
                 timeout_s: float = 10.0,
                 code: Callable[[], str] | None = None) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not a console URL: {base_url!r}")
        if parts.scheme == "http" and pinned is None:
            raise ConsoleUnproven(
                f"the console at {base_url} is plain http and no authority key is pinned, so "
                "nothing could tell it from another process on that port: set [authority] "
                "public_key (the console prints it at start and serves it at /v1/keys) or use "
                "an https URL")
        self.base_url = base_url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._netloc = parts.netloc
        self._prefix = parts.path
        self._pinned = pinned
        self._timeout_s = timeout_s
        self._code = code

    # -- the exchange ------------------------------------------------------------------------

    def _connect(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout_s)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout_s)
        conn.auto_open = 0  # never a second connection: the proved peer or nobody
        try:
            conn.connect()
        except OSError as exc:
            raise AuthorityUnreachable(f"console unreachable: {type(exc).__name__}") from exc
        return conn

    def _send(self, conn: http.client.HTTPConnection, method: str, path: str,
              body: Any = None, auth: str | None = None,
              ok: Sequence[int] | None = None,
              code: str | None = None,
              form: Mapping[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Host": self._netloc, "Accept": "application/json"}
        if code is not None:
            headers[CODE_HEADER] = code
        if form is not None:
            data = urlencode(dict(form)).encode("ascii")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif data is not None:
            headers["Content-Type"] = "application/json"
        if auth is not None:
            headers["Authorization"] = auth
        try:
            conn.request(method, self._prefix + path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except http.client.NotConnected:
            raise AuthorityUnreachable("the console closed the connection after proving "
                                       "itself; nothing was sent: try again") from None
        except (OSError, http.client.HTTPException) as exc:
            raise AuthorityUnreachable(f"console unreachable: {type(exc).__name__}") from exc
        return response.status, console_answer(response.status, raw, ok)

    def _prove(self, conn: http.client.HTTPConnection) -> None:
        """The console's proof of the pinned key on this connection, or :class:`ConsoleUnproven`."""
        if self._pinned is None:  # https without a pinned key: TLS authenticated the peer
            return
        nonce = secrets.token_hex(32)
        try:
            status, answer = self._send(conn, "POST", _HELLO_PATH, {"nonce": nonce})
        except AuthorityUnreachable as exc:
            raise ConsoleUnproven(f"the process at {self.base_url} did not prove it is the "
                                  f"console ({exc}); nothing was sent") from None
        signature = answer.get("signature")
        if status == 421:  # a console, but not at the address we asked for: it says which
            error = answer.get("error")
            said = error.get("message", "") if isinstance(error, dict) else ""
            raise ConsoleUnproven(f"the process at {self.base_url} would not prove itself for "
                                  f"that address ({str(said)[:200]}); nothing was sent")
        if (status != 200 or not isinstance(signature, str)
                or not self._pinned.verify_console_proof(nonce, self._netloc, signature)):
            raise ConsoleUnproven(
                f"the process at {self.base_url} did not prove it holds the pinned authority "
                f"key (kid {self._pinned.kid}); nothing was sent. If the console's key "
                "changed, pin the new one in [authority] public_key")

    def _call(self, method: str, path: str, owner: tuple[str, str], body: Any = None,
              ok: Sequence[int] = (200, 201)) -> tuple[int, dict[str, Any]]:
        conn = self._connect()
        try:
            self._prove(conn)
            try:
                return self._send(conn, method, path, body, _basic(*owner), ok)
            except AuthorityRefused as exc:
                if exc.reason != "second_factor_required" or self._code is None:
                    raise
            # The password was right and the owner has a second factor: the code goes on
            # the same proved connection (a code is spent once: never sent before it is
            # asked for).
            return self._send(conn, method, path, body, _basic(*owner), ok,
                              code=self._code().strip())
        finally:
            conn.close()

    async def _acall(self, method: str, path: str, owner: tuple[str, str], body: Any = None,
                     ok: Sequence[int] = (200, 201)) -> tuple[int, dict[str, Any]]:
        return await asyncio.to_thread(self._call, method, path, owner, body, ok)

    # -- the owner endpoints ---------------------------------------------------------------

    async def issue_token(self, email: str, password: str, login: int, server: str,
                          scopes: Sequence[str] | None = None,
                          expires_in_s: int | None = None, label: str = "") -> IssuedToken:
        """``POST /v1/tokens``: the token is in the answer, once."""
        body: dict[str, Any] = {"login": login, "server": server}
        if label:
            body["label"] = label
        if scopes is not None:
            body["scopes"] = list(scopes)
        if expires_in_s is not None:
            body["expires_in_s"] = expires_in_s
        _, answer = await self._acall("POST", "/v1/tokens", (email, password), body)
        return IssuedToken(str(answer["token"]), str(answer["token_id"]), dict(answer["record"]))

    async def list_tokens(self, email: str, password: str) -> list[dict[str, Any]]:
        """``GET /v1/tokens``."""
        _, answer = await self._acall("GET", "/v1/tokens", (email, password))
        return list(answer.get("tokens", []))

    async def revoke_token(self, email: str, password: str, token_id: str) -> bool:
        """``DELETE /v1/tokens/{id}``; ``False`` if there is no such token of this owner."""
        status, _ = await self._acall("DELETE", f"/v1/tokens/{token_id}", (email, password),
                                      ok=(200, 404))
        return status == 200

    async def register_account(self, email: str, password: str,
                               registration: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /v1/accounts`` with the fields of the account registration."""
        _, answer = await self._acall("POST", "/v1/accounts", (email, password),
                                      dict(registration))
        return answer

    async def switch_paper(self, email: str, password: str, login: int, server: str,
                           enabled: bool, *, confirm_live_open: bool = False
                           ) -> dict[str, Any]:
        """Paper trading of the owner's account on or off, as the Accounts page switches it:
        the Manager API's ``PUT /api/users/{login}`` behind an access token of
        ``POST /api/auth/login``, both on one proved connection. Leaving paper sends the
        password as the confirmation a loosening needs; ``confirm_live_open`` switches paper
        on over trades open at the broker. The account as it now stands.

        Raises:
            AuthorityRefused: the console's refusal (its reason word: ``bad_credentials``,
                ``not_found``, ``live_trades_open`` with its message, ...).
        """
        body: dict[str, Any] = {"server": server, "paper_trade_enabled": enabled}
        if not enabled:
            body["owner_password"] = password
        if confirm_live_open:
            body["confirm_live_open"] = True
        return await asyncio.to_thread(self._switch_paper, email, password, login, body)

    def _switch_paper(self, email: str, password: str, login: int,
                      body: dict[str, Any]) -> dict[str, Any]:
        conn = self._connect()
        try:
            self._prove(conn)
            form = {"username": email, "password": password}
            status, answer = self._send(conn, "POST", "/api/auth/login", form=form)
            if _api_reason(status, answer) == "second_factor_required" \
                    and self._code is not None:
                status, answer = self._send(conn, "POST", "/api/auth/login",
                                            form={**form, "otp": self._code().strip()})
            _api_refused(status, answer)
            bearer = f"Bearer {answer.get('access_token', '')}"
            status, answer = self._send(conn, "PUT", f"/api/users/{login}", body,
                                        auth=bearer)
            _api_refused(status, answer)
            user = answer.get("user")
            return dict(user) if isinstance(user, dict) else {}
        finally:
            conn.close()

    async def list_devices(self, email: str, password: str) -> list[dict[str, Any]]:
        """``GET /v1/devices``."""
        _, answer = await self._acall("GET", "/v1/devices", (email, password))
        return list(answer.get("devices", []))

    async def revoke_device(self, email: str, password: str, device_id: str) -> bool:
        """``DELETE /v1/devices/{id}``; ``False`` if the owner never saw that device."""
        status, _ = await self._acall("DELETE", f"/v1/devices/{device_id}", (email, password),
                                      ok=(200, 404))
        return status == 200


def _api_reason(status: int, answer: Mapping[str, Any]) -> str:
    """The reason word of a Manager API refusal (``{"status": "error", "data": {"reason":
    ...}}``), or empty for an answer that is not one."""
    if status < 400:
        return ""
    data = answer.get("data")
    return str(data.get("reason", "error")) if isinstance(data, dict) else "error"


def _api_refused(status: int, answer: Mapping[str, Any]) -> None:
    """Raise the Manager API's refusal as the owner calls' own.

    Raises:
        AuthorityRefused: the answer is a refusal (its reason word and message).
    """
    if status >= 400:
        raise AuthorityRefused(status, _api_reason(status, answer),
                               str(answer.get("message", "")), {})

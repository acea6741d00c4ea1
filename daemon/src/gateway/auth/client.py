"""The daemon's (and the CLI's) HTTP client for ``mtgateway-console``.

:class:`RemoteAuthority` implements :class:`~mtgateway_base.wire.api.AuthorityAPI` over the
console's device endpoints, signing every call with the device key it is given, so the daemon
treats an embedded and a remote authority alike. The owner endpoints (HTTP Basic with the
owner's password) are :class:`~gateway.auth.owner.OwnerConsole`'s, which sends the password
only after the console proved its key.

Failures are split the way the daemon must react to them: no answer, a timeout or a 5xx is
:class:`~mtgateway_base.wire.api.AuthorityUnreachable` (serve from the cache; ``-32014`` if there
is nothing cached); a 4xx is :class:`~mtgateway_base.wire.api.AuthorityRefused` with the
console's reason word. Records are returned as received; the caller verifies them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mtgateway_base.curve25519 import SigningKey
from mtgateway_base.wire.api import (
    AuthorityAPI,
    AuthorityRefused,
    AuthorityUnreachable,
    DeviceInfo,
    DeviceStatus,
    LookupAnswer,
    ResendAnswer,
    VerifyAnswer,
)
from mtgateway_base.wire.proofs import device_info, device_proof_headers
from mtgateway_base.wire.records import AuthorityKey, b64url_encode
from mtgateway_base.wire.reports import AccountFigures, TerminalReport, details_json

__all__ = ["RemoteAuthority", "console_answer"]


def console_answer(status: int, raw: str | bytes, ok: Sequence[int] | None) -> dict[str, Any]:
    """A console's answer as a dict, however it came (aiohttp here, ``http.client`` for the
    owner's calls).

    Raises:
        AuthorityUnreachable: no usable answer (a 5xx, not JSON, not an object): the caller
            serves from its cache or tries later.
        AuthorityRefused: with ``ok``, a status not in it: the error's reason word and extras.
    """
    if status >= 500:
        raise AuthorityUnreachable(f"authority answered HTTP {status}")
    try:
        answer = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise AuthorityUnreachable("authority answered something that is not JSON") from exc
    if not isinstance(answer, dict):
        raise AuthorityUnreachable("authority answered a JSON value that is not an object")
    if ok is not None and status not in ok:
        error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
        assert isinstance(error, dict)  # noqa: S101 - narrowed above
        extra = {k: v for k, v in error.items() if k not in ("code", "reason", "message")}
        raise AuthorityRefused(status, str(error.get("reason", "error")),
                               str(error.get("message", "")), extra)
    return answer


#: How long one answer's request for live reports holds (a report every 5 s meets a console
#: instance that serves the watcher often within it, however many instances there are).
LIVE_HOLD_S: Final = 60.0

class RemoteAuthority:
    """Talks to a console at ``base_url`` (e.g. ``http://127.0.0.1:8720``) as one device."""

    def __init__(self, base_url: str, private_key: Ed25519PrivateKey, *,
                 timeout_s: float = 10.0, clock: Callable[[], float] = time.time,
                 session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._prefix = urlsplit(self.base_url).path
        # Every call to the console is signed: the key in libsodium's form, converted once.
        self._signing = SigningKey(private_key)
        self.device = device_info(private_key)
        self._clock = clock
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._timeout_s = timeout_s
        self._session = session
        self._own_session = session is None
        # The console refuses a proof it has seen; two identical calls in one millisecond
        # would sign identical bytes, so each proof gets a later millisecond than the last.
        self._last_proof_ms = 0
        #: Until when (``time.monotonic``) the console asked for live reports.
        self._live_until = 0.0
        #: The report fields beyond the first report's the console said it takes (its
        #: answer's ``takes``); None until a report is answered, and from a console older
        #: than the list.
        self._takes: frozenset[str] | None = None
        #: Whether a report was answered (so an absent ``takes`` means an older console).
        self._answered = False

    async def __aenter__(self) -> RemoteAuthority:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def start(self) -> None:
        """Nothing to prepare: the console is another process, asked when needed."""

    async def close(self) -> None:
        """Close the HTTP session if this client made it."""
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def _call(self, method: str, path: str, body: Any = None, *, signed: bool = False,
                    ok: Sequence[int] = (200, 201),
                    timeout_s: float | None = None) -> tuple[int, dict[str, Any]]:
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if signed:
            now = self._clock()
            self._last_proof_ms = max(int(now * 1000), self._last_proof_ms + 1)
            headers.update(device_proof_headers(self._signing, method, self._prefix + path, data,
                                                now, time_ms=self._last_proof_ms))
        try:
            async with self._http().request(method, self.base_url + path, data=data or None,
                                            headers=headers,
                                            timeout=self._timeout if timeout_s is None
                                            else aiohttp.ClientTimeout(total=timeout_s)
                                            ) as response:
                status = response.status
                text = await response.text()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise AuthorityUnreachable(f"authority unreachable: {type(exc).__name__}") from exc
        return status, console_answer(status, text, ok)

    def _check(self, device: DeviceInfo) -> None:
        if device != self.device:
            raise ValueError("this client signs as another device")

    # -- device endpoints (AuthorityAPI) -------------------------------------------------

    async def lookup(self, device: DeviceInfo, *, token_hint: str, device_name: str = "",
                     os: str = "", nonce: str | None = None,
                     box_key: bytes | None = None) -> LookupAnswer:
        """``POST /v1/records/lookup``.

        Raises:
            ValueError: no ``nonce`` or ``box_key``: the console requires both (a record's
                secret is sealed to the box key; ``docs/authority.md``).
        """
        self._check(device)
        _require_box(nonce, box_key)
        body: dict[str, Any] = {"device_name": device_name, "os": os, "token_hint": token_hint}
        if nonce is not None:
            body["nonce"] = nonce
        if box_key is not None:
            body["box_key"] = b64url_encode(box_key)
        _, answer = await self._call("POST", "/v1/records/lookup", body, signed=True)
        status = answer.get("status")
        if status == "ok" and isinstance(answer.get("record"), dict):
            return LookupAnswer("ok", answer["record"])
        if status in ("pending", "unknown"):
            return LookupAnswer(status, denied=answer.get("denied") is True)
        raise AuthorityUnreachable("authority answered a lookup without a status")

    async def refresh(self, device: DeviceInfo, token_ids: Sequence[str],
                      nonce: str | None = None,
                      box_key: bytes | None = None) -> list[dict[str, Any]]:
        """``POST /v1/records/refresh``.

        Raises:
            ValueError: no ``nonce`` or ``box_key`` (as :meth:`lookup`).
        """
        self._check(device)
        _require_box(nonce, box_key)
        body: dict[str, Any] = {"token_ids": list(token_ids)}
        if nonce is not None:
            body["nonce"] = nonce
        if box_key is not None:
            body["box_key"] = b64url_encode(box_key)
        _, answer = await self._call("POST", "/v1/records/refresh", body, signed=True)
        records = answer.get("records")
        return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []

    async def verify_device(self, device: DeviceInfo, code: str) -> VerifyAnswer:
        """``POST /v1/device/verify``; a refused code, or the owner's approval lock (429), is
        an answer, not an exception."""
        self._check(device)
        try:
            await self._call("POST", "/v1/device/verify", {"code": code}, signed=True)
        except AuthorityRefused as exc:
            if exc.status == 429:
                retry = exc.extra.get("retry_after_s")
                return VerifyAnswer("rejected", exc.reason,
                                    retry_after_s=retry if isinstance(retry, int) else None)
            if exc.status != 400:
                raise
            tries = exc.extra.get("tries_left")
            return VerifyAnswer("rejected", exc.reason, tries if isinstance(tries, int) else None)
        return VerifyAnswer("approved")

    async def resend(self, device: DeviceInfo) -> ResendAnswer:
        """``POST /v1/device/resend``."""
        self._check(device)
        try:
            await self._call("POST", "/v1/device/resend", {}, signed=True)
        except AuthorityRefused as exc:
            if exc.status == 429:
                retry = exc.extra.get("retry_after_s")
                wait_s = retry if isinstance(retry, int) else 60
                if exc.reason == "approvals_locked":
                    return ResendAnswer("approvals_locked", wait_s)
                return ResendAnswer("resend_limited", wait_s)
            if exc.reason in ("no_pending_approval", "mail_failed"):
                return ResendAnswer(exc.reason)  # type: ignore[arg-type]
            raise
        return ResendAnswer("sent")

    async def device_status(self, device: DeviceInfo) -> DeviceStatus:
        """``GET /v1/device/status``."""
        self._check(device)
        _, answer = await self._call("GET", "/v1/device/status", signed=True)
        approvals = answer.get("approvals")
        pairs = tuple((str(a.get("owner")), str(a.get("status")))
                      for a in (approvals if isinstance(approvals, list) else [])
                      if isinstance(a, dict))
        return DeviceStatus(self.device.device_id, pairs)

    async def public_keys(self) -> list[AuthorityKey]:
        """``GET /v1/keys`` (the daemon pins the one it trusts; this only lists them)."""
        _, answer = await self._call("GET", "/v1/keys")
        keys = answer.get("keys")
        return [AuthorityKey.from_base64(str(k["public_key"]))
                for k in (keys if isinstance(keys, list) else [])
                if isinstance(k, Mapping) and k.get("alg") == "Ed25519"]

    async def report_terminals(self, device: DeviceInfo,
                               reports: list[TerminalReport]) -> int:
        """``POST /v1/terminals/report``: how many states the console kept."""
        self._check(device)
        _, answer = await self._call("POST", "/v1/terminals/report",
                                     {"terminals": self._reports_json(reports)}, signed=True)
        return self._report_answered(answer)

    def _reports_json(self, reports: list[TerminalReport]) -> list[dict[str, Any]]:
        """``reports`` with the fields the console said it takes."""
        taken = self._takes or frozenset()
        return [_report_json(r, digits="digits" in taken, live_book="live_book" in taken,
                             server_offset="server_offset" in taken) for r in reports]

    def _report_answered(self, answer: dict[str, Any]) -> int:
        """What a report's answer says (a report's own, or a long-poll's that carried one):
        how many states were kept; the fields it takes and whether an owner watches the
        live page are noted for the next reports."""
        if answer.get("live") is True:  # an owner watches the live page (``live_wanted``)
            self._live_until = time.monotonic() + LIVE_HOLD_S
        takes = answer.get("takes")
        # the fields the console named take effect from the next report: one sent before an
        # upgraded console answered goes without them, as it would to an older console
        self._takes = frozenset(str(t) for t in takes) if isinstance(takes, list) else None
        self._answered = True
        stored = answer.get("stored")
        return stored if isinstance(stored, int) else 0

    def takes_books(self) -> bool | None:
        """Whether the console keeps a paper book apart from the live one (``reporter.
        BooksHint``): True once a report's answer named the fields it takes (every console
        that names them reads ``book``, the first release of the list included), False when
        the answer named none (a console older than ``book``, which refuses the field), None
        before any report was answered."""
        if not self._answered:
            return None
        return self._takes is not None

    def takes_live_book(self) -> bool:
        """Whether the console takes the live book beside a paper one (``reporter.
        LiveBookHint``): its last answer named ``live_book`` among the fields it takes."""
        return "live_book" in (self._takes or ())

    def takes_poll_reports(self) -> bool | None:
        """Whether the console takes the periodic report on the revocation long-poll
        (``reporter.PollReportHint``): its last report answer named ``poll_report``; None
        before any report was answered."""
        if not self._answered:
            return None
        return "poll_report" in (self._takes or ())

    def live_wanted(self) -> bool:
        """Whether the console asked for live reports within the last :data:`LIVE_HOLD_S`
        (``reporter.LiveHint``): an owner of this device watches its live page. Behind a
        balancer only the instance serving that page knows, so the request is held a while
        after the last answer that carried it."""
        return time.monotonic() < self._live_until

    async def wait_revocations(self, device: DeviceInfo, cursor: int | None,
                               timeout_s: float, reports: list[TerminalReport] | None = None
                               ) -> tuple[int, list[str]]:
        """``POST /v1/device/revocations``: held open by the console up to ``timeout_s``;
        with ``reports``, carrying them (only to a console that takes them:
        :meth:`takes_poll_reports`), its answer read as a report's too."""
        self._check(device)
        body: dict[str, Any] = {"wait_s": timeout_s}
        if cursor is not None:
            body["cursor"] = cursor
        if reports is not None:
            body["terminals"] = self._reports_json(reports)
        _, answer = await self._call("POST", "/v1/device/revocations", body, signed=True,
                                     timeout_s=timeout_s + self._timeout_s)
        new_cursor, ids = answer.get("cursor"), answer.get("token_ids")
        if not isinstance(new_cursor, int) or not isinstance(ids, list):
            raise AuthorityUnreachable("authority answered the revocation feed malformed")
        if reports is not None:
            self._report_answered(answer)
        return new_cursor, [str(i) for i in ids]

if TYPE_CHECKING:  # mypy proves the remote authority implements the protocol the daemon uses

    def _implements(remote: RemoteAuthority) -> AuthorityAPI:
        return remote


def _require_box(nonce: str | None, box_key: bytes | None) -> None:
    if nonce is None or box_key is None:
        raise ValueError("a record request to the console needs a nonce and a box key")


def _report_json(report: TerminalReport, *, digits: bool = False,
                 live_book: bool = False, server_offset: bool = False) -> dict[str, Any]:
    """One report as ``POST /v1/terminals/report`` takes it (figures only when read; the
    symbols' digits only when ``digits``, the live book beside a paper one only when
    ``live_book``, the trade server's clock offset with the deals only when
    ``server_offset``: the console said it takes them)."""
    out: dict[str, Any] = {
        "login": report.login, "server": report.server, "state": report.state,
        "reason": report.reason, "token_id": report.token_id, "token_hint": report.token_hint,
        "platform": report.platform, "ea_version": report.ea_version}
    if report.figures is not None:
        out.update(balance=report.figures.balance, equity=report.figures.equity,
                   currency=report.figures.currency, positions=report.figures.positions)
        out.update(_margin_json(report.figures))
        if report.figures.book != "live":  # a live report stays what older consoles take
            out["book"] = report.figures.book
    if report.figures is not None and report.book is not None:
        out["as_of"] = report.book.as_of
        if report.book.positions is not None:
            out["open_positions"] = [p.as_json() for p in report.book.positions]
        if report.details is not None:
            out["details"] = details_json(report.details, server_offset=server_offset)
        if live_book and report.live is not None:
            out["live"] = details_json(report.live, server_offset=server_offset)
        if digits and report.book.digits:
            out["digits"] = dict(report.book.digits)
    if report.done:
        out["done"] = [{"id": d.id, "state": d.state, "deal": d.deal, "detail": d.detail}
                       for d in report.done]
    return out


def _margin_json(figures: AccountFigures) -> dict[str, float]:
    """The margin fields of a report, when the daemon read them (the margin alert)."""
    return {name: value for name, value in (("margin", figures.margin),
                                            ("margin_level", figures.margin_level))
            if value is not None}

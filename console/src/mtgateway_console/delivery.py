"""Sending alerts: signed webhooks and e-mails, off the request path, retried, bounded.

:class:`AlertSender` runs beside the console (:func:`alert_sender`, one cleanup context): it
wakes when a transaction enqueued an alert and every :data:`SWEEP_EVERY_S` anyway, judges the
terminals no report speaks for (the sweep: a dead daemon's terminal goes offline by the clock
alone), then claims each due delivery of the outbox (``alerts.py``) and sends it:

- **webhook**: ``POST`` of the alert as compact JSON (keys sorted) to the owner's URL, with
  ``Mtgw-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`` (the
  scheme Stripe and others use: the timestamp is signed with the body, so a receiver refuses
  replays older than its tolerance), ``Mtgw-Event`` and ``Mtgw-Delivery`` (the same on every
  retry of one delivery: a receiver drops the duplicates an at-least-once sender may make).
  :data:`TIMEOUT_S` bounds the whole exchange. Redirects are not followed (a 3xx is a failed
  attempt that says where it pointed): the body is signed for the URL the owner chose, and no
  redirect can lead the console to a ``file:`` or other non-HTTP address. Only a 2xx counts.
- **e-mail**: to the owner's address, through the console's mailer (``[smtp]``).

A failed attempt is retried at ``alerts.RETRY_AFTER_S`` on the console's clock and given up
after ``alerts.MAX_ATTEMPTS``; the owner sees each delivery's fate on the settings page and a
given-up one in the activity. Logs name the delivery, its channel and the webhook's host,
never its path (some receivers put a secret there) or the signing secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Final
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from .database import DatabaseUnavailable
from .destinations import PublicOnlyResolver, destination_problem
from .service import Authority
from .tables.alerts import Delivery

__all__ = ["ALERT_SENDER", "SIGNATURE_HEADER", "SWEEP_EVERY_S", "TIMEOUT_S", "AlertSender",
           "alert_message", "alert_sender", "sign", "summary"]

log = logging.getLogger(__name__)

#: The header carrying the webhook's signature.
SIGNATURE_HEADER: Final = "Mtgw-Signature"
#: The most one webhook attempt may take, connection to last byte (seconds).
TIMEOUT_S: Final = 10.0
#: How often the sender sweeps for terminals gone silent although nothing woke it (seconds,
#: real time; the sweep judges by the console's clock).
SWEEP_EVERY_S: Final = 30.0
_REASONS: Final = {
    "token_expired": "its token expired: create a new token and paste it into the EA",
    "token_revoked": "its token was revoked: create a new token and paste it into the EA",
    "invalid_token": "the EA presented a token the console does not know",
    "device_not_approved": "the daemon's machine is not approved: approve it on the "
                           "Devices page",
    "device_revoked": "the daemon's machine was revoked",
    "terminal_mismatch": "the token belongs to another terminal",
}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Mtgw-Signature`` value: ``t=<timestamp>,v1=<hex HMAC-SHA256>`` of
    ``"<timestamp>." + body`` under the secret's UTF-8 bytes."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def summary(payload: dict[str, object]) -> str:
    """One line saying what happened (the e-mail's subject, the pages' list)."""
    if payload.get("type") == "alert.test":
        return "test alert (your alerts arrive here)"
    terminal = f"{payload.get('login')}@{payload.get('server')}"
    kind, recovered = payload.get("kind"), payload.get("type") == "alert.recovered"
    if kind == "offline":
        return (f"terminal {terminal} is back online" if recovered else
                f"terminal {terminal} offline for more than "
                f"{payload.get('offline_minutes')} min")
    if kind == "refused":
        return (f"terminal {terminal} is no longer refused" if recovered else
                f"terminal {terminal} refused: {payload.get('reason')}")
    if kind == "margin":
        level = payload.get("margin_level")
        shown = f"{level:.2f} %" if isinstance(level, int | float) else "unknown"
        return (f"margin level of {terminal} back at {shown}" if recovered else
                f"margin level of {terminal} at {shown}, under {payload.get('threshold')} %")
    return f"alert about {terminal}"


def _when(epoch: object) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(str(epoch))))


def alert_message(payload: dict[str, object], to: str, from_address: str,
                  console: str = "the console") -> EmailMessage:
    """The alert as an e-mail: what, which terminal and device, since when, what to do;
    ``console`` names the console (``ConsoleAddress.hint``: its Settings page's address)."""
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = to
    message["Subject"] = f"MT Gateway alert: {summary(payload)}"
    message["Date"] = formatdate(int(str(payload["at"])), usegmt=True)
    domain = from_address.rpartition("@")[2].strip(" >") or "localhost"
    message["Message-ID"] = make_msgid("mtgw-alert", domain=domain)
    recovered = payload.get("type") == "alert.recovered"
    lines = [f"{summary(payload)[:1].upper()}{summary(payload)[1:]}.", ""]
    if payload.get("type") != "alert.test":
        device_id, name = payload.get("device_id") or "", payload.get("device_name") or ""
        device = (f"{name} ({device_id})" if name and device_id else
                  str(name or device_id or "(none reported)"))
        lines += [f"  terminal: {payload.get('login')}@{payload.get('server')}",
                  f"  device:   {device}",
                  f"  since:    {_when(payload['opened_at'])}"]
    if recovered:
        lines.append(f"  until:    {_when(payload['at'])}")
    lines.append(f"  detail:   {payload.get('detail')}")
    advice = _REASONS.get(str(payload.get("reason", "")))
    if advice and not recovered:
        lines += ["", f"Why: {advice}."]
    lines += ["", "You get one e-mail when this starts and one when it ends. Change what you "
              f"are alerted about on the Settings page of {console}."]
    message.set_content("\n".join(lines) + "\n")
    return message


class AlertSender:
    """Claims due deliveries and sends them (see the module's docstring).

    Args:
        authority: returns the running authority.
        timeout_s: the most one webhook attempt may take.
        private_networks: also post to loopback, private and link-local addresses
            (``destinations.py``; ``[console] webhook_private_networks``).
    """

    def __init__(self, authority: Callable[[], Authority], *,
                 timeout_s: float = TIMEOUT_S, private_networks: bool = False) -> None:
        self._authority = authority
        self._private_networks = private_networks
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None
        #: Attempts finished (sent or failed) by this sender (tests wait on it).
        self.attempts = 0
        self._attempted = asyncio.Event()

    async def start(self) -> None:
        """Open the HTTP client (no cookies kept: every delivery stands alone)."""
        connector = None if self._private_networks else aiohttp.TCPConnector(
            resolver=PublicOnlyResolver())
        self._session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(),
                                              timeout=self._timeout, connector=connector)

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._session is not None:
            await self._session.close()

    async def wait_attempts(self, count: int) -> None:
        """Until ``count`` attempts have finished in all (for tests)."""
        while self.attempts < count:
            self._attempted.clear()
            await self._attempted.wait()

    async def run(self, every_s: float = SWEEP_EVERY_S) -> None:
        """Sweep and deliver whenever woken, and every ``every_s`` anyway, until cancelled."""
        while True:
            alerts = self._authority().alerts
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(every_s):
                    await alerts.wake.wait()
            alerts.wake.clear()
            try:
                await alerts.sweep()
                await self.deliver_due()
            except DatabaseUnavailable as exc:
                log.warning("alerts wait for the database: %s", exc)
            except Exception:  # keep sending whatever one pass hit
                log.exception("the alert sender's pass failed")

    async def deliver_due(self) -> int:
        """Send every delivery due now (claimed one by one, so two senders never send one
        twice); how many this call attempted."""
        alerts = self._authority().alerts
        attempted = 0
        for delivery_id in await alerts.due():
            delivery = await alerts.claim(delivery_id)
            if delivery is None:
                continue  # another sender took it
            error = await self._send(delivery)
            what = f"{delivery.channel} alert {summary(delivery.payload)!r}"
            status = await alerts.finish(delivery, error, what)
            attempted += 1
            self.attempts += 1
            self._attempted.set()
            if error:
                log.warning("alert delivery %d (%s) failed, attempt %d: %s; %s", delivery.id,
                            delivery.channel, delivery.attempts, error,
                            "given up" if status == "failed" else "will retry")
        return attempted

    async def _send(self, delivery: Delivery) -> str:
        """One attempt; the error, or ``""`` when delivered."""
        authority = self._authority()
        if delivery.channel == "email":
            mailer = authority.mailer
            try:
                await mailer.send(alert_message(delivery.payload, delivery.owner_email,
                                                mailer.from_address,
                                                authority.address.hint("/settings")))
            except Exception as exc:  # noqa: BLE001 - any failure is the attempt's outcome
                return f"e-mail not sent ({type(exc).__name__})"
            return ""
        return await self._post(delivery, authority)

    async def destination_problem(self, url: str) -> str:
        """Why this sender must not post to ``url``, or ``""`` (``destinations.py``: public
        addresses only unless ``private_networks``)."""
        if self._private_networks:
            return ""
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return await destination_problem(parts.hostname or "", port)

    async def _post(self, delivery: Delivery, authority: Authority) -> str:
        settings = await authority.alerts.settings(delivery.owner_email)
        secret = await authority.alerts.secret(delivery.owner_email)
        if not settings.webhook_url or secret is None:
            return "no webhook is set any more"
        url = settings.webhook_url
        host = urlsplit(url).hostname or "?"
        problem = await self.destination_problem(url)
        if problem:
            return f"{host}: {problem}"
        body = delivery.body
        headers = {"Content-Type": "application/json", "User-Agent": "mtgateway-console",
                   SIGNATURE_HEADER: sign(secret, authority.alerts.now(), body),
                   "Mtgw-Event": delivery.event, "Mtgw-Delivery": str(delivery.id)}
        if self._session is None:
            await self.start()
        assert self._session is not None  # noqa: S101 - made just above
        try:
            async with self._session.post(url, data=body, headers=headers,
                                          allow_redirects=False) as response:
                status = response.status
                location = response.headers.get("Location", "")
        except TimeoutError:
            return f"{host}: no answer within {self._timeout_s:g} s"
        except aiohttp.ClientError as exc:
            return f"{host}: {type(exc).__name__}"
        if 200 <= status < 300:
            return ""
        if 300 <= status < 400:
            scheme = urlsplit(location).scheme or "a relative address"
            return f"{host}: HTTP {status} redirect (to {scheme}) not followed"
        return f"{host}: HTTP {status}"


#: The console's alert sender (tests reach it to deliver or sweep now).
ALERT_SENDER: Final = web.AppKey("alert_sender", AlertSender)


async def alert_sender(app: web.Application) -> AsyncIterator[None]:
    """The console's cleanup context running the sender (after the authority's, which it
    reads): started with the console, stopped before the authority closes."""
    sender = app[ALERT_SENDER]
    await sender.start()
    task = asyncio.get_running_loop().create_task(sender.run())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await sender.close()

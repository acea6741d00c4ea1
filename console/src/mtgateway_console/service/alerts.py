"""Alerts: the owner's settings and signing secret, the sweep, and the outbox's bookkeeping.

The rules and tables are ``alerts.py``; sending is ``delivery.py``. This room is what the
pages, the terminal reports and the sender call, each call one transaction through the door.
A transaction that enqueued an alert wakes the sender once it has committed
(:attr:`Alerts.wake`), so an alert leaves within moments of the report that caused it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..database import Tx
from ..tables import alerts
from ..tables.alerts import AlertSettings, Delivery, SecretBox
from .common import Shared, normalize_email

__all__ = ["Alerts"]


class Alerts:
    """The alerts room of the authority."""

    def __init__(self, shared: Shared,
                 new_secret: Callable[[], str] = alerts.new_secret) -> None:
        self._shared = shared
        self._new_secret = new_secret
        self._box = SecretBox(shared.store.pepper)
        #: Set after a transaction that enqueued deliveries has committed (the sender waits).
        self.wake = asyncio.Event()

    def now(self) -> int:
        """The console's clock in whole seconds (a webhook signature's timestamp)."""
        return self._shared.now()

    def _woken(self, tx: Tx, enqueued: int) -> int:
        if enqueued:
            tx.after_commit(self.wake.set)
        return enqueued

    # -- the owner's settings --------------------------------------------------------------

    async def settings(self, owner_email: str) -> AlertSettings:
        """The owner's settings (all off when never saved)."""
        return await self._shared.run(alerts.settings_of, normalize_email(owner_email))

    async def save(self, owner_email: str, settings: AlertSettings) -> str | None:
        """Store the settings (the caller validated them); the new signing secret, in the
        clear this once, when a webhook address is set or changed, else ``None`` (removing
        the webhook drops its secret)."""
        owner = normalize_email(owner_email)
        return await self._shared.run(self._save, owner, settings, self._shared.now())

    def _save(self, tx: Tx, owner: str, settings: AlertSettings, now: int) -> str | None:
        secret = None
        before = alerts.settings_of(tx, owner)
        if settings.webhook_url and (not before.has_secret
                                     or settings.webhook_url != before.webhook_url):
            secret = self._new_secret()  # a new destination gets a secret of its own
        alerts.save_settings(tx, owner, settings,
                             None if secret is None else self._box.seal(owner, secret), now)
        if not settings.webhook_url:
            alerts.drop_secret(tx, owner)
        self._shared.activity.add(tx, owner, "alerts_changed", settings.described(), now)
        return secret

    async def rotate_secret(self, owner_email: str) -> str:
        """A new signing secret replaces the old at once; returned in the clear this once."""
        owner = normalize_email(owner_email)
        return await self._shared.run(self._rotate, owner, self._shared.now())

    def _rotate(self, tx: Tx, owner: str, now: int) -> str:
        secret = self._new_secret()
        current = alerts.settings_of(tx, owner)
        alerts.save_settings(tx, owner, current, self._box.seal(owner, secret), now)
        self._shared.activity.add(tx, owner, "alerts_changed", "webhook signing secret "
                                  "replaced", now)
        return secret

    async def test(self, owner_email: str) -> int:
        """Enqueue a test alert on every chosen channel (the owner checks the receiver and
        its signature check); how many."""
        return await self._shared.run(self._test, normalize_email(owner_email),
                                      self._shared.now())

    def _test(self, tx: Tx, owner: str, now: int) -> int:
        payload: dict[str, object] = {"id": f"test:{now}", "type": "alert.test",
                                      "kind": "test", "at": now, "opened_at": now,
                                      "detail": "a test alert sent from the settings page"}
        return self._woken(tx, alerts.enqueue(tx, owner, alerts.settings_of(tx, owner),
                                              payload, now))

    async def secret(self, owner_email: str) -> str | None:
        """The signing secret, for the sender only (never shown again on a page)."""
        owner = normalize_email(owner_email)
        blob = await self._shared.run(alerts.sealed_secret_of, owner)
        return None if blob is None else self._box.open(owner, blob)

    async def deliveries(self, owner_email: str, limit: int = 20) -> list[Delivery]:
        """The owner's latest alert deliveries, newest first."""
        return await self._shared.run(alerts.deliveries_of, normalize_email(owner_email),
                                      limit)

    # -- judging ---------------------------------------------------------------------------

    def observe(self, tx: Tx, owner_email: str, login: int, server: str, device_id: str,
                margin: tuple[float, float] | None, now: int,
                settings: AlertSettings | None = None) -> int:
        """Judge a terminal in the transaction that stored its report (``terminals.py``;
        ``settings``: the owner's, when the report's lookup read them)."""
        return self._woken(tx, alerts.observe(tx, owner_email, login, server, device_id,
                                              margin, now, settings))

    async def sweep(self) -> int:
        """Judge every watched terminal on the clock alone (the "offline" a dead daemon
        cannot report); the alerts enqueued."""
        return await self._shared.run(self._sweep, self._shared.now())

    def _sweep(self, tx: Tx, now: int) -> int:
        return self._woken(tx, alerts.sweep(tx, now))

    # -- the outbox ------------------------------------------------------------------------

    async def due(self, limit: int = 20) -> list[int]:
        """Deliveries ready to be tried."""
        return await self._shared.run(alerts.due, self._shared.now(), limit)

    async def claim(self, delivery_id: int) -> Delivery | None:
        """Take one delivery for sending, unless another sender did."""
        return await self._shared.run(alerts.claim, delivery_id, self._shared.now())

    async def finish(self, delivery: Delivery, error: str, what: str) -> str:
        """Record an attempt (``error`` empty: delivered); a delivery given up is also put
        in the owner's activity, ``what`` saying which alert and where."""
        return await self._shared.run(self._finish, delivery, error, what, self._shared.now())

    def _finish(self, tx: Tx, delivery: Delivery, error: str, what: str, now: int) -> str:
        status = alerts.finish(tx, delivery, error, now)
        if status == "failed":
            self._shared.activity.add(tx, delivery.owner_email, "alert_failed",
                                      f"{what}: {error} (after {delivery.attempts} tries)", now)
        return status

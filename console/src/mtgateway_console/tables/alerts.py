"""Alerts: the owner's choice of channels and thresholds, the episodes, and the outbox.

An owner chooses e-mail and/or a webhook (``alert_settings``) for three kinds of trouble with
a terminal (one ``login@server``, on whichever device the owner approved reports it; no other
device's report opens, closes, postpones or names an alert):

- ``offline``: no device has reported it ``active`` for longer than the owner's N minutes
  (a daemon that dies cannot report: a state not re-reported within
  :data:`~.reports.SILENT_AFTER_S` no longer counts as active);
- ``refused``: the latest report says its EA was refused, with the reason word
  (``token_expired``, ``token_revoked``, ``device_not_approved``, ...);
- ``margin``: its account's margin level is under the owner's threshold (%); it recovers once
  the level is back at the threshold plus a tenth of it (:data:`MARGIN_RECOVERY`), or once
  no margin is in use, so a level hovering at the line does not send a mail per report. The
  level is always the broker's: while the account trades on paper, the live book's that its
  daemon reports beside the paper one (:func:`margin_of`); a paper book's is never judged.

**Episodes.** A condition that starts is one episode: a row per (owner, terminal, kind) in
``alert_episodes``, opened with ``closed_at`` NULL and closed when the condition ends. Each
transition is *claimed* by one conditional statement (an upsert that only revives a closed
row, an update that only closes an open one), so of two console instances, or a console and
its restart, judging the same terminal at once exactly one sees its statement change a row,
and only that one enqueues the alert. One alert when an episode opens, one when it closes.

**The outbox.** The alert itself is a row per channel in ``alert_deliveries``, written in
the transaction that claimed the transition: nothing is sent on the request path, and an
alert claimed is never lost to a crash before its delivery. ``delivery.py`` claims due rows
(again by a conditional update, with a lease so a crashed sender's row is taken over) and
sends them; a failure is retried at :data:`RETRY_AFTER_S` and given up after
:data:`MAX_ATTEMPTS`, and the owner sees each delivery's fate on the settings page.

Every function here runs inside the transaction it is given (``database/``); none does
I/O of its own beyond its statements.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mtgateway_base.wire.reports import AccountDetails, AccountFigures

from ..database import Tx
from .reports import APPROVED_DEVICE, SILENT_AFTER_S

__all__ = ["KINDS", "LEASE_S", "MARGIN_RECOVERY", "MAX_ATTEMPTS", "RETRY_AFTER_S", "AlertSettings",
           "Delivery", "Observer", "SecretBox", "Seen", "Verdict", "check_webhook_url", "claim",
           "conditions", "deliveries_of", "drop_secret", "due", "enqueue", "finish",
           "margin_of", "new_secret", "observe", "save_settings", "sealed_secret_of",
           "settings_columns", "settings_from", "settings_of", "sweep"]

Kind = Literal["offline", "refused", "margin"]
#: The kinds of alert, in the order the pages list them.
KINDS: Final[tuple[Kind, ...]] = ("offline", "refused", "margin")
#: A margin episode closes at the threshold times this (150 % → 165 %).
MARGIN_RECOVERY: Final = 1.1
#: Attempts of one delivery before it is given up, and the waits between them (seconds).
MAX_ATTEMPTS: Final = 5
RETRY_AFTER_S: Final = (30, 120, 600, 1800)
#: How long a claimed delivery is its sender's before another may take it over (longer than
#: a webhook's timeout or an SMTP exchange).
LEASE_S: Final = 120
#: The longest webhook URL accepted.
MAX_URL: Final = 2000
#: Bounds of the owner's numbers.
MAX_OFFLINE_MINUTES: Final = 7 * 24 * 60
MAX_MARGIN_PCT: Final = 100_000.0


def new_secret() -> str:
    """A webhook signing secret: ``whsec_`` and 32 random bytes as hex."""
    return "whsec_" + secrets.token_hex(32)


class SecretBox:
    """Seals the webhook secrets under a key derived from the authority's data key (the
    store's pepper): a copy of the database alone does not hold them in the clear."""

    def __init__(self, pepper: bytes) -> None:
        self._aead = AESGCM(hmac.new(pepper, b"mtgw-alert-secret-v1", hashlib.sha256).digest())

    @staticmethod
    def _aad(owner_email: str) -> bytes:
        return f"mtgw-alert-secret-v1\x1f{owner_email}".encode()

    def seal(self, owner_email: str, secret: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, secret.encode(), self._aad(owner_email))

    def open(self, owner_email: str, blob: bytes) -> str:
        return self._aead.decrypt(blob[:12], blob[12:], self._aad(owner_email)).decode()


def check_webhook_url(url: str) -> str:
    """The URL as stored, or ``ValueError`` saying what is wrong: ``http`` or ``https``, a
    host, no user name or password in it (the page shows it), no fragment, printable ASCII."""
    url = url.strip()
    if len(url) > MAX_URL:
        raise ValueError(f"at most {MAX_URL} characters")
    if not url.isascii() or any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError("no spaces or non-ASCII characters (percent-encode them)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("an http:// or https:// address")
    if not parts.hostname:
        raise ValueError("the address names no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("no user name or password in the address (use the signing secret)")
    if parts.fragment or url.endswith("#"):
        raise ValueError("no #fragment")
    if port == 0:
        raise ValueError("not a valid port")
    return url


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """What an owner wants to hear about, and how. ``0`` turns a threshold off."""

    email: bool = False
    webhook_url: str = ""
    offline_minutes: int = 0
    refused: bool = False
    margin_pct: float = 0.0
    #: Whether a signing secret exists (it is never read back out of this object).
    has_secret: bool = False

    def wants(self, kind: str) -> bool:
        """Whether this kind is being watched."""
        return {"offline": self.offline_minutes > 0, "refused": self.refused,
                "margin": self.margin_pct > 0}.get(kind, False)

    @property
    def channels(self) -> list[str]:
        """Where an alert goes."""
        return [c for c, on in (("email", self.email), ("webhook", bool(self.webhook_url)))
                if on]

    def described(self) -> str:
        """The activity's line for these settings (the webhook's host only: some receivers
        put a secret in the path)."""
        watched = [w for w, on in (
            (f"offline > {self.offline_minutes} min", self.offline_minutes > 0),
            ("refused", self.refused),
            (f"margin level < {self.margin_pct:g} %", self.margin_pct > 0)) if on]
        host = urlsplit(self.webhook_url).hostname if self.webhook_url else None
        channels = [c if c != "webhook" else f"webhook to {host}" for c in self.channels]
        return (f"{'; '.join(watched) or 'nothing watched'}; sent by "
                f"{', '.join(channels) or 'no channel'}")


def settings_columns(alias: str) -> str:
    """The columns of ``alert_settings`` (named ``alias`` in the query) that
    :func:`settings_from` reads: a read that joins the owner's settings to other tables
    (``prior.py``) selects them as :func:`settings_of` does."""
    return (f"{alias}.email_enabled, {alias}.webhook_url, {alias}.offline_minutes, "
            f"{alias}.refused_enabled, {alias}.margin_level_pct, "
            f"{alias}.webhook_secret_enc IS NOT NULL")


def settings_from(row: Sequence[Any]) -> AlertSettings:
    """The settings in the columns :func:`settings_columns` names (NULL, as an outer join
    gives them for an owner who never saved any: all off)."""
    if row[0] is None:
        return AlertSettings()
    return AlertSettings(bool(row[0]), str(row[1]), int(row[2]), bool(row[3]), float(row[4]),
                         bool(row[5]))


def settings_of(tx: Tx, owner_email: str) -> AlertSettings:
    """The owner's settings (all off when never saved)."""
    row = tx.query_one(f"SELECT {settings_columns('s')} FROM alert_settings s "
                       "WHERE s.owner_email = ?", (owner_email,))
    return AlertSettings() if row is None else settings_from(row)


def save_settings(tx: Tx, owner_email: str, settings: AlertSettings,
                  sealed_secret: bytes | None, now: int) -> None:
    """Store the settings (``sealed_secret``: a new secret, or ``None`` to keep the one
    stored); the open episodes of a kind no longer watched end without an alert."""
    tx.execute("INSERT INTO alert_settings (owner_email, email_enabled, webhook_url, "
               "webhook_secret_enc, offline_minutes, refused_enabled, margin_level_pct, "
               "updated_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (owner_email) DO UPDATE SET "
               "email_enabled = excluded.email_enabled, webhook_url = excluded.webhook_url, "
               "webhook_secret_enc = COALESCE(excluded.webhook_secret_enc, "
               "alert_settings.webhook_secret_enc), "
               "offline_minutes = excluded.offline_minutes, "
               "refused_enabled = excluded.refused_enabled, "
               "margin_level_pct = excluded.margin_level_pct, updated_at = excluded.updated_at",
               (owner_email, int(settings.email), settings.webhook_url, sealed_secret,
                settings.offline_minutes, int(settings.refused), settings.margin_pct, now))
    for kind in KINDS:
        if not settings.wants(kind):
            tx.execute("DELETE FROM alert_episodes WHERE owner_email = ? AND kind = ?",
                       (owner_email, kind))


def drop_secret(tx: Tx, owner_email: str) -> None:
    """Forget the webhook's signing secret (the webhook was removed)."""
    tx.execute("UPDATE alert_settings SET webhook_secret_enc = NULL WHERE owner_email = ?",
               (owner_email,))


def sealed_secret_of(tx: Tx, owner_email: str) -> bytes | None:
    """The owner's sealed webhook secret, if any."""
    row = tx.query_one("SELECT webhook_secret_enc FROM alert_settings WHERE owner_email = ?",
                       (owner_email,))
    return None if row is None or row[0] is None else bytes(row[0])


# -- the rules -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seen:
    """One device's latest report of the terminal (``terminal_states``)."""

    device_id: str
    state: str
    reason: str
    changed_at: int
    reported_at: int


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether each kind's condition holds now, what the alert says of it, and since when
    (what an alert's "since" means: when the condition began, not when it was noticed)."""

    offline: str | None
    refused: str | None
    #: The device of the report the verdict leans on (named in the alert): the latest one.
    device_id: str
    #: The device the terminal was last online on (named in an offline alert).
    offline_device_id: str = ""
    #: When the terminal was last online: its last ``active`` report, or its change away
    #: from ``active`` (an offline episode's start).
    offline_since: int = 0
    #: When the latest report's refusal began (a refused episode's start).
    refused_since: int = 0


def conditions(rows: Sequence[Seen], now: int, offline_minutes: int) -> Verdict:
    """The terminal's ``offline`` and ``refused`` conditions from its devices' reports.

    Active means some device reported it ``active`` within :data:`SILENT_AFTER_S`. Refused
    means not active and the most recent report is a refusal (its reason word). Offline
    means not active for more than ``offline_minutes``, counted from its last ``active``
    report, or from the change away from ``active`` (0 minutes: not watched).
    """
    if not rows:
        return Verdict(None, None, "")
    fresh_active = [r for r in rows if r.state == "active" and now - r.reported_at
                    <= SILENT_AFTER_S]
    latest = max(rows, key=lambda r: (r.reported_at, r.changed_at))
    if fresh_active:
        return Verdict(None, None, fresh_active[0].device_id, fresh_active[0].device_id)
    refused = (latest.reason or "refused") if latest.state == "refused" else None
    last_online, online_on = max(
        (r.reported_at if r.state == "active" else r.changed_at, r.device_id) for r in rows)
    gone_s = now - last_online
    offline = (f"not active for {gone_s // 60} min"
               if offline_minutes > 0 and gone_s > offline_minutes * 60 else None)
    return Verdict(offline, refused, latest.device_id, online_on, last_online,
                   latest.changed_at)


def _seen(tx: Tx, owner_email: str, login: int, server: str) -> list[Seen]:
    """The terminal's reports by the devices the owner approved (no other device's report,
    stored before it was denied or revoked, moves or names an alert)."""
    rows = tx.query("SELECT s.device_id, s.state, s.reason, s.changed_at, s.reported_at "
                    "FROM terminal_states s WHERE s.owner_email = ? AND s.login = ? AND "
                    f"s.server = ? AND {APPROVED_DEVICE}",
                    (owner_email, login, server))
    return [Seen(str(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4])) for r in rows]


# -- episodes ------------------------------------------------------------------------------


def _open(tx: Tx, owner_email: str, login: int, server: str, kind: str, detail: str,
          now: int) -> bool:
    """Open the episode unless one is open; whether this call opened it (the claim)."""
    row = tx.query_one("INSERT INTO alert_episodes (owner_email, login, server, kind, opened_at, "
                       "closed_at, detail) VALUES (?,?,?,?,?,NULL,?) "
                       "ON CONFLICT (owner_email, login, server, kind) DO UPDATE SET "
                       "opened_at = excluded.opened_at, closed_at = NULL, detail = excluded.detail "
                       "WHERE alert_episodes.closed_at IS NOT NULL RETURNING opened_at",
                       (owner_email, login, server, kind, now, detail))
    return row is not None


def _close(tx: Tx, owner_email: str, login: int, server: str, kind: str,
           now: int) -> tuple[int, str] | None:
    """Close the open episode; its (opened_at, detail) when this call closed it."""
    row = tx.query_one("UPDATE alert_episodes SET closed_at = ? WHERE owner_email = ? AND "
                       "login = ? AND server = ? AND kind = ? AND closed_at IS NULL "
                       "RETURNING opened_at, detail",
                       (now, owner_email, login, server, kind))
    return None if row is None else (int(row[0]), str(row[1]))


def _transition(tx: Tx, owner_email: str, settings: AlertSettings, login: int, server: str,
                kind: Kind, detail: str | None, device_id: str, now: int,
                extra: dict[str, object], since: int | None = None) -> int:
    """Open or close ``kind``'s episode as ``detail`` says (``None``: the condition does
    not hold); the alerts enqueued (0 when nothing changed or another instance claimed it).
    An episode opens as of ``since``, when its condition began (the last report as active
    for ``offline``: a daemon killed at 03:43 is offline since then, not since the sweep that
    noticed it), else ``now``."""
    if detail is not None:
        opened_at = now if since is None else min(since, now)
        if not _open(tx, owner_email, login, server, kind, detail, opened_at):
            return 0
        return enqueue(tx, owner_email, settings, _payload(
            "alert.opened", kind, login, server, device_id, _device_name(tx, device_id),
            opened_at, now, detail, extra), now)
    closed = _close(tx, owner_email, login, server, kind, now)
    if closed is None:
        return 0
    opened_at, was = closed
    return enqueue(tx, owner_email, settings, _payload(
        "alert.recovered", kind, login, server, device_id, _device_name(tx, device_id),
        opened_at, now, was, extra), now)


def _device_name(tx: Tx, device_id: str) -> str:
    """The name the device reported for itself (cleaned when stored), empty when unknown:
    read only for an alert being sent, so a report that changes nothing reads nothing more."""
    if not device_id:
        return ""
    row = tx.query_one("SELECT name FROM devices WHERE device_id = ?", (device_id,))
    return "" if row is None else str(row[0])


def _payload(event: str, kind: str, login: int, server: str, device_id: str,
             device_name: str, opened_at: int, at: int, detail: str,
             extra: dict[str, object]) -> dict[str, object]:
    return {"id": f"{kind}:{login}@{server}:{opened_at}:{event.rpartition('.')[2]}",
            "type": event, "kind": kind, "login": login, "server": server,
            "device_id": device_id, "device_name": device_name, "opened_at": opened_at,
            "at": at, "detail": detail, **extra}


def observe(tx: Tx, owner_email: str, login: int, server: str, device_id: str,
            margin: tuple[float, float] | None, now: int,
            settings: AlertSettings | None = None) -> int:
    """Judge one terminal after a report of it was stored (``margin``: the report's
    ``(margin, margin_level)`` when an active report carried them; ``settings``: the
    owner's, when the caller read them in this transaction); the alerts enqueued."""
    if settings is None:
        settings = settings_of(tx, owner_email)
    if not any(settings.wants(k) for k in KINDS):
        return 0
    sent = _judge(tx, owner_email, settings, login, server, now)
    if settings.wants("margin") and margin is not None:
        used, level = margin
        threshold = settings.margin_pct
        extra: dict[str, object] = {"margin_level": level, "threshold": threshold}
        if used > 0 and level < threshold:
            sent += _transition(tx, owner_email, settings, login, server, "margin",
                                f"margin level {level:.2f} % under {threshold:g} %", device_id,
                                now, extra)
        elif used <= 0 or level >= threshold * MARGIN_RECOVERY:
            sent += _transition(tx, owner_email, settings, login, server, "margin", None,
                                device_id, now, extra)
    return sent


def _judge(tx: Tx, owner_email: str, settings: AlertSettings, login: int, server: str,
           now: int) -> int:
    seen = _seen(tx, owner_email, login, server)
    if not seen:  # no approved device speaks for it: nothing to judge, no episode moves
        return 0
    verdict = conditions(seen, now, settings.offline_minutes)
    sent = 0
    # One cause, one alert: while the owner hears of a refusal, the terminal that refusal
    # keeps away is not also alerted offline, nor said "back online" when the refusal ends
    # (its episode is left as it is). An owner watching offline alone hears of it as offline.
    covered = settings.wants("refused") and verdict.refused is not None
    if settings.wants("offline") and not covered:
        sent += _transition(tx, owner_email, settings, login, server, "offline",
                            verdict.offline, verdict.offline_device_id, now,
                            {"offline_minutes": settings.offline_minutes},
                            verdict.offline_since)
    if settings.wants("refused"):
        sent += _transition(tx, owner_email, settings, login, server, "refused",
                            verdict.refused, verdict.device_id, now,
                            {"reason": verdict.refused or ""}, verdict.refused_since)
    return sent


def sweep(tx: Tx, now: int) -> int:
    """Judge every terminal of every owner watching ``offline`` or ``refused``: a daemon
    that died reports nothing, so only the passing time opens its terminal's episode. The
    alerts enqueued."""
    owners = [str(r[0]) for r in tx.query(
        "SELECT owner_email FROM alert_settings WHERE offline_minutes > 0 OR "
        "refused_enabled <> 0 ORDER BY owner_email")]
    sent = 0
    for owner in owners:
        settings = settings_of(tx, owner)
        terminals = tx.query("SELECT DISTINCT login, server FROM terminal_states WHERE "
                             "owner_email = ? ORDER BY login, server", (owner,))
        for login, server in terminals:
            sent += _judge(tx, owner, settings, int(login), str(server), now)
    return sent


# -- the outbox ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """One alert on one channel, and how its delivery went."""

    id: int
    owner_email: str
    channel: str
    event: str
    payload: dict[str, object]
    status: str
    attempts: int
    next_at: int
    last_error: str
    created_at: int
    done_at: int | None

    @property
    def body(self) -> bytes:
        """The webhook's body: the payload as compact JSON, keys sorted (what is signed)."""
        return json.dumps(self.payload, sort_keys=True, separators=(",", ":")).encode()


_COLUMNS: Final = ("id, owner_email, channel, event, payload, status, attempts, next_at, "
                   "last_error, created_at, done_at")


def _delivery(row: Sequence[object]) -> Delivery:
    payload = json.loads(str(row[4]))
    return Delivery(int(str(row[0])), str(row[1]), str(row[2]), str(row[3]), payload,
                    str(row[5]), int(str(row[6])), int(str(row[7])), str(row[8]),
                    int(str(row[9])), None if row[10] is None else int(str(row[10])))


def enqueue(tx: Tx, owner_email: str, settings: AlertSettings, payload: dict[str, object],
            now: int) -> int:
    """A delivery row per channel the owner chose; how many."""
    text = json.dumps(payload, sort_keys=True)
    for channel in settings.channels:
        tx.execute("INSERT INTO alert_deliveries (owner_email, channel, event, payload, "
                   "status, attempts, next_at, lease_until, last_error, created_at) "
                   "VALUES (?,?,?,?,'pending',0,?,0,'',?)",
                   (owner_email, channel, str(payload["type"]), text, now, now))
    return len(settings.channels)


def due(tx: Tx, now: int, limit: int = 20) -> list[int]:
    """The ids of deliveries ready to be tried: pending and due, or sending past their
    lease (the instance sending them went away)."""
    rows = tx.query("SELECT id FROM alert_deliveries WHERE (status = 'pending' AND "
                    "next_at <= ?) OR (status = 'sending' AND lease_until <= ?) "
                    "ORDER BY id LIMIT ?", (now, now, limit))
    return [int(r[0]) for r in rows]


def claim(tx: Tx, delivery_id: int, now: int) -> Delivery | None:
    """Take one delivery for sending (counts an attempt); ``None`` when another sender
    took it first or it is no longer due."""
    row = tx.query_one(f"UPDATE alert_deliveries SET status = 'sending', lease_until = ?, "
                       f"attempts = attempts + 1 WHERE id = ? AND ((status = 'pending' AND "
                       f"next_at <= ?) OR (status = 'sending' AND lease_until <= ?)) "
                       f"RETURNING {_COLUMNS}",
                       (now + LEASE_S, delivery_id, now, now))
    return None if row is None else _delivery(row)


def finish(tx: Tx, delivery: Delivery, error: str, now: int) -> str:
    """Record an attempt's outcome (``error`` empty: delivered); the new status: ``sent``,
    ``pending`` (to be retried) or ``failed`` (given up), or ``""`` when this claim was
    superseded (its lease ran out and another sender took the delivery over)."""
    if not error:
        status, next_at = "sent", now
    elif delivery.attempts >= MAX_ATTEMPTS:
        status, next_at = "failed", now
    else:
        status = "pending"
        next_at = now + RETRY_AFTER_S[min(delivery.attempts, len(RETRY_AFTER_S)) - 1]
    row = tx.query_one("UPDATE alert_deliveries SET status = ?, next_at = ?, last_error = ?, "
                       "done_at = ?, lease_until = 0 WHERE id = ? AND status = 'sending' "
                       "AND attempts = ? RETURNING id",  # this claim's, not a later one's
                       (status, next_at, error[:300],
                        now if status in ("sent", "failed") else None, delivery.id,
                        delivery.attempts))
    return status if row is not None else ""


def deliveries_of(tx: Tx, owner_email: str, limit: int = 20) -> list[Delivery]:
    """The owner's latest deliveries, newest first."""
    rows = tx.query(f"SELECT {_COLUMNS} FROM alert_deliveries WHERE owner_email = ? "
                    f"ORDER BY id DESC LIMIT ?", (owner_email, limit))
    return [_delivery(r) for r in rows]


#: ``(tx, owner, login, server, device_id, margin, now, the owner's settings as read in
#: this transaction) -> alerts enqueued``: what the terminal reports call after storing each
#: state (``service/terminals.py``).
Observer = Callable[[Tx, str, int, str, str, "tuple[float, float] | None", int,
                     "AlertSettings | None"], int]


def margin_of(state: str, figures: AccountFigures | None,
              live: AccountDetails | None = None) -> tuple[float, float] | None:
    """An active report's ``(margin, margin_level)``, when it carried both: the broker's.
    While the account trades on paper, ``live`` (the live book read beside the paper one)
    says them; the paper book's margin is no money at the broker, and a margin alert that
    watched it would watch a book with no broker behind it."""
    if state != "active":
        return None
    if live is not None:
        used, level = live.account.get("margin"), live.account.get("margin_level")
        if isinstance(used, int | float) and isinstance(level, int | float) \
                and not isinstance(used, bool) and not isinstance(level, bool):
            return float(used), float(level)
        return None
    if figures is None or figures.book == "paper" or figures.margin is None \
            or figures.margin_level is None:
        return None
    return figures.margin, figures.margin_level

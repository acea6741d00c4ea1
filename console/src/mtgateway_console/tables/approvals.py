"""The devices' and their approvals' tables: who asked, each (owner, device) approval, the
code e-mails sent (the resend limits count them), the lookups that asked, the wrong codes per
owner and the owner's approval lock.

The rules are :mod:`.devices`' (a pure state machine) and the service's (``service/approvals``,
``service/records``); the statements on these tables stand here, together. Every function takes
the transaction it runs in (``tx``, first), as every table module's does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ..database import Tx
from ..devices import Approval
from .store import aliased

__all__ = [
    "APPROVAL_WIDTH",
    "DeviceRow",
    "approval",
    "approval_columns",
    "approval_token",
    "approved_device",
    "approvals_locked_until",
    "approvals_of_device",
    "approvals_of_owner",
    "asking_devices",
    "delete_approval",
    "device",
    "failures",
    "lock_approvals",
    "note_approval_token",
    "pending_approvals",
    "record_failure",
    "record_send",
    "record_token_send",
    "save_approval",
    "sends",
    "token_sends",
    "upsert_device",
]

_APPROVAL_COLS: Final = ("approval_id, owner_email, device_id, status, created_at, code_mac, "
                         "code_issued_at, tries_left, approved_at")
#: How many columns :func:`approval_columns` names (the basis reads a joined row by them).
APPROVAL_WIDTH: Final = len(_APPROVAL_COLS.split(","))


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """A device that has asked the authority for something."""

    device_id: str
    public_key: bytes
    name: str
    os: str
    first_seen: int
    last_seen: int


def approval_columns(alias: str) -> str:
    """The columns of an :class:`~.devices.Approval`, of the approvals table ``alias``."""
    return aliased(_APPROVAL_COLS, alias)


def approved_device(alias: str) -> str:
    """The SQL condition that the row ``alias`` (with ``owner_email`` and ``device_id``
    columns) comes from a device its owner approves *now*. Every reading of what daemons
    reported passes through it: a device the owner denied or revoked after it reported no
    longer speaks for the owner's terminals, on a page, in an alert or in the API."""
    return (f"EXISTS (SELECT 1 FROM approvals a WHERE a.owner_email = {alias}.owner_email "
            f"AND a.device_id = {alias}.device_id AND a.status = 'approved')")


def upsert_device(tx: Tx, device_id: str, public_key: bytes, name: str, os_name: str,
                  now: int) -> None:
    """Remember a device; its name and OS are updated, its key never changes."""
    tx.execute("INSERT INTO devices VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device_id) "
               "DO UPDATE SET name = excluded.name, os = excluded.os, "
               "last_seen = excluded.last_seen",
               (device_id, public_key, name, os_name, now, now))


def device(tx: Tx, device_id: str) -> DeviceRow | None:
    """A known device."""
    r = tx.query_one("SELECT device_id, public_key, name, os, first_seen, last_seen "
                     "FROM devices WHERE device_id = ?", (device_id,))
    return None if r is None else DeviceRow(r[0], bytes(r[1]), r[2], r[3], r[4], r[5])


def _approvals(tx: Tx, clause: str, *args: Any) -> list[Approval]:
    rows = tx.query(f"SELECT {_APPROVAL_COLS} FROM approvals WHERE {clause}",
                    args)
    return [Approval(*r) for r in rows]


def approval(tx: Tx, owner_email: str, device_id: str) -> Approval | None:
    """The approval of a device for an owner."""
    rows = _approvals(tx, "owner_email = ? AND device_id = ?", owner_email, device_id)
    return rows[0] if rows else None


def approvals_of_device(tx: Tx, device_id: str) -> list[Approval]:
    """Every owner's approval of this device."""
    return _approvals(tx, "device_id = ? ORDER BY owner_email", device_id)


def approvals_of_owner(tx: Tx, owner_email: str) -> list[Approval]:
    """Every device an owner has been asked to approve."""
    return _approvals(tx, "owner_email = ? ORDER BY created_at, device_id",
                           owner_email)


def asking_devices(tx: Tx) -> list[str]:
    """Every device that asked any owner's approval, whatever the answer (the console's
    key gate reads them at start: ``keygate``)."""
    return [r[0] for r in tx.query("SELECT DISTINCT device_id FROM approvals")]


def pending_approvals(tx: Tx) -> int:
    """How many approvals, of every owner, wait for a code (the console's metrics)."""
    row = tx.query_one("SELECT count(*) FROM approvals WHERE status = 'pending'")
    return int(row[0])


def delete_approval(tx: Tx, owner_email: str, device_id: str) -> None:
    """Drop the (owner, device) approval row (the device row stays: other owners' rows may
    name it, and a later lookup updates it)."""
    tx.execute("DELETE FROM approvals WHERE owner_email = ? AND device_id = ?",
               (owner_email, device_id))


def save_approval(tx: Tx, approval: Approval) -> None:
    """Insert or replace the (owner, device) approval."""
    tx.execute(f"INSERT INTO approvals ({_APPROVAL_COLS}) "
               "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (owner_email, device_id) DO "
               "UPDATE SET approval_id = excluded.approval_id, status = excluded.status, "
               "created_at = excluded.created_at, code_mac = excluded.code_mac, "
               "code_issued_at = excluded.code_issued_at, "
               "tries_left = excluded.tries_left, approved_at = excluded.approved_at",
               (approval.approval_id, approval.owner_email, approval.device_id,
                approval.status, approval.created_at, approval.code_mac,
                approval.code_issued_at, approval.tries_left, approval.approved_at))


def record_send(tx: Tx, device_id: str, owner_email: str, now: int) -> None:
    """Note that a code e-mail went out (the resend limits count these)."""
    tx.execute("INSERT INTO code_sends VALUES (?, ?, ?)", (device_id, owner_email, now))
    tx.execute("DELETE FROM code_sends WHERE sent_at < ?", (now - 2 * 86400,))


def note_approval_token(tx: Tx, approval_id: str, token_id: str, now: int) -> None:
    """Note that ``token_id``'s lookup asked for the approval (the latest one counts)."""
    tx.execute("INSERT INTO approval_tokens VALUES (?, ?, ?) ON CONFLICT (approval_id) "
               "DO UPDATE SET token_id = excluded.token_id, noted_at = excluded.noted_at",
               (approval_id, token_id, now))
    tx.execute("DELETE FROM approval_tokens WHERE noted_at < ?", (now - 30 * 86400,))


def approval_token(tx: Tx, approval_id: str) -> str | None:
    """The token whose lookup last asked for the approval, or ``None``."""
    row = tx.query_one("SELECT token_id FROM approval_tokens WHERE approval_id = ?",
                       (approval_id,))
    return None if row is None else str(row[0])


def token_sends(tx: Tx, token_id: str, *, since: int) -> list[int]:
    """When the token's lookups caused codes after ``since``, oldest first."""
    rows = tx.query("SELECT sent_at FROM token_code_sends WHERE token_id = ? AND "
                    "sent_at > ? ORDER BY sent_at", (token_id, since))
    return [int(r[0]) for r in rows]


def record_token_send(tx: Tx, token_id: str, now: int) -> None:
    """Note a code caused by the token's lookup (rows older than two days dropped)."""
    tx.execute("INSERT INTO token_code_sends VALUES (?, ?)", (token_id, now))
    tx.execute("DELETE FROM token_code_sends WHERE sent_at < ?", (now - 2 * 86400,))


def record_failure(tx: Tx, owner_email: str, device_id: str, now: int,
                   keep_s: int = 2 * 86400) -> None:
    """Note a wrong approval code for an owner (the account-wide lock counts these); rows
    older than ``keep_s`` are dropped, so the table stays as small as the window needs."""
    tx.execute("INSERT INTO code_failures VALUES (?, ?, ?)",
               (owner_email, device_id, now))
    tx.execute("DELETE FROM code_failures WHERE failed_at < ?", (now - keep_s,))


def failures(tx: Tx, owner_email: str, *, since: int) -> list[tuple[int, str]]:
    """``(time, device_id)`` of the owner's wrong codes after ``since``, oldest first."""
    rows = tx.query("SELECT failed_at, device_id FROM code_failures "
                    "WHERE owner_email = ? AND failed_at > ? ORDER BY failed_at",
                    (owner_email, since))
    return [(int(r[0]), str(r[1])) for r in rows]


def lock_approvals(tx: Tx, owner_email: str, now: int, until: int) -> None:
    """Lock the owner's device approvals until ``until``; the failures that caused it are
    cleared, so the next lock takes a full count of new ones."""
    tx.execute("INSERT INTO approval_locks VALUES (?, ?, ?) ON CONFLICT (owner_email) "
               "DO UPDATE SET locked_at = excluded.locked_at, "
               "locked_until = excluded.locked_until",
               (owner_email, now, until))
    tx.execute("DELETE FROM code_failures WHERE owner_email = ?", (owner_email,))


def approvals_locked_until(tx: Tx, owner_email: str) -> int | None:
    """When the owner's approval lock ends (possibly in the past), or ``None``."""
    row = tx.query_one("SELECT locked_until FROM approval_locks WHERE owner_email = ?",
                       (owner_email,))
    return None if row is None else int(row[0])


def sends(tx: Tx, *, device_id: str | None = None, owner_email: str | None = None,
          since: int) -> list[int]:
    """Send times since ``since`` for a device or an owner."""
    column, value = ("device_id", device_id) if device_id else ("owner_email", owner_email)
    rows = tx.query(f"SELECT sent_at FROM code_sends WHERE {column} = ? "
                    "AND sent_at >= ? ORDER BY sent_at", (value, since))
    return [int(r[0]) for r in rows]

"""Terminal states as daemons report them (``mtgateway_base.wire.reports``): what the
console's dashboard shows.

A daemon reports, signed with its device key, each terminal's state when it changes and all of
them periodically (``gateway.auth.reporter``): ``active`` (an EA session is up), ``disconnected``
(it went down, with the bridge's reason) or ``refused`` (a handshake was refused: the reason
word the EA got, e.g. ``token_expired``, ``token_revoked``, ``device_not_approved``,
``terminal_mismatch``). The authority keeps the latest per (owner, device, terminal).

A report is believed only as far as it can be: the owner is found from the token the EA used
(its id, or for a refused EA the hint it sent), and the reporting device must be one the owner
approved (``service/terminals.py``); what a device reported before it was denied or revoked
is no longer shown (:func:`of` reads the rows of approved devices only). A hint-only report is
a refusal of the token's own terminal, whatever terminal it names. A report naming no token
of any owner says nothing to anyone and is dropped. States older than :data:`SILENT_AFTER_S`
are shown as "not heard from": a daemon that died cannot report its own death.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mtgateway_base.wire.reports import REPORT_INTERVAL_S, AccountFigures, TerminalReport

from ..database import Tx
from .approvals import approved_device
from .migrations import ensure_tables

__all__ = ["APPROVED_DEVICE", "SILENT_AFTER_S", "StoredState", "TerminalRow", "create_tables",
           "figures_of", "of", "save"]

#: A state not re-reported for this long is shown as "daemon not heard from".
SILENT_AFTER_S: Final = 3 * REPORT_INTERVAL_S + 15

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS terminal_states (
    owner_email TEXT NOT NULL, device_id TEXT NOT NULL, login INTEGER NOT NULL,
    server TEXT NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL, token_id TEXT NOT NULL,
    platform TEXT NOT NULL, ea_version TEXT NOT NULL, changed_at INTEGER NOT NULL,
    reported_at INTEGER NOT NULL, PRIMARY KEY (owner_email, device_id, login, server));
CREATE TABLE IF NOT EXISTS terminal_figures (
    owner_email TEXT NOT NULL, device_id TEXT NOT NULL, login INTEGER NOT NULL,
    server TEXT NOT NULL, balance DOUBLE PRECISION NOT NULL, equity DOUBLE PRECISION NOT NULL,
    currency TEXT NOT NULL, positions INTEGER NOT NULL,
    PRIMARY KEY (owner_email, device_id, login, server));
"""


@dataclass(frozen=True, slots=True)
class TerminalRow:
    """The latest state of one terminal on one device, for one owner."""

    owner_email: str
    device_id: str
    login: int
    server: str
    state: str
    reason: str
    token_id: str
    platform: str
    ea_version: str
    changed_at: int
    reported_at: int

    def shown_state(self, now: int) -> str:
        """``active``/``disconnected``/``refused``, or ``silent`` when the daemon stopped
        reporting."""
        return "silent" if now - self.reported_at > SILENT_AFTER_S else self.state


def create_tables(tx: Tx) -> None:
    """Create the ``terminal_states`` and ``terminal_figures`` tables if missing (at start;
    in the shared database on PostgreSQL: every console instance shows the same dashboard)."""
    ensure_tables(tx, _SCHEMA)


@dataclass(frozen=True, slots=True)
class StoredState:
    """A terminal's state as one device last reported it, before the report now stored:
    what decides whether that report is a change."""

    state: str
    reason: str
    token_id: str
    changed_at: int


def save(tx: Tx, owner_email: str, device_id: str, report: TerminalReport, now: int,
         figures: AccountFigures | None, before: StoredState | None, *,
         figures_kept: bool = True) -> bool:
    """Store the latest state (and an active terminal's figures); whether the state
    differs from ``before``, the one stored (``None``: none; read in this transaction by
    the report's lookup, ``prior.py``). ``figures_kept``: whether the terminal has figures
    stored (a report that is not active drops them, so without any there is nothing to
    delete)."""
    key = (owner_email, device_id, report.login, report.server)
    changed = before is None or (before.state, before.reason, before.token_id) != (
        report.state, report.reason, report.token_id)
    changed_at = now if changed or before is None else before.changed_at
    tx.execute("INSERT INTO terminal_states VALUES (?,?,?,?,?,?,?,?,?,?,?) "
               "ON CONFLICT (owner_email, device_id, login, server) DO UPDATE SET "
               "state = excluded.state, reason = excluded.reason, "
               "token_id = excluded.token_id, platform = excluded.platform, "
               "ea_version = excluded.ea_version, changed_at = excluded.changed_at, "
               "reported_at = excluded.reported_at",
               (*key, report.state, report.reason, report.token_id, report.platform,
                report.ea_version, changed_at, now))
    if figures is not None and report.state == "active":
        tx.execute("INSERT INTO terminal_figures VALUES (?,?,?,?,?,?,?,?) "
                   "ON CONFLICT (owner_email, device_id, login, server) DO UPDATE SET "
                   "balance = excluded.balance, equity = excluded.equity, "
                   "currency = excluded.currency, positions = excluded.positions",
                   (*key, figures.balance, figures.equity, figures.currency,
                    figures.positions))
    elif figures_kept:
        tx.execute("DELETE FROM terminal_figures WHERE owner_email = ? AND "
                   "device_id = ? AND login = ? AND server = ?", key)
    return changed


#: The condition on ``terminal_states s`` that its device is one the owner approved now.
APPROVED_DEVICE: Final = approved_device("s")


def of(tx: Tx, owner_email: str) -> list[TerminalRow]:
    """The owner's terminals as the devices the owner approved report them, by login and
    server, then device."""
    rows = tx.query("SELECT s.owner_email, s.device_id, s.login, s.server, s.state, "
                    "s.reason, s.token_id, s.platform, s.ea_version, s.changed_at, "
                    f"s.reported_at FROM terminal_states s WHERE s.owner_email = ? "
                    f"AND {APPROVED_DEVICE} ORDER BY s.login, s.server, s.device_id",
                    (owner_email,))
    return [TerminalRow(*r) for r in rows]


def figures_of(tx: Tx, owner_email: str) -> dict[tuple[str, int, str], AccountFigures]:
    """The account figures of the owner's active terminals, by (device, login, server)."""
    rows = tx.query("SELECT f.device_id, f.login, f.server, f.balance, f.equity, "
                    "f.currency, f.positions FROM terminal_figures f WHERE f.owner_email = ? "
                    f"AND {approved_device('f')}",
                    (owner_email,))
    return {(str(r[0]), int(r[1]), str(r[2])):
            AccountFigures(float(r[3]), float(r[4]), str(r[5]), int(r[6])) for r in rows}

"""What the database holds of a reported terminal before its report is stored: one read.

A daemon reports each of its terminals every 30 s, most of the console's calls. What decides
such a report, and which of its writes would change nothing, is spread over many tables: the
token it names (whose owner it speaks for, and of which terminal), the reporting device's
approval by that owner, the state that device reported last, the terminal's stored figures,
book and snapshot, its latest equity point, whether it is verified, the token's last use and
the owner's alert settings. Read one by one they were as many statements, and on PostgreSQL
each statement is a round trip that costs the console CPU (the driver's Python, and a hand-off
between the database's worker and the event loop); :func:`prior_of` reads them in one.

The rules stay where they were: ``service/terminals.py`` decides what the report is believed
to say, ``reports.py`` whether its state is a change, ``equity.py`` what its point replaces,
``alerts.py`` what the owner hears; each is told what this read found instead of reading it
again. Nothing of it is kept between reports: another console process, or another instance,
may have written since, so each report reads afresh, in its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from ..database import Tx
from .alerts import AlertSettings, settings_columns, settings_from
from .reports import StoredState
from .token_details import TokenDetails

__all__ = ["Prior", "prior_of"]

#: The same terminal on the same device, for the same owner, in the table named ``{0}``: the
#: token's terminal, as the approval's device reported it (a report naming a token is stored
#: on the token's own terminal, or not at all).
_SAME_TERMINAL: Final = ("{0}.owner_email = t.owner_email AND {0}.device_id = a.device_id "
                         "AND {0}.login = t.login AND {0}.server = t.server")
_PRIOR: Final = (
    "SELECT t.owner_email, t.token_id, t.login, t.server, a.status, "
    "s.state, s.reason, s.token_id, s.changed_at, "
    "EXISTS (SELECT 1 FROM terminal_figures f WHERE " + _SAME_TERMINAL.format("f") + "), "
    "EXISTS (SELECT 1 FROM terminal_books b WHERE " + _SAME_TERMINAL.format("b") + "), "
    "EXISTS (SELECT 1 FROM terminal_snapshots n WHERE " + _SAME_TERMINAL.format("n") + "), "
    "(SELECT MAX(e.at) FROM equity_points e WHERE " + _SAME_TERMINAL.format("e") + "), "
    "EXISTS (SELECT 1 FROM verified_terminals v WHERE v.owner_email = t.owner_email "
    "AND v.login = t.login AND v.server = t.server), "
    "d.label, d.used_at, d.used_device, d.used_address, "
    f"{settings_columns('al')} "
    "FROM tokens t "
    "LEFT JOIN approvals a ON a.owner_email = t.owner_email AND a.device_id = ? "
    "LEFT JOIN terminal_states s ON " + _SAME_TERMINAL.format("s") + " "
    "LEFT JOIN token_details d ON d.token_id = t.token_id "
    "LEFT JOIN alert_settings al ON al.owner_email = t.owner_email "
    "WHERE t.{0} = ?")
#: The read by the token's id (an EA's session) and by its hint (a refused handshake).
_BY: Final = {"token_id": _PRIOR.format("token_id"), "token_hint": _PRIOR.format("token_hint")}


@dataclass(frozen=True, slots=True)
class Prior:
    """A report's token, and what is stored of the token's terminal as the reporting device
    reported it (the fields past ``approved`` mean something only when it is ``True``)."""

    owner_email: str
    token_id: str
    login: int
    server: str
    #: Whether the token's owner approves the reporting device now.
    approved: bool
    #: The state this device last reported (``None``: never).
    state: StoredState | None
    #: Whether figures, a positions book and an account snapshot are stored.
    figures_kept: bool
    book_kept: bool
    snapshot_kept: bool
    #: When the latest equity point is (``None``: the series is empty).
    latest_point: int | None
    #: Whether the owner's terminal ever proved itself (``verification.py``).
    verified: bool
    #: The token's label and last use (``None``: no row).
    use: TokenDetails | None
    #: The owner's alert settings (all off when never saved).
    settings: AlertSettings


def prior_of(tx: Tx, device_id: str, by: Literal["token_id", "token_hint"],
             value: str) -> Prior | None:
    """What decides a report of ``device_id`` naming the token whose ``by`` is ``value``
    (``None``: no such token)."""
    r = tx.query_one(_BY[by], (device_id, value))
    if r is None:
        return None
    state = None if r[5] is None else StoredState(str(r[5]), str(r[6]), str(r[7]), int(r[8]))
    use = None if r[14] is None else TokenDetails(
        str(r[14]), None if r[15] is None else int(r[15]), str(r[16]), str(r[17]))
    return Prior(str(r[0]), str(r[1]), int(r[2]), str(r[3]), r[4] == "approved", state,
                 bool(r[9]), bool(r[10]), bool(r[11]), None if r[12] is None else int(r[12]),
                 bool(r[13]), use, settings_from(r[18:]))

"""What the console's pages compute for the owner to read: times, the terminals table, the
"verified" mark and the getting-started checklist.

Kept apart from the page rooms because none of it does I/O: each function takes
the authority's plain rows and the clock's "now" and returns what a template shows, so the
rules (when an account counts as verified, when a step counts as done) are read in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..reports import AccountFigures, TerminalRow
from ..store import AccountRow
from ..verification import PROVEN_STATES

__all__ = ["Step", "ago", "checklist", "live_tokens", "terminal_rows", "verified_terminals",
           "when"]

#: Reported states that prove a terminal logged in under one of the owner's tokens (a
#: ``refused`` report only repeats what an unauthenticated EA claimed).
_PROVEN: frozenset[str] = PROVEN_STATES


def when(epoch: float | None) -> str:
    """An absolute UTC time (the ``title`` beside a relative one), or a dash."""
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(epoch: float | None, now: float) -> str:
    """A relative time: "just now", "5 min ago", "3 h ago", "2 days ago" ("in ..." ahead)."""
    if epoch is None:
        return "—"
    delta = now - epoch
    future = delta < 0
    seconds = abs(delta)
    if seconds < 60:
        return "just now" if not future else "in under a minute"
    for size, unit in ((86400, "day"), (3600, "h"), (60, "min")):
        if seconds >= size:
            count = int(seconds // size)
            word = f"{count} {unit}{'s' if unit == 'day' and count != 1 else ''}"
            return f"in {word}" if future else f"{word} ago"
    return "just now"  # pragma: no cover - the loop always returns for seconds >= 60


def verified_terminals(reports: Iterable[TerminalRow],
                       proven: Iterable[tuple[int, str]] = ()) -> set[tuple[int, str]]:
    """The (login, server) pairs a daemon has reported logged in under the owner's token:
    now, or once (``proven``, kept by ``verification.py``: a revoked token does not undo the
    proof)."""
    return {(r.login, r.server) for r in reports if r.state in _PROVEN} | set(proven)


def live_tokens(tokens: Iterable[dict[str, Any]], now: float) -> dict[tuple[int, str], int]:
    """How many unrevoked, unexpired tokens each (login, server) has: the token state the
    accounts page shows beside "verified"."""
    out: dict[tuple[int, str], int] = {}
    for t in tokens:
        if t["revoked_at"] is None and (t["expires_at"] is None or t["expires_at"] > now):
            key = (t["login"], t["server"])
            out[key] = out.get(key, 0) + 1
    return out


def terminal_rows(reports: Sequence[TerminalRow], tokens: Sequence[dict[str, Any]],
                  devices: dict[str, dict[str, Any]], now: int,
                  figures: dict[tuple[str, int, str], AccountFigures] | None = None,
                  ) -> list[dict[str, Any]]:
    """Every terminal the owner has a token for, with each device's latest report and, while
    it is active, the account figures its daemon read; a token never used shows "never"."""
    figures = figures or {}
    labels = {t["token_id"]: t.get("label", "") for t in tokens}
    rows: list[dict[str, Any]] = []
    reported: set[tuple[int, str]] = set()
    for report in reports:
        reported.add((report.login, report.server))
        device = devices.get(report.device_id, {})
        rows.append({"login": report.login, "server": report.server,
                     "state": report.shown_state(now), "reason": report.reason,
                     "platform": report.platform, "ea_version": report.ea_version,
                     "device_name": device.get("name", ""), "device_id": report.device_id,
                     "since": report.changed_at, "last_seen": report.reported_at,
                     "token_id": report.token_id, "token_label": labels.get(report.token_id, ""),
                     "figures": figures.get((report.device_id, report.login, report.server))
                     if report.shown_state(now) == "active" else None})
    for token in tokens:
        key = (token["login"], token["server"])
        if key not in reported and token["revoked_at"] is None:
            reported.add(key)
            rows.append({"login": key[0], "server": key[1], "state": "never", "reason": "",
                         "platform": "", "ea_version": "", "device_name": "", "device_id": "",
                         "since": None, "last_seen": None, "token_id": token["token_id"],
                         "token_label": token.get("label", ""), "figures": None})
    return rows


@dataclass(frozen=True, slots=True)
class Step:
    """One getting-started step: what to do, where, and whether it is done."""

    key: str
    text: str
    href: str
    done: bool


def checklist(accounts: Sequence[AccountRow], tokens: Sequence[dict[str, Any]],
              devices: Sequence[dict[str, Any]], reports: Sequence[TerminalRow]) -> list[Step]:
    """The four steps from nothing to a terminal serving bots, each done or not."""
    return [
        Step("account", "Register your MetaTrader account and its risk policy", "/accounts",
             bool(accounts)),
        Step("token", "Create a token for that terminal", "/tokens", bool(tokens)),
        Step("device", "Paste the token into the EA; approve the daemon's machine", "/devices",
             any(d["status"] == "approved" for d in devices)),
        Step("connected", "See the terminal active here", "/",
             bool(verified_terminals(reports))),
    ]

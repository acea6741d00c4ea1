"""What the console's pages compute for the owner to read: times, the terminals table, the
"verified" mark, the halts in force and the getting-started checklist.

Kept apart from the page rooms because none of it does I/O: each function takes
the authority's plain rows and the clock's "now" and returns what a template shows, so the
rules (when an account counts as verified, when a step counts as done) are read in one place.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from mtgateway_base.wire.reports import AccountFigures

from ..tables.halts import ALL, Halt
from ..tables.positions import STALE_AFTER_S
from ..tables.reports import TerminalRow
from ..tables.store import AccountRow
from ..tables.verification import PROVEN_STATES

__all__ = ["HaltNote", "Step", "agent_name", "ago", "checklist", "ended_state", "halt_notes",
           "halted", "last_heard", "live_tokens", "read_ago", "stale_note", "steps_left",
           "terminal_rows", "unguarded", "verified_terminals", "when"]

#: Reported states that prove a terminal logged in under one of the owner's tokens (a
#: ``refused`` report only repeats what an unauthenticated EA claimed).
_PROVEN: frozenset[str] = PROVEN_STATES


def when(epoch: float | None) -> str:
    """An absolute UTC time (the ``title`` beside a relative one), or a dash."""
    if epoch is None:
        return "—"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(epoch: float | None, now: float) -> str:
    """A relative time: "just now", "5 min ago", "3 h ago", "2 days ago" ("in ..." ahead).

    A time past is counted down (2 days and 23 h ago is "2 days ago": it has been two whole
    days), a time ahead to the nearest unit: a token made a moment ago for 90 days expires
    in 90 days less a few seconds, which the owner chose as "90 days", not "89"."""
    if epoch is None:
        return "—"
    delta = now - epoch
    future = delta < 0
    seconds = abs(delta)
    if seconds < 60:
        return "just now" if not future else "in under a minute"
    for size, unit in ((86400, "day"), (3600, "h"), (60, "min")):
        if seconds >= size:
            count = int((seconds + size / 2) // size) if future else int(seconds // size)
            word = f"{count} {unit}{'s' if unit == 'day' and count != 1 else ''}"
            return f"in {word}" if future else f"{word} ago"
    return "just now"  # pragma: no cover - the loop always returns for seconds >= 60


#: Browsers by the product token that names them, most specific first (Edge and Opera also
#: say Chrome and Safari; Chrome also says Safari; Safari says Version/).
_BROWSERS: Final = (("Edg", "Edge"), ("EdgiOS", "Edge"), ("OPR", "Opera"),
                    ("SamsungBrowser", "Samsung Internet"), ("Firefox", "Firefox"),
                    ("FxiOS", "Firefox"), ("HeadlessChrome", "Headless Chrome"),
                    ("CriOS", "Chrome"), ("Chrome", "Chrome"), ("Version", "Safari"))
#: Systems by what their browsers write in the comment, most specific first (Android says
#: Linux, iOS says "like Mac OS X").
_SYSTEMS: Final = (("Windows", "Windows"), ("Android", "Android"), ("iPhone", "iOS"),
                   ("iPad", "iPadOS"), ("CrOS", "ChromeOS"), ("Mac OS X", "macOS"),
                   ("Macintosh", "macOS"), ("Linux", "Linux"))
#: Product tokens that name an engine, a platform or a language, not the program itself.
_ENGINES: Final = frozenset({"Mozilla", "AppleWebKit", "Gecko", "KHTML", "Safari", "Mobile",
                             "Version", "Python"})
_PRODUCT: Final = re.compile(r"([A-Za-z][A-Za-z0-9._-]*)/([0-9]+)")


def agent_name(user_agent: str) -> str:
    """A ``User-Agent`` as the owner tells browsers apart: "Firefox 128 on Windows",
    "Headless Chrome 156 on Linux"; another browser or a program by its own product as it
    wrote it ("curl/8.5.0", "aiohttp/3.9.5"); an empty one "(not said)"."""
    products = {m.group(1): m.group(2) for m in _PRODUCT.finditer(user_agent)}
    browser = next((f"{shown} {products[token]}" for token, shown in _BROWSERS
                    if token in products and (token != "Version" or "Safari" in products)),
                   None)
    system = next((shown for token, shown in _SYSTEMS if token in user_agent), None)
    if browser is None:  # another browser or a program: its own product, as written
        named = [t for t in re.sub(r"\([^)]*\)", " ", user_agent).split()
                 if "/" in t and t.split("/")[0] not in _ENGINES]
        if not named:
            return user_agent[:40] or "(not said)"
        browser = named[-1][:40]
    return f"{browser} on {system}" if system else browser


def read_ago(seconds: float) -> str:
    """How long ago figures were read, in seconds below two minutes ("71 s ago")."""
    return f"{int(seconds)} s ago" if seconds < 120 else ago(0, seconds)


def stale_note(read_at: float | None, now: float) -> str:
    """"stale: read 71 s ago" for figures or a report older than
    :data:`~mtgateway_console.tables.positions.STALE_AFTER_S`, else empty: the one wording of the
    dashboard's table and its panels, so "active" is never shown without it beside a stale
    figure."""
    if read_at is None or now - read_at <= STALE_AFTER_S:
        return ""
    return f"stale: read {read_ago(now - read_at)}"


def last_heard(devices: Sequence[dict[str, Any]], reports: Sequence[TerminalRow]
               ) -> list[dict[str, Any]]:
    """``devices`` with ``last_seen`` the last time each was heard from: a lookup (the
    device's own row) or a terminal report, whichever is later, so the Devices page and the
    dashboard's "Last seen" (the report's time) read the same moment."""
    reported: dict[str, int] = {}
    for r in reports:
        reported[r.device_id] = max(reported.get(r.device_id, 0), r.reported_at)
    out = []
    for d in devices:
        seen = [t for t in (d.get("last_seen"), reported.get(d["device_id"])) if t is not None]
        out.append({**d, "last_seen": max(seen) if seen else None})
    return out


def verified_terminals(reports: Iterable[TerminalRow],
                       proven: Iterable[tuple[int, str]] = ()) -> set[tuple[int, str]]:
    """The (login, server) pairs a daemon has reported logged in under the owner's token:
    now, or once (``proven``, kept by ``verification.py``: a revoked token does not undo the
    proof)."""
    return {(r.login, r.server) for r in reports if r.state in _PROVEN} | set(proven)


def ended_state(token: dict[str, Any], now: float) -> tuple[str, int] | None:
    """Whether a token can serve no terminal any more, and since when: ``("revoked", when)``
    or ``("expired", when)``; ``None`` while it is live."""
    if token["revoked_at"] is not None:
        return "revoked", int(token["revoked_at"])
    if token["expires_at"] is not None and token["expires_at"] <= now:
        return "expired", int(token["expires_at"])
    return None


def live_tokens(tokens: Iterable[dict[str, Any]], now: float) -> dict[tuple[int, str], int]:
    """How many unrevoked, unexpired tokens each (login, server) has: the token state the
    accounts page shows beside "verified"."""
    out: dict[tuple[int, str], int] = {}
    for t in tokens:
        if ended_state(t, now) is None:
            key = (t["login"], t["server"])
            out[key] = out.get(key, 0) + 1
    return out


@dataclass(frozen=True, slots=True)
class HaltNote:
    """One halt in force, as the dashboard, live and accounts pages show it beside the
    button that lifts it."""

    #: A short id for the page's elements (``all`` for the owner-wide halt).
    id: str
    #: The lift form's ``terminal`` field: ``login@server``, or ``all``.
    terminal: str
    #: The terminal in words ("5012345@MTG-Demo", "every terminal").
    named: str
    reason: str
    since: int


def halt_notes(halts: Sequence[Halt]) -> list[HaltNote]:
    """The owner's halts as the pages show them: the owner-wide one first (it covers the
    rest), then each terminal's."""
    notes = []
    for h in sorted(halts, key=lambda h: ((h.login, h.server) != ALL, h.login, h.server)):
        if (h.login, h.server) == ALL:
            notes.append(HaltNote("all", "all", "every terminal", h.reason, h.halted_at))
        else:
            terminal = f"{h.login}@{h.server}"
            notes.append(HaltNote(hashlib.sha256(terminal.encode()).hexdigest()[:12],
                                  terminal, terminal, h.reason, h.halted_at))
    return notes


def halted(halts: Sequence[Halt], login: int, server: str) -> Halt | None:
    """The halt in force on one terminal: its own, or the owner-wide one."""
    return next((h for h in halts if (h.login, h.server) in ((login, server), ALL)), None)


def terminal_rows(reports: Sequence[TerminalRow], tokens: Sequence[dict[str, Any]],
                  devices: dict[str, dict[str, Any]], now: int,
                  figures: dict[tuple[str, int, str], AccountFigures] | None = None,
                  halts: Sequence[Halt] = ()) -> list[dict[str, Any]]:
    """Every terminal the owner has a token for, with each device's latest report and, while
    it is active, the account figures its daemon read; a token never used shows "never".
    A halted terminal's row carries its halt (``halted``). A row whose token is revoked or
    has expired says so (``revoked``, ``expired``, since then) unless its daemon's report
    says the refusal itself ("refused: token revoked"): after ``mtgateway setup --undo``
    revoked the token and stopped the daemon, "daemon not heard from" named the wrong cause,
    and "disconnected" or "active" (until the daemon heard) a state the token can no longer
    serve."""
    figures = figures or {}
    labels = {t["token_id"]: t.get("label", "") for t in tokens}
    ended = {t["token_id"]: ended_state(t, now) for t in tokens}
    rows: list[dict[str, Any]] = []
    reported: set[tuple[int, str]] = set()
    for report in reports:
        reported.add((report.login, report.server))
        device = devices.get(report.device_id, {})
        state = report.shown_state(now)
        since: int | None = report.changed_at
        gone = ended.get(report.token_id)
        if gone is not None and state != "refused":
            state, since = gone
        rows.append({"login": report.login, "server": report.server,
                     "state": state, "reason": report.reason,
                     "stale": stale_note(report.reported_at, now) if state == "active" else "",
                     "platform": report.platform, "ea_version": report.ea_version,
                     "device_name": device.get("name", ""), "device_id": report.device_id,
                     "since": since, "last_seen": report.reported_at,
                     "token_id": report.token_id, "token_label": labels.get(report.token_id, ""),
                     "figures": figures.get((report.device_id, report.login, report.server))
                     if state == "active" else None,
                     "halted": halted(halts, report.login, report.server)})
    for token in tokens:
        key = (token["login"], token["server"])
        if key not in reported and token["revoked_at"] is None:
            reported.add(key)
            rows.append({"login": key[0], "server": key[1], "state": "never", "reason": "",
                         "platform": "", "ea_version": "", "device_name": "", "device_id": "",
                         "since": None, "last_seen": None, "stale": "",
                         "token_id": token["token_id"],
                         "token_label": token.get("label", ""), "figures": None,
                         "halted": halted(halts, key[0], key[1])})
    return rows


@dataclass(frozen=True, slots=True)
class Step:
    """One getting-started step: what to do, where, whether it is done, and whether the
    checklist is done without it (``optional``)."""

    key: str
    text: str
    href: str
    done: bool
    optional: bool = False


def checklist(accounts: Sequence[AccountRow], tokens: Sequence[dict[str, Any]],
              devices: Sequence[dict[str, Any]], reports: Sequence[TerminalRow],
              now: float) -> list[Step]:
    """The steps from nothing to a terminal serving bots, each done or not. Registering the
    account is optional: a token serves bots without it (under no risk policy, which
    :func:`unguarded` names on the dashboard), so a terminal active here completes the list,
    as the demo's does. The token step is done while a live token remains: one revoked (by
    ``mtgateway setup --undo``, say) or expired serves nothing, so the list asks again."""
    return [
        Step("account", "Register your MetaTrader account and its risk policy", "/accounts",
             bool(accounts), optional=True),
        Step("token", "Create a token for that terminal", "/tokens",
             bool(live_tokens(tokens, now))),
        Step("device", "Paste the token into the EA; approve the daemon's machine", "/devices",
             any(d["status"] == "approved" for d in devices)),
        Step("connected", "See the terminal active here", "/",
             bool(verified_terminals(reports))),
    ]


def steps_left(steps: Sequence[Step]) -> int:
    """The steps still to do before the checklist is done (the optional ones do not count)."""
    return sum(not step.done and not step.optional for step in steps)


def unguarded(accounts: Sequence[AccountRow], tokens: Sequence[dict[str, Any]], now: float
              ) -> list[str]:
    """The terminals a live token serves whose account is not registered: their bots trade
    under no risk policy (``login@server`` each)."""
    registered = {(a.login, a.server) for a in accounts}
    return [f"{login}@{server}" for login, server in sorted(live_tokens(tokens, now))
            if (login, server) not in registered]

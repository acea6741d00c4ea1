"""The live page (``/live``): each terminal's P/L as it changes, its pending orders, its trade
history, and its equity chart over a chosen range with its drawdown.

A page room over the kit (``kit.py``): what it shows comes from what the terminals' daemons
report (``snapshots.py``: the account, open positions and pending orders, deals;
``equity.py``: the series), each figure with the time its daemon read it. Why it is live: a
daemon reports an active terminal holding positions every few seconds and at once on each
trade event (``gateway/auth/reporter.py``), and this page is pushed each stored report by a
server-sent event stream (``/live/stream``), on which its script fetches the panels again
(``/live/panels``); a report stored by another console instance is heard at the stream's next
beat (:data:`BEAT_S`). Without JavaScript the page reloads every 10 s; a stream refused (past
its bounds, ``door/held.py``) falls back to fetching the panels every 5 s.

A stream is held by the console's door (``Door.hold``): within bounds per session, owner and
address, ended by the connection budget for a newcomer once every idle connection has gone,
and ended with its session (at once when this instance ends it; at the next beat, when the
stream asks the door for its session again, when it ended any other way).

``?range=1d|7d|30d|90d`` chooses the chart's range (``livechart.py``: gaps shown, drawdown,
a scale on which a small move looks small).

A panel shows one book (``venues.py``): the one its terminal reports now, badged "paper" for a
paper account; its history and chart are that book's alone, and its balance operations are
left out of the change and the drawdown.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web

from mtgateway_base.mt4web import mt4records
from mtgateway_base.wire.venues import Book, flow_of

from ..database import DatabaseUnavailable
from ..door import DOOR
from ..tables import equity
from ..tables.positions import digits_of
from ..tables.reports import TerminalRow
from ..tables.snapshots import KeptDeal, Snapshot
from .books import live_book, margin_level, signed, tone, trade_row
from .kit import Page, signed_in, signed_in_part
from .livechart import RANGES, live_chart, range_of
from .views import halt_notes, stale_note, when

__all__ = ["BEAT_S", "HISTORY_ROWS", "STREAM_S", "history_of", "panels", "routes",
           "server_when"]

#: The stream's beat: an event at least this often (a report another instance stored).
BEAT_S: Final = 15.0
#: A stream ends after this long; the browser's ``EventSource`` opens the next one.
STREAM_S: Final = 300.0
#: The newest closed trades and balance operations a panel lists.
HISTORY_ROWS: Final = 50
def panels(rows: Sequence[TerminalRow], snapshots: Mapping[tuple[str, int, str], Snapshot],
           deals: Sequence[KeptDeal],
           series: Mapping[tuple[str, int, str], list[equity.Point]], now: int,
           range_s: int) -> list[dict[str, Any]]:
    """A panel per reported terminal (per device) with a snapshot or a history: figures,
    positions and pending orders while active, its current book's trade history, and its
    chart."""
    out = []
    for row in rows:
        key = (row.device_id, row.login, row.server)
        snap = snapshots.get(key) if row.shown_state(now) == "active" else None
        points = series.get(key, [])
        book: Book = snap.book if snap is not None else points[-1].book if points else "live"
        mine = [k for k in deals
                if (k.login, k.server, k.book) == (row.login, row.server, book)]
        if snap is None and not points and not mine:
            continue
        history = history_of(row.login, mine, now - range_s)
        # placed by the report that carried each, as the equity points are (``drawdown``
        # counts those after the range's first point): not by the deal's server time
        flows = [(int(k.as_of), flow_of(k.deal)) for k in mine
                 if flow_of(k.deal) and k.as_of >= now - range_s]
        account = snap.account if snap is not None else None
        trades = snap.trades if snap is not None else []
        # the digits the kept deals say, the current snapshot's over them
        digits = {**digits_of([k.deal for k in mine]), **(snap.digits if snap else {})}
        floating = None if account is None else \
            float(account["equity"]) - float(account["balance"]) - float(
                account.get("credit", 0.0))
        out.append({
            "id": hashlib.sha256(repr(key).encode()).hexdigest()[:12],
            "login": row.login, "server": row.server, "device_id": row.device_id,
            "state": row.shown_state(now), "account": account, "book": book,
            "as_of": snap.as_of if snap is not None else None,
            "stale": stale_note(snap.as_of, now) if snap is not None else "",
            "floating": None if floating is None else signed(floating),
            "floating_tone": None if floating is None else tone(floating),
            "positions": [trade_row(t, digits) for t in trades if t["state"] == "open"],
            "orders": [trade_row(t, digits) for t in trades if t["state"] == "pending"],
            "positions_total": snap.positions_total if snap is not None else 0,
            "orders_total": snap.orders_total if snap is not None else 0,
            "history": [{**trade_row(t, digits), "closed": closed}
                        for t, closed in reversed(history)][:HISTORY_ROWS],
            "history_total": len(history),
            "margin_level": None if account is None else margin_level(account),
            "live_book": live_book(snap.live if snap is not None else None, now),
            "chart": live_chart(points, now, range_s, flows)})
    return out


def history_of(login: int, deals: Sequence[KeptDeal], start: int
               ) -> list[tuple[dict[str, Any], str]]:
    """The closed trades and balance operations among ``deals`` (one terminal's book) made
    at ``start`` or later, oldest first, each MT4 record with its time in words: dated in
    UTC (:meth:`KeptDeal.utc_time`: the trade server's wall clock less its measured offset),
    or, where its report did not say the offset, on the trade server's clock and said to be
    ("server time"), since the column is headed UTC. Why: MT5 dates deals on the trade
    server's clock (UTC+2 at most brokers), and a deposit made at 05:17 UTC must not read
    07:17 under figures "as of 05:17 UTC"."""
    dated = []
    for kept in deals:
        utc = kept.utc_time()
        at = utc if utc is not None else int(kept.deal["time"])
        if at >= start:
            dated.append((at, kept.deal["ticket"], {**kept.deal, "time": at}, utc is not None))
    dated.sort(key=lambda d: (d[0], d[1]))
    moved = [deal for _, _, deal, _ in dated]
    openings = mt4records.openings_of(moved)
    out = []
    for _, _, deal, in_utc in dated:
        # one record or none per deal, so each keeps its own deal's clock
        for record in mt4records.closed_records(login, [deal], openings):
            closed = float(record["close_time"])
            out.append((record, when(closed) if in_utc else server_when(closed)))
    return out


def server_when(epoch: float) -> str:
    """A time on the trade server's wall clock, said to be: ``2026-11-29 07:17:13 server
    time`` (the deal's report did not say the server's offset from UTC)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S server time")


routes = web.RouteTableDef()


async def _panels(page: Page) -> dict[str, Any]:
    """The panels over the range the address asks for."""
    name, range_s = range_of(page.request.query.get("range"))
    authority, now, owner = page.authority, int(page.kit.clock()), page.owner
    rows = await authority.terminals.of(owner)
    live_room = authority.live
    terminals = sorted({(r.login, r.server) for r in rows})
    series = await authority.run(equity.series_of, owner.strip().lower(), now,
                                 since=now - range_s)
    return {"panels": panels(rows, await live_room.snapshots(owner),
                             await live_room.deals(owner, terminals, date_from=now - range_s,
                                                   seen_from=now - range_s),
                             series, now, range_s),
            "range": name, "ranges": list(RANGES)}


@routes.get("/live")
@signed_in
async def live(page: Page) -> web.StreamResponse:
    """The live page, with the halts in force above the panels."""
    return await page.show("live.html", "live",
                           halts=halt_notes(await page.authority.halts.of(page.owner)),
                           halts_back="/live", **await _panels(page))


@routes.get("/live/panels")
@signed_in_part
async def panel_fragment(page: Page) -> web.StreamResponse:
    """The panels alone, fetched again on each pushed report."""
    return page.kit.render("_live_panels.html", **await _panels(page))


async def _signed_out(page: Page) -> bool:
    """Whether the stream's session has ended any way this instance was not told of (another
    instance, a password reset, the operator's command), asked of the door at a beat; a
    database that does not answer is not an ending."""
    try:
        caller = await page.request.app[DOOR].caller(page.request, "session")
    except DatabaseUnavailable:
        return False
    return caller.session is None or caller.session.key != page.session.key


@routes.get("/live/stream")
@signed_in_part
async def stream(page: Page) -> web.StreamResponse:
    """A server-sent event ``report`` each time a report of the owner's terminals is stored
    (and ``beat`` at least every :data:`BEAT_S`), for :data:`STREAM_S` or until the session
    ends; then it ends and the browser opens the next. 429 past the streams' bounds."""
    request, door = page.request, page.request.app[DOOR]
    with door.hold(request, page.caller) as held:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-store"})
        live_room = page.authority.live
        live_room.watch(page.owner)  # the owner's daemons are asked for live reports meanwhile
        event = live_room.report_event(page.owner)  # before anything is written
        await response.prepare(request)
        await response.write(b"retry: 3000\n\n")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STREAM_S  # a wait, not a time of record
        while loop.time() < deadline:
            heard = await held.wait(event, BEAT_S)
            if held.ended or (not heard and await _signed_out(page)):
                break
            live_room.watch(page.owner)
            # the next report's event is taken before this one is written (none is missed)
            event = live_room.report_event(page.owner)
            data = json.dumps({"at": page.kit.clock()})
            await response.write(f"event: {'report' if heard else 'beat'}\n"
                                 f"data: {data}\n\n".encode())
        await response.write_eof()
        return response

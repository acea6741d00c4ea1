"""The dashboard (``/``): every terminal the owner holds a token for, with its state, the
account figures and positions its daemon last reported, an equity chart, and the
getting-started checklist until it is done.

What the owner holds is read in one transaction (``Authority.overview``); the rows and panels
are computed without I/O (``views.py``, ``books.py``). ``static/console.js`` refreshes the
table and the panels (``/dashboard/rows``, ``/dashboard/books``) without reloading the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ..service import Overview
from ..tables.snapshots import Snapshot
from .books import live_summary, terminal_books
from .kit import Page, signed_in, signed_in_part
from .views import checklist, halt_notes, steps_left, terminal_rows, unguarded

__all__ = ["routes"]

routes = web.RouteTableDef()


async def _snapshots(page: Page) -> dict[tuple[str, int, str], Snapshot]:
    """The latest snapshot of each of the owner's active terminals, by (device id, login,
    server): its book, and on paper the live book read beside it."""
    return await page.authority.live.snapshots(page.owner)


def _terminals(page: Page, overview: Overview,
               snapshots: Mapping[tuple[str, int, str], Snapshot]) -> list[dict[str, Any]]:
    """Every terminal the owner has a token for, with each device's latest report, the
    halt in force on it, the book its figures are from and, on paper, what stays open in
    its live book."""
    devices = {d["device_id"]: d for d in overview.devices}
    rows = terminal_rows(overview.terminals, overview.tokens, devices, int(page.kit.clock()),
                         overview.figures, overview.halts)
    for row in rows:
        snap = snapshots.get((row["device_id"], row["login"], row["server"]))
        shown = row["figures"] is not None and snap is not None
        row["book"] = snap.book if shown and snap is not None else "live"
        row["live"] = live_summary(snap.live) if shown and snap is not None else ""
    return rows


async def _books(page: Page, terminals: list[dict[str, Any]],
                 snapshots: Mapping[tuple[str, int, str], Snapshot]) -> list[dict[str, Any]]:
    """Each reported terminal's positions and equity chart (``books.py``), and the live
    book beside a paper one."""
    terminals_of = page.authority.terminals
    beside = {key: snap.live for key, snap in snapshots.items() if snap.live is not None}
    flows = await page.authority.live.flows(
        page.owner, sorted({(int(t["login"]), str(t["server"])) for t in terminals}))
    return terminal_books(terminals, await terminals_of.books_of(page.owner),
                          await terminals_of.history_of(page.owner), page.kit.clock(),
                          beside, flows, {key: snap.book for key, snap in snapshots.items()})


@routes.get("/")
@signed_in
async def dashboard(page: Page) -> web.StreamResponse:
    """The dashboard."""
    seen = await page.authority.overview(page.owner)
    steps = checklist(seen.accounts, seen.tokens, seen.devices, seen.terminals,
                      page.kit.clock())
    snapshots = await _snapshots(page)
    terminals = _terminals(page, seen, snapshots)
    return await page.show("dashboard.html", "dashboard", terminals=terminals, steps=steps,
                           halts=halt_notes(seen.halts), halts_back="/",
                           steps_left=steps_left(steps),
                           unguarded=unguarded(seen.accounts, seen.tokens, page.kit.clock()),
                           pending=[d for d in seen.devices if d["status"] == "pending"],
                           books=await _books(page, terminals, snapshots))


@routes.get("/dashboard/rows")
@signed_in_part
async def dashboard_rows(page: Page) -> web.StreamResponse:
    """The table's body alone, for the live refresh."""
    seen = await page.authority.overview(page.owner)
    return page.kit.render("_terminal_rows.html",
                           terminals=_terminals(page, seen, await _snapshots(page)))


@routes.get("/dashboard/books")
@signed_in_part
async def dashboard_books(page: Page) -> web.StreamResponse:
    """The positions and charts alone, for the live refresh."""
    seen = await page.authority.overview(page.owner)
    snapshots = await _snapshots(page)
    return page.kit.render("_terminal_books.html",
                           books=await _books(page, _terminals(page, seen, snapshots), snapshots))

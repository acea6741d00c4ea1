"""The dashboard (``/``): every terminal the owner holds a token for, with its state, the
account figures and positions its daemon last reported, an equity chart, and the
getting-started checklist until it is done.

What the owner holds is read in one transaction (``Authority.overview``); the rows and panels
are computed without I/O (``views.py``, ``books.py``). ``static/console.js`` refreshes the
table and the panels (``/dashboard/rows``, ``/dashboard/books``) without reloading the page.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..service import Overview
from .books import terminal_books
from .kit import Page, signed_in, signed_in_part
from .views import checklist, halt_notes, steps_left, terminal_rows, unguarded

__all__ = ["routes"]

routes = web.RouteTableDef()


def _terminals(page: Page, overview: Overview) -> list[dict[str, Any]]:
    """Every terminal the owner has a token for, with each device's latest report and the
    halt in force on it."""
    devices = {d["device_id"]: d for d in overview.devices}
    return terminal_rows(overview.terminals, overview.tokens, devices, int(page.kit.clock()),
                         overview.figures, overview.halts)


async def _books(page: Page, terminals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each reported terminal's positions and equity chart (``books.py``)."""
    terminals_of = page.authority.terminals
    return terminal_books(terminals, await terminals_of.books_of(page.owner),
                          await terminals_of.history_of(page.owner), page.kit.clock())


@routes.get("/")
@signed_in
async def dashboard(page: Page) -> web.StreamResponse:
    """The dashboard."""
    seen = await page.authority.overview(page.owner)
    steps = checklist(seen.accounts, seen.tokens, seen.devices, seen.terminals)
    terminals = _terminals(page, seen)
    return await page.show("dashboard.html", "dashboard", terminals=terminals, steps=steps,
                           halts=halt_notes(seen.halts), halts_back="/",
                           steps_left=steps_left(steps),
                           unguarded=unguarded(seen.accounts, seen.tokens, page.kit.clock()),
                           pending=[d for d in seen.devices if d["status"] == "pending"],
                           books=await _books(page, terminals))


@routes.get("/dashboard/rows")
@signed_in_part
async def dashboard_rows(page: Page) -> web.StreamResponse:
    """The table's body alone, for the live refresh."""
    seen = await page.authority.overview(page.owner)
    return page.kit.render("_terminal_rows.html", terminals=_terminals(page, seen))


@routes.get("/dashboard/books")
@signed_in_part
async def dashboard_books(page: Page) -> web.StreamResponse:
    """The positions and charts alone, for the live refresh."""
    seen = await page.authority.overview(page.owner)
    return page.kit.render("_terminal_books.html",
                           books=await _books(page, _terminals(page, seen)))

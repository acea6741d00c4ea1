"""The owner's activity (``/activity``): who signed in (and who was refused, from where) and
what happened to their tokens, devices, accounts and settings, newest first (the log is the
authority's ``activity.py``)."""

from __future__ import annotations

from aiohttp import web

from .kit import Page, signed_in

__all__ = ["routes"]

routes = web.RouteTableDef()


@routes.get("/activity")
@signed_in
async def activity(page: Page) -> web.StreamResponse:
    """The activity list."""
    entries = await page.authority.owners.activity(page.owner)
    return await page.show("activity.html", "activity", entries=entries)

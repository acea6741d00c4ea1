"""Lifting the kill switch from the pages that show it (``POST /halts/lift``).

A halt is shown where the owner watches the account (the dashboard, the live page, the
accounts page: ``_halts.html``), each with its reason and a button that lifts it. Lifting
lets every bot on the terminal trade again, so the service asks for the owner's password
(``service/halts.py`` through ``consent.py``); this room hands it what the form carried and
says, on the page the owner lifted it from, what happened. Halting stays with the console's
API (``POST /api/test/disconnect``), where a script or the owner's phone reaches it at once.
"""

from __future__ import annotations

import re
from typing import Final

from aiohttp import web

from ..service import PasswordNeeded
from .kit import REAUTH_FIELD, Page, refused, signed_in
from .views import halted

__all__ = ["BACK", "routes"]

#: The pages that show halts, where a lift goes back to.
BACK: Final = frozenset({"/", "/live", "/accounts"})
#: A terminal as the lift form names it (``login@server``), or ``all``.
_TERMINAL: Final = re.compile(r"^([1-9][0-9]{0,18})@(.{1,200})$")

routes = web.RouteTableDef()


@routes.post("/halts/lift")
@signed_in
async def lift(page: Page) -> web.StreamResponse:
    """Lift one terminal's halt, or the owner-wide one (``terminal=all``), with the password."""
    back = page.form.get("back")
    back = back if isinstance(back, str) and back in BACK else "/"
    terminal = page.form.get("terminal")
    named = _TERMINAL.match(terminal) if isinstance(terminal, str) else None
    if terminal != "all" and named is None:
        raise await page.done("No such halt: nothing was lifted.", back)
    terminals = None if named is None else [(int(named.group(1)), named.group(2))]
    words = "every terminal" if terminals is None else str(terminal)
    halts = await page.authority.halts.of(page.owner)
    if not halts or (terminals is not None and halted(halts, *terminals[0]) is None):
        raise await page.done(f"{words.capitalize()} was not halted: nothing was lifted.", back)
    password = page.form.get(REAUTH_FIELD)
    try:
        await page.authority.halts.resume(
            page.owner, terminals, password=password if isinstance(password, str) else None)
    except PasswordNeeded as needed:
        raise await page.done(f"The halt of {words} is still in force. {refused(needed)}",
                              back) from None
    raise await page.done(f"Halt lifted on {words}: bots there may trade again.", back)

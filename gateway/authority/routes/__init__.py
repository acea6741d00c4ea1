"""The console's HTTP routes, one module per job: probes and keys (``probes.py``), tokens
(``tokens.py``), accounts (``accounts.py``), devices and their approval (``devices.py``),
terminal reports and the revocation long-poll (``terminals.py``); what they share is
``common.py``. Each handler is a module-level function that reads what it needs (the
authority, the clock, the throttle) from the application's keys (``appkeys.py``)."""

from __future__ import annotations

from aiohttp import web

from . import accounts, devices, probes, terminals, tokens

__all__ = ["add_routes"]


def add_routes(app: web.Application) -> None:
    """Add every route of the console's HTTP API to ``app``."""
    for module in (probes, tokens, accounts, devices, terminals):
        app.add_routes(module.routes)

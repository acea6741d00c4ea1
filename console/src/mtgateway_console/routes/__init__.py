"""The console's HTTP routes, one module per job: probes and keys (``probes.py``), tokens
(``tokens.py``), accounts (``accounts.py``), devices and their approval (``devices.py``),
the owner's instructions to terminals read back (``operations.py``), terminal reports and
the revocation long-poll (``terminals.py``). Each handler is a module-level function that
enters by the console's door (``door/``: the owner's Basic credentials, or to read an
instruction back their access token too; a device proof; the body) and reads what else it
needs from the application's keys (``appkeys.py``); a refusal is answered in this API's
shape (``refusals.py``)."""

from __future__ import annotations

from aiohttp import web

from ..door import DOOR
from . import accounts, devices, operations, probes, terminals, tokens
from .refusals import render

__all__ = ["add_routes"]


def add_routes(app: web.Application) -> None:
    """Add every route of the console's HTTP API to ``app`` (through its door: refusals under
    ``/v1/`` are answered in this API's shape)."""
    renderers = app[DOOR].renderers
    for module in (probes, tokens, accounts, devices, operations, terminals):
        renderers.serve(app, module.routes, render)
    renderers.serve(app, (), render, space="/v1/")

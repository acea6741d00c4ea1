"""The MT4 Web API on the console: one owner's accounts, groups, terminals online, margins
and trades across terminals, paper money, the kill switch and chart messages, under the
document's paths (``/api/...``), behind a JWT from ``POST /api/auth/login``.

The daemon answers the document's terminal-level endpoints for one terminal (its REST
mirror, ``gateway/rest.py``); the console answers what means something for an owner of many
accounts (the document's one table, ``mtgateway_base/mt4web/table.py``, says which side answers
each of the 34). Rooms: the adapter to the console's door (``dispatch.py``: the endpoint
table's dispatch, the answers' shape), users and paper money (``users.py``), what daemons read
(``readings.py``), what the owner does to many terminals at once (``control.py``), the rooms'
handlers bound to the table (``table.py``: each handler is registered in its room by its row's
operation id) and the OpenAPI document (``openapi.py``). Who is calling, the body and every
refusal are the console door's (``door/``).
"""

from __future__ import annotations

from aiohttp import web

from ..door import API_TOKENS, DOOR, TokenHolder
from . import openapi
from .dispatch import render, route_table
from .table import ENDPOINTS

__all__ = ["ENDPOINTS", "add_api"]


def add_api(app: web.Application) -> None:
    """Add ``/api/...`` to the console ``app`` (before its pages), its refusals answered in
    the document's shape."""
    app[API_TOKENS] = TokenHolder()
    app[DOOR].renderers.serve(app, [openapi.route(), *route_table(ENDPOINTS)], render,
                              space="/api/")

"""The MT4 Web API on the console: one owner's accounts, groups, terminals online, margins
and trades across terminals, paper money, the kill switch and chart messages, under the
document's paths (``/api/...``), behind a JWT from ``POST /api/auth/login``.

The daemon answers the document's terminal-level endpoints for one terminal (its REST
mirror, ``gateway/rest.py``); the console answers what means something for an owner of many
accounts (the document's one table, ``gateway/base/mt4web/table.py``, says which side answers
each of the 34). Rooms: the door (``door.py``: sign-in, bearer, bodies, errors), users and
paper money (``users.py``), what daemons read (``readings.py``), what the owner does to many
terminals at once (``control.py``), the handlers put to the table (``table.py``) and the
OpenAPI document (``openapi.py``).
"""

from __future__ import annotations

from aiohttp import web

from . import openapi
from .door import API_TOKENS, TokenHolder, route_table
from .table import ENDPOINTS

__all__ = ["ENDPOINTS", "add_api"]


def add_api(app: web.Application) -> None:
    """Add ``/api/...`` to the console ``app`` (before its pages)."""
    app[API_TOKENS] = TokenHolder()
    app.add_routes([openapi.route(), *route_table(ENDPOINTS)])

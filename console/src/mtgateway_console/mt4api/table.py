"""The console's handlers of the MT4 Web API document, put to the document's one table.

The endpoints, their models, and why the console does not answer the terminal-level ones are
the table's (``mtgateway_base/mt4web/table.py``, the ``console`` column beside the daemon's);
each handler is registered in its room, above its body, by the operation id of the row it
answers (``@HANDLERS.answers("get_api_users")``), and here the rooms' handlers are bound to
the rows. A row the console answers without a handler, or a handler without such a row, fails
when this module is imported (both named), so the console does not start with the table and
its handlers apart.
"""

from __future__ import annotations

from typing import Final

from mtgateway_base.mt4web import Handlers, bind

from . import control, readings, users
from .dispatch import Endpoint, Handler

__all__ = ["ENDPOINTS", "ROOMS"]

#: Every room of handlers (a new room of ``mt4api/`` is added here; a new handler is not).
ROOMS: Final[tuple[Handlers[Handler], ...]] = (control.HANDLERS, readings.HANDLERS,
                                               users.HANDLERS)

#: Every endpoint of the table, in its order, as the console serves it.
ENDPOINTS: Final[tuple[Endpoint, ...]] = bind("console", Handlers(*ROOMS))

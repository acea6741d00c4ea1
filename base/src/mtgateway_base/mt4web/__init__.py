"""The MT4 Web API document, declared once for the two processes that answer it.

The document describes a REST API over the MT4 *Manager* interface (34 endpoints). The daemon
answers its terminal-level endpoints for the one terminal a gateway token reaches (its REST
mirror, ``gateway/rest.py``); the console answers what means something for an owner of many
accounts (``mtgateway_console/mt4api/``). Both stand on this package, which is pure and
imports nothing of ours above ``mtgateway_base``:

* ``table``: every endpoint, in the document's order, with a ``daemon`` and a ``console``
  column saying how each side answers it; :class:`~.table.Handlers`, where a side registers
  each handler by its row's operation id as it writes it, and :func:`~.table.bind`, which
  puts a side's handlers to its rows and refuses a row without one or a handler without a
  row;
* ``shared``: the bases of every body, the health answer, and the MT4 Manager records both
  sides answer (``TradeRecord``, ``MarginLevel``), field by field;
* ``daemon_models`` and ``console_models``: each side's bodies, built on ``shared``;
* ``mt4records``: MT5's positions, orders and deals as MT4 ``TradeRecord`` fields, the one
  mapping both sides (and the console's pages) fill their records from;
* ``openapi``: one OpenAPI 3.1 builder; each side gives its door's :class:`~.openapi.Profile`;
* ``quickref``: the tables of ``docs/rest.md`` that list the endpoints (which side answers
  each, why the daemon does not), written from the rows.
"""

from __future__ import annotations

from .table import ENDPOINTS, Answer, Endpoint, Handlers, Route, Side, bind

__all__ = ["ENDPOINTS", "Answer", "Endpoint", "Handlers", "Route", "Side", "bind"]

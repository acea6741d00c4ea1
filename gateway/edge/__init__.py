"""The daemon's HTTP edge, one room: every byte a client sends the TCP port comes in here.

* :mod:`.listener` -- aiohttp's runner behind the connection guard (``gateway.base.guard``),
  the fast path that sends every ``/rpc`` request straight to its handler;
* :mod:`.llhttp` -- ``POST /rpc`` on llhttp (``[server] rpc_edge = "llhttp"``, the default):
  the guard admits each connection and hands the transport to it, and it hands any other
  request to aiohttp's protocol;
* :mod:`.http_rpc` -- aiohttp's ``/rpc`` handler, ``/health``, and the bearer token's check
  through the throttle (which ``/ws`` and ``/api`` use too);
* :mod:`.middleware` -- the Host, Origin and query-token rules before every other route;
* :mod:`.ladder` -- sans-I/O: the refusals in the contract's order, written once; every
  ``/rpc`` door asks it, in the same order, with the parts of the request its parser gave it.
"""

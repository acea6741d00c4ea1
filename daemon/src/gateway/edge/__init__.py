"""The daemon's HTTP edge, one room: every byte a client sends the TCP port comes in here.

* :mod:`.listener` -- aiohttp's runner behind the connection guard (``mtgateway_base.guard``),
  the fast path that sends every ``/rpc`` request straight to its handler;
* :mod:`.llhttp` -- ``POST /rpc`` on llhttp (``[server] rpc_edge = "llhttp"``, the default):
  the guard admits each connection and hands the transport to it, and it hands any other
  request to aiohttp's protocol;
* :mod:`.http_rpc` -- ``POST /rpc`` on aiohttp's parser, and ``/health``;
* :mod:`.middleware` -- the Host, Origin and query-token rules before every other route;
* :mod:`.head` -- sans-I/O: what a request's header block says, one value whichever parser
  read it;
* :mod:`.ladder` -- sans-I/O: the refusals in the contract's order, written once, each a rule
  on that value;
* :mod:`.door` -- the sequence every door goes through (head rules, body with one deadline,
  token, mark the connection, context, dispatch), written once: ``/rpc`` on both parsers,
  ``/api``, ``/auth/*`` and the ``/ws`` handshake call it.
"""

"""The ground floor under both services: what the daemon and the console share.

The daemon (``mtgateway``) and the console (``mtgateway-console``, or embedded in a daemon)
are two services; this package is all they share, so what they say to each other, and the
rules both serve HTTP under, are written once, here, and each stands on them:

* ``wire``: the two processes' contract: the signed records and their risk policy, the device
  API the daemon calls and its answers, device proofs, sealed boxes, the token format, the
  books, the report's values and the wire exceptions (its ``__init__`` says how it is versioned);
* ``mt4web``: the MT4 Web API document both answer, declared once: one table of its endpoints
  with the daemon's and the console's columns, their models, the MT5 -> MT4 record mapping and
  one OpenAPI builder;
* ``guard`` (with ``accepts``): the connection budget, header and body deadlines and the
  guarded site of an HTTP listener;
* ``edge``: the ``Host`` rule (DNS rebinding), forwarded clients, held long-polls;
* ``throttle``: brute-force protection for authentication, and its ``RateLimited``;
* ``fairshare``: how a caller is counted by its address (an IPv6 one by its /64);
* ``files``: the private data directory and files (POSIX modes, Windows ACLs);
* ``loopback``: whether a host names this machine only;
* ``gcpolicy``: the collector's settings once a process serves, and its pauses timed;
* ``curve25519``: Ed25519 signatures and X25519 keys through libsodium, for the device proofs,
  signed records and sealed boxes one process makes and the other checks;
* ``epoch``: a time as the documents take it (epoch seconds or ISO-8601).

This package imports nothing of ours (no ``gateway``, ``mtgateway_console``, ``ea_bridge``,
``mtgateway`` or ``mt5model``), and the console imports nothing of the daemon: import-linter
contracts in ``pyproject.toml`` hold both rules. Its two exceptions outside the wire's tree:
``files.InsecurePath``, a ``PermissionError`` (a process refuses to start, with one line that
says what to run), and ``throttle.RateLimited``, the lockout both processes answer 429 (the
daemon's error table gives it -32005).
"""

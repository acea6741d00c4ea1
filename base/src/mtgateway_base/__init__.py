"""The ground floor under both processes: what the daemon and the token authority share.

The daemon (``mtgateway run``) and the authority (embedded, or ``mtgateway console`` on its
own) serve HTTP under the same rules and keep their files under the same policy, so those rules
are written once, here, and each process stands on them:

* ``guard`` (with ``accepts``): the connection budget, header and body deadlines and the
  guarded site of an HTTP listener;
* ``edge``: the ``Host`` rule (DNS rebinding), forwarded clients, held long-polls;
* ``throttle``: brute-force protection for authentication, and its ``RateLimited``;
* ``files``: the private data directory and files (POSIX modes, Windows ACLs);
* ``loopback``: whether a host names this machine only;
* ``gcpolicy``: the collector's settings once a process serves, and its pauses timed;
* ``curve25519``: Ed25519 signatures and X25519 keys through libsodium, for the device proofs,
  signed records and sealed boxes one process makes and the other checks;
* ``epoch``: a time as the documents take it (epoch seconds or ISO-8601);
* ``mt4web``: the MT4 Web API document both answer, declared once: one table of its endpoints
  with the daemon's and the console's columns, their models, the MT5 -> MT4 record mapping and
  one OpenAPI builder.

This package imports nothing of ours (no other ``gateway`` module, no ``ea_bridge``,
``mtgateway`` or ``mt5model``), and the authority imports only this of ``gateway``:
import-linter contracts in ``pyproject.toml`` hold both rules. Its two exceptions:
``files.InsecurePath``, a ``PermissionError`` (a process refuses to start, with one line that
says what to run), and ``throttle.RateLimited``, the lockout both processes answer 429 (the
daemon's error table gives it -32005).
"""

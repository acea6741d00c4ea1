"""Benchmarks of the gateway against floors measured in the same run (``python -m bench``).

Why ratios: on a shared 2-core VM absolute microseconds move 3-4x between runs (cross-core
wake-ups dominate, see ``docs/performance.md``), so every figure is reported beside a floor
started by the same run (a raw asyncio TCP echo and a minimal aiohttp POST server) and the
targets are ratios to those floors. Modules, one per measurement:

* ``common``      processes, pinning, percentiles, /proc memory readings
* ``floors``      the floor servers (run as ``python -m bench.floors``) and the TCP echo client
* ``wrkrun``      finding/installing wrk and running it with a Lua POST script
* ``daemon``      ``mtgateway run`` with a temporary config and a token (both set-ups)
* ``rpc``         the daemon under test (``mtgateway run`` + the emulated terminal's process)
                  and the aiohttp latency client
* ``dispatch``    per-call cost of the daemon's JSON-RPC dispatcher beside a minimal one
* ``benchea``     a bench EA that pushes ticks stamped with CLOCK_MONOTONIC at a set rate
* ``subscribers`` the WebSocket subscriber process (run as ``python -m bench.subscribers``)
* ``fanout``      tick fan-out, isolation (a stalled subscriber) and the memory storm
* ``report``      the table, the targets and the JSON
"""

"""``python -m bench.dbdoor``: the authority's database door, worker threads against psycopg's
async API, on one real PostgreSQL: which door the console uses is decided by this measurement,
not by taste.

Both sides run the same transaction, the shape of a device call's (``store.remember_proof``
and a token read): one INSERT ... ON CONFLICT DO NOTHING RETURNING and one SELECT by key,
committed. ``threads`` is :meth:`gateway.authority.database.Database.run` (8 worker threads,
one per connection of a ``psycopg_pool.ConnectionPool``); ``async`` is
``psycopg_pool.AsyncConnectionPool`` (8 connections) with ``psycopg.AsyncConnection`` on the
loop. For each concurrency (tasks each running transactions back to back) it reports
transactions per second, the latency p50/p99, the process CPU per transaction, and the loop's
worst lag (a 1 ms ticker's longest overshoot: how long something else on the loop, /health,
waits). Figures are only comparable within one run; the JSON holds them all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.common import percentile
from gateway.authority.database import Database, Tx
from tests.pgkit import PostgresServer

_TABLE = "CREATE TABLE IF NOT EXISTS door (k TEXT PRIMARY KEY, v BIGINT NOT NULL)"


def _tx(tx: Tx, key: str) -> int:
    tx.execute("INSERT INTO door VALUES (?, ?) ON CONFLICT (k) DO NOTHING RETURNING v",
               (key, 1)).fetchone()
    row = tx.execute("SELECT v FROM door WHERE k = ?", (key,)).fetchone()
    return int(row[0])


async def _ticker(stop: asyncio.Event, lags: list[float]) -> None:
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append(time.perf_counter() - before - 0.001)


async def _drive(one: Callable[[], Awaitable[None]], tasks: int, duration_s: float
                 ) -> dict[str, float]:
    latencies: list[float] = []
    lags: list[float] = []
    stop = asyncio.Event()

    async def worker() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            await one()
            latencies.append(time.perf_counter() - started)

    ticker = asyncio.create_task(_ticker(stop, lags))
    cpu, wall = time.process_time(), time.perf_counter()
    workers = [asyncio.create_task(worker()) for _ in range(tasks)]
    await asyncio.sleep(duration_s)
    stop.set()
    await asyncio.gather(*workers, ticker)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    ms = sorted(x * 1000 for x in latencies)
    return {"tx_per_s": len(ms) / wall, "p50_ms": percentile(ms, 50),
            "p99_ms": percentile(ms, 99), "cpu_us_per_tx": cpu / max(1, len(ms)) * 1e6,
            "loop_lag_max_ms": max(lags, default=0.0) * 1000}


async def _threads(url: str, tasks: int, duration_s: float) -> dict[str, float]:
    database = Database(url=url)
    await database.run(lambda tx: tx.execute(_TABLE))

    async def one() -> None:
        await database.run(_tx, secrets.token_hex(8))

    try:
        await _drive(one, tasks, min(1.0, duration_s))  # warm: connections, prepared plans
        return await _drive(one, tasks, duration_s)
    finally:
        await database.close()


async def _async(url: str, tasks: int, duration_s: float) -> dict[str, float]:
    from psycopg_pool import AsyncConnectionPool  # noqa: PLC0415

    pool = AsyncConnectionPool(url, min_size=8, max_size=8, open=False)
    await pool.open(wait=True)

    async def one() -> None:
        key = secrets.token_hex(8)
        async with pool.connection() as conn, conn.transaction():
            await (await conn.execute("INSERT INTO door VALUES (%s, %s) ON CONFLICT (k) "
                                      "DO NOTHING RETURNING v", (key, 1))).fetchone()
            await (await conn.execute("SELECT v FROM door WHERE k = %s", (key,))).fetchone()

    try:
        await _drive(one, tasks, min(1.0, duration_s))
        return await _drive(one, tasks, duration_s)
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dbdoor",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--tasks", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    parser.add_argument("--json", type=Path, default=Path("bench/results/dbdoor.json"))
    args = parser.parse_args(argv)
    if args.uvloop:
        import uvloop  # noqa: PLC0415

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(), PostgresServer() as server:
        url = server.new_database()
        for tasks in args.tasks:
            for side, run in (("threads", _threads), ("async", _async)):
                figures = asyncio.run(run(url, tasks, args.duration))
                results.append({"side": side, "tasks": tasks, **figures})
                print(f"{side:8} tasks={tasks:3}  " + "  ".join(
                    f"{k}={v:.1f}" for k, v in figures.items()), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench.dbdoor``: the authority's database door, worker threads against psycopg's
async API, on one real PostgreSQL: which door the console uses is decided by this measurement,
not by taste.

Both sides run the same transaction, the shape of a device call's (``store.remember_proof``
and a token read): one INSERT ... ON CONFLICT DO NOTHING RETURNING and one SELECT by key,
committed. ``threads`` is :meth:`mtgateway_console.database.Database.run` (8 worker threads,
one per connection of a ``psycopg_pool.ConnectionPool``); ``async`` is
``psycopg_pool.AsyncConnectionPool`` (8 connections) with ``psycopg.AsyncConnection`` on the
loop. For each concurrency (tasks each running transactions back to back) it reports
transactions per second, the latency p50/p99, the process CPU per transaction, and the loop's
worst lag (a 1 ms ticker's longest overshoot: how long something else on the loop, /health,
waits). Figures are only comparable within one run; the JSON holds them all.

``--shape report`` measures the door itself, its statements sent in batches (``database.Tx``)
against each statement sent alone, waiting for its answer (``Database(batch=False)``, the door
before batches), and against psycopg's async pool sending the same statements in the same two
round trips (``async``: what an async door would cost), on the shape of a daemon's
terminal report: a proof's replay row (checked with the read after it,
``Tx.when_answered``), one read of the terminal's stored state, and four upserts (state,
figures, book, an equity point); each task reports its own terminal. Beside the console's
CPU per transaction it gives the server's (PostgreSQL's processes, from ``/proc``: Linux).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Any

from bench.common import percentile
from mtgateway_console.database import Database, Tx, postgres_text
from tests.pgkit import PostgresServer

_TABLE = "CREATE TABLE IF NOT EXISTS door (k TEXT PRIMARY KEY, v BIGINT NOT NULL)"


_REPORT_TABLES = (
    _TABLE,
    "CREATE TABLE IF NOT EXISTS door_state (k TEXT PRIMARY KEY, state TEXT NOT NULL, "
    "at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS door_figures (k TEXT PRIMARY KEY, "
    "equity DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS door_book (k TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS door_points (k TEXT NOT NULL, at BIGINT NOT NULL, "
    "equity DOUBLE PRECISION NOT NULL, PRIMARY KEY (k, at))",
)
_BOOK = '[{"ticket": 1001, "symbol": "EURUSD", "type": "buy", "volume": 0.1}]'


#: The report's replay row and its read of the terminal's state (``?`` placeholders, the
#: door's style); its four writes are :func:`_report_writes`. Both report sides send these.
_REPLAY = "INSERT INTO door VALUES (?, ?) ON CONFLICT (k) DO NOTHING"
_READ_STATE = "SELECT state, at FROM door_state WHERE k = ?"


def _report_writes(terminal: str, at: int) -> list[tuple[str, tuple[object, ...]]]:
    """The report's four writes with their arguments: state, figures, book, equity point."""
    return [
        ("INSERT INTO door_state VALUES (?, ?, ?) ON CONFLICT (k) DO UPDATE SET "
         "state = excluded.state, at = excluded.at", (terminal, "active", at)),
        ("INSERT INTO door_figures VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET "
         "equity = excluded.equity", (terminal, 10_000.5 + at % 100)),
        ("INSERT INTO door_book VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET "
         "body = excluded.body", (terminal, _BOOK)),
        ("INSERT INTO door_points VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
         (terminal, at, 10_000.5))]


def _report_tx(tx: Tx, key: str, terminal: str, at: int) -> None:
    sent = tx.execute(_REPLAY, (key, 1))

    def new_row() -> None:
        if sent.rowcount != 1:
            raise RuntimeError("a replay key came twice")

    tx.when_answered(new_row)
    tx.execute(_READ_STATE, (terminal,)).fetchone()
    for sql, args in _report_writes(terminal, at):
        tx.execute(sql, args)


def _create(tx: Tx, sql: str) -> None:
    tx.execute(sql)


def _server_cpu_s(server: PostgresServer) -> float:
    """CPU seconds PostgreSQL's processes have used (0 where ``/proc`` is not there)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0.0
    for pid in server._server_pids():  # noqa: SLF001 - the test kit's own server
        try:
            fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


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


async def _report(url: str, tasks: int, duration_s: float, *, batch: bool,
                  server: PostgresServer) -> dict[str, float]:
    database = Database(url=url, batch=batch)
    for table in _REPORT_TABLES:
        await database.run(_create, table)
    clock = itertools.count()
    terminals = itertools.cycle([f"terminal-{k}" for k in range(tasks)])

    async def one() -> None:
        await database.run(_report_tx, secrets.token_hex(16), next(terminals), next(clock))

    try:
        return await _drive_with_server(one, tasks, duration_s, server)
    finally:
        await database.close()


async def _drive_with_server(one: Callable[[], Awaitable[None]], tasks: int,
                             duration_s: float, server: PostgresServer) -> dict[str, float]:
    """:func:`_drive` after a second's warm-up, with the server's CPU per transaction."""
    await _drive(one, tasks, min(1.0, duration_s))
    before = _server_cpu_s(server)
    figures = await _drive(one, tasks, duration_s)
    served = figures["tx_per_s"] * duration_s
    figures["server_cpu_us_per_tx"] = (_server_cpu_s(server) - before) / max(1.0, served) * 1e6
    return figures


async def _report_async(url: str, tasks: int, duration_s: float, *,
                        server: PostgresServer) -> dict[str, float]:
    """The report's transaction on psycopg's async pool, in the door's two round trips (the
    replay row and the read with ``BEGIN``; the four writes with ``COMMIT``), each a
    multi-statement text bound client-side as the door's batches are, but nothing prepared:
    what an async door for PostgreSQL would cost in the console process, beside the threads'
    (built and measured end to end at cadence, it did not pay:
    ``docs/history/performance-notes.md``, "The database door on the event loop")."""
    import psycopg  # noqa: PLC0415
    from psycopg_pool import AsyncConnectionPool  # noqa: PLC0415

    database = Database(url=url)
    for table in _REPORT_TABLES:
        await database.run(_create, table)
    await database.close()
    pool = AsyncConnectionPool(url, min_size=8, max_size=8, open=False,
                               kwargs={"autocommit": True, "prepare_threshold": None})
    await pool.open(wait=True)
    clock = itertools.count()
    terminals = itertools.cycle([f"terminal-{k}" for k in range(tasks)])

    # each text in psycopg's style once, as the door's prepared statements are named once
    pg = {sql: postgres_text(sql)
          for sql in [_REPLAY, _READ_STATE, *(w for w, _ in _report_writes("", 0))]}

    async def one() -> None:
        key, terminal, at = secrets.token_hex(16), next(terminals), next(clock)
        async with pool.connection() as conn:
            cur = psycopg.AsyncClientCursor(conn)
            await cur.execute(";\n".join([
                "BEGIN", cur.mogrify(pg[_REPLAY], (key, 1)),
                cur.mogrify(pg[_READ_STATE], (terminal,))]))
            cur.nextset()
            if cur.rowcount != 1:
                raise RuntimeError("a replay key came twice")
            cur.nextset()
            await cur.fetchone()
            await cur.execute(";\n".join(
                [cur.mogrify(pg[sql], args)
                 for sql, args in _report_writes(terminal, at)] + ["COMMIT"]))

    try:
        return await _drive_with_server(one, tasks, duration_s, server)
    finally:
        await pool.close()


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
    parser.add_argument("--shape", choices=("call", "report"), default="call",
                        help="call: threads against async on a device call's two statements; "
                             "report: the door batched against one by one, and an async "
                             "pool in the same two round trips, on a report's")
    parser.add_argument("--json", type=Path, default=Path("bench/results/dbdoor.json"))
    args = parser.parse_args(argv)
    if args.uvloop:
        import uvloop  # noqa: PLC0415

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(), PostgresServer() as server:
        url = server.new_database()
        for tasks in args.tasks:
            sides: tuple[tuple[str, Callable[..., Coroutine[Any, Any, dict[str, float]]]],
                         ...] = (
                ("threads", _threads), ("async", _async))
            if args.shape == "report":
                sides = (("batched", partial(_report, batch=True, server=server)),
                         ("one-by-one", partial(_report, batch=False, server=server)),
                         ("async", partial(_report_async, server=server)))
            for side, run in sides:
                figures = asyncio.run(run(url, tasks, args.duration))
                results.append({"side": side, "tasks": tasks, **figures})
                print(f"{side:8} tasks={tasks:3}  " + "  ".join(
                    f"{k}={v:.1f}" for k, v in figures.items()), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

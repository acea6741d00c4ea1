"""Stream ticks, trade events and the terminal's state from MT Gateway with ``mtgateway.aio``.

    python examples/stream.py --url http://127.0.0.1:8710 --token mtgw_... --symbols EURUSD,USDJPY
    python examples/stream.py --state-file demo.json          # what `mtgateway demo` wrote

Each stream is its own WebSocket subscription, authenticated in the upgrade's header (the token
is never in a URL). The client numbers-checks every notification (``seq``) and resubscribes with
backoff after a drop; wherever something may be missing the stream yields a ``Gap`` in place,
which this example prints as ``! ...``. ``conflated`` on a tick says how many ticks of that
symbol were merged because this consumer was slow: not a loss, a deliberate merge.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

try:
    import mtgateway.aio as mt5
except ImportError as missing:  # it says what it needs: aiohttp, the client's 'aio' extra
    sys.exit(f"This example needs mtgateway.aio: {missing}")


async def pump(stream: AsyncIterator[Any], out: asyncio.Queue[Any]) -> None:
    async for item in stream:
        await out.put(item)


async def run(symbols: list[str], max_messages: int | None) -> int:
    """Print notifications until ``max_messages`` have arrived (forever when None)."""
    out: asyncio.Queue[Any] = asyncio.Queue()
    tasks = [asyncio.create_task(pump(stream, out)) for stream in
             (mt5.terminal_events(), mt5.trade_events(), mt5.ticks(symbols))]
    received = 0
    try:
        while max_messages is None or received < max_messages:
            getter = asyncio.create_task(out.get())
            done, _ = await asyncio.wait([getter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                failed = next(t for t in done if t is not getter)
                print(f"stream ended: {failed.exception()}", file=sys.stderr)
                return 1
            print(describe(getter.result()), flush=True)
            received += 1
        return 0
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def describe(item: Any) -> str:
    if isinstance(item, mt5.Gap):
        return f"! {item.channel}: {item.detail}"
    if isinstance(item, mt5.StreamTick):
        merged = f" (+{item.conflated} merged)" if item.conflated else ""
        return (f"tick  {item.symbol:8s} bid={item.bid} ask={item.ask} "
                f"t={item.time_msc}{merged}")
    if isinstance(item, mt5.TradeEvent):
        return f"trade {item.type} {item.record!r}"[:160]
    return (f"terminal connected={item.connected} broker={item.broker_connected} "
            f"algo_trading={item.trade_allowed} ({item.reason})")


async def main_async(args: argparse.Namespace, symbols: list[str]) -> int:
    if not await mt5.initialize(token=args.token, url=args.url, state_file=args.state_file,
                                timeout=10_000):
        print(f"initialize() failed: {mt5.last_error()}", file=sys.stderr)
        return 1
    try:
        return await run(symbols, args.max_messages)
    finally:
        await mt5.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="the gateway, e.g. http://127.0.0.1:8710")
    parser.add_argument("--token")
    parser.add_argument("--state-file", type=Path, help="the JSON `mtgateway demo` writes")
    parser.add_argument("--symbols", default=None,
                        help="comma-separated; default: the open_symbols `mtgateway demo` "
                             "wrote (on a weekend only crypto ticks), else EURUSD,BTCUSD")
    parser.add_argument("--max-messages", type=int, help="exit after this many notifications")
    args = parser.parse_args()
    default_symbols = "EURUSD,BTCUSD"
    if args.state_file is not None and args.symbols is None:
        state = json.loads(args.state_file.read_text(encoding="utf-8"))
        default_symbols = ",".join(state.get("open_symbols") or []) or default_symbols
    symbols = [s.strip() for s in (args.symbols or default_symbols).split(",") if s.strip()]
    try:
        return asyncio.run(main_async(args, symbols))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())

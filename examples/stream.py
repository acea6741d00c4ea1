"""Stream ticks and trade events from MT Gateway's /ws, resubscribing after any disconnect.

    python examples/stream.py --url ws://127.0.0.1:8710/ws --token mtgw_... --symbols EURUSD,USDJPY
    python examples/stream.py --state-file demo.json          # what `mtgateway demo` wrote

Uses the `websockets` client. The token goes in the Authorization header of the upgrade (never
in the URL). Each subscription numbers its notifications with `seq`: a gap means messages were
lost; `conflated` says how many ticks of a symbol were merged because this client was slow.
If the connection drops, it reconnects with backoff and subscribes again.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import websockets


async def stream(url: str, token: str, symbols: list[str], max_messages: int | None) -> int:
    """Print notifications until ``max_messages`` have arrived (forever when None)."""
    received = 0
    delay = 0.25
    ids = itertools.count(1)
    while True:
        try:
            async with websockets.connect(
                    url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
                delay = 0.25
                for channel, params in (("ticks", {"symbols": symbols}), ("trades", {}),
                                        ("terminal", {})):
                    request = {"jsonrpc": "2.0", "id": next(ids), "method": "subscribe",
                               "params": {"channel": channel, **params}}
                    await ws.send(json.dumps(request))
                last_seq: dict[str, int] = {}
                async for raw in ws:
                    message: dict[str, Any] = json.loads(raw)
                    if "id" in message:  # an answer to one of our requests
                        if "error" in message:
                            print(f"error: {message['error']}", file=sys.stderr)
                            return 1
                        continue
                    params = message["params"]
                    sub, seq = params["subscription"], params["seq"]
                    if sub in last_seq and seq != last_seq[sub] + 1:
                        print(f"! {seq - last_seq[sub] - 1} message(s) lost on {sub}")
                    last_seq[sub] = seq
                    print(_describe(message["method"], params), flush=True)
                    received += 1
                    if max_messages is not None and received >= max_messages:
                        return 0
        except (OSError, websockets.ConnectionClosed) as exc:
            print(f"disconnected ({exc}); reconnecting in {delay:.2f} s", file=sys.stderr)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def _describe(method: str, params: dict[str, Any]) -> str:
    if method == "tick":
        merged = f" (+{params['conflated']} merged)" if params.get("conflated") else ""
        return (f"tick  {params['symbol']:8s} bid={params['bid']} ask={params['ask']} "
                f"t={params['time_msc']}{merged}")
    if method == "trade_event":
        return f"trade {params.get('type')} {json.dumps(params, sort_keys=True)[:160]}"
    return f"terminal {json.dumps(params, sort_keys=True)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--token")
    parser.add_argument("--state-file", type=Path, help="the JSON `mtgateway demo` writes")
    parser.add_argument("--symbols", default=None,
                        help="comma-separated; default: the open_symbols `mtgateway demo` "
                             "wrote (on a weekend only crypto ticks), else EURUSD,BTCUSD")
    parser.add_argument("--max-messages", type=int, help="exit after this many notifications")
    args = parser.parse_args()
    url, token = args.url, args.token
    default_symbols = "EURUSD,BTCUSD"
    if args.state_file is not None:
        state = json.loads(args.state_file.read_text())
        url, token = url or state["ws_url"], token or state["token"]
        default_symbols = ",".join(state.get("open_symbols") or []) or default_symbols
    if not url or not token:
        parser.error("give --url and --token, or --state-file")
    symbols = [s.strip() for s in (args.symbols or default_symbols).split(",") if s.strip()]
    try:
        return asyncio.run(stream(url, token, symbols, args.max_messages))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())

"""The WebSocket subscriber process: N sockets in one process, every message parsed.

Run by ``bench.fanout`` as ``python -m bench.subscribers URL SYMBOL N`` with the token on
stdin's first line (never on a command line). It opens N aiohttp WebSocket connections to
``/ws`` (bearer token on the upgrade), subscribes each to ``ticks`` for SYMBOL, prints
``READY``, then obeys one command per stdin line. ``bench.terminals`` gives several tokens
(space-separated: one terminal each): N sockets per token, and the summary has one more
entry, ``per_token``, each token's own summary in the order given.

* ``start``: reset the counters and start recording;
* ``stop``: wait until the stream has been quiet for 150 ms (at most 5 s), then print one
  JSON line: messages delivered, the time from ``start`` to the last message, and the
  latency percentiles (``monotonic_ns() - volume`` after orjson has parsed the message, the
  bench EA having put its send time in ``volume``);
* ``connect URL N``: close every socket, then open N per token of the next line (the
  tokens, as on the first line) to URL, subscribe them as above, and print ``READY``: one
  process serves every set of sockets of a run (``bench.fanout``'s sizes, the daemon's and
  the fan-out floor's), its interpreter and aiohttp started once, not once a set;
* ``quit``: close everything and exit.

Every message is parsed with orjson, as a real client would, so the figures include the
client's own cost. The process is pinned to the client CPU by inheritance from the bench.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import orjson

__all__ = ["main"]

_QUIET_S = 0.15
_MAX_WAIT_S = 5.0


class _Stats:
    def __init__(self) -> None:
        self.recording = False
        self.count = 0
        self.latencies: list[int] = []
        self.t0 = 0
        self.last = 0
        self.conflated = 0


async def _reader(ws: Any, stats: _Stats, mine: _Stats | None = None) -> None:
    import aiohttp

    async for msg in ws:
        if msg.type is not aiohttp.WSMsgType.TEXT:
            break
        data = orjson.loads(msg.data)
        params = data.get("params")
        if params is None or not stats.recording:
            continue
        now = time.monotonic_ns()
        stats.count += 1
        stats.last = now
        stats.latencies.append(now - params["volume"])
        stats.conflated += params.get("conflated", 0)
        if mine is not None:
            mine.count += 1
            mine.last = now
            mine.latencies.append(now - params["volume"])
            mine.conflated += params.get("conflated", 0)


def _summary(stats: _Stats) -> dict[str, Any]:
    lat = sorted(stats.latencies)

    def pct(q: float) -> float:
        if not lat:
            return float("nan")
        return lat[min(len(lat) - 1, max(0, round(q / 100 * len(lat) + 0.5) - 1))] / 1000

    span_s = (stats.last - stats.t0) / 1e9 if stats.count else 0.0
    return {"count": stats.count, "span_s": span_s, "conflated": stats.conflated,
            "p50_us": pct(50), "p99_us": pct(99), "max_us": (lat[-1] / 1000) if lat else None}


class _Sockets:
    """One set of subscribed sockets, every message read by a task of its own."""

    def __init__(self, stats: _Stats, each: list[_Stats], sockets: list[Any],
                 readers: list[asyncio.Task[None]]) -> None:
        self.stats, self.each, self.sockets, self.readers = stats, each, sockets, readers

    @classmethod
    async def open(cls, session: Any, url: str, symbol: str, n: int,
                   tokens: list[str]) -> _Sockets:
        import aiohttp

        stats = _Stats()
        each = [_Stats() for _ in tokens] if len(tokens) > 1 else []
        sockets = [await session.ws_connect(url, max_msg_size=0,
                                            headers={"Authorization": f"Bearer {token}"})
                   for token in tokens for _ in range(n)]
        for i, ws in enumerate(sockets):
            await ws.send_str(orjson.dumps({"jsonrpc": "2.0", "id": i, "method": "subscribe",
                                            "params": {"channel": "ticks",
                                                       "symbols": [symbol]}}).decode())
        for ws in sockets:  # the subscribe answers come before any tick of the bench
            msg = await ws.receive(timeout=10)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"subscribe failed: {msg.type.name} {msg.data!r}")
            reply = orjson.loads(msg.data)
            if "result" not in reply:
                raise RuntimeError(f"subscribe failed: {reply}")
        readers = [asyncio.create_task(_reader(ws, stats, each[i // n] if each else None))
                   for i, ws in enumerate(sockets)]
        return cls(stats, each, sockets, readers)

    async def close(self) -> None:
        for ws in self.sockets:
            await ws.close()
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


async def _run(url: str, symbol: str, n: int, tokens: list[str]) -> None:
    import aiohttp

    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        now = await _Sockets.open(session, url, symbol, n, tokens)
        print("READY", flush=True)
        while line := (await stdin.readline()).decode().strip():
            stats, each = now.stats, now.each
            if line == "start":
                for one in (stats, *each):
                    one.count, one.latencies, one.conflated = 0, [], 0
                    one.t0 = one.last = time.monotonic_ns()
                stats.recording = True
            elif line == "stop":
                deadline = time.monotonic() + _MAX_WAIT_S
                while time.monotonic() < deadline:
                    seen = stats.count
                    await asyncio.sleep(_QUIET_S)
                    if stats.count == seen:
                        break
                stats.recording = False
                summary = _summary(stats)
                if each:
                    summary["per_token"] = [_summary(one) for one in each]
                print(orjson.dumps(summary).decode(), flush=True)
            elif line.startswith("connect "):
                _, url, count = line.split()
                tokens = (await stdin.readline()).decode().split()
                await now.close()
                now = await _Sockets.open(session, url, symbol, int(count), tokens)
                print("READY", flush=True)
            elif line == "quit":
                break
        await now.close()


def main(argv: list[str]) -> int:
    url, symbol, n = argv[0], argv[1], int(argv[2])
    tokens = sys.stdin.readline().split()
    try:
        import uvloop
    except ImportError:
        asyncio.run(_run(url, symbol, n, tokens))
    else:
        uvloop.run(_run(url, symbol, n, tokens))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

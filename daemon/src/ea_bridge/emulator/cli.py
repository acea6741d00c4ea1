"""Command line of the emulated terminal: ``python -m ea_bridge.emulator`` and
``mtgateway emulator``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from mt5model.types import AccountMarginMode
from mtgateway_base.environment import read_env
from mtgateway_base.loop import run as run_on_loop
from mtgateway_base.loop import stop_on_signals

from .options import add_account_arguments, add_arguments
from .terminal import EmulatedTerminal, EmulatorSettings, TerminalRefused

__all__ = ["add_account_arguments", "add_arguments", "clock_from", "main", "market_hours_line",
           "run", "settings_from"]


def clock_from(start: datetime | None) -> Callable[[], int] | None:
    """The emulator's UTC clock: real time, or running on from ``start`` (a replay of another
    day, e.g. a weekday's open markets on a weekend). None means the real clock."""
    if start is None:
        return None
    start_ms = int(start.timestamp() * 1000)
    started_ns = time.monotonic_ns()
    return lambda: start_ms + (time.monotonic_ns() - started_ns) // 1_000_000


def market_hours_line(terminal: EmulatedTerminal) -> str:
    """Which symbols trade now, by the emulator's calendar (in server time)."""
    hours = terminal.market_hours()
    open_now = [name for name, is_open in hours.items() if is_open]
    closed = [name for name, is_open in hours.items() if not is_open]
    when = datetime.fromtimestamp(terminal.server_time_ms() / 1000, UTC)
    offset = terminal.settings.tz_offset_s / 3600
    return (f"markets at server time {when:%a %Y-%m-%d %H:%M} (UTC{offset:+g}): open "
            f"{', '.join(open_now) or 'none'}; closed {', '.join(closed) or 'none'}")


def settings_from(args: argparse.Namespace) -> EmulatorSettings:
    """Build settings from parsed options."""
    symbols = tuple(s.strip().upper() for s in args.symbols.split(",") if s.strip())
    return EmulatorSettings(
        login=args.login, server=args.server, symbols=symbols, tick_rate_hz=args.tick_rate,
        seed=args.seed, tz_offset_s=args.tz_offset,
        margin_mode=(AccountMarginMode.RETAIL_NETTING if args.netting
                     else AccountMarginMode.RETAIL_HEDGING))


def run(args: argparse.Namespace) -> int:
    """Run the emulator until Ctrl-C/SIGTERM or a refusal that retrying cannot fix."""
    if args.token is None:
        args.token = read_env("MTGATEWAY_TOKEN")
    if args.token == "-":
        args.token = sys.stdin.readline().strip()
    if not args.token:
        print("error: the token is required: set $MTGATEWAY_TOKEN (or --token -, then type "
              "or pipe it)", file=sys.stderr)
        return 2
    try:
        settings = settings_from(args)
        host, port = args.bridge
        clock = clock_from(args.start_time)
        terminal = (EmulatedTerminal(args.token, host=host, port=port, settings=settings)
                    if clock is None else
                    EmulatedTerminal(args.token, host=host, port=port, settings=settings,
                                     utc_clock_ms=clock))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def main() -> int:
        stop = asyncio.Event()
        stop_on_signals(stop)
        print(market_hours_line(terminal), flush=True)
        runner = asyncio.create_task(terminal.run())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        await terminal.close()
        stopper.cancel()
        try:
            await runner
        except TerminalRefused as exc:
            print(f"gateway refused the EA: {exc.text} ({exc.reason})", file=sys.stderr)
            return 1
        return 0

    return run_on_loop(main())


def main(argv: list[str] | None = None) -> int:
    """``python -m ea_bridge.emulator``."""
    parser = argparse.ArgumentParser(prog="python -m ea_bridge.emulator",
                                     description="An emulated MT5 terminal and EA.")
    add_arguments(parser)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    return run(parser.parse_args(argv))

"""The emulated terminal's command-line options, apart from the emulator itself.

``mtgateway`` builds its whole parser for every command (``--help``, ``token list``), so the
options of ``mtgateway emulator`` and ``mtgateway demo`` are defined here, on argparse and the
standard library alone: building them does not import the simulated broker, the price paths or
the bridge's connection, which only a command that runs the emulator pays for. The defaults are
:class:`~ea_bridge.emulator.terminal.EmulatorSettings`' own (it reads them from here).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Final

__all__ = ["DEFAULT_LOGIN", "DEFAULT_SEED", "DEFAULT_SERVER", "DEFAULT_TICK_RATE_HZ",
           "add_account_arguments", "add_arguments"]

DEFAULT_LOGIN: Final = 5012345
DEFAULT_SERVER: Final = "MTG-Demo"
DEFAULT_SEED: Final = 42
DEFAULT_TICK_RATE_HZ: Final = 2.0


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError("expected HOST:PORT, e.g. 127.0.0.1:8711")
    return host.strip("[]") or "127.0.0.1", int(port)


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 < number <= 1000:
        raise argparse.ArgumentTypeError("must be above 0 and at most 1000")
    return number


def _tz_offset(value: str) -> int:
    """Hours east of UTC (brokers run at UTC+2 in winter, UTC+3 in summer)."""
    try:
        hours = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of hours: {value!r}") from None
    if not -12 <= hours <= 14 or (hours * 4) % 1:
        raise argparse.ArgumentTypeError("hours from -12 to 14, in quarter hours")
    return int(hours * 3600)


def _start_time(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The emulator's options, shared by both entry points."""
    parser.add_argument("--token", default=None,
                        help="auth token; default $MTGATEWAY_TOKEN, and `-` reads it from "
                             "standard input (either keeps it out of the process list)")
    parser.add_argument("--bridge", type=_host_port, default=("127.0.0.1", 8711),
                        metavar="HOST:PORT", help="daemon bridge address (default 127.0.0.1:8711)")
    parser.add_argument("--login", type=int, default=DEFAULT_LOGIN)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--symbols", default="",
                        help="comma-separated symbols to offer (default: the whole catalogue)")
    parser.add_argument("--tick-rate", type=_positive_float, default=DEFAULT_TICK_RATE_HZ,
                        metavar="HZ", help="average ticks per second per symbol")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    add_account_arguments(parser)


def add_account_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared with ``mtgateway demo``: account kind, server clock, replayed time."""
    parser.add_argument("--netting", action="store_true",
                        help="a netting account (one position per symbol) instead of hedging")
    parser.add_argument("--tz-offset", type=_tz_offset, default=0, metavar="HOURS",
                        help="the broker server's clock, hours east of UTC (most brokers: 2 "
                             "in winter, 3 in summer); MT5 times are this clock")
    parser.add_argument("--start-time", type=_start_time, default=None, metavar="ISO",
                        help="run the emulator's calendar from this UTC time instead of now "
                             "(e.g. a weekday, to see FX trade on a weekend)")

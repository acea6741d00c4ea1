"""``mtgateway check``: what an owner runs against the EA connected to their daemon, on their
own terminal, to learn whether it behaves as MetaTrader and docs/api.md promise, and to paste
the report into a bug report.

It talks to the daemon like any client (the public JSON-RPC, the :mod:`mtgateway` client, the
owner's token) and runs the conformance suite's checks that hold on any terminal: the session,
account, symbols and quotes, tick and bar history (with paging), history the terminal has not
loaded (the EA must keep answering meanwhile), the trading state, depth of market, the tick
stream, lost events, and the latency of a call and of a tick. With ``trade=True``, on a demo
account (``account_info().trade_mode`` 0) or a paper one (its answers say ``"paper": true``:
the orders fill in the daemon's paper book, never at the broker) -- anything else is refused
before a single call more -- it also trades the smallest volume
(:mod:`gateway.selfcheck.trades`). The report names the account's kind by
``ACCOUNT_TRADE_MODE_*`` (demo, contest, real), or "paper". The same checks run in CI against
the emulated terminal and both EAs compiled by the test kit, live and on paper.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from mtgateway.aio import AsyncClient
from mtgateway.errors import LastError, MtGatewayError
from mtgateway.wire import resolve_endpoint

from .probe import Mismatch, Probe, percentiles_us
from .reads import READ_CHECKS
from .report import ACCOUNT_KINDS, FAIL, NA, PASS, Check, Latency, Report
from .trades import TradeSession, pick_symbol

__all__ = ["Check", "Report", "SelfCheckError", "TradingRefused", "run_selfcheck"]

#: Calls timed back to back and spaced (one every SPACED_GAP_S), and the back-to-back p50
#: above which the EA evidently does not wait in its socket: an EA that polls on its timer
#: answers the next call of a caller that waits for each answer one timer period later
#: (10-16 ms), one that waits in the socket within a millisecond.
SEQUENTIAL_CALLS: Final = 200
SPACED_CALLS: Final = 20
SPACED_GAP_S: Final = 0.1
SOCKET_WAIT_P50_US: Final = 8000.0
#: What one check may take beyond its own waits (history asked again within
#: ``history_timeout_s``, the stream's ``stream_s``) before it is stopped and reported failed:
#: a daemon or EA that stops answering mid-check fails that check instead of holding the
#: command (and the owner's terminal) forever.
CHECK_SLACK_S: Final = 60.0


class SelfCheckError(Exception):
    """The check could not run at all (no daemon, a refused token, no EA connected)."""


class TradingRefused(SelfCheckError):
    """``trade=True`` on an account that is neither a demo nor a paper account."""


async def _probe_symbol(p: Probe, wanted: str | None) -> None:
    """The symbol the read checks use: ``wanted``, else the Market Watch symbol quoted last."""
    every = await p.call("symbols_get")
    p.market_watch = [s["name"] for s in every if s.get("select")]
    if wanted:
        p.symbol = wanted
    else:
        newest = (-1, "")
        for name in p.market_watch[:50]:
            tick = await p.call("symbol_info_tick", [name])
            newest = max(newest, (tick["time_msc"], name))
        p.symbol = newest[1] or (p.market_watch or [s["name"] for s in every] or [""])[0]
    p.info = await p.call("symbol_info", [p.symbol])
    p.tick = await p.call("symbol_info_tick", [p.symbol])


async def _timed(p: Probe, count: int, gap_s: float) -> list[int]:
    samples: list[int] = []
    for _ in range(count):
        if gap_s:
            await p.sleep(gap_s)
        started = time.perf_counter_ns()
        await p.call("symbol_info_tick", [p.symbol])
        samples.append(time.perf_counter_ns() - started)
    return samples


async def _latency(p: Probe, report: Report, spaced_calls: int) -> Check:
    """Sequential and spaced calls, and the streamed ticks' age; the check: a call is answered
    from the EA's wait in its socket, not at its next timer pass (the back-to-back calls
    decide it; the spaced ones, one every :data:`SPACED_GAP_S`, are reported)."""
    rows: list[tuple[str, list[int]]] = [
        (f"symbol_info_tick({p.symbol}), {SEQUENTIAL_CALLS} back to back",
         await _timed(p, SEQUENTIAL_CALLS, 0.0)),
        (f"symbol_info_tick({p.symbol}), one every {SPACED_GAP_S * 1000:g} ms",
         await _timed(p, spaced_calls, SPACED_GAP_S))]
    if p.tick_ages_ns:
        rows.append(("tick age at receipt (the broker's clock against this machine's)",
                     p.tick_ages_ns))
    for what, samples in rows:
        p50, p99 = percentiles_us(samples)
        report.latency.append(Latency(what, len(samples), p50, p99))
    evidence = (f"calls answered in {report.latency[0].p50_us / 1000:.2f} ms p50 back to back, "
                f"{report.latency[1].p50_us / 1000:.2f} ms spaced")
    if report.latency[0].p50_us > SOCKET_WAIT_P50_US:
        return Check("latency", FAIL, evidence + ": about a timer period, so the EA polls "
                     "instead of waiting in its socket (SocketWaitMs 0?)")
    return Check("latency", PASS, evidence)


async def _run(client: AsyncClient, report: Report, *, trade: bool, symbol: str | None,
               stream_s: float, history_timeout_s: float, spaced_calls: int,
               sleep: Callable[[float], Awaitable[None]],
               progress: Callable[[str], None]) -> None:
    status = await client.call("gateway_status")
    term = status["terminal"]
    report.daemon_version = status["daemon"]["version"]
    report.platform, report.build = term.get("platform") or "", term.get("build")
    report.ea_version, report.login, report.server = (term.get("ea_version") or "",
                                                      term.get("login"), term.get("server") or "")
    if not term.get("connected"):
        raise SelfCheckError(f"no EA is connected for {term.get('login')} @ {term.get('server')}"
                             f" (last disconnect: {term.get('last_disconnect_reason')})")
    account: dict[str, Any] = await client.call("account_info")
    paper = account.get("paper") is True  # the daemon's paper book answered
    report.account_kind = "paper" if paper else ACCOUNT_KINDS.get(
        account.get("trade_mode", -1), "unknown")
    if trade and not paper and account.get("trade_mode") != 0:
        raise TradingRefused(
            f"refused: account {account.get('login')} @ {account.get('server')} is a "
            f"{report.account_kind} account (account_info().trade_mode "
            f"{account.get('trade_mode')}); the trading checks run on demo and paper "
            "accounts only")
    p = Probe(client, status, history_timeout_s=history_timeout_s, stream_s=stream_s,
              sleep=sleep)
    await _probe_symbol(p, symbol)
    bound_s = history_timeout_s + stream_s + CHECK_SLACK_S
    for name, check in READ_CHECKS:
        progress(name)
        report.checks.append(await _guarded(name, check, p, bound_s))
    progress("latency")
    report.checks.append(await _latency(p, report, spaced_calls))
    if not trade:
        report.notes.append("trading checks not run: add --trade (demo and paper accounts "
                            "only)")
        return
    progress("trading")
    chosen, why, applicable = await pick_symbol(p, symbol)
    if chosen is None:
        report.add("trading", FAIL if applicable else NA, f"no symbol to trade: {why}")
        return
    report.notes.append(f"traded: {why}")
    if paper:
        report.notes.append("paper account: the trading checks ran on the daemon's paper "
                            "book, priced by the terminal's quotes; nothing reached the broker")
    report.checks.extend(await TradeSession(p, chosen, paper=paper).run())


async def _guarded(name: str, check: Callable[[Probe], Awaitable[tuple[str, str]]],
                   p: Probe, bound_s: float) -> Check:
    """``check``'s outcome; a mismatch, an error answer or no end within ``bound_s`` fail it
    (the next check still runs)."""
    try:
        async with asyncio.timeout(bound_s):
            outcome, evidence = await check(p)
    except TimeoutError:
        return Check(name, FAIL, f"stopped: no outcome in {bound_s:g} s (a call went "
                                 "unanswered)")
    except Mismatch as exc:
        return Check(name, FAIL, str(exc))
    except MtGatewayError as exc:
        return Check(name, FAIL, f"{exc.error.description}")
    except (KeyError, TypeError, IndexError, ValueError) as exc:
        return Check(name, FAIL, f"an answer not shaped as documented: {type(exc).__name__} {exc}")
    return Check(name, outcome, evidence)


async def run_selfcheck(*, url: str | None = None, token: str | None = None,
                        state_file: str | None = None, trade: bool = False,
                        symbol: str | None = None, stream_s: float = 10.0,
                        history_timeout_s: float = 60.0, wait_s: float = 5.0,
                        spaced_calls: int = SPACED_CALLS,
                        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                        progress: Callable[[str], None] = lambda name: None) -> Report:
    """Connect like any client and run every check; the report says what each found.

    ``wait_s`` is how long the EA may take to connect (one reconnecting is waited for);
    ``spaced_calls`` how many calls, one every :data:`SPACED_GAP_S`, the latency report times;
    ``progress`` is told each check's name as it starts (the command shows it, so a check
    that takes long is seen taking it).

    Raises:
        SelfCheckError: the daemon cannot be reached, refuses the token or has no EA.
        TradingRefused: ``trade`` on an account that is neither a demo nor a paper account.
    """
    endpoint = resolve_endpoint(url, token, state_file)
    if isinstance(endpoint, LastError):
        raise SelfCheckError(endpoint.description)
    async with AsyncClient() as client:
        if not await client.initialize(token=endpoint.token, url=endpoint.base_url,
                                       timeout=round(wait_s * 1000)):
            raise SelfCheckError(f"cannot use the gateway: {client.last_error().description}")
        report = Report(url=endpoint.base_url)
        try:
            await _run(client, report, trade=trade, symbol=symbol, stream_s=stream_s,
                       history_timeout_s=history_timeout_s, spaced_calls=spaced_calls,
                       sleep=sleep, progress=progress)
        except MtGatewayError as exc:
            raise SelfCheckError(f"the gateway failed a call: {exc.error.description}") from None
        return report

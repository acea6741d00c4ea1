"""A terminal's live account and paper book as a daemon reports them to the console: the
reports signed by hand from the documented format (``docs/console.md``), the first ones
without a ``book`` (an older daemon: live), the paper ones with ``"book": "paper"``. Shared by
the console's book tests and their browser walk."""

from __future__ import annotations

from typing import Any

from mtgateway_console.console import AUTHORITY
from tests.e2e.consolekit import OWNER, Console, issue_token, pending_lookup

__all__ = ["LIVE_DEALS", "LOGIN", "PAPER_DEALS", "SERVER", "T0", "Daemon", "approved_daemon",
           "deal", "live_then_paper"]

T0 = 1_763_650_000
LOGIN, SERVER = 5012345, "MTG-Demo"


def deal(ticket: int, kind: int, entry: int, position: int, profit: float, at: int,
         comment: str = "") -> dict[str, Any]:
    return {"ticket": ticket, "order": ticket if kind in (0, 1) else 0, "time": at,
            "type": kind, "entry": entry, "magic": 0, "position_id": position,
            "volume": 0.1 if kind in (0, 1) else 0.0, "price": 1.1 if kind in (0, 1) else 0.0,
            "commission": 0.0, "swap": 0.0, "profit": profit,
            "symbol": "EURUSD" if kind in (0, 1) else "", "comment": comment}


#: The live account: its opening deposit, and a trade (position 1001) opened and closed.
LIVE_DEALS = [deal(1000, 2, 0, 0, 10_000.0, T0 - 900, "Initial deposit"),
              deal(1001, 0, 0, 1001, 0.0, T0 - 800), deal(1002, 1, 1, 1001, -10.0, T0 - 700)]
#: The paper book: its own opening deposit (the same ticket as the live one), a top-up with
#: the live trade's ticket, and a trade of its own.
PAPER_DEALS = [deal(1000, 2, 0, 0, 9_990.0, T0 + 80, "Initial deposit"),
               deal(1001, 2, 0, 0, 2_500.0, T0 + 110, "paper top-up"),
               deal(1002, 0, 0, 1002, 0.0, T0 + 130), deal(1003, 1, 1, 1002, -10.0, T0 + 140)]


class Daemon:
    """The reports of one terminal on one approved device, on the console's clock."""

    def __init__(self, console: Console, token_id: str) -> None:
        self.console, self.token_id = console, token_id

    async def report(self, at: int, balance: float, equity: float, deals: list[dict[str, Any]],
                     book: str | None, server_offset_s: int | None = None) -> None:
        """One report at ``at`` on the console's clock (read half a second before);
        ``server_offset_s``: the trade server's clock less the daemon's, which this
        release's daemon measures with deals (``TAKES``' ``server_offset``), else none (an
        older daemon)."""
        self.console.clock.now = at
        body: dict[str, Any] = {
            "login": LOGIN, "server": SERVER, "state": "active", "token_id": self.token_id,
            "platform": "MT5", "ea_version": "1.3.0", "balance": balance, "equity": equity,
            "currency": "USD", "positions": 0, "as_of": at - 0.5, "open_positions": [],
            "details": {"account": {"login": LOGIN, "currency": "USD", "leverage": 100,
                                    "balance": balance, "credit": 0.0, "equity": equity,
                                    "margin": 0.0, "margin_free": equity,
                                    "margin_level": 0.0},
                        "positions": [], "orders": [], "deals": deals,
                        "positions_total": 0, "orders_total": 0}}
        if server_offset_s is not None:
            body["details"]["server_offset_s"] = server_offset_s
        if book is not None:
            body["book"] = book
        status, answer, _ = await self.console.device("POST", "/v1/terminals/report",
                                                      {"terminals": [body]})
        assert status == 200, answer


async def approved_daemon(console: Console) -> Daemon:
    token = (await issue_token(console))["token"]
    await pending_lookup(console, token)
    await console.sink.wait_for(1)
    assert (await console.device("POST", "/v1/device/verify",
                                 {"code": console.sink.code()}))[0] == 200
    [row] = await console.app[AUTHORITY].tokens.of(OWNER)
    return Daemon(console, row["token_id"])


async def live_then_paper(console: Console) -> Daemon:
    """Live from T0 (a daemon that sends no book), 10 lost; switched to paper at T0 + 90:
    the book opens at 9,990, takes a 2,500 top-up at T0 + 120, and loses 10 on a trade."""
    daemon = await approved_daemon(console)
    await daemon.report(T0, 10_000.0, 10_000.0, LIVE_DEALS[:2], None)
    await daemon.report(T0 + 30, 9_990.0, 9_990.0, LIVE_DEALS, None)
    await daemon.report(T0 + 60, 9_990.0, 9_990.0, [], None)
    await daemon.report(T0 + 90, 9_990.0, 9_990.0, PAPER_DEALS[:1], "paper")
    await daemon.report(T0 + 120, 12_490.0, 12_490.0, PAPER_DEALS[1:2], "paper")
    await daemon.report(T0 + 150, 12_480.0, 12_480.0, PAPER_DEALS[2:], "paper")
    return daemon

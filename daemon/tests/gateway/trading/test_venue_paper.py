"""The venues and the paper book on their own (``gateway/trading/venue.py``, ``paper.py``):
a real bridge on loopback with the emulated terminal connected (``conftest.py``), no daemon, no
desk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from daemon.tests.gateway.conftest import SYMBOL, TERMINAL
from ea_bridge import Bridge, TerminalId
from gateway.app import PAPER_DIR_NAME
from gateway.config import GatewayConfig
from gateway.trading.numbering import PAPER_RANGES
from gateway.trading.paper import PaperBookUnreadable, PaperTrading
from gateway.trading.venue import PAPER_VENUE_METHODS, LiveVenue, PaperVenue, Venues
from mt5model.mt5 import OrderFilling, SymbolFilling
from tests.bridgekit import TIMEOUT_S


def _paper(bridge: Bridge, data_dir: Path) -> PaperTrading:
    """The paper books as the daemon keeps them in ``data_dir`` (its config's defaults)."""
    data_dir.mkdir(mode=0o700, exist_ok=True)
    config = GatewayConfig(data_dir=str(data_dir))
    return PaperTrading(bridge, config.resolved_data_dir() / PAPER_DIR_NAME,
                        config.server.request_timeout_s)


async def buy(venue: PaperVenue | LiveVenue) -> dict[str, Any]:
    info = await venue.call("symbol_info", {"symbol": SYMBOL}, TIMEOUT_S)
    mask = info["filling_mode"]
    filling = (OrderFilling.FOK if mask & SymbolFilling.FOK else
               OrderFilling.IOC if mask & SymbolFilling.IOC else OrderFilling.RETURN)
    answer: dict[str, Any] = await venue.call("order_send", {"request": {
        "action": 1, "symbol": SYMBOL, "volume": 0.01, "type": 0,
        "type_filling": int(filling)}}, TIMEOUT_S)
    return answer


async def test_live_is_the_terminal_and_paper_only_for_its_methods(
        bridge: Bridge, tmp_path: Path) -> None:
    """The live venue answers from the terminal; the paper venue answers the book's methods
    from the book (marked ``paper``) and market data from the terminal."""
    venues = Venues(bridge, _paper(bridge, tmp_path))
    live, paper = venues.of(TERMINAL, False), venues.of(TERMINAL, True)
    assert isinstance(live, LiveVenue) and not live.paper
    assert isinstance(paper, PaperVenue) and paper.paper
    assert {"order_send", "order_check", "account_info", "positions_get"} <= PAPER_VENUE_METHODS
    assert "symbol_info" not in PAPER_VENUE_METHODS
    real = await live.call("account_info", {}, TIMEOUT_S)
    book = await paper.call("account_info", {}, TIMEOUT_S)
    assert "paper" not in real and book["paper"] is True
    assert (book["login"], book["balance"]) == (real["login"], real["balance"])
    quote = await paper.call("symbol_info", {"symbol": SYMBOL}, TIMEOUT_S)
    assert "paper" not in quote and quote["name"] == SYMBOL


async def test_a_paper_order_fills_in_the_book_never_at_the_terminal(
        bridge: Bridge, tmp_path: Path) -> None:
    venues = Venues(bridge, _paper(bridge, tmp_path))
    paper, live = venues.of(TERMINAL, True), venues.of(TERMINAL, False)
    result = await buy(paper)
    assert result["retcode"] == 10009 and result["paper"] is True, result
    held = await paper.call("positions_get", {}, TIMEOUT_S)
    assert [p["ticket"] for p in held] == [result["order"]] and held[0]["paper"] is True
    assert await live.call("positions_get", {}, TIMEOUT_S) == []


async def test_the_book_survives_a_restart_and_a_bad_file_is_refused(
        bridge: Bridge, tmp_path: Path) -> None:
    """A new PaperTrading on the same data directory has the same positions; a book file that
    cannot be read is refused with its name, not started afresh."""
    first = Venues(bridge, _paper(bridge, tmp_path)).of(TERMINAL, True)
    ticket = (await buy(first))["order"]
    again = Venues(bridge, _paper(bridge, tmp_path)).of(TERMINAL, True)
    assert [p["ticket"] for p in await again.call("positions_get", {}, TIMEOUT_S)] == [ticket]
    (book_file,) = (p for p in (tmp_path / "paper").glob("*.json")
                    if not p.name.endswith(".numbers.json"))
    book_file.write_bytes(b"{not json")
    broken = Venues(bridge, _paper(bridge, tmp_path)).of(TERMINAL, True)
    with pytest.raises(PaperBookUnreadable, match=book_file.name):
        await broken.call("account_info", {}, TIMEOUT_S)


async def test_a_book_saved_before_the_paper_range_numbers_on_inside_it(
        bridge: Bridge, tmp_path: Path) -> None:
    """A book an earlier release saved (numbered from 1000, no numbering beside it) keeps the
    numbers it gave, and what it opens next is numbered in the paper range; a numbering file
    that is not one is refused with its name, like the book's."""
    first = Venues(bridge, _paper(bridge, tmp_path)).of(TERMINAL, True)
    old = (await buy(first))["order"]
    paper_dir = tmp_path / "paper"
    book_file = paper_dir / f"{TERMINAL.login}@{TERMINAL.server}.json"
    numbers_file = paper_dir / f"{TERMINAL.login}@{TERMINAL.server}.numbers.json"
    saved = orjson.loads(book_file.read_bytes())
    renumber = {old: 1001, old + 1: 1002, old - 1: 1000}  # as the earlier release numbered
    for row in (*saved["book"]["positions"], *saved["book"]["history_orders"],
                *saved["book"]["deals"]):
        for name in ("ticket", "order", "position_id", "identifier"):
            if row.get(name) in renumber:
                row[name] = renumber[row[name]]
    saved["book"]["next_ticket"] = 1003
    book_file.write_bytes(orjson.dumps(saved))
    numbers_file.unlink()
    again = Venues(bridge, _paper(bridge, tmp_path)).of(TERMINAL, True)
    assert [p["ticket"] for p in await again.call("positions_get", {}, TIMEOUT_S)] == [1001]
    new = (await buy(again))["order"]
    assert new >= PAPER_RANGES["MT5"][0], new
    numbers_file.write_bytes(b'{"kind": "MT5"}')
    broken = Venues(bridge, _paper(bridge, tmp_path)).of(TERMINAL, True)
    with pytest.raises(PaperBookUnreadable, match=numbers_file.name):
        await broken.call("account_info", {}, TIMEOUT_S)


async def test_a_terminals_live_venue_is_made_once_and_what_is_kept_is_bounded(
        bridge: Bridge, tmp_path: Path) -> None:
    """A venue is chosen on every read: each terminal's live venue is made once (a paper
    venue wraps that one), for another terminal another, and past the bound it starts again."""
    from gateway.trading import venue as venue_module

    venues = Venues(bridge, _paper(bridge, tmp_path))
    live = venues.of(TERMINAL, False)
    assert venues.of(TERMINAL, False) is live and venues.live(TERMINAL) is live
    paper = venues.of(TERMINAL, True)
    assert isinstance(paper, PaperVenue) and paper.live is live
    other = TerminalId(TERMINAL.login + 1, TERMINAL.server)
    assert venues.live(other) is not live and venues.live(other).terminal == other
    for login in range(venue_module._LIVE_KEPT + 5):
        venues.live(TerminalId(login, "Elsewhere"))
    assert len(venues._live) <= venue_module._LIVE_KEPT
    assert venues.live(TERMINAL).terminal == TERMINAL

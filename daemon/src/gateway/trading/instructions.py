"""The owner's instructions a signed record carries: paper money and chart messages, applied
once by the daemon serving the terminal.

The console cannot reach a daemon; it can only sign records the daemon asks for. So an
instruction (``mtgateway_console/tables/instructions.py``) rides in every record of the terminal
while it is pending, the daemon holding the record applies it, and says so in its next
terminal report, which settles it at the console (and takes it out of the records):

* ``deposit``, ``withdraw``, ``credit``: a balance or credit deal in the terminal's paper book
  (``PaperTrading.balance_operation``), which keeps the ids it applied with the book, so a
  record seen again (every refresh, a restart) applies nothing twice. Settled ``applied``
  with the deal's ticket, or ``refused`` when the money is not there or the account is not a
  paper account on this daemon (its record says so: a live account's money is the broker's).
* ``message``: shown on the terminal's chart by its EA (the bridge's ``show_message``);
  settled ``shown``, or ``refused`` by an EA that does not know the call (an older EA), or
  here when the text is not one line of printable text (``mtgateway_base/charttext.py``: a console
  of this release refuses such a message itself; an older one signed what it was given).

An instruction that cannot be applied now (the terminal offline, with no paper book saved
yet) stays pending and is tried again when the terminal's EA connects, or when the record
comes again. Everything runs on the daemon's loop; the paper book does no I/O but its file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from ea_bridge import Bridge, BridgeError, EAError, SessionInfo, TerminalId
from mtgateway_base.charttext import chart_text_problem
from mtgateway_base.wire.records import SignedRecord
from mtgateway_base.wire.reports import Settlement

from .paper import PaperBookUnreadable, PaperTrading

__all__ = ["MESSAGE_METHOD", "OwnerInstructions"]

log = logging.getLogger(__name__)

#: The bridge call an EA shows a chart message with (``docs/protocol.md``).
MESSAGE_METHOD: Final = "show_message"
_MONEY: Final = frozenset({"deposit", "withdraw", "credit"})
_DONE_RETCODE: Final = 10009
_METHOD_NOT_FOUND: Final = -32601

#: Told of each settlement (the terminal reporter sends it with the terminal's next report).
Settled = Callable[[TerminalId, Settlement], None]
#: The record of a token id, as the record cache holds it.
RecordOf = Callable[[str], SignedRecord | None]


class OwnerInstructions:
    """Applies the instructions of the records this daemon holds (see the module docstring).

    Args:
        bridge: the EA sessions (who is connected, ``show_message``).
        paper: the paper books.
        record_of: the cached record of a token id (what a session's token says now).
        settled: told of each instruction settled.
        timeout_s: the deadline of a ``show_message`` call.
    """

    def __init__(self, bridge: Bridge, paper: PaperTrading, record_of: RecordOf,
                 settled: Settled, *, timeout_s: float = 10.0) -> None:
        self._bridge = bridge
        self._paper = paper
        self._record_of = record_of
        self._settled = settled
        self._timeout_s = timeout_s
        #: Ids settled by this process (a record carries them until the console hears).
        self._done: set[str] = set()
        self._busy: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- what tells it to look ------------------------------------------------------------

    def record_stored(self, record: SignedRecord) -> None:
        """A record was stored (looked up or refreshed): apply what it carries."""
        if any(self._todo(entry) for entry in record.instructions):
            self._spawn(record)

    def session_up(self, info: SessionInfo) -> None:
        """A terminal's EA connected: what waited for it may go now."""
        record = self._record_of(info.token_id)
        if record is not None:
            self.record_stored(record)

    def session_down(self, info: SessionInfo, reason: str) -> None:
        """Nothing to do: pending instructions wait for the next session."""

    def ticks(self, terminal: TerminalId, symbol: str, rows: list[list[Any]]) -> None:
        """Ticks say nothing to it."""

    def event(self, terminal: TerminalId, name: str, payload: dict[str, Any],
              missed: int) -> None:
        """Nor do trade events."""

    async def close(self) -> None:
        """Cancel and await what is under way (the daemon is stopping)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def idle(self) -> None:
        """Until nothing is under way (for tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- applying ---------------------------------------------------------------------------

    def _todo(self, entry: Mapping[str, Any]) -> bool:
        return entry["id"] not in self._done and entry["id"] not in self._busy

    def _spawn(self, record: SignedRecord) -> None:
        task = asyncio.get_running_loop().create_task(self._apply_all(record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _apply_all(self, record: SignedRecord) -> None:
        terminal = TerminalId(record.login, record.server)
        for entry in record.instructions:
            if not self._todo(entry):
                continue
            self._busy.add(entry["id"])
            try:
                outcome = await self._apply(record, terminal, entry)
            except Exception:  # one instruction's failure must not stop the others
                log.exception("applying the owner's instruction %s failed", entry["id"])
                outcome = None
            finally:
                self._busy.discard(entry["id"])
            if outcome is not None:
                self._done.add(entry["id"])
                log.info("owner's instruction %s (%s) for %s: %s", entry["id"], entry["kind"],
                         terminal, outcome.state)
                self._settled(terminal, outcome)

    async def _apply(self, record: SignedRecord, terminal: TerminalId,
                     entry: Mapping[str, Any]) -> Settlement | None:
        """The settlement of one instruction, or ``None`` to try again later."""
        kind, ident = entry["kind"], entry["id"]
        if kind in _MONEY:
            if not record.risk.paper_trade_enabled:
                return Settlement(ident, "refused", None, "not a paper account on this daemon: "
                                  "a live account's money is the broker's to move")
            try:
                amount = float(Decimal(entry["amount"]))
            except (InvalidOperation, ValueError):
                return Settlement(ident, "refused", None, "the amount is not a number")
            try:
                result = await self._paper.balance_operation(terminal, ident, kind, amount,
                                                             entry["text"])
            except EAError as exc:
                return Settlement(ident, "refused", None, exc.message[:200])
            except (BridgeError, PaperBookUnreadable) as exc:
                log.info("the paper book of %s cannot be opened now (%s); the %s waits",
                         terminal, type(exc).__name__, kind)
                return None
            if result.get("retcode") == _DONE_RETCODE:
                return Settlement(ident, "applied", int(result["deal"]), "")
            return Settlement(ident, "refused", None,
                              f"{result.get('comment', 'refused')} (retcode "
                              f"{result.get('retcode')}): nothing moved")
        if kind == "message":
            # an older console signed what a chart may not show: the owner is told, the
            # chart shows nothing of it (the console's own rule, ``mtgateway_base/charttext.py``)
            problem = chart_text_problem(entry["text"])
            if problem is not None:
                return Settlement(ident, "refused", None, f"not shown: {problem}"[:200])
            if self._bridge.session(terminal) is None:
                return None
            try:
                await self._bridge.call(terminal, MESSAGE_METHOD,
                                        {"id": ident, "text": entry["text"]}, self._timeout_s)
            except EAError as exc:
                if exc.code == _METHOD_NOT_FOUND:
                    return Settlement(ident, "refused", None, "this terminal's EA does not "
                                      "show messages: update it")
                return Settlement(ident, "refused", None, exc.message[:200])
            except BridgeError:
                return None  # gone or late: tried again at the next session
            return Settlement(ident, "shown", None, "")
        return Settlement(ident, "refused", None, f"unknown instruction {kind!r}")

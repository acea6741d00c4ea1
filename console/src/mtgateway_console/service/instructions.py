"""Instructions: what the owner asks a terminal's daemon to do (the rows are
``instructions.py``'s).

Money moves on *paper* accounts only (:meth:`Instructions.move_money`): an instruction carried
in the terminal's signed records to the daemon, which applies it once in the paper book; a live
account's money is the broker's to move. A chart message (:meth:`Instructions.send_message`)
reaches the terminal's EA the same way. Each is told to the daemons holding the terminal's
live tokens in its own transaction (``common.announce``) and written to the owner's activity
in that transaction too; a daemon's report settles it (:meth:`Instructions.settle_reported`,
called by the live room as each report is stored), which wakes whoever waits on it here; a
chart message's settlement is an activity entry of its own, so the owner sees it shown.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from decimal import Decimal

from mtgateway_base.wire.errors import AuthorityError
from mtgateway_base.wire.reports import TerminalReport

from ..database import Tx
from ..tables import instructions as instruction_rows
from ..tables.instructions import Instruction
from ..tables.store import AccountRow
from .common import Shared, announce, decimal_text, normalize_email

__all__ = ["Instructions", "KeyReused", "LiveMoney"]


class LiveMoney(AuthorityError):
    """Money was to move on an account that is not a paper account: its money is the
    broker's (a live account's, or a demo account's at its broker)."""


class KeyReused(AuthorityError):
    """An idempotency key (``operation_id``) was used before for another operation."""


class Instructions:
    """Paper money and chart messages, and waiting for a daemon to settle them."""

    def __init__(self, shared: Shared) -> None:
        self._shared = shared
        #: Woken when a daemon's report settles an instruction in this process.
        self._settled = asyncio.Event()

    async def move_money(self, owner_email: str, account: AccountRow, kind: str,
                         amount: Decimal, comment: str, request_key: str = ""
                         ) -> tuple[Instruction, bool]:
        """Instruct the paper book of ``account`` to move money: a deposit or withdrawal
        (``amount`` > 0) or credit (signed). The instruction and whether it is new (``False``:
        the same ``request_key`` made it before, with the same terms).

        Raises:
            LiveMoney: the account is not a paper account.
            KeyReused: ``request_key`` made another operation.
        """
        if not account.paper_trade_enabled:
            raise LiveMoney(
                f"account {account.login} is "
                f"{'a live' if account.is_live else 'not a paper'} account: its money is the "
                "broker's to move (deposits, withdrawals and credit go through the broker); "
                "only a paper account's money moves here")
        owner = normalize_email(owner_email)
        made = Instruction(
            id="ins_" + secrets.token_hex(8), owner_email=owner, login=account.login,
            server=account.server, kind=kind, amount=decimal_text(amount), text=comment,
            request_key=request_key, created_at=self._shared.now())
        return await self._shared.run(self._instruct, made)

    def _instruct(self, tx: Tx, made: Instruction) -> tuple[Instruction, bool]:
        before = instruction_rows.by_request_key(tx, made.owner_email, made.request_key) \
            or instruction_rows.add(tx, made)  # another request's, stored since: that one
        if before is not None:
            if (before.login, before.server, before.kind, before.amount, before.text) != (
                    made.login, made.server, made.kind, made.amount, made.text):
                raise KeyReused(f"operation_id {made.request_key!r} was used for another "
                                "operation")
            return before, False
        announce(tx, self._shared, made.owner_email, made.login, made.server, made.created_at)
        what = (f"{made.kind} {made.amount}" if made.kind != "message"
                else f"message: {made.text[:80]}")
        self._shared.activity.add(tx, made.owner_email,
                                  "message_sent" if made.kind == "message"
                                  else "paper_money", f"{made.login}@{made.server}: {what} "
                                  f"({made.id})", made.created_at)
        return made, True

    async def send_message(self, owner_email: str, terminals: Sequence[tuple[int, str]],
                           text: str) -> list[Instruction]:
        """A message for each terminal's chart (its EA shows it), kept in the activity."""
        owner = normalize_email(owner_email)
        made = []
        for login, server in terminals:
            instruction, _ = await self._shared.run(self._instruct, Instruction(
                id="ins_" + secrets.token_hex(8), owner_email=owner, login=login,
                server=server, kind="message", amount="0", text=text, request_key="",
                created_at=self._shared.now()))
            made.append(instruction)
        return made

    async def get(self, owner_email: str, instruction_id: str) -> Instruction | None:
        """The owner's instruction as it stands."""
        return await self._shared.run(instruction_rows.by_id, normalize_email(owner_email),
                                      instruction_id)

    async def wait_settled(self, owner_email: str, instruction_id: str, timeout_s: float
                           ) -> Instruction | None:
        """The instruction once a daemon settled it, or as it stands after ``timeout_s``
        (a daemon reports a settlement at once; one reporting to another console instance
        is seen when the wait ends)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            woken = self._settled
            found = await self.get(owner_email, instruction_id)
            left = deadline - loop.time()
            if found is None or found.state != "pending" or left <= 0:
                return found
            try:
                async with asyncio.timeout(left):
                    await woken.wait()
            except TimeoutError:
                pass

    def settle_reported(self, tx: Tx, owner_email: str, device_id: str,
                        report: TerminalReport, now: int) -> None:
        """Settle the instructions a stored report says its daemon applied or refused (in
        the report's transaction); waiters here wake once it commits."""
        settled = False
        for done in report.done:
            row = instruction_rows.settle(tx, owner_email, report.login, report.server,
                                          done.id, done.state, done.deal, done.detail,
                                          device_id, now)
            settled = settled or row is not None
            if row is not None and row.kind == "message" and row.state == "shown":
                # the activity said "sent" when it was asked for; it says when it was shown
                self._shared.activity.add(tx, owner_email, "message_shown",
                                          f"{row.login}@{row.server}: {row.text[:80]} "
                                          f"({row.id})", now)
        if settled:
            tx.after_commit(self._wake)

    def _wake(self) -> None:
        self._settled.set()
        self._settled = asyncio.Event()

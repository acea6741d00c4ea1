"""What a signed record of a token is made from, asked for in one round trip.

A record lookup (every daemon's first call, and all of a restart storm) and a refresh (every
300 s per daemon, and at once after a revocation feed's "look now") decide and sign a token's
record from five tables: the token, its terminal's registered account (whose owner must be
the token's, and whose risk policy the record carries), the device's approval by the owner,
the owner's kill switch on the terminal and the owner's pending instructions for it; a lookup
also keeps the device's stored name when the daemon gives none. Read one by one they were
five reads, and on PostgreSQL each read is a round trip (``database.Tx``: writes wait for the
next read, reads do not), which costs the console a worker's sleep and wake, the GIL handed to
the loop and back, and a server backend woken (``docs/performance.md``).

Here they are two statements asked together: the token joined to the rest (one row), and
its terminal's pending instructions (a list, joined on the token, so it needs nothing from the
first one's answer). :func:`ask` queues both; :meth:`Asked.read` reads them, and on
PostgreSQL whatever was asked before the first read travels in the same batch: a refresh of
several tokens asks for every token's basis, then reads, in one round trip.

The rules stay where they were: ``service/common.py`` decides which account serves a token,
``service/records.py`` what a record says, ``halts.py`` and ``instructions.py`` what their rows
mean; each table's columns are read by its own module's parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from ..database import Cursor, Tx
from ..devices import Approval
from .approvals import APPROVAL_WIDTH, approval_columns
from .halts import HALTED_OF_TOKEN
from .instructions import Instruction, pending_of_token, pending_rows
from .store import (
    ACCOUNT_WIDTH,
    TOKEN_WIDTH,
    AccountRow,
    TokenRow,
    account_columns,
    account_row,
    token_columns,
    token_row,
)

__all__ = ["Asked", "Basis", "By", "ask"]

#: Which of a token's keys names it: its id (a refresh) or its hint (a lookup: what the EA
#: holds).
By = Literal["token_id", "token_hint"]

_RECORD: Final = (
    f"SELECT {token_columns('t')}, {account_columns('ac')}, {approval_columns('a')}, "
    f"dv.device_id, dv.name, dv.os, {HALTED_OF_TOKEN} "
    "FROM tokens t "
    "LEFT JOIN accounts ac ON ac.login = t.login AND ac.server = t.server "
    "LEFT JOIN approvals a ON a.owner_email = t.owner_email AND a.device_id = ? "
    "LEFT JOIN devices dv ON dv.device_id = ? "
    "WHERE t.{by} = ?")
_BY: Final = {by: _RECORD.replace("{by}", by) for by in ("token_id", "token_hint")}
#: Where each part of a row of :data:`_RECORD` starts.
_ACCOUNT: Final = TOKEN_WIDTH
_APPROVAL: Final = _ACCOUNT + ACCOUNT_WIDTH
_DEVICE: Final = _APPROVAL + APPROVAL_WIDTH


@dataclass(frozen=True, slots=True)
class Basis:
    """A token and what a record of it is made from, for one device."""

    token: TokenRow
    #: The account registered for the token's terminal (``None``: none is).
    account: AccountRow | None
    #: The token's owner's approval of the device (``None``: never asked).
    approval: Approval | None
    #: The device's stored name and OS (``None``: the device was never seen).
    device: tuple[str, str] | None
    #: Whether the owner's kill switch is on for the token's terminal.
    halted: bool
    #: The owner's pending instructions for the terminal, oldest first.
    pending: list[Instruction]

    @property
    def approved(self) -> bool:
        """Whether the token's owner approves the device now."""
        return self.approval is not None and self.approval.status == "approved"


@dataclass(frozen=True, slots=True)
class Asked:
    """A token's basis asked for and not yet read (its two statements' cursors)."""

    record: Cursor
    pending: Cursor

    def read(self) -> Basis | None:
        """The basis (``None``: no such token); on PostgreSQL, the first read of a batch
        sends everything asked before it."""
        r = self.record.fetchone()
        pending = pending_rows(self.pending)
        if r is None:
            return None
        account = None if r[_ACCOUNT] is None else account_row(r[_ACCOUNT:_APPROVAL])
        approval = None if r[_APPROVAL] is None else Approval(*r[_APPROVAL:_DEVICE])
        device = None if r[_DEVICE] is None else (str(r[_DEVICE + 1]), str(r[_DEVICE + 2]))
        return Basis(token_row(r), account, approval, device, bool(r[_DEVICE + 3]), pending)


def ask(tx: Tx, device_id: str, by: By, value: str) -> Asked:
    """Ask for the basis of a record for ``device_id`` of the token whose ``by`` is
    ``value``; read it with :meth:`Asked.read`."""
    return Asked(tx.execute(_BY[by], (device_id, device_id, value)),
                 pending_of_token(tx, by, value))

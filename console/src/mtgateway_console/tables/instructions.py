"""Instructions the owner gives a terminal's daemon through the console: paper money and chart
messages, each applied once.

Why through the signed record: a daemon trusts nothing from the console but what the authority
signs, and the record already reaches every daemon holding the account's token within seconds
(the revocation feed's "look now", as a risk-policy change does). So an instruction is a row
here, and while it is **pending** every record of the terminal carries it (``instructions``:
:meth:`Instruction.as_record`); the daemon applies each once -- a paper deposit, withdrawal or
credit as a balance or credit deal in the paper book, which remembers the ids it applied, so
a record seen again applies nothing twice -- and says so in its next terminal report
(``done``), which settles the row: ``applied`` (with the deal's ticket), ``refused`` (with
why: e.g. a withdrawal beyond the free margin) or ``shown`` (a message on the chart). A
settled row leaves the records; a pending one stays until a daemon serving the terminal
settles it, however long the terminal is offline.

Amounts are decimal strings (records carry no floats). Rows are kept for the owner's view
(:func:`of_owner`); nothing here decides whether an account may get one: that is
``service/instructions.py``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from ..database import Cursor, Tx

__all__ = ["KINDS", "MAX_PENDING", "MONEY_KINDS", "Instruction", "add", "by_id",
           "by_request_key", "of_owner", "pending_for", "pending_of_token", "pending_rows",
           "settle"]

Kind = Literal["deposit", "withdraw", "credit", "message"]
State = Literal["pending", "applied", "refused", "shown"]

#: Every kind of instruction; the money kinds change a paper book.
KINDS: Final = ("deposit", "withdraw", "credit", "message")
MONEY_KINDS: Final = frozenset({"deposit", "withdraw", "credit"})
#: The most pending instructions a record carries (the oldest first); more wait their turn.
MAX_PENDING: Final = 50
_COLS: Final = ("id, owner_email, login, server, kind, amount, text, request_key, created_at, "
                "state, done_at, done_device, deal, detail")


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction and, once settled, its outcome."""

    id: str
    owner_email: str
    login: int
    server: str
    kind: str
    #: Decimal text, signed for credit (``-50`` takes credit away); ``"0"`` for a message.
    amount: str
    #: The deal's comment, or the message.
    text: str
    #: The caller's idempotency key (``""``: none given).
    request_key: str
    created_at: int
    state: str = "pending"
    done_at: int | None = None
    done_device: str = ""
    deal: int | None = None
    detail: str = ""

    def as_record(self) -> dict[str, Any]:
        """The entry a signed record's ``instructions`` list carries."""
        return {"id": self.id, "kind": self.kind, "amount": self.amount, "text": self.text,
                "at": self.created_at}


def _row(r: Any) -> Instruction:
    return Instruction(str(r[0]), str(r[1]), int(r[2]), str(r[3]), str(r[4]), str(r[5]),
                       str(r[6]), str(r[7]), int(r[8]), str(r[9]),
                       None if r[10] is None else int(r[10]), str(r[11]),
                       None if r[12] is None else int(r[12]), str(r[13]))


def add(tx: Tx, instruction: Instruction) -> Instruction | None:
    """Store a new pending instruction: ``None``. With a request key another instruction of
    the owner holds already, nothing is stored and that one is answered: one key makes one
    instruction, held by a unique index (schema 15). On PostgreSQL another connection may
    have stored it since this transaction looked; the insert waits for that transaction and
    then finds the key taken (the read after it sees what was committed meanwhile)."""
    i = instruction
    values = (i.id, i.owner_email, i.login, i.server, i.kind, i.amount, i.text, i.request_key,
              i.created_at, "pending", None, "", None, "")
    if not i.request_key:
        tx.execute(_INSERT, values)  # no key, nothing to wait for: it travels with the commit
        return None
    if tx.changes(_INSERT + _ONCE_PER_KEY, values):
        return None
    return by_request_key(tx, i.owner_email, i.request_key)


_INSERT: Final = (f"INSERT INTO owner_instructions ({_COLS}) "
                  "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
#: The unique index's conflict: a key the owner gave another instruction stores nothing.
_ONCE_PER_KEY: Final = (" ON CONFLICT (owner_email, request_key) WHERE request_key <> '' "
                        "DO NOTHING")


def by_id(tx: Tx, owner_email: str, instruction_id: str) -> Instruction | None:
    """The owner's instruction with this id."""
    r = tx.query_one(f"SELECT {_COLS} FROM owner_instructions WHERE id = ? AND owner_email = ?",
                     (instruction_id, owner_email))
    return None if r is None else _row(r)


def by_request_key(tx: Tx, owner_email: str, request_key: str) -> Instruction | None:
    """The owner's instruction made under this idempotency key, if any."""
    if not request_key:
        return None
    # "<> ''" as the unique index says it, so that the index is seen to answer
    r = tx.query_one(f"SELECT {_COLS} FROM owner_instructions WHERE owner_email = ? AND "
                     "request_key = ? AND request_key <> ''", (owner_email, request_key))
    return None if r is None else _row(r)


def pending_for(tx: Tx, owner_email: str, login: int, server: str) -> list[Instruction]:
    """The terminal's pending instructions of this owner, oldest first (at most
    :data:`MAX_PENDING`)."""
    rows = tx.query(f"SELECT {_COLS} FROM owner_instructions WHERE login = ? AND "
                    "server = ? AND owner_email = ? AND state = 'pending' "
                    "ORDER BY created_at, id LIMIT ?",
                    (login, server, owner_email, MAX_PENDING))
    return [_row(r) for r in rows]


#: :func:`pending_for`, the terminal and owner those of a token (by its id or its hint).
_PENDING_OF_TOKEN: Final = (
    "SELECT " + ", ".join(f"i.{c.strip()}" for c in _COLS.split(",")) + " "
    "FROM owner_instructions i JOIN tokens t ON i.login = t.login AND i.server = t.server "
    "AND i.owner_email = t.owner_email WHERE t.{by} = ? AND i.state = 'pending' "
    "ORDER BY i.created_at, i.id LIMIT ?")
_PENDING_BY: Final = {by: _PENDING_OF_TOKEN.replace("{by}", by)
                      for by in ("token_id", "token_hint")}


def pending_of_token(tx: Tx, by: Literal["token_id", "token_hint"], value: str) -> Cursor:
    """:func:`pending_for` the terminal and owner of the token whose ``by`` is ``value``,
    asked and not read (:func:`pending_rows` reads it): asked beside the token's own read,
    both travel in one batch (``basis.py``)."""
    return tx.execute(_PENDING_BY[by], (value, MAX_PENDING))


def pending_rows(cursor: Cursor) -> list[Instruction]:
    """The instructions :func:`pending_of_token` asked for."""
    return [_row(r) for r in cursor.fetchall()]


def settle(tx: Tx, owner_email: str, login: int, server: str, instruction_id: str,
           state: str, deal: int | None, detail: str, device_id: str, now: int
           ) -> Instruction | None:
    """Settle a pending instruction of this terminal as a daemon reported it; the settled
    row, or ``None`` when no such pending instruction exists (already settled: a report
    repeated; or another terminal's id, which a daemon cannot settle)."""
    cur = tx.execute("UPDATE owner_instructions SET state = ?, done_at = ?, done_device = ?, "
                     "deal = ?, detail = ? WHERE id = ? AND owner_email = ? AND login = ? "
                     "AND server = ? AND state = 'pending'",
                     (state, now, device_id, deal, detail[:200], instruction_id, owner_email,
                      login, server))
    if cur.rowcount != 1:
        return None
    return by_id(tx, owner_email, instruction_id)


def of_owner(tx: Tx, owner_email: str, login: int | None = None, limit: int = 200
             ) -> list[Instruction]:
    """The owner's newest instructions (of one login), newest first."""
    if login is None:
        rows = tx.execute(f"SELECT {_COLS} FROM owner_instructions WHERE owner_email = ? "
                          "ORDER BY created_at DESC, id LIMIT ?", (owner_email, limit))
    else:
        rows = tx.execute(f"SELECT {_COLS} FROM owner_instructions WHERE owner_email = ? AND "
                          "login = ? ORDER BY created_at DESC, id LIMIT ?",
                          (owner_email, login, limit))
    return [_row(r) for r in rows.fetchall()]

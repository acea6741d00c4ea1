"""Paging of rates and ticks: page shapes, the opaque cursor, and the pure page arithmetic.

Why paging: the contract says a large rates or ticks query comes back in pages rather than
failing, and never silently truncated. The EA caps the rows of one answer and says
``truncated`` (``docs/protocol.md`` §6); this module turns that, plus the client's ``limit``,
into pages ``{"columns", "rows", "next_cursor"}`` whose concatenation is exactly the unpaged
answer. ``next_cursor`` is null exactly when nothing more exists at the time of the call.

Why the arithmetic lives here, apart from the methods: it is the part that is easy to get
subtly wrong (several ticks in one millisecond, a bar forming between two pages, the EA's own
row cap), so it is pure and tested without sockets; ``methods/market.py`` only does the calls.

Positions, one kind per query shape:

* :class:`TickPosition` -- ticks, oldest first: the ``time_msc`` to resume at, how many ticks
  at exactly that millisecond were already returned, and for ``copy_ticks_from`` how many of
  the requested ``count`` are still owed. A tick has no unique key, so "after the last
  ``time_msc``" would lose ticks sharing it and "from it" would repeat them; skipping a counted
  number is exact.
* :class:`BackPosition` -- ``copy_rates_from`` / ``copy_rates_from_pos``, which count *back*
  from a point: pages walk backwards in time (each page oldest first; the client prepends).
  The position is a time, never a bar index, so a bar opening between two pages of
  ``copy_rates_from_pos`` shifts nothing.
* :class:`RangePosition` -- ``copy_rates_range``: the next bar open time (bars have unique
  integer open times).

The cursor is ``base64url(JSON) "." base64url(digest)``: the JSON holds the method, the
original query and the position; the digest (SHA-256 over both, the caller's token id and a
version tag, first 12 bytes) makes corruption and reuse under another token or method detectable.
It is not a secret MAC: a hand-made cursor can ask nothing a plain call could not, because the
decoded query and position are validated with the same strict bounds as params.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, TypeVar

import orjson
from pydantic import Field, ValidationError

from .errors import GatewayError, InvalidParams
from .schemas import Params

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_CURSOR_LENGTH",
    "MAX_LIMIT",
    "MAX_RANGE_WINDOWS",
    "BackPosition",
    "Cursor",
    "Limit",
    "MalformedAnswer",
    "RangePosition",
    "Table",
    "TickPosition",
    "back_page",
    "decode_cursor",
    "encode_cursor",
    "page",
    "range_page",
    "range_windows",
    "read_table",
    "seconds_to_ms",
    "tick_page",
    "tick_request_count",
]

#: Rows of one answer when the caller gives no ``limit``: all of an MT5-sized request (MT5's
#: own ``copy_*`` calls return up to 100 000 rows at once), so a ported bot gets every row it
#: asked for in one answer; more than this comes with a ``next_cursor``.
DEFAULT_LIMIT: Final = 100_000
MAX_LIMIT: Final = 100_000
MAX_CURSOR_LENGTH: Final = 2_048
#: EA calls one ``copy_rates_range`` page may take before asking for the whole rest at once.
MAX_RANGE_WINDOWS: Final = 6
_MAX_MS: Final = 4_102_444_800_000
_MAX_COUNT: Final = 100_000_000
_CURSOR_TAG: Final = b"mtgw-cursor-v1"
_DIGEST_BYTES: Final = 12

Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str, Field(min_length=1, max_length=MAX_CURSOR_LENGTH)]

P = TypeVar("P", bound=Params)


class MalformedAnswer(GatewayError):
    """An EA ``copy_*`` answer is not ``{columns, rows, truncated}`` (a bug: -32603)."""


class TickPosition(Params):
    """Where the next page of ticks starts (see the module docstring)."""

    from_msc: Annotated[int, Field(ge=0, le=_MAX_MS)]
    skip: Annotated[int, Field(ge=0, le=_MAX_COUNT)] = 0
    remaining: Annotated[int, Field(ge=1, le=_MAX_COUNT)] | None = None


class BackPosition(Params):
    """Where the next, older page of a count-back rates query ends, and how many bars are owed."""

    top: Annotated[int, Field(ge=0, le=_MAX_MS // 1000)]
    remaining: Annotated[int, Field(ge=1, le=_MAX_COUNT)]


class RangePosition(Params):
    """The open time (epoch seconds) of the first bar of the next ``copy_rates_range`` page."""

    from_s: Annotated[int, Field(ge=0, le=_MAX_MS // 1000)]


@dataclass(frozen=True, slots=True)
class Table:
    """An EA ``copy_*`` answer: column names, rows oldest first, the EA's own cap flag, and
    (ticks) where its copy started when that was later than asked: the first tick on the
    terminal's disk, none before it there (``docs/protocol.md`` §6, ``from_msc``)."""

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    from_msc: int | None = None

    def column(self, name: str) -> int:
        """Index of column ``name``.

        Raises:
            MalformedAnswer: the EA did not send that column.
        """
        try:
            return self.columns.index(name)
        except ValueError:
            raise MalformedAnswer(f"EA answer lacks the {name!r} column") from None


def read_table(answer: Any) -> Table:
    """Check the shape of an EA ``copy_*`` answer.

    Raises:
        MalformedAnswer: not an object with a list of column names, a list of row lists and
            a bool ``truncated`` (missing ``truncated`` reads as false), or a ``from_msc``
            that is not an integer.
    """
    if not isinstance(answer, dict):
        raise MalformedAnswer("EA answer is not an object")
    columns, rows = answer.get("columns"), answer.get("rows")
    truncated = answer.get("truncated", False)
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise MalformedAnswer("EA answer has no column list")
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise MalformedAnswer("EA answer has no row list")
    if not isinstance(truncated, bool):
        raise MalformedAnswer("EA answer has a non-bool truncated flag")
    from_msc = answer.get("from_msc")
    if from_msc is not None and (not isinstance(from_msc, int) or isinstance(from_msc, bool)):
        raise MalformedAnswer("EA answer has a non-integer from_msc")
    return Table(columns, rows, truncated, from_msc)


def page(columns: Sequence[str], rows: list[list[Any]], next_cursor: str | None,
         on_disk_from_msc: int | None = None) -> dict[str, Any]:
    """The public page shape; ``on_disk_from_msc`` only when the terminal's tick database
    started later than the page asked (``docs/api.md`` "Paging")."""
    out: dict[str, Any] = {"columns": list(columns), "rows": rows, "next_cursor": next_cursor}
    if on_disk_from_msc is not None:
        out["on_disk_from_msc"] = on_disk_from_msc
    return out


def seconds_to_ms(seconds: int | float) -> int:
    """Epoch milliseconds of epoch seconds, rounded as the EA does."""
    return seconds * 1000 if isinstance(seconds, int) else round(seconds * 1000)


# -- cursor ---------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _digest(body: bytes, binding: str) -> bytes:
    material = b"\n".join((_CURSOR_TAG, binding.encode("utf-8"), body))
    return hashlib.sha256(material).digest()[:_DIGEST_BYTES]


def encode_cursor(method: str, query: dict[str, Any], position: Params, binding: str) -> str:
    """An opaque cursor for ``method``'s ``query`` resuming at ``position``, bound to
    ``binding`` (the caller's token id)."""
    body = orjson.dumps({"m": method, "q": query, "p": position.model_dump()},
                        option=orjson.OPT_SORT_KEYS)
    return f"{_b64(body)}.{_b64(_digest(body, binding))}"


def decode_cursor(cursor: str, method: str, binding: str, position_model: type[P]
                  ) -> tuple[dict[str, Any], P]:
    """The original query (still to be validated by the caller) and the position.

    Raises:
        InvalidParams: ``cursor: invalid`` for anything but an intact cursor that this method
            made for this token, with a valid position.
    """
    invalid = InvalidParams("cursor: invalid")
    try:
        body_text, digest_text = cursor.split(".")
        body, digest = _unb64(body_text), _unb64(digest_text)
    except (ValueError, binascii.Error):
        raise invalid from None
    if not hmac.compare_digest(digest, _digest(body, binding)):
        raise invalid
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise invalid from None
    if not isinstance(data, dict) or data.get("m") != method or \
            not isinstance(data.get("q"), dict) or not isinstance(data.get("p"), dict):
        raise invalid
    try:
        position = position_model.model_validate(data["p"])
    except ValidationError:
        raise invalid from None
    return data["q"], position


# -- ticks ----------------------------------------------------------------------------------


def tick_request_count(position: TickPosition, limit: int) -> int:
    """How many ticks to ask the EA for: the skipped ones, this page, and one to see past it."""
    take = limit if position.remaining is None else min(limit, position.remaining)
    return position.skip + take + 1


def tick_page(table: Table, position: TickPosition, limit: int, until_msc: int | None
              ) -> tuple[list[list[Any]], TickPosition | None]:
    """This page's ticks and where the next starts (None: nothing more).

    ``table`` answers ``copy_ticks_from(from_msc, tick_request_count(...))``; ``until_msc`` is
    the inclusive end of a ``copy_ticks_range`` (None for ``copy_ticks_from``).
    """
    msc = table.column("time_msc")
    rows = table.rows
    start = 0
    while start < min(position.skip, len(rows)) and rows[start][msc] == position.from_msc:
        start += 1
    rows = rows[start:]
    beyond_end = False
    if until_msc is not None:
        inside = next((i for i, row in enumerate(rows) if row[msc] > until_msc), len(rows))
        beyond_end, rows = inside < len(rows), rows[:inside]
    take = limit if position.remaining is None else min(limit, position.remaining)
    taken = rows[:take]
    more = len(rows) > take or (table.truncated and not beyond_end)
    remaining = None if position.remaining is None else position.remaining - len(taken)
    if not more or remaining == 0:
        return taken, None
    if not taken:
        raise MalformedAnswer("EA row cap below the ticks sharing one millisecond")
    last = taken[-1][msc]
    same = sum(1 for row in taken if row[msc] == last)
    skip = position.skip + same if last == position.from_msc else same
    return taken, TickPosition(from_msc=last, skip=skip, remaining=remaining)


# -- rates ----------------------------------------------------------------------------------


def back_page(table: Table, take: int, remaining: int
              ) -> tuple[list[list[Any]], BackPosition | None]:
    """The newest ``take`` bars of an answer to a count-back call for ``take + 1`` bars, and
    the position of the next (older) page, None when history or the count is exhausted."""
    rows = table.rows
    more = len(rows) > take or table.truncated
    taken = rows[-take:] if len(rows) > take else rows
    left = remaining - len(taken)
    if not more or left <= 0 or not taken:
        return taken, None
    top = taken[0][table.column("time")] - 1
    return taken, (BackPosition(top=top, remaining=left) if top >= 0 else None)


def range_windows(from_s: int, to_s: int, bar_seconds: int, limit: int
                  ) -> Iterator[tuple[int, int]]:
    """Consecutive inclusive windows ``(lo, hi)`` covering ``from_s..to_s``.

    The first is sized for ``limit + 1`` bars and each next one doubles, so a page usually
    costs one EA call moving about ``limit`` rows; gaps (weekends, missing history) only add
    calls, and after :data:`MAX_RANGE_WINDOWS` the rest is asked for at once (the EA's row
    cap then bounds it).
    """
    lo, span = from_s, (limit + 1) * bar_seconds
    for _ in range(MAX_RANGE_WINDOWS - 1):
        if lo > to_s:
            return
        hi = min(to_s, lo + span - 1)
        yield lo, hi
        lo, span = hi + 1, span * 2
    if lo <= to_s:
        yield lo, to_s


def range_page(columns: list[str], rows: list[list[Any]], limit: int, more_in_ea: bool
               ) -> tuple[list[list[Any]], RangePosition | None]:
    """This page of ``copy_rates_range`` and the next position.

    ``rows`` are every bar gathered from consecutive windows, oldest first; ``more_in_ea`` is
    true when the windows stopped before the range's end (a truncated answer).
    """
    taken = rows[:limit]
    if not (len(rows) > limit or more_in_ea) or not taken:
        return taken, None
    return taken, RangePosition(from_s=taken[-1][columns.index("time")] + 1)

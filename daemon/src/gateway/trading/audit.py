"""The audit trail for people: ``mtgateway audit`` prints it and exports it as JSON lines.

Why a reader apart from :class:`~gateway.trading.journal.OrderJournal`: the command runs while
the daemon runs (the daemon holds the data directory's lock and the journal open for writing),
so it opens the SQLite file **read-only** (``mode=ro``; WAL lets it read beside the writer) and
never changes a byte -- an audit reader that could write would be a way to rewrite the trail.

Filters (all optional, combined with AND): a time window on the line's ``at`` (UTC epoch
seconds, the daemon's clock), the token record id (``mtgateway token list`` shows it), and the
``client_id``. Lines come oldest first. The export is one JSON object per line with the
trail's column names, written to a file created ``0600`` (the trail names tokens' record ids
and what was traded; it holds no secret, but it is nobody else's business either).

The table has a header and the columns an owner asks first: the side (``buy``, ``sell limit``,
``stops`` for a TRADE_ACTION_SLTP ...), the price (the fill once known), SL and TP. A reader
that stops early (``mtgateway audit | head``) ends the command quietly, exit 0: a closed pipe is
the reader being done, not an error.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import orjson

from mt5model.mt5 import OrderType, TradeAction

from .journal import AuditRow

__all__ = ["AuditFilter", "print_audit", "read_audit", "run"]

#: The trail's columns, as :class:`AuditRow` names them; a journal of an older daemon lacks
#: the last ones (price, sl, tp), which then read as NULL.
_COLUMNS = tuple(AuditRow.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which lines to read: ``since <= at <= until`` (UTC epoch s), token id, client id."""

    since: float | None = None
    until: float | None = None
    token_id: str | None = None
    client_id: str | None = None


def read_audit(path: Path, where: AuditFilter) -> Iterator[AuditRow]:
    """The audit lines of the journal at ``path`` passing ``where``, oldest first.

    Raises:
        FileNotFoundError: no journal at ``path`` (the daemon never ran with this data dir).
        sqlite3.Error: the file is not a journal.
    """
    if not path.is_file():
        raise FileNotFoundError(f"no order journal at {path}")
    clauses, args = [], []
    for clause, value in (("at >= ?", where.since), ("at <= ?", where.until),
                          ("token_id = ?", where.token_id), ("client_id = ?", where.client_id)):
        if value is not None:
            clauses.append(clause)
            args.append(value)
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    try:
        have = {str(r[1]) for r in db.execute("PRAGMA table_info(audit)").fetchall()}
        columns = ", ".join(c if c in have else "NULL" for c in _COLUMNS)
        sql = f"SELECT {columns} FROM audit"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        for values in db.execute(sql + " ORDER BY seq", args):
            yield AuditRow(*values)
    finally:
        db.close()


def _json_line(row: AuditRow) -> bytes:
    return orjson.dumps(asdict(row)) + b"\n"


def _shown(value: object) -> str:
    """``value`` as text safe for a terminal: a control character (a line break, an escape
    sequence) is written as its ``\\xNN``/``\\uNNNN`` escape and a backslash is doubled, so
    no escape can be faked either. Names in the trail come from token records (a server name
    is whatever its owner typed) and from requests: printed raw, one could forge a line or
    drive the reader's terminal. ``--jsonl`` needs no such care (JSON escapes them)."""
    text = str(value)
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(ch if ch.isprintable() and ch != "\\" else
                   ("\\\\" if ch == "\\" else ascii(ch)[1:-1]) for ch in text)


#: The table's columns: header and width (the last, the terminal, is as long as it is).
_TABLE: tuple[tuple[str, int], ...] = (
    ("TIME (UTC)", 24), ("EVENT", 20), ("STATE", 12), ("CLIENT ID", 24), ("TOKEN", 20),
    ("SIDE", 11), ("SYMBOL", 10), ("VOLUME", 8), ("PRICE", 12), ("SL", 12), ("TP", 12),
    ("RETCODE", 7), ("TICKET", 10), ("TERMINAL", 0))


def _side(row: AuditRow) -> str:
    """``buy``, ``sell limit`` ... for an order; the action for a request without a side."""
    if row.action in (TradeAction.SLTP, TradeAction.MODIFY, TradeAction.REMOVE):
        return {TradeAction.SLTP: "stops", TradeAction.MODIFY: "modify",
                TradeAction.REMOVE: "remove"}[TradeAction(row.action)]
    if row.type is None:
        return "-"
    try:
        return OrderType(row.type).name.lower().replace("_", " ")
    except ValueError:
        return str(row.type)


def _number(value: float | None) -> str:
    """A price or volume as the trail holds it (no trailing zeros); ``-`` when unset or 0."""
    return f"{value:.10g}" if value else "-"


def _cells(row: AuditRow) -> tuple[str, ...]:
    at = datetime.fromtimestamp(row.at, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"
    return (at, _shown(row.event), _shown(row.state), _shown(row.client_id),
            _shown(row.token_id), _side(row), _shown(row.symbol or "-"), _number(row.volume),
            _number(row.price), _number(row.sl), _number(row.tp),
            "-" if row.retcode is None else str(row.retcode),
            "-" if row.ticket is None else str(row.ticket), _shown(row.terminal))


def _table_line(cells: tuple[str, ...]) -> str:
    return " ".join(cell.ljust(width) if width else cell
                    for cell, (_, width) in zip(cells, _TABLE, strict=True)) + "\n"


def print_audit(rows: Iterator[AuditRow], out: TextIO, *, jsonl: bool) -> int:
    """Write ``rows`` to ``out`` (a table with its header, or JSON lines); how many."""
    count = 0
    for row in rows:
        if not jsonl and count == 0:
            out.write(_table_line(tuple(name for name, _ in _TABLE)))
        out.write(_json_line(row).decode() if jsonl else _table_line(_cells(row)))
        count += 1
    return count


def _reader_gone() -> int:
    """The reader closed the pipe (``| head``): point stdout at the null device so the
    interpreter's final flush cannot raise again, and end quietly."""
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, sys.stdout.fileno())
    finally:
        os.close(null)
    return 0


def _export(rows: Iterator[AuditRow], path: Path) -> int:
    # O_EXCL: never overwrite a file (an older export, or anything else under that name).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    count = 0
    with os.fdopen(fd, "wb") as out:
        for row in rows:
            out.write(_json_line(row))
            count += 1
    return count


def run(args: argparse.Namespace, journal_path: Path) -> int:
    """Print or export the trail; 0, or 1 with one line on stderr when it cannot be read."""
    where = AuditFilter(args.since, args.until, args.token_id, args.client_id)
    try:
        rows = read_audit(journal_path, where)
        if args.export is not None:
            count = _export(rows, args.export)
            print(f"{count} audit lines written to {args.export}", file=sys.stderr)
        else:
            print_audit(rows, sys.stdout, jsonl=args.jsonl)
            sys.stdout.flush()
    except BrokenPipeError:
        return _reader_gone()
    except FileExistsError:
        print(f"error: {args.export} exists; choose a new file", file=sys.stderr)
        return 1
    except (FileNotFoundError, sqlite3.Error) as exc:
        print(f"error: cannot read the audit trail: {exc}", file=sys.stderr)
        return 1
    return 0

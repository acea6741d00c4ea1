"""The journal's checks at start on real SQLite files: what a crash leaves is accepted, what
would make SQLite forget commits (or is not a journal at all) is refused with one line.

A crash image is the journal's files copied while the journal is open: every commit was
fsynced into the WAL and nothing was checkpointed, as after ``kill -9`` or a power loss.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.trading.journal import JournalUnusable, OrderJournal, OrderState
from gateway.trading.wal import wal_damage


def _crash_image(tmp_path: Path, orders: int = 10) -> Path:
    """A journal with ``orders`` SENT rows as a crash leaves it; returns the database path."""
    live = OrderJournal(tmp_path / "live" / "orders.sqlite3")
    live.open()
    for i in range(orders):
        row = live.receive(token_id="tok", client_id=f"o{i}", terminal="1@S", params_hash="h",
                           request={"action": 1})
        live.mark_sent(row, {"action": 1, "comment": f"g:o{i}"})
    image = tmp_path / "image"
    image.mkdir(mode=0o700)
    for suffix in ("", "-wal"):
        shutil.copyfile(live.path.with_name(live.path.name + suffix),
                        image / f"orders.sqlite3{suffix}")
        (image / f"orders.sqlite3{suffix}").chmod(0o600)
    live.close()
    return image / "orders.sqlite3"


def _wal(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def _frame_size(wal: Path) -> int:
    return 24 + int.from_bytes(wal.read_bytes()[8:12], "big")


def test_a_crash_image_opens_with_every_order_unknown(tmp_path: Path) -> None:
    path = _crash_image(tmp_path)
    assert wal_damage(_wal(path)) is None
    journal = OrderJournal(path)
    journal.open()
    assert [r.state for r in journal.unknown()] == [OrderState.UNKNOWN] * 10
    journal.close()


def test_a_torn_last_write_is_not_damage(tmp_path: Path) -> None:
    """A WAL cut in the middle of its last frame (the crash came during a write) is what
    SQLite recovers correctly: that transaction never committed."""
    path = _crash_image(tmp_path)
    wal = _wal(path)
    data = wal.read_bytes()
    wal.write_bytes(data[:len(data) - _frame_size(wal) // 2])
    assert wal_damage(wal) is None


def test_a_damaged_frame_before_commits_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = _crash_image(tmp_path)
    wal = _wal(path)
    data = bytearray(wal.read_bytes())
    data[32 + _frame_size(wal) + 100] ^= 0x01  # frame 2's page
    wal.write_bytes(bytes(data))
    assert "frame 2 is damaged" in str(wal_damage(wal))
    with pytest.raises(JournalUnusable, match="damaged write-ahead log") as refused:
        OrderJournal(path).open()
    assert "\n" not in str(refused.value) and "docs/security.md" in str(refused.value)
    assert wal.read_bytes() == bytes(data)


def test_a_damaged_wal_header_is_refused(tmp_path: Path) -> None:
    path = _crash_image(tmp_path)
    wal = _wal(path)
    data = bytearray(wal.read_bytes())
    data[17] ^= 0x01  # salt-1: the header's checksum no longer matches
    wal.write_bytes(bytes(data))
    assert "header is damaged" in str(wal_damage(wal))
    with pytest.raises(JournalUnusable, match="header is damaged"):
        OrderJournal(path).open()


def test_a_wal_without_its_database_is_refused(tmp_path: Path) -> None:
    path = _crash_image(tmp_path)
    path.unlink()
    with pytest.raises(JournalUnusable, match="is missing but its write-ahead log"):
        OrderJournal(path).open()
    assert not path.exists()


def test_a_damaged_database_page_fails_the_integrity_check(tmp_path: Path) -> None:
    """A checkpointed journal whose table pages were overwritten is refused by quick_check
    (or by SQLite's own reading of it), never opened as if it were fine."""
    journal = OrderJournal(tmp_path / "orders.sqlite3")
    journal.open()
    for i in range(200):
        row = journal.receive(token_id="tok", client_id=f"o{i}", terminal="1@S",
                              params_hash="h" * 64, request={"action": 1, "pad": "x" * 200})
        journal.abandon(row, "test")
    journal.close()  # checkpointed: everything is in the database file now
    data = bytearray(journal.path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for offset in range(3 * page, 3 * page + 64):  # page 4's header and cell pointers
        data[offset] = 0x55
    journal.path.write_bytes(bytes(data))
    with pytest.raises(JournalUnusable) as refused:
        OrderJournal(journal.path).open()
    message = str(refused.value)
    assert "integrity check" in message or "not a usable SQLite database" in message, message

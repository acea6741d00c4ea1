"""What tells an owner's tokens apart: a label, and the token's last use.

With two tokens for one terminal, nothing else says which one the EA presents, and an owner
revokes the wrong one. Each token carries a label (set at creation, editable) and its last use:
when, by which device, from which address. A use is a daemon's record lookup or refresh naming
the token, or its report of a session running under it.

A hot token is used on every refresh and report, so a use is written only when it says
something new: :class:`UseThrottle` lets one through per token at most every
:data:`USE_NOTE_INTERVAL_S`, unless the device or the address changed (then at once: that is
the news an owner looks for). The throttle is one process's memory: a restarted console or a
second instance writes one more row, which is harmless. A daemon's report, the most frequent
use, reads the stored use with the rest of what decides it (``prior.py``) and skips a write
the row already says (:meth:`UseThrottle.known`), so console processes sharing one database,
between which a daemon's reports may alternate, do not each write it. The rows live in
``token_details`` (schema 8), beside the token table rather than in it, so the record path's
token reads are unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Final

from ..database import Tx

__all__ = ["LABEL_MAX", "USE_NOTE_INTERVAL_S", "TokenDetails", "UseThrottle", "clean_label",
           "details_of", "note_use", "set_label"]

#: A use of the same token from the same device and address is written at most this often.
USE_NOTE_INTERVAL_S: Final = 60
#: The longest label kept (characters).
LABEL_MAX: Final = 60
#: How many tokens the throttle remembers before it forgets the stalest half.
_REMEMBERED: Final = 10_000


@dataclass(frozen=True, slots=True)
class TokenDetails:
    """A token's label and last use (``used_at`` ``None``: never used)."""

    label: str = ""
    used_at: int | None = None
    used_device: str = ""
    used_address: str = ""


def clean_label(text: str) -> str:
    """A label as kept: blanks and control characters collapsed to one space, at most
    :data:`LABEL_MAX` characters (``ValueError`` when longer)."""
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if len(cleaned) > LABEL_MAX:
        raise ValueError(f"a label has at most {LABEL_MAX} characters")
    return cleaned


class UseThrottle:
    """Which uses are worth a write. Called from the database's worker threads, hence the
    lock."""

    def __init__(self, interval_s: int = USE_NOTE_INTERVAL_S) -> None:
        self._interval_s = interval_s
        self._last: dict[str, tuple[int, str, str]] = {}
        self._lock = threading.Lock()

    def known(self, stored: TokenDetails | None, device_id: str, address: str,
              now: int) -> bool:
        """Whether the token's stored last use (``None``: no row) already says this one:
        the same device and address, less than the interval ago. Every console process
        reads the same row, so a use one of them wrote is not written again by another
        within the interval (each process's own memory would let it through once)."""
        return (stored is not None and stored.used_at is not None
                and (stored.used_device, stored.used_address) == (device_id, address)
                and 0 <= now - stored.used_at < self._interval_s)

    def due(self, token_id: str, device_id: str, address: str, now: int) -> bool:
        """Whether this use should be written: it counts as written once its transaction
        has committed (:meth:`written`), never before. A transaction may run more than once
        (a connection found broken is replaced and the function run again) or roll back,
        and each run must decide the same: a use counted at the decision was lost when its
        transaction did not commit."""
        with self._lock:
            last = self._last.get(token_id)
            return not (last is not None and (last[1], last[2]) == (device_id, address)
                        and 0 <= now - last[0] < self._interval_s)

    def written(self, token_id: str, device_id: str, address: str, now: int) -> None:
        """A use :meth:`due` let through is committed: not written again within the
        interval."""
        with self._lock:
            if len(self._last) >= _REMEMBERED and token_id not in self._last:
                stalest = sorted(self._last, key=lambda k: self._last[k][0])
                for key in stalest[: _REMEMBERED // 2]:
                    del self._last[key]
            self._last[token_id] = (now, device_id, address)


def note_use(tx: Tx, throttle: UseThrottle, token_ids: Iterable[str], device_id: str,
             address: str, now: int) -> None:
    """Record that ``device_id`` at ``address`` used these tokens now (the throttle's due
    ones only)."""
    for token_id in dict.fromkeys(token_ids):
        if not throttle.due(token_id, device_id, address, now):
            continue
        tx.execute("INSERT INTO token_details (token_id, label, used_at, used_device, "
                   "used_address) VALUES (?, '', ?, ?, ?) ON CONFLICT (token_id) DO UPDATE "
                   "SET used_at = excluded.used_at, used_device = excluded.used_device, "
                   "used_address = excluded.used_address",
                   (token_id, now, device_id, address))
        tx.after_commit(partial(throttle.written, token_id, device_id, address, now))


def set_label(tx: Tx, token_id: str, label: str) -> None:
    """Set a token's label (already cleaned: :func:`clean_label`)."""
    tx.execute("INSERT INTO token_details (token_id, label, used_at, used_device, "
               "used_address) VALUES (?, ?, NULL, '', '') ON CONFLICT (token_id) DO UPDATE "
               "SET label = excluded.label", (token_id, label))


def details_of(tx: Tx, token_ids: Iterable[str]) -> dict[str, TokenDetails]:
    """The details of these tokens (a token with none is left out)."""
    wanted = list(dict.fromkeys(token_ids))
    out: dict[str, TokenDetails] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for row in tx.query("SELECT token_id, label, used_at, used_device, used_address "
                            f"FROM token_details WHERE token_id IN ({marks})",  # noqa: S608
                            chunk):
            out[str(row[0])] = TokenDetails(str(row[1]), None if row[2] is None
                                            else int(row[2]), str(row[3]), str(row[4]))
    return out

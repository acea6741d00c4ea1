"""The tables of an owner's second factor: the TOTP secret (``owner_totp``), the recovery codes
(``owner_recovery_codes``), the enrolments of the last day (``factor_enrolments``) and the
links that take an enrolment back (``factor_undos``).

Only SQL, each statement a function of the transaction it runs in: the rules (when a factor
may be turned on, what ending it ends, who is mailed) are the service's
(``service/secondfactor.py``, ``service/recovery.py``), which call these. A secret is stored
sealed, a recovery code and an undo link as keyed or plain hashes only, never as typed.
"""

from __future__ import annotations

from ..database import Tx

__all__ = ["add_undo", "codes_left", "enable", "enabled_at", "enrolled_since", "forget",
           "forget_enrolments", "note_enrolment", "open_undos", "pending_secret",
           "replace_codes", "secret", "spend_code", "spend_step", "spend_undo", "start",
           "undo_of", "void_undos"]


def enabled_at(tx: Tx, email: str) -> tuple[bool, int | None]:
    """Whether ``email`` has a secret at all (pending or on), and since when it is on."""
    row = tx.query_one("SELECT enabled_at FROM owner_totp WHERE owner_email = ?", (email,))
    return row is not None, None if row is None or row[0] is None else int(row[0])


def codes_left(tx: Tx, email: str) -> int:
    """The owner's recovery codes not spent yet."""
    return int(tx.query_one("SELECT count(*) FROM owner_recovery_codes WHERE owner_email = ? "
                            "AND used_at IS NULL", (email,))[0])


def pending_secret(tx: Tx, email: str) -> bytes | None:
    """The sealed secret waiting for its first code, or ``None``."""
    row = tx.query_one("SELECT secret_enc FROM owner_totp WHERE owner_email = ? "
                       "AND enabled_at IS NULL", (email,))
    return None if row is None else bytes(row[0])


def secret(tx: Tx, email: str) -> bytes | None:
    """The sealed secret of a factor that is on, or ``None``."""
    row = tx.query_one("SELECT secret_enc FROM owner_totp WHERE owner_email = ? "
                       "AND enabled_at IS NOT NULL", (email,))
    return None if row is None else bytes(row[0])


def enrolled_since(tx: Tx, email: str, since: int) -> list[int]:
    """When the owner's factor was turned on after ``since``, oldest first."""
    return [int(r[0]) for r in tx.execute(
        "SELECT enabled_at FROM factor_enrolments WHERE owner_email = ? AND enabled_at > ? "
        "ORDER BY enabled_at", (email, since)).fetchall()]


def start(tx: Tx, email: str, sealed: bytes, now: int) -> None:
    """Keep ``sealed`` as the owner's pending secret (replacing a pending one)."""
    tx.execute("INSERT INTO owner_totp VALUES (?, ?, NULL, 0, ?) ON CONFLICT (owner_email) "
               "DO UPDATE SET secret_enc = excluded.secret_enc, last_step = 0, "
               "created_at = excluded.created_at", (email, sealed, now))


def enable(tx: Tx, email: str, at: int, step: int) -> None:
    """Turn the pending secret on at ``at``, its code of ``step`` spent."""
    tx.execute("UPDATE owner_totp SET enabled_at = ?, last_step = ? WHERE owner_email = ?",
               (at, step, email))


def note_enrolment(tx: Tx, email: str, at: int, window_s: int) -> None:
    """Count an enrolment at ``at``, forgetting those older than ``window_s``."""
    tx.execute("DELETE FROM factor_enrolments WHERE owner_email = ? AND enabled_at <= ?",
               (email, at - window_s))
    tx.execute("INSERT INTO factor_enrolments VALUES (?, ?)", (email, at))


def forget_enrolments(tx: Tx, email: str) -> None:
    """Forget the owner's counted enrolments (given back: the owner may set up at once)."""
    tx.execute("DELETE FROM factor_enrolments WHERE owner_email = ?", (email,))


def replace_codes(tx: Tx, email: str, macs: list[str]) -> None:
    """The owner's recovery codes are now these (keyed hashes); the old ones are gone."""
    tx.execute("DELETE FROM owner_recovery_codes WHERE owner_email = ?", (email,))
    for mac in macs:
        tx.execute("INSERT INTO owner_recovery_codes VALUES (?, ?, NULL)", (email, mac))


def forget(tx: Tx, email: str) -> None:
    """Delete the owner's secret and recovery codes (the factor is off)."""
    tx.execute("DELETE FROM owner_totp WHERE owner_email = ?", (email,))
    tx.execute("DELETE FROM owner_recovery_codes WHERE owner_email = ?", (email,))


def spend_step(tx: Tx, email: str, step: int) -> bool:
    """Spend the code of ``step``: whether it was later than the last spent one (one
    conditional ``UPDATE``, so two instances given the same code at once spend it once)."""
    cur = tx.execute("UPDATE owner_totp SET last_step = ? WHERE owner_email = ? "
                     "AND last_step < ?", (step, email, step))
    return cur.rowcount == 1


def spend_code(tx: Tx, email: str, mac: str, at: int) -> bool:
    """Spend the recovery code of keyed hash ``mac``: whether it was there, unspent."""
    cur = tx.execute("UPDATE owner_recovery_codes SET used_at = ? WHERE owner_email = ? "
                     "AND code_mac = ? AND used_at IS NULL", (at, email, mac))
    return cur.rowcount == 1


def add_undo(tx: Tx, digest: str, email: str, factor_digest: str, now: int,
             expires_at: int) -> None:
    """Keep an undo link (its token's SHA-256) for the enrolment of ``factor_digest``."""
    tx.execute("INSERT INTO factor_undos (token_sha256, owner_email, factor_sha256, "
               "created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, NULL)",
               (digest, email, factor_digest, now, expires_at))


def undo_of(tx: Tx, digest: str, now: int) -> tuple[str, int, int] | None:
    """The owner, creation and expiry of an unspent, unexpired undo link whose enrolment is
    still the owner's factor (one turned on again since voids it), or ``None``."""
    row = tx.query_one("SELECT u.owner_email, u.created_at, u.expires_at FROM factor_undos "
                       "u JOIN owner_totp t ON t.owner_email = u.owner_email WHERE "
                       "u.token_sha256 = ? AND u.used_at IS NULL AND u.expires_at > ? AND "
                       "t.enabled_at IS NOT NULL AND t.enabled_at >= u.created_at",
                       (digest, now))
    return None if row is None else (str(row[0]), int(row[1]), int(row[2]))


def open_undos(tx: Tx, email: str, now: int) -> list[tuple[int, int]]:
    """The creation and expiry of the owner's unspent, unexpired undo links, newest first."""
    rows = tx.execute("SELECT created_at, expires_at FROM factor_undos WHERE owner_email "
                      "= ? AND used_at IS NULL AND expires_at > ? ORDER BY created_at DESC",
                      (email, now)).fetchall()
    return [(int(r[0]), int(r[1])) for r in rows]


def spend_undo(tx: Tx, digest: str, now: int) -> str | None:
    """Spend an undo link: its owner, or ``None`` when it was spent already (another
    instance, a moment ago)."""
    row = tx.query_one("UPDATE factor_undos SET used_at = ? WHERE token_sha256 = ? AND "
                       "used_at IS NULL RETURNING owner_email", (now, digest))
    return None if row is None else str(row[0])


def void_undos(tx: Tx, email: str, now: int) -> None:
    """Spend every open undo link of the owner."""
    tx.execute("UPDATE factor_undos SET used_at = ? WHERE owner_email = ? AND used_at IS NULL",
               (now, email))

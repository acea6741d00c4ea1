"""Owner passwords: scrypt hashes in a self-describing string, compared in constant time, on
a bounded pool of their own.

The stored form is ``scrypt$n$r$p$salt$hash`` (hex salt and hash) so the cost parameters can be
raised later without breaking existing hashes: verification reads them from the string.
scrypt's memory hardness makes a stolen database expensive to brute-force on GPUs.

A hash costs 16 MiB and tens of milliseconds of a CPU, so hashes run on :class:`Hashing`'s
own threads (``fairshare.HASH_WORKERS``), never on the default pool the rest of the
process uses, and each caller takes its turn within its share (``fairshare.HASHING``: one
at a time per credential and per owner, two per address): made-up links that each cost a
hash on the pool every sign-in used once kept every owner's sign-in waiting 17-22 s.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Final, TypeVar

from .fairshare import HASH_WORKERS, Lane, current

__all__ = ["MIN_PASSWORD_LENGTH", "SCRYPT_N", "SCRYPT_P", "SCRYPT_R", "Hashing",
           "hash_password", "short_password", "verify_password"]

#: The shortest owner password the console takes, wherever one is set: created, changed,
#: chosen through a reset or a take-back link, typed into a page's form.
MIN_PASSWORD_LENGTH: Final = 8


def short_password(password: str) -> str | None:
    """Why ``password`` is too short to be an owner's, or ``None``."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
    return None

T = TypeVar("T")

SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
_SALT_BYTES: Final = 16
_HASH_BYTES: Final = 32
#: Refuse absurd cost parameters in a stored string (a tampered row must not eat the RAM).
_MAX_N: Final = 2**20


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=256 * 1024 * 1024, dklen=_HASH_BYTES)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The storable hash of ``password`` (a fresh random salt unless one is given)."""
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``; a malformed ``stored`` never matches.

    The comparison is constant-time; the cost is that of one scrypt whatever the outcome,
    which is what lets callers answer unknown accounts in the same time (hash a dummy).
    """
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
    except ValueError:
        return False
    if not (1 < n <= _MAX_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p), expected)


class Hashing:
    """Password hashes on ``workers`` threads of their own, each caller in its turn.

    Args:
        workers: the pool's threads.
        turns: the callers' shares of the pool (``fairshare.FairShare.hashing``); None: no
            caller waits for its share (the CLI, a daemon's embedded authority).
    """

    def __init__(self, workers: int = HASH_WORKERS, turns: Lane | None = None) -> None:
        self._workers = workers
        self._turns = turns
        self._pool: ThreadPoolExecutor | None = None
        #: Hashes computed (hashed or verified) since the start, and those handed to the
        #: pool and not done (running or queued for a thread): what the metrics and the
        #: tests read.
        self.done = 0
        self.in_flight = 0

    async def hash(self, password: str, *, owner: str = "") -> str:
        """:func:`hash_password`, in ``owner``'s turn (the owner whose password it is)."""
        return await self._run(hash_password, password, owner=owner)

    async def verify(self, password: str, stored: str, *, owner: str = "") -> bool:
        """:func:`verify_password`, in ``owner``'s turn (the owner the password is checked
        for: a caller that proved nothing yet is counted against the owner it names too)."""
        return await self._run(verify_password, password, stored, owner=owner)

    async def _run(self, fn: Callable[..., T], *args: str, owner: str) -> T:
        who = current()
        if self._turns is None or who is None:
            return await self._submit(fn, *args)
        async with self._turns.turn(who.naming(owner)):
            return await self._submit(fn, *args)

    async def _submit(self, fn: Callable[..., T], *args: object) -> T:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="mtgw-hash")
        self.in_flight += 1
        try:
            result = await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        finally:
            self.in_flight -= 1
        self.done += 1
        return result

    def close(self) -> None:
        """Let the threads end once their hashes are done (a later hash starts new ones)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)

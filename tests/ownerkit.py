"""The test owner of a fixture's authority, stored as ``Owners.create`` stores it, its password
hashed once per process.

Every daemon, console and authority a test starts has its owner, and ``Owners.create`` hashes
the password with scrypt each time (40-60 ms of CPU, a thousand fixtures a run). The stored
hash is a real scrypt hash of the real password, made by ``passwords.hash_password`` and checked
by ``verify_password`` at every sign-in; only its salt is shared by the fixtures of one process.
The owner-creation rules themselves (the e-mail, the length, a taken address) are the subject
of the owner tests, which call ``Owners.create``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from mtgateway_console.passwords import hash_password
from mtgateway_console.service import Authority
from mtgateway_console.service.common import normalize_email
from mtgateway_console.tables import owners as owner_rows

__all__ = ["add_owner", "password_hash"]


@functools.lru_cache(maxsize=8)
def password_hash(password: str) -> str:
    """``password``'s stored form, computed once per process."""
    return hash_password(password)


async def add_owner(authority: Authority, email: str, password: str,
                    clock: Callable[[], float]) -> None:
    """Add the owner ``email`` with ``password`` to ``authority`` at ``clock()``'s second, the
    row ``Owners.create`` writes."""
    added = await authority.run(owner_rows.add_owner, normalize_email(email),
                                password_hash(password), int(clock()))
    assert added, f"an owner {email} exists already"

"""Token records, the principal a valid token yields, and the seam records come through.

A record binds one token (by its SHA-256) to one terminal (login and broker server) with
scopes and a lifetime. Where records come from is behind :class:`RecordSource`: the local
SQLite store today, a signed-record cache fed by the token authority tomorrow; the
authenticator above it does not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ea_bridge import TerminalId

__all__ = ["SCOPES", "Principal", "RecordSource", "TokenRecord"]

#: ``trade`` includes ``read``.
SCOPES = frozenset({"read", "trade"})


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """What the daemon knows of a token (never the token itself). Times are epoch seconds."""

    token_id: str
    token_sha256: str
    login: int
    server: str
    scopes: frozenset[str]
    owner_email: str
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None

    @property
    def terminal(self) -> TerminalId:
        """The terminal the token is bound to."""
        return TerminalId(self.login, self.server)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's record id, its terminal and its scopes."""

    token_id: str
    terminal: TerminalId
    scopes: frozenset[str]

    def may_trade(self) -> bool:
        """Whether the token carries the ``trade`` scope."""
        return "trade" in self.scopes


class RecordSource(Protocol):
    """Where the authenticator finds token records."""

    async def find_by_hash(self, token_sha256: str) -> TokenRecord | None:
        """The record for a token's SHA-256, or None when unknown."""
        ...

    async def records(self) -> Sequence[TokenRecord]:
        """Every record (the EA handshake tries the MAC against each; there are few)."""
        ...

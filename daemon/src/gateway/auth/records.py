"""The principal a valid token yields, and the seam token records come through.

A record (:class:`~mtgateway_base.wire.records.SignedRecord`, issued and signed by the token
authority) binds one token, by its hint and verifier, to one terminal (login and broker server) with
scopes, a lifetime and the account's risk policy. Where records come from is behind
:class:`RecordSource`; the daemon's :class:`~gateway.auth.cache.RecordCache` is the one
implementation (embedded authority or console behind it), and the authenticator above it does
not care which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ea_bridge import TerminalId
from mtgateway_base.wire.records import DEFAULT_RISK, RiskPolicy, SignedRecord

__all__ = ["SCOPES", "Principal", "RecordSource"]

#: ``trade`` includes ``read``.
SCOPES = frozenset({"read", "trade"})


def _always_fresh() -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's record id, its terminal, scopes and risk policy.

    ``fresh`` is asked at the moment of use, not frozen at authentication: a WebSocket that
    authenticated an hour ago must still have its trades refused once the record goes stale.
    """

    token_id: str
    terminal: TerminalId
    scopes: frozenset[str]
    risk: RiskPolicy = DEFAULT_RISK
    freshness: Callable[[], bool] = field(default=_always_fresh, repr=False, compare=False)

    @property
    def fresh(self) -> bool:
        """Whether the record was refreshed recently enough for trades (see ``cache.py``)."""
        return self.freshness()

    def may_trade(self) -> bool:
        """Whether the token carries the ``trade`` scope."""
        return "trade" in self.scopes


class RecordSource(Protocol):
    """Where the authenticator finds verified token records."""

    async def find(self, *, token_hint: str) -> SignedRecord:
        """The record of the token with this hint.

        Raises:
            Unauthorized: ``invalid_token`` or ``device_not_approved``.
            Unavailable: ``authority_unreachable``.
        """
        ...

    def peek(self, token_hint: str) -> SignedRecord | None:
        """The usable cached record with this hint, without asking the authority."""
        ...

    def is_fresh(self, token_id: str) -> bool:
        """Whether trades may go on this record now."""
        ...

    @property
    def generation(self) -> int:
        """A number that changes whenever any cached record changes (or is dropped)."""
        ...

    def usable_until(self, token_id: str) -> float:
        """Until when (by :attr:`clock`) this record may be used without the authority."""
        ...

    @property
    def clock(self) -> Callable[[], float]:
        """Epoch seconds, the same clock the source judges staleness with."""
        ...

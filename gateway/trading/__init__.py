"""Trading, the one door for orders: what a request may say (``requests``), the desk
(idempotent order sending, reconciliation), the order journal and the token's risk policy. The
RPC methods in ``gateway/methods/`` stay thin and call in here.
"""

from __future__ import annotations

from .desk import OUTCOME_UNKNOWN_RETCODES, TradeDesk
from .journal import OrderJournal, OrderRow, OrderState
from .requests import SendRequest, TradeRequest
from .risk import check_order

__all__ = [
    "OUTCOME_UNKNOWN_RETCODES",
    "OrderJournal",
    "OrderRow",
    "OrderState",
    "SendRequest",
    "TradeDesk",
    "TradeRequest",
    "check_order",
]

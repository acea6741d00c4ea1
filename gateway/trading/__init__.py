"""Trading: the desk (idempotent order sending, reconciliation), the order journal and the
token's risk policy. The RPC methods in ``gateway/methods/orders.py`` stay thin and call the desk.
"""

from __future__ import annotations

from .desk import OUTCOME_UNKNOWN_RETCODES, SendRequest, TradeDesk, TradeRequest
from .journal import OrderJournal, OrderRow, OrderState
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

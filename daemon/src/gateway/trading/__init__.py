"""Trading, the one door for orders. From the ground up: what a request may say
(``requests``), who may trade now (``gate``), the paper books (``paper``) and where a call goes
(``venue``: the terminal or the paper book), the order journal (``journal``), the risk policy
(``risk``), the desk (``desk``: idempotent send, check, replay), the reconciler
(``reconciler``, matching in ``reconcile``). The RPC methods in ``gateway/methods/`` stay thin
and call in here.
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

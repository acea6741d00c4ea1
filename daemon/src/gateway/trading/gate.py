"""Who may trade now: the one ordered table of refusal reasons.

Why one table: the reasons a new order is refused were raised in four files and listed again
for ``gateway_status``, and the two could drift. :data:`RULES` is the order both follow, one
row per rule holding all of it (its :class:`Reason`, when it holds, the error it raises), so a
rule is added in one place and a misspelt reason fails at import, not at run time:
:meth:`TradeGate.refusals` lists every reason that holds (for ``gateway_status``), and
:meth:`TradeGate.check` raises the first one that applies, with the error a client reacts to:

====================== ======= =================================================================
reason                 code    when
====================== ======= =================================================================
``scope``              -32004  the token lacks the ``trade`` scope
``auth_stale``         -32014  the authority has not confirmed the token lately (reads only)
``trading_halted``     -32012  the owner's kill switch is on (``risk.trading_halted``): every order
``terminal_offline``   -32001  no EA is connected for the terminal
``terminal_mismatch``  -32004  the EA is connected with another token record
``reconciling``        -32014  a reconciliation pass runs for the terminal
``auto_trade_enabled`` -32012  the risk policy disables automated trading: opening orders only
====================== ======= =================================================================

The first two concern the caller and are checked before a retry is replayed (a caller who may
not trade learns nothing of the journal); the others concern the route, and are checked after
(a retry of an executed order replays its outcome even while the terminal is offline). Reads
check only the pairing: one token pairs one client with one terminal. ``order_check`` also
applies the account's policy rules, ``trading_halted`` and ``auto_trade_enabled``
(:meth:`TradeGate.check_policy`), so it refuses what ``order_send`` would under the policy,
with the same error.

After the table, what is said of the order itself, in this order (:data:`ORDER_RULES`; the
same for ``order_check`` and ``order_send``, live or on paper):

====================== ======= =================================================================
rule                   code    when
====================== ======= =================================================================
``allowed_symbols``    -32012  an opening order outside the account's symbols (``risk.py``)
``market_closed``      10018   the symbol's market is closed: the venue's own ``order_check``
                               answer, asked only when a rule below refuses the order
``max_lot_size``       -32012  an opening order above the account's lot cap
``risk_pct``           -32012  an opening order without a stop, or losing more at its stop
``price_off``          -32010  a market order on a priced execution the daemon cannot price
                               (no fresh quote: ``pricing.py``, 10021)
====================== ======= =================================================================

then the terminal's own answer, in the terminal's own order. Past the caller and the route, what is
said goes from what lasts to what the caller can change: the owner's switches (the halt, automated
trading) and the account's symbols refuse however long a bot waits; a closed market refuses until
its session opens; the lot cap, the stop and the price concern this one order, which a change of it
mends. So a closed market is said before those three: a terminal answers 10018
``TRADE_RETCODE_MARKET_CLOSED`` whatever the stops, the volume or the price, and a daemon that said
"add a stop" (10016) or "fewer lots" (10014) first sent a bot to change an order no change could
open -- a bot that picks a symbol by ``order_check`` took the policy's answer for an open market
(EURUSD on a Sunday, refused 10018 by the broker once sent). Why the market is asked only then: an
order no rule refuses goes to the venue, which says a closed market itself, so the question costs a
round trip on the way to a refusal only, never on an order that is sent; and an order the policy
refuses is never sent to learn it. :meth:`TradeGate.market_first` puts the market where this table
does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from ea_bridge import Bridge, BridgeError, SessionInfo, TerminalId, TerminalNotConnected
from mt5model.mt5 import TradeRetcode

from ..auth import Principal
from ..errors import GatewayError, RiskLimit, TradingHalted, Unauthorized, Unavailable

__all__ = ["ORDER_RULES", "PAIRING", "RULES", "Reason", "Rule", "TradeGate", "other_token"]


class Reason(StrEnum):
    """The word a refusal carries (``error.data.reason``, ``gateway_status``'s list)."""

    SCOPE = "scope"
    AUTH_STALE = "auth_stale"
    TRADING_HALTED = "trading_halted"
    TERMINAL_OFFLINE = "terminal_offline"
    TERMINAL_MISMATCH = "terminal_mismatch"
    RECONCILING = "reconciling"
    AUTO_TRADE_ENABLED = "auto_trade_enabled"


@dataclass(frozen=True, slots=True)
class Rule:
    """One reason to refuse: its word, when it holds, the error a client gets, whether it
    concerns the caller (checked before a replay) and whether it refuses only opening
    orders."""

    reason: Reason
    holds: Callable[[TradeGate, Principal], bool]
    error: Callable[[TerminalId], Exception]
    caller: bool = False
    opening_only: bool = False
    #: One of the account's policy rules (the owner's halt, automated trading), which
    #: ``order_check`` applies as ``order_send`` does.
    policy: bool = False


def _paired_elsewhere(gate: TradeGate, principal: Principal) -> bool:
    return other_token(gate.bridge.session(principal.terminal), principal)


def other_token(session: SessionInfo | None, principal: Principal) -> bool:
    """Whether the terminal's live session (if any) was opened with another token record:
    the ``terminal_mismatch`` rule (:data:`PAIRING`) on a session already looked up (a plain
    read's one look-up, ``LiveVenue.read``)."""
    return session is not None and session.token_id != principal.token_id


#: The order every refusal follows (see the module docstring).
RULES: Final = (
    Rule(Reason.SCOPE, lambda gate, p: not p.may_trade(),
         lambda _: Unauthorized("scope", "This token may not trade: it lacks the trade scope"),
         caller=True),
    Rule(Reason.AUTH_STALE, lambda gate, p: not p.fresh,
         lambda _: Unavailable("auth_stale", "The token authority has not confirmed this token "
                               "recently; trading resumes when it answers again"),
         caller=True),
    # First of the route's rules: a halted account says so whatever state its terminal is in.
    Rule(Reason.TRADING_HALTED, lambda gate, p: p.risk.trading_halted,
         lambda _: TradingHalted(), policy=True),
    Rule(Reason.TERMINAL_OFFLINE, lambda gate, p: gate.bridge.session(p.terminal) is None,
         lambda terminal: TerminalNotConnected(f"no terminal connected for {terminal}")),
    Rule(Reason.TERMINAL_MISMATCH, _paired_elsewhere,
         lambda _: Unauthorized("terminal_mismatch",
                                "The terminal's EA is connected with a different auth token")),
    Rule(Reason.RECONCILING, lambda gate, p: gate.reconciling(p.terminal),
         lambda _: Unavailable("reconciling", "Reconciling orders whose outcome was lost; "
                               "retry shortly")),
    Rule(Reason.AUTO_TRADE_ENABLED, lambda gate, p: not p.risk.auto_trade_enabled,
         lambda _: RiskLimit("auto_trade_enabled", "Automated trading is disabled for this "
                             "account; only closing is allowed"),
         opening_only=True, policy=True),
)
_BY_REASON: Final = {rule.reason: rule for rule in RULES}
#: The ``terminal_mismatch`` rule, which every read applies (:meth:`TradeGate.check_pairing`,
#: or :func:`other_token` on a session already looked up).
PAIRING: Final = _BY_REASON[Reason.TERMINAL_MISMATCH]

#: What is said of the order itself after :data:`RULES`, in this order (the module
#: docstring's second table): the account's policy rules (the ``data.rule`` words of
#: ``risk.py``'s refusals, in the order it applies them) with the market's session among them,
#: then the daemon's pricing of a market order. :meth:`TradeGate.market_first` reads where
#: ``market_closed`` stands; ``docs/api.md`` ("The order of refusals") says it to users.
ORDER_RULES: Final = ("allowed_symbols", "market_closed", "max_lot_size", "risk_pct",
                      "price_off")
#: The policy's rules said before a closed market (they refuse whatever the session).
_BEFORE_MARKET: Final = frozenset(ORDER_RULES[:ORDER_RULES.index("market_closed")])


class TradeGate:
    """Applies :data:`RULES` to a principal.

    Args:
        bridge: tells whether (and with which token record) the terminal's EA is connected.
        reconciling: whether a reconciliation pass runs for a terminal (the reconciler's).
    """

    bridge: Bridge
    reconciling: Callable[[TerminalId], bool]

    def __init__(self, bridge: Bridge, reconciling: Callable[[TerminalId], bool]) -> None:
        self.bridge = bridge
        self.reconciling = reconciling

    def refusals(self, principal: Principal) -> list[Reason]:
        """Every reason a new opening order of ``principal`` would be refused now, in
        :data:`RULES` order; empty when it would go to the terminal."""
        return [rule.reason for rule in RULES if rule.holds(self, principal)]

    def check_caller(self, principal: Principal) -> None:
        """Refuse a caller who may not trade (``scope``, ``auth_stale``).

        Raises:
            Unauthorized, Unavailable: the first rule that holds.
        """
        for rule in RULES:
            if rule.caller and rule.holds(self, principal):
                raise rule.error(principal.terminal)

    def check_route(self, principal: Principal, *, opening: bool) -> None:
        """Refuse an order the terminal cannot take now (the rules after the caller's);
        ``opening``: whether the order adds risk (``auto_trade_enabled`` applies).

        Raises:
            TerminalNotConnected, Unauthorized, Unavailable, RiskLimit: the first that holds.
        """
        for rule in RULES:
            if rule.caller or (rule.opening_only and not opening):
                continue
            if rule.holds(self, principal):
                raise rule.error(principal.terminal)

    def check_policy(self, principal: Principal, *, opening: bool) -> None:
        """Refuse by the account's policy rules alone (``order_check``): the owner's halt,
        and for an opening order automated trading off.

        Raises:
            RiskLimit: the first policy rule that holds (``TradingHalted`` is one).
        """
        for rule in RULES:
            if rule.policy and (opening or not rule.opening_only) \
                    and rule.holds(self, principal):
                raise rule.error(principal.terminal)

    async def market_first(self, refusal: GatewayError,
                           check: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
        """The answer to an order one of :data:`ORDER_RULES` refuses (``refusal``: the
        policy's ``-32012``, the pricing's 10021): for a rule after ``market_closed``, the
        venue's own ``order_check`` answer (``check()``) when it says the symbol's market is
        closed (10018), since a terminal says that whatever the order; else ``refusal``,
        raised (at once for a rule before ``market_closed``, without asking).

        Asked only here, on the way to a refusal: an order no rule refuses goes to the venue,
        which says a closed market itself. When the check cannot answer (the EA gone, an
        unknown symbol, a timeout) the rule's own refusal is what is said.

        Raises:
            GatewayError: ``refusal``, unless the market is closed.
        """
        if isinstance(refusal, RiskLimit) and refusal.rule in _BEFORE_MARKET:
            raise refusal
        try:
            checked = await check()
        except (GatewayError, BridgeError):
            raise refusal from None
        if isinstance(checked, dict) and checked.get("retcode") == TradeRetcode.MARKET_CLOSED:
            return checked
        raise refusal

    def check(self, principal: Principal, reason: Reason) -> None:
        """Refuse by one rule of :data:`RULES` (e.g. ``reconciling`` again after an await).

        Raises:
            the rule's error when it holds.
        """
        rule = _BY_REASON[reason]
        if rule.holds(self, principal):
            raise rule.error(principal.terminal)

    def check_pairing(self, principal: Principal) -> None:
        """For reads: refuse when the terminal's EA is connected with another token record.

        Raises:
            Unauthorized: ``terminal_mismatch``.
        """
        self.check(principal, Reason.TERMINAL_MISMATCH)

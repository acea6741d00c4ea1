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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from ea_bridge import Bridge, SessionInfo, TerminalId, TerminalNotConnected

from ..auth import Principal
from ..errors import RiskLimit, TradingHalted, Unauthorized, Unavailable

__all__ = ["RULES", "Reason", "Rule", "TradeGate"]


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
    return _other_token(gate.bridge.session(principal.terminal), principal)


def _other_token(session: SessionInfo | None, principal: Principal) -> bool:
    """Whether the terminal's live session (if any) was opened with another token record."""
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
_PAIRING: Final = _BY_REASON[Reason.TERMINAL_MISMATCH]


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

    def check_paired(self, principal: Principal, session: SessionInfo | None) -> None:
        """:meth:`check_pairing` with the terminal's session already looked up (the plain
        read's one look-up, ``TradeDesk.read``): the ``terminal_mismatch`` row of the table.

        Raises:
            Unauthorized: ``terminal_mismatch``.
        """
        if _other_token(session, principal):
            raise _PAIRING.error(principal.terminal)

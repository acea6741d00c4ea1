"""Who may trade now: the one ordered table of refusal reasons.

Why one table: the reasons a new order is refused were raised in four files and listed again
for ``gateway_status``, and the two could drift. :data:`RULES` is the order both follow:
:meth:`TradeGate.refusals` lists every reason that holds (for ``gateway_status``), and
:meth:`TradeGate.check` raises the first one that applies, with the error a client reacts to:

====================== ======= =================================================================
reason                 code    when
====================== ======= =================================================================
``scope``              -32004  the token lacks the ``trade`` scope
``auth_stale``         -32014  the authority has not confirmed the token lately (reads only)
``terminal_offline``   -32001  no EA is connected for the terminal
``terminal_mismatch``  -32004  the EA is connected with another token record
``reconciling``        -32014  a reconciliation pass runs for the terminal
``auto_trade_enabled`` -32012  the risk policy disables automated trading: opening orders only
====================== ======= =================================================================

The first two concern the caller and are checked before a retry is replayed (a caller who may
not trade learns nothing of the journal); the others concern the route, and are checked after
(a retry of an executed order replays its outcome even while the terminal is offline). Reads
(``order_check`` and the plain reads) check only the pairing: one token pairs one client with
one terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ea_bridge import Bridge, TerminalId, TerminalNotConnected

from ..auth import Principal
from ..errors import RiskLimit, Unauthorized, Unavailable

__all__ = ["RULES", "Rule", "TradeGate"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One reason to refuse: its word, whether it concerns the caller (checked before a
    replay) and whether it refuses only opening orders."""

    reason: str
    caller: bool = False
    opening_only: bool = False


#: The order every refusal follows (see the module docstring).
RULES: Final = (
    Rule("scope", caller=True),
    Rule("auth_stale", caller=True),
    Rule("terminal_offline"),
    Rule("terminal_mismatch"),
    Rule("reconciling"),
    Rule("auto_trade_enabled", opening_only=True),
)


class TradeGate:
    """Applies :data:`RULES` to a principal.

    Args:
        bridge: tells whether (and with which token record) the terminal's EA is connected.
        reconciling: whether a reconciliation pass runs for a terminal (the reconciler's).
    """

    def __init__(self, bridge: Bridge, reconciling: Callable[[TerminalId], bool]) -> None:
        self._bridge = bridge
        self._reconciling = reconciling

    def _holds(self, reason: str, principal: Principal) -> bool:
        session = self._bridge.session(principal.terminal)
        match reason:
            case "scope":
                return not principal.may_trade()
            case "auth_stale":
                return not principal.fresh
            case "terminal_offline":
                return session is None
            case "terminal_mismatch":
                return session is not None and session.token_id != principal.token_id
            case "reconciling":
                return self._reconciling(principal.terminal)
            case "auto_trade_enabled":
                return not principal.risk.auto_trade_enabled
        raise AssertionError(f"no rule {reason!r}")

    def refusals(self, principal: Principal) -> list[str]:
        """Every reason a new opening order of ``principal`` would be refused now, in
        :data:`RULES` order; empty when it would go to the terminal."""
        return [rule.reason for rule in RULES if self._holds(rule.reason, principal)]

    def check_caller(self, principal: Principal) -> None:
        """Refuse a caller who may not trade (``scope``, ``auth_stale``).

        Raises:
            Unauthorized, Unavailable: the first rule that holds.
        """
        for rule in RULES:
            if rule.caller and self._holds(rule.reason, principal):
                raise _error(rule.reason, principal.terminal)

    def check_route(self, principal: Principal, *, opening: bool) -> None:
        """Refuse an order the terminal cannot take now (the rules after the caller's);
        ``opening``: whether the order adds risk (``auto_trade_enabled`` applies).

        Raises:
            TerminalNotConnected, Unauthorized, Unavailable, RiskLimit: the first that holds.
        """
        for rule in RULES:
            if rule.caller or (rule.opening_only and not opening):
                continue
            if self._holds(rule.reason, principal):
                raise _error(rule.reason, principal.terminal)

    def check(self, principal: Principal, reason: str) -> None:
        """Refuse by one rule of :data:`RULES` (e.g. ``reconciling`` again after an await).

        Raises:
            the rule's error when it holds.
        """
        if self._holds(reason, principal):
            raise _error(reason, principal.terminal)

    def check_pairing(self, principal: Principal) -> None:
        """For reads: refuse when the terminal's EA is connected with another token record.

        Raises:
            Unauthorized: ``terminal_mismatch``.
        """
        self.check(principal, "terminal_mismatch")


def _error(reason: str, terminal: TerminalId) -> Exception:
    """The error a client gets for ``reason``."""
    match reason:
        case "scope":
            return Unauthorized("scope", "This token may not trade: it lacks the trade scope")
        case "auth_stale":
            return Unavailable("auth_stale", "The token authority has not confirmed this token "
                               "recently; trading resumes when it answers again")
        case "terminal_offline":
            return TerminalNotConnected(f"no terminal connected for {terminal}")
        case "terminal_mismatch":
            return Unauthorized("terminal_mismatch",
                                "The terminal's EA is connected with a different auth token")
        case "reconciling":
            return Unavailable("reconciling", "Reconciling orders whose outcome was lost; "
                               "retry shortly")
        case "auto_trade_enabled":
            return RiskLimit("auto_trade_enabled", "Automated trading is disabled for this "
                             "account; only closing is allowed")
    raise AssertionError(f"no rule {reason!r}")

"""A refusal by the account's risk policy, answered as a trade server answers: with a retcode.

The daemon refuses an order its owner's risk policy does not allow before the terminal sees
it, on its raw ``/rpc`` as the JSON-RPC error ``-32012`` with the rule in ``data.rule``
(``docs/api.md``). Code written for the ``MetaTrader5`` package reads ``result.retcode`` and
``result.comment`` after every ``order_send`` and ``order_check``: the package answers
``None`` only for a broken link or arguments it cannot take, so such code reports a ``None``
as "terminal connection lost?" or fails on ``None.retcode``. A trade server refuses what its
own rules do not allow with a result whose retcode says which rule, so that is what the client
answers: an ``OrderSendResult`` / ``OrderCheckResult`` with the retcode closest in meaning to
the rule (:data:`RETCODES`), a comment naming the rule and why, zeros where a refused request
has no figures (as a terminal's refusals have), and the request echoed. The call worked, as a
terminal's call that brings back a server's refusal did, so ``last_error()`` is ``(1,
'Success')`` (wrappers that check it after every call would otherwise take a refused order for
a broken link), and keeps the gateway's detail beside that pair for code that wants it:
``.gateway_code`` ``-32012``, ``.data["rule"]`` and the gateway's message in
``.data["reason"]`` (``wire.Call.failure``).

What is answered is decided by the error's code and data, never by its wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from . import constants as c
from . import records as r
from .errors import LastError

__all__ = ["DEFAULT_RETCODE", "RETCODES", "RISK_LIMIT", "check_result", "retcode_of",
           "send_result"]

#: The gateway's code for a refusal by the account's risk policy (``docs/api.md``).
RISK_LIMIT: Final = -32012

#: The policy's rules (``data.rule``), each with the trade server's retcode closest in meaning.
RETCODES: Final[Mapping[str, int]] = {
    # the order's volume is above the account's maximum lot size: a volume the server will
    # not take for this order, as a symbol's volume_max
    "max_lot_size": c.TRADE_RETCODE_INVALID_VOLUME,
    # the symbol is not among the account's allowed symbols: opening there is refused and
    # closing stays allowed, which is the server's "only position closing" rule of a symbol
    "allowed_symbols": c.TRADE_RETCODE_CLOSE_ONLY,
    # the loss at the stop is above the account's share of equity, or the order has no stop:
    # the stops do not satisfy the account's rule
    "risk_pct": c.TRADE_RETCODE_INVALID_STOPS,
    # the owner disabled automated trading for the account (opening orders): disabled on the
    # gateway's side for this account, not by a button of the bot's terminal (10027, which
    # code written for the package answers by toggling Algo Trading), so the server's code
    "auto_trade_enabled": c.TRADE_RETCODE_SERVER_DISABLES_AT,
    # the owner's kill switch: every order is refused until the owner reconnects the account
    "trading_halted": c.TRADE_RETCODE_TRADE_DISABLED,
}
#: The retcode of a rule this client does not know yet (a newer daemon's).
DEFAULT_RETCODE: Final = c.TRADE_RETCODE_REJECT

_RETCODE_NAMES: Final = {getattr(c, name): name for name in c.__all__
                         if name.startswith("TRADE_RETCODE_")}
_INTEGER_FIELDS: Final = frozenset(name for name, kind in r.TradeRequest.__annotations__.items()
                                   if kind == "int")


def retcode_of(error: LastError) -> int | None:
    """The retcode that answers ``error``, or None when it is not a policy refusal."""
    if error.gateway_code != RISK_LIMIT:
        return None
    rule = error.data.get("rule") if isinstance(error.data, Mapping) else None
    return RETCODES.get(rule, DEFAULT_RETCODE) if isinstance(rule, str) else DEFAULT_RETCODE


def _comment(error: LastError) -> str:
    """The refusal's comment: the rule and the gateway's reason."""
    message = error.description.removesuffix(f" (gateway error {error.gateway_code})")
    rule = error.data.get("rule") if isinstance(error.data, Mapping) else None
    return f"Risk policy {rule or 'refusal'}: {message}"


def _echo(request: Any) -> r.TradeRequest:
    """The request as a ``TradeRequest``, the package's zero for each field it lacks (the
    client refused any field of a type the package cannot read before sending,
    ``arguments.py``)."""
    given = request if isinstance(request, Mapping) else {}
    values: list[Any] = []
    for name in r.TradeRequest.__match_args__:
        value = given.get(name)
        if name in _INTEGER_FIELDS:
            values.append(value if isinstance(value, int) else 0)
        elif name in ("symbol", "comment"):
            values.append(value if isinstance(value, str) else "")
        else:
            values.append(float(value) if isinstance(value, int | float) else 0.0)
    echo: r.TradeRequest = r.TradeRequest(values)
    return echo


def _request_of(params: Mapping[str, Any]) -> Any:
    return params.get("request")


def send_result(params: Mapping[str, Any], error: LastError) -> r.OrderSendResult | None:
    """``order_send``'s answer to ``error`` for the call's ``params``, or None."""
    retcode = retcode_of(error)
    if retcode is None:
        return None
    request = _request_of(params)
    client_id = request.get("client_id") if isinstance(request, Mapping) else None
    result: r.OrderSendResult = r.OrderSendResult(
        [retcode, 0, 0, 0.0, 0.0, 0.0, 0.0, _comment(error), 0, 0, _echo(request)],
        {"retcode_name": _RETCODE_NAMES.get(retcode, ""),
         "client_id": client_id if isinstance(client_id, str) else ""})
    return result


def check_result(params: Mapping[str, Any], error: LastError) -> r.OrderCheckResult | None:
    """``order_check``'s answer to ``error`` for the call's ``params``, or None."""
    retcode = retcode_of(error)
    if retcode is None:
        return None
    result: r.OrderCheckResult = r.OrderCheckResult(
        [retcode, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, _comment(error), _echo(_request_of(params))],
        {"retcode_name": _RETCODE_NAMES.get(retcode, "")})
    return result

"""The one exception → JSON-RPC error table, walked class by class."""

from __future__ import annotations

import pytest

from ea_bridge import errors as bridge_errors
from gateway import errors
from gateway.errors import ERROR_TABLE, RpcError, to_rpc_error
from mtgateway_base.wire import errors as authority_errors

EXPECTED_CODES: dict[type[BaseException], int | None] = {
    errors.Unauthorized: -32004,
    errors.InvalidParams: -32602,
    errors.NotFound: -32006,
    errors.Unavailable: -32014,
    errors.RateLimited: -32005,
    errors.OverShare: -32005,
    errors.IdempotencyConflict: -32011,
    errors.OutcomeUnknown: -32003,
    errors.RiskLimit: -32012,
    errors.TradingHalted: -32012,
    errors.TradeRejected: -32010,
    errors.Unsupported: -32009,
    errors.MethodFailed: -32602,  # the method's own code, as it answered (sample below)
    bridge_errors.TerminalNotConnected: -32001,
    bridge_errors.TerminalDisconnected: -32001,
    bridge_errors.TerminalTimeout: -32013,
    bridge_errors.TradeOutcomeUnknown: -32003,
    bridge_errors.FrameTooLarge: -32602,
    bridge_errors.EAError: None,  # depends on the EA's code, tested below
    bridge_errors.BridgeError: None,
    errors.GatewayError: None,
    authority_errors.AuthorityUnreachable: -32014,
    authority_errors.AuthorityError: None,
}


def _instance(cls: type[BaseException]) -> BaseException:
    samples: dict[type[BaseException], BaseException] = {
        errors.Unauthorized: errors.Unauthorized("token_expired", "The auth token has expired"),
        errors.Unavailable: errors.Unavailable("shutting_down", "shutting down"),
        errors.RateLimited: errors.RateLimited(12.5),
        errors.OverShare: errors.too_many_streams(),
        errors.IdempotencyConflict: errors.IdempotencyConflict("abc"),
        errors.OutcomeUnknown: errors.OutcomeUnknown("abc", "UNKNOWN", "lost"),
        errors.RiskLimit: errors.RiskLimit("max_lot_size", "volume 5 is above 1"),
        errors.TradingHalted: errors.TradingHalted(),
        errors.TradeRejected: errors.TradeRejected(10018, retryable=True,
                                                   result={"retcode": 10018}),
        bridge_errors.TradeOutcomeUnknown: bridge_errors.TradeOutcomeUnknown("x",
                                                                             method="order_send"),
        bridge_errors.FrameTooLarge: bridge_errors.FrameTooLarge(10, 5),
        bridge_errors.EAError: bridge_errors.EAError(-32099, "odd"),
        errors.Unsupported: errors.Unsupported("manager_only", "broker only", "/api/users/"),
        errors.MethodFailed: errors.MethodFailed(RpcError(-32602, "symbol: bad", {"x": 1})),
    }
    return samples.get(cls) or cls("detail")


def test_every_row_is_expected() -> None:
    """The table has exactly the rows this test knows, so a new row needs a test decision."""
    assert set(ERROR_TABLE) == set(EXPECTED_CODES)


@pytest.mark.parametrize("cls", list(EXPECTED_CODES), ids=lambda c: c.__name__)
def test_each_class_maps_to_its_code(cls: type[BaseException]) -> None:
    """Each exception class yields its contract code; roots and unknown codes yield None."""
    error = to_rpc_error(_instance(cls))
    expected = EXPECTED_CODES[cls]
    assert (error.code if error else None) == expected


def test_rate_limited_carries_the_wait() -> None:
    """A lockout's refusal says how long to wait, in milliseconds, as the HTTP 429 does."""
    error = to_rpc_error(errors.RateLimited(12.5))
    assert error == RpcError(-32005, "Too many failed authentications",
                             {"retry_after_ms": 12500})


def test_a_token_past_its_share_is_told_why_and_when_to_retry() -> None:
    """A token past its share (its streams here) is refused with the reason word and the
    wait, in milliseconds, as the HTTP 429 says it in seconds."""
    error = to_rpc_error(errors.too_many_streams())
    assert error is not None
    assert (error.code, error.data) == (-32005, {"reason": "too_many_streams",
                                                 "retry_after_ms": 30_000})


def test_a_method_failure_is_answered_as_the_method_answered() -> None:
    """The REST mirror re-raises a method's error: code, message and data unchanged; the
    Manager-only refusal names its reason and endpoint."""
    error = RpcError(-32006, "Unknown symbol 'NOPE'", {"symbol": "NOPE"})
    assert to_rpc_error(errors.MethodFailed(error)) == error
    assert to_rpc_error(errors.Unsupported("manager_only", "broker only", "/api/users/")) == \
        RpcError(-32009, "broker only", {"reason": "manager_only", "endpoint": "/api/users/"})


def test_every_bridge_leaf_is_covered() -> None:
    """Every exception class ea_bridge defines maps somewhere through the MRO walk."""
    for name in bridge_errors.__all__:
        cls = getattr(bridge_errors, name)
        assert any(base in ERROR_TABLE for base in cls.__mro__), name


def test_trade_rejected_carries_retcode_and_retryable() -> None:
    """-32010 says the retcode, its name, whether a resend may succeed, and the result."""
    result = {"retcode": 10014, "comment": "Invalid volume", "client_id": "c1"}
    error = to_rpc_error(errors.TradeRejected(10014, retryable=False, result=result))
    assert error == RpcError(-32010, "Trade rejected: 10014 TRADE_RETCODE_INVALID_VOLUME "
                             "(Invalid volume)", {"retcode": 10014,
                                                  "retcode_name": "TRADE_RETCODE_INVALID_VOLUME",
                                                  "retryable": False, "client_id": "c1",
                                                  "result": result})


def test_every_authority_leaf_is_covered() -> None:
    """Every exception class the token authority defines maps somewhere through the MRO walk;
    only an unreachable authority is a public error (retry later), the rest are bugs here."""
    for name in authority_errors.__all__:
        cls = getattr(authority_errors, name)
        assert any(base in ERROR_TABLE for base in cls.__mro__), name


def test_unreachable_authority_carries_its_reason() -> None:
    """-32014 with data.reason authority_unreachable, and the table's message, not the
    exception's text (which may name the console's URL)."""
    error = to_rpc_error(authority_errors.AuthorityUnreachable("http://u:p@host/ timed out"))
    assert error == RpcError(-32014, "The token authority cannot be reached; retry later",
                             {"reason": "authority_unreachable"})


def test_unauthorized_carries_the_reason() -> None:
    """A 401-class error names its reason in data, for clients to branch on."""
    error = to_rpc_error(errors.Unauthorized("token_revoked", "The auth token has been revoked"))
    assert error == RpcError(-32004, "The auth token has been revoked", {"reason": "token_revoked"})


def test_unknown_reason_words_are_refused() -> None:
    """Only the contract's reason words can be raised."""
    with pytest.raises(ValueError):
        errors.Unauthorized("bad_vibes", "no")


def test_ea_codes_pass_through_only_when_public() -> None:
    """An EA's -32006 reaches the client; an EA's made-up code becomes an internal error."""
    assert to_rpc_error(bridge_errors.EAError(-32006, "unknown symbol 'X'")) == RpcError(
        -32006, "unknown symbol 'X'")
    assert to_rpc_error(bridge_errors.EAError(-1, "boom")) is None


def test_unexpected_exceptions_map_to_nothing() -> None:
    """A bug (KeyError, a bare BridgeError) has no public mapping: the caller hides it."""
    assert to_rpc_error(KeyError("secret")) is None
    assert to_rpc_error(bridge_errors.InvalidState("internal detail")) is None


def test_public_messages_do_not_echo_internal_text() -> None:
    """Bridge failures answer with the table's message, not the exception's text."""
    error = to_rpc_error(bridge_errors.TerminalTimeout("no answer to account_info within 10 s"))
    assert error is not None and error.message == "The terminal did not answer in time"


def test_trade_errors_carry_the_client_id() -> None:
    """-32011 and -32003 name the client_id in data, so the client can look the order up."""
    assert to_rpc_error(errors.IdempotencyConflict("c-1")) == RpcError(
        -32011, "client_id 'c-1' was already used with different parameters", {"client_id": "c-1"})
    error = to_rpc_error(errors.OutcomeUnknown("c-2", "UNKNOWN", "lost"))
    assert error == RpcError(-32003, "lost", {"client_id": "c-2", "state": "UNKNOWN"})


def test_risk_limit_names_the_rule() -> None:
    """A risk refusal carries the rule the client broke."""
    error = to_rpc_error(errors.RiskLimit("allowed_symbols", "XAUUSD is not allowed"))
    assert error == RpcError(-32012, "XAUUSD is not allowed", {"rule": "allowed_symbols"})


def test_the_kill_switch_refusal_names_its_rule_and_what_to_do() -> None:
    """Issue 46 item 5: an order refused by the owner's kill switch answers -32012 with
    ``data.rule = "trading_halted"`` and a message that says nothing was sent and when orders
    go through again."""
    error = to_rpc_error(errors.TradingHalted())
    assert error is not None and (error.code, error.data) == (-32012,
                                                              {"rule": "trading_halted"})
    assert "nothing was sent" in error.message and "reconnects" in error.message

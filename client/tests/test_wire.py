"""The client's pure parts: finding the gateway, binding calls, reading answers, pages, loss."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from mtgateway import calls, constants
from mtgateway.errors import OK, LastError, MtGatewayError, gateway_error
from mtgateway.records import (
    OrderSendResult,
    Tick,
    TradeDeal,
    TradeRequest,
    WireMismatch,
    from_wire,
    many_from_wire,
)
from mtgateway.stream import Gap, SeqTracker, StreamTick, TradeEvent, parse_event
from mtgateway.wire import (
    Endpoint,
    Pager,
    outcome_data,
    read_response,
    resolve_endpoint,
    terminal_mismatch,
    to_wire_time,
)

TOKEN = "mtgw_" + "a" * 38


def test_arguments_win_over_environment_and_state_file(tmp_path: Path) -> None:
    """initialize's arguments come first, then MTGATEWAY_*, then the demo's state file."""
    state = tmp_path / "demo.json"
    state.write_text(json.dumps({"rpc_url": "http://127.0.0.1:9001/rpc", "token": "from-file"}),
                     encoding="utf-8")
    env = {"MTGATEWAY_URL": "http://localhost:9002", "MTGATEWAY_TOKEN": "from-env",
           "MTGATEWAY_STATE_FILE": str(state)}
    assert resolve_endpoint("http://[::1]:9003/", "from-arg", environ=env) == \
        Endpoint("http://[::1]:9003", "from-arg")
    assert resolve_endpoint(environ=env) == Endpoint("http://localhost:9002", "from-env")
    only_file = {"MTGATEWAY_STATE_FILE": str(state)}
    assert resolve_endpoint(environ=only_file) == Endpoint("http://127.0.0.1:9001", "from-file")
    assert resolve_endpoint(state_file=state, environ={}) == \
        Endpoint("http://127.0.0.1:9001", "from-file")
    assert resolve_endpoint(token="t", environ={}) == Endpoint("http://127.0.0.1:8710", "t")


def test_endpoint_urls_and_repr_never_show_the_token() -> None:
    """/rpc and /ws hang off the base URL; the token is not in the endpoint's repr."""
    endpoint = resolve_endpoint("ws://127.0.0.1:8710/ws", TOKEN, environ={})
    assert isinstance(endpoint, Endpoint)
    assert (endpoint.rpc_url, endpoint.ws_url) == ("http://127.0.0.1:8710/rpc",
                                                  "ws://127.0.0.1:8710/ws")
    assert TOKEN not in repr(endpoint)
    secure = resolve_endpoint("https://gw.example:443/rpc", TOKEN, environ={})
    assert isinstance(secure, Endpoint) and secure.ws_url == "wss://gw.example:443/ws"


@pytest.mark.parametrize(("url", "token", "code"), [
    (None, None, constants.RES_E_AUTH_FAILED),
    ("ftp://127.0.0.1", TOKEN, constants.RES_E_INVALID_PARAMS),
    ("http://127.0.0.1:8710/rpc?token=x", TOKEN, constants.RES_E_INVALID_PARAMS),
    ("http://user:pw@127.0.0.1:8710", TOKEN, constants.RES_E_INVALID_PARAMS),
])
def test_bad_endpoints_are_errors_not_exceptions(url: str | None, token: str | None,
                                                 code: int) -> None:
    """No token, a non-HTTP URL, or a URL with a query or credentials: a LastError."""
    error = resolve_endpoint(url, token, environ={})
    assert isinstance(error, LastError) and error.code == code
    assert TOKEN not in error.description


def test_unreadable_state_file_is_reported(tmp_path: Path) -> None:
    """A missing or non-JSON state file fails initialize with its path in the message."""
    missing = resolve_endpoint(state_file=tmp_path / "nope.json", environ={})
    assert isinstance(missing, LastError)
    assert missing.code == constants.RES_E_INTERNAL_FAIL_INIT and "nope.json" in missing[1]
    garbage = tmp_path / "garbage.json"
    garbage.write_text("[1, 2]", encoding="utf-8")
    assert isinstance(resolve_endpoint(state_file=garbage, environ={}), LastError)


def test_datetimes_become_epoch_seconds() -> None:
    """Aware datetimes convert exactly; numbers pass unchanged; a naive one is local time."""
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert to_wire_time(moment) == 1767323045
    assert to_wire_time(moment.astimezone(timezone(timedelta(hours=3)))) == 1767323045
    assert to_wire_time(datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)) == 1767323045.5
    assert to_wire_time(datetime(2026, 1, 2)) == datetime(2026, 1, 2).timestamp()
    assert to_wire_time(17) == 17 and to_wire_time("2026-01-02") == "2026-01-02"


#: The calls the table's functions build (``calls.Functions``), by name.
F = calls.Functions


def test_mixed_positional_and_keyword_arguments_go_by_name() -> None:
    """history_deals_get(date_from, date_to, group=...) is one named-params request."""
    call = F.history_deals_get.build(datetime(2026, 1, 1, tzinfo=UTC), 1767323045, group="*USD*")
    assert call.method == "history_deals_get"
    assert call.params == {"date_from": 1767225600, "date_to": 1767323045, "group": "*USD*"}
    assert F.positions_get.build(ticket=7).params == {"ticket": 7}
    # the package: "If a symbol is specified, the ticket parameter is ignored."
    assert F.positions_get.build(symbol="EURUSD", ticket=7).params == {"symbol": "EURUSD"}
    assert F.orders_get.build(symbol="EURUSD", ticket=7).params == {"symbol": "EURUSD"}
    assert F.orders_get.build(group="*USD*", ticket=7).params == {"group": "*USD*",
                                                                    "ticket": 7}
    assert F.symbol_select.build("EURUSD", False).params == {"symbol": "EURUSD",
                                                             "enable": False}


def test_order_send_keeps_a_given_client_id_and_fills_a_missing_one() -> None:
    """order_send always carries a client_id; a TradeRequest tuple is accepted as a request."""
    def made() -> str:
        return "made"
    given = F.order_send.build({"action": 1, "client_id": "mine"}).with_client_id(made)
    assert given.params["request"]["client_id"] == "mine"
    filled = F.order_send.build({"action": 1, "client_id": None}).with_client_id(made)
    assert filled.params["request"]["client_id"] == "made"
    checked = F.order_check.build({"action": 1, "client_id": "mine"}).with_client_id(made)
    assert "client_id" not in checked.params["request"]  # a check names no send
    expiry = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    request = TradeRequest([1, 0, 0, "EURUSD", 0.1, 0.0, 0.0, 0.0, 0.0, 10, 0, 0, 2, expiry, "",
                            0, 0])
    body = F.order_send.build(request).with_client_id(lambda: "x").params["request"]
    assert body["symbol"] == "EURUSD" and body["expiration"] == 1767323045
    assert body["client_id"] == "x"


def test_error_answers_carry_code_message_and_data() -> None:
    """A JSON-RPC error becomes LastError(code, message) with .data; HTTP refusals too."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "error": {
        "code": -32003, "message": "Outcome unknown", "data": {"client_id": "c1"}}}).encode()
    with pytest.raises(MtGatewayError) as caught:
        read_response(200, body)
    error = caught.value.error
    assert tuple(error) == (-10005, "Outcome unknown (gateway error -32003)")
    assert error.data == {"client_id": "c1"} and error.gateway_code == -32003
    assert error.code == constants.RES_E_INTERNAL_FAIL_TIMEOUT
    refused = json.dumps({"jsonrpc": "2.0", "id": None, "error": {
        "code": -32004, "message": "Unauthorized", "data": {"reason": "invalid_token"}}})
    with pytest.raises(MtGatewayError) as caught:
        read_response(401, refused.encode())
    assert caught.value.error.gateway_code == -32004 and caught.value.error.code == -6
    with pytest.raises(MtGatewayError) as caught:
        read_response(503, b"busy")
    assert caught.value.error.code == constants.RES_E_FAIL and "503" in caught.value.error[1]
    with pytest.raises(MtGatewayError) as caught:
        read_response(200, b"{}")
    assert caught.value.error.code == constants.RES_E_INTERNAL_FAIL_RECEIVE
    assert read_response(200, b'{"jsonrpc":"2.0","id":1,"result":[1,2]}') == [1, 2]


def test_last_error_unpacks_like_the_packages() -> None:
    """last_error() is a 2-tuple: unpacking and indexing work as with the package."""
    code, description = OK
    assert (code, description) == (1, "Success") and OK.data is None
    error = gateway_error(-32006, "unknown symbol 'X'", {"symbol": "X"})
    assert len(error) == 2 and error[0] == constants.RES_E_NOT_FOUND == -4
    assert error.gateway_code == -32006 and "-32006" in error[1]
    assert LastError(-1, "x").gateway_code is None


def test_last_error_prints_and_compares_as_the_packages_tuple() -> None:
    """print(mt5.last_error()) shows the package's ``(-4, 'text')`` (every documentation
    example prints it so); it equals and hashes as that tuple; the gateway's code and data stay
    attributes, and survive pickling."""
    error = gateway_error(-32006, "unknown symbol X", {"symbol": "X"})
    text = "unknown symbol X (gateway error -32006)"
    assert repr(error) == str(error) == repr((-4, text)) == f"(-4, '{text}')"
    assert f"error code = {error}" == f"error code = (-4, '{text}')"
    assert error == (-4, text) and hash(error) == hash((-4, text))
    assert repr(OK) == "(1, 'Success')" and OK == (1, "Success")
    clone = pickle.loads(pickle.dumps(error))
    assert clone == error and (clone.gateway_code, clone.data) == (-32006, {"symbol": "X"})
    unknown = gateway_error(-32099, "something new")
    assert unknown.code == constants.RES_E_FAIL and unknown.gateway_code == -32099


def test_backward_pages_are_prepended_forward_pages_appended() -> None:
    """Count-back queries put each older page first; forward ones append."""
    columns = [("time", "<i8"), ("bid", "<f8")]
    page = {"columns": ["time", "bid"]}
    back = Pager({"symbol": "X"}, backward=True, columns=columns)
    assert back.params() == {"symbol": "X"}
    assert back.feed({**page, "rows": [[3, 0.3], [4, 0.4]], "next_cursor": "c1"}) is True
    assert back.params() == {"cursor": "c1"}
    assert back.feed({**page, "rows": [[1, 0.1], [2, 0.2]], "next_cursor": None}) is False
    assert [row[0] for row in back.rows()] == [1, 2, 3, 4]
    forward = Pager({}, backward=False, columns=columns)
    forward.feed({**page, "rows": [[1, 0.1]], "next_cursor": "c"})
    forward.feed({**page, "rows": [[2, 0.2]], "next_cursor": None})
    assert [row[0] for row in forward.rows()] == [1, 2]
    array = forward.result()
    assert array.dtype.names == ("time", "bid") and list(array["time"]) == [1, 2]


def test_pages_without_numpy_are_tuples(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without numpy installed the rows come back as a tuple of plain tuples."""
    monkeypatch.setitem(__import__("sys").modules, "numpy", None)
    pager = Pager({}, backward=False, columns=[("time", "<i8"), ("bid", "<f8")])
    pager.feed({"columns": ["time", "bid"], "rows": [[1, 0.5]], "next_cursor": None})
    assert pager.result() == ((1, 0.5),)


def test_a_page_of_other_columns_is_a_protocol_error() -> None:
    """Columns the package does not have are refused rather than mislabelled."""
    pager = Pager({}, backward=False, columns=[("time", "<i8")])
    with pytest.raises(MtGatewayError) as caught:
        pager.feed({"columns": ["when"], "rows": [], "next_cursor": None})
    assert caught.value.error.code == constants.RES_E_INTERNAL_FAIL_RECEIVE


def test_records_read_by_name_ignore_extras_and_refuse_gaps() -> None:
    """A field the gateway adds is ignored; a package field it lacks is a WireMismatch."""
    tick = {"time": 1, "bid": 1.1, "ask": 1.2, "last": 0.0, "volume": 0, "time_msc": 1000,
            "flags": 6, "volume_real": 0.0, "future_field": "x"}
    assert from_wire(Tick, tick) == Tick([1, 1.1, 1.2, 0.0, 0, 1000, 6, 0.0])
    assert from_wire(Tick, tick)._asdict()["bid"] == 1.1
    with pytest.raises(WireMismatch, match="'flags'"):
        from_wire(Tick, {k: v for k, v in tick.items() if k != "flags"})
    with pytest.raises(WireMismatch):
        many_from_wire(Tick, {"not": "a list"})
    request = dict.fromkeys(TradeRequest.__match_args__, 0)
    sent = {"retcode": 10009, "deal": 2, "order": 1, "volume": 0.1, "price": 1.0, "bid": 1.0,
            "ask": 1.0, "comment": "", "request_id": 1, "retcode_external": 0,
            "request": request}
    result = from_wire(OrderSendResult, sent)  # an older gateway without our additions
    assert isinstance(result.request, TradeRequest) and result.client_id == ""
    assert result[:10] == (10009, 2, 1, 0.1, 1.0, 1.0, 1.0, "", 1, 0)


def test_seq_tracker_reports_jumps_and_restarts() -> None:
    """1, 2, 5 is a gap of two; going back means the stream restarted (count unknown)."""
    tracker = SeqTracker("ticks")
    assert tracker.observe(1) is None and tracker.observe(2) is None
    gap = tracker.observe(5)
    assert gap == Gap("ticks", "seq", 2, "seq went from 2 to 5: 2 notification(s) lost")
    assert tracker.observe(6) is None
    restart = tracker.observe(1)
    assert restart is not None and restart.lost is None
    late_start = SeqTracker("trades").observe(3)
    assert late_start is not None and late_start.lost == 2


def test_notifications_parse_into_records() -> None:
    """tick, trade_event and terminal_status notifications become their records."""
    tick = parse_event("tick", {"subscription": "s", "seq": 4, "symbol": "BTCUSD", "time": 1,
                                "time_msc": 1000, "bid": 1.0, "ask": 2.0, "last": 0.0,
                                "volume": 0, "flags": 6, "volume_real": 0.0, "conflated": 3})
    assert isinstance(tick, StreamTick) and (tick.symbol, tick.conflated, tick.seq) == \
        ("BTCUSD", 3, 4)
    deal = dict(zip(TradeDeal.__match_args__, [9, 8, 1, 1000, 0, 0, 0, 8, 0, 0.1, 1.2, 0.0, 0.0,
                                         0.0, 0.0, "EURUSD", "", ""], strict=True))
    event = parse_event("trade_event", {"subscription": "s", "seq": 1, "type": "deal_added",
                                        "time_msc": 1000, "deal": deal, "later_field": 1})
    assert isinstance(event, TradeEvent)
    assert (event.type, event.time_msc, event.seq) == ("deal_added", 1000, 1)
    assert isinstance(event.deal, TradeDeal) and event.deal.ticket == 9
    assert event.record is event.deal
    assert (event.order, event.position, event.account) == (None, None, None)
    with pytest.raises(ValueError, match="without 'deal'"):
        parse_event("trade_event", {"seq": 2, "type": "deal_added", "time_msc": 1})
    with pytest.raises(ValueError, match="TradeDeal"):
        parse_event("trade_event", {"seq": 2, "type": "deal_added", "time_msc": 1,
                                    "deal": {"ticket": 9}})
    with pytest.raises(ValueError, match="without 'time'"):
        parse_event("tick", {"seq": 1, "symbol": "X"})
    with pytest.raises(ValueError, match="unknown"):
        parse_event("surprise", {"seq": 1})


def test_terminal_mismatch_fails_as_the_package_fails_for_a_wrong_account() -> None:
    """initialize(login=, server=) must name the token's terminal; a mismatch is the package's
    failure for an account that refuses the log-in, (-6, 'Terminal: Authorization failed')
    exactly (code matches on the pair: issue 43 item 2), with the token's terminal in .data."""
    terminal = {"login": 5012345, "server": "MTG-Demo"}
    assert terminal_mismatch(terminal, None, None) is None
    assert terminal_mismatch(terminal, 5012345, "MTG-Demo") is None
    wrong = terminal_mismatch(terminal, 7, None)
    assert wrong == (-6, "Terminal: Authorization failed") == (
        constants.RES_E_AUTH_FAILED, wrong.description)
    assert wrong.data == {"reason": "the token is bound to 5012345@MTG-Demo, not 7@MTG-Demo",
                          "login": 5012345, "server": "MTG-Demo"}
    assert terminal_mismatch(terminal, None, "Other") == (-6, "Terminal: Authorization failed")


def test_outcome_data_names_the_lost_orders_client_id() -> None:
    """A lost order_send reports its client_id; any other lost call has no data."""
    assert outcome_data({"request": {"action": 1, "client_id": "c9"}}) == {"client_id": "c9"}
    assert outcome_data({"symbol": "EURUSD"}) is None and outcome_data(None) is None


def test_a_stream_tick_is_the_packages_tick_with_the_symbol_first() -> None:
    """The tick notification's record mirrors the one declaration of the tick, the package's
    Tick (its fields, in its order), between the symbol and the stream's own fields."""
    assert StreamTick._fields == ("symbol", *Tick.__match_args__, "conflated", "seq")

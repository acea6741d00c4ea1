"""Param models of the read methods and the paging arithmetic, without sockets."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import InvalidParams
from gateway.methods.history import (
    CalcMarginParams,
    CalcProfitParams,
    HistoryGetParams,
    HistoryRangeParams,
    SelectionParams,
)
from gateway.methods.market import (
    GroupParams,
    RatesFromParams,
    RatesRangeParams,
    SymbolParams,
    SymbolSelectParams,
    TicksFromParams,
    TicksRangeParams,
)
from gateway.methods.orders import SendParams
from gateway.paging import (
    MAX_RANGE_WINDOWS,
    BackPosition,
    RangePosition,
    Table,
    TickPosition,
    back_page,
    decode_cursor,
    encode_cursor,
    range_page,
    range_windows,
    read_table,
    tick_page,
    tick_request_count,
)
from gateway.schemas import Params, parse, reusable

COLUMNS = ["time", "bid", "ask", "last", "volume", "time_msc", "flags", "volume_real"]


def tick(msc: int) -> list[Any]:
    return [msc // 1000, 1.1, 1.2, 0.0, 0, msc, 6, 0.0]


def bar(time_s: int) -> list[Any]:
    return [time_s, 1.0, 1.0, 1.0, 1.0, 1, 1, 0]


RATE_COLUMNS = ["time", "open", "high", "low", "close", "tick_volume", "spread", "real_volume"]


# -- param models ---------------------------------------------------------------------------


def test_enum_params_take_names_or_integers() -> None:
    """timeframe and flags accept the MT5 integer or the full constant name alike."""
    by_name = parse(RatesFromParams, ("EURUSD", "TIMEFRAME_H1", 0, 5), {})
    by_value = parse(RatesFromParams, ("EURUSD", 16385, 0, 5), {})
    assert by_name == by_value and by_name.timeframe == 16385
    flags = parse(TicksFromParams, (), {"symbol": "X", "date_from": 0, "count": 1,
                                        "flags": "COPY_TICKS_ALL"})
    assert flags.flags == -1


def test_times_take_iso_or_epoch() -> None:
    """An ISO-8601 date_from equals the same instant given in epoch seconds."""
    iso = parse(TicksRangeParams, ("X", "2025-01-02T00:00:00+00:00", 1_735_776_000, 1), {})
    assert iso.date_from == 1_735_776_000 == iso.date_to


@pytest.mark.parametrize("text, seconds", [
    # RFC 3339 (the document's "date-time") allows a lower-case T and Z (§5.6's NOTE) ...
    ("2025-01-02t00:00:00z", 1_735_776_000),
    # ... and a leap second, 23:59:60, which is the instant before the next day's 00:00:00
    ("2025-01-01T23:59:60Z", 1_735_776_000),
    ("2025-01-01T23:59:60.5+00:00", 1_735_776_000.5),
])
def test_every_rfc_3339_date_time_is_taken(text: str, seconds: float) -> None:
    """A date-time the OpenRPC and OpenAPI documents allow is a time the params take (the
    REST mirror's fuzzing found these refused with -32602)."""
    assert parse(TicksRangeParams, ("X", text, 1_735_776_001, 1), {}).date_from == seconds


@pytest.mark.parametrize("model, args, kwargs, field", [
    (RatesFromParams, ("EURUSD", 1, 0, 1.5), {}, "count"),
    (RatesFromParams, ("EURUSD", 1, 0, 10_000_001), {}, "count"),
    (RatesFromParams, ("EURUSD", True, 0, 1), {}, "timeframe"),
    (RatesFromParams, ("EURUSD", 1, float("inf"), 1), {}, "date_from"),
    (RatesFromParams, ("EURUSD", 1, 0, 1), {"limit": 0}, "limit"),
    (RatesFromParams, ("EURUSD", 1, 0, 1), {"cursor": ""}, "cursor"),
    (RatesRangeParams, ("EURUSD", 1, 10, 9), {}, "date_to"),
    (TicksFromParams, ("EURUSD", 0, 1, 3), {}, "flags"),
    (GroupParams, (), {"group": 5}, "group"),
    (SymbolSelectParams, ("EURUSD", "yes"), {}, "enable"),
    (SelectionParams, (), {"ticket": -1}, "ticket"),
    (SelectionParams, (), {"magic": 1}, "magic"),
    (HistoryRangeParams, (0, -1), {}, "date_to"),
    (HistoryGetParams, (), {"position": True}, "position"),
    (CalcMarginParams, ("ORDER_TYPE_SELL_STOP", "EURUSD", 1.0, 1.1), {}, "action"),
    (CalcMarginParams, (0, "EURUSD", float("nan"), 1.1), {}, "volume"),
    (CalcMarginParams, (0, "EURUSD", 1.0, 0.0), {}, "price"),
    (CalcProfitParams, (0, "EURUSD", 1.0, 1.1, 2e9), {}, "price_close"),
])
def test_bad_params_name_the_field(model: type[Params], args: tuple[Any, ...],
                                   kwargs: dict[str, Any], field: str) -> None:
    """Each invalid value is InvalidParams whose message starts at the offending field."""
    with pytest.raises(InvalidParams) as info:
        parse(model, args, kwargs)
    assert f"{field}:" in str(info.value)


def test_an_integer_written_as_a_float_is_an_integer() -> None:
    """JSON Schema counts ``1.0`` as an integer (the OpenRPC document's ``integer`` params allow
    it) and so do JSON encoders that write every number as a float: an int param takes it, by
    name, by position and inside a nested request; a fraction is still refused, by the name of
    the param as sent (found by daemon/tests/e2e/test_fuzz_rpc.py; failed before: "Input should be a
    valid integer")."""
    assert parse(HistoryGetParams, (), {"ticket": 7.0}).ticket == 7
    assert parse(SelectionParams, (None, None, 3.0), {}) == parse(SelectionParams, (None, None,
                                                                                    3), {})
    sent = parse(SendParams, (), {"request": {"action": 1.0, "symbol": "EURUSD",
                                              "volume": 1.0, "deviation": 0.0, "magic": 5.0}})
    assert (sent.request.action, sent.request.deviation, sent.request.magic) == (1, 0, 5)
    assert type(sent.request.magic) is int and sent.request.volume == 1.0
    with pytest.raises(InvalidParams, match=r"ticket: Input should be a valid integer"):
        parse(HistoryGetParams, (), {"ticket": 7.5})


def test_a_call_refused_for_another_fault_never_blames_its_integral_floats() -> None:
    """A call with an integral float the document allows and a real fault is refused for the
    fault alone (found by daemon/tests/e2e/test_fuzz_rpc.py: ``order_check`` with ``deviation: 0.0``
    and no volume was refused as "request.deviation: Input should be a valid integer" too)."""
    with pytest.raises(InvalidParams) as info:
        parse(SendParams, (), {"request": {"action": 1, "comment": None, "deviation": 0.0}})
    assert "volume" in str(info.value)
    assert "deviation" not in str(info.value)
    fraction = r"^request\.deviation: Input should be a valid integer$"
    with pytest.raises(InvalidParams, match=fraction):
        parse(SendParams, (), {"request": {"action": 1, "volume": 1.0, "symbol": "EURUSD",
                                           "deviation": 0.5}})


def test_calc_accepts_buy_and_sell_only() -> None:
    """order_calc_* take ORDER_TYPE_BUY/SELL by name or value and nothing else."""
    assert parse(CalcMarginParams, ("ORDER_TYPE_SELL", "EURUSD", 1, 1.1), {}).action == 1
    assert parse(CalcMarginParams, (0, "EURUSD", 1, 1.1), {}).volume == 1.0


# -- cursor ---------------------------------------------------------------------------------


def test_cursor_round_trips_and_is_bound() -> None:
    """A cursor decodes for its method and token only; any altered byte is refused."""
    position = TickPosition(from_msc=5_000, skip=2, remaining=7)
    cursor = encode_cursor("copy_ticks_from", {"symbol": "X"}, position, "tok1")
    assert decode_cursor(cursor, "copy_ticks_from", "tok1", TickPosition) == (
        {"symbol": "X"}, position)
    for text, method, binding in [(cursor, "copy_ticks_range", "tok1"),
                                  (cursor, "copy_ticks_from", "tok2"),
                                  (cursor[:-2] + "AA", "copy_ticks_from", "tok1"),
                                  ("x" + cursor, "copy_ticks_from", "tok1"),
                                  ("no-dot", "copy_ticks_from", "tok1")]:
        with pytest.raises(InvalidParams, match="cursor: invalid"):
            decode_cursor(text, method, binding, TickPosition)


def test_cursor_with_the_wrong_position_kind_is_invalid() -> None:
    """A well-signed cursor whose position does not fit the method's kind is refused."""
    cursor = encode_cursor("m", {}, RangePosition(from_s=1), "t")
    with pytest.raises(InvalidParams, match="cursor: invalid"):
        decode_cursor(cursor, "m", "t", BackPosition)


# -- ticks ----------------------------------------------------------------------------------


def test_ticks_sharing_a_millisecond_are_split_exactly() -> None:
    """Pages cut inside a run of equal time_msc resume after exactly the ticks returned."""
    stream = [tick(t) for t in (1000, 1000, 1000, 1000, 1001, 1002)]
    position, seen = TickPosition(from_msc=1000), []
    while position is not None:
        count = tick_request_count(position, 2)
        answer = [r for r in stream if r[5] >= position.from_msc][:count]
        rows, position = tick_page(Table(COLUMNS, answer, False), position, 2, None)
        seen.extend(rows)
    assert seen == stream


def test_tick_range_stops_at_its_end() -> None:
    """Rows after until_msc are dropped and end the paging."""
    answer = [tick(t) for t in (1000, 1500, 2000, 2500)]
    rows, following = tick_page(Table(COLUMNS, answer, False), TickPosition(from_msc=1000), 5,
                                2000)
    assert [r[5] for r in rows] == [1000, 1500, 2000] and following is None


def test_tick_count_is_honoured_across_pages() -> None:
    """copy_ticks_from stops when count ticks were delivered even if more exist."""
    answer = [tick(t) for t in range(1000, 1010)]
    rows, following = tick_page(Table(COLUMNS, answer, False),
                                TickPosition(from_msc=1000, remaining=3), 5, None)
    assert len(rows) == 3 and following is None


def test_ea_truncation_means_more() -> None:
    """An answer the EA truncated below the page size still yields a cursor."""
    answer = [tick(t) for t in (1000, 1001)]
    rows, following = tick_page(Table(COLUMNS, answer, True), TickPosition(from_msc=1000), 10,
                                None)
    assert len(rows) == 2 and following == TickPosition(from_msc=1001, skip=1)


# -- rates ----------------------------------------------------------------------------------


def test_back_page_keeps_the_newest_and_points_before_them() -> None:
    """A count-back page keeps the newest bars and resumes one second before the oldest."""
    table = Table(RATE_COLUMNS, [bar(t) for t in (60, 120, 180)], False)
    rows, following = back_page(table, 2, 10)
    assert [r[0] for r in rows] == [120, 180] and following == BackPosition(top=119,
                                                                               remaining=8)
    rows, following = back_page(Table(RATE_COLUMNS, [bar(60)], False), 2, 10)
    assert [r[0] for r in rows] == [60] and following is None


def test_range_windows_cover_the_range_in_growing_steps() -> None:
    """Windows are contiguous, start sized for limit+1 bars, double, and end at to_s."""
    windows = list(range_windows(0, 10_000, 60, 1))
    assert windows[0] == (0, 119) and windows[1] == (120, 359)
    assert windows[-1][1] == 10_000 and len(windows) <= MAX_RANGE_WINDOWS
    assert all(b[0] == a[1] + 1 for a, b in zip(windows, windows[1:], strict=False))
    assert list(range_windows(5, 4, 60, 10)) == []


def test_range_page_resumes_after_the_last_bar() -> None:
    """A full range page resumes at the next second; a short one ends the paging."""
    rows = [bar(t) for t in (60, 120, 180)]
    assert range_page(RATE_COLUMNS, rows, 2, False) == (rows[:2], RangePosition(from_s=121))
    assert range_page(RATE_COLUMNS, rows, 3, False) == (rows, None)
    assert range_page(RATE_COLUMNS, rows, 3, True) == (rows, RangePosition(from_s=181))


def test_malformed_ea_tables_are_refused() -> None:
    """An EA answer without columns/rows lists is an error, not an empty page."""
    for answer in ([], {"columns": ["time"]}, {"columns": ["time"], "rows": [1]},
                   {"columns": ["time"], "rows": [], "truncated": 1},
                   {"columns": ["time"], "rows": [], "from_msc": "1000"},
                   {"columns": ["time"], "rows": [], "from_msc": True}):
        with pytest.raises(Exception, match="EA answer"):
            read_table(answer)


def test_where_the_eas_tick_copy_started_is_kept() -> None:
    """E6-1: an EA tick answer says where its copy started when that was later than asked
    (``from_msc``, the first tick on its terminal's disk); the table keeps it, and its absence
    reads as none."""
    answer = {"columns": COLUMNS, "rows": [], "truncated": False, "from_msc": 1_700_000_000_000}
    assert read_table(answer).from_msc == 1_700_000_000_000
    assert read_table({"columns": COLUMNS, "rows": []}).from_msc is None


@reusable
class _Named(Params):
    """A model marked reusable, with a field that is not a string."""

    name: str
    count: int = 0


def test_a_reusable_models_string_params_are_validated_once_and_the_rest_each_time() -> None:
    """``parse`` gives the model it validated again for the same all-string params of a
    model marked reusable (frozen: never changed); params with any other value, a model not
    marked, and params it refused are validated every time, and what it keeps is bounded."""
    from gateway import schemas

    first = parse(SymbolParams, (), {"symbol": "EURUSD"})
    assert parse(SymbolParams, (), {"symbol": "EURUSD"}) is first
    assert parse(SymbolParams, (), {"symbol": "GBPUSD"}).symbol == "GBPUSD"
    for bad in ({"symbol": "EUR USD"}, {"symbol": "EURUSD", "extra": "x"}, {"symbol": 1}):
        for _ in range(2):
            with pytest.raises(InvalidParams):
                parse(SymbolParams, (), bad)
    assert parse(_Named, (), {"name": "a"}) is parse(_Named, (), {"name": "a"})
    counted = parse(_Named, (), {"name": "a", "count": 1})
    assert parse(_Named, (), {"name": "a", "count": 1}) is not counted  # 1 == 1.0 == True
    with pytest.raises(InvalidParams):
        parse(_Named, (), {"name": "a", "count": True})
    group = parse(GroupParams, (), {"group": "*USD*"})
    assert parse(GroupParams, (), {"group": "*USD*"}) is not group  # not marked
    for i in range(schemas._REUSED_MAX + 10):
        parse(SymbolParams, (), {"symbol": f"S{i}"})
    assert 0 < len(schemas._REUSED) <= schemas._REUSED_MAX

"""The result types: struct sequences with exactly the package's fields. They are declared
once: the daemon's result models (``gateway/results.py``, what the OpenRPC document describes
and ``daemon/tests/e2e/test_openrpc.py`` holds real answers to) are built from them, so the pairing
below checks that building (every record has a model, fields and additions in order)."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import time
from typing import Any

import pydantic_core
import pytest

import mtgateway as mt5
from gateway import results
from mtgateway import records, stream
from mtgateway.records import Record, from_wire

#: Every client record (each Record subclass ``mtgateway.records`` defines, found, not listed,
#: so a new record cannot be left out) and the daemon model of the same name it is read from.
RECORDS = sorted((cls for cls in vars(records).values()
                  if isinstance(cls, type) and issubclass(cls, Record) and cls is not Record),
                 key=lambda cls: cls.__name__)
PAIRS = [(cls, getattr(results, cls.__name__, None)) for cls in RECORDS]


def test_every_client_record_has_a_daemon_model() -> None:
    """No record of the client without a result model of the daemon to check it against."""
    assert [cls.__name__ for cls, model in PAIRS if model is None] == []
    assert len(PAIRS) >= 13

#: The package's own field lists (its documentation; the package's C types), by type.
PACKAGE_FIELDS = {
    "Tick": ("time", "bid", "ask", "last", "volume", "time_msc", "flags", "volume_real"),
    "OrderSendResult": ("retcode", "deal", "order", "volume", "price", "bid", "ask", "comment",
                        "request_id", "retcode_external", "request"),
    "OrderCheckResult": ("retcode", "balance", "equity", "profit", "margin", "margin_free",
                         "margin_level", "comment", "request"),
    "BookInfo": ("type", "price", "volume", "volume_dbl"),
}


@pytest.mark.parametrize("client,daemon", PAIRS, ids=lambda cls: cls.__name__)
def test_records_agree_field_for_field_with_the_daemons_models(client: type[Record],
                                                               daemon: type) -> None:
    """The tuple's fields then our extra attributes are the daemon model's fields, in its
    order: nothing the daemon sends is dropped, nothing the client reads is missing."""
    assert daemon is not None, client.__name__
    assert [*client.__match_args__, *client._extras] == list(daemon.model_fields), client.__name__


def test_the_package_types_carry_exactly_the_packages_fields() -> None:
    """len() and unpacking see the package's fields; ours are attributes outside the tuple."""
    for name, fields in PACKAGE_FIELDS.items():
        assert getattr(mt5, name).__match_args__ == fields, name
    request = from_wire(mt5.TradeRequest, dict.fromkeys(mt5.TradeRequest.__match_args__, 0))
    wire = {**dict.fromkeys(PACKAGE_FIELDS["OrderSendResult"], 1), "request": request._asdict(),
            "retcode_name": "TRADE_RETCODE_DONE", "client_id": "c1", "deduplicated": True}
    result = from_wire(mt5.OrderSendResult, wire)
    assert len(result) == 11 and result[-1] == request
    assert (result.client_id, result.deduplicated, result.retcode_name) == (
        "c1", True, "TRADE_RETCODE_DONE")
    assert list(result._asdict()) == list(PACKAGE_FIELDS["OrderSendResult"])
    package_only = {k: v for k, v in wire.items() if k in PACKAGE_FIELDS["OrderSendResult"]}
    older = from_wire(mt5.OrderSendResult, package_only)  # extras absent: their defaults
    assert (older.client_id, older.deduplicated, older.retcode_name) == ("", False, "")


def test_built_from_one_sequence_as_struct_sequences_are() -> None:
    """TradeOrder(values), with a mapping of the extra attributes; wrong lengths refused;
    pickling and copying keep the extras."""
    tick = mt5.Tick([1700000000, 1.1, 1.2, 0.0, 0, 1700000000123, 6, 0.0])
    assert (tick.bid, tick[1], tick.time_msc) == (1.1, 1.1, 1700000000123)
    assert tick == (1700000000, 1.1, 1.2, 0.0, 0, 1700000000123, 6, 0.0)
    assert repr(tick).startswith("Tick(time=1700000000, bid=1.1")
    with pytest.raises(TypeError, match="8-sequence"):
        mt5.Tick([1, 2])
    with pytest.raises(TypeError):
        mt5.Tick(1, 2, 3)  # type: ignore[call-arg]
    request = mt5.TradeRequest([0] * 17)
    sent = mt5.OrderSendResult([10009, 1, 2, 0.1, 1.2, 1.1, 1.2, "", 3, 0, request],
                               {"client_id": "c9"})
    assert sent.client_id == "c9" and sent.deduplicated is False
    for clone in (pickle.loads(pickle.dumps(sent)), copy.deepcopy(sent)):
        assert clone == sent and clone.client_id == "c9"
    with pytest.raises(TypeError, match="unexpected"):
        mt5.OrderSendResult(tuple(sent), {"nope": 1})


#: The records the daemon's paper book answers (docs/api.md, "Paper trading").
PAPER_RECORDS = (mt5.AccountInfo, mt5.TradePosition, mt5.TradeOrder, mt5.TradeDeal,
                 mt5.OrderCheckResult, mt5.OrderSendResult)


@pytest.mark.parametrize("cls", PAPER_RECORDS, ids=lambda cls: cls.__name__)
def test_a_paper_answer_says_so_outside_the_package_fields(cls: type[Record]) -> None:
    """A record the paper book answered (``"paper": true`` on the wire) has ``.paper`` True,
    a live one False; the tuple, ``len()`` and ``_asdict()`` stay exactly the package's, so
    code written for the package sees no difference (before, ``paper`` was dropped)."""
    wire: dict[str, Any] = dict.fromkeys(cls.__match_args__, 0)
    if "request" in wire:
        wire["request"] = dict.fromkeys(mt5.TradeRequest.__match_args__, 0)
    live, paper = from_wire(cls, wire), from_wire(cls, {**wire, "paper": True})
    assert (live.paper, paper.paper) == (False, True)  # type: ignore[attr-defined]
    assert paper == live and len(paper) == len(PACKAGE_FIELDS.get(cls.__name__, cls.__match_args__))
    assert paper._asdict() == live._asdict() and "paper" not in paper._asdict()


def test_a_paper_trade_event_says_so() -> None:
    """The stream's trade event of the paper book reads ``paper`` True; the EA's False."""
    position = dict.fromkeys(mt5.TradePosition.__match_args__, 0)
    params = {"subscription": "s", "seq": 1, "type": "position_opened", "time_msc": 5,
              "position": position}
    live = stream.parse_event("trade_event", params)
    paper = stream.parse_event("trade_event", {**params, "paper": True})
    assert isinstance(live, stream.TradeEvent) and isinstance(paper, stream.TradeEvent)
    assert (live.paper, paper.paper) == (False, True)
    assert paper[:7] == live[:7]  # the fields before it are where they were
    # whose identifiers the record's are, without a field more in the tuple
    assert (live.book, paper.book) == ("live", "paper") and len(paper) == len(live) == 8


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__name__)
def test_everything_a_program_observes_of_a_struct_sequence(cls: type[Record]) -> None:
    """What CPython gives every struct sequence (``time.struct_time`` is the model) and the
    package's types add: __match_args__ (aiomql 4.0.14 filters requests by
    ``TradeRequest.__match_args__``), n_fields / n_sequence_fields / n_unnamed_fields,
    _asdict(), the repr, read-only fields, equality and hashing as the tuple, and
    pickling as (cls, (tuple, extras))."""
    struct_time = type(time.localtime())
    for name in ("__match_args__", "n_fields", "n_sequence_fields", "n_unnamed_fields"):
        assert hasattr(struct_time, name)  # the model has them; so must every record
    assert len(cls.__match_args__) > 0
    assert cls.n_sequence_fields == len(cls.__match_args__)
    assert cls.n_fields == cls.n_sequence_fields  # the package's types: sequence fields only
    assert cls.n_unnamed_fields == 0
    values = list(range(len(cls.__match_args__)))
    extras = {name: f"x-{name}" for name in cls._extras}
    one = cls(values, extras)
    assert len(one) == cls.n_sequence_fields and one == tuple(values)
    assert hash(one) == hash(tuple(values)) and {one: 1}[tuple(values)] == 1
    assert list(one._asdict()) == list(cls.__match_args__)
    assert list(one._asdict().values()) == values
    assert repr(one) == f"{cls.__name__}(" + ", ".join(
        f"{name}={value!r}" for name, value in zip(cls.__match_args__, values, strict=True)) + ")"
    for clone in (pickle.loads(pickle.dumps(one)), copy.copy(one), copy.deepcopy(one)):
        assert type(clone) is cls and clone == one
        assert {name: getattr(clone, name) for name in cls._extras} == extras
    assert one.__reduce__() == (cls, (tuple(values), extras))
    with pytest.raises(AttributeError):
        setattr(one, cls.__match_args__[0], 99)
    with pytest.raises(AttributeError):
        one.not_a_field = 1  # type: ignore[attr-defined]
    # a positional class pattern binds the fields in order, as with the package's types
    namespace: dict[str, Any] = {"cls": cls, "one": one}
    exec("match one:\n    case cls(a, b):\n        got = (a, b)\n    case _:\n        got = None",
         namespace)
    assert namespace["got"] == (values[0], values[1])


def test_match_patterns_on_results_as_package_code_writes_them() -> None:
    """Positional and keyword class patterns on a tick and a send result."""
    tick = mt5.Tick([1700000000, 1.1, 1.2, 0.0, 0, 1700000000123, 6, 0.0])
    match tick:
        case mt5.Tick(t, bid, ask) if ask > bid:
            assert (t, bid, ask) == (1700000000, 1.1, 1.2)
        case _:
            pytest.fail("the positional pattern did not match")
    request = mt5.TradeRequest([1, 0, 0, "EURUSD", 0.1, 1.2, 0, 0, 0, 10, 0, 1, 0, 0, "", 0, 0])
    sent = mt5.OrderSendResult([10009, 7, 8, 0.1, 1.2, 1.1, 1.2, "done", 3, 0, request])
    match sent:
        case mt5.OrderSendResult(mt5.TRADE_RETCODE_DONE, deal, order,
                                 request=mt5.TradeRequest(action, _, _, symbol)):
            assert (deal, order, action, symbol) == (7, 8, 1, "EURUSD")
        case _:
            pytest.fail("the nested pattern did not match")
    # aiomql's Order.request: keys of the request dict that TradeRequest has
    wanted = {"action": 1, "symbol": "EURUSD", "volume": 0.1, "not_a_field": 2}
    assert {k: v for k, v in wanted.items() if k in mt5.TradeRequest.__match_args__} == {
        "action": 1, "symbol": "EURUSD", "volume": 0.1}


#: What every struct sequence shows to ``dir()`` besides its fields and dunders
#: (``time.struct_time`` is the model: count, index, n_fields, n_sequence_fields,
#: n_unnamed_fields), plus the one name the package's types add (its C extension's only method
#: beyond a struct sequence's, "Convert named tuple object to dictionary").
STRUCT_SEQUENCE_NAMES = {name for name in dir(time.localtime())
                         if not name.startswith(("__", "tm_"))}
PACKAGE_ADDITIONS = {"_asdict"}


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__name__)
def test_introspection_sees_a_struct_sequence(cls: type[Record]) -> None:
    """dir(), vars(), ``__dict__``, json, pydantic and dataclasses see a record as the
    package's struct sequence: its fields, the struct sequence's names and the package's one
    addition, ``_asdict``; not our extras (``paper``, ``client_id``, ...: read by name only,
    as the package's types have only sequence fields), no ``_extras``/``_defaults``
    (metatrader-mcp-server built its symbol JSON from ``dir()`` and handed them to the
    model), no ``__dict__``, the sequence's values as a JSON array."""
    assert STRUCT_SEQUENCE_NAMES == {"count", "index", "n_fields", "n_sequence_fields",
                                     "n_unnamed_fields"}
    one = cls(list(range(len(cls.__match_args__))), {name: f"x-{name}" for name in cls._extras})
    shown = {name for name in dir(one) if not name.startswith("__")}
    assert shown == {*cls.__match_args__, *STRUCT_SEQUENCE_NAMES, *PACKAGE_ADDITIONS}
    assert {name for name in dir(cls) if not name.startswith("__")} == shown
    assert {name: getattr(one, name) for name in cls._extras} == {
        name: f"x-{name}" for name in cls._extras}  # still read by name
    # what an agent server does with a SymbolInfo: every public non-callable attribute
    served = {name: getattr(one, name) for name in dir(one)
              if not name.startswith("__") and not callable(getattr(one, name))}
    assert served == {**one._asdict(), "n_fields": cls.n_fields,
                      "n_sequence_fields": cls.n_sequence_fields, "n_unnamed_fields": 0}
    for observed in (one, time.localtime()):
        assert not hasattr(observed, "__dict__")
        with pytest.raises(TypeError, match="__dict__"):
            vars(observed)
        assert json.loads(json.dumps(observed)) == list(observed)
        assert pydantic_core.to_jsonable_python(observed) == list(observed)
        assert not dataclasses.is_dataclass(observed)


#: The records the package's functions answer, with ``len()`` of each (its field count).
PACKAGE_RECORDS = {"AccountInfo": 28, "TerminalInfo": 22, "SymbolInfo": 96, "Tick": 8,
                   "BookInfo": 4, "TradeOrder": 24, "TradePosition": 19, "TradeDeal": 18,
                   "TradeRequest": 17, "OrderCheckResult": 9, "OrderSendResult": 11}


@pytest.mark.parametrize("name", sorted(PACKAGE_RECORDS))
def test_each_package_record_has_a_struct_sequences_surface(name: str) -> None:
    """Each of the package's record types, on a live answer and a paper one, has the
    surface of the package's struct sequences: ``n_fields == n_sequence_fields == len()``,
    ``dir()`` its fields, ``count``, ``index``, the three counts and ``_asdict`` (the same on
    the type), ``range(r.n_fields)`` indexes the tuple, and ``paper`` (and our other
    additions) read by name only. Before, ``AccountInfo`` said ``n_fields`` 29 and listed
    ``paper``."""
    cls = getattr(mt5, name)
    wire: dict[str, Any] = dict.fromkeys(cls.__match_args__, 0)
    if "request" in wire:
        wire["request"] = dict.fromkeys(mt5.TradeRequest.__match_args__, 0)
    for answer in (wire, {**wire, "paper": True}):
        one = from_wire(cls, {k: v for k, v in answer.items()
                              if k in cls.__match_args__ or k in cls._extras})
        assert len(one) == one.n_fields == one.n_sequence_fields == PACKAGE_RECORDS[name]
        assert [one[i] for i in range(one.n_fields)] == list(one)
        expected = {*cls.__match_args__, *STRUCT_SEQUENCE_NAMES, *PACKAGE_ADDITIONS}
        assert {n for n in dir(one) if not n.startswith("__")} == expected
        assert {n for n in dir(cls) if not n.startswith("__")} == expected
        if "paper" in cls._extras:
            assert one.paper is ("paper" in answer)


@pytest.mark.not_on_windows("third-party")  # pandas
@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__name__)
def test_a_record_has_no_fields_attribute_as_a_struct_sequence_has_none(
        cls: type[Record]) -> None:
    """No ``_fields`` on a record or its type, as on ``time.struct_time`` and the package's
    types (its C extension builds them as struct sequences; the name is not in it): pandas
    takes a sequence with ``_fields`` for a named tuple and names its columns from it, so a
    DataFrame of records has the package's columns, 0 to n-1, and ``_asdict()`` names them
    as the package's documentation does."""
    import pandas  # what the package's users read records with; not in the Windows stage

    one = cls(list(range(len(cls.__match_args__))))
    for observed in (one, cls, time.localtime()):
        assert not hasattr(observed, "_fields")
    frame = pandas.DataFrame([one, one])
    assert list(frame.columns) == list(range(len(cls.__match_args__)))
    assert list(pandas.DataFrame([time.localtime()]).columns) == list(range(9))
    assert list(pandas.DataFrame([one._asdict()]).columns) == list(cls.__match_args__)

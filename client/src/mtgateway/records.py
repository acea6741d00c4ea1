"""The package's result structures, built as its struct sequences are, and their wire form.

Each class has the ``MetaTrader5`` package's name and exactly its fields in its order, and
behaves as the package's types do (C struct sequences): built from **one** sequence
(``TradeOrder(values)``, ``len()`` the package's field count), fields by name and by position,
``_asdict()``, equality as tuples. Where MT Gateway answers more than the package does
(``retcode_name``, ``client_id``, ``deduplicated``; ``paper`` on what the daemon's paper
book answered: the account, its positions, orders and deals, a check or a send, True) those
are attributes a program reads by name and sees nowhere else: outside the tuple, outside
``n_fields`` and outside ``dir()`` (``TradeOrder(values, {"extra": 1})`` sets them), so code
written for the package that unpacks, counts or lists a record's fields finds exactly the
package's, whose types have only sequence fields.

The wire's objects are read by field name (:func:`from_wire`): a field the gateway adds in a
later version is ignored, and a field the package defines but the answer lacks is a protocol
mismatch reported through ``last_error()`` rather than a half-filled tuple.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, ClassVar, TypeVar

__all__ = [
    "AccountInfo",
    "BookInfo",
    "OrderCheckResult",
    "OrderSendResult",
    "OrderStatus",
    "Record",
    "ServerTime",
    "SymbolInfo",
    "TerminalInfo",
    "Tick",
    "TradeDeal",
    "TradeOrder",
    "TradePosition",
    "TradeRequest",
    "WireMismatch",
    "from_wire",
    "many_from_wire",
]

T = TypeVar("T", bound="Record")


#: The class's bookkeeping, which a struct sequence has not: left out of ``dir()``.
_BOOKKEEPING = frozenset({"_extras", "_defaults"})
#: Left out of ``dir()`` of a record and of its class: the bookkeeping, and ``__dict__``, which
#: a record with extras has (hidden, :class:`_StructSequenceType`) and a struct sequence has
#: not. ``dir()`` names what can be read: a serialiser that reads ``getattr(r, name)`` for each
#: name would raise on it.
_NOT_LISTED = _BOOKKEEPING | {"__dict__"}


def _no_instance_dict(self: object) -> Any:
    raise AttributeError(f"{type(self).__name__!r} object has no attribute '__dict__'")


class _StructSequenceType(type):
    """The type of every record: lays each out as a C struct sequence is seen from Python.

    A struct sequence has no instance ``__dict__``: ``vars()`` refuses it, ``hasattr(r,
    "__dict__")`` is false, and serialisers that prefer an object's ``__dict__`` (a common
    fallback of agent servers and loggers) take its fields another way. So a record without
    extras gets ``__slots__ = ()``. A record with extras must keep them per instance, and a
    tuple subclass can only do that in its instance dictionary (non-empty ``__slots__`` are
    refused on tuples), so its ``__dict__`` *attribute* is hidden instead: the extras are
    still read as attributes, from the dictionary the interpreter reaches directly.

    ``dir()`` of a record and of its class leaves out ``_extras`` and ``_defaults``: agent
    servers build a record's JSON from ``dir()`` (every name not starting with ``__``), and a
    struct sequence shows none of them. Nor ``__dict__``: ``dir(os.terminal_size(...))`` does
    not name it, and ``{k: getattr(r, k) for k in dir(r)}`` must not meet a name that raises.
    """

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any],
                **kwargs: Any) -> _StructSequenceType:
        if namespace.get("_extras"):
            namespace["__dict__"] = property(_no_instance_dict)
        else:
            namespace.setdefault("__slots__", ())
        return super().__new__(mcs, name, bases, namespace, **kwargs)

    def __dir__(cls) -> list[str]:
        return sorted(set(super().__dir__()) - _NOT_LISTED)


class Record(tuple[Any, ...], metaclass=_StructSequenceType):
    """A struct sequence: the base of every result type.

    A subclass declares its tuple fields as annotations, in order; names it lists in
    ``_extras`` (with their defaults) are attributes outside the tuple instead, read by name
    only: not counted in ``n_fields`` and not listed by ``dir()``, as the package's types,
    struct sequences with only sequence fields, have nothing there. What a program
    can observe of a struct sequence is the same here: ``__match_args__`` (positional
    ``match`` patterns; aiomql filters requests by ``TradeRequest.__match_args__``),
    ``n_fields`` / ``n_sequence_fields`` / ``n_unnamed_fields``, construction from one
    sequence and an optional mapping, read-only fields, the repr ``Name(field=value, ...)``,
    equality and hashing as the plain tuple, pickling as ``(cls, (tuple, extras))``, no
    ``__dict__`` for ``vars()``, and ``dir()`` (:class:`_StructSequenceType`). ``_asdict()``
    is the package's one addition, which its documentation's examples use.

    There is no ``_fields``: the package's types have none (a struct sequence has none, and
    the name is not in its C extension), and pandas takes any sequence with ``_fields`` for a
    named tuple and names a DataFrame's columns from it. The field names, in order, are
    ``__match_args__``, which a struct sequence has too.
    """

    #: The tuple's field names, in order (set for each subclass from its annotations): the
    #: names a positional ``match`` pattern binds, as for a struct sequence.
    __match_args__: ClassVar[tuple[str, ...]] = ()
    #: All fields (a struct sequence's ``n_fields``): the tuple's, as in the package's types.
    n_fields: ClassVar[int] = 0
    #: The fields inside the tuple (``len()`` of every instance).
    n_sequence_fields: ClassVar[int] = 0
    #: Fields without a name: none here, as in the package's types.
    n_unnamed_fields: ClassVar[int] = 0
    #: Attributes outside the tuple, with their defaults (MT Gateway's additions).
    _extras: ClassVar[Mapping[str, Any]] = {}
    #: Defaults :func:`from_wire` uses for tuple fields an older daemon does not send.
    _defaults: ClassVar[Mapping[str, Any]] = {}

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        names = [name for name, kind in cls.__dict__.get("__annotations__", {}).items()
                 if not str(kind).startswith(("ClassVar", "typing.ClassVar"))]
        fields = tuple(name for name in names if name not in cls._extras)
        cls.__match_args__ = fields  # type: ignore[misc]  # mypy: set per class here
        cls.n_sequence_fields = len(fields)
        cls.n_fields = len(fields)
        for index, name in enumerate(fields):
            setattr(cls, name, property(itemgetter(index), doc=f"field {index}: {name}"))

    def __new__(cls, sequence: Iterable[Any], extras: Mapping[str, Any] | None = None
                ) -> Any:
        values = tuple(sequence)
        if len(values) != cls.n_sequence_fields:
            raise TypeError(f"{cls.__name__}() takes a {cls.n_sequence_fields}-sequence "
                            f"({len(values)}-sequence given)")
        self = super().__new__(cls, values)
        unknown = set(extras or ()) - set(cls._extras)
        if unknown:
            raise TypeError(f"{cls.__name__}() got unexpected fields {sorted(unknown)}")
        for name, default in cls._extras.items():
            object.__setattr__(self, name, (extras or {}).get(name, default))
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"readonly attribute: {type(self).__name__}.{name}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"readonly attribute: {type(self).__name__}.{name}")

    def __dir__(self) -> list[str]:
        """As the package's struct sequences': the fields and the struct sequence's names,
        no extras (the instance's own dictionary holds them), no bookkeeping, no ``__dict__``
        (hidden: it cannot be read)."""
        return sorted(set(super().__dir__()) - set(self._extras) - _NOT_LISTED)

    def __reduce__(self) -> tuple[Any, ...]:
        """As a struct sequence pickles: the class, the tuple and the extras by name."""
        return (type(self), (tuple(self), {name: getattr(self, name) for name in self._extras}))

    def _asdict(self) -> dict[str, Any]:
        """The package's fields by name, in order."""
        return dict(zip(self.__match_args__, self, strict=True))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value!r}"
                          for name, value in zip(self.__match_args__, self, strict=True))
        return f"{type(self).__name__}({inner})"


class AccountInfo(Record):
    """``account_info()``: the trading account."""
    login: int
    trade_mode: int
    leverage: int
    limit_orders: int
    margin_so_mode: int
    trade_allowed: bool
    trade_expert: bool
    margin_mode: int
    currency_digits: int
    fifo_close: bool
    balance: float
    credit: float
    profit: float
    equity: float
    margin: float
    margin_free: float
    margin_level: float
    margin_so_call: float
    margin_so_so: float
    margin_initial: float
    margin_maintenance: float
    assets: float
    liabilities: float
    commission_blocked: float
    name: str
    server: str
    currency: str
    company: str
    # MT Gateway's addition, outside the tuple: answered by the daemon's paper book
    _extras: ClassVar[Mapping[str, Any]] = {"paper": False}
    paper: bool


class TerminalInfo(Record):
    """``terminal_info()``: the terminal's state and settings."""
    community_account: bool
    community_connection: bool
    connected: bool
    dlls_allowed: bool
    trade_allowed: bool
    tradeapi_disabled: bool
    email_enabled: bool
    ftp_enabled: bool
    notifications_enabled: bool
    mqid: bool
    build: int
    maxbars: int
    codepage: int
    ping_last: int
    community_balance: float
    retransmission: float
    company: str
    name: str
    language: str
    path: str
    data_path: str
    commondata_path: str


class SymbolInfo(Record):
    """``symbol_info(symbol)`` / ``symbols_get()``: every property of one symbol."""
    custom: bool
    chart_mode: int
    select: bool
    visible: bool
    session_deals: int
    session_buy_orders: int
    session_sell_orders: int
    volume: int
    volumehigh: int
    volumelow: int
    time: int
    digits: int
    spread: int
    spread_float: bool
    ticks_bookdepth: int
    trade_calc_mode: int
    trade_mode: int
    start_time: int
    expiration_time: int
    trade_stops_level: int
    trade_freeze_level: int
    trade_exemode: int
    swap_mode: int
    swap_rollover3days: int
    margin_hedged_use_leg: bool
    expiration_mode: int
    filling_mode: int
    order_mode: int
    order_gtc_mode: int
    option_mode: int
    option_right: int
    bid: float
    bidhigh: float
    bidlow: float
    ask: float
    askhigh: float
    asklow: float
    last: float
    lasthigh: float
    lastlow: float
    volume_real: float
    volumehigh_real: float
    volumelow_real: float
    option_strike: float
    point: float
    trade_tick_value: float
    trade_tick_value_profit: float
    trade_tick_value_loss: float
    trade_tick_size: float
    trade_contract_size: float
    trade_accrued_interest: float
    trade_face_value: float
    trade_liquidity_rate: float
    volume_min: float
    volume_max: float
    volume_step: float
    volume_limit: float
    swap_long: float
    swap_short: float
    margin_initial: float
    margin_maintenance: float
    session_volume: float
    session_turnover: float
    session_interest: float
    session_buy_orders_volume: float
    session_sell_orders_volume: float
    session_open: float
    session_close: float
    session_aw: float
    session_price_settlement: float
    session_price_limit_min: float
    session_price_limit_max: float
    margin_hedged: float
    price_change: float
    price_volatility: float
    price_theoretical: float
    price_greeks_delta: float
    price_greeks_theta: float
    price_greeks_gamma: float
    price_greeks_vega: float
    price_greeks_rho: float
    price_greeks_omega: float
    price_sensitivity: float
    basis: str
    category: str
    currency_base: str
    currency_profit: str
    currency_margin: str
    bank: str
    description: str
    exchange: str
    formula: str
    isin: str
    name: str
    page: str
    path: str


class Tick(Record):
    """``symbol_info_tick(symbol)``: the last tick."""
    time: int
    bid: float
    ask: float
    last: float
    volume: int
    time_msc: int
    flags: int
    volume_real: float


class TradePosition(Record):
    """``positions_get()``: one open position."""
    ticket: int
    time: int
    time_msc: int
    time_update: int
    time_update_msc: int
    type: int
    magic: int
    identifier: int
    reason: int
    volume: float
    price_open: float
    sl: float
    tp: float
    price_current: float
    swap: float
    profit: float
    symbol: str
    comment: str
    external_id: str
    # MT Gateway's addition, outside the tuple: answered by the daemon's paper book
    _extras: ClassVar[Mapping[str, Any]] = {"paper": False}
    paper: bool


class TradeOrder(Record):
    """``orders_get()`` / ``history_orders_get()``: one order."""
    ticket: int
    time_setup: int
    time_setup_msc: int
    time_done: int
    time_done_msc: int
    time_expiration: int
    type: int
    type_time: int
    type_filling: int
    state: int
    magic: int
    position_id: int
    position_by_id: int
    reason: int
    volume_initial: float
    volume_current: float
    price_open: float
    sl: float
    tp: float
    price_current: float
    price_stoplimit: float
    symbol: str
    comment: str
    external_id: str
    # MT Gateway's addition, outside the tuple: answered by the daemon's paper book
    _extras: ClassVar[Mapping[str, Any]] = {"paper": False}
    paper: bool


class TradeDeal(Record):
    """``history_deals_get()``: one deal."""
    ticket: int
    order: int
    time: int
    time_msc: int
    type: int
    entry: int
    magic: int
    position_id: int
    reason: int
    volume: float
    price: float
    commission: float
    swap: float
    profit: float
    fee: float
    symbol: str
    comment: str
    external_id: str
    # MT Gateway's addition, outside the tuple: answered by the daemon's paper book
    _extras: ClassVar[Mapping[str, Any]] = {"paper": False}
    paper: bool


class TradeRequest(Record):
    """The request as the terminal evaluated it (``OrderSendResult.request``)."""
    action: int
    magic: int
    order: int
    symbol: str
    volume: float
    price: float
    stoplimit: float
    sl: float
    tp: float
    deviation: int
    type: int
    type_filling: int
    type_time: int
    expiration: int
    comment: str
    position: int
    position_by: int


class OrderCheckResult(Record):
    """``order_check(request)``."""
    retcode: int
    balance: float
    equity: float
    profit: float
    margin: float
    margin_free: float
    margin_level: float
    comment: str
    request: TradeRequest
    # MT Gateway's additions: attributes outside the tuple (``paper``: checked by the
    # daemon's paper book)
    _extras: ClassVar[Mapping[str, Any]] = {"retcode_name": "", "paper": False}
    retcode_name: str
    paper: bool


class OrderSendResult(Record):
    """``order_send(request)``: check ``retcode`` (a rejection is a result)."""
    retcode: int
    deal: int
    order: int
    volume: float
    price: float
    bid: float
    ask: float
    comment: str
    request_id: int
    retcode_external: int
    request: TradeRequest
    # MT Gateway's additions: attributes outside the tuple (``paper``: carried out by the
    # daemon's paper book, never at the broker)
    _extras: ClassVar[Mapping[str, Any]] = {"retcode_name": "", "client_id": "",
                                            "deduplicated": False, "paper": False}
    retcode_name: str
    client_id: str
    deduplicated: bool
    paper: bool



class BookInfo(Record):
    """``market_book_get(symbol)``: one level of the depth of market."""

    type: int
    price: float
    volume: int
    volume_dbl: float


class OrderStatus(Record):
    """``order_status(client_id)`` (MT Gateway's addition): the daemon's journal row.

    ``state`` is one of ``RECEIVED``, ``SENT``, ``ACCEPTED``, ``REJECTED``, ``UNKNOWN``,
    ``RESOLVED_ACCEPTED``, ``RESOLVED_NOT_FOUND``; ``request`` is the request as sent and
    ``result`` the terminal's answer (both as the wire's dicts; ``result`` is None until one
    arrived).
    """

    client_id: str
    state: str
    retcode: int | None
    retcode_name: str | None
    ticket: int | None
    created_at: float
    updated_at: float
    reconcile_passes: int
    request: dict[str, Any]
    result: dict[str, Any] | None
    #: tickets reconciliation could not tell apart for this order (reported, never guessed)
    ambiguous_tickets: Sequence[int]
    _defaults: ClassVar[Mapping[str, Any]] = {"ambiguous_tickets": ()}


class ServerTime(Record):
    """``server_time()`` (MT Gateway's addition): the trade server's clock and its offset."""

    time: int
    time_msc: int
    tz_offset_s: int


class WireMismatch(ValueError):
    """The gateway's answer lacks a field the package defines: client and daemon disagree on
    the protocol. Upgrade the older side."""


def from_wire(cls: type[T], obj: Any) -> T:
    """``cls`` built from the wire's JSON object by field name (extra fields ignored).

    Raises:
        WireMismatch: ``obj`` is not an object, or lacks a field ``cls`` has no default for.
    """
    if not isinstance(obj, dict):
        raise WireMismatch(f"{cls.__name__}: expected an object, got {type(obj).__name__}")
    values = []
    for name in cls.__match_args__:
        if name in obj:
            value = obj[name]
            if name == "request" and cls is not OrderStatus:
                value = from_wire(TradeRequest, value)
            values.append(value)
        elif name in cls._defaults:
            values.append(cls._defaults[name])
        else:
            raise WireMismatch(f"{cls.__name__}: the gateway's answer has no {name!r}")
    extras = {name: obj[name] for name in cls._extras if name in obj}
    return cls(values, extras)


def many_from_wire(cls: type[T], array: Any) -> tuple[T, ...]:
    """A tuple of ``cls`` from the wire's JSON array (the package answers tuples).

    Raises:
        WireMismatch: ``array`` is not an array, or an element is not a ``cls``.
    """
    if not isinstance(array, list):
        raise WireMismatch(f"{cls.__name__}: expected an array, got {type(array).__name__}")
    return tuple(from_wire(cls, item) for item in array)

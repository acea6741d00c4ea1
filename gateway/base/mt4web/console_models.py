"""The console's answers of the MT4 Web API document (its ``/api/``, ``gateway/authority/mt4api/``),
as pydantic models.

Every answer is built through these, so the OpenAPI document made from them
(``openapi.py``, through ``mt4api/openapi.py``) describes exactly what is sent. Where the MT4
Web API document gives a shape (the login's), it is followed field for field; where the
account registration does (a user is a registered account: its ``Registration`` and
``AccountResponse``, ``POST /v1/accounts`` in ``docs/authority.md``), so is it; the trade and
margin records are the daemon's REST mirror's (MT4 Manager names, ``shared.py``), each with
the ``server`` it is on and the time its daemon read it (``as_of``, epoch seconds).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from ..charttext import MAX_BODY, MAX_SUBJECT, PRINTABLE_PATTERN, unprintable
from .shared import (
    MAX_LOGIN,
    HealthOut,
    In,
    MarginFields,
    MarginKey,
    Out,
    Placed,
    TradeFields,
    TradeKey,
)

__all__ = [
    "BookChoice", "BookName", "ByGroupIn", "CreditIn", "ErrorOut", "GroupEnvelope",
    "GroupOpIn", "GroupOut", "GroupPolicy", "GroupsOut", "HealthOut", "HistoryIn", "LoginOut",
    "LookupIn", "MailIn",
    "MailOut", "MarginOut", "MarginRow", "MarginsOut", "MoneyIn", "OnlineOut", "OnlineRow",
    "OperationEnvelope", "OperationOut", "PasswordIn", "Registration", "ServerConfigOut",
    "StatusOut", "SwitchIn", "SwitchOut", "TradeRecord", "TradesOut", "UserChange",
    "UserCreate", "UserEnvelope", "UserOut", "UsersOut",
]

def _whole(value: Any) -> Any:
    """JSON's integers as JSON Schema counts them: ``7.0`` is the integer 7 (``7.5``, text
    and booleans stay what they are, for the strict check to refuse)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _number_only(value: Any) -> Any:
    """A decimal of a request body is a JSON number (text is refused, as the schema says)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("expected a number")
    number = Decimal(str(value))
    if not number.is_finite():
        raise ValueError("expected a finite number")
    return number


def Number(low: float, high: float, *, above: bool = False) -> Any:  # noqa: N802 - a type
    """A decimal from ``low`` (excluded with ``above``) to ``high``, sent as a JSON number."""
    bound = (Field(gt=Decimal(str(low)), le=Decimal(str(high))) if above
             else Field(ge=Decimal(str(low)), le=Decimal(str(high))))
    schema: dict[str, Any] = {"type": "number", "maximum": high,
                              ("exclusiveMinimum" if above else "minimum"): low}
    return Annotated[Decimal, BeforeValidator(_number_only), bound, WithJsonSchema(schema)]


#: Epoch seconds in a request body.
Epoch = Annotated[int, BeforeValidator(_whole), Field(ge=0, le=2**40),
                  WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 2**40})]
#: A login or ticket: 1 to 2^63-1.
Ticket = Annotated[int, BeforeValidator(_whole), Field(ge=1, le=MAX_LOGIN),
                   WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_LOGIN})]
_GROUP_NAME = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$"


class ErrorOut(Out):
    """Every refusal of the console API (the daemon's REST mirror's shape): the HTTP status
    as ``code``, ``data.reason`` a word a program can branch on."""

    status: Literal["error"] = "error"
    code: int
    message: str
    data: dict[str, Any]


class LoginOut(Out):
    """``POST /api/auth/login`` (the document's shape, with OAuth 2.0's ``expires_in``)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class StatusOut(Out):
    """A change done, in words."""

    status: Literal["ok"] = "ok"
    message: str


# -- users: the owner's registered accounts ---------------------------------------------------

class UserOut(Out):
    """A registered account (the registration's ``AccountResponse``, never the
    password), with its group and whether the owner's kill switch holds it."""

    id: int
    name: str
    broker: str
    login: int
    server: str
    is_live: bool
    is_active: bool
    allowed_symbols: list[str]
    max_lot_size: float
    risk_pct: float
    auto_trade_enabled: bool
    paper_trade_enabled: bool
    mt5_path: str
    account_type: Literal["USD", "USC"]
    created_at: str
    group: str | None = None
    trading_halted: bool = False


class Registration(BaseModel):
    """An account's registration: its fields, as ``docs/authority.md`` lists them (the
    console's ``POST /v1/accounts`` reads them as they are, ``POST /api/users/`` strictly)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(max_length=100, min_length=1)
    broker: str = Field(max_length=100, min_length=1)
    login: int = Field(gt=0, le=MAX_LOGIN, strict=True)  # MT logins are 64-bit
    password: str = Field(default="", max_length=200)
    server: str = Field(max_length=200, min_length=1)
    is_live: bool = False
    allowed_symbols: list[str] = Field(default=[], max_length=1000)
    max_lot_size: Decimal = Field(default=Decimal("0.1"), ge=0, le=100, allow_inf_nan=False)
    risk_pct: Decimal = Field(default=Decimal("0.01"), ge=0, le=1, allow_inf_nan=False)
    auto_trade_enabled: bool = True
    paper_trade_enabled: bool = False
    mt5_path: str = Field(default="", max_length=500)
    account_type: Literal["USD", "USC"] = "USD"


class UserCreate(Registration):
    """``POST /api/users/``: the registration's ``AccountCreate``, read strictly (a
    boolean is ``true`` or ``false``, not ``0``; a number is not a string)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    login: Ticket
    max_lot_size: Number(0, 100) = Decimal("0.1")  # type: ignore[valid-type]
    risk_pct: Number(0, 1) = Decimal("0.01")  # type: ignore[valid-type]
    #: Start on paper although the live book holds positions or pending orders at the broker
    #: (they stay open there, out of reach of bots on paper): without it, 409
    #: ``live_trades_open`` says what stays open.
    confirm_live_open: bool = False


class UsersOut(Out):
    """``GET /api/users/``."""

    status: Literal["ok"] = "ok"
    count: int
    users: list[UserOut]


class UserEnvelope(Out):
    """``GET`` and ``PUT /api/users/{login}``."""

    status: Literal["ok"] = "ok"
    user: UserOut


class UserChange(In):
    """``PUT /api/users/{login}``: the fields to change (absent: unchanged). Loosening the
    policy (a higher lot cap or risk, automated trading on, paper trading off, more symbols)
    needs ``owner_password``, the owner's console password, as the console's page asks."""

    server: str | None = Field(default=None, min_length=1, max_length=200)
    name: str | None = Field(default=None, min_length=1, max_length=100)
    broker: str | None = Field(default=None, min_length=1, max_length=100)
    is_live: bool | None = None
    allowed_symbols: list[str] | None = Field(default=None, max_length=1000)
    max_lot_size: Number(0, 100) | None = None  # type: ignore[valid-type]
    risk_pct: Number(0, 1) | None = None  # type: ignore[valid-type]
    auto_trade_enabled: bool | None = None
    paper_trade_enabled: bool | None = None
    mt5_path: str | None = Field(default=None, max_length=500)
    account_type: Literal["USD", "USC"] | None = None
    owner_password: str | None = Field(default=None, max_length=1024)
    #: Switch paper on although the live book holds positions or pending orders at the
    #: broker (they stay open there, out of reach of bots on paper): without it, 409
    #: ``live_trades_open`` says what stays open.
    confirm_live_open: bool = False


class PasswordIn(In):
    """``PUT /api/users/{login}/password``: the account's new MT5 password (stored
    encrypted, never shown again)."""

    password: str = Field(min_length=1, max_length=200)
    server: str | None = Field(default=None, min_length=1, max_length=200)


# -- money --------------------------------------------------------------------------------------

class MoneyIn(In):
    """``POST /api/accounts/{login}/deposit`` and ``/withdraw``: the amount (in the
    account's currency, above 0), the deal's comment, and an optional ``operation_id``: the
    same id again answers the first operation as it stands (applied, refused or pending)
    instead of moving money twice."""

    amount: Number(0, 1e12, above=True)  # type: ignore[valid-type]
    comment: str = Field(default="", max_length=31)
    operation_id: str = Field(default="", max_length=64, pattern=r"^[A-Za-z0-9_-]*$")
    server: str | None = Field(default=None, min_length=1, max_length=200)


def _nonzero(value: Any) -> Any:
    number = _number_only(value)
    if number == 0:
        raise ValueError("must not be 0")
    return number


class CreditIn(MoneyIn):
    """``POST /api/accounts/{login}/credit``: as a deposit, but a negative amount takes
    credit away (0 is refused)."""

    amount: Annotated[Decimal, BeforeValidator(_nonzero),
                      Field(gt=Decimal(-10**12), le=Decimal(10**12)),
                      WithJsonSchema({"type": "number", "exclusiveMinimum": -1e12,
                                      "maximum": 1e12, "not": {"const": 0}})]


class OperationOut(Out):
    """One of the owner's instructions to a terminal's daemon and its outcome: ``pending``
    (not yet applied: the terminal's daemon has not seen it), ``applied`` (with the ``deal``
    ticket of a money operation), ``refused`` (``detail`` says why) or ``shown``."""

    id: str
    login: int
    server: str
    kind: Literal["deposit", "withdraw", "credit", "message"]
    amount: float
    comment: str
    state: Literal["pending", "applied", "refused", "shown"]
    deal: int | None
    detail: str
    created_at: int
    settled_at: int | None


class OperationEnvelope(Out):
    """A money operation's answer: 200 once applied or refused, 202 while pending."""

    status: Literal["ok"] = "ok"
    operation: OperationOut


# -- across accounts ------------------------------------------------------------------------------

#: Which book a record is from: the account at its broker (``live``) or the daemon's paper book
#: for an account trading on paper (``paper``); the two number their tickets apart.
BookName = Literal["live", "paper"]
#: The books an answer covers (absent: each terminal's current one, the book its daemon
#: reports now).
BookChoice = Literal["live", "paper", "all"]


class MarginRow(MarginFields, Placed, MarginKey):
    """One account's margin (MT4 ``MarginLevel`` names, from MT5 ``AccountInfo``), the
    terminal's ``server``, when its daemon read it, and from which book."""

    as_of: float
    book: BookName = "live"


class MarginOut(MarginRow):
    """``GET /api/accounts/{login}/margin``."""

    status: Literal["ok"] = "ok"


class MarginsOut(Out):
    """``GET /api/accounts/margins``: every account of the owner a daemon reports now."""

    status: Literal["ok"] = "ok"
    count: int
    margins: list[MarginRow]


class TradeRecord(TradeFields, Placed, TradeKey):
    """One trade (MT4 ``TradeRecord`` names, as the daemon's REST mirror answers), its
    ``server``, when its daemon read it, and its ``book``: (``book``, ``order``) is a
    record's key, since the live account and the paper book number their tickets apart."""

    as_of: float
    book: BookName = "live"


class TradesOut(Out):
    """Trades (``GET /api/trades/open[/{login}]``, ``POST /api/trades/history/{login}``,
    ``POST /api/admin/trades/lookup``, ``/by-group``). ``complete`` is false when a daemon
    reported fewer open trades than its account holds (the largest positions are sent)."""

    status: Literal["ok"] = "ok"
    count: int
    trades: list[TradeRecord]
    complete: bool = True


class HistoryIn(In):
    """``POST /api/trades/history/{login}``: the period in epoch seconds (both optional: all
    the console has; daemons report the deals they see, and the console keeps 90 days)."""

    date_from: Epoch | None = Field(default=None, alias="from")
    date_to: Epoch | None = Field(default=None, alias="to")
    server: str | None = Field(default=None, min_length=1, max_length=200)
    book: BookChoice | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)


class LookupIn(In):
    """``POST /api/admin/trades/lookup``: tickets (positions, orders or deals) to find among
    every account of the owner, in each one's current book unless ``book`` says."""

    tickets: list[Ticket] = Field(min_length=1, max_length=100)
    book: BookChoice | None = None


class ByGroupIn(In):
    """``POST /api/admin/trades/by-group``: the open trades of a group's accounts."""

    group: str = Field(pattern=_GROUP_NAME)


class GroupPolicy(In):
    """A group's risk policy (its accounts take it)."""

    allowed_symbols: list[str] = Field(default=[], max_length=1000)
    max_lot_size: Number(0, 100) = Decimal("0.1")  # type: ignore[valid-type]
    risk_pct: Number(0, 1) = Decimal("0.01")  # type: ignore[valid-type]
    auto_trade_enabled: bool = True


class GroupOut(Out):
    """One of the owner's groups: its policy, its accounts' logins, how many are online."""

    name: str
    allowed_symbols: list[str]
    max_lot_size: float
    risk_pct: float
    auto_trade_enabled: bool
    logins: list[int]
    online: int


class GroupsOut(Out):
    """``GET /api/groups/``."""

    status: Literal["ok"] = "ok"
    count: int
    groups: list[GroupOut]


class GroupEnvelope(Out):
    """``GET /api/groups/{name}``."""

    status: Literal["ok"] = "ok"
    group: GroupOut


class OnlineRow(Out):
    """A terminal active now: where (the daemon's device), what EA, since when."""

    login: int
    server: str
    device_id: str
    platform: str
    ea_version: str
    since: int
    reported_at: int


class OnlineOut(Out):
    """``GET /api/groups/online``: the owner's terminals active now."""

    status: Literal["ok"] = "ok"
    count: int
    online: list[OnlineRow]


class GroupOpIn(In):
    """``POST /api/admin/users/group-op``: ``move`` the accounts into ``group`` (made with
    ``policy``, or the first account's policy, when new; ``policy`` given for an existing
    group replaces it for every member; ``group`` null: out of any group), or switch their
    automated trading on or off at once. What loosens a policy needs ``owner_password``."""

    operation: Literal["move", "enable_auto_trade", "disable_auto_trade"]
    logins: list[Ticket] = Field(min_length=1, max_length=1000)
    group: str | None = Field(default=None, pattern=_GROUP_NAME)
    policy: GroupPolicy | None = None
    owner_password: str | None = Field(default=None, max_length=1024)


class ServerConfigOut(Out):
    """``GET /api/server/config``: the console's public configuration."""

    status: Literal["ok"] = "ok"
    service: str
    version: str
    key_id: str
    key_algorithm: str
    limits: dict[str, float]
    access_token: dict[str, Any]


# -- the kill switch and mail -------------------------------------------------------------------

class SwitchIn(In):
    """``POST /api/test/disconnect`` and ``/connect``: the accounts (their logins; none: all
    of the owner's terminals) and, for a disconnect, why (shown with every refused order).
    Lifting a halt (``/connect``) lets every bot trade again: it needs ``owner_password``,
    the owner's console password."""

    logins: list[Ticket] | None = Field(default=None, min_length=1, max_length=1000)
    reason: str = Field(default="", max_length=200)
    owner_password: str | None = Field(default=None, max_length=1024)


class SwitchOut(Out):
    """What the kill switch now holds."""

    status: Literal["ok"] = "ok"
    message: str
    halted: list[str]


def _one_line(value: str) -> str:
    """A chart message's text: refused, naming the character, unless one line of printable
    text (``charttext.py``)."""
    problem = unprintable(value)
    if problem is not None:
        raise PydanticCustomError("chart_text", problem)
    return value


#: Text for a chart: one line of printable characters (the pattern says so to clients).
ChartText = Annotated[str, AfterValidator(_one_line)]


class MailIn(In):
    """``POST /api/admin/mail``: a message for the charts of the named accounts' terminals
    (their EAs show it; none named: every terminal of the owner)."""

    logins: list[Ticket] | None = Field(default=None, min_length=1, max_length=1000)
    subject: ChartText = Field(default="", max_length=MAX_SUBJECT,
                               json_schema_extra={"pattern": PRINTABLE_PATTERN})
    body: ChartText = Field(min_length=1, max_length=MAX_BODY,
                            json_schema_extra={"pattern": PRINTABLE_PATTERN})


class MailOut(Out):
    """The messages on their way, one per terminal."""

    status: Literal["ok"] = "ok"
    count: int
    messages: list[OperationOut]

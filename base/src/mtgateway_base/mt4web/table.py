"""Every endpoint of the MT4 Web API document, once, with how each side answers it.

The document (Quick Reference, 1-34) describes a REST API over the MT4 *Manager* interface.
Two processes answer its paths: the daemon (``gateway/rest.py``), for the one terminal a
gateway token reaches, and the console (``mtgateway_console/mt4api/``), across an owner's
accounts. Each row of :data:`ENDPOINTS` is one path and method with two columns, ``daemon``
and ``console``: an :class:`Answer` with its summary, its models and the statuses it adds, or
one that is not answered on that side and says why (the 501's message). Every row is
answered on one side at least, except the two that rewrite the broker's trade records.

A side puts its handlers to the rows with :func:`bind`, by operation id (the OpenAPI
document's ``operationId``, ``get_api_trades_open``): a row it answers without a handler,
or a handler for a row it does not answer, is refused when the side's routes are made, so
the table and the code cannot part. A handler may be registered where it is written
(:class:`Handlers`, ``@HANDLERS.answers("get_api_trades_open")`` above it), so answering a
row is the row and its handler, not also the handler's name in a list elsewhere.
``openapi.py`` writes each side's document from the same rows, and ``quickref.py`` the tables
of ``docs/rest.md`` that list them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Generic, Literal, TypeVar

from pydantic import BaseModel

from . import console_models as c
from . import daemon_models as d

__all__ = ["ENDPOINTS", "Answer", "Endpoint", "Handlers", "Route", "Side", "bind", "not_here"]

Side = Literal["daemon", "console"]
H = TypeVar("H")

_PATH_PARAM: Final = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Answer:
    """How one side answers an endpoint. ``why`` set: not answered there, and why (the 501's
    message)."""

    summary: str
    #: The model of a 200 (201 for ``created``) answer.
    response: type[BaseModel] | None = None
    #: The JSON body's model.
    body: type[BaseModel] | None = None
    #: Behind the side's credential (the daemon's gateway token, the console's access token).
    auth: bool = True
    why: str | None = None
    #: Statuses the handler answers besides 200 (and the side's door), with what each means.
    statuses: Mapping[int, str] = field(default_factory=dict)
    created: bool = False
    #: ``application/x-www-form-urlencoded`` instead of JSON (the console's sign-in).
    form: bool = False

    @property
    def answered(self) -> bool:
        """Whether this side answers the endpoint (else 501 with :attr:`why`)."""
        return self.why is None


def not_here(summary: str, why: str, *, auth: bool = True) -> Answer:
    """An endpoint a side does not answer: 501, and ``why``."""
    return Answer(summary, auth=auth, why=why)


@dataclass(frozen=True)
class Endpoint:
    """One path and method of the document, its number in the Quick Reference, and how the
    daemon and the console answer it."""

    number: int
    method: str
    path: str
    daemon: Answer
    console: Answer

    @property
    def path_params(self) -> tuple[str, ...]:
        """The path's ``{name}`` parameters, in order."""
        return tuple(_PATH_PARAM.findall(self.path))

    @property
    def operation_id(self) -> str:
        """The OpenAPI ``operationId`` (``post_api_trades_history_login``), the key a side's
        handler is bound by."""
        return (self.method.lower() + self.path.replace("/", "_").replace("{", "")
                .replace("}", "").replace("-", "_").rstrip("_"))

    def answer(self, side: Side) -> Answer:
        """The ``daemon`` or ``console`` column."""
        return self.daemon if side == "daemon" else self.console


@dataclass(frozen=True)
class Route(Generic[H]):
    """An endpoint as one side serves it: the row's path, the side's answer flattened, and
    the side's handler (None where the side does not answer: :attr:`why` says why)."""

    number: int
    method: str
    path: str
    summary: str
    handler: H | None
    response: type[BaseModel] | None
    body: type[BaseModel] | None
    auth: bool
    why: str | None
    path_params: tuple[str, ...]
    statuses: Mapping[int, str]
    created: bool
    form: bool


def _named(handler: object) -> str:
    """``module.function`` of a handler, for a refusal that says which two collide."""
    name = getattr(handler, "__qualname__", type(handler).__name__)
    return f"{getattr(handler, '__module__', '?')}.{name}"


class Handlers(Mapping[str, H]):
    """Handlers by the operation id of the row each answers, each registered where it is
    written::

        HANDLERS: Final = Handlers[Handler]()

        @HANDLERS.answers("post_api_accounts_login_deposit")
        async def deposit(call: ApiCall) -> web.Response: ...

    A room of handlers holds one; ``Handlers(room_a, room_b)`` is the rooms' together, what a
    side gives :func:`bind`. Why here and not a list beside the table: a list of operation
    ids and handler names was one more place to write each endpoint, and the handler's own
    module is where a reader looks for which row it answers.

    Raises:
        ValueError: (at registration: the room's import) two handlers for one operation id,
            both named.
    """

    def __init__(self, *rooms: Mapping[str, H]) -> None:
        self._by_id: dict[str, H] = {}
        for room in rooms:
            for operation_id, handler in room.items():
                self._add(operation_id, handler)

    def answers(self, operation_id: str) -> Callable[[H], H]:
        """Register the decorated handler as the one for the row ``operation_id`` (the
        handler itself is returned unchanged)."""
        def register(handler: H) -> H:
            self._add(operation_id, handler)
            return handler

        return register

    def _add(self, operation_id: str, handler: H) -> None:
        held = self._by_id.setdefault(operation_id, handler)
        if held is not handler:
            raise ValueError(f"two handlers for {operation_id}: {_named(held)} and "
                             f"{_named(handler)}")

    def __getitem__(self, operation_id: str) -> H:
        return self._by_id[operation_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)


def bind(side: Side, handlers: Mapping[str, H],
         endpoints: Sequence[Endpoint] | None = None) -> tuple[Route[H], ...]:
    """``side``'s routes: every row of ``endpoints`` (:data:`ENDPOINTS`, unless a test gives
    a table of its own) with its handler from ``handlers`` (by operation id), in the table's
    order.

    Raises:
        ValueError: a row ``side`` answers has no handler, or a handler names no row that
            ``side`` answers (both listed).
    """
    rows = ENDPOINTS if endpoints is None else endpoints
    answered = {e.operation_id for e in rows if e.answer(side).answered}
    missing, stray = sorted(answered - set(handlers)), sorted(set(handlers) - answered)
    if missing or stray:
        raise ValueError(f"the {side}'s handlers do not match the MT4 Web API table: "
                         f"no handler for {missing}, no answered row for {stray}")
    routes = []
    for endpoint in rows:
        answer = endpoint.answer(side)
        routes.append(Route(
            endpoint.number, endpoint.method, endpoint.path, answer.summary,
            handlers.get(endpoint.operation_id), answer.response, answer.body, answer.auth,
            answer.why, endpoint.path_params, answer.statuses, answer.created, answer.form))
    return tuple(routes)


# -- why a side does not answer -----------------------------------------------------------------

_USERS = ("Trading accounts are created, listed and changed by the broker through the MT4 "
          "Manager API; a terminal's EA sees only its own account (GET "
          "/api/accounts/{login}/margin).")
_MONEY = ("Deposits, withdrawals and credit are balance operations the broker makes through "
          "the Manager API; a terminal cannot move money.")
_GROUPS = "Groups are broker-server configuration that only the Manager API can read."
_ADMIN = ("Looking up, editing or deleting other accounts' trade records, internal mail and "
          "batch user operations need Manager rights on the broker's server.")
_NO_LOGIN = ("There is no login: this mirror takes the gateway's own token (issued by the "
             "token authority, bound to one terminal) as Authorization: Bearer <token>.")
_TERMINAL = ("A terminal-level call: the daemon serving the terminal answers it on its own "
             "port (GET {path} there, with the terminal's gateway token); the console talks "
             "to no terminal itself.")
_SYMBOLS = ("Symbols are a terminal's: the daemon serving it answers {path} with the "
            "terminal's own symbol configuration and live prices.")
_RECORDS = ("A trade record is the broker's: a live account's trade records are the broker's "
            "to modify or delete, and a paper account's history is what its orders did; "
            "neither is rewritten from the console.")


def _terminal(summary: str, path: str) -> Answer:
    """A terminal-level endpoint on the console: the daemon answers it."""
    return not_here(summary, _TERMINAL.format(path=path))


def _symbols(summary: str, path: str) -> Answer:
    """A symbol's endpoint on the console: the daemon answers it."""
    return not_here(summary, _SYMBOLS.format(path=path))


# -- what the console's handlers answer besides 200 ---------------------------------------------

_NOT_OWNER: Final = {404: "Not one of your accounts (or groups)"}
_MONEY_MOVED: Final = {
    202: "Accepted: the terminal's daemon has not applied it yet (state pending); it is "
         "applied once, as soon as a daemon serving the terminal sees it",
    404: "Not one of your registered accounts",
    409: "A live (or broker demo) account: the broker moves its money; or the operation_id "
         "was used for another operation; or the login is on several servers",
    422: "A field is wrong (named)"}
_REPORTED: Final = {404: "No daemon reports this account of yours now"}
_LOOSEN: Final = {401: "Loosening the policy needs owner_password (or it was wrong)",
                  404: "Not one of your registered accounts",
                  409: "The login is on several servers; or (live_trades_open) paper "
                       "trading would go on over live trades: send confirm_live_open",
                  422: "A field is wrong (named)",
                  429: "Too many wrong passwords: wait"}
_FIELDS: Final = {422: "A field is wrong (named)"}

#: Every endpoint of the document (1-34), in its order.
ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    Endpoint(1, "GET", "/api/health",
             daemon=Answer("API health check", d.HealthOut, auth=False),
             console=Answer("Console health check", c.HealthOut, auth=False)),
    Endpoint(2, "POST", "/api/auth/login",
             daemon=not_here("Get JWT token", _NO_LOGIN, auth=False),
             console=Answer("Get an access token (JWT, 8 hours)", c.LoginOut, auth=False,
                            form=True,
                            statuses={401: "Wrong e-mail, password or code (otp)",
                                      415: "Not a form (application/x-www-form-urlencoded)",
                                      422: "username or password missing",
                                      429: "Too many failed sign-ins (Retry-After)"})),
    Endpoint(3, "GET", "/api/test/service-health",
             daemon=Answer("Is any terminal's EA connected?", d.ServiceHealthOut, auth=False),
             console=_terminal("Is any terminal's EA connected?", "/api/test/service-health")),
    Endpoint(4, "POST", "/api/test/connect",
             daemon=not_here("Connect to MT4 server",
                             "The terminal logs in to its broker's trade server itself; the "
                             "gateway cannot connect a terminal to a trade server."),
             console=Answer("Kill switch off: orders go through again", c.SwitchOut,
                            c.SwitchIn,
                            statuses={**_NOT_OWNER,
                                      401: "Lifting a halt needs owner_password (or it was "
                                           "wrong)",
                                      429: "Too many wrong passwords: wait"})),
    Endpoint(5, "POST", "/api/test/disconnect",
             daemon=not_here("Disconnect from MT4",
                             "The terminal's broker connection is the terminal's own; the "
                             "gateway cannot disconnect it."),
             console=Answer("Kill switch: refuse every order of the accounts (or all)",
                            c.SwitchOut, c.SwitchIn, statuses=_NOT_OWNER)),
    Endpoint(6, "GET", "/api/test/status",
             daemon=Answer("Connection status", d.StatusOut),
             console=_terminal("Connection status", "/api/test/status")),
    Endpoint(7, "GET", "/api/test/ping",
             daemon=Answer("Ping the terminal", d.PingOut),
             console=_terminal("Ping the terminal", "/api/test/ping")),
    Endpoint(8, "GET", "/api/test/server-time",
             daemon=Answer("Get server time", d.ServerTimeOut),
             console=_terminal("Get server time", "/api/test/server-time")),
    Endpoint(9, "GET", "/api/users/",
             daemon=not_here("List all users", _USERS),
             console=Answer("Your registered accounts", c.UsersOut)),
    Endpoint(10, "GET", "/api/users/{login}",
             daemon=not_here("Get single user", _USERS),
             console=Answer("One of your registered accounts", c.UserEnvelope,
                            statuses={**_NOT_OWNER,
                                      409: "The login is on several servers (?server=)"})),
    Endpoint(11, "POST", "/api/users/",
             daemon=not_here("Create user account", _USERS),
             console=Answer("Register an account", c.UserOut, c.UserCreate, created=True,
                            statuses={409: "Registered already (or the terminal is another "
                                           "owner's); or (live_trades_open) it would start "
                                           "on paper over live trades: send "
                                           "confirm_live_open", **_FIELDS})),
    Endpoint(12, "PUT", "/api/users/{login}",
             daemon=not_here("Update user account", _USERS),
             console=Answer("Change an account and its policy", c.UserEnvelope, c.UserChange,
                            statuses=_LOOSEN)),
    Endpoint(13, "PUT", "/api/users/{login}/password",
             daemon=not_here("Change password", _USERS),
             console=Answer("Store the account's MT5 password", c.StatusOut, c.PasswordIn,
                            statuses={404: "Not one of your registered accounts",
                                      409: "The login is on several servers",
                                      422: "A field is wrong"})),
    Endpoint(14, "POST", "/api/accounts/{login}/deposit",
             daemon=not_here("Deposit funds", _MONEY),
             console=Answer("Deposit paper money", c.OperationEnvelope, c.MoneyIn,
                            statuses=_MONEY_MOVED)),
    Endpoint(15, "POST", "/api/accounts/{login}/withdraw",
             daemon=not_here("Withdraw funds", _MONEY),
             console=Answer("Withdraw paper money", c.OperationEnvelope, c.MoneyIn,
                            statuses=_MONEY_MOVED)),
    Endpoint(16, "POST", "/api/accounts/{login}/credit",
             daemon=not_here("Add/remove credit", _MONEY),
             console=Answer("Add or remove paper credit", c.OperationEnvelope, c.CreditIn,
                            statuses=_MONEY_MOVED)),
    Endpoint(17, "GET", "/api/accounts/{login}/margin",
             daemon=Answer("Get margin level", d.MarginOut),
             console=Answer("An account's margin, as read", c.MarginOut,
                            statuses=_REPORTED)),
    Endpoint(18, "GET", "/api/accounts/margins",
             daemon=Answer("Margin data of the token's account", d.MarginsOut),
             console=Answer("Margins of every account reported now", c.MarginsOut)),
    Endpoint(19, "GET", "/api/trades/open",
             daemon=Answer("All open trades", d.TradesOut),
             console=Answer("Open trades of every account", c.TradesOut)),
    Endpoint(20, "GET", "/api/trades/open/{login}",
             daemon=Answer("User's open trades", d.TradesOut),
             console=Answer("An account's open trades", c.TradesOut, statuses=_REPORTED)),
    Endpoint(21, "POST", "/api/trades/history/{login}",
             daemon=Answer("User's trade history", d.TradesOut, d.HistoryIn),
             console=Answer("An account's closed trades", c.TradesOut, c.HistoryIn,
                            statuses={**_NOT_OWNER, **_FIELDS})),
    Endpoint(22, "GET", "/api/groups/",
             daemon=not_here("List all groups", _GROUPS),
             console=Answer("Your groups of accounts", c.GroupsOut)),
    Endpoint(23, "GET", "/api/groups/online",
             daemon=not_here("Online users", _GROUPS),
             console=Answer("Your terminals online now", c.OnlineOut)),
    Endpoint(24, "GET", "/api/groups/{name}",
             daemon=not_here("Get single group", _GROUPS),
             console=Answer("One of your groups", c.GroupEnvelope, statuses=_NOT_OWNER)),
    Endpoint(25, "GET", "/api/symbols/",
             daemon=Answer("List all symbols", d.SymbolsOut),
             console=_symbols("List all symbols", "/api/symbols/")),
    Endpoint(26, "GET", "/api/symbols/{name}",
             daemon=Answer("Get symbol config", d.SymbolOut),
             console=_symbols("Get symbol config", "/api/symbols/{name}")),
    Endpoint(27, "GET", "/api/symbols/{name}/price",
             daemon=Answer("Live bid/ask price", d.PriceOut),
             console=_symbols("Live bid/ask price", "/api/symbols/{name}/price")),
    Endpoint(28, "POST", "/api/admin/trades/lookup",
             daemon=not_here("Lookup trades by ticket", _ADMIN),
             console=Answer("Find trades by ticket in every account", c.TradesOut, c.LookupIn,
                            statuses=_FIELDS)),
    Endpoint(29, "POST", "/api/admin/trades/by-group",
             daemon=not_here("Trades by group", _ADMIN),
             console=Answer("Open trades of a group's accounts", c.TradesOut, c.ByGroupIn,
                            statuses={**_NOT_OWNER, **_FIELDS})),
    Endpoint(30, "PUT", "/api/admin/trades/{order}/modify",
             daemon=not_here("Modify trade record", _ADMIN),
             console=not_here("Modify trade record", _RECORDS)),
    Endpoint(31, "POST", "/api/admin/trades/delete",
             daemon=not_here("Delete trades", _ADMIN),
             console=not_here("Delete trades", _RECORDS)),
    Endpoint(32, "POST", "/api/admin/mail",
             daemon=not_here("Send internal mail", _ADMIN),
             console=Answer("A message on the terminals' charts", c.MailOut, c.MailIn,
                            statuses={**_NOT_OWNER, **_FIELDS})),
    Endpoint(33, "POST", "/api/admin/users/group-op",
             daemon=not_here("Batch user operations", _ADMIN),
             console=Answer("Move accounts between groups, or switch their automated trading",
                            c.StatusOut, c.GroupOpIn, statuses=_LOOSEN)),
    Endpoint(34, "GET", "/api/server/config",
             daemon=not_here("Server configuration",
                             "The trade server's configuration is visible only to the "
                             "Manager API."),
             console=Answer("The console's public configuration", c.ServerConfigOut)),
)

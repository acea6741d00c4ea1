"""Every endpoint of the MT4 Web API document as the console answers it, in the document's
order (Quick Reference, 1-34): the handler, the models, and for what is not answered here,
why. ``docs/rest.md`` has the same table beside the daemon's, side by side.
"""

from __future__ import annotations

from typing import Final

from . import control, readings, users
from .dispatch import Endpoint
from .models import (
    ByGroupIn,
    CreditIn,
    GroupEnvelope,
    GroupOpIn,
    GroupsOut,
    HealthOut,
    HistoryIn,
    LoginOut,
    LookupIn,
    MailIn,
    MailOut,
    MarginOut,
    MarginsOut,
    MoneyIn,
    OnlineOut,
    OperationEnvelope,
    PasswordIn,
    ServerConfigOut,
    StatusOut,
    SwitchIn,
    SwitchOut,
    TradesOut,
    UserChange,
    UserCreate,
    UserEnvelope,
    UserOut,
    UsersOut,
)

__all__ = ["ENDPOINTS", "OPEN_PATHS"]

_TERMINAL = ("A terminal-level call: the daemon serving the terminal answers it on its own "
             "port (GET {path} there, with the terminal's gateway token); the console talks "
             "to no terminal itself.")
_SYMBOLS = ("Symbols are a terminal's: the daemon serving it answers {path} with the "
            "terminal's own symbol configuration and live prices.")
_RECORDS = ("A trade record is the broker's: a live account's trade records are the broker's "
            "to modify or delete, and a paper account's history is what its orders did; "
            "neither is rewritten from the console.")

_NOT_OWNER = {404: "Not one of your accounts (or groups)"}
_MONEY = {202: "Accepted: the terminal's daemon has not applied it yet (state pending); "
               "it is applied once, as soon as a daemon serving the terminal sees it",
          404: "Not one of your registered accounts",
          409: "A live (or broker demo) account: the broker moves its money; or the "
               "operation_id was used for another operation; or the login is on several "
               "servers",
          422: "A field is wrong (named)"}
_REPORTED = {404: "No daemon reports this account of yours now"}
_LOOSEN = {401: "Loosening the policy needs owner_password (or it was wrong)",
           404: "Not one of your registered accounts", 409: "The login is on several servers",
           422: "A field is wrong (named)", 429: "Too many wrong passwords: wait"}


def _terminal(number: int, method: str, path: str, summary: str) -> Endpoint:
    return Endpoint(number, method, path, summary, why=_TERMINAL.format(path=path))


#: Every endpoint of the document (1-34), in its order.
ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    Endpoint(1, "GET", "/api/health", "Console health check", readings.health, HealthOut,
             auth=False),
    Endpoint(2, "POST", "/api/auth/login", "Get an access token (JWT, 8 hours)", control.login,
             LoginOut, auth=False, form=True,
             statuses={401: "Wrong e-mail, password or code (otp)",
                       415: "Not a form (application/x-www-form-urlencoded)",
                       422: "username or password missing",
                       429: "Too many failed sign-ins (Retry-After)"}),
    _terminal(3, "GET", "/api/test/service-health", "Is any terminal's EA connected?"),
    Endpoint(4, "POST", "/api/test/connect", "Kill switch off: orders go through again",
             control.connect, SwitchOut, body=SwitchIn, statuses=_NOT_OWNER),
    Endpoint(5, "POST", "/api/test/disconnect",
             "Kill switch: refuse every order of the accounts (or all)", control.disconnect,
             SwitchOut, body=SwitchIn, statuses=_NOT_OWNER),
    _terminal(6, "GET", "/api/test/status", "Connection status"),
    _terminal(7, "GET", "/api/test/ping", "Ping the terminal"),
    _terminal(8, "GET", "/api/test/server-time", "Get server time"),
    Endpoint(9, "GET", "/api/users/", "Your registered accounts", users.list_users, UsersOut),
    Endpoint(10, "GET", "/api/users/{login}", "One of your registered accounts",
             users.get_user, UserEnvelope, path_params=("login",),
             statuses={**_NOT_OWNER, 409: "The login is on several servers (?server=)"}),
    Endpoint(11, "POST", "/api/users/", "Register an account", users.create_user, UserOut,
             body=UserCreate, created=True,
             statuses={409: "Registered already (or the terminal is another owner's)",
                       422: "A field is wrong (named)"}),
    Endpoint(12, "PUT", "/api/users/{login}", "Change an account and its policy",
             users.change_user, UserEnvelope, body=UserChange, path_params=("login",),
             statuses=_LOOSEN),
    Endpoint(13, "PUT", "/api/users/{login}/password", "Store the account's MT5 password",
             users.change_password, StatusOut, body=PasswordIn, path_params=("login",),
             statuses={404: "Not one of your registered accounts",
                       409: "The login is on several servers", 422: "A field is wrong"}),
    Endpoint(14, "POST", "/api/accounts/{login}/deposit", "Deposit paper money",
             users.deposit, OperationEnvelope, body=MoneyIn, path_params=("login",),
             statuses=_MONEY),
    Endpoint(15, "POST", "/api/accounts/{login}/withdraw", "Withdraw paper money",
             users.withdraw, OperationEnvelope, body=MoneyIn, path_params=("login",),
             statuses=_MONEY),
    Endpoint(16, "POST", "/api/accounts/{login}/credit", "Add or remove paper credit",
             users.credit, OperationEnvelope, body=CreditIn, path_params=("login",),
             statuses=_MONEY),
    Endpoint(17, "GET", "/api/accounts/{login}/margin", "An account's margin, as read",
             readings.margin, MarginOut, path_params=("login",), statuses=_REPORTED),
    Endpoint(18, "GET", "/api/accounts/margins", "Margins of every account reported now",
             readings.margins, MarginsOut),
    Endpoint(19, "GET", "/api/trades/open", "Open trades of every account", readings.open_trades,
             TradesOut),
    Endpoint(20, "GET", "/api/trades/open/{login}", "An account's open trades",
             readings.open_trades_of, TradesOut, path_params=("login",), statuses=_REPORTED),
    Endpoint(21, "POST", "/api/trades/history/{login}", "An account's closed trades",
             readings.history, TradesOut, body=HistoryIn, path_params=("login",),
             statuses={**_NOT_OWNER, 422: "A field is wrong (named)"}),
    Endpoint(22, "GET", "/api/groups/", "Your groups of accounts", readings.groups, GroupsOut),
    Endpoint(23, "GET", "/api/groups/online", "Your terminals online now", readings.online,
             OnlineOut),
    Endpoint(24, "GET", "/api/groups/{name}", "One of your groups", readings.group,
             GroupEnvelope, path_params=("name",), statuses=_NOT_OWNER),
    Endpoint(25, "GET", "/api/symbols/", "List all symbols",
             why=_SYMBOLS.format(path="/api/symbols/")),
    Endpoint(26, "GET", "/api/symbols/{name}", "Get symbol config",
             why=_SYMBOLS.format(path="/api/symbols/{name}"), path_params=("name",)),
    Endpoint(27, "GET", "/api/symbols/{name}/price", "Live bid/ask price",
             why=_SYMBOLS.format(path="/api/symbols/{name}/price"), path_params=("name",)),
    Endpoint(28, "POST", "/api/admin/trades/lookup", "Find trades by ticket in every account",
             readings.lookup, TradesOut, body=LookupIn,
             statuses={422: "A field is wrong (named)"}),
    Endpoint(29, "POST", "/api/admin/trades/by-group", "Open trades of a group's accounts",
             readings.by_group, TradesOut, body=ByGroupIn,
             statuses={**_NOT_OWNER, 422: "A field is wrong (named)"}),
    Endpoint(30, "PUT", "/api/admin/trades/{order}/modify", "Modify trade record",
             why=_RECORDS, path_params=("order",)),
    Endpoint(31, "POST", "/api/admin/trades/delete", "Delete trades", why=_RECORDS),
    Endpoint(32, "POST", "/api/admin/mail", "A message on the terminals' charts", control.mail,
             MailOut, body=MailIn,
             statuses={**_NOT_OWNER, 422: "A field is wrong (named)"}),
    Endpoint(33, "POST", "/api/admin/users/group-op",
             "Move accounts between groups, or switch their automated trading",
             control.group_op, StatusOut, body=GroupOpIn, statuses=_LOOSEN),
    Endpoint(34, "GET", "/api/server/config", "The console's public configuration",
             readings.server_config, ServerConfigOut),
)

#: The paths answered without a token (the document's, and the API's own description).
OPEN_PATHS: Final = frozenset({"/api/health", "/api/auth/login", "/api/openapi.json"})

"""The console's one table of refusals (``door/answers.py`` ``REFUSALS``): every failure of
the service leaves the same way through every entry point, and nothing else is a request's
fault.

Each exception class of the console's tree (``errors.py``) is looked up by its MRO; the test
walks the tree as the code defines it, so a new failure class fails here until it has a row
(or is one of the few answered otherwise, listed with why).
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from aiohttp.test_utils import make_mocked_request

import mtgateway_console
from mtgateway_base.wire.errors import AuthorityError
from mtgateway_console.apitokens import ApiTokenRefused
from mtgateway_console.database import DatabaseError, DatabaseUnavailable
from mtgateway_console.door import REFUSALS, refusal_of
from mtgateway_console.errors import AccountExists, ConsoleConfigError, InvalidRequest, Refusal
from mtgateway_console.service.accounts import LiveOpen
from mtgateway_console.service.common import TerminalClaimed
from mtgateway_console.service.consent import PasswordNeeded
from mtgateway_console.service.credentials import CredentialEnded
from mtgateway_console.service.instructions import KeyReused, LiveMoney
from mtgateway_console.service.signin import SignInRefused

#: What is in the tree but answered otherwise than through the table, and why.
ANSWERED_OTHERWISE = {
    Refusal: "a refusal is itself",
    ConsoleConfigError: "raised at start only, before anything is served",
    DatabaseError: "the database cannot be used: a 500, logged (its 503 is the row below)",
    DatabaseUnavailable: "503 database_unavailable, with a Retry-After, logged",
}


def _console_tree() -> set[type[BaseException]]:
    """Every exception class under the contract's root that the console's modules define."""
    for module in pkgutil.walk_packages(mtgateway_console.__path__, "mtgateway_console."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: set[type[BaseException]] = set()
    todo: list[type[BaseException]] = [AuthorityError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return {cls for cls in found if cls.__module__.startswith("mtgateway_console")
            and not cls.__name__.startswith("_")}


def test_every_failure_of_the_console_has_its_row() -> None:
    """A new exception class of the console is given its status and reason here, or a reason
    it is answered otherwise."""
    missing = [cls.__name__ for cls in _console_tree() if cls not in ANSWERED_OTHERWISE
               and not any(base in REFUSALS for base in cls.__mro__)]
    assert not missing, missing


def _request() -> object:
    return make_mocked_request("POST", "/v1/accounts")


@pytest.mark.parametrize("failure, expected", [
    (InvalidRequest("max_lot_size is out of range"),
     (422, "invalid_request", "max_lot_size is out of range")),
    (AccountExists("Account 7 on S already exists"),
     (409, "account_exists", "Account 7 on S already exists")),
    (TerminalClaimed("7@S belongs to another owner"),
     (409, "terminal_claimed", "7@S belongs to another owner")),
    (LiveMoney("not a paper account"), (409, "live_account", "not a paper account")),
    (KeyReused("operation_id 'x' was used"), (409, "operation_id_reused",
                                              "operation_id 'x' was used")),
    (ApiTokenRefused("token_expired", "the access token has expired"),
     (401, "token_expired", "the access token has expired")),
], ids=lambda v: type(v).__name__ if isinstance(v, Exception) else "")
def test_each_failure_is_one_refusal_on_every_door(failure: Exception,
                                                   expected: tuple[int, str, str]) -> None:
    """Status, reason word and the failure's own words: what every entry point renders."""
    refusal = refusal_of(_request(), failure)  # type: ignore[arg-type]
    assert (refusal.status, refusal.reason, refusal.message) == expected


def test_the_answers_that_depend_on_the_failure() -> None:
    """A password wanted, wrong or locked out; a switch to paper over live trades, with what
    stays open; a sign-in refused and a console-API sign-in ended, each with its word."""
    wanted = refusal_of(_request(), PasswordNeeded(("let bots trade",)))  # type: ignore[arg-type]
    assert (wanted.status, wanted.reason) == (401, "password_required")
    assert "let bots trade" in wanted.message
    wrong = refusal_of(_request(), PasswordNeeded((), wrong=True))  # type: ignore[arg-type]
    assert (wrong.status, wrong.reason) == (401, "bad_credentials")
    locked = refusal_of(_request(), PasswordNeeded((), retry_after_s=2.5))  # type: ignore[arg-type]
    assert (locked.status, locked.reason, locked.data) == (429, "rate_limited",
                                                           {"retry_after_s": 3})
    live = refusal_of(_request(), LiveOpen(7, "S", 2, 1))  # type: ignore[arg-type]
    assert (live.status, live.reason) == (409, "live_trades_open")
    assert live.data == {"open_positions": 2, "open_orders": 1}
    assert "2 positions and 1 pending order of 7@S stay open" in live.message
    refused = refusal_of(_request(), SignInRefused("bad_credentials"))  # type: ignore[arg-type]
    assert (refused.status, refused.reason) == (401, "bad_credentials")
    ended = CredentialEnded("signed out")
    assert (refusal_of(_request(), ended).status,  # type: ignore[arg-type]
            refusal_of(_request(), ended).reason) == (401, "token_revoked")  # type: ignore[arg-type]


def test_a_bare_value_error_is_a_bug_not_a_bad_request() -> None:
    """What no row names (a ``ValueError`` a service function let out) is 500, no words."""
    refusal = refusal_of(_request(), ValueError("internal detail"))  # type: ignore[arg-type]
    assert (refusal.status, refusal.reason, refusal.message) == (500, "internal",
                                                                 "internal error")

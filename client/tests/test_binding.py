"""Every function binds its arguments as the ``MetaTrader5`` package binds them, from one table.

The client declares each function of its namespace once (``calls.Functions``); both clients
run that table. Here every function is called in every binding form the package takes
(positional, keyword, mixed, defaults left out), which must all make the same call, and in
every form it refuses (too many or too few arguments, an unknown keyword, one given twice, an
argument of a type its parameter does not take), which must answer the function's failure
value with the package's code and text, before anything is sent; then K1 and K2's cases
against a real daemon: the terminal's parameters passed positionally to ``initialize`` and
``login``, and a login that is text. docs/client.md's list of the functions is the table's.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import mtgateway as mt5
from client.tests.conftest import base_url
from client.tests.metatrader5_package import FUNCTIONS as PACKAGE_FUNCTIONS
from client.tests.metatrader5_package import KEYWORD_ONLY
from ea_bridge.emulator.terminal import EmulatedTerminal
from mtgateway import calls
from mtgateway.aio import AsyncClient
from mtgateway.functions import Declared, Session
from mtgateway.wire import Call
from tests.e2e.fixtures import LOGIN, SERVER, Daemon

DOCS = Path(__file__).resolve().parents[2] / "docs" / "client.md"

#: An argument each parameter takes, by name.
GOOD: dict[str, Any] = {
    "path": r"C:\Program Files\MetaTrader 5\terminal64.exe", "login": LOGIN, "password": "x",
    "server": SERVER, "timeout": 1000, "portable": False, "token": "mtgw_x",
    "url": "http://127.0.0.1:1", "state_file": "demo.json", "group": "*USD*",
    "symbol": "BTCUSD", "enable": True, "timeframe": mt5.TIMEFRAME_M1,
    "date_from": datetime(2026, 1, 1, tzinfo=UTC), "date_to": 1767323045, "count": 10,
    "start_pos": 0, "flags": mt5.COPY_TICKS_ALL, "ticket": 7, "position": 8,
    "action": mt5.ORDER_TYPE_BUY, "volume": 0.1, "price": 1.1, "price_open": 1.1,
    "price_close": 1.2, "client_id": "c1",
    "request": {"action": mt5.TRADE_ACTION_DEAL, "symbol": "BTCUSD", "volume": 0.01,
                "type": mt5.ORDER_TYPE_BUY, "client_id": "c1"},
}
#: An argument of a type the parameter does not take, by the parameter's annotation.
BAD: dict[str, Any] = {"str": 5, "int": "5012345", "float": "0.1", "Time": "2026-01-01",
                       "Request": ["action", 1]}
#: Parameters whose arguments are not refused for their type: the gateway's own state file (a
#: path of any kind), and the flags, which C reads for their truth (``enable``, ``portable``).
NOT_CHECKED = {"state_file", "enable", "portable"}
#: The fewest arguments a call the package takes gives, where that is more than the
#: parameters without a default: a history read needs a range, a ticket or a position.
SHORTEST = {"history_orders_get": ["date_from", "date_to"],
            "history_deals_get": ["date_from", "date_to"]}


def _bad(parameter: inspect.Parameter) -> Any:
    return BAD[str(parameter.annotation).split("|")[0].strip()]


def _what(job: Any) -> tuple[Any, ...]:
    """What a job does, comparable: a call's method and params, a step's name and arguments."""
    if isinstance(job, Call):
        return ("call", job.method, job.params)
    assert isinstance(job, Session)
    return ("step", job.name, job.arguments)


def _keywords(declared: Declared[Any, Any]) -> dict[str, Any]:
    """An argument for each of ``declared``'s keyword-only parameters that ``GOOD`` has."""
    return {p.name: GOOD[p.name] for p in declared.signature.parameters.values()
            if p.kind is p.KEYWORD_ONLY and p.name in GOOD}


def _forms(declared: Declared[Any, Any]) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Every way the package binds a call of ``declared`` with the same arguments: all
    positional, all by keyword, each split point mixed; and, where the arguments after some
    point are their defaults, left out. Keyword-only parameters are given by keyword in
    each."""
    params = [p for p in declared.signature.parameters.values()
              if p.kind is p.POSITIONAL_OR_KEYWORD]
    values = [GOOD[p.name] for p in params]
    forms: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    for split in range(len(params) + 1):
        forms.append((tuple(values[:split]),
                      {**{p.name: v for p, v in zip(params[split:], values[split:], strict=True)},
                       **_keywords(declared)}))
    return forms


def test_the_table_declares_the_packages_functions_with_its_parameters() -> None:
    """The table's package functions are exactly the package's 32, each with its parameters
    in its order, every one positional-or-keyword but where the package takes them by
    keyword only (``positions_get``, ``orders_get``: L1); MT Gateway's additions to them
    (``initialize``'s token, url and state file, the reads' ``book``) are keywords only."""
    ours = {name: d for name, d in calls.FUNCTIONS.items() if d.package}
    assert sorted(ours) == sorted(PACKAGE_FUNCTIONS) and len(ours) == 32
    for name, declared in ours.items():
        params = list(declared.signature.parameters.values())
        head = params[:len(PACKAGE_FUNCTIONS[name])]
        assert [p.name for p in head] == PACKAGE_FUNCTIONS[name], name
        kind = inspect.Parameter.KEYWORD_ONLY if name in KEYWORD_ONLY else \
            inspect.Parameter.POSITIONAL_OR_KEYWORD
        assert all(p.kind is kind for p in head), name
        assert all(p.kind is p.KEYWORD_ONLY for p in params[len(head):]), name
    assert {n for n, d in calls.FUNCTIONS.items() if not d.package} == {
        "order_status", "ping", "server_time", "gateway_status"}


@pytest.mark.parametrize("name", list(calls.FUNCTIONS))
def test_every_binding_form_makes_the_same_call(name: str) -> None:
    """Positional, keyword and mixed, the same arguments make the same call; arguments left
    at their defaults may be left out (K1: initialize(path, login, password, server))."""
    declared = calls.FUNCTIONS[name]
    made = set()
    for args, kwargs in _forms(declared):
        assert declared.refusal(args, kwargs) is None, (name, args, kwargs)
        made.add(repr(_what(declared.job(args, kwargs))))
    assert len(made) == 1, made
    required = [p.name for p in declared.signature.parameters.values()
                if p.default is p.empty]
    shortest = tuple(GOOD[parameter] for parameter in SHORTEST.get(name, required))
    assert declared.refusal(shortest, {}) is None
    declared.job(shortest, {})  # the defaults of the rest apply


def _refusals(declared: Declared[Any, Any]) -> list[tuple[tuple[Any, ...], dict[str, Any],
                                                          str]]:
    """Calls of ``declared`` the package refuses, each with its ``last_error()`` text."""
    params = [p for p in declared.signature.parameters.values()
              if p.kind is p.POSITIONAL_OR_KEYWORD]
    keywords = _keywords(declared)
    every = tuple(GOOD[p.name] for p in params)
    required = [p for p in params if p.default is p.empty]
    cases = [(every[:len(required)], {"not_a_parameter": 1}, "Invalid arguments")]
    if params or not keywords:
        cases.append((every + (1,), keywords, "Invalid number of arguments"))
    else:  # the package takes these by keyword only (L1)
        cases += [((1,), {}, "Unnamed arguments not allowed"),
                  (tuple(keywords.values())[:1], {}, "Unnamed arguments not allowed"),
                  ((None,), dict(list(keywords.items())[1:]), "Unnamed arguments not allowed")]
    if required:
        cases.append(((), {}, "Invalid number of arguments"))
    if params:
        cases.append((every[:1], {params[0].name: every[0]}, "Invalid arguments"))
    for index, parameter in enumerate(params):
        if parameter.name in NOT_CHECKED:
            continue
        wrong = list(every)
        wrong[index] = _bad(parameter)
        cases.append((tuple(wrong), keywords, f'Invalid "{parameter.name}" argument'))
        if parameter.default is parameter.empty:
            cases.append(((), {**dict(zip([p.name for p in params], every, strict=True)),
                               parameter.name: None}, f'Invalid "{parameter.name}" argument'))
    for keyword in keywords:
        if keyword not in NOT_CHECKED:
            cases.append((every, {**keywords, keyword: _bad(
                declared.signature.parameters[keyword])}, f'Invalid "{keyword}" argument'))
    return cases


@pytest.mark.parametrize("name", list(calls.FUNCTIONS))
def test_every_refused_form_answers_the_packages_error(name: str) -> None:
    """Too many or too few arguments, an unknown keyword, one given twice, an argument of
    the wrong type (each parameter in turn but the flags; ``None`` for a required one): the
    function's
    failure value (``None``, ``False`` for the boolean ones) and the package's ``(-2, text)``,
    on both clients, with nothing sent (no client here is connected, and the
    refusal is not the -10004 of a call before ``initialize``)."""
    declared = calls.FUNCTIONS[name]
    sync, aio = mt5.Client(), AsyncClient()
    for args, kwargs, text in _refusals(declared):
        assert getattr(sync, name)(*args, **kwargs) is declared.failed, (args, kwargs)
        assert sync.last_error() == (mt5.RES_E_INVALID_PARAMS, text), (args, kwargs)
        assert name in sync.last_error().data["reason"]
        answer = getattr(aio, name)(*args, **kwargs)
        if inspect.isawaitable(answer):
            answer = asyncio.run(_awaited(answer))
        assert answer is declared.failed and aio.last_error() == (mt5.RES_E_INVALID_PARAMS,
                                                                  text), (args, kwargs)


async def _awaited(answer: Any) -> Any:
    return await answer


def test_the_module_functions_never_bind_to_an_object_holding_them() -> None:
    """The package's functions are C functions: stored as class attributes they are called
    as they are (aiomql builds a class of them, ``_last_error = MetaTrader5.last_error``, and
    calls ``self._last_error()``). The client's module functions behave the same, and the
    asyncio client's stay coroutine functions."""
    import mtgateway.aio

    client = mt5.Client()  # as the module's default one, never connected here
    holder = type("Holder", (), {"_last_error": client.last_error,
                                 "_version": client.version})()
    assert holder._version() is None  # no connection: the package's answer, not a refusal
    assert holder._last_error() == (mt5.RES_E_INTERNAL_FAIL_CONNECT, "No IPC connection")

    for name in calls.FUNCTIONS:
        assert inspect.ismethod(getattr(mt5, name)), name
        assert inspect.iscoroutinefunction(getattr(mtgateway.aio, name)) is (
            name != "last_error"), name


def test_numbers_the_package_takes_are_taken() -> None:
    """numpy's integers, floats, text and booleans, aware datetimes and epochs are arguments
    the package takes; a float where it takes an integer is refused by name."""
    import numpy

    table = calls.Functions
    assert table.copy_rates_from_pos.refusal(("BTCUSD", numpy.int64(1), numpy.int64(0),
                                              numpy.int32(5)), {}) is None
    assert table.copy_rates_range.refusal(("BTCUSD", 1, datetime(2026, 1, 1, tzinfo=UTC),
                                           numpy.float64(1767323045.5)), {}) is None
    assert table.symbol_info_tick.refusal((numpy.str_("BTCUSD"),), {}) is None
    assert table.order_calc_margin.refusal((0, "BTCUSD", numpy.float64(0.1), 1), {}) is None
    assert table.symbol_select.refusal(("BTCUSD", numpy.bool_(False)), {}) is None
    refused = table.copy_rates_from_pos.refusal(("BTCUSD", 1, 0, 5.0), {})
    assert refused == (mt5.RES_E_INVALID_PARAMS, 'Invalid "count" argument')


async def test_initialize_and_login_take_the_terminals_parameters_positionally(
        daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """K1: ``initialize(path, login, password, server)`` and its six-argument form, as
    pyta-trader and service wrappers call it, connect (they answered ``False``, ``(-2,
    'Invalid number of arguments')``); ``login(login, password, server, timeout)`` too. A
    wrong login passed positionally is the package's ``-6``. K2: a login that is text (read
    from a ``.env``) is ``(-2, 'Invalid "login" argument')``, the package's answer, not
    "wrong credentials"."""
    path = GOOD["path"]
    where = {"token": daemon.token, "url": base_url(daemon)}

    def run() -> None:
        with mt5.Client() as client:
            assert client.initialize(path, LOGIN, "x", SERVER, **where), client.last_error()
            assert client.account_info().login == LOGIN  # type: ignore[union-attr]
            assert client.initialize(path, LOGIN, "x", SERVER, 10_000, False, **where)
            assert client.login(LOGIN, "x", SERVER, 10_000) is True
            assert client.initialize(path, LOGIN + 1, "x", SERVER, **where) is False
            assert client.last_error() == (mt5.RES_E_AUTH_FAILED,
                                           "Terminal: Authorization failed")
            assert client.initialize(path, str(LOGIN), "x", SERVER, **where) is False
            assert client.last_error() == (mt5.RES_E_INVALID_PARAMS,
                                           'Invalid "login" argument')
            assert client.initialize(login=str(LOGIN), **where) is False
            assert client.last_error()[1] == 'Invalid "login" argument'
            assert client.initialize(**where) is True
            assert client.login(str(LOGIN), "x", SERVER) is False
            assert client.last_error() == (mt5.RES_E_INVALID_PARAMS,
                                           'Invalid "login" argument')
    await asyncio.to_thread(run)
    async with AsyncClient() as client:
        assert await client.initialize(path, LOGIN, "x", SERVER, **where), client.last_error()
        assert await client.login(LOGIN, "x", SERVER) is True
        assert await client.initialize(path, str(LOGIN), "x", SERVER, **where) is False
        assert client.last_error() == (mt5.RES_E_INVALID_PARAMS, 'Invalid "login" argument')


def _documented(signature: inspect.Signature) -> str:
    """A signature as docs/client.md writes it: names and defaults, no annotations."""
    return str(signature.replace(
        parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
        return_annotation=inspect.Signature.empty))


def test_the_docs_list_every_function_as_the_table_declares_it() -> None:
    """docs/client.md's "Every function" lists the table's functions, in its order, each with
    its signature and whether it is the package's or MT Gateway's addition."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("### Every function\n", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `(\w+)(\(.*?\))` \| (.+?) \|", section, flags=re.M)
    expected = [(name, _documented(d.signature), "the package's" if d.package
                 else "MT Gateway's") for name, d in calls.FUNCTIONS.items()]
    assert [(name, sig, who) for name, sig, who in rows] == expected

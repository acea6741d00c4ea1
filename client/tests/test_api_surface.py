"""The client's surface: the package's constants and signatures, and nothing of the daemon."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import mtgateway
import mtgateway.aio
from client.tests.distkit import SHIM
from mt5model import mt5 as daemon_mt5
from mtgateway import calls, constants, flags, stubs
from mtgateway.aio import AsyncClient
from mtgateway.client import Client
from mtgateway.functions import Declared, module_function_names

#: What the clients have beside the table's functions: the raw call, and the streams.
RAW = {"call"}
STREAMS = {"ticks", "trade_events", "terminal_events", "books", "candles"}

#: The module functions of ``mtgateway`` when ``__init__.py`` and ``aio.py`` wrote each out by
#: hand (issue 92, before they were made from the table): none of them may go missing.
WRITTEN_OUT = frozenset({
    "account_info", "call", "copy_rates_from", "copy_rates_from_pos", "copy_rates_range",
    "copy_ticks_from", "copy_ticks_range", "gateway_status", "history_deals_get",
    "history_deals_total", "history_orders_get", "history_orders_total", "initialize",
    "last_error", "login", "market_book_add", "market_book_get", "market_book_release",
    "order_calc_margin", "order_calc_profit", "order_check", "order_send", "order_status",
    "orders_get", "orders_total", "ping", "positions_get", "positions_total", "server_time",
    "shutdown", "symbol_info", "symbol_info_tick", "symbol_select", "symbols_get",
    "symbols_total", "terminal_info", "version"})
#: What each module exports beside its functions and the package's constants, as it did then.
RECORDS = frozenset({
    "AccountInfo", "BookInfo", "LastError", "MtGatewayError", "OrderCheckResult",
    "OrderSendResult", "OrderStatus", "ServerTime", "SymbolInfo", "TerminalInfo", "Tick",
    "TradeDeal", "TradeOrder", "TradePosition", "TradeRequest"})
OTHERS = {
    "mtgateway": RECORDS | {"Buy", "Client", "Close", "Sell", "__version__", "new_client_id"},
    "mtgateway.aio": RECORDS | {"AsyncClient", "Candle", "CandleSnapshot", "Gap", "Rate",
                                "StreamBook", "StreamTick", "TerminalStatus", "TradeEvent"},
}
#: ``dir(mtgateway)`` beyond its exports and the client's submodules, as it was then: no name
#: of the derivation (``TYPE_CHECKING``, ``module_functions``) among them.
PRIVATE = frozenset({
    "_RawOrder", "__all__", "__author__", "__builtins__", "__cached__", "__doc__", "__file__",
    "__loader__", "__name__", "__package__", "__path__", "__spec__", "_bind_helpers",
    "_default", "annotations"})

def test_every_enum_value_matches_the_daemons_table() -> None:
    """Each constant the daemon knows has the same name and value in the client."""
    checked = 0
    for enum, prefix in daemon_mt5.ENUM_PREFIXES.items():
        for member in enum:
            name = member.name if member.name.startswith("DEAL_") else prefix + member.name
            assert getattr(constants, name, getattr(flags, name, None)) == int(member), name
            checked += 1
    assert checked > 100


def test_constants_are_exported_at_top_level_like_the_package() -> None:
    """mt5.TIMEFRAME_H1 and friends, with the package's values, on both modules."""
    assert (mtgateway.TIMEFRAME_H1, mtgateway.TIMEFRAME_MN1) == (16385, 49153)
    assert (mtgateway.COPY_TICKS_ALL, mtgateway.ORDER_FILLING_RETURN) == (-1, 2)
    assert (mtgateway.SYMBOL_CALC_MODE_EXCH_BONDS, mtgateway.TICK_FLAG_LAST) == (37, 8)
    assert (mtgateway.RES_E_NOT_FOUND, mtgateway.RES_E_INTERNAL_FAIL_TIMEOUT) == (-4, -10005)
    assert mtgateway.aio.TRADE_ACTION_SLTP == mtgateway.TRADE_ACTION_SLTP == 6
    for name in constants.__all__:
        assert name in mtgateway.__all__ and name in mtgateway.aio.__all__


def _public(cls: type) -> set[str]:
    """The public callables a client class has, the table's functions among them."""
    return {name for name in dir(cls) if not name.startswith("_")
            and (callable(getattr(cls, name)) or isinstance(getattr(cls, name), Declared))}


def test_both_clients_are_the_one_table_run_two_ways() -> None:
    """Every function of the table (``calls.Functions``) is a method of both clients, read
    from the table itself (neither client declares it again), with the table's signature:
    a coroutine on the asyncio client but ``last_error``, which answers at once."""
    assert issubclass(Client, calls.Functions) and issubclass(AsyncClient, calls.Functions)
    assert _public(Client) == set(calls.FUNCTIONS) | RAW
    assert _public(AsyncClient) == set(calls.FUNCTIONS) | RAW | STREAMS
    sync, aio = Client(), AsyncClient()
    for name, declared in calls.FUNCTIONS.items():
        assert name not in vars(Client) and name not in vars(AsyncClient), name
        for bound in (getattr(sync, name), getattr(aio, name)):
            assert inspect.signature(bound) == declared.signature, name
            assert bound.__name__ == name and bound.__doc__ == declared.__doc__, name
        assert inspect.iscoroutinefunction(getattr(aio, name)) is (name != "last_error"), name


@pytest.mark.parametrize("module", [mtgateway, mtgateway.aio])
def test_module_functions_are_the_default_clients(module: object) -> None:
    """The module-level functions are exactly the default client's functions, all
    exported; no function of the table is missing from either module."""
    exported = set(module.__all__)  # type: ignore[attr-defined]
    default = module._default  # type: ignore[attr-defined]
    for name in set(calls.FUNCTIONS) | RAW:
        assert name in exported, name
        assert getattr(module, name) == getattr(default, name), name


@pytest.mark.parametrize(("module", "cls"), [(mtgateway, Client), (mtgateway.aio, AsyncClient)])
def test_each_module_exports_the_tables_functions_and_what_it_exported_before(
        module: ModuleType, cls: type) -> None:
    """A module's ``__all__`` is its client's functions (the table's, then the client's own),
    the names it exported beside them before they were made from the table, and the
    package's constants, each once; every function once written out by hand is among them."""
    exported = module.__all__
    assert len(exported) == len(set(exported))
    functions = module_function_names(cls)
    assert set(exported) == set(functions) | OTHERS[module.__name__] | set(constants.__all__)
    assert functions[:len(calls.FUNCTIONS)] == list(calls.FUNCTIONS)
    assert WRITTEN_OUT <= set(functions)
    assert (STREAMS <= set(functions)) is (cls is AsyncClient)


def test_dir_holds_no_name_of_the_derivation() -> None:
    """``dir(mtgateway)`` is its exports, its submodules and the private names it had, and
    neither module keeps a helper of the code that names its functions."""
    private = {name for name in dir(mtgateway) if name not in mtgateway.__all__
               and not isinstance(getattr(mtgateway, name), ModuleType)}
    assert private == PRIVATE
    for module in (mtgateway, mtgateway.aio):
        assert not {"TYPE_CHECKING", "module_functions"} & set(dir(module))


def _run(code: str) -> str:
    """What ``code`` prints, run by this interpreter with the shim on its path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SHIM / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60, env=env).stdout


def test_from_metatrader5_import_star_gives_the_clients_exports() -> None:
    """``from MetaTrader5 import *`` gives exactly ``mtgateway.__all__``, the same objects."""
    out = _run("import json, mtgateway; ns = {}; exec('from MetaTrader5 import *', ns); "
               "ns.pop('__builtins__'); print(json.dumps([sorted(ns), sorted(mtgateway.__all__), "
               "all(ns[n] is getattr(mtgateway, n) for n in ns)]))")
    names, exported, same = json.loads(out)
    assert names == exported and same


#: A function added to the table in a fresh interpreter, before ``mtgateway`` and
#: ``mtgateway.aio`` name their functions (reloading the package runs its ``__init__.py``
#: again over the table as changed; ``aio`` is imported for the first time after it).
_ADDED = '''
import importlib, inspect, json
from mtgateway import calls
from mtgateway.functions import function
from mtgateway.wire import Call

@function(package=False)
def added_function(ticket: int, *, note: str = "") -> Call[int]:
    """A function the table did not have."""
    return Call("added_function", {"ticket": ticket, "note": note}, int)

calls.Functions.added_function = added_function
import mtgateway
mtgateway = importlib.reload(mtgateway)
import mtgateway.aio, MetaTrader5
from mtgateway import stubs
star = {}
exec("from MetaTrader5 import *", star)
found = {"star": star.get("added_function") is mtgateway.added_function}
for module in (mtgateway, mtgateway.aio):
    bound = module.added_function
    found[module.__name__] = {
        "exported": "added_function" in module.__all__,
        "default": bound == module._default.added_function,
        "signature": str(inspect.signature(bound)),
        "coroutine": inspect.iscoroutinefunction(bound),
        "stub": "added_function = _default.added_function" in stubs.stub(type(module._default)),
    }
print(json.dumps(found))
'''


def test_a_function_added_to_the_table_is_everywhere() -> None:
    """A function declared in ``calls.Functions`` alone is a module function of ``mtgateway``
    (and so of ``MetaTrader5``) and of ``mtgateway.aio``, the default client's, with its
    signature, in each ``__all__``, and in each stub written from the table."""
    found = json.loads(_run(_ADDED))
    assert found.pop("star") is True
    for module, facts in found.items():
        assert facts == {"exported": True, "default": True,
                         "signature": "(ticket: int, *, note: str = '') -> "
                                      "mtgateway.wire.Call[int]",
                         "coroutine": module == "mtgateway.aio", "stub": True}, module


@pytest.mark.parametrize("filename", sorted(stubs.STUBS))
def test_each_stub_is_written_from_the_table(filename: str) -> None:
    """The stubs type checkers read the module functions from are what ``python -m
    mtgateway.stubs`` writes from the table (run it after adding a function)."""
    module, name = stubs.STUBS[filename]
    cls = {"client": Client, "aio": AsyncClient}[module]
    assert cls.__name__ == name
    shipped = Path(stubs.__file__).with_name(filename).read_text(encoding="utf-8")
    assert shipped == stubs.stub(cls), f"stale {filename}: run python -m mtgateway.stubs"


_BOT = """\
import mtgateway as mt5
import mtgateway.aio as aio
import MetaTrader5
from mtgateway import order_send

reveal_type(mt5.copy_rates_range)
reveal_type(order_send)
reveal_type(aio.copy_rates_range)
reveal_type(aio.ticks)
reveal_type(MetaTrader5.positions_get)
"""

#: The package's own examples' first lines, constants through ``MetaTrader5`` (a star import
#: of ``mtgateway``): mypy said "Module has no attribute" of every one.
_CONSTANTS_BOT = """\
import MetaTrader5 as mt5
from MetaTrader5 import ORDER_TYPE_BUY, TRADE_ACTION_DEAL
import mtgateway.aio as aio

rates = mt5.copy_rates_from_pos("EURUSD", mt5.TIMEFRAME_M1, 0, 10)
request = {"action": TRADE_ACTION_DEAL, "type": ORDER_TYPE_BUY,
           "type_time": mt5.ORDER_TIME_GTC, "type_filling": mt5.ORDER_FILLING_IOC}
reveal_type(mt5.TIMEFRAME_M1)
reveal_type(ORDER_TYPE_BUY)
reveal_type(aio.TIMEFRAME_H1)
"""


def _mypy(tmp_path: Path, source: str) -> tuple[list[str], str]:
    """mypy --strict on ``source`` as a bot's file: what it revealed, and all it said."""
    bot = tmp_path / "bot.py"
    bot.write_text(source, encoding="utf-8")
    client_src = Path(mtgateway.__file__).parent.parent
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir",
         str(tmp_path / "cache"), "--config-file", os.devnull, str(bot)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "MYPYPATH": os.pathsep.join([str(client_src), str(SHIM / "src")])},
    ).stdout
    return [line.split("Revealed type is ", 1)[1] for line in out.splitlines()
            if "Revealed type is" in line], out


@pytest.mark.not_on_windows("type-checker")
def test_type_checkers_see_each_module_function_with_its_signature(tmp_path: Path) -> None:
    """mypy, reading a bot, types the module functions (through ``import mtgateway``, ``from
    mtgateway import``, ``mtgateway.aio`` and ``MetaTrader5``) with their signatures (mypy is
    the dev extra's: where it is missing the test fails, it does not skip)."""
    revealed, out = _mypy(tmp_path, _BOT)
    assert revealed == [
        '"def (symbol: str, timeframe: int, date_from: datetime.datetime | int | float, '
        'date_to: datetime.datetime | int | float) -> Any | None"',
        '"def (request: typing.Mapping[str, Any] | mtgateway.records.TradeRequest) -> '
        'mtgateway.records.OrderSendResult | None"',
        '"def (symbol: str, timeframe: int, date_from: datetime.datetime | int | float, '
        'date_to: datetime.datetime | int | float) -> typing.Awaitable[Any | None]"',
        '"def (symbols: typing.Sequence[str]) -> typing.AsyncIterator[tuple[str, int, float, '
        'float, float, int, int, int, float, int, int, fallback=mtgateway.stream.StreamTick] | '
        'mtgateway.stream.Gap]"',
        '"def (*, symbol: str | None =, group: str | None =, ticket: int | None =, book: str | '
        'None =) -> tuple[mtgateway.records.TradePosition, ...] | None"',
    ], out


@pytest.mark.not_on_windows("type-checker")
def test_type_checkers_see_the_constants_through_metatrader5(tmp_path: Path) -> None:
    """``import MetaTrader5 as mt5; mt5.TIMEFRAME_M1`` and ``from MetaTrader5 import
    ORDER_TYPE_BUY`` type-check, with their values: the stub's ``__all__`` lists the constants
    (the line every bot starts with was an error in its IDE)."""
    revealed, out = _mypy(tmp_path, _CONSTANTS_BOT)
    assert "Success: no issues found" in out, out
    assert revealed == ['"Literal[1]?"', '"Literal[0]?"', '"Literal[16385]?"'], out


def test_history_deals_get_has_the_packages_parameter_order() -> None:
    """Positional arguments bind in the package's order."""
    params = list(inspect.signature(mtgateway.history_deals_get).parameters)
    assert params == ["date_from", "date_to", "group", "ticket", "position"]
    params = list(inspect.signature(mtgateway.copy_ticks_from).parameters)
    assert params == ["symbol", "date_from", "count", "flags"]


def test_the_client_imports_nothing_of_the_daemon() -> None:
    """Importing mtgateway and mtgateway.aio loads neither gateway nor ea_bridge."""
    code = ("import sys, mtgateway, mtgateway.aio; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('gateway', 'ea_bridge', 'jsonrpcserver', 'pydantic')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_the_sync_client_needs_only_the_standard_library() -> None:
    """`import mtgateway` loads no third-party module (numpy only when copy_* runs)."""
    code = ("import sys; before = set(sys.modules); import mtgateway; "
            "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
            "print(sorted(n for n in new if n not in sys.stdlib_module_names))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "['mtgateway']"

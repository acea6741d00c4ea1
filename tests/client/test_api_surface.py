"""The client's surface: the package's constants and signatures, and nothing of the daemon."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import mtgateway
import mtgateway.aio
from mt5model import mt5 as daemon_mt5
from mtgateway import calls, constants, flags
from mtgateway.aio import AsyncClient
from mtgateway.client import Client
from mtgateway.functions import Declared

#: What the clients have beside the table's functions: the raw call, and the streams.
RAW = {"call"}
STREAMS = {"ticks", "trade_events", "terminal_events", "books", "candles"}

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

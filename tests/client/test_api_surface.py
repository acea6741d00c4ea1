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

#: Client methods that are not contract calls (connection handling, the raw call).
SESSION = {"initialize", "login", "shutdown", "last_error", "call"}
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


def _methods(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(fn) for name, fn in vars(cls).items()
            if callable(fn) and not name.startswith("_")}


def test_sync_and_async_clients_have_the_same_methods_and_signatures() -> None:
    """Every call has one signature in calls.py, the sync client and the asyncio client."""
    sync, aio = _methods(Client), _methods(AsyncClient)
    assert set(aio) == set(sync) | STREAMS
    for name in calls.__all__:
        expected = list(inspect.signature(getattr(calls, name)).parameters)
        assert list(sync[name].parameters)[1:] == expected or name == "order_send", name
        assert sync[name].parameters == aio[name].parameters, name
        assert inspect.iscoroutinefunction(getattr(AsyncClient, name)), name
    assert set(sync) - SESSION == set(calls.__all__)


@pytest.mark.parametrize("module", [mtgateway, mtgateway.aio])
def test_module_functions_cover_every_method(module: object) -> None:
    """The module-level functions are the default client's methods, all of them exported."""
    exported = set(module.__all__)  # type: ignore[attr-defined]
    for name in set(calls.__all__) | SESSION:
        assert name in exported and callable(getattr(module, name)), name


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

"""The client's namespace is the official ``MetaTrader5`` package's, name for name.

``client/tests/metatrader5_package.py`` holds the package's own list (version 5.0.6231). A
framework module written for the package (``framework/strategy.py``) imports and runs with
``MetaTrader5`` resolving to ``mtgateway`` through the ``mtgateway-metatrader5`` distribution
(as the README's test set-up installs it), against a real ``mtgateway demo``.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest

import mtgateway
import mtgateway.aio
from client.tests.metatrader5_package import CONSTANTS, FUNCTIONS, HELPERS, KEYWORD_ONLY
from client.tests.thirdpartykit import package_environment, shim_problem
from mtgateway import flags
from tests.e2e.fixtures import WAIT_S, running_demo

STRATEGY = Path(__file__).resolve().parent / "framework" / "strategy.py"
EXAMPLE = Path(__file__).resolve().parent / "framework" / "order_example.py"


def _constants(module: ModuleType) -> dict[str, object]:
    """The upper-case names ``from module import *`` gives."""
    return {name: getattr(module, name) for name in module.__all__ if name.isupper()}


@pytest.mark.parametrize("module", [mtgateway, mtgateway.aio])
def test_constants_are_exactly_the_packages(module: ModuleType) -> None:
    """Every package constant with its value, and no upper-case name the package lacks."""
    ours = _constants(module)
    missing = sorted(set(CONSTANTS) - set(ours))
    foreign = sorted(set(ours) - set(CONSTANTS))
    assert (missing, foreign) == ([], [])
    assert {name: ours[name] for name in CONSTANTS} == CONSTANTS
    assert len(CONSTANTS) == 223


def test_mql5_names_the_package_lacks_live_in_flags() -> None:
    """SYMBOL_FILLING_* and friends stay reachable, outside the package's namespace."""
    assert (flags.SYMBOL_FILLING_FOK, flags.SYMBOL_FILLING_IOC) == (1, 2)
    assert flags.TRADE_RETCODE_HEDGE_PROHIBITED == 10046
    assert not set(flags.__all__) & set(CONSTANTS)
    assert not set(flags.__all__) & set(dir(mtgateway))


def test_every_function_has_the_packages_parameters() -> None:
    """Each documented parameter, in the package's order, by position or keyword (by keyword
    only where the package takes it so, ``positions_get`` and ``orders_get``)."""
    for name, documented in FUNCTIONS.items():
        params = inspect.signature(getattr(mtgateway, name)).parameters
        ours = [p for p in params if p in documented]
        assert ours == documented, name
        if name != "initialize":  # initialize(path, login=..., ...): keywords after path
            head = list(params.values())[:len(documented)]
            assert [p.name for p in head] == documented, name
            kind = (inspect.Parameter.KEYWORD_ONLY if name in KEYWORD_ONLY
                    else inspect.Parameter.POSITIONAL_OR_KEYWORD)
            assert all(p.kind is kind for p in head), name
        aio_params = inspect.signature(getattr(mtgateway.aio, name)).parameters
        assert list(aio_params) == list(params), name


def test_the_packages_helpers_have_its_signatures() -> None:
    """Buy, Sell, Close and _RawOrder with the parameters, kinds and defaults of the package's
    own; ``from MetaTrader5 import *`` gives the three public ones, as the package's module
    (which has no ``__all__``) gives them and not ``_RawOrder``."""
    for name, expected in HELPERS.items():
        params = inspect.signature(getattr(mtgateway, name)).parameters.values()
        got = [(p.name, p.kind.name, None if p.default is p.empty else p.default)
               for p in params]
        assert got == expected, name
        assert (name in mtgateway.__all__) is not name.startswith("_"), name


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Path]:
    """A `mtgateway demo` process on free ports; its state file."""
    state_file = tmp_path / "demo.json"
    async with running_demo(state_file):
        yield state_file


async def run_script(script: Path, demo: Path, tmp_path: Path) -> str:
    """Run ``script`` in a fresh interpreter against the demo (``initialize()`` with no
    argument finds it through ``MTGATEWAY_STATE_FILE``), ``MetaTrader5`` resolving to
    ``mtgateway``; its output, after checking it exited 0."""
    assert shim_problem() is None, shim_problem()
    env = package_environment(demo)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    async with asyncio.timeout(WAIT_S * 6):
        out_bytes, _ = await proc.communicate()
    out = out_bytes.decode()
    assert proc.returncode == 0, out
    return out


async def test_the_packages_order_send_example_runs(demo: Path, tmp_path: Path) -> None:
    """The package's documented order_send example on ``import mtgateway as mt5``: it opens a
    position, walks the result's ``_asdict()`` and its request's, closes the position, and
    leaves none open."""
    out = await run_script(EXAMPLE, demo, tmp_path)
    for line in ("MetaTrader5 package version:  ", "rates: 10 last close",
                 "2. order_send done,  OrderSendResult(retcode=10009",
                 "   opened position with POSITION_TICKET=", "closed, OrderSendResult(",
                 "   retcode=10009", "       traderequest: action=1",
                 "       traderequest: comment=python script close", "positions left: 0"):
        assert line in out, out
    ticket = out.split("POSITION_TICKET=")[1].split()[0]
    assert f"positions: [{ticket}]" in out and f"position #{ticket} closed" in out, out
    assert "failed" not in out, out


async def test_a_framework_written_for_the_package_runs(demo: Path, tmp_path: Path) -> None:
    """Imported as ``MetaTrader5``, the client runs the framework module unchanged."""
    out = await run_script(STRATEGY, demo, tmp_path)
    for line in ("calc mode: SYMBOL_CALC_MODE_", "buy: True 10009", "close: True",
                 "positions left: 0", "unknown symbol: True",
                 "after shutdown: reconnect code"):
        assert line in out, out

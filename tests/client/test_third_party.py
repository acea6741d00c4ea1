"""Third-party code written for the ``MetaTrader5`` package runs on ``mtgateway`` (issue 33 item 1).

Two frameworks nobody here wrote, installed from PyPI at pinned versions by the README's test
command and ``.ci/run`` (``tests/client/third_party.txt``): **aiomql 4.0.14**, the asyncio
framework for the package (installed without its ``MetaTrader5`` requirement, which has only
Windows wheels), and **pdmt5 1.0.0**, a pure-Python pandas/pydantic wrapper. Each runs in a
fresh interpreter against a real ``mtgateway demo`` (the daemon and the emulated terminal),
with ``import MetaTrader5`` resolving to ``mtgateway``: aiomql's account, symbol, candles,
ticks, depth of market, ``Order.check``/``Order.send`` (which filter the request by
``TradeRequest.__match_args__``), a ``SimpleTrader`` placing a trade, positions and history
(``framework/aiomql_flows.py``); pdmt5's README, block by block (``framework/pdmt5_readme.py``).
A failure of either fails the suite: nothing is skipped when a package is missing.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from importlib.metadata import version
from pathlib import Path

import pytest

import mtgateway
from tests.e2e.conftest import LOGIN, SERVER, WAIT_S, running_demo

FRAMEWORK = Path(__file__).resolve().parent / "framework"
#: The directory that holds the ``mtgateway`` package, for the subprocess's ``PYTHONPATH``.
CLIENT_ROOT = str(Path(mtgateway.__file__).resolve().parents[1])
#: The versions ``tests/client/third_party.txt`` and the ``dev`` extra pin.
PINNED = {"aiomql": "4.0.14", "pdmt5": "1.0.0"}

pytestmark = pytest.mark.skipif(sys.platform == "win32",
                                reason="the demo fixture uses POSIX signals")


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Path]:
    """A `mtgateway demo` process on free ports; its state file."""
    state_file = tmp_path / "demo.json"
    async with running_demo(state_file):
        yield state_file


async def run_framework(script: Path, demo: Path, tmp_path: Path, prefix: str) -> str:
    """Run ``script`` in a fresh interpreter with ``MetaTrader5`` resolving to ``mtgateway``
    (a one-line module first on ``sys.path``) and the demo's login and server as
    ``<prefix>_LOGIN`` / ``<prefix>_SERVER`` (the demo's account is the tests' LOGIN@SERVER);
    its output, after checking it exited 0."""
    shim = tmp_path / "shim"
    shim.mkdir(exist_ok=True)
    (shim / "MetaTrader5.py").write_text(
        "import sys\nimport mtgateway\nsys.modules[__name__] = mtgateway\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_")}
    env.update({"MTGATEWAY_STATE_FILE": str(demo), f"{prefix}_LOGIN": str(LOGIN),
                f"{prefix}_SERVER": SERVER, "MPLBACKEND": "Agg",
                "MPLCONFIGDIR": str(tmp_path / "mpl"),
                "PYTHONPATH": os.pathsep.join([str(shim), CLIENT_ROOT])})
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), env=env, cwd=work,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    async with asyncio.timeout(WAIT_S * 12):
        out_bytes, _ = await proc.communicate()
    out = out_bytes.decode()
    assert proc.returncode == 0, out
    return out


def test_the_pinned_versions_are_installed() -> None:
    """The frameworks the tests below run are the pinned releases, from their distributions."""
    assert {name: version(name) for name in PINNED} == PINNED


async def test_aiomql_checks_sends_and_trades(demo: Path, tmp_path: Path) -> None:
    """aiomql 4.0.14's flows, unchanged: its Order.check and Order.send (every aiomql order
    path; they failed when the records lost __match_args__) and a SimpleTrader's trade."""
    out = await run_framework(FRAMEWORK / "aiomql_flows.py", demo, tmp_path, "AIOMQL")
    for line in ("MetaTrader5 is mtgateway", "account: 5012345 MTG-Demo USD True True",
                 "symbol initialized: True BTCUSD", "tick: True Tick",
                 "candles: 50 ['time', 'open', 'high', 'low', 'close'] True",
                 "ticks: True ['time', 'bid', 'ask']", "book add: True",
                 "book levels: True BookInfo", "book release: True",
                 "order check: 0 OrderCheckResult True",
                 "order send: 10009 True OrderSendResult",
                 "trader order: True True 0.02 aiomql trader",
                 # sent as written: aiomql's comments, magic 0 (the package's default)
                 "positions: 2 ['aiomql order', 'aiomql trader'] [0",
                 "closed: 2 0", "history: True True", "done"):
        assert line in out, out


async def test_pdmt5_runs_its_readme(demo: Path, tmp_path: Path) -> None:
    """pdmt5 1.0.0's README blocks: DataFrames of the account (28 columns), bars, ticks and
    positions, a market order without a price, a dry run, the minimum margin, the latest
    bars and ticks."""
    out = await run_framework(FRAMEWORK / "pdmt5_readme.py", demo, tmp_path, "PDMT5")
    for line in ("account columns: 28 ['login', 'trade_mode', 'leverage']",
                 "quick start rates: 100 None ['time', 'open', 'high', 'low', 'close', "
                 "'tick_volume', 'spread', 'real_volume']",
                 "constants: 1 1 16385", "historical bars: 1000",
                 "ticks: True ['time', 'bid', 'ask']", "Order placed: 10009",
                 "Check result: 0", "Min volume: 0.01, min margin: ",
                 "latest rates: 100 time", "positions: 1 [0] ['']", "closed: 10009 0",
                 "done"):
        assert line in out, out

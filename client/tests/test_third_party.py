"""Third-party code written for the ``MetaTrader5`` package runs on ``mtgateway``, installed as
docs/client.md ("Code that says import MetaTrader5") says: the ``mtgateway-metatrader5``
distribution beside the client makes ``import MetaTrader5`` the client, and each package is
installed without its declared ``MetaTrader5`` requirement (Windows wheels only), pinned by hash
(``third_party.txt``, ``third_party_latest.txt``); nothing is put on ``sys.path`` by hand.

Four packages nobody here wrote, each run in its own interpreter against one real ``mtgateway
demo`` (the daemon and the emulated terminal) shared by the module (issue 43 item 4):

* **aiomql** 4.0.14 and its latest release, 4.1.2, on the Python 3.13 it requires: account,
  symbol, candles, ticks, depth of market, ``Order.check``/``Order.send``, a ``SimpleTrader``'s
  trade, positions closed, history (``framework/aiomql_flows.py``);
* **pdmt5** 1.2.3's README, block by block (``framework/pdmt5_readme.py``);
* **mt5cli** 1.7.1's command line: exports to CSV, JSON and SQLite, an order checked and sent,
  positions closed, a snapshot and a history collection (``framework/mt5cli_commands.py``), and
  its ``mt5cli`` command itself;
* **metatrader-mcp-server** 0.5.1's library as its MCP tools call it: account, symbols, price,
  candles, a market order opened (every one was refused before issue 43 item 1: it always
  sends ``position: 0``), its stops modified, a pending order placed and cancelled, the
  position closed, the history (``framework/mcp_client_flows.py``).

A failure of any fails the suite: nothing is skipped when a package or the Python 3.13 is
missing. After each test the demo account is left flat, so one flow's failure cannot become
another's.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

import mtgateway
from client.tests.thirdpartykit import (
    FRAMEWORK,
    flatten,
    latest_aiomql_python,
    package_environment,
    shim_problem,
    versions_in,
)
from tests.e2e.fixtures import LOGIN, SERVER, WAIT_S, demo_process

#: The versions ``third_party.txt`` pins, installed in this environment.
PINNED = {"aiomql": "4.0.14", "pdmt5": "1.2.3", "mt5cli": "1.7.1",
          "metatrader-mcp-server": "0.5.1", "pymt5adapter": "0.4.4"}
#: aiomql's latest release (``third_party_latest.txt``), in its own Python 3.13 environment.
LATEST_AIOMQL = "4.1.2"

pytestmark = pytest.mark.not_on_windows("third-party")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One `mtgateway demo` process on free ports for the module; its state file."""
    state_file = tmp_path_factory.mktemp("third-party-demo") / "demo.json"
    with demo_process(state_file):
        yield state_file


@pytest.fixture(autouse=True)
def flat_account(demo: Path) -> Iterator[None]:
    """The demo account with no position and no pending order after the test, whatever the
    test left."""
    yield
    flatten(demo)


def run_program(argv: list[str | Path], demo: Path, tmp_path: Path, **env: str) -> str:
    """``argv`` in a fresh interpreter in ``tmp_path``, against the demo, in the environment
    of a program written for the package; its output, after checking it exited 0."""
    out = subprocess.run([str(a) for a in argv], cwd=tmp_path, capture_output=True,
                         env=package_environment(demo, MPLCONFIGDIR=str(tmp_path / "mpl"),
                                                 **env),
                         timeout=WAIT_S * 12)
    text = out.stdout.decode() + out.stderr.decode()
    assert out.returncode == 0, text
    return text


def assert_lines(out: str, *lines: str) -> None:
    assert [line for line in lines if line not in out] == [], out


def test_import_metatrader5_is_the_client_through_its_distribution(demo: Path,
                                                                    tmp_path: Path) -> None:
    """In this environment ``import MetaTrader5`` comes from the mtgateway-metatrader5
    distribution, as the README's test set-up installs it, and is the client itself."""
    assert shim_problem() is None, shim_problem()
    out = run_program([sys.executable, "-c", "import MetaTrader5, mtgateway; "
                       "print(MetaTrader5 is mtgateway, MetaTrader5.initialize(), "
                       "MetaTrader5.account_info().login)"], demo, tmp_path)
    assert out.split() == ["True", "True", str(LOGIN)]


def test_the_pinned_versions_are_installed() -> None:
    """The packages the tests below run are the pinned releases, from their distributions."""
    assert {name: version(name) for name in PINNED} == PINNED


AIOMQL_LINES = (
    "MetaTrader5 is mtgateway", "account: 5012345 MTG-Demo USD True True",
    "symbol initialized: True BTCUSD", "tick: True Tick",
    "candles: 50 ['time', 'open', 'high', 'low', 'close'] True",
    "ticks: True ['time', 'bid', 'ask']", "book add: True", "book levels: True BookInfo",
    "book release: True", "order check: 0 OrderCheckResult True",
    "order send: 10009 True OrderSendResult", "trader position: True True 0.02",
    # sent as written: aiomql's comments, magic 0 (the package's default)
    "positions: 2 ['aiomql order', 'aiomql trader'] [0", "closed: 2 0", "history: True True",
    "done")


def test_aiomql_checks_sends_and_trades(demo: Path, tmp_path: Path) -> None:
    """aiomql 4.0.14's flows, unchanged: its Order.check and Order.send (every aiomql order
    path; they failed when the records lost __match_args__) and a SimpleTrader's trade."""
    out = run_program([sys.executable, FRAMEWORK / "aiomql_flows.py"], demo, tmp_path,
                      AIOMQL_LOGIN=str(LOGIN), AIOMQL_SERVER=SERVER)
    assert_lines(out, "aiomql 4.0.14 on Python (3, 11)", *AIOMQL_LINES)


# Its environment is made here on first use, from the package index: a minute or more on a
# cold machine, beyond the suite's 60 s per test.
@pytest.mark.timeout(900)
def test_aiomql_latest_release_on_python_3_13(demo: Path, tmp_path: Path) -> None:
    """aiomql's latest release, 4.1.2, the same flows on the Python 3.13 it requires, in an
    environment installed as docs/client.md says (the client, the distribution, aiomql without
    its MetaTrader5 requirement)."""
    python = latest_aiomql_python(Path(sys.prefix) / "test-environments")
    assert versions_in(python, "aiomql", "mtgateway-metatrader5") == {
        "aiomql": LATEST_AIOMQL, "mtgateway-metatrader5": mtgateway.__version__}
    out = run_program([python, FRAMEWORK / "aiomql_flows.py"], demo, tmp_path,
                      AIOMQL_LOGIN=str(LOGIN), AIOMQL_SERVER=SERVER)
    assert_lines(out, f"aiomql {LATEST_AIOMQL} on Python (3, 1", *AIOMQL_LINES)


def test_pdmt5_runs_its_readme(demo: Path, tmp_path: Path) -> None:
    """pdmt5 1.2.3's README blocks: DataFrames of the account (28 columns), bars, ticks and
    positions, the constants, an order checked and sent, the positions summarised, the
    README's error handling for an unknown symbol."""
    out = run_program([sys.executable, FRAMEWORK / "pdmt5_readme.py"], demo, tmp_path,
                      PDMT5_LOGIN=str(LOGIN), PDMT5_SERVER=SERVER)
    assert_lines(out, "pdmt5 1.2.3", "account columns: 28 ['login', 'trade_mode', 'leverage']",
                 "quick start rates: 100 None ['time', 'open', 'high', 'low', 'close', "
                 "'tick_volume', 'spread', 'real_volume']", "constants: 1 1 -1 -1 0 0 16385",
                 "historical bars: 1000", "ticks: True ['time', 'bid', 'ask']",
                 "Check retcode: 0", "Send retcode: 10009", "positions: 1 [0] ['']",
                 "closed: 10009 0", "MT5 Error: ", "(-1, 'Terminal: Call failed')", "done")


def test_mt5cli_exports_checks_trades_and_closes(demo: Path, tmp_path: Path) -> None:
    """mt5cli 1.7.1's commands as its README runs them, connected by MT5_LOGIN/MT5_SERVER/
    MT5_PASSWORD: account, terminal, version, symbols, a symbol, its tick, rates, ticks and
    margins to CSV, JSON and SQLite; an order checked and sent; positions; a snapshot; the
    positions closed (a dry run first); the deals; a history collection. Then the ``mt5cli``
    command itself, once."""
    credentials = {"MT5_LOGIN": str(LOGIN), "MT5_SERVER": SERVER, "MT5_PASSWORD": "unused"}
    out = run_program([sys.executable, FRAMEWORK / "mt5cli_commands.py"], demo, tmp_path,
                      **credentials)
    assert_lines(out, "mt5cli 1.7.1", "account: [5012345] ['MTG-Demo'] ['USD']",
                 "terminal connected: [True]",
                 "version columns: ['mt5_terminal_version', 'build', 'build_release_date']",
                 "symbols: True", "symbol info: ['BTCUSD'] [2]", "tick: True",
                 "rates: 100 ['time', 'open', 'high', 'low', 'close']", "ticks: True",
                 "minimum margins: True", "order check: [0]", "order send: [10009]",
                 "positions: ['mt5cli']", "snapshot tables: True", "close dry run: [True]",
                 "closed: ['filled'] [10009]", "positions left: 0", "history deals: True",
                 "collected: True True", "done")
    command = Path(sys.executable).parent / "mt5cli"
    run_program([command, "-o", "account.json", "account-info"], demo, tmp_path,
                **credentials)
    assert '"login":5012345' in (tmp_path / "account.json").read_text(
        encoding="utf-8").replace(" ", "")


def test_metatrader_mcp_server_library_trades_and_reads(demo: Path, tmp_path: Path) -> None:
    """metatrader-mcp-server 0.5.1's library as its tools call it: a market order opened
    (its request carries ``position: 0``), modified, closed; a pending order placed and
    cancelled; account, symbols, price, candles and history read; the symbol's properties as
    handed to the model carry no ``_defaults``/``_extras`` (issue 43 item 3)."""
    out = run_program([sys.executable, FRAMEWORK / "mcp_client_flows.py"], demo, tmp_path,
                      MCP_LOGIN=str(LOGIN), MCP_SERVER=SERVER)
    assert_lines(out, "connected: True", "account: USD 100 True", "symbols: True",
                 "symbol info: BTCUSD 2 ['n_fields', 'n_sequence_fields', "
                 "'n_unnamed_fields']", "price: True",
                 "candles: 50 ['time', 'open', 'high', 'low', 'close']",
                 "market order: False BUY BTCUSD 0.01", "positions: True",
                 "modified: False Modify position", "stops: True",
                 "pending order: False Place pending order BUY_LIMIT", "cancelled: False 0",
                 "closed: False 0", "deals: [0, 1]", "orders: True True",
                 "disconnected: True", "done")


def test_pymt5adapter_imports_connects_and_trades(demo: Path, tmp_path: Path) -> None:
    """pymt5adapter 0.4.4, unchanged: its import (it binds ``MetaTrader5._RawOrder``), its
    ``connected`` context with every README option, its README's error example raised as
    ``MT5Error``, a market buy, SL/TP, a partial close, a buy limit placed, modified and
    removed, the close, history by position and by filter, and its date-range queries, which
    pass keywords the package does not take, answered empty with ``(-2, 'Invalid
    arguments')`` as on a terminal instead of raising ``TypeError``."""
    out = run_program([sys.executable, FRAMEWORK / "pymt5adapter_flows.py"], demo, tmp_path,
                      ADAPTER_LOGIN=str(LOGIN), ADAPTER_SERVER=SERVER)
    assert_lines(out, "version: 500", "account: 5012345 True", "MT5Error: -2 INVALID_PARAMS",
                 "quiet: () (-2, 'Invalid arguments')", "symbols: True BTCUSD", "rates: 5",
                 "check: 0", "held: 1 0.01 True", "pending: True",
                 "retcodes: [10009, 10009, 10009, 10009, 10009, 10009, 10009]",
                 "flat: () ()", "zero: () ()", "by position: [0, 1, 1]", "out deals: 2",
                 "date range: () (-2, 'Invalid arguments')",
                 "after: None (-10004, 'No IPC connection')", "done")

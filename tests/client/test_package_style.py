"""The package-style scripts run against a real ``mtgateway demo`` process, as a user runs them.

``examples/mt5_script.py`` is written the way the ``MetaTrader5`` package's documentation
writes scripts (initialize, account_info, symbol_info_tick, a market buy with SL/TP through
order_send, positions_get, the close, history_deals_get with dates and a group, 50 000 bars of
copy_rates_from_pos into numpy); only its import line names ``mtgateway``. Its asyncio twin
does the same awaited, plus a tick stream. The demo's printed Python is saved and run too.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.client.metatrader5_package import CONSTANTS, FUNCTIONS, HELPERS
from tests.e2e.conftest import WAIT_S, running_demo

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX signals")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "mt5_script.py"
ASYNC_SCRIPT = ROOT / "examples" / "mt5_script_async.py"

#: What the MetaTrader5 package exports (its own list, ``metatrader5_package.py``). A
#: package-style script may use nothing else.
PACKAGE_NAMES = set(FUNCTIONS) | set(HELPERS) | set(CONSTANTS)


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[tuple[Path, str]]:
    """A `mtgateway demo` process on free ports: its state file and what it printed."""
    state_file = tmp_path / "demo.json"
    async with running_demo(state_file) as (_, output):
        yield state_file, output.decode()


async def run_python(path: Path, state_file: Path | None) -> tuple[int, str]:
    """Run ``path`` with this interpreter, pointed at the demo by ``MTGATEWAY_STATE_FILE``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_")}
    if state_file is not None:
        env["MTGATEWAY_STATE_FILE"] = str(state_file)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(path), cwd=path.parent, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    async with asyncio.timeout(WAIT_S * 6):
        out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def test_script_uses_only_the_package_api_apart_from_its_import() -> None:
    """The sync script names mtgateway only in its import, and calls only package names."""
    code = SCRIPT.read_text().split('"""', 2)[2]
    assert [line for line in code.splitlines() if "mtgateway" in line] == [
        "import mtgateway as mt5"]
    used = set(re.findall(r"\bmt5\.([A-Za-z_0-9]+)", code))
    assert used, "the script uses the API"
    foreign = used - PACKAGE_NAMES
    assert not foreign, f"not in the MetaTrader5 package: {sorted(foreign)}"


async def test_package_style_script_runs_against_the_demo(demo: tuple[Path, str]) -> None:
    """examples/mt5_script.py trades a round trip, reads it back and loads 50 000 bars."""
    code, out = await run_python(SCRIPT, demo[0])
    assert code == 0, out
    for step in ("1. order_send()", "2. position #", "3. close position #",
                 "4. history_deals_get()", "5. copy_rates_from_pos(): 50000 bars",
                 "6. symbol_info('NO_SUCH_SYMBOL'): (-4, \"unknown symbol 'NO_SUCH_SYMBOL'"
                 " (gateway error -32006)\")",
                 "done"):
        assert step in out, out
    assert re.search(r"history_deals_get\(\): \d+ deal\(s\), 2 of position", out), out


async def test_async_script_runs_against_the_demo(demo: tuple[Path, str]) -> None:
    """examples/mt5_script_async.py does the same awaited and streams live ticks."""
    code, out = await run_python(ASYNC_SCRIPT, demo[0])
    assert code == 0, out
    for step in ("3. close position #", "5. copy_rates_from_pos(): 50000 bars",
                 "7. ticks(): 3 live ticks", "done"):
        assert step in out, out
    assert "gap:" not in out


async def test_the_python_the_demo_prints_runs(demo: tuple[Path, str], tmp_path: Path) -> None:
    """The Python lines `mtgateway demo` prints, saved as a file, run and read the account."""
    block = demo[1].split("save these lines as\na file and run it with ", 1)[1].split(":\n", 1)[1]
    snippet = textwrap.dedent(block.split("\n\nStreaming:", 1)[0])
    path = tmp_path / "snippet.py"
    path.write_text(snippet)
    code, out = await run_python(path, None)  # nothing from the environment: the snippet alone
    assert code == 0, f"{out}\n--- snippet ---\n{snippet}"
    assert "account 5012345 on MTG-Demo: equity" in out

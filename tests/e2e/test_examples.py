"""The examples in examples/ run unchanged against `mtgateway demo`, as a user would run them."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.commands import ROOT, run
from tests.e2e.conftest import WAIT_S, running_demo

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX signals and bash")


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Path]:
    """A `mtgateway demo` process on free ports; yields its state file."""
    state_file = tmp_path / "demo.json"
    async with running_demo(state_file):
        yield state_file


async def test_bot_example_opens_modifies_and_closes(demo: Path) -> None:
    """examples/bot.py buys, sets stops and closes, ending with no position open."""
    code, out = await run(sys.executable, "examples/bot.py", "--state-file", str(demo))
    assert code == 0, out
    assert out.count("TRADE_RETCODE_DONE") == 3
    assert "position still open: False" in out


async def test_stream_example_prints_ticks(demo: Path) -> None:
    """examples/stream.py subscribes and prints terminal status and ticks with no gaps."""
    code, out = await run(sys.executable, "examples/stream.py", "--state-file", str(demo),
                          "--symbols", "BTCUSD", "--max-messages", "5")
    assert code == 0, out
    assert "terminal " in out and out.count("tick  BTCUSD") >= 3 and "lost" not in out


async def test_curl_example_lines_work(demo: Path) -> None:
    """examples/curl.sh (the README's curl lines) gets health, the account, a tick and rates."""
    code, out = await run("bash", "examples/curl.sh", str(demo))
    assert code == 0, out
    health, account, tick, rates = (json.loads(line) for line in out.splitlines()[:4])
    state: dict[str, Any] = json.loads(await asyncio.to_thread(demo.read_text))
    assert health["status"] == "ok"
    assert account["result"]["login"] == state["login"]
    assert tick["result"]["bid"] > 0
    assert len(rates["result"]["rows"]) == 3


@pytest.mark.parametrize("script", ["mt5_script.py", "mt5_script_async.py"])
async def test_package_style_scripts_take_state_file_on_a_replayed_weekday(
        tmp_path: Path, script: str) -> None:
    """The package-style scripts take `--state-file` (no environment variable) and find their
    round trip in the history on a replayed Wednesday: the history window follows the trade
    server's clock, not this machine's (it used to be `datetime.now()` +- 1 day, which misses
    a replayed day's deals)."""
    state_file = tmp_path / "demo.json"
    async with running_demo(state_file, "--start-time", "2026-11-18T10:00:00Z"):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "examples" / script), "--state-file", str(state_file),
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        async with asyncio.timeout(WAIT_S * 6):
            out = (await proc.communicate())[0].decode()
    assert proc.returncode == 0, out
    assert "4. history_deals_get():" in out and ", 2 of position #" in out, out

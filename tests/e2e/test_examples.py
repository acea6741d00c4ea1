"""The examples in examples/ and the Python the demo prints run unchanged on exactly the
README's quick-start install, against a `mtgateway demo` that install started, as a user runs
them (issue 43 item 5: after the quick start's install the package-style scripts crashed at
their numpy step, since it installed the client without its ``[numpy]`` extra, while CI ran
them on the test environment, which has numpy).

The quick start's environment is made by its own lines (``python3 -m venv``, the demo line's
``pip install``: :func:`~tests.e2e.commands.quick_start_python`), once a machine for what they
install, each checkout given a copy naming its own paths, and the module shares
one demo started by its ``mtgateway`` command, its clock replayed on a Wednesday (every market
open whatever the day; the history window must follow the trade server's clock, not this
machine's). Without their extras, the examples say what they need
(``tests/client/test_metatrader5_distribution.py``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.commands import (
    ROOT,
    quick_start_python,
    readme_demo_install,
    sweep_quick_starts,
)
from tests.e2e.conftest import WAIT_S, demo_process

pytestmark = [
    pytest.mark.not_on_windows("shell"),
    # The first test to ask for the quick start's environment makes it, from the package
    # index, when the README or the projects' metadata changed: a minute or more on a cold
    # machine, beyond the suite's 60 s per test. Each program run keeps its own bound.
    pytest.mark.timeout(900),
]

EXAMPLES = ROOT / "examples"


@dataclass(frozen=True)
class QuickStart:
    """The quick start's interpreter, and its demo: the state file and what it printed."""

    python: Path
    state_file: Path
    printed: str


@pytest.fixture(scope="module")
def quick_start(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QuickStart]:
    python = quick_start_python()
    state_file = tmp_path_factory.mktemp("quick-start") / "demo.json"
    with demo_process(state_file, "--start-time", "2026-11-18T10:00:00Z",
                      command=[python.parent / "mtgateway"]) as printed:
        yield QuickStart(python, state_file, printed.decode())


def run(quick_start: QuickStart, *argv: str | Path, state_file: bool = True) -> str:
    """``argv`` from the repository's root, the quick start's environment first on ``PATH``
    and no ``MTGATEWAY_*`` variable (``--state-file`` names the demo); its output, after
    checking it exited 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_")}
    env["PATH"] = f"{quick_start.python.parent}{os.pathsep}{env.get('PATH', '')}"
    args = [*map(str, argv), *(["--state-file", str(quick_start.state_file)]
                               if state_file else [])]
    out = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, timeout=WAIT_S * 6)
    text = out.stdout.decode() + out.stderr.decode()
    assert out.returncode == 0, text
    return text


def test_the_quick_start_installs_the_clients_extras(quick_start: QuickStart) -> None:
    """The demo line installs the client with numpy and aiohttp, which the examples and the
    README's snippet (``# numpy, all pages``) use, and the daemon with the console the demo
    embeds (the ground floor and the console from this checkout), without test tools."""
    assert readme_demo_install() == ["-e", "./base", "-e", "./client[numpy,aio]",
                                     "-e", "./console", "-e", ".[console]"]
    out = run(quick_start, quick_start.python, "-c",
              "import numpy, aiohttp, mtgateway.aio, gateway, mtgateway_base, mtgateway_console;"
              " print('ok')", state_file=False)
    assert out.strip() == "ok"


def test_the_quick_start_runs_this_checkouts_code(quick_start: QuickStart) -> None:
    """The environment is this checkout's: its editable installs and its scripts name this
    checkout and this environment, never the checkout or the place of the environment it was
    copied from (``tests/e2e/commands.py``, ``_copy_for_here``), so the examples run the code
    under test."""
    out = run(quick_start, quick_start.python, "-c",
              "import gateway, mtgateway, mtgateway_base, mtgateway_console, shutil; print("
              "*(m.__file__ for m in (gateway, mtgateway, mtgateway_base, mtgateway_console)),"
              " shutil.which('mtgateway'), sep='\\n')", state_file=False)
    *modules, script = out.split()
    assert all(Path(module).is_relative_to(ROOT) for module in modules), out
    assert Path(script).parent == quick_start.python.parent, out
    shebang = Path(script).read_text(encoding="utf-8").splitlines()[0]
    assert shebang == f"#!{quick_start.python}", shebang


def test_package_style_script(quick_start: QuickStart) -> None:
    """examples/mt5_script.py trades a round trip, reads it back by the trade server's dates
    and a group, and loads 50 000 bars into numpy."""
    out = run(quick_start, quick_start.python, EXAMPLES / "mt5_script.py")
    for step in ("1. order_send()", "2. position #", "3. close position #",
                 "4. history_deals_get()", "5. copy_rates_from_pos(): 50000 bars",
                 "6. symbol_info('NO_SUCH_SYMBOL'): (-4, \"unknown symbol 'NO_SUCH_SYMBOL'"
                 " (gateway error -32006)\")", "done"):
        assert step in out, out
    assert re.search(r"history_deals_get\(\): \d+ deal\(s\), 2 of position", out), out


def test_package_style_script_awaited(quick_start: QuickStart) -> None:
    """examples/mt5_script_async.py does the same awaited and streams live ticks."""
    out = run(quick_start, quick_start.python, EXAMPLES / "mt5_script_async.py")
    for step in ("3. close position #", "4. history_deals_get()", ", 2 of position #",
                 "5. copy_rates_from_pos(): 50000 bars", "7. ticks(): 3 live ticks", "done"):
        assert step in out, out
    assert "gap:" not in out and "Unclosed" not in out, out


def test_bot_example_opens_modifies_and_closes(quick_start: QuickStart) -> None:
    """examples/bot.py buys, sets stops and closes, ending with no position open."""
    out = run(quick_start, quick_start.python, EXAMPLES / "bot.py")
    assert out.count("TRADE_RETCODE_DONE") == 3
    assert "position still open: False" in out


def test_stream_example_prints_ticks(quick_start: QuickStart) -> None:
    """examples/stream.py subscribes and prints terminal status and ticks with no gaps."""
    out = run(quick_start, quick_start.python, EXAMPLES / "stream.py", "--symbols", "BTCUSD",
              "--max-messages", "5")
    assert "terminal " in out and out.count("tick  BTCUSD") >= 3 and "lost" not in out


def test_curl_example_lines_work(quick_start: QuickStart) -> None:
    """examples/curl.sh (the README's curl lines) gets health, the account, a tick and rates."""
    out = run(quick_start, "bash", EXAMPLES / "curl.sh", quick_start.state_file,
              state_file=False)
    health, account, tick, rates = (json.loads(line) for line in out.splitlines()[:4])
    state: dict[str, Any] = json.loads(quick_start.state_file.read_text(encoding="utf-8"))
    assert health["status"] == "ok"
    assert account["result"]["login"] == state["login"]
    assert tick["result"]["bid"] > 0
    assert len(rates["result"]["rows"]) == 3


def test_the_python_the_demo_prints_runs(quick_start: QuickStart, tmp_path: Path) -> None:
    """The Python lines `mtgateway demo` prints, saved as a file and run with the quick start's
    interpreter as it says, read the account (nothing from the environment: the snippet
    alone)."""
    block = quick_start.printed.split("save these lines as\na file and run it with ", 1)[1]
    snippet = textwrap.dedent(block.split(":\n", 1)[1].split("\n\nStreaming:", 1)[0])
    path = tmp_path / "snippet.py"
    path.write_text(snippet, encoding="utf-8")
    out = run(quick_start, quick_start.python, path, state_file=False)
    assert "account 5012345 on MTG-Demo: equity" in out, f"{out}\n--- snippet ---\n{snippet}"


def test_the_quick_starts_cache_keeps_only_what_a_run_will_use_again(tmp_path: Path) -> None:
    """A clean clone's run makes its quick start environment under the machine's cache, and
    its checkout is removed after: the next run's sweep removes that environment (each run
    would otherwise leave one behind for a month), keeps another checkout's that is still
    there, and removes this checkout's (made anew) and a half-made one; the one the README's
    lines made, which each checkout's is copied from, it keeps while a run used it within a
    month, its checkout gone or not."""
    cache, gone, kept_checkout = tmp_path / "cache", tmp_path / "gone", tmp_path / "kept"
    kept_checkout.mkdir()

    def env(name: str, checkout: Path | None, installed: bool = True) -> Path:
        made = cache / f"quick-start-{name}"
        made.mkdir(parents=True)
        if checkout is not None:
            (made / "checkout").write_text(str(checkout), encoding="utf-8")
        if installed:
            (made / "installed").write_text("key", encoding="utf-8")
        return made

    gone_env, kept_env = env("aaaa-1", gone), env("bbbb-1", kept_checkout)
    older = env("cccc-1", None)  # made before checkouts were noted: kept until unused
    ours, half = env("dddd-1", kept_checkout), env("eeee-1", kept_checkout, installed=False)
    # what the lines made, which the copies come from: kept while used, its checkout gone
    lines, unused = env("lines-1", gone), env("lines-2", kept_checkout)
    month_ago = time.time() - 31 * 86_400
    os.utime(unused / "installed", (month_ago, month_ago))
    sweep_quick_starts(cache, "dddd", time.time())
    assert [p.exists() for p in (gone_env, kept_env, older, ours, half, lines, unused)] == \
        [False, True, True, False, False, True, False]

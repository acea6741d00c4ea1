"""The examples in examples/ and the Python the demo prints run unchanged on exactly the
README's quick-start install, against a `mtgateway demo` that install started, as a user runs
them, on any day (issue 43 item 5: after the quick start's install the package-style scripts
crashed at their numpy step, since it installed the client without its ``[numpy]`` extra, while
CI ran them on the test environment, which has numpy; issue 88 item 5: on a Sunday, after the
owner registered the account with the console form's defaults as the dashboard's checklist
asks, ``examples/bot.py`` took EURUSD for open and was refused 10018).

The quick start's environment is made by its own lines (``python3 -m venv``, the demo line's
``pip install``: :func:`~tests.e2e.commands.quick_start_python`), once a machine for what they
install, each checkout given a copy naming its own paths. Every example runs on a Saturday, a
Sunday and a Wednesday, replayed by the demo's ``--start-time`` (never the day the suite runs
on), against one demo per day whose account the owner registered through the console's
registration form as it comes: its defaults, at most 1 % of equity at risk (so no opening
order without a stop) and 0.1 lot. One test per day runs them all, so each day's demo starts
once however the suite's workers share the tests. Without their extras, the examples say what
they need (``client/tests/test_metatrader5_distribution.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.clocks import SATURDAY, SUNDAY, WEDNESDAY
from tests.e2e.commands import (
    ROOT,
    quick_start_python,
    readme_demo_install,
    sweep_quick_starts,
)
from tests.e2e.consolekit import Browser
from tests.e2e.fixtures import LOGIN, WAIT_S, demo_process

pytestmark = [
    pytest.mark.not_on_windows("shell"),
    # The first test to ask for the quick start's environment makes it, from the package
    # index, when the README or the projects' metadata changed: a minute or more on a cold
    # machine, beyond the suite's 60 s per test. Each program run keeps its own bound.
    pytest.mark.timeout(900),
]

EXAMPLES = ROOT / "examples"
#: The days the examples run on: the demo's ``--start-time`` of each, and the symbol a bot
#: trades there (on a weekend only the emulator's crypto symbol is open; on a Wednesday
#: afternoon the first forex one).
DAYS: dict[str, tuple[str, str]] = {
    "saturday": (SATURDAY, "BTCUSD"),
    "sunday": (SUNDAY, "BTCUSD"),
    "wednesday": (WEDNESDAY, "EURUSD"),
}
#: What the console's registration form says before anything is typed: the defaults an owner
#: following the checklist registers with (1 % of equity at risk, 0.1 lot, any symbol,
#: automated trading on, live).
FORM_DEFAULTS = {"allowed_symbols": "", "max_lot_size": "0.1", "risk_pct": "0.01",
                 "auto_trade_enabled": "on", "account_type": "USD"}


@pytest.fixture(scope="module")
def python() -> Path:
    """The quick start's interpreter (its environment made on first use)."""
    return quick_start_python()


def _env(python: Path) -> dict[str, str]:
    """The quick start's environment first on ``PATH``, and no ``MTGATEWAY_*`` variable (a
    ``--state-file`` names the demo)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_")}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(python: Path, *argv: str | Path) -> str:
    """``argv`` from the repository's root in the quick start's environment: its output,
    after checking it exited 0."""
    out = subprocess.run([*map(str, argv)], cwd=ROOT, env=_env(python), capture_output=True,
                         timeout=WAIT_S * 6)
    text = out.stdout.decode() + out.stderr.decode()
    assert out.returncode == 0, text
    return text


async def run_async(python: Path, *argv: str | Path) -> str:
    """:func:`run` as a child of the loop, so a day's examples run side by side: its output,
    the exit code said on its first line. It returns only once the child has ended (killed
    past its bound), so a sibling's failure never leaves it running."""
    proc = await asyncio.create_subprocess_exec(
        *map(str, argv), cwd=ROOT, env=_env(python), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    try:
        async with asyncio.timeout(WAIT_S * 6):
            out, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            out, _ = await proc.communicate()
    return f"{Path(argv[1]).name if len(argv) > 1 else argv[0]} exited {proc.returncode}\n" \
        f"{out.decode()}"


def _ok(out: str) -> str:
    """``out`` of :func:`run_async` after checking its program exited 0."""
    said, _, text = out.partition("\n")
    assert said.endswith(" exited 0"), out
    return text


def test_the_quick_start_installs_the_clients_extras(python: Path) -> None:
    """The demo line installs the client with numpy and aiohttp, which the examples and the
    README's snippet (``# numpy, all pages``) use, and the daemon with the console the demo
    embeds (the ground floor and the console from this checkout), without test tools."""
    assert readme_demo_install() == ["-e", "./base", "-e", "./client[numpy,aio]",
                                     "-e", "./console", "-e", "./daemon[console]"]
    out = run(python, python, "-c",
              "import numpy, aiohttp, mtgateway.aio, gateway, mtgateway_base, mtgateway_console;"
              " print('ok')")
    assert out.strip() == "ok"


def test_the_quick_start_runs_this_checkouts_code(python: Path) -> None:
    """The environment is this checkout's: its editable installs and its scripts name this
    checkout and this environment, never the checkout or the place of the environment it was
    copied from (``tests/e2e/commands.py``, ``_copy_for_here``), so the examples run the code
    under test."""
    out = run(python, python, "-c",
              "import gateway, mtgateway, mtgateway_base, mtgateway_console, shutil; print("
              "*(m.__file__ for m in (gateway, mtgateway, mtgateway_base, mtgateway_console)),"
              " shutil.which('mtgateway'), sep='\\n')")
    *modules, script = out.split()
    assert all(Path(module).is_relative_to(ROOT) for module in modules), out
    assert Path(script).parent == python.parent, out
    shebang = Path(script).read_text(encoding="utf-8").splitlines()[0]
    assert shebang == f"#!{python}", shebang


class _Form(HTMLParser):
    """What a browser posts for the form ``form_id`` of a page as it comes: each text,
    hidden and password field's value, each ticked checkbox as ``on``, each list's selected
    option (its first when none is)."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self._form_id = form_id
        self._inside = False
        self._select: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "form":
            self._inside = attr.get("id") == self._form_id
        name = attr.get("name")
        if not self._inside or (tag != "option" and not name):
            return
        if tag == "input" and attr.get("type") == "checkbox":
            if "checked" in attr:
                self.fields[str(name)] = attr.get("value") or "on"
        elif tag == "input":
            self.fields[str(name)] = attr.get("value") or ""
        elif tag == "select":
            self._select = str(name)
        elif tag == "option" and self._select is not None:
            if "selected" in attr or self._select not in self.fields:
                self.fields[self._select] = attr.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False
        elif tag == "select":
            self._select = None


async def _register_with_the_forms_defaults(state: dict[str, Any]) -> dict[str, str]:
    """The dashboard checklist's step, as an owner takes it: signed in to the demo's console,
    the demo's account registered through the Accounts page's form as it comes, only the
    fields it leaves empty and requires typed in (name, broker, login, server). The fields
    posted."""
    browser = Browser(state["console_url"].rstrip("/"))
    try:
        signed_in = await browser.sign_in(state["owner_email"], state["owner_password"])
        assert signed_in.status == 303, signed_in.text
        page = await browser.get("/accounts")
        assert page.status == 200, page.text
        form = _Form("account-form")
        form.feed(page.text)
        fields = {**form.fields, "name": "Demo", "broker": "MetaQuotes",
                  "login": str(state["login"]), "server": state["server"]}
        posted = await browser.post("/accounts", list(fields.items()))
        assert posted.status == 303, posted.text
        return fields
    finally:
        await browser.close()


@contextlib.asynccontextmanager
async def _terms_changed(state: dict[str, Any]) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """The demo token's ``terminal`` stream, open for the block: a function that returns once
    the daemon says the token's trading terms changed (``terminal_status``, reason
    ``trading_terms``: it stored the record the registration's push brought)."""
    headers = {"Authorization": f"Bearer {state['token']}"}
    async with aiohttp.ClientSession() as http, http.ws_connect(state["ws_url"],
                                                                headers=headers) as ws:
        await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "subscribe",
                            "params": {"channel": "terminal"}})

        async def changed() -> None:
            async with asyncio.timeout(WAIT_S):
                while True:
                    note = await ws.receive_json()
                    if note.get("method") == "terminal_status" \
                            and note["params"]["reason"] == "trading_terms":
                        return
        yield changed


async def _policy_holds(state: dict[str, Any]) -> None:
    """The demo's daemon refuses a stop-less buy of the always-open BTCUSD ``risk_pct``: it
    holds the registered policy."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "order_check", "params": {"request": {
        "action": "TRADE_ACTION_DEAL", "symbol": "BTCUSD", "volume": 0.01,
        "type": "ORDER_TYPE_BUY"}}}
    headers = {"Authorization": f"Bearer {state['token']}"}
    async with aiohttp.ClientSession() as http, \
            http.post(state["rpc_url"], json=body, headers=headers) as response:
        answer = await response.json()
    assert answer["error"]["data"]["rule"] == "risk_pct", answer


@dataclass(frozen=True)
class _Ran:
    """What each program printed on one day."""

    bot: str
    script: str
    awaited: str
    stream: str
    curl: str
    snippet: str


async def _run_the_examples(python: Path, state_file: Path, printed: str,
                            tmp_path: Path) -> _Ran:
    """Every example against the demo of ``state_file``, as the demo's output says to run
    them: the reading ones side by side, then the trading ones side by side."""
    state = ("--state-file", state_file)
    block = printed.split("save these lines as\na file and run it with ", 1)[1]
    snippet = tmp_path / "snippet.py"
    snippet.write_text(textwrap.dedent(block.split(":\n", 1)[1].split("\n\nStreaming:", 1)[0]),
                       encoding="utf-8")
    stream, curl, said = await asyncio.gather(
        run_async(python, python, EXAMPLES / "stream.py", *state, "--max-messages", "5"),
        run_async(python, "bash", EXAMPLES / "curl.sh", *state),
        run_async(python, python, snippet))
    bot, script, awaited = await asyncio.gather(
        run_async(python, python, EXAMPLES / "bot.py", *state),
        run_async(python, python, EXAMPLES / "mt5_script.py", *state),
        run_async(python, python, EXAMPLES / "mt5_script_async.py", *state))
    return _Ran(*map(_ok, (bot, script, awaited, stream, curl, said)))


@pytest.mark.parametrize("day", list(DAYS))
async def test_the_examples_run_any_day_under_the_default_policy(
        python: Path, day: str, tmp_path: Path) -> None:
    """On a Saturday, a Sunday and a Wednesday, with the account registered with the console
    form's defaults: ``bot.py`` trades the symbol whose order checks out (BTCUSD on the
    weekend, EURUSD on the Wednesday: before, EURUSD on a Sunday, refused 10018) and the
    package-style scripts trade the first symbol whose buy checks out, each a round trip
    read back from history; ``stream.py`` streams the open symbols the demo wrote, ``curl.sh``
    quotes one live, and the Python the demo prints reads the account."""
    start, symbol = DAYS[day]
    start_s = int(datetime.fromisoformat(start).timestamp())
    state_file = tmp_path / "demo.json"
    with demo_process(state_file, "--start-time", start,
                      command=[python.parent / "mtgateway"]) as printed:
        state: dict[str, Any] = json.loads(state_file.read_text(encoding="utf-8"))
        async with _terms_changed(state) as changed:
            fields = await _register_with_the_forms_defaults(state)
            await changed()
        await _policy_holds(state)
        ran = await _run_the_examples(python, state_file, printed.decode(), tmp_path)
    assert {k: fields.get(k) for k in FORM_DEFAULTS} == FORM_DEFAULTS
    assert "paper_trade_enabled" not in fields and "is_live" not in fields
    assert (state["open_symbols"] == ["BTCUSD"]) is (day != "wednesday"), state["open_symbols"]
    assert f"): open {symbol}" in printed.decode()  # the demo's market hours say it too

    assert f"trading {symbol}: the first symbol whose order checks out now" in ran.bot, ran.bot
    assert ran.bot.count("TRADE_RETCODE_DONE") == 3, ran.bot
    assert "position still open: False" in ran.bot, ran.bot
    for out in (ran.script, ran.awaited):
        assert f"trading {symbol} (" in out, out
        for step in ("1. order_send()", "2. position #", "3. close position #",
                     "5. copy_rates_from_pos(): 50000 bars", "6. symbol_info('NO_SUCH_SYMBOL')",
                     "done"):
            assert step in out, out
        assert ", 2 of position #" in out, out  # the round trip read back by dates and group
    assert "7. ticks(): 3 live ticks" in ran.awaited, ran.awaited
    assert "gap:" not in ran.awaited and "Unclosed" not in ran.awaited, ran.awaited

    ticks = [line.split()[1] for line in ran.stream.splitlines() if line.startswith("tick  ")]
    assert "terminal connected=True" in ran.stream and len(ticks) >= 3, ran.stream
    assert set(ticks) <= set(state["open_symbols"]) and "! " not in ran.stream, ran.stream
    health, account, tick, rates = (json.loads(line) for line in ran.curl.splitlines()[:4])
    assert health["status"] == "ok" and account["result"]["login"] == LOGIN
    # live: the replayed day's quote (the demo's server clock is UTC), not Friday's last one
    assert -60 <= tick["result"]["time"] - start_s < WAIT_S * 6, tick
    assert len(rates["result"]["rows"]) == 3
    assert f"account {LOGIN} on MTG-Demo: equity" in ran.snippet, ran.snippet


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

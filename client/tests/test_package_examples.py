"""The ``MetaTrader5`` documentation's own example of each of its 32 functions, run on
``mtgateway`` against the demo, checked against what the documentation prints (issue 33 item 2).

The examples (``package_examples/<function>.py``) are the "Example" blocks of the function
pages of the package's Python-integration documentation
(``www.mql5.com/en/docs/python_metatrader5/mt5<function>_py``), byte for byte, taken from a
verbatim mirror of those pages (the docstrings of ``mt5linux`` 1.1.1, ``mt5linux/
metatrader5.py``), with each page's "Result" block beside it (``<function>.result.txt``). 30
scripts cover the 32 functions: ``market_book_add`` and ``market_book_release`` have no example
of their own, and the ``market_book_get`` example calls all three.

The files are never edited. The changes the demo's market forces are applied as text at run
time (:data:`CHANGES`); each must match its script, and each has its reason. Each script then
runs in a process of its own (forked from one interpreter that imported what the scripts import
once: :data:`_EXAMPLES_RUNNER`), with ``import MetaTrader5`` resolving to ``mtgateway`` (through the
``mtgateway-metatrader5`` distribution, as the README's test set-up installs it), against a
``mtgateway demo`` whose clock starts on a Wednesday afternoon (``--start-time``: every market
open, whatever the real day), after the account state the Results show was made (two GBPUSD
pending orders, USDCHF and EURUSD positions, a closed GBPUSD position). What it prints is held
against its Result block, by the documentation's own lines:

* every struct sequence's repr (``TradeOrder(ticket=..., ...``): the fields in the order the
  page shows them;
* every ``name=value`` walk of an ``_asdict()`` (``   retcode=10009``,
  ``       traderequest: action=1``): the same fields in the same order, each value of the
  same Python type (``True``/``False`` bool, ``12`` int, ``1.5`` float, otherwise str);
* every printed dict (``{'type': 1, 'price': 1.2, ...}``): the same keys, the same types;
* every DataFrame header: the same columns in the same order;

and, after the script ends, the numpy arrays it holds have the package's dtypes exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import mtgateway
from client.tests.thirdpartykit import package_environment, shim_problem
from tests.e2e.fixtures import LOGIN, SERVER, WAIT_S, running_demo

EXAMPLES = Path(__file__).resolve().parent / "package_examples"
#: The demo's clock: a Wednesday afternoon, so FX trades whatever day the suite runs.
START = "2026-11-18T14:00:00+00:00"
#: The 32 functions and the example that calls each.
FUNCTIONS = {name: name for name in (
    "initialize", "login", "shutdown", "version", "last_error", "account_info",
    "terminal_info", "symbols_total", "symbols_get", "symbol_info", "symbol_info_tick",
    "symbol_select", "market_book_get", "copy_rates_from", "copy_rates_from_pos",
    "copy_rates_range", "copy_ticks_from", "copy_ticks_range", "orders_total", "orders_get",
    "order_calc_margin", "order_calc_profit", "order_check", "order_send", "positions_total",
    "positions_get", "history_orders_total", "history_orders_get", "history_deals_total",
    "history_deals_get")} | {"market_book_add": "market_book_get",
                             "market_book_release": "market_book_get"}
#: The package's numpy dtypes (MetaTrader5 5.0.6231).
RATES_DTYPE = [["time", "<i8"], ["open", "<f8"], ["high", "<f8"], ["low", "<f8"],
               ["close", "<f8"], ["tick_volume", "<u8"], ["spread", "<i4"],
               ["real_volume", "<u8"]]
TICKS_DTYPE = [["time", "<i8"], ["bid", "<f8"], ["ask", "<f8"], ["last", "<f8"],
               ["volume", "<u8"], ["time_msc", "<i8"], ["flags", "<u4"],
               ["volume_real", "<f8"]]
_ACCOUNT = [("25115284", str(LOGIN), "the demo's account for the docs' MetaQuotes-Demo one"),
            ('"MetaQuotes-Demo"', f'"{SERVER}"', "the demo's server")]
#: A Friday inside the demo's 400 days of history, for the docs' 2020-01-10 and -11.
_DAY = [("datetime(2020, 1, 10", "datetime(2026, 11, 13", "a Friday the demo has history for"),
        ("datetime(2020, 1, 11", "datetime(2026, 11, 14", "the day after it")]
_POSITION = [("position_id=530218319", "position_id=POSITION_ID",
              "the closed GBPUSD position made before the examples")]
#: Text changes per example: (what the page says, what runs, why).
CHANGES: dict[str, list[tuple[str, str, str]]] = {
    "initialize": _ACCOUNT,
    "login": [("account=17221085", f"account={LOGIN + 1}", "an account the token is not for"),
              ("account=25115284", f"account={LOGIN}", "the demo's account")],
    "account_info": [("25115284", str(LOGIN), "the demo's account")],
    "symbol_select": [*_ACCOUNT, ('"EURCAD"', '"AUDUSD"', "the demo lists no EURCAD")],
    "copy_rates_from": _DAY[:1],
    "copy_rates_range": _DAY,
    "copy_ticks_from": _DAY[:1],
    "copy_ticks_range": _DAY,
    "market_book_get": [("time.sleep(5)", "time.sleep(0.2)", "a test does not pause 5 s")],
    "order_check": [("mt5.ORDER_FILLING_RETURN", "mt5.ORDER_FILLING_IOC",
                     "the demo's FX symbols use Market execution (FOK or IOC; RETURN is 10030)")],
    "order_send": [("mt5.ORDER_FILLING_RETURN", "mt5.ORDER_FILLING_IOC",
                    "the demo's FX symbols use Market execution (FOK or IOC; RETURN is 10030)"),
                   ("time.sleep(2)", "time.sleep(0.2)", "a test does not pause 2 s")],
    "history_orders_get": _POSITION,
    "history_deals_get": _POSITION,
}
#: The record types whose repr the Results show.
RECORDS = ("AccountInfo", "TerminalInfo", "SymbolInfo", "Tick", "BookInfo", "TradeRequest",
           "OrderCheckResult", "OrderSendResult", "TradePosition", "TradeOrder", "TradeDeal")

#: Run inside the example's interpreter: the script (changed as above), then its globals.
#: What runs the examples: an interpreter that imports once what every example imports (the
#: client as ``MetaTrader5``, numpy, pandas, pytz: ~0.6 s of CPU an interpreter), then for each
#: example read from its stdin (a JSON line: the file's path and the text to run) forks a
#: process of its own, which runs it as ``__main__`` in a fresh namespace, its stdout and stderr
#: into one pipe, then prints the numpy arrays and struct sequences the example ended with and
#: exits as an interpreter does (its atexit handlers run); each example's output and exit code
#: are written back as a JSON line. No example's import or call happens before its own process
#: starts: the forked process holds the imported modules, not any state an example made.
_EXAMPLES_RUNNER = """
import atexit, json, os, sys, traceback
import numpy, pandas, pytz
import MetaTrader5


def run(path, code):
    scope = {"__name__": "__main__", "__file__": path}
    try:
        exec(compile(code, path, "exec"), scope)
    except SystemExit:
        pass
    sys.stdout.flush()
    dump = {}
    for name, value in scope.items():
        if isinstance(value, numpy.ndarray):
            dump[name] = {"dtype": [list(d) for d in value.dtype.descr], "len": len(value)}
        elif isinstance(value, tuple) and hasattr(type(value), "__match_args__"):
            dump[name] = {"type": type(value).__name__,
                          "fields": list(type(value).__match_args__),
                          "types": [type(v).__name__ for v in value]}
    print("=== globals")
    print(json.dumps(dump))


for line in sys.stdin:
    job = json.loads(line)
    read, write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.dup2(write, 1)
        os.dup2(write, 2)
        os.close(write)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        code = 1
        try:
            run(job["path"], job["code"])
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                atexit._run_exitfuncs()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        out = pipe.read()
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"code": os.waitstatus_to_exitcode(status),
                      "out": out.decode(errors="replace")}), flush=True)
"""


class Examples:
    """The examples' runner (:data:`_EXAMPLES_RUNNER`) against one demo, started once."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def run(self, stem: str, position_id: int, changes: list[tuple[str, str, str]]
                  ) -> tuple[str, dict[str, Any]]:
        """The example's output and the globals it ended with."""
        code = (EXAMPLES / f"{stem}.py").read_text(encoding="utf-8")
        for old, new, _ in changes:
            code = code.replace(old, new.replace("POSITION_ID", str(position_id)))
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"path": str(EXAMPLES / f"{stem}.py"),
                                          "code": code}).encode() + b"\n")
        async with asyncio.timeout(WAIT_S * 12):
            await self.proc.stdin.drain()
            line = await self.proc.stdout.readline()
        assert line, f"the examples' runner ended: {self.proc.returncode}"
        done = json.loads(line)
        out = done["out"]
        assert done["code"] == 0 and "=== globals" in out, out
        printed, dump = out.rsplit("=== globals\n", 1)
        return printed, json.loads(dump)


@contextlib.asynccontextmanager
async def examples(state_file: Path, tmp_path: Path) -> AsyncIterator[Examples]:
    """The examples' runner in the environment of a program written for the package, against
    the demo of ``state_file``, from ``tmp_path``."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _EXAMPLES_RUNNER, env=package_environment(state_file),
        cwd=tmp_path, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        limit=1 << 26)
    try:
        yield Examples(proc)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        async with asyncio.timeout(WAIT_S):
            await proc.wait()


def test_every_function_has_its_example_and_result() -> None:
    """32 functions, 30 example scripts; every Result the page has is beside its script."""
    assert len(FUNCTIONS) == 32
    scripts = {path.stem for path in EXAMPLES.glob("*.py")}
    assert scripts == set(FUNCTIONS.values()) and len(scripts) == 30
    for stem, changes in CHANGES.items():
        text = (EXAMPLES / f"{stem}.py").read_text(encoding="utf-8")
        for old, _, why in changes:
            assert old in text, (stem, old, why)


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Path]:
    state_file = tmp_path / "demo.json"
    async with running_demo(state_file, "--start-time", START):
        yield state_file


def _make_state(state_file: Path) -> int:
    """The account state the Results show; the closed GBPUSD position's id."""
    client = mtgateway.Client()
    assert client.initialize(state_file=state_file), client.last_error()
    with client:
        tick = client.symbol_info_tick("GBPUSD")
        assert tick is not None, client.last_error()
        for kind, price in ((mtgateway.ORDER_TYPE_SELL_LIMIT, tick.bid + 0.01),
                            (mtgateway.ORDER_TYPE_BUY_LIMIT, tick.ask - 0.01)):
            placed = client.order_send({"action": mtgateway.TRADE_ACTION_PENDING,
                                        "symbol": "GBPUSD", "volume": 0.2, "type": kind,
                                        "price": round(price, 5)})
            assert placed is not None and placed.retcode == 10009, client.last_error()
        for symbol in ("USDCHF", "EURUSD"):
            bought = client.order_send({"action": mtgateway.TRADE_ACTION_DEAL,
                                        "symbol": symbol, "volume": 0.01,
                                        "type": mtgateway.ORDER_TYPE_BUY})
            assert bought is not None and bought.retcode == 10009, client.last_error()
        opened = client.order_send({"action": mtgateway.TRADE_ACTION_DEAL, "symbol": "GBPUSD",
                                    "volume": 0.01, "type": mtgateway.ORDER_TYPE_BUY})
        assert opened is not None and opened.retcode == 10009, client.last_error()
        closed = client.order_send({"action": mtgateway.TRADE_ACTION_DEAL, "symbol": "GBPUSD",
                                    "volume": 0.01, "type": mtgateway.ORDER_TYPE_SELL,
                                    "position": opened.order})
        assert closed is not None and closed.retcode == 10009, client.last_error()
        return opened.order


# -- reading what the documentation prints ---------------------------------------------------

_ASDICT_LINE = re.compile(r"^\s+(traderequest: )?(\w+)=(.*)$")
_DICT_ITEM = re.compile(r"'(\w+)': ('[^']*'|[^,}]*)")


def _kind(text: str) -> str:
    """The Python type a printed value was: bool, int, float or str."""
    text = text.strip()
    if text in ("True", "False"):
        return "bool"
    if re.fullmatch(r"-?\d+", text):
        return "int"
    if re.fullmatch(r"-?(\d+\.\d*(e[-+]?\d+)?|\d+e[-+]?\d+|inf|nan)", text):
        return "float"
    return "str"


def _walks(text: str) -> list[tuple[tuple[str, str, str], ...]]:
    """The ``name=value`` walks of ``_asdict()``: runs of such lines, each line as (prefix,
    name, kind of value); a run restarts where its first name comes again."""
    walks: list[list[tuple[str, str, str]]] = []
    current: list[tuple[str, str, str]] = []
    for line in text.splitlines():
        match = _ASDICT_LINE.match(line)
        if match is None or "(" in match.group(2):
            if current:
                walks.append(current)
                current = []
            continue
        item = (match.group(1) or "", match.group(2), _kind(match.group(3)))
        if current and item[:2] == current[0][:2]:
            walks.append(current)
            current = []
        current.append(item)
    if current:
        walks.append(current)
    return [tuple(w) for w in walks if len(w) > 1]


def _dicts(text: str) -> set[tuple[tuple[str, str], ...]]:
    """Every printed dict of a line, as its (key, kind) pairs."""
    return {tuple((key, _kind(value.strip("'") if not value.startswith("'") else "s"))
                  for key, value in _DICT_ITEM.findall(line))
            for line in text.splitlines() if line.startswith("{'")}


def _reprs(text: str) -> dict[str, list[tuple[str, ...]]]:
    """Record type → the field-name sequences its printed reprs show (a repr the page cuts
    short with ``...`` gives the names before the cut)."""
    found: dict[str, list[tuple[str, ...]]] = {}
    for line in text.splitlines():
        for match in re.finditer(r"\b(" + "|".join(RECORDS) + r")\(", line):
            body = line[match.end():]
            depth, end = 1, len(body)
            for i, ch in enumerate(body):
                depth += ch == "("
                depth -= ch == ")"
                if depth == 0:
                    end = i
                    break
            inner = body[:end]
            cut = end == len(body) or inner.rstrip().endswith("...")
            names = re.findall(r"(?:^|, )(\w+)=", re.sub(r"\w+\([^()]*\)", "X", inner))
            if cut and names:
                names = names[:-1]
            if names:
                found.setdefault(match.group(1), []).append(tuple(names))
    return found


def _headers(text: str) -> list[tuple[str, ...]]:
    """DataFrame headers: a line of names above a row ``0 ...``."""
    lines = text.splitlines()
    return [tuple(lines[i].split()) for i in range(len(lines) - 1)
            if re.match(r"^0\s", lines[i + 1]) and lines[i].split()
            and all(re.fullmatch(r"\w+", word) for word in lines[i].split())]


def _check_against_result(stem: str, printed: str) -> None:
    path = EXAMPLES / f"{stem}.result.txt"
    if not path.exists():
        return
    page = path.read_text(encoding="utf-8")
    ours = _reprs(printed)
    for name, sequences in _reprs(page).items():
        assert name in ours, (stem, name, printed)
        for names in sequences:
            assert any(mine[:len(names)] == names for mine in ours[name]), (
                stem, name, names, ours[name])
    walks = set(_walks(printed))
    for walk in _walks(page):
        assert walk in walks, (stem, walk, sorted(walks))
    dicts = _dicts(printed)
    for item in _dicts(page):
        assert item in dicts, (stem, item, dicts)
    headers = set(_headers(printed))
    for header in _headers(page):
        assert header in headers, (stem, header, headers)


#: Lines each example must print (beyond the Result's structures), with the demo's figures.
EXPECTED_LINES: dict[str, tuple[str, ...]] = {
    "initialize": ("TerminalInfo(community_account=", "(500, "),
    "login": (f"failed to connect at account #{LOGIN + 1}, error code: (-6, ",
              f"AccountInfo(login={LOGIN}, "),
    "shutdown": ("TerminalInfo(",),
    "version": ("terminal_info() as dataframe:",),
    "symbols_total": ("Total symbols = 11",),
    "symbols_get": ("Symbols:  11", "len(*RU*):  1", "EURUSD",
                    "len(*,!*USD*,!*EUR*,!*JPY*,!*GBP*): 3", "USOIL : SymbolInfo(custom="),
    "symbol_info": ("spread =", "digits = 3"),
    "symbol_info_tick": ("Tick(time=",),
    "symbol_select": ("EURCAD: currency_base = AUD   currency_profit = USD   "
                      "currency_margin = AUD", "[96 rows x 2 columns]"),
    "market_book_get": ("(BookInfo(type=1, price=",),
    "copy_rates_from": ("Display dataframe with data",),
    "copy_ticks_from": ("Ticks received: 100000",),
    "orders_total": ("Total orders= 2",),
    "orders_get": ("Total orders on GBPUSD: 2", 'orders_get(group="*GBP*")=2'),
    "order_calc_margin": ("USDJPY buy 0.1 lot margin: ",),
    "order_check": ("OrderCheckResult(retcode=0, ",),
    "order_send": ("2. order_send done, ", "4. position #", "   retcode=10009"),
    "positions_total": ("Total positions=",),
    "positions_get": ('positions_get(group="*USD*")=2', "TradePosition(ticket="),
    "history_orders_get": ("Total history orders on position #",),
    "history_deals_get": ("Deals with position id #",),
}


@pytest.mark.not_on_windows("third-party")
async def test_the_documentation_examples_print_what_the_documentation_shows(
        demo: Path, tmp_path: Path) -> None:
    """All 30 examples against one demo: each runs to its end, prints its page's structures
    with their fields in order and their Python types, its arrays have the package's dtypes;
    the examples that order as written (ORDER_FILLING_RETURN) print their failure branch."""
    # every example runs in this environment: its `import MetaTrader5` is the client's, checked
    # once (reading every distribution's file list costs ~0.3 s of CPU; it was done per example)
    assert shim_problem() is None, shim_problem()
    position_id = await asyncio.to_thread(_make_state, demo)
    async with examples(demo, tmp_path) as runner:
        await _run_all(runner, position_id)


async def _run_all(runner: Examples, position_id: int) -> None:
    """Every example as the page wrote it but for :data:`CHANGES`, then the two that order
    as written."""
    failures: list[str] = []
    for stem in sorted(set(FUNCTIONS.values())):
        printed, dump = await runner.run(stem, position_id, CHANGES.get(stem, []))
        try:
            assert "Traceback" not in printed, printed
            _check_against_result(stem, printed)
            for line in EXPECTED_LINES.get(stem, ()):
                assert line in printed, (line, printed)
            if stem.startswith("copy_rates"):
                assert dump["rates"]["dtype"] == RATES_DTYPE and dump["rates"]["len"] > 0, dump
            if stem.startswith("copy_ticks"):
                assert dump["ticks"]["dtype"] == TICKS_DTYPE and dump["ticks"]["len"] > 0, dump
        except AssertionError as exc:
            failures.append(f"{stem}: {exc}"[:3000])
    assert failures == [], "\n\n".join(failures)
    # as the page wrote them: RETURN filling is refused (10030) and the failure branch prints
    for stem in ("order_check", "order_send"):
        printed, _ = await runner.run(stem, position_id,
                                      [c for c in CHANGES[stem] if "FILLING" not in c[0]])
        assert "retcode=10030" in printed, printed

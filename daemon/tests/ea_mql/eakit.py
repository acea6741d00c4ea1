"""The MQL5 EA, compiled as C++ and run as a process: what the EA tests and the bench share.

* :func:`build_ea` runs ``kit/mqlpp.py`` over ``ea_bridge/mql/MQL5`` (first the language gate,
  ``kit/mqlgate.py``: what MetaEditor refuses fails the build here, naming file, line and word),
  and compiles the result
  with ``g++ -Werror`` and MetaEditor's warnings' nearest equivalents (conversion, sign,
  shadowing; ``[[nodiscard]]`` where MetaEditor says "return value of 'OrderSend' should
  be checked"), MetaEditor's warnings judged besides by ``kit/mqlwarn.py`` (:func:`judged`:
  every warning in the program's own code refuses the build, named by MetaEditor's number and
  words) against the kit: ``kit/common/`` (the language as MQL4 and MQL5 share it, the
  Windows clock, the runtime's event rules) and ``kit/mql5/`` (MQL5, its sockets, the fake
  terminal, the harness). The Expert Advisor and every indicator under ``Indicators/`` go into
  one binary, each program in its own namespace. The binary is cached in the temp directory
  under the hash of every source and flag, so a session (and CI) compiles once; a tree
  elsewhere (an installed copy, a probe) is preprocessed, then compiled only if no earlier
  build compiled the same preprocessed text against the same kit (:func:`compile_once`).
* :func:`write_fixture` writes the fake terminal's fixture from the Python emulator's own
  answers, so the compiled EA and the emulator serve the same account, symbols and history.
* :class:`CompiledEA` starts the binary pointed at a daemon, keeps what it prints (its Experts
  log and ``CHART:`` lines, the text ``Comment`` puts on the chart), and stops it with SIGTERM,
  which the harness turns into ``OnDeinit``.
* :func:`mtgateway` runs our command as a user does (``mtgateway ea install`` in the MT5 and
  MT4 install tests).

g++ and the OpenSSL headers (Debian: ``g++ libssl-dev``) are required; ``.ci/run`` installs
them, and :func:`build_ea` says so when they are missing instead of skipping.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from daemon.tests.ea_mql.kit import mqlwarn
from ea_bridge.emulator.terminal import EmulatedTerminal

ROOT = Path(__file__).resolve().parents[3]
MQL5_DIR = ROOT / "daemon" / "src" / "ea_bridge" / "mql" / "MQL5"
KIT = Path(__file__).resolve().parent / "kit"
CXXFLAGS = ("-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror",
            # MetaEditor's warnings 43 (possible loss of data), 44 (truncation of constant
            # value), 45 (sign mismatch: a comparison, and int given to uint as MQL warns
            # where C++ needs -Wsign-conversion) and 61/62/72 (declaration hides another);
            # kit/mqlwarn.py names each g++ warning by MetaEditor's number and words
            "-Wconversion", "-Wsign-conversion", "-Wsign-compare", "-Wshadow",
            # MQL5 handlers have fixed signatures (OnDeinit's reason, OnTradeTransaction's
            # request and result): an unused parameter there is not a defect
            "-Wno-unused-parameter")
WAIT_S = 10.0


class BuildError(RuntimeError):
    """The EA did not preprocess or compile; the message carries the compiler's words."""


def _sources() -> list[Path]:
    return sorted([*MQL5_DIR.rglob("*.mq5"), *MQL5_DIR.rglob("*.mqh"), *KIT.rglob("*.h"),
                   *KIT.rglob("*.cpp"), *KIT.rglob("*.py"), *KIT.rglob("*.toml")])


def source_hash() -> str:
    """Hash of every EA and kit source plus the flags: the cache key of the binary."""
    digest = hashlib.sha256(" ".join(CXXFLAGS).encode())
    for path in _sources():
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def programs_file(work: Path) -> str:
    """The MQL_PROGRAMS file: every program of the preprocessed tree in its own namespace.

    The Expert Advisor (the one ``Experts/*.mq5``) becomes ``mqlp_expert``; each indicator
    ``Indicators/<path>.mq5`` registers under the name iCustom gives it (``<path>`` with
    backslashes, no extension).
    """
    experts = sorted((work / "Experts").glob("*.mq5"))
    if len(experts) != 1:
        raise BuildError(f"the kit runs exactly one Expert Advisor; found {len(experts)}")
    lines = [f"#define MQL_EXPERT_NAME {_c_string(experts[0].stem)}",
             "#define MQL_PROGRAM MQL_EXPERT_NAME",
             *pedantic("namespace mqlp_expert { using namespace mqlfb;",
                       f"#include {_c_string(str(experts[0]))}", "}"),
             "#undef MQL_PROGRAM"]
    for k, ind in enumerate(sorted((work / "Indicators").rglob("*.mq5"))):
        label = _c_string("\\".join(ind.relative_to(work / "Indicators").with_suffix("").parts))
        lines += [f"#define MQL_PROGRAM {label}",
                  *pedantic(f"namespace mqlp_ind_{k} {{ using namespace mqlfb;",
                            f"#include {_c_string(str(ind))}", "}"),
                  "#undef MQL_PROGRAM",
                  f"static const bool mqlp_registered_{k} = "
                  f"MQL_BIND_INDICATOR(mqlp_ind_{k}, {label});"]
    return "\n".join(lines) + "\n"


def _compile_key(pre: Path, kit_dirs: Sequence[Path], flags: Sequence[str]) -> str:
    """What g++ is given: the preprocessed tree ``pre`` (each file's path in it and bytes, the
    tree's own place left out: it is a fresh temporary directory), the kit's C++ sources in
    ``kit_dirs`` and the flags."""
    digest = hashlib.sha256("\0".join(flags).encode())
    place = str(pre).encode()
    for k, root in enumerate((pre, *kit_dirs)):
        digest.update(f"\0{k}".encode())
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            digest.update(b"\0" + str(path.relative_to(root)).encode() + b"\0")
            digest.update(path.read_bytes().replace(place, b"<tree>"))
    return digest.hexdigest()[:20]


def compile_once(pre: Path, kit_dirs: Sequence[Path], flags: Sequence[str],
                 compile_to: Callable[[Path], None], binary: Path) -> Path:
    """``binary``, compiled by ``compile_to(path)`` from the preprocessed tree ``pre``, or
    copied from the temp directory where an earlier build of the same text against the same
    kit and flags left it (:func:`_compile_key`): an installed copy of the EA, a probe built
    again, compile once a machine, as the EA itself does. The language gate and the
    preprocessor ran on the tree before (what an installed tree lacks fails there); g++ of the
    same input gives the same program, and the same refusal: a failed compile leaves its
    message (the tree's place in it kept as ``<tree>``), so a probe the build must refuse (a
    MetaEditor warning's, daemon/tests/ea_mql/test_mqlwarn.py) is compiled once a machine too.

    Raises:
        BuildError: from ``compile_to``, or its message kept from an earlier compile.
    """
    cache = Path(tempfile.gettempdir()) / f"mtgw-ea-cc-{_compile_key(pre, kit_dirs, flags)}"
    cached = cache / binary.name
    refused = cache / f"{binary.name}.refused"
    if refused.exists():
        raise BuildError(refused.read_text(encoding="utf-8").replace("<tree>", str(pre)))
    if not cached.exists():
        made = pre / f".{binary.name}.built"  # the key is taken: the tree may hold it
        try:
            compile_to(made)
        except BuildError as exc:
            if "error:" in str(exc):     # g++ judged the text (not a compiler killed midway)
                cache.mkdir(parents=True, exist_ok=True)
                part = refused.with_name(f"{refused.name}.{os.getpid()}-"
                                         f"{threading.get_ident()}")
                part.write_text(str(exc).replace(str(pre), "<tree>"), encoding="utf-8")
                os.replace(part, refused)
            raise
        cache.mkdir(parents=True, exist_ok=True)
        _put(made, cached)
    binary.parent.mkdir(parents=True, exist_ok=True)
    _put(cached, binary)
    return binary


def build_flags(flags: Sequence[str], judge: bool) -> tuple[str, ...]:
    """g++'s flags for a build that judges (``flags``) or only measures (the same, warnings
    no longer errors)."""
    return tuple(flags) if judge else (*flags, "-Wno-error")


def judged(source: Path, lang: str, pre: Path, binary: Path,
           compile_to: Callable[[Path], Path]) -> Path:
    """``compile_to(binary)`` with MetaEditor's warnings judged (kit/mqlwarn.py): the reader's,
    on the ``source`` tree, and those of g++'s diagnostics in the preprocessed tree ``pre``.
    A program MetaEditor would warn about is refused as one it would not compile is, each
    warning named by MetaEditor's number and words before g++'s own output; its binary is
    left in ``pre`` (never at ``binary``, where a later build would take it for a clean one).

    Raises:
        BuildError: a warning, or g++'s error.
    """
    reader = mqlwarn.reader_warnings(source, lang)
    enums = mqlwarn.program_enums(source, lang)
    try:
        built = compile_to(binary if not reader else pre / ".warned" / binary.name)
    except BuildError as exc:
        raise BuildError(mqlwarn.explain(str(exc), pre, reader, enums)) from None
    if reader:
        raise BuildError(mqlwarn.explain("", pre, reader, enums))
    return built


def _put(source: Path, target: Path) -> None:
    """``source`` copied to ``target`` atomically: a parallel build never sees half."""
    part = target.with_name(f"{target.name}.{os.getpid()}-{threading.get_ident()}.part")
    shutil.copy2(source, part)
    os.replace(part, target)


def pedantic(*lines: str) -> list[str]:
    """``lines`` (a program's ``#include`` in its namespace) held to ISO C++: every GNU
    extension g++ takes silently (case ranges, ``?:`` without its middle operand, statement
    expressions, compound literals, zero-size arrays) is an error in the program's own code.
    The kit's headers are system headers (``-isystem``) and keep the extensions they use; the
    flag itself, ``-pedantic-errors``, would hold them too."""
    return ["#pragma GCC diagnostic push", '#pragma GCC diagnostic error "-Wpedantic"', *lines,
            "#pragma GCC diagnostic pop"]


def build_ea(mql5_dir: Path = MQL5_DIR, out_dir: Path | None = None, kit: Path = KIT,
             judge: bool = True) -> Path:
    """Preprocess and compile the EA against ``kit`` (another revision's, for the bench's
    A/B); returns the binary (cached by source hash). ``judge`` False: a build to measure,
    not to judge (the bench's other revision, written against its own kit's rules: g++'s
    warnings fail nothing and MetaEditor's are not read, :func:`build_flags`).

    Raises:
        BuildError: the language gate refused the source, or g++ failed (their output is the
            message).
    """
    if shutil.which("g++") is None or not Path("/usr/include/openssl/sha.h").exists():
        raise BuildError("the EA tests compile the EA with g++ against OpenSSL: install them "
                         "(Debian/Ubuntu: sudo apt-get install g++ libssl-dev); .ci/run does")
    default = mql5_dir == MQL5_DIR and out_dir is None and kit == KIT
    if out_dir is None:
        out_dir = Path(tempfile.gettempdir()) / f"mtgw-ea-{source_hash()}"
    binary = out_dir / "mtgateway-ea"
    if default and binary.exists():
        return binary
    work = Path(tempfile.mkdtemp(prefix="mtgw-ea-build-"))
    try:
        pre = subprocess.run([sys.executable, str(kit / "mqlpp.py"), "--lang", "mql5",
                              str(mql5_dir), str(work)],
                             capture_output=True, text=True, check=False)
        if pre.returncode != 0:
            raise BuildError(pre.stderr.strip())
        programs = work / "programs.inc"
        programs.write_text(programs_file(work), encoding="utf-8")

        flags = build_flags(CXXFLAGS, judge)

        def compile_to(output: Path) -> None:
            cc = subprocess.run(
                ["g++", *flags, "-isystem", str(kit / "common"), "-isystem",
                 str(kit / "mql5"), "-I", str(work / "Include"), f'-DMQL_PROGRAMS="{programs}"',
                 str(kit / "mql5" / "harness.cpp"), "-o", str(output), "-lcrypto"],
                capture_output=True, text=True, check=False)
            if cc.returncode != 0:
                raise BuildError(cc.stderr.strip())

        def compiled(target: Path) -> Path:
            return compile_once(work, (kit / "common", kit / "mql5"), flags, compile_to, target)
        return judged(mql5_dir, "mql5", work, binary, compiled) if judge else compiled(binary)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def probe_cache(source: str, kit_hash: str) -> Path:
    """Where a probe program's binary is kept: under the hash of its text and of the kit (and
    the EAs, with the flags), as the EAs' binaries are, so a session or a CI run with a cache
    compiles it once."""
    digest = hashlib.sha256((kit_hash + "\0" + source).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"mtgw-probe-{digest}"


def build_probe(work: Path, source: str) -> Path:
    """A one-file Expert Advisor (``source``, the MQL5 text) built against the kit in ``work``:
    the kit's own tests run such probes to show one behaviour of the kit. The binary is cached
    like the EA's (:func:`probe_cache`)."""
    cached = probe_cache(source, source_hash()) / "mtgateway-ea"
    if cached.exists():
        return cached
    tree = work / "MQL5"
    (tree / "Experts").mkdir(parents=True)
    (tree / "Include").mkdir()
    (tree / "Experts" / "Probe.mq5").write_text(source, encoding="utf-8")
    return build_ea(tree, cached.parent)


def write_fixture(path: Path, terminal: EmulatedTerminal, *, live_ticks: int = 60,
                  history_s: int = 900, **switches: Any) -> dict[str, Any]:
    """Write the fake terminal's fixture from ``terminal``'s answers; returns it.

    ``live`` ticks continue each symbol's last quote in groups of three that share a
    millisecond; the fake terminal makes them arrive 20 ms apart from 250 ms after the EA's
    first timer pass
    (each symbol may say otherwise: ``live_every_ms``, ``live_poisson_hz``). ``switches`` are
    the fake terminal's (``kit/mql5/mql5_terminal.h``): ``history_synchronized`` (False:
    bars, ticks and trade history never finish loading), ``trade_allowed``, ``logged_in``,
    ``tester``, ``allowed_hosts``, ``series_build_ms``, ``ticks_local_from_ms``,
    ``tick_sync_ms``, ``order_latency_ms``, ``tx_order`` ("book" or "shuffle"),
    ``timer_failures``, ``seed``; ``symbol_switches`` maps a symbol to its own (``live_every_ms``,
    ``deal_max_volume``, ``liquidity``, ...).
    """
    return finish_fixture(path, terminal_answers(terminal, history_s=history_s),
                          live_ticks=live_ticks, **switches)


def terminal_answers(terminal: EmulatedTerminal, *, history_s: int = 900) -> dict[str, Any]:
    """What a fixture takes from ``terminal``: its clock, account, symbols (their info, the
    last ``history_s`` of ticks, 600 M1 bars), positions, orders and history -- the costly
    part of a fixture (a quarter of a second of CPU), a plain JSON value that
    :func:`finish_fixture` completes."""
    methods = terminal._method_table()  # the emulator's own answers, by MT5 method name
    now_ms = terminal.server_time_ms()
    now_s = now_ms // 1000
    symbols: dict[str, Any] = {}
    for spec in terminal.market.specs():
        name = spec.name
        info = methods["symbol_info"](symbol=name)
        rows = methods["copy_ticks_range"](symbol=name, date_from=now_s - history_s,
                                           date_to=now_s, flags=-1)["rows"]
        ticks = [[r[5], r[1], r[2], r[3], r[4], r[6], r[7]] for r in rows]
        last = methods["symbol_info_tick"](symbol=name)
        if not ticks or ticks[-1][0] < last["time_msc"]:
            ticks.append([last["time_msc"], last["bid"], last["ask"], last["last"],
                          last["volume"], last["flags"], last["volume_real"]])
        bars = methods["copy_rates_from_pos"](symbol=name, timeframe=1, start_pos=0,
                                              count=600)["rows"]
        symbols[name] = {"info": info, "ticks": ticks, "m1": bars}
    # The fake terminal's clock starts where the emulator's clock is once every answer above
    # was read: the emulator's clock ran on meanwhile (seconds, on a loaded machine), and a
    # clock started from the first reading would run behind the quotes' stamps, so the fake
    # server would stamp an order seconds before the last quote it sent (no trade server
    # does: one clock stamps both).
    now_ms = max(now_ms, terminal.server_time_ms())
    return {
        "now_ms": now_ms,
        "tz_offset_s": terminal.settings.tz_offset_s,
        "account": methods["account_info"](),
        "terminal": methods["terminal_info"](),
        "symbols": symbols,
        "positions": methods["positions_get"](),
        "orders": methods["orders_get"](),
        "history_orders": methods["history_orders_get"](date_from=0, date_to=now_s + 86400),
        "deals": methods["history_deals_get"](date_from=0, date_to=now_s + 86400),
    }


def finish_fixture(path: Path, answers: dict[str, Any], *, live_ticks: int = 60,
                   **switches: Any) -> dict[str, Any]:
    """The fixture of :func:`write_fixture` from a terminal's :func:`terminal_answers`
    (taken over, not copied): each symbol's live ticks and switches, the fake terminal's
    switches; written to ``path`` and returned."""
    symbol_switches: dict[str, dict[str, Any]] = switches.pop("symbol_switches", {})
    now_ms, symbols = answers["now_ms"], answers["symbols"]
    for name, symbol in symbols.items():
        symbol.update(symbol_switches.get(name, {}))
    for symbol in symbols.values():
        info, ticks = symbol["info"], symbol["ticks"]
        live = []
        msc, bid, ask = max(ticks[-1][0], now_ms) + 1, ticks[-1][1], ticks[-1][2]
        step = info["point"]
        for k in range(live_ticks):
            if k % 3 == 0:
                msc += 7
            bid = round(bid + step * (1 if k % 2 else -1) * (k % 5), info["digits"])
            ask = round(bid + info["spread"] * step, info["digits"])
            live.append([msc, bid, ask, 0.0, 0, 6, 0.0])
        symbol["live"] = live
    fixture: dict[str, Any] = {**answers, **switches}
    path.write_text(json.dumps(fixture), encoding="utf-8")
    return fixture


class CompiledEA:
    """The compiled EA as a child process, pointed at a daemon's bridge port."""

    def __init__(self, binary: Path, fixture: Path, *, token: str, port: int,
                 host: str = "127.0.0.1", timer_ms: int = 10, wait_ms: int = 9,
                 max_rows: int = 20000, quirks: Mapping[str, str] | None = None,
                 inputs: Mapping[str, str] | None = None) -> None:
        """``quirks``: the kit's MQLSHIM_* switches; ``inputs``: other EA inputs by name."""
        self.binary, self.fixture = binary, fixture
        self.env = {**os.environ, "MTGW_FIXTURE": str(fixture), "MTGW_TOKEN": token,
                    "MTGW_HOST": host, "MTGW_PORT": str(port), "MTGW_TIMER_MS": str(timer_ms),
                    "MTGW_WAIT_MS": str(wait_ms), "MTGW_MAX_ROWS": str(max_rows),
                    **(quirks or {}),
                    **{f"MQL_INPUT_{name}": value for name, value in (inputs or {}).items()}}
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self._changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> CompiledEA:
        self.proc = await asyncio.create_subprocess_exec(
            str(self.binary), env=self.env, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        self._reader = asyncio.create_task(self._read())
        return self

    async def control(self, line: str, timeout_s: float = WAIT_S) -> None:
        """Act as the user or the broker in the fake terminal (``login``, ``close 5001``,
        ``chart_change``, ...: the control commands of ``kit/``); returns once it is applied.

        Raises:
            AssertionError: the kit refused the command (its reason is in the message).
        """
        assert self.proc is not None and self.proc.stdin is not None
        seen = len(self.lines)
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()
        done = (f"KIT: ok {line}", f"KIT: error {line}")
        await self.wait_for(lambda lines: any(x.startswith(done) for x in lines[seen:]), timeout_s)
        refused = [x for x in self.lines[seen:] if x.startswith(done[1])]
        assert not refused, refused[0]

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append(line.decode(errors="replace").rstrip("\n"))
            self._changed.set()
        self._changed.set()

    @property
    def chart(self) -> list[str]:
        """Every text the EA put on the chart with Comment, oldest first."""
        return [line[len("CHART: "):] for line in self.lines if line.startswith("CHART: ")]

    async def wait_for(self, predicate: Callable[[list[str]], bool],
                       timeout_s: float = WAIT_S) -> None:
        """Wait until ``predicate(lines)`` holds; the output is in the failure message."""
        try:
            async with asyncio.timeout(timeout_s):
                while not predicate(self.lines):
                    if self.proc is not None and self.proc.returncode is not None \
                            and self._reader is not None and self._reader.done():
                        raise AssertionError("the EA exited")
                    self._changed.clear()
                    await self._changed.wait()
        except (TimeoutError, AssertionError) as exc:
            raise AssertionError(f"EA output did not match ({exc!r}):\n"
                                 + "\n".join(self.lines[-40:])) from None

    async def wait_for_chart(self, text: str, timeout_s: float = WAIT_S) -> None:
        await self.wait_for(lambda _: any(text in c for c in self.chart), timeout_s)

    async def stop(self) -> int:
        """SIGTERM (the harness runs OnDeinit, which says bye); returns the exit code."""
        assert self.proc is not None
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(WAIT_S):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            await self._reader
        assert self.proc.returncode is not None
        return self.proc.returncode

    async def __aenter__(self) -> CompiledEA:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        code = await self.stop()
        # pytest shows a test's captured output only when it fails: then the EA's own last
        # words (why it dropped the connection, an abort) are beside the assertion.
        print(f"== the EA's last output (exit code {code}):", *self.lines[-40:], sep="\n")


def mtgateway(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m gateway ARGS`` in a process, its output as text (never raises on failure)."""
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True,
                          text=True, timeout=60, check=False)

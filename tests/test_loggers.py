"""Every logger is named after its module (``__name__``), but for the two documented channels.

A line's logger then says where the line was made. ``gateway.security`` and ``gateway.access``
are channels: named for what they carry, written from several modules, and what an operator
routes or filters by. The calls are read from the source with :mod:`ast`, so no spelling of
``getLogger`` slips past. The names modules wrote by hand before are each in the "Renamed
loggers" table of ``docs/operations.md`` with the loggers that replace them, and those exist.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPERATIONS = ROOT / "docs" / "operations.md"

#: Each package of ours and the folder its source lives in.
PACKAGES = {"gateway": ROOT / "daemon" / "src", "ea_bridge": ROOT / "daemon" / "src",
            "mt5model": ROOT / "daemon" / "src",
            "mtgateway": ROOT / "client" / "src", "mtgateway_base": ROOT / "base" / "src",
            "mtgateway_console": ROOT / "console" / "src"}

#: The documented channels (``docs/operations.md``, "Loggers"; ``docs/security.md``).
CHANNELS = frozenset({"gateway.security", "gateway.access"})

#: The names modules gave their loggers by hand before every logger took its module's name
#: (``gateway.authority``: the console's parent, which the daemon's setup quieted).
OLD_NAMES = frozenset({
    "gateway.authority", "gateway.authority.console", "gateway.authority.web",
    "gateway.authority.service", "gateway.authority.database", "gateway.authority.mailer",
    "gateway.authority.alerts", "gateway.descriptors", "gateway.guard", "gateway.base.files",
    "mtgateway.httpedge", "mtgateway.environment", "gateway.auth.reporter", "gateway.trading",
    "ea_bridge.emulator"})


def _module_name(path: Path, where: Path) -> str:
    parts = list(path.relative_to(where).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(packages: dict[str, Path]) -> dict[str, Path]:
    """Every module and package of ours by its dotted name."""
    return {_module_name(path, where): path for package, where in packages.items()
            for path in sorted((where / package).rglob("*.py"))}


def _is_get_logger(call: ast.Call) -> bool:
    func = call.func
    return (isinstance(func, ast.Attribute) and func.attr == "getLogger"
            and isinstance(func.value, ast.Name) and func.value.id == "logging") or (
        isinstance(func, ast.Name) and func.id == "getLogger")


def hand_named(packages: dict[str, Path]) -> list[str]:
    """Each ``file:line`` whose ``getLogger`` breaks the rule: a module-level logger named
    other than ``__name__`` or a channel; a name of ours that is no module or package (a
    stale one); a name that is not written out (it cannot be checked). A third party's logger
    (``psycopg.pool``) and the root logger are not ours to name."""
    known = modules(packages)
    found: list[str] = []
    for path in known.values():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        module_level = {id(node.value) for node in tree.body
                        if isinstance(node, ast.Assign | ast.AnnAssign)}
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call) or not _is_get_logger(call) or not call.args:
                continue
            (argument,) = call.args
            where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{call.lineno}"
            if isinstance(argument, ast.Name) and argument.id == "__name__":
                continue
            if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
                found.append(f"{where} names a logger the scan cannot read")
            elif argument.value in CHANNELS or argument.value.split(".")[0] not in packages:
                continue
            elif id(call) in module_level:
                found.append(f"{where} names its logger {argument.value!r}: use __name__")
            elif argument.value not in known:
                found.append(f"{where} names {argument.value!r}, which no module of ours has")
    return found


def _section(heading: str) -> str:
    text = OPERATIONS.read_text(encoding="utf-8")
    return text.split(f"\n### {heading}\n", 1)[1].split("\n#", 1)[0]


def renamed_table() -> dict[str, list[str]]:
    """The "Renamed loggers" table: each old name and the loggers that replace it."""
    table: dict[str, list[str]] = {}
    for line in _section("Renamed loggers").splitlines():
        cells = line.split("|")[1:-1]
        if len(cells) == 2 and (old := re.match(r"\s*`([\w.]+)`", cells[0])):
            table[old.group(1)] = re.findall(r"`([\w.]+)`", cells[1])
    return table


def test_every_logger_is_named_after_its_module_or_is_a_channel() -> None:
    """No module of the daemon, the bridge, the client, the ground floor or the console names
    its logger by hand, and no ``getLogger`` names a logger of ours that no module has."""
    assert hand_named(PACKAGES) == []


def test_the_scan_finds_every_form_of_a_hand_named_logger(tmp_path: Path) -> None:
    """A module-level logger by hand (``logging.getLogger`` and a bare ``getLogger``), a stale
    name inside a function and an unreadable name are found; ``__name__``, a channel, a third
    party's logger, the root and a package's name are not."""
    package = tmp_path / "gateway"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "good.py").write_text(
        "import logging\nfrom logging import getLogger\n"
        "log = logging.getLogger(__name__)\nsecurity = getLogger('gateway.security')\n"
        "def f():\n    logging.getLogger('psycopg.pool')\n    logging.getLogger()\n"
        "    logging.getLogger('gateway').setLevel(40)\n", encoding="utf-8")
    (package / "bad.py").write_text(
        "import logging\nfrom logging import getLogger\n"
        "log = logging.getLogger('gateway.bad')\nother: logging.Logger = getLogger('gateway')\n"
        "def f(name):\n    logging.getLogger('gateway.old.name')\n"
        "    logging.getLogger(name)\n", encoding="utf-8")
    found = hand_named({"gateway": tmp_path})
    assert [line.split(" ", 1)[0].rsplit(":", 1)[1] for line in found] == ["3", "4", "6", "7"]
    assert all("bad.py" in line for line in found), found


def test_the_renamed_table_covers_every_old_name_with_loggers_that_exist() -> None:
    """Each name modules once wrote by hand has its row in ``docs/operations.md``, and each
    name a row gives in its place is a module or package of ours (a module's logger is its
    ``__name__``, by the scan above)."""
    table = renamed_table()
    assert set(table) == OLD_NAMES
    known = modules(PACKAGES)
    for old, new in table.items():
        assert new, f"{old}: no new name"
        for name in new:
            assert name in known, f"{old} -> {name}: no such module"
            if known[name].name != "__init__.py":
                assert "getLogger(__name__)" in known[name].read_text(encoding="utf-8"), \
                    f"{old} -> {name}: that module has no logger"


def test_the_channels_in_the_code_are_the_documented_ones() -> None:
    """The hand-written names the code keeps, but a package's own (the daemon's setup quiets
    ``mtgateway_console``), are the two channels, each in the "Loggers" table."""
    written = {node.args[0].value for path in modules(PACKAGES).values()
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, ast.Call) and _is_get_logger(node) and node.args
               and isinstance(node.args[0], ast.Constant)
               and str(node.args[0].value).split(".")[0] in PACKAGES}
    assert written - set(modules(PACKAGES)) == CHANNELS
    documented = set(re.findall(r"^\| `([\w.]+)` \|", _section("Loggers"), re.MULTILINE))
    assert documented == CHANNELS

"""SQL stands only in the console's table modules and its store: the service, the door and
the entry points ask them (Synapse's rule: every statement in a store of its table family).

The rooms above the tables are read with :mod:`ast`: no string in them begins a statement
(``SELECT``, ``INSERT``, ``UPDATE``, ``DELETE``, ``CREATE``...), so a rule that wants a new
read or write gets a function in the table module of its family, where the statements of
that table are seen together.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import mtgateway_console

CONSOLE = Path(mtgateway_console.__file__).resolve().parent
#: The rooms above the tables: the rules and everything that serves them.
ABOVE_THE_TABLES = ("service", "door", "routes", "web", "mt4api")
_STATEMENT = re.compile(r"^\s*(SELECT\s.*\sFROM\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|"
                        r"DELETE\s+FROM\s|CREATE\s+(UNIQUE\s+)?(TABLE|INDEX)\s|DROP\s|"
                        r"ALTER\s+TABLE\s)", re.IGNORECASE | re.DOTALL)


def statements_in(folder: Path) -> list[str]:
    """Each ``file:line`` of a string that begins an SQL statement under ``folder``."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and _STATEMENT.match(node.value):
                found.append(f"{path.relative_to(folder)}:{node.lineno}")
    return found


def test_no_sql_above_the_tables() -> None:
    """The service's rooms, the door and the three entry points hold no statement."""
    found = [f"{room}/{hit}" for room in ABOVE_THE_TABLES
             for hit in statements_in(CONSOLE / room)]
    assert not found, found


def test_the_check_finds_a_statement(tmp_path: Path) -> None:
    """A statement split over lines, after white space, in any case, is found; a sentence
    that starts with one of the words is not."""
    (tmp_path / "room.py").write_text(
        'A = ("  select 1 FROM owners "\n     "WHERE x = ?")\n'
        'B = "Update your password to go on"\n', encoding="utf-8")
    hits = [hit.rsplit(":", 1)[1] for hit in statements_in(tmp_path)]
    assert hits == ["1"]


#: The families whose statements stay in the store: the rows it seals under the data key
#: (tokens' server keys, accounts' MT5 passwords; ``tokens_v7`` is schema 7's rebuild of the
#: first) and the proofs' replays, whose sweep keeps its time in the store. Each other family
#: has its table module (``owners``, ``approvals``...).
STORE_FAMILIES = {"tokens", "tokens_v7", "accounts", "proof_replays"}
#: A table named by a statement (the statements' keywords are written in capitals here).
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|TABLE|JOIN)\s+([a-z_][a-z_0-9]*)\b")


def test_the_store_holds_only_its_own_families() -> None:
    """The store's statements name only the tables of its families: the owners', the
    devices' and the approvals' statements stand in their table modules."""
    named = set()
    for node in ast.walk(ast.parse((CONSOLE / "store.py").read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            named |= {m.group(1) for m in _TABLE.finditer(node.value)}
    assert named, "no statement read: the check would pass on anything"
    assert named <= STORE_FAMILIES, sorted(named - STORE_FAMILIES)


#: The console's lowest floor: formats, rules and helpers that import nothing of the console
#: above them (the import contract's last layer). A statement there is a table's, misplaced.
BELOW_THE_TABLES = ("address", "apitokens", "config", "destinations", "devices", "errors",
                    "keygate", "labels", "mailer", "passwords", "processes", "readiness",
                    "totp")
#: A statement anywhere in a string, or in a piece of an f-string (a condition such as
#: ``EXISTS (SELECT 1 FROM approvals ...)`` too), keywords in capitals as the tables write them.
_ANY_STATEMENT = re.compile(r"\b(SELECT\s.*?\bFROM\s+[a-z_]+|INSERT\s+INTO\s+[a-z_]+|"
                            r"UPDATE\s+[a-z_]+\s+SET\b|DELETE\s+FROM\s+[a-z_]+)", re.DOTALL)


def test_no_sql_below_the_tables() -> None:
    """The formats and rules below the tables (the approval's state machine among them) hold
    no statement, not even a condition other statements embed: that belongs to its table's
    module (``approvals.approved_device``)."""
    found = []
    for name in BELOW_THE_TABLES:
        path = CONSOLE / f"{name}.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and _ANY_STATEMENT.search(node.value):
                found.append(f"{name}.py:{node.lineno}")
    assert not found, found
    assert _ANY_STATEMENT.search("EXISTS (SELECT 1 FROM approvals a WHERE")

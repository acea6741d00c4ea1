"""SQL stands only on the console's tables floor (``tables/``): the service, the door, the
entry points and the leaves ask it (Synapse's rule: every statement in a store of its table
family).

The rooms outside the tables are read with :mod:`ast`: no string in them begins a statement
(``SELECT``, ``INSERT``, ``UPDATE``, ``DELETE``, ``CREATE``...) or holds one (a condition
such as ``EXISTS (SELECT 1 FROM approvals ...)`` that other statements embed), so a rule that
wants a new read or write gets a function in the table module of its family, where the
statements of that table are seen together. The engine (``database/``) is the one other room
that speaks SQL: it runs the statements the tables hand it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import mtgateway_console

CONSOLE = Path(mtgateway_console.__file__).resolve().parent
#: The rooms that speak SQL: the tables, and the engine that runs their statements.
SQL_ROOMS = ("tables", "database")
_STATEMENT = re.compile(r"^\s*(SELECT\s.*\sFROM\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|"
                        r"DELETE\s+FROM\s|CREATE\s+(UNIQUE\s+)?(TABLE|INDEX)\s|DROP\s|"
                        r"ALTER\s+TABLE\s)", re.IGNORECASE | re.DOTALL)
#: A statement anywhere in a string, or in a piece of an f-string (a condition such as
#: ``EXISTS (SELECT 1 FROM approvals ...)`` too), keywords in capitals as the tables write them.
_ANY_STATEMENT = re.compile(r"\b(SELECT\s.*?\bFROM\s+[a-z_]+|INSERT\s+INTO\s+[a-z_]+|"
                            r"UPDATE\s+[a-z_]+\s+SET\b|DELETE\s+FROM\s+[a-z_]+)", re.DOTALL)


def statements_in(folder: Path, *, skip: tuple[str, ...] = ()) -> list[str]:
    """Each ``file:line`` of a string that begins or holds an SQL statement under ``folder``,
    leaving out the rooms (folders) named in ``skip``."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder)
        if relative.parts[0] in skip:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # a docstring is prose, not a statement sent ("Drop the message...")
        prose = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and id(node) not in prose \
                    and (_STATEMENT.match(node.value) or _ANY_STATEMENT.search(node.value)):
                found.append(f"{relative.as_posix()}:{node.lineno}")
    return found


def test_no_sql_outside_the_tables() -> None:
    """The command, the composition, the entry points, the door, the service and the leaves
    (the approval's state machine among them) hold no statement."""
    found = statements_in(CONSOLE, skip=SQL_ROOMS)
    assert not found, found


def test_the_check_finds_a_statement(tmp_path: Path) -> None:
    """A statement split over lines, after white space, in any case, is found, and so is a
    condition inside a string; a sentence or a docstring that starts with one of the words
    is not, and a room left out is not read."""
    (tmp_path / "room.py").write_text(
        '"""Drop what is not sent."""\n'
        'A = ("  select 1 FROM owners "\n     "WHERE x = ?")\n'
        'B = "Update your password to go on"\n'
        'C = "AND EXISTS (SELECT 1 FROM approvals a WHERE a.device = ?)"\n', encoding="utf-8")
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "owners.py").write_text('D = "DELETE FROM owners"\n',
                                                   encoding="utf-8")
    assert statements_in(tmp_path, skip=("tables",)) == ["room.py:2", "room.py:5"]
    assert statements_in(tmp_path)[-1] == "tables/owners.py:1"


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
    store = CONSOLE / "tables" / "store.py"
    for node in ast.walk(ast.parse(store.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            named |= {m.group(1) for m in _TABLE.finditer(node.value)}
    assert named, "no statement read: the check would pass on anything"
    assert named <= STORE_FAMILIES, sorted(named - STORE_FAMILIES)

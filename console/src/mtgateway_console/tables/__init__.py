"""The console's tables: every statement the service asks of the database, by table family.

Each module holds one family's statements and the parsers of its rows (``owners``,
``approvals``, ``signins``, ``alerts``...); the service decides what a row means and asks the
module of its family, in one transaction it runs on the engine (``database/``). No SQL stands
above this floor (``console/tests/test_sql_in_tables.py``), so a rule that wants a new read or
write gets a function here, where the statements of its table are seen together (Synapse's
``storage/databases/main``). Three floors, held by an import contract in ``pyproject.toml``:

* the table families, which may read each other's columns (``basis`` joins the token to its
  account, approval, halt and instructions; ``prior`` reads a report's stored state);
* ``store``: :class:`~.store.AuthorityStore`, the rows sealed under the data key (tokens'
  server keys, accounts' MT5 passwords), the proofs' replays and the secret files;
* ``migrations``: the schema, applied at start.
"""

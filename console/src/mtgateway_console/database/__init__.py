"""The authority's database: one async door to an embedded SQLite file or a PostgreSQL server.

One store (``store.py``) speaks to either through :class:`Database`: SQLite stays the default
(local mode, the demo, one console), PostgreSQL (``[authority] database_url``, e.g.
``postgresql://mtgw@db.internal/mtgw``) lets several console instances share one authority.

**The door.** Every transaction is one synchronous function of a :class:`Tx`, run by
``await database.run(fn, *args)`` on one of the database's own worker threads, never on the
event loop (Synapse's ``runInteraction``): the loop goes on serving ``/health``, pages and
long-polls while a statement waits on the network, a lock or a paused server. A transaction
is passed its :class:`Tx` explicitly, so nothing joins a transaction by thread and no
``await`` can sit inside one. The door refuses to run one on a thread with a running event
loop (:class:`TransactionOnLoop`), so a store call that bypassed it fails at once instead of
stalling the console. Each transaction is known by its function's qualified name
(``AuthorityStore.owner_password_hash``): the timings the door reports (:class:`Timing`),
its log lines and its errors say it.

**Faults.** A transaction's caller waits at most :attr:`Database.bound_s` (the connect
timeout plus the statement timeout): past it, or when the server refused or dropped the
connection, it gets :class:`DatabaseUnavailable` (the console answers 503 naming the
database) and the transaction is rolled back if it has not committed yet (a worker still
stuck on a paused server rolls back when it returns); nothing the caller was told succeeded
is lost. A connection found broken before ``COMMIT`` was sent is replaced and the function
run again (PostgreSQL rolled the broken one back), so a restarted server costs no request.
``fn`` may therefore run more than once: it must do nothing but its statements.

**Statements** are written once, with ``?`` placeholders and the SQL both engines accept,
and translated for psycopg; on PostgreSQL a transaction's statements are sent in batches,
and whether a call waits for the server is said by the method it calls (``execute`` queues,
``query``/``query_one``/``changes`` wait). Connections come from
:class:`psycopg_pool.ConnectionPool` (health on return, reconnection in the background);
psycopg 3 and psycopg_pool are imported only when a PostgreSQL URL is given: the daemon on
Windows never needs them.

The rooms, by job:

* ``dialect``: the ``?`` lexer (``?`` to psycopg's ``%s``, or ``$1`` to prepare) and the DDL;
* ``tx``: :class:`Tx`, one transaction's statements and their batches, and the statements
  each connection has prepared;
* ``link``: one PostgreSQL connection as the batches drive it (libpq through psycopg's C
  parts: the values' quoting, the send and wait, the rows' loading);
* ``workers``: the threads every transaction runs on, and its name;
* ``engine``: :class:`Database`, the SQLite file or the PostgreSQL pool behind ``run``;
* ``listener``: a PostgreSQL ``LISTEN`` on a connection and a thread of its own, which wakes
  the console instances sharing one database (the revocation feed's, ``tables/feed.py``).
"""

from __future__ import annotations

from .dialect import numbered_text, postgres_ddl, postgres_text
from .engine import (
    APPLICATION_NAME,
    CONNECT_TIMEOUT_S,
    POOL_SIZE,
    STATEMENT_TIMEOUT_S,
    Database,
    DatabaseError,
    DatabaseUnavailable,
    Door,
    Timing,
    TransactionOnLoop,
)
from .tx import PREPARE_AFTER, Cursor, Tx
from .workers import transaction_name

__all__ = [
    "APPLICATION_NAME",
    "CONNECT_TIMEOUT_S",
    "POOL_SIZE",
    "PREPARE_AFTER",
    "STATEMENT_TIMEOUT_S",
    "Cursor",
    "Database",
    "DatabaseError",
    "DatabaseUnavailable",
    "Door",
    "Timing",
    "TransactionOnLoop",
    "Tx",
    "numbered_text",
    "postgres_ddl",
    "postgres_text",
    "transaction_name",
]

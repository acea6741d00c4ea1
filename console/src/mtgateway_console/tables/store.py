"""The authority's store (SQLite, or PostgreSQL by ``database_url``) and its secret files.

What is kept, and why in this form:

- owners: the e-mail and an scrypt hash of the password (their statements in ``owners.py``);
- tokens: the hint and the verifier of each token (``mtgateway.credential``): ``stored_key``,
  which checks a holder's proof and cannot make one, and ``server_key``, with which a daemon
  proves itself, encrypted under ``authority-data.key``; never the token (it is shown once)
  nor its SHA-256 (schema 7 erased the digests it found: they opened sessions);
- accounts: the registration fields (``POST /v1/accounts``); the MT5 password is
  encrypted with AES-GCM under ``authority-data.key``. This protects a *copy of the database*
  (a backup, a synced folder) from revealing it; it does not protect against someone who
  controls this host, who can read the key file as easily as the database;
- devices and approvals (codes as HMACs only) and the history of code e-mails (rate limits);
  wrong approval codes per owner and the owner's approval lock, in the database rather than in
  memory so that restarting the console does not hand an attacker a fresh allowance of guesses
  (their statements in ``approvals.py``);
- the authority's Ed25519 signing key in ``authority-signing.key``.

The key files and the database are created 0600 (``mtgateway_base/files.py``: exclusively,
umask-independent, the database before SQLite opens it so its side files inherit the mode):
never overwritten, never readable by others, and a second process racing to create one loses
cleanly and reads the winner's. The directory and every file are refused at start if others
could read them.

Every table method takes the transaction it runs in (``tx``, first) and is called inside a
function handed to the database's door (``await store.run(fn, ...)``, ``database/``): the
caller decides what is one transaction, and nothing of it runs on the event loop.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, Final, ParamSpec, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mtgateway.credential import verifier_from_digest
from mtgateway_base.files import (
    check_private_file,
    create_private_file,
    ensure_private_dir,
    prepare_private_db,
    read_private_file,
)
from mtgateway_base.wire.errors import ProofRejected
from mtgateway_base.wire.proofs import MAX_PROOF_SKEW_S
from mtgateway_base.wire.records import AuthoritySigner

from ..database import (
    CONNECT_TIMEOUT_S,
    POOL_SIZE,
    STATEMENT_TIMEOUT_S,
    Cursor,
    Database,
    Door,
    Tx,
)
from ..errors import AccountExists
from .migrations import migrate

__all__ = [
    "DATA_KEY_FILE",
    "DB_FILE",
    "PROOF_SWEEP_S",
    "SIGNING_KEY_FILE",
    "AccountExists",
    "AccountRow",
    "AuthorityStore",
    "ProofClaim",
    "StoredProofReplays",
    "TokenRow",
    "claimed",
    "ACCOUNT_WIDTH",
    "TOKEN_WIDTH",
    "account_columns",
    "account_row",
    "aliased",
    "load_or_create_secret",
    "token_columns",
    "token_row",
]

P = ParamSpec("P")
T = TypeVar("T")

DB_FILE: Final = "authority.sqlite3"
SIGNING_KEY_FILE: Final = "authority-signing.key"
DATA_KEY_FILE: Final = "authority-data.key"
#: How often, at most, a proof's replay row also sweeps the rows past their time (seconds of
#: the authority's clock). Every device call writes one row; sweeping with each was a second
#: statement per call, which the console's transactions pay as a hand-off to the database
#: and back. A row kept a few seconds past its time refuses nothing the skew check lets
#: through (a proof that old is refused as ``device_clock_skew`` first).
PROOF_SWEEP_S: Final = 5


_TOKEN_COLS: Final = ("token_id, stored_key, server_key_enc, token_hint, owner_email, login, "
                      "server, scopes, created_at, expires_at, revoked_at")
#: Schema 7's token table (``MIGRATIONS`` entry 7, run by :meth:`AuthorityStore.migrate`).
_TOKENS_V7: Final = """
    CREATE TABLE tokens_v7 (
        token_id TEXT PRIMARY KEY, stored_key TEXT NOT NULL UNIQUE, server_key_enc BLOB NOT NULL,
        token_hint TEXT NOT NULL UNIQUE, owner_email TEXT NOT NULL, login INTEGER NOT NULL,
        server TEXT NOT NULL, scopes TEXT NOT NULL, created_at INTEGER NOT NULL,
        expires_at INTEGER, revoked_at INTEGER);
"""
_TOKENS_V7_SWAP: Final = """
    DROP TABLE tokens;
    ALTER TABLE tokens_v7 RENAME TO tokens;
    CREATE INDEX IF NOT EXISTS tokens_owner ON tokens (owner_email, created_at);
    CREATE INDEX IF NOT EXISTS tokens_terminal ON tokens (login, server);
"""
_ACCOUNT_COLS: Final = ("id, owner_email, name, broker, login, server, is_live, is_active, "
                        "allowed_symbols, max_lot_size, risk_pct, auto_trade_enabled, "
                        "paper_trade_enabled, mt5_path, account_type, created_at")



@dataclass(frozen=True, slots=True)
class TokenRow:
    """A token as stored: its verifier and hint, its terminal, scopes and lifetime (epoch s).

    ``stored_key`` is hex; ``server_key_enc`` is the sealed ``server_key``, which plays the
    daemon: :meth:`AuthorityStore.server_key` opens it when a record is signed. Neither, nor
    the hint, is shown by ``repr``.
    """

    token_id: str
    stored_key: str = field(repr=False)
    server_key_enc: bytes = field(repr=False)
    token_hint: str = field(repr=False)
    owner_email: str
    login: int
    server: str
    scopes: tuple[str, ...]
    created_at: int
    expires_at: int | None = None
    revoked_at: int | None = None


@dataclass(frozen=True, slots=True)
class AccountRow:
    """A registered MT5 account without its password (decimals as strings)."""

    id: int
    owner_email: str
    name: str
    broker: str
    login: int
    server: str
    is_live: bool
    is_active: bool
    allowed_symbols: tuple[str, ...]
    max_lot_size: str
    risk_pct: str
    auto_trade_enabled: bool
    paper_trade_enabled: bool
    mt5_path: str
    account_type: str
    created_at: int


#: How many columns :func:`token_row` and :func:`account_row` read.
TOKEN_WIDTH: Final = len(_TOKEN_COLS.split(","))
ACCOUNT_WIDTH: Final = len(_ACCOUNT_COLS.split(","))


def aliased(columns: str, alias: str) -> str:
    """``columns`` (a comma-separated list) each prefixed with the table ``alias``."""
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


def token_columns(alias: str) -> str:
    """The columns :func:`token_row` reads, of the tokens table named ``alias`` in a join."""
    return aliased(_TOKEN_COLS, alias)


def account_columns(alias: str) -> str:
    """The columns :func:`account_row` reads, of the accounts table named ``alias``."""
    return aliased(_ACCOUNT_COLS, alias)


def token_row(r: Sequence[Any]) -> TokenRow:
    """A token from its :func:`token_columns` (the first :data:`TOKEN_WIDTH` of ``r``)."""
    return TokenRow(r[0], r[1], bytes(r[2]), r[3], r[4], r[5], r[6], tuple(json.loads(r[7])),
                    r[8], r[9], r[10])


def account_row(r: Sequence[Any]) -> AccountRow:
    """An account from its :func:`account_columns` (the first :data:`ACCOUNT_WIDTH`)."""
    return AccountRow(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), bool(r[7]),
                      tuple(json.loads(r[8])), r[9], r[10], bool(r[11]), bool(r[12]), r[13],
                      r[14], r[15])


def load_or_create_secret(path: Path, size: int) -> bytes:
    """Read a secret file, creating it 0600 with ``size`` random bytes if absent.

    Refuses (:class:`~mtgateway_base.files.InsecurePath`, a ``PermissionError``) a file
    others could read, a symbolic link or another user's file on POSIX, and a file of the
    wrong size (``ValueError``), rather than trusting or overwriting either.
    """
    create_private_file(path, secrets.token_bytes(size))
    data = read_private_file(path)
    if data is None or len(data) != size:
        raise ValueError(f"{path} should hold {size} bytes, not {len(data or b'')}")
    return data


class AuthorityStore:
    """Owners, tokens, accounts, devices and approvals in ``<data_dir>/authority.sqlite3``,
    or in the PostgreSQL database ``database_url`` names (the key files stay in ``data_dir``:
    every instance of one authority needs the same two files)."""

    def __init__(self, data_dir: Path, database_url: str = "", *,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S,
                 statement_timeout_s: float = STATEMENT_TIMEOUT_S,
                 pool_size: int = POOL_SIZE) -> None:
        ensure_private_dir(data_dir)
        #: The SQLite file beside the keys. With ``database_url`` nothing is written to it and
        #: none is made (an operator reading the data directory should not find an empty
        #: authority there); one an earlier release left (it kept side tables there) must
        #: still be private.
        self.path = data_dir / DB_FILE
        if database_url:
            check_private_file(self.path)
        else:
            prepare_private_db(self.path)
        self.database = Database(path=None if database_url else self.path, url=database_url,
                                 pool_size=pool_size, connect_timeout_s=connect_timeout_s,
                                 statement_timeout_s=statement_timeout_s)
        seed = load_or_create_secret(data_dir / SIGNING_KEY_FILE, 32)
        self.signer = AuthoritySigner.from_private_key(Ed25519PrivateKey.from_private_bytes(seed))
        data_key = load_or_create_secret(data_dir / DATA_KEY_FILE, 32)
        self._aead = AESGCM(data_key)
        #: The code-HMAC pepper, derived so it needs no file of its own.
        self.pepper = hmac.new(data_key, b"mtgw-code-pepper-v1", hashlib.sha256).digest()
        #: When :meth:`remember_proof` last swept the replay rows past their time (the
        #: database's workers share it: two sweeping at once is harmless).
        self._proofs_swept_at: int | None = None

    async def run(self, fn: Callable[Concatenate[Tx, P], T], *args: P.args,
                  **kwargs: P.kwargs) -> T:
        """``fn(tx, *args)`` as one transaction through the database's door
        (:meth:`~.database.Database.run`)."""
        return await self.database.run(fn, *args, **kwargs)

    async def migrate(self, target: int | None = None) -> tuple[int, int]:
        """Apply the schema's migrations up to ``target`` (all by default), with the steps
        that need this store's keys; ``(before, after)``."""
        return await migrate(self.database, target,
                             steps={"token_verifiers": self._token_verifiers})

    def _token_verifiers(self, tx: Tx) -> None:
        """Schema 7: rebuild ``tokens`` with each token's verifier instead of its SHA-256.

        The digest is what the token's holders derive both keys from, so existing tokens keep
        working. On SQLite, ``secure_delete`` overwrites the pages the old table leaves free,
        so the digests do not linger in the file; PostgreSQL keeps dead rows until a vacuum
        (``docs/authority.md`` says what to run, and that backups made before hold them).
        """
        if not tx.postgres:
            tx.execute("PRAGMA secure_delete = ON")
        Database.run_script(tx, _TOKENS_V7)
        rows = tx.query("SELECT token_id, token_sha256, token_hint, owner_email, login, "
                        "server, scopes, created_at, expires_at, revoked_at "
                        "FROM tokens")
        for r in rows:
            verifier = verifier_from_digest(bytes.fromhex(str(r[1])))
            tx.execute(f"INSERT INTO tokens_v7 ({_TOKEN_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                       (r[0], verifier.stored_key.hex(),
                        self.seal_server_key(r[0], verifier.server_key),
                        r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]))
        Database.run_script(tx, _TOKENS_V7_SWAP)

    def seal_server_key(self, token_id: str, server_key: bytes) -> bytes:
        """``server_key`` encrypted under ``authority-data.key`` for its token's row: a copy
        of the database alone cannot play the daemon either."""
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, server_key,
                                          f"mtgw-server-key-v1\x1f{token_id}".encode())

    def server_key(self, row: TokenRow) -> bytes:
        """The ``server_key`` of a token (to seal into a record for a device)."""
        blob = row.server_key_enc
        return self._aead.decrypt(blob[:12], blob[12:],
                                  f"mtgw-server-key-v1\x1f{row.token_id}".encode())

    def seal_secret(self, purpose: str, subject: str, plain: bytes) -> bytes:
        """``plain`` encrypted under ``authority-data.key``, bound to ``purpose`` and
        ``subject`` (its row's key): the owner's TOTP secret, like ``server_key`` above."""
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, plain, f"{purpose}\x1f{subject}".encode())

    def open_secret(self, purpose: str, subject: str, blob: bytes) -> bytes:
        """What :meth:`seal_secret` sealed (``InvalidTag`` for another row's or a changed
        blob)."""
        blob = bytes(blob)
        return self._aead.decrypt(blob[:12], blob[12:], f"{purpose}\x1f{subject}".encode())

    # -- tokens --------------------------------------------------------------------------

    def add_token(self, tx: Tx, row: TokenRow) -> None:
        """Store a new token's verifier and terms."""
        tx.execute(f"INSERT INTO tokens ({_TOKEN_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                   (row.token_id, row.stored_key, row.server_key_enc, row.token_hint,
                    row.owner_email, row.login, row.server, json.dumps(list(row.scopes)),
                    row.created_at, row.expires_at, row.revoked_at))

    def _token_where(self, tx: Tx, clause: str, *args: Any) -> list[TokenRow]:
        rows = tx.query(f"SELECT {_TOKEN_COLS} FROM tokens WHERE {clause}",
                        args)
        return [token_row(r) for r in rows]

    def token_by_hint(self, tx: Tx, token_hint: str) -> TokenRow | None:
        """The token with this hint (what the EA sends)."""
        rows = self._token_where(tx, "token_hint = ?", token_hint)
        return rows[0] if rows else None

    def token_by_id(self, tx: Tx, token_id: str) -> TokenRow | None:
        """The token with this id."""
        rows = self._token_where(tx, "token_id = ?", token_id)
        return rows[0] if rows else None

    def tokens_of(self, tx: Tx, owner_email: str) -> list[TokenRow]:
        """An owner's tokens, oldest first."""
        return self._token_where(tx, "owner_email = ? ORDER BY created_at, token_id",
                                 owner_email)

    def live_token_owners(self, tx: Tx, login: int, server: str, now: int) -> set[str]:
        """The owners holding an unrevoked, unexpired token for this terminal."""
        rows = tx.query("SELECT DISTINCT owner_email FROM tokens WHERE login = ? AND "
                        "server = ? AND revoked_at IS NULL AND (expires_at IS NULL OR "
                        "expires_at > ?)", (login, server, now))
        return {str(r[0]) for r in rows}

    def revoke_token(self, tx: Tx, owner_email: str, token_id: str, now: int) -> bool:
        """Mark an owner's token revoked (idempotent); ``False`` if it is not theirs."""
        cur = tx.execute("UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) "
                         "WHERE token_id = ? AND owner_email = ?",
                         (now, token_id, owner_email))
        return cur.rowcount == 1

    # -- accounts ------------------------------------------------------------------------

    def _aad(self, login: int, server: str) -> bytes:
        return f"mtgw-account-v1\x1f{login}\x1f{server}".encode()

    def add_account(self, tx: Tx, account: AccountRow, password: str) -> AccountRow:
        """Store an account, its MT5 password encrypted; raises :class:`AccountExists`."""
        nonce = secrets.token_bytes(12)
        blob = nonce + self._aead.encrypt(nonce, password.encode("utf-8"),
                                          self._aad(account.login, account.server))
        try:
            cur = tx.execute(
                "INSERT INTO accounts (owner_email, name, broker, login, server, "
                "password_enc, is_live, is_active, allowed_symbols, max_lot_size, risk_pct, "
                "auto_trade_enabled, paper_trade_enabled, mt5_path, account_type, "
                "created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
                (account.owner_email, account.name, account.broker, account.login,
                 account.server, blob, int(account.is_live), int(account.is_active),
                 json.dumps(list(account.allowed_symbols)), account.max_lot_size,
                 account.risk_pct, int(account.auto_trade_enabled),
                 int(account.paper_trade_enabled), account.mt5_path, account.account_type,
                 account.created_at))
            new_id = int(cur.fetchone()[0])
        except self.database.integrity_errors as exc:
            raise AccountExists(f"Account {account.login} on {account.server} already "
                                "exists") from exc
        assert new_id is not None  # noqa: S101 - an INSERT always sets it
        stored = self.account_for(tx, account.login, account.server)
        assert stored is not None and stored.id == new_id  # noqa: S101
        return stored

    def account_for(self, tx: Tx, login: int, server: str) -> AccountRow | None:
        """The account registered for a terminal."""
        r = tx.query_one(f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE login = ? AND server = ?",
                         (login, server))
        return None if r is None else account_row(r)

    def accounts_of(self, tx: Tx, owner_email: str) -> list[AccountRow]:
        """An owner's accounts, oldest first."""
        rows = tx.query(f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE owner_email = ? "
                        "ORDER BY id", (owner_email,))
        return [account_row(r) for r in rows]

    def update_account(self, tx: Tx, account: AccountRow) -> bool:
        """Write an account's changeable fields (its name, broker, kind, risk policy, paper
        switch, terminal path and currency) as ``account`` holds them, to the row of its id
        and owner; ``False`` if the owner has no such account. The one statement every
        change of an account goes through."""
        cur = tx.execute("UPDATE accounts SET name = ?, broker = ?, is_live = ?, "
                         "allowed_symbols = ?, max_lot_size = ?, risk_pct = ?, "
                         "auto_trade_enabled = ?, paper_trade_enabled = ?, mt5_path = ?, "
                         "account_type = ? WHERE id = ? AND owner_email = ?",
                         (account.name, account.broker, int(account.is_live),
                          json.dumps(list(account.allowed_symbols)), account.max_lot_size,
                          account.risk_pct, int(account.auto_trade_enabled),
                          int(account.paper_trade_enabled), account.mt5_path,
                          account.account_type, account.id, account.owner_email))
        return cur.rowcount == 1

    def replace_account_password(self, tx: Tx, account: AccountRow, password: str) -> None:
        """Replace an account's stored MT5 password (encrypted as :meth:`add_account` does)."""
        nonce = secrets.token_bytes(12)
        blob = nonce + self._aead.encrypt(nonce, password.encode("utf-8"),
                                          self._aad(account.login, account.server))
        tx.execute("UPDATE accounts SET password_enc = ? WHERE id = ?", (blob, account.id))

    def account_password(self, tx: Tx, login: int, server: str) -> str | None:
        """Decrypt an account's MT5 password (for the terminal launcher; never logged)."""
        row = tx.query_one("SELECT password_enc FROM accounts WHERE login = ? AND server = ?",
                           (login, server))
        if row is None:
            return None
        blob = bytes(row[0])
        plain = self._aead.decrypt(blob[:12], blob[12:], self._aad(login, server))
        return plain.decode("utf-8")

    # -- device proofs -------------------------------------------------------------------

    def remember_proof(self, tx: Tx, proof_key: str, expires_at: int, now: int) -> bool:
        """Note an accepted proof until ``expires_at``; ``False`` if it is already noted (a
        replay)."""
        return self.send_proof(tx, proof_key, expires_at, now).rowcount == 1

    def send_proof(self, tx: Tx, proof_key: str, expires_at: int, now: int) -> Cursor:
        """Send the statement that notes an accepted proof until ``expires_at``: its row
        count (read when it is needed: on PostgreSQL the statement waits in the transaction's
        batch, ``Tx``) is 0 if the proof was noted already (a
        replay). Entries past their time are dropped first, at most every
        :data:`PROOF_SWEEP_S`, so the table holds the proofs the skew check would still let
        through and those past their time since the last sweep."""
        swept = self._proofs_swept_at
        if swept is None or not 0 <= now - swept < PROOF_SWEEP_S:
            self._proofs_swept_at = now
            tx.execute("DELETE FROM proof_replays WHERE expires_at < ?", (now,))
        return tx.execute("INSERT INTO proof_replays VALUES (?, ?) ON CONFLICT DO NOTHING",
                          (proof_key, expires_at))


class StoredProofReplays:
    """The device-proof replay guard in the authority's database.

    A proof accepted by one console instance is refused by every other, and after a restart:
    the one-row INSERT is atomic on both engines, so two instances given the same proof at
    once accept it exactly once. Unlike :class:`~.proofs.ProofReplayCache` nothing is evicted
    early: entries leave when the skew window closes (every proof in the table carries a
    valid signature, and the window bounds how long each stays).
    """

    def __init__(self, store: AuthorityStore, door: Door,
                 window_s: float = MAX_PROOF_SKEW_S) -> None:
        self._store = store
        self._door = door
        self._window_s = window_s

    def entry(self, key: bytes, proof_time_s: float) -> tuple[str, int]:
        """The row a proof made at ``proof_time_s`` is remembered as: its key (hex) and when
        it may be forgotten."""
        until = proof_time_s + self._window_s
        whole = int(until)  # (``math.ceil`` of a time after 1970, without the call)
        return key.hex(), whole + 1 if until > whole else whole

    async def remember(self, key: bytes, proof_time_s: float, now: float) -> bool:
        """Note a proof made at ``proof_time_s``; ``False`` if it was already seen."""
        proof_key, expires_at = self.entry(key, proof_time_s)
        return await self._door.run(self._store.remember_proof, proof_key, expires_at,
                                    int(now))

    def claim(self, key: bytes, proof_time_s: float, now: float,
              on_proven: Callable[[], None]) -> ProofClaim:
        """The replay row of a proof made at ``proof_time_s``, for the call's own transaction
        to write (:class:`ProofClaim`); ``on_proven`` once it has."""
        proof_key, expires_at = self.entry(key, proof_time_s)
        return ProofClaim(self._store, proof_key, expires_at, int(now), on_proven)


@dataclass(frozen=True, slots=True)
class ProofClaim:
    """A checked device proof whose replay row is still to be written, by the transaction of
    the call it proves, before anything else that transaction does.

    A daemon's call would otherwise cost two transactions (the replay row's, then the
    call's), and each is a hand-off from the event loop to a worker and back; the daemons'
    most frequent calls (a report every 30 s, a revocation long-poll renewed every 50 s) pay
    one; on PostgreSQL the row also travels with the call's first read (one batch, one round
    trip for both), and a copy is refused when that read comes back. A copy of the request is
    refused the same (``replayed_device_proof``) and nothing its transaction wrote stands;
    ``on_proven`` (the route marks its connection as a credential holder's) runs once the row
    is committed, never for a copy.
    """

    store: AuthorityStore
    proof_key: str
    expires_at: int
    now: int
    on_proven: Callable[[], None]

    def record(self, tx: Tx) -> None:
        """Write the replay row in ``tx``; whether it was new is read with the
        transaction's next answer (``Tx.when_answered``: on PostgreSQL the row travels in one
        batch with the call's first read, one round trip for both).

        Raises (from that read, or before the commit):
            ProofRejected: ``replayed_device_proof``: the row was there already.
        """
        sent = self.store.send_proof(tx, self.proof_key, self.expires_at, self.now)

        def new_row() -> None:
            if sent.rowcount != 1:
                raise ProofRejected("replayed_device_proof")

        tx.when_answered(new_row)
        tx.after_commit(self.on_proven)


def claimed(claim: ProofClaim | None,
            fn: Callable[Concatenate[Tx, P], T]) -> Callable[Concatenate[Tx, P], T]:
    """``fn`` as the transaction of a device call whose proof is ``claim``: the replay row
    written first, so the call and its row commit together or not at all (``fn`` itself
    when the row is written already: ``claim`` None).

    Raises (from the function returned):
        ProofRejected: ``replayed_device_proof``: a copy of the call (``fn`` does not run).
    """
    if claim is None:
        return fn

    def first_the_row(tx: Tx, /, *args: P.args, **kwargs: P.kwargs) -> T:
        claim.record(tx)
        return fn(tx, *args, **kwargs)

    return first_the_row

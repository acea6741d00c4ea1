"""``mtgateway run`` as a real deployment starts it: a config file, a local authority, a token.

Shared by the ``/rpc`` set-up (``bench.rpc``) and the fan-out set-up (``bench.fanout``): a
temporary directory holding the config and the data dir, an owner created with ``mtgateway
owner create`` (password from the environment) and a token for one terminal issued with
``mtgateway token create`` (once per bench process: a further daemon for the same terminal
gets a copy of that data dir), then ``python -m gateway run -c <config>`` in its own process.
The daemon runs the shipped defaults except ``max_connections`` and ``[ws]
max_streams_per_token`` (raised so 100 subscribers of the one bench token fit: a token's
streams are bounded, 64 by default) and logging at WARNING, so what is measured is the product
as configured by a user.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from .common import (
    ROOT,
    Pinning,
    Proc,
    daemon_package,
    free_port,
    proc_memory_kib,
    tree_paths,
    wait_http,
)

__all__ = ["OWNER", "RunDaemon", "create_token", "create_tokens"]

OWNER: Final = "bench@example.com"


def create_token(config: Path, login: int, server: str, tree: Path = ROOT) -> str:
    """Issue a token for ``login@server`` the public way: ``mtgateway owner create`` (local
    authority; the password comes from the environment) then ``mtgateway token create``, by
    ``tree``'s code.

    Raises:
        RuntimeError: either command failed or printed no token.
    """
    return create_tokens(config, [login], server, tree)[0]


def create_tokens(config: Path, logins: Sequence[int], server: str,
                  tree: Path = ROOT) -> list[str]:
    """One owner, then a token for each ``login@server`` (``bench.terminals``: one daemon,
    many terminals): the first by ``mtgateway token create``, the others in one process of
    this module (:func:`_issue`, the local authority's own ``tokens.issue`` as the command
    calls it), since an interpreter start per token makes 50 tokens take minutes.

    Raises:
        RuntimeError: a command failed or printed no token.
    """
    first, *more = logins
    actions = [["-m", "gateway", "owner", "-c", str(config), "create", "--email", OWNER],
               ["-m", "gateway", "token", "-c", str(config), "create", "--login", str(first),
                "--server", server, "--email", OWNER]]
    if more:
        actions.append(["-m", "bench.daemon", str(config), server, *map(str, more)])
    return _run_issuing(actions, len(logins), tree)


def _run_issuing(actions: Sequence[Sequence[str]], expected: int, tree: Path) -> list[str]:
    """Run each command (``tree``'s code) in turn; the tokens they printed, ``expected`` of
    them.

    Raises:
        RuntimeError: a command failed or printed no token.
    """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(tree_paths(tree)),
               MTGATEWAY_OWNER_PASSWORD=os.urandom(12).hex())
    tokens: list[str] = []
    for action in actions:
        done = subprocess.run(  # noqa: S603 - our own interpreter and CLI
            [sys.executable, *action], cwd=tree, env=env,
            capture_output=True, text=True, timeout=120, check=False)
        issued = [line.split(":", 1)[1].strip() for line in done.stdout.splitlines()
                  if line.startswith("token:")]
        if done.returncode != 0 or (action[2] != "owner" and not issued):
            raise RuntimeError(f"{' '.join(action[1:4])} failed: "
                               f"{done.stdout}{done.stderr}"[-1500:])
        tokens += issued
    if len(tokens) != expected:
        raise RuntimeError(f"{len(tokens)} tokens issued for {expected} terminals")
    return tokens


def _issue(config: Path, server: str, logins: Sequence[int]) -> None:
    """Print ``token: ...`` for each login, issued by the local authority of ``config`` to
    :data:`OWNER` with ``mtgateway token create``'s defaults (read and trade, 90 days)."""
    from gateway.config import load_config
    from mtgateway_base.configfile import database_url
    from mtgateway_console.mailer import NoMailer
    from mtgateway_console.service import Authority

    loaded = load_config(config)

    async def issue() -> None:
        authority = await Authority.open(loaded.resolved_data_dir(), NoMailer(),
                                         database_url=database_url(loaded.authority))
        try:
            for login in logins:
                issued = await authority.tokens.issue(OWNER, login, server,
                                                      scopes=("read", "trade"),
                                                      expires_in_s=90 * 86_400)
                print(f"token: {issued.token}")
        finally:
            await authority.close()

    asyncio.run(issue())


#: Data directories issued once per bench process, by what they were issued for: the
#: directory (an owner, the tokens, the local authority's keys) and its tokens.
_ISSUED: dict[tuple[tuple[int, ...], str, Path], tuple[Path, list[str]]] = {}
_ISSUING = threading.Lock()


def _issued_data(data: Path, logins: tuple[int, ...], server: str,
                 tree: Path = ROOT) -> list[str]:
    """``data``, a daemon's data directory holding an owner and a token for each of ``logins``
    at ``server``, issued the public way (:func:`create_tokens`) the first time this process
    asks for them, then copied: a bench starts several daemons for the same terminal, and the
    owner's and the token's commands cost ~2.5 s of CPU a daemon (two interpreter starts and
    the owner's password hash) for the same files. Each daemon still gets its own directory
    (its own authority, its own state); the tokens are the same in each, valid in each.

    Raises:
        RuntimeError: a command failed or printed no token.
    """
    key = (logins, server, tree)
    with _ISSUING:  # daemons may be set up in threads at once: one issue each
        if key not in _ISSUED:
            _ISSUED[key] = _issue_once(logins, server, tree)
    template, tokens = _ISSUED[key]
    shutil.copytree(template, data)
    return list(tokens)


def _issue_once(logins: tuple[int, ...], server: str,
                tree: Path = ROOT) -> tuple[Path, list[str]]:
    """A data directory issued for ``logins`` at ``server`` by ``tree``'s commands (removed
    when the process ends), and its tokens.

    When this process already issued a directory for the first of these logins at the same
    server by the same tree (``bench.terminals``' counts: 10 terminals, then 50), that one is
    copied and only the logins it lacks are issued into the copy, as :func:`create_tokens`
    issues its further ones: the same files (the owner, a token for each login) as issuing
    them all afresh, without a second owner (its password hash) and first token (two more
    interpreter starts)."""
    made = Path(tempfile.mkdtemp(prefix="mtgw-bench-issued-"))
    atexit.register(shutil.rmtree, made, True)
    config = made / "config.toml"
    config.write_text(f'data_dir = "{made / "data"}"\n', encoding="utf-8")
    prefix = max((key for key in _ISSUED if key[1:] == (server, tree)
                  and len(key[0]) < len(logins) and logins[:len(key[0])] == key[0]),
                 key=lambda key: len(key[0]), default=None)
    if prefix is None:
        return made / "data", create_tokens(config, list(logins), server, tree)
    template, tokens = _ISSUED[prefix]
    shutil.copytree(template, made / "data")
    more = logins[len(prefix[0]):]
    issued = _run_issuing([["-m", "bench.daemon", str(config), server, *map(str, more)]],
                          len(more), tree)
    return made / "data", [*tokens, *issued]


class RunDaemon:
    """``mtgateway run -c <tmp config>`` on free ports, with a token for one terminal.

    The process starts in the constructor (pinned to the server CPU); :meth:`wait_ready`
    waits for ``/health``; :meth:`stop` stops it and removes the temporary directory.
    ``tree`` is the checkout whose daemon runs (this one unless an A/B of trees says
    otherwise), ``launcher`` the interpreter's arguments that run ``mtgateway``'s command line
    (``bench.rpcwork`` runs it under a profiler's launcher, its standard output a pipe), and
    ``wrapper`` what runs the interpreter (``bench.rpcwork --instructions``: valgrind).
    """

    def __init__(self, pinning: Pinning, *, login: int, server: str,
                 max_connections: int = 512, rpc_edge: str = "llhttp",
                 more_logins: Sequence[int] = (), tree: Path = ROOT,
                 launcher: Sequence[str] = ("-m", "gateway"),
                 stdout: int | None = subprocess.DEVNULL, wrapper: Sequence[str] = ()) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="mtgw-bench-run-")
        base = Path(self._dir.name)
        self.login, self.server = login, server
        self.http_port, self.bridge_port = free_port(), free_port()
        config = base / "config.toml"
        # a tree from before the streams' bound knows no such key (and refuses unknown keys)
        streams = (f"[ws]\nmax_streams_per_token = {max_connections}\n"
                   if "max_streams_per_token" in (daemon_package(tree) / "config.py").read_text(
                       encoding="utf-8") else "")
        config.write_text(
            f'data_dir = "{base / "data"}"\n'
            f"[server]\nport = {self.http_port}\nmax_connections = {max_connections}\n"
            f'rpc_edge = "{rpc_edge}"\n'
            f"{streams}[bridge]\nport = {self.bridge_port}\n"
            f'[logging]\nlevel = "WARNING"\n', encoding="utf-8")
        try:
            #: The token of ``login``, then one for each of ``more_logins``.
            self.tokens = _issued_data(base / "data", (login, *more_logins), server, tree)
            self.token = self.tokens[0]
        except BaseException:
            self._dir.cleanup()
            raise
        self.proc = Proc([*launcher, "run", "-c", str(config)], pinning=pinning, tree=tree,
                         stdout=stdout, wrapper=wrapper)

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/rpc"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.http_port}/ws"

    async def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Until ``/health`` answers 200 (raises if the daemon exits first)."""
        await wait_http(f"http://127.0.0.1:{self.http_port}/health", self.proc, timeout_s)

    def memory(self) -> dict[str, int]:
        return proc_memory_kib(self.proc.pid)

    def stop(self) -> str:
        """Stop the daemon, remove its directory; what it wrote to stderr."""
        err = self.proc.stop()
        self._dir.cleanup()
        return err


if __name__ == "__main__":
    _issue(Path(sys.argv[1]), sys.argv[2], [int(login) for login in sys.argv[3:]])

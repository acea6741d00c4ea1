"""``mtgateway run`` as a real deployment starts it: a config file, a local authority, a token.

Shared by the ``/rpc`` set-up (``bench.rpc``) and the fan-out set-up (``bench.fanout``): a
temporary directory holding the config and the data dir, an owner created with ``mtgateway
owner create`` (password from the environment) and a token for one terminal issued with
``mtgateway token create``, then ``python -m gateway run -c <config>`` in its own process.
The daemon runs the shipped defaults except ``max_connections`` (raised so 100 subscribers
fit) and logging at WARNING, so what is measured is the product as configured by a user.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

from .common import ROOT, Pinning, Proc, free_port, proc_memory_kib, wait_http

__all__ = ["OWNER", "RunDaemon", "create_token"]

OWNER: Final = "bench@example.com"


def create_token(config: Path, login: int, server: str) -> str:
    """Issue a token for ``login@server`` the public way: ``mtgateway owner create`` (local
    authority; the password comes from the environment) then ``mtgateway token create``.

    Raises:
        RuntimeError: either command failed or printed no token.
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT), MTGATEWAY_OWNER_PASSWORD=os.urandom(12).hex())
    for action in (["owner", "-c", str(config), "create", "--email", OWNER],
                   ["token", "-c", str(config), "create", "--login", str(login), "--server",
                    server, "--email", OWNER]):
        done = subprocess.run(  # noqa: S603 - our own interpreter and CLI
            [sys.executable, "-m", "gateway", *action], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            break
    for line in done.stdout.splitlines():
        if line.startswith("token:"):
            return line.split(":", 1)[1].strip()
    raise RuntimeError(f"mtgateway token create failed: {done.stdout}{done.stderr}"[-1500:])


class RunDaemon:
    """``mtgateway run -c <tmp config>`` on free ports, with a token for one terminal.

    The process starts in the constructor (pinned to the server CPU); :meth:`wait_ready`
    waits for ``/health``; :meth:`stop` stops it and removes the temporary directory.
    """

    def __init__(self, pinning: Pinning, *, login: int, server: str,
                 max_connections: int = 512, rpc_edge: str = "llhttp") -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="mtgw-bench-run-")
        base = Path(self._dir.name)
        self.login, self.server = login, server
        self.http_port, self.bridge_port = free_port(), free_port()
        config = base / "config.toml"
        config.write_text(
            f'data_dir = "{base / "data"}"\n'
            f"[server]\nport = {self.http_port}\nmax_connections = {max_connections}\n"
            f'rpc_edge = "{rpc_edge}"\n'
            f"[bridge]\nport = {self.bridge_port}\n"
            f'[logging]\nlevel = "WARNING"\n')
        try:
            self.token = create_token(config, login, server)
        except BaseException:
            self._dir.cleanup()
            raise
        self.proc = Proc(["-m", "gateway", "run", "-c", str(config)], pinning=pinning)

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/rpc"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.http_port}/ws"

    async def wait_ready(self) -> None:
        """Until ``/health`` answers 200 (raises if the daemon exits first)."""
        await wait_http(f"http://127.0.0.1:{self.http_port}/health", self.proc)

    def memory(self) -> dict[str, int]:
        return proc_memory_kib(self.proc.pid)

    def stop(self) -> str:
        """Stop the daemon, remove its directory; what it wrote to stderr."""
        err = self.proc.stop()
        self._dir.cleanup()
        return err

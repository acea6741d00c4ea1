"""Debian's HAProxy in front of consoles, as ``deploy/haproxy-console.cfg.template`` configures
it (``docs/authority.md``, "Behind a load balancer"): the template filled for loopback and fast
checks, run with ``-db``, and its admin socket read for what HAProxy thinks of each console.

The balancer test (``test_console_balancer.py``) runs two console processes behind it; the
fair-share family (``sharekit.world_of(..., proxied=True)``) runs its one console behind it,
every caller reaching the console through the proxy from a loopback address of its own.

The template begins each connection to a console with a PROXY header (``send-proxy-v2``), so
a console behind it lists the balancer's address in ``[console] trusted_proxies``; the
balancer connects from :data:`PROXY_SOURCE` when asked to (``source``), an address of its
own, so a test may still call a console straight from ``127.0.0.1``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path
from string import Template
from typing import Final

from tests.e2e.fixtures import WAIT_S

ROOT: Final = Path(__file__).resolve().parents[2]
TEMPLATE: Final = ROOT / "deploy" / "haproxy-console.cfg.template"
HAPROXY: Final = shutil.which("haproxy") or "/usr/sbin/haproxy"
#: The address the balancer connects to its consoles from, when it is given one of its own.
PROXY_SOURCE: Final = "127.0.0.100"


def render(values: dict[str, str]) -> str:
    """The balancer's configuration: the template filled with ``values``."""
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(values)


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Balancer:
    """HAProxy with the template filled for loopback and fast checks, and its admin socket.

    Args:
        directory: where its configuration, admin socket and log go.
        servers: each console's name and loopback port.
        source: the address it connects to the consoles from (``source`` on each server
            line); empty: the one the system picks (``127.0.0.1``).
        check_interval: how often each console's ``/ready`` is asked.
    """

    def __init__(self, directory: Path, servers: Sequence[tuple[str, int]], *,
                 source: str = "", check_interval: str = "100ms") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._socket = directory / "haproxy.sock"
        config = directory / "haproxy.cfg"
        from_source = f" source {source}" if source else ""
        config.write_text(render({
            "maxconn": "1000", "stats_socket": str(self._socket), "timeout_connect": "1s",
            "timeout_check": "1s", "bind": f"127.0.0.1:{self.port}", "check_host": "127.0.0.1",
            "check_interval": check_interval, "fall": "2", "rise": "1",
            "servers": "\n".join(f"    server {name} 127.0.0.1:{port} check{from_source}"
                                 for name, port in servers)}), encoding="utf-8")
        self._log = (directory / "haproxy.log").open("w", encoding="utf-8")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def servers(self) -> dict[str, dict[str, str]]:
        """``show stat`` for the consoles' servers: name -> its columns (``status``,
        ``scur``, ...); empty while the admin socket is not there yet."""
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(WAIT_S)
                sock.connect(str(self._socket))
                sock.sendall(b"show stat\n")
                data = b"".join(iter(lambda: sock.recv(65536), b""))
        except OSError:
            return {}
        rows = csv.DictReader(io.StringIO(data.decode().lstrip("# ")))
        return {row["svname"]: row for row in rows
                if row["pxname"] == "consoles" and row["svname"] not in ("FRONTEND", "BACKEND")}

    async def until(self, name: str, status: str) -> None:
        """Until the server ``name`` has ``status`` (``UP``, ``DOWN``): HAProxy says no more
        than its admin socket does, so it is asked until then (bounded)."""
        async with asyncio.timeout(WAIT_S * 3):
            while self.servers().get(name, {}).get("status", "").split()[:1] != [status]:
                assert self.proc.poll() is None, "haproxy exited"
                await asyncio.sleep(0.05)

    async def busiest(self) -> str:
        """The server holding the most sessions, once one holds any. Just after a
        revocation every daemon's long-poll has been answered and is being renewed, so for
        a moment neither holds a session (``{'console1': 0, 'console2': 0}`` in a CI run):
        the held polls come back within one renewal, and the balancer is asked until then."""
        async with asyncio.timeout(WAIT_S * 3):
            while True:
                held = {name: int(row["scur"]) for name, row in self.servers().items()}
                if held and max(held.values()) > 0:
                    return max(held, key=lambda name: held[name])
                assert self.proc.poll() is None, "haproxy exited"
                await asyncio.sleep(0.02)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self._log.close()

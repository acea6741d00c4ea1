"""Round-4 T4-F7: the connection budget fits the process's open-file limit.

The review started the console under ``RLIMIT_NOFILE = 256`` (macOS's default soft limit):
400 bare connections left ``/health`` unanswered, and 300 long-polls of fresh device keys
made SQLite fail to open its file, because ``[console] max_connections`` (512) ignored the
limit. Here the console and the daemon run as real processes whose limit is set in the child
(``preexec_fn``), and the round-3 F6 shapes are replayed: bare connections, then long-polls
kept open, while ``/health`` and a device call must be answered. Three cases: the hard limit
lets the process raise its soft limit (it does, and serves its whole budget), and it does not
(the budget is capped with a warning), and a limit too small for any connection (refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import resource
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mtgateway_base.descriptors import RESERVE
from mtgateway_base.wire.proofs import device_info, device_proof_headers
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from tests.e2e.fixtures import WAIT_S

pytestmark = [pytest.mark.network_edge,
              pytest.mark.not_on_windows("rlimit")]

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Output(list[bytes]):
    """A serving process's output lines, read as they come; :meth:`until` waits for a line
    count without polling."""

    def __init__(self) -> None:
        super().__init__()
        self._grew = asyncio.Event()

    def add(self, line: bytes) -> None:
        self.append(line)
        self._grew.set()

    async def until(self, text: bytes, count: int) -> None:
        """Return once ``count`` lines contain ``text`` (bounded by the caller's timeout)."""
        while sum(text in line for line in self) < count:
            self._grew.clear()
            await self._grew.wait()


def _nofile(soft: int, hard: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return apply


def _config(tmp_path: Path, server: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'data_dir = "{(tmp_path / "data").as_posix()}"\n'
                    "[server]\nport = 0\nheader_timeout_s = 120.0\n" + server
                    + "[bridge]\nport = 0\n"
                    "[console]\nport = 0\nheader_timeout_s = 120.0\n"
                    '[smtp]\nhost = "127.0.0.1"\nport = 1\nsecurity = "none"\n',
                    encoding="utf-8")
    path.chmod(0o600)
    return path


@contextlib.asynccontextmanager
async def _serving(command: str, config: Path, soft: int, hard: int,
                   port_line: re.Pattern[bytes]
                   ) -> AsyncIterator[tuple[int, Output, int]]:
    """``python -m gateway COMMAND -c CONFIG`` under the limit; its HTTP port, the output
    lines read until it served (more are appended while it runs) and its pid."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", command, "-c", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        preexec_fn=_nofile(soft, hard))
    assert proc.stdout is not None and proc.stderr is not None
    lines = Output()
    port: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def drain(stream: asyncio.StreamReader) -> None:
        async for line in stream:
            lines.add(line)
            match = port_line.search(line)
            if match and not port.done():
                port.set_result(int(match.group(1)))
        if not port.done():  # the process ended without serving
            port.set_exception(AssertionError(b"".join(lines).decode()))

    readers = [asyncio.create_task(drain(proc.stdout)), asyncio.create_task(drain(proc.stderr))]
    try:
        async with asyncio.timeout(WAIT_S * 3):
            served = await port
        yield served, lines, proc.pid
    finally:
        proc.terminate()
        await proc.wait()
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


_CONSOLE_PORT = re.compile(rb"console listening on http://127\.0\.0\.1:(\d+)")
_DAEMON_PORT = re.compile(rb"HTTP on 127\.0\.0\.1:(\d+)")


def _open_files_limit(pid: int) -> list[str] | None:
    """The soft and hard "Max open files" of ``pid`` as Linux's /proc shows them, else None."""
    limits = Path(f"/proc/{pid}/limits")
    if not limits.exists():
        return None
    row = next(line for line in limits.read_text(encoding="utf-8").splitlines()
               if line.startswith("Max open files"))
    return row.split()[3:5]


async def _approved_device(data: Path) -> Ed25519PrivateKey:
    """A daemon's device key its owner approved, written before the console starts."""
    authority = await Authority.open(data, RecordingMailer())
    try:
        await authority.owners.create("owner@example.com", "a long test password")
        key = Ed25519PrivateKey.generate()
        await authority.approvals.approve_local(device_info(key))  # approved by the owner
    finally:
        await authority.close()
    return key


_EVICTED = b"evicting a connection from"
#: Bare connections opened before waiting for the server to take them: fewer than any budget
#: here, so the connections it is still closing never reach twice the budget.
_BATCH = 50


async def _bare(port: int, count: int, output: Output, budget: int) -> list[Connection]:
    """``count`` connections that send nothing (each one a descriptor in the server), opened
    in batches, each taken by the server before the next: every one beyond ``budget`` evicts
    one (a line each). Opened at once, a loop that accepts a whole burst in one pass holds
    the evicted ones open until its next pass, counts them against twice the budget, and
    refuses the rest of the burst with 503, lingering up to two seconds each: descriptors
    bounded as they should be, but a /health asked just then is refused too."""
    opened: list[Connection] = []
    while len(opened) < count:
        for _ in range(min(_BATCH, count - len(opened))):
            opened.append(await asyncio.open_connection("127.0.0.1", port))
        async with asyncio.timeout(WAIT_S):
            await output.until(_EVICTED, max(0, len(opened) - budget))
    return opened


async def _close(connections: list[Connection]) -> None:
    for _, writer in connections:
        writer.close()
    for _, writer in connections:
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _health(port: int) -> int:
    async with asyncio.timeout(WAIT_S), aiohttp.ClientSession() as session, \
            session.get(f"http://127.0.0.1:{port}/health") as response:
        return response.status


async def _device_call(session: aiohttp.ClientSession, port: int, key: Ed25519PrivateKey,
                       path: str, body: bytes | None) -> int:
    """A device-signed POST of ``body``, or a GET when it is None."""
    method = "GET" if body is None else "POST"
    headers = {**device_proof_headers(key, method, path, body or b"", time.time()),
               "Content-Type": "application/json"}
    async with session.request(method, f"http://127.0.0.1:{port}{path}", data=body,
                               headers=headers) as response:
        await response.read()
        return response.status


async def test_a_console_under_a_low_hard_limit_serves_a_smaller_budget(
        tmp_path: Path) -> None:
    """Soft and hard limit 256: the console warns that it serves at most (256 - 64) / 2 = 96
    connections of its 512, then answers /health while 400 bare connections are open, and
    /health and an approved daemon's call while 300 long-polls of fresh keys are held or
    refused, their sockets open (before: /health unanswered, and `unable to open database
    file`)."""
    config = _config(tmp_path)
    daemon = await _approved_device(tmp_path / "data")
    async with _serving("console", config, 256, 256, _CONSOLE_PORT) as (port, lines, _):
        capped = (256 - RESERVE) // 2
        bare = await _bare(port, 400, lines, capped)
        try:
            assert await _health(port) == 200
        finally:
            await _close(bare)
        body = b'{"cursor": 0, "wait_s": 60}'
        async with aiohttp.ClientSession(  # keep-alive: every answered socket stays open
                connector=aiohttp.TCPConnector(limit=0)) as session:
            answered = asyncio.Event()
            refused = 300 - 64 - capped  # beyond the 64 held and a budget of working ones

            def one_done(_: asyncio.Task[int]) -> None:
                if sum(p.done() for p in polls) >= refused:
                    answered.set()

            polls = [asyncio.create_task(_device_call(
                session, port, Ed25519PrivateKey.generate(), "/v1/device/revocations", body))
                for _ in range(300)]
            for poll in polls:
                poll.add_done_callback(one_done)
            try:
                # the refused ones answer at once; the held ones wait their 60 s
                async with asyncio.timeout(WAIT_S * 3):
                    await answered.wait()
                assert await _health(port) == 200
                async with asyncio.timeout(WAIT_S):
                    status = await _device_call(session, port, daemon, "/v1/device/status",
                                                None)
                assert status == 200
            finally:
                for poll in polls:
                    poll.cancel()
                await asyncio.gather(*polls, return_exceptions=True)
        said = b"".join(lines).decode()
        assert "unable to open database file" not in said
        assert f"[console] max_connections = 512 needs {2 * 512 + RESERVE} open files" in said
        assert f"serving at most {capped} connections" in said


async def test_a_console_raises_its_soft_limit_toward_the_hard_one(tmp_path: Path) -> None:
    """Soft 256, hard 4096: the console raises its soft limit to 2 x 512 + 64 = 1088 (said
    at INFO), keeps its whole budget, and answers /health while 600 bare connections are
    open (more than 256 descriptors: the raise is real)."""
    config = _config(tmp_path)
    async with _serving("console", config, 256, 4096, _CONSOLE_PORT) as (port, lines, pid):
        bare = await _bare(port, 600, lines, 512)
        try:
            assert await _health(port) == 200
        finally:
            await _close(bare)
        said = b"".join(lines).decode()
        assert f"raised the open-file limit from 256 to {2 * 512 + RESERVE}" in said
        assert "serving at most" not in said
        shown = _open_files_limit(pid)  # Linux shows it; elsewhere the line says it
        assert shown in (None, [str(2 * 512 + RESERVE), "4096"]), shown


async def test_the_daemon_fits_its_budget_to_the_limit_too(tmp_path: Path) -> None:
    """`mtgateway run` under soft and hard 256 with `[server] max_connections` 512 (512 per
    peer): the budget is capped (its reserve adds the bridge's pending handshakes), and
    /health is answered while 400 bare connections are open (before: unanswered)."""
    config = _config(tmp_path, "max_connections = 512\nmax_connections_per_peer = 512\n")
    reserve = RESERVE + 16
    async with _serving("run", config, 256, 256, _DAEMON_PORT) as (port, lines, _):
        bare = await _bare(port, 400, lines, (256 - reserve) // 2)
        try:
            assert await _health(port) == 200
        finally:
            await _close(bare)
        said = b"".join(lines).decode()
        assert f"[server] max_connections = 512 needs {2 * 512 + reserve} open files" in said
        assert f"serving at most {(256 - reserve) // 2} connections" in said


async def test_a_limit_with_no_room_for_a_connection_refuses_to_start(
        tmp_path: Path) -> None:
    """Soft and hard limit 64, all of it the reserve: the console exits 2 with one line
    naming the limit and the fix, before listening."""
    config = _config(tmp_path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mtgateway_console", "-c", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        preexec_fn=_nofile(64, 64))
    out, err = await asyncio.wait_for(proc.communicate(), WAIT_S * 3)
    assert proc.returncode == 2, err
    assert b"error: the open-file limit (64) leaves no room" in err and b"ulimit -n" in err
    assert b"listening" not in out

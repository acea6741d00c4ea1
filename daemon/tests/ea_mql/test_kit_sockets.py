"""The kit's MQL5 sockets against a real peer: what they say about a connection must be what
the connection is. A kit that reports a close that did not happen makes the EA drop a healthy
session (CI saw "gateway closed the connection" mid-check, the daemon never closed it), and
a test of the EA then fails for the kit's fault."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from daemon.tests.ea_mql.conftest import make_fixture
from daemon.tests.ea_mql.eakit import build_probe

#: Bytes the peer sends one at a time, each after the probe has taken the one before.
BYTES = 3000

#: An Expert Advisor that polls a socket the way the EA's Drain does: SocketIsReadable, then
#: SocketRead what it says is there; when it says nothing is there, SocketIsConnected decides.
#: Each byte taken is answered with one byte, so the next one arrives while the probe polls an
#: empty socket: the moment a check that looks twice can get wrong.
PROBE = """\
#property version "1.00"
input int Port = 0;
input int Bytes = 0;

int OnInit()
  {
   int s = SocketCreate();
   if(s == INVALID_HANDLE || !SocketConnect(s, "127.0.0.1", (uint)Port, 2000))
     {
      Print("PROBE cannot connect");
      return INIT_FAILED;
     }
   int got = 0;
   uchar buf[];
   uchar ack[1];
   ack[0] = 'k';
   while(got < Bytes)
     {
      uint n = SocketIsReadable(s);
      if(n > 0)
        {
         ArrayResize(buf, 0);
         int r = SocketRead(s, buf, n, 1000);
         if(r <= 0)
            break;
         got += r;
         if(SocketSend(s, ack, 1) != 1)
            break;
        }
      else
         if(!SocketIsConnected(s))
            break;
     }
   Print("PROBE got ", got, " of ", Bytes, ", connected ", SocketIsConnected(s) ? "yes" : "no");
   SocketClose(s);
   return INIT_SUCCEEDED;
  }
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_probe(tmp_path_factory.mktemp("probe"), PROBE)


@pytest.mark.timeout(120)
async def test_data_arriving_on_an_empty_socket_is_not_taken_for_a_close(
        probe: Path, tmp_path: Path) -> None:
    """Every byte is read and the connection is up at the end: SocketIsReadable never reports
    the peer's next byte, landing between its two looks at the socket, as a close."""
    fixture, _ = make_fixture(tmp_path)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    port = listener.getsockname()[1]
    loop = asyncio.get_running_loop()
    proc = await asyncio.create_subprocess_exec(
        str(probe), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={"MTGW_FIXTURE": str(fixture), "MQL_INPUT_Port": str(port),
             "MQL_INPUT_Bytes": str(BYTES)})
    try:
        conn, _ = await asyncio.wait_for(loop.sock_accept(listener), 30)
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            acked = 0
            try:
                for _ in range(BYTES):
                    await loop.sock_sendall(conn, b"x")
                    if not await asyncio.wait_for(loop.sock_recv(conn, 1), 30):
                        break
                    acked += 1
            except ConnectionError:
                pass  # the probe gave up on the connection: its report says why
            lines = []
            assert proc.stdout is not None
            while not any(line.startswith("PROBE") for line in lines):
                line = await asyncio.wait_for(proc.stdout.readline(), 30)
                assert line, f"the probe exited: {lines}"
                lines.append(line.decode(errors="replace").strip())
    finally:
        listener.close()
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()
    report = next(line for line in lines if line.startswith("PROBE"))
    assert report == f"PROBE got {BYTES} of {BYTES}, connected yes", (report, acked)
    assert acked == BYTES

"""Serving processes sharing one port (``mtgateway_console/processes.py``), with a target of
the test's own: the shared listening socket (the path Windows, macOS and the BSDs take) is
handed to each spawned process, which accepts from it; the port reserved for the Linux path
binds again with ``SO_REUSEPORT``; a process that cannot start is reported with its message;
stopping sets the event each process watches and every process ends."""

from __future__ import annotations

import contextlib
import socket
import threading
from multiprocessing.connection import Connection

import pytest

from mtgateway_console.processes import (
    WorkerFailed,
    Workers,
    listening_socket,
    on_stop,
    reserve_port,
    spreads_connections,
)


def _answer_each_connection(index: int, shared: socket.socket | None,
                            channel: Connection) -> None:
    """A serving process: says which one it is to each connection, until told to stop."""
    assert shared is not None
    shared.settimeout(0.1)
    stop = threading.Event()
    channel.send(int(shared.getsockname()[1]))
    on_stop(channel, stop.set)
    while not stop.is_set():
        try:
            conn, _ = shared.accept()
        except (TimeoutError, BlockingIOError):
            continue
        with conn:
            conn.sendall(f"{index}\n".encode())


def _refuse_to_start(index: int, shared: socket.socket | None, channel: Connection) -> None:
    channel.send("no room for connections")


def test_processes_accept_from_one_shared_listening_socket() -> None:
    shared = socket.create_server(("127.0.0.1", 0))
    port = shared.getsockname()[1]
    workers = Workers(2, _answer_each_connection, (), shared)
    try:
        assert workers.start(timeout_s=60) == port
        answers = set()
        for _ in range(8):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                answers.add(conn.makefile().readline().strip())
        assert answers <= {"0", "1"} and answers
    finally:
        workers.stop(timeout_s=30)
        shared.close()
    assert [p.exitcode for p in workers.processes] == [0, 0]


def test_a_process_that_cannot_start_says_why() -> None:
    workers = Workers(1, _refuse_to_start, (), None)
    with pytest.raises(WorkerFailed, match="no room for connections"):
        workers.start(timeout_s=60)
    assert not any(p.is_alive() for p in workers.processes)


@pytest.mark.not_on_windows("so-reuseport")
def test_the_reserved_port_binds_again_with_reuseport() -> None:
    """Linux: the supervisor's socket holds the port without listening; each process binds
    the same port with SO_REUSEPORT and listens, and gets connections."""
    assert spreads_connections()
    reserved = reserve_port("127.0.0.1", 0)
    port = reserved.getsockname()[1]
    sockets = [listening_socket("127.0.0.1", port, None) for _ in range(2)]
    try:
        for sock in sockets:
            sock.listen()
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass
    finally:
        for sock in [reserved, *sockets]:
            with contextlib.suppress(OSError):
                sock.close()

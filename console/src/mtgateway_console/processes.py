"""Several serving processes for one console instance, sharing its port.

One console process is one event loop: its Python runs on one core at a time, and its
descriptors are bounded by one process's open-file limit (two per connection,
``descriptors.py``). ``[console] processes = N`` serves one instance from N processes on the
same port (the shape of nginx's workers or gunicorn's), each with its own loop, database
pool and limits; the instance's owners, records and long-polls are shared through PostgreSQL
as those of separate instances are (``processes > 1`` needs it).

How they share the port:

- **Linux**: each process binds its own listening socket with ``SO_REUSEPORT``, and the
  kernel spreads new connections over them by a hash of the addresses, so a reconnection
  burst is not accepted by whichever loop happens to be idle. The supervisor keeps one
  socket bound (not listening) on the port: port 0 resolves to one port for all, and the
  port stays reserved while a worker restarts.
- **Elsewhere**: Windows has no ``SO_REUSEPORT``, and macOS and the BSDs have one that does
  not spread connections. The supervisor binds and listens once and hands the listening
  socket to every process (``multiprocessing`` duplicates it into each: ``socket.share`` on
  Windows); each accepts from the one queue.

:class:`Workers` starts the processes (``spawn``: the same on every platform), waits until
each serves, and stops them through a pipe each process watches (:func:`on_stop`: a
graceful stop on every platform, Windows having no SIGTERM for a child; a process whose
supervisor dies stops too); one that does not stop in time is terminated. The serving itself
(the app, the signals, logging) is the caller's: a function importable by name, passed as
``target``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.context import SpawnProcess
from typing import Any

if sys.platform == "win32":  # what multiprocessing.Pipe() makes there
    from multiprocessing.connection import PipeConnection as Channel
else:
    from multiprocessing.connection import Connection as Channel

__all__ = ["Channel", "WorkerFailed", "Workers", "listening_socket", "on_stop", "pin",
           "reserve_port", "spreads_connections"]

log = logging.getLogger(__name__)


class WorkerFailed(RuntimeError):
    """A serving process did not start, or ended while it should have been serving."""


def spreads_connections() -> bool:
    """Whether each process binds its own socket with ``SO_REUSEPORT`` and the kernel spreads
    connections over them (Linux); otherwise one listening socket is shared."""
    return sys.platform == "linux"


def pin(index: int) -> int:
    """Run this process, and every thread it starts from now on, on one CPU: the
    ``index``-th (round) of those it may use now; that CPU's number.

    Why (``[console] pin_processes``): the event loop and the database door's workers wake
    one another at every statement; on one CPU a wake-up is a switch, across CPUs of a
    virtual machine an interrupt between them as well. Call it before any thread starts:
    threads started before keep their CPUs.

    Raises:
        OSError: the platform has no ``sched_setaffinity`` (the setting is refused at load
            on such platforms), or the CPU cannot be chosen.
    """
    if sys.platform != "linux":
        raise OSError("running a process on one CPU needs Linux's sched_setaffinity")
    allowed = sorted(os.sched_getaffinity(0))
    cpu = allowed[index % len(allowed)]
    os.sched_setaffinity(0, {cpu})
    return cpu


def _socket_for(host: str, port: int) -> socket.socket:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    families = [info[0] for info in infos]
    family = socket.AF_INET if socket.AF_INET in families else families[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    if sys.platform != "win32":  # on Windows SO_REUSEADDR lets another process steal the port
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if sys.platform == "linux":  # spreads_connections()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def reserve_port(host: str, port: int) -> socket.socket:
    """The supervisor's socket on ``host:port`` (0: a free port): bound with ``SO_REUSEPORT``
    and not listening where connections are spread (no connection is ever queued on it),
    else bound and listening, to be handed to every process.

    Raises:
        OSError: the address cannot be bound.
    """
    sock = _socket_for(host, port)
    try:
        sock.bind((host, port))
        if not spreads_connections():
            sock.listen(socket.SOMAXCONN)
    except OSError:
        sock.close()
        raise
    return sock


def listening_socket(host: str, port: int, shared: socket.socket | None) -> socket.socket:
    """A serving process's socket: ``shared`` when one was handed over, else one of its own,
    bound with ``SO_REUSEPORT`` to the supervisor's port (the site listens on it).

    Raises:
        OSError: the address cannot be bound.
    """
    if shared is not None:
        return shared
    sock = _socket_for(host, port)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class Workers:
    """``count`` serving processes: ``target(index, shared_socket, channel, *args)``.

    Each process has a pipe of its own to the supervisor (``channel``): it sends
    ``port`` once it serves (or a message saying why it cannot), and :func:`on_stop` tells
    it when to stop (the supervisor asked, or it went away). A pipe each, not a shared event
    or queue: a process killed in the middle of a wait must not leave a lock the others or
    the supervisor then wait on forever.
    """

    def __init__(self, count: int, target: Callable[..., None], args: tuple[Any, ...],
                 shared: socket.socket | None) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._count = count
        self._target = target
        self._args = args
        self._shared = shared
        self._channels: list[Channel] = []
        self.processes: list[SpawnProcess] = []

    def start(self, timeout_s: float = 120.0) -> int:
        """Start every process and wait until each serves; the port they serve.

        Raises:
            WorkerFailed: one could not start (its message), ended first, or did not say it
                serves in ``timeout_s``; those started are stopped.
        """
        for index in range(self._count):
            ours, theirs = self._ctx.Pipe()
            process = self._ctx.Process(
                target=self._target, name=f"mtgateway-console-{index}", daemon=False,
                args=(index, self._shared, theirs, *self._args))
            process.start()
            theirs.close()
            self._channels.append(ours)
            self.processes.append(process)
        try:
            ports = self._ports(time.monotonic() + timeout_s)
        except WorkerFailed:
            self.stop()
            raise
        if len(ports) != 1:
            self.stop()
            raise WorkerFailed(f"the console's processes serve different ports: {ports}")
        return ports.pop()

    def _ports(self, deadline: float) -> set[int]:
        """What each process says once it serves (or why it cannot)."""
        ports: set[int] = set()
        waiting = {id(channel): index for index, channel in enumerate(self._channels)}
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerFailed("the console's processes did not start in time")
            pending = [c for c in self._channels if id(c) in waiting]
            for ready in wait(pending, left):
                index = waiting.pop(id(ready))
                try:
                    answer = self._channels[index].recv()
                except (EOFError, OSError):
                    raise WorkerFailed(f"console process {index} exited while starting "
                                       f"({self.processes[index].exitcode})") from None
                if isinstance(answer, str):
                    raise WorkerFailed(f"console process {index} did not start: {answer}")
                ports.add(int(answer))
        return ports

    def ended(self) -> list[str]:
        """The processes that have ended, with their exit codes."""
        return [f"{p.name} (exit {p.exitcode})" for p in self.processes if not p.is_alive()]

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask every process to stop (each answers what it holds, then exits); terminate
        those still running after ``timeout_s``."""
        for channel in self._channels:
            with contextlib.suppress(OSError):
                channel.send("stop")
        deadline = time.monotonic() + timeout_s
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in self.processes:
            if process.is_alive():
                log.warning("console process %s did not stop in %g s; terminating it",
                            process.name, timeout_s)
                process.terminate()
                process.join(5.0)
        for channel in self._channels:
            channel.close()


def on_stop(channel: Channel, stop: Callable[[], None]) -> None:
    """In a serving process: call ``stop`` (from a thread of its own) when the supervisor
    asks, or goes away (its end of the pipe closed)."""

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            channel.recv()
        stop()

    threading.Thread(target=watch, name="console-stop", daemon=True).start()

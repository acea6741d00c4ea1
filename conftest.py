"""Every network-edge test runs on asyncio's own loop and on uvloop (the loop the daemon ships
with on POSIX; ``gateway.cli`` and ``mtgateway_base.loop`` choose it).

Issue 8 found the guard's own 421 and 503 answers never written under uvloop (its transports
do not subclass ``asyncio.Transport``) while every test ran on asyncio's loop. A test module
that exercises sockets at the edge (HTTP rules, WebSocket, the bridge port, denial of service,
fuzzing) says so with ``pytestmark = pytest.mark.network_edge``; pytest-asyncio's
``pytest_asyncio_loop_factories`` hook then parametrizes each of its tests over both loops
(ids ``[asyncio]`` and ``[uvloop]``). Other tests keep asyncio's loop only. On Windows, where
uvloop does not exist, the edge tests run on asyncio's loop alone.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import settings

from tests.pgkit import PostgresServer, postgres_server
from tests.rewrites import share_the_rewriting
from tests.windows.reasons import REASONS, skip_reason

# Hypothesis's per-example deadline is a timed assertion: on a loaded machine an example of
# the EA framing's round trip took 444 ms against its 200 ms and failed a correct tree. The
# suite judges behaviour, and speed only in ``python -m bench``.
settings.register_profile("mtgateway", deadline=None)
settings.load_profile("mtgateway")

try:
    import uvloop
except ImportError:  # Windows
    uvloop = None  # type: ignore[assignment]

_ASYNCIO: Mapping[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop}
_BOTH: Mapping[str, Callable[[], asyncio.AbstractEventLoop]] = (
    {**_ASYNCIO, "uvloop": uvloop.new_event_loop} if uvloop is not None else _ASYNCIO)


#: The bytecode folder this process made for the run (:func:`pytest_configure`), if any.
_pycache: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Bytecode compiled once a run, not once a process: ``PYTHONDONTWRITEBYTECODE`` (set in
    some shells and containers) makes every ``python -m gateway`` the suite starts, and every
    test worker, compile each module it imports from source again (0.5 s of CPU more for a
    daemon's start; the suite starts hundreds of processes). Where it is set and no
    ``PYTHONPYCACHEPREFIX`` is, the run's processes (the workers, inheriting the environment,
    and what they start) share a private temporary folder for their bytecode instead: never
    in the source tree, as the variable wants, and removed when the run ends."""
    global _pycache
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get("PYTHONPYCACHEPREFIX"):
        return
    _pycache = Path(tempfile.mkdtemp(prefix="mtgw-pycache-"))
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    os.environ["PYTHONPYCACHEPREFIX"] = str(_pycache)
    sys.pycache_prefix = str(_pycache)
    sys.dont_write_bytecode = False


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run's bytecode folder goes with the process that made it."""
    if _pycache is not None:
        shutil.rmtree(_pycache, ignore_errors=True)


def pytest_sessionstart(session: pytest.Session) -> None:
    """A worker of ``-n N`` writes its share of the test modules' rewritten bytecode before
    it collects, so the workers do that work once between them (``tests/rewrites.py``)."""
    workerinput = getattr(session.config, "workerinput", None)
    if workerinput is None:
        return
    worker = int(str(workerinput["workerid"]).removeprefix("gw"))
    here = Path(session.config.invocation_params.dir)
    paths = [(here / arg.split("::")[0]).resolve() for arg in session.config.args]
    share_the_rewriting(session.config, paths, Path(__file__).parent.resolve(), worker,
                        int(workerinput["workercount"]))


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item
                                  ) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Both loops for ``network_edge`` tests, asyncio's for the rest."""
    return _BOTH if item.get_closest_marker("network_edge") is not None else _ASYNCIO


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``not_on_windows("key")``: a skip with the key's listed reason on win32; an unknown key
    is refused on every platform (``tests/windows/reasons.py``)."""
    for item in items:
        for mark in item.iter_markers("not_on_windows"):
            key = mark.args[0] if mark.args else None
            if key not in REASONS:
                raise pytest.UsageError(f"{item.nodeid}: not_on_windows({key!r}) is not a "
                                        "reason tests/windows/reasons.py lists")
            if sys.platform == "win32":
                item.add_marker(pytest.mark.skip(reason=skip_reason(key)))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the run (``tests/pgkit.py``), started on first use."""
    if sys.platform == "win32":
        pytest.skip(skip_reason("postgresql"))
    yield from postgres_server()

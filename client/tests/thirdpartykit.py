"""Running code written for the ``MetaTrader5`` package against a demo, as its users run it.

Such code says ``import MetaTrader5`` and cannot be changed; docs/client.md ("Code that says
import MetaTrader5") installs the ``mtgateway-metatrader5`` distribution beside the client so
that the import is the client. The README's test set-up does that for this environment
(``pip install ... -e ./client/metatrader5-shim``); :func:`package_environment` is the
environment such a program runs in; :func:`latest_aiomql_python` makes (once, then reuses) the
Python 3.13 environment aiomql's latest release needs, :func:`agents_python` the agent
servers' environment, and :func:`agents_fastmcp3_python` the one of the agent server on
FastMCP 3, installed the same way. What nobody here wrote is installed once a machine, in
:data:`SHARED`, and each run's environment is a thin one over it (:func:`_environment`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from importlib.metadata import packages_distributions
from pathlib import Path

from client.tests.distkit import CLIENT, SHIM, python_of
from tests.e2e.commands import held

HERE = Path(__file__).resolve().parent
FRAMEWORK = HERE / "framework"
#: The distribution that makes ``import MetaTrader5`` the client.
SHIM_DISTRIBUTION = "mtgateway-metatrader5"
#: aiomql's latest release, pinned by hash (it needs Python 3.13).
LATEST_AIOMQL = HERE / "third_party_latest.txt"
#: The agent servers and everything they import, every file pinned by hash.
AGENTS = HERE / "third_party_agents.txt"
#: mt5-mcp, on FastMCP 3, and everything it and mt5-trading-mcp import: an environment of
#: their own.
AGENTS_FASTMCP3 = HERE / "third_party_agents_fastmcp3.txt"
#: mt5-trading-mcp, installed apart in that environment (its module is mt5-mcp's name).
MT5_TRADING_MCP = HERE / "third_party_mt5_trading_mcp.txt"
#: Where in an environment a distribution installed apart goes (put on PYTHONPATH to run it).
APART = "apart"
#: What aiomql 4.1.2 imports at run time, installed beside it (it is installed without its
#: declared requirements: they include MetaTrader5, Windows wheels only): its pandas and
#: mplfinance, and six, which mplfinance imports without declaring it.
LATEST_AIOMQL_IMPORTS = ("pandas>=3.0.1", "mplfinance==0.12.10b0", "six>=1.16")
#: Where a Python 3.13 comes from when ``python3.13`` on PATH is not one (pyenv's shims answer
#: "command not found" for a version that is installed but not selected).
_PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"


def package_environment(state_file: Path, **more: str) -> dict[str, str]:
    """The environment of a program written for the package, run against the demo whose
    state file is ``state_file`` (``initialize()`` finds it through ``MTGATEWAY_STATE_FILE``):
    this one, with no other ``MTGATEWAY_*`` variable, trade-server times on UTC as the demo's
    server, matplotlib drawing nowhere, and ``more``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_")}
    env.update({"MTGATEWAY_STATE_FILE": str(state_file), "TZ": "UTC", "MPLBACKEND": "Agg",
                **more})
    return env


def flatten(state_file: Path) -> None:
    """Leave the demo's account with no position and no pending order: what a test of
    third-party code runs after it, so one package's failure cannot become another's."""
    import mtgateway  # the client, as the programs under test see it

    with mtgateway.Client() as client:
        assert client.initialize(state_file=state_file), client.last_error()
        for order in client.orders_get() or ():
            client.order_send({"action": mtgateway.TRADE_ACTION_REMOVE, "order": order.ticket})
        for position in client.positions_get() or ():
            client.order_send({"action": mtgateway.TRADE_ACTION_DEAL, "symbol": position.symbol,
                               "volume": position.volume, "position": position.ticket,
                               "type": 1 - position.type})
        assert (client.positions_total(), client.orders_total()) == (0, 0)


def shim_problem() -> str | None:
    """Why ``import MetaTrader5`` is not the client through its distribution here, or None."""
    providers = set(packages_distributions().get("MetaTrader5", ()))
    if providers != {SHIM_DISTRIBUTION}:
        return (f"MetaTrader5 comes from {sorted(providers) or 'nothing'} in this environment, "
                f"not {SHIM_DISTRIBUTION}: install it as the README's test set-up does, "
                "pip install -e ./client/metatrader5-shim")
    return None


def _python_313() -> Path | str:
    """A Python 3.13 or later interpreter, or why none was found."""
    candidates = [os.environ.get("MTGATEWAY_TEST_PYTHON313", ""),
                  shutil.which("python3.13") or "", shutil.which("python3.14") or "",
                  *sorted((str(p) for p in _PYENV_VERSIONS.glob("3.1[3-9]*/bin/python3")),
                          reverse=True)]
    for candidate in filter(None, candidates):
        try:
            out = subprocess.run([candidate, "-c", "import sys; print(sys.version_info >= "
                                  "(3, 13))"], capture_output=True, text=True, timeout=60)
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == "True":
            return Path(candidate)
    return ("no Python 3.13 found (aiomql's latest release needs one): set "
            "MTGATEWAY_TEST_PYTHON313 to its interpreter, put python3.13 on PATH, or install "
            "one with pyenv")


def latest_aiomql_python(cache: Path) -> Path:
    """The interpreter of a Python 3.13 environment with the client, the
    ``mtgateway-metatrader5`` distribution (both from this checkout, editable, so never out of
    date), aiomql's latest release (``third_party_latest.txt``, by hash, without its declared
    requirements) and what it imports, made under ``cache`` on first use (from the package
    index) and reused while its requirements are the same.

    Raises:
        AssertionError: no Python 3.13, or an install failed (with pip's output).
    """
    python = _python_313()
    assert isinstance(python, Path), python
    return _environment(cache, "aiomql-latest", python, LATEST_AIOMQL, LATEST_AIOMQL_IMPORTS)


def agents_python(cache: Path) -> Path:
    """The interpreter of the agent servers' environment: this interpreter's Python with the
    servers and everything they import (``third_party_agents.txt``, every file by hash,
    without resolving), the client and the ``mtgateway-metatrader5`` distribution from this
    checkout, made under ``cache`` on first use and reused while the file is the same.

    Raises:
        AssertionError: an install failed (with pip's output).
    """
    return _environment(cache, "agents", Path(sys.executable), AGENTS, ())


def agents_fastmcp3_python(cache: Path) -> Path:
    """The interpreter of mt5-mcp's environment (``third_party_agents_fastmcp3.txt``), made
    as :func:`agents_python`'s: its FastMCP 3 cannot share that one's FastMCP 2. It holds
    mt5-trading-mcp too, installed apart (:func:`apart`), since both install ``mt5_mcp``.

    Raises:
        AssertionError: an install failed (with pip's output).
    """
    return _environment(cache, "agents-fastmcp3", Path(sys.executable), AGENTS_FASTMCP3, (),
                        apart_pinned=MT5_TRADING_MCP)


def apart(python: Path) -> Path:
    """The directory of ``python``'s environment holding what was installed apart: the
    ``PYTHONPATH`` of a program run from it."""
    return python.parent.parent / APART


def _environment(cache: Path, name: str, python: Path, pinned: Path,
                 imports: tuple[str, ...], apart_pinned: Path | None = None) -> Path:
    """A virtual environment of ``python`` under ``cache`` holding ``pinned`` (by hash,
    without its declared requirements), ``imports``, ``apart_pinned`` (by hash) in its
    directory :data:`APART`, and the client and the distribution from this checkout; made once
    per content of those, a half-made or out-of-date one replaced.

    What nobody here wrote is installed once a machine, not once a run: :func:`_third_party`
    keeps it in :data:`SHARED` by the hash of its pins (a CI run makes a new test environment
    each time, and installing the agent servers' ~90 distributions cost 15-20 s of CPU a run).
    This environment is a thin one over it: its ``site-packages`` adds the shared one's with a
    ``.pth`` line, its scripts are the shared ones' pointed at its own interpreter, and only
    the client's and the distribution's editable wheels (:func:`editable_wheels`, which name
    this checkout's sources) are installed in it, so two checkouts never share a client."""
    shared = _third_party(name, python, pinned, imports, apart_pinned)
    key = hashlib.sha256("\n".join([shared.name, _editable_key()]).encode()).hexdigest()[:12]
    env_dir = cache / f"{name}-{key}"
    done = env_dir / "installed"
    if done.is_file():
        return python_of(env_dir)
    cache.mkdir(parents=True, exist_ok=True)
    # one process at a time: xdist's workers may each set up a module's fixture at once
    with held(cache / f"{name}.lock"):
        if not done.is_file():
            _thin(env_dir, name, python, shared, cache)
            done.write_text(key, encoding="utf-8")
    return python_of(env_dir)


def _thin(env_dir: Path, name: str, python: Path, shared: Path, cache: Path) -> None:
    """Make the thin environment ``env_dir`` over ``shared`` (see :func:`_environment`),
    removing ``name``'s others first (and a half-made one)."""
    for made in cache.glob(f"{name}-{'?' * 12}"):  # not another name's: agents-fastmcp3
        if made.is_dir():
            shutil.rmtree(made, ignore_errors=True)
    # The interpreter's own venv module (this one's would make this one's Python version).
    _install([str(python), "-m", "venv", "--without-pip", str(env_dir)])
    own = python_of(env_dir)
    (_site_packages(env_dir) / "mtgateway_third_party.pth").write_text(
        f"import site; site.addsitedir({str(_site_packages(shared))!r})\n", encoding="utf-8")
    built_as = (shared / BUILT_AS).read_text(encoding="utf-8")
    for script in (shared / "bin").iterdir():
        if (env_dir / "bin" / script.name).exists() or not script.is_file():
            continue  # the environment's own interpreter and activation scripts
        text = script.read_bytes()
        if built_as.encode() in text[:1024]:  # pip's launcher: a shebang, or sh's exec line
            (env_dir / "bin" / script.name).write_bytes(
                text.replace(built_as.encode(), str(own).encode(), 1))
            (env_dir / "bin" / script.name).chmod(0o755)
    if (shared / APART).is_dir():
        (env_dir / APART).symlink_to(shared / APART, target_is_directory=True)
    _install([sys.executable, "-m", "pip", "--python", str(own), "install", "--quiet",
              "--no-compile", "--no-deps", *map(str, editable_wheels(cache))])


#: Where the environments of third-party code are kept between runs, by their pins' hash.
SHARED = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mtgateway-ci" / \
    "third-party"
#: Changes whenever what :func:`_third_party` builds into a shared environment changes.
_LAYOUT = "1"
#: The file of a shared environment naming the interpreter it was built as (its scripts name
#: it), written last: an environment without it is half made.
BUILT_AS = "built-as"
#: A shared environment no run has used for this long is removed (its pins changed since).
_UNUSED_S = 30 * 86_400


def _third_party(name: str, python: Path, pinned: Path, imports: tuple[str, ...],
                 apart_pinned: Path | None) -> Path:
    """The shared environment of ``python`` holding ``pinned``, ``imports`` and
    ``apart_pinned``, in :data:`SHARED`, made on first use: built in a directory of its own,
    renamed into place when complete (a parallel run's build of the same pins may come first,
    and then is the one kept), never changed after.

    Made at what it costs to unpack the files: the environment has no pip of its own (this
    interpreter's pip installs into it, ``--python``: ensurepip cost 4-6 s of CPU an
    environment), and nothing is compiled to bytecode at install (``--no-compile``: what a
    server imports is compiled when it first imports it, not the ~90 distributions' every
    module, 20-25 s of CPU an environment)."""
    extra = [] if apart_pinned is None else [apart_pinned.read_text(encoding="utf-8")]
    key = hashlib.sha256("\n".join([_LAYOUT, _interpreter(python),
                                    pinned.read_text(encoding="utf-8"), *extra, *imports]
                                   ).encode()).hexdigest()[:12]
    shared = SHARED / f"{name}-{key}"
    if (shared / BUILT_AS).is_file():
        os.utime(shared / BUILT_AS)  # in use: not removed as unused
        return shared
    SHARED.mkdir(parents=True, exist_ok=True)
    for made in SHARED.glob(f"{name}-{'?' * len(key)}"):
        try:
            unused = time.time() - (made / BUILT_AS).stat().st_mtime > _UNUSED_S
        except OSError:
            unused = False  # half made: perhaps being built by a parallel run
        if unused:
            shutil.rmtree(made, ignore_errors=True)
    building = Path(tempfile.mkdtemp(prefix=f"{name}-{key}.", dir=SHARED))
    try:
        _install([str(python), "-m", "venv", "--without-pip", str(building)])
        pip = [sys.executable, "-m", "pip", "--python", str(python_of(building)), "install",
               "--quiet", "--no-compile"]
        _install([*pip, "--no-deps", "--require-hashes", "-r", str(pinned)])
        if imports:
            _install([*pip, *imports])
        if apart_pinned is not None:
            _install([*pip, "--no-deps", "--require-hashes", "--target",
                      str(building / APART), "-r", str(apart_pinned)])
        (building / BUILT_AS).write_text(str(python_of(building)), encoding="utf-8")
        try:
            building.rename(shared)
        except OSError:  # a parallel run's build of the same pins came first
            assert (shared / BUILT_AS).is_file(), f"{shared} exists half made"
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return shared


def _interpreter(python: Path) -> str:
    """What an environment made by ``python`` depends on of it: the installation it is (a
    virtual environment's ``venv`` makes one of its base interpreter) and its version. Not its
    path: every CI run's test environment is a new directory."""
    code = "import sys; print(sys.base_prefix, sys.version, sys.implementation.cache_tag)"
    out = subprocess.run([str(python), "-I", "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _site_packages(env_dir: Path) -> Path:
    """The ``site-packages`` directory of the (POSIX) virtual environment ``env_dir``."""
    (found,) = (env_dir / "lib").glob("python3.*/site-packages")
    return found


#: What the client's and the distribution's editable wheels are made from besides their code
#: (which they point at, so it is always this checkout's): their metadata.
_EDITABLE_SOURCES = (CLIENT / "pyproject.toml", SHIM / "pyproject.toml")


def editable_wheels(cache: Path) -> list[Path]:
    """The client's and the ``mtgateway-metatrader5`` distribution's editable wheels (what
    ``pip install -e`` builds and installs: the metadata and a ``.pth`` naming this checkout's
    sources), built under ``cache`` once per content of their metadata, by this environment's
    setuptools without a build environment (as :mod:`client.tests.distkit` builds), and shared
    by every environment made here.

    Raises:
        AssertionError: a build failed (with its output).
    """
    from pyproject_hooks import BuildBackendHookCaller

    key = _editable_key()
    made = cache / f"editable-{key}"
    if not made.is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        part = Path(tempfile.mkdtemp(prefix=f"editable-{key}.", dir=cache))
        for project in (CLIENT, SHIM):
            hooks = BuildBackendHookCaller(str(project), "setuptools.build_meta",
                                           python_executable=sys.executable,
                                           runner=_run_hook)
            hooks.build_editable(str(part))
        try:
            part.rename(made)
        except OSError:  # a parallel worker's build of the same content came first
            shutil.rmtree(part, ignore_errors=True)
    wheels = sorted(made.glob("*.whl"))
    assert len(wheels) == 2, wheels
    return wheels


def _editable_key() -> str:
    return hashlib.sha256(b"".join(
        [str(source).encode() + b"\0" + source.read_bytes() for source in _EDITABLE_SOURCES])
    ).hexdigest()[:12]


def _run_hook(cmd: Sequence[str], cwd: str | None = None,
              extra_environ: Mapping[str, str] | None = None) -> None:
    """A build backend's hook run as pyproject_hooks asks, its output kept for the failure."""
    out = subprocess.run(list(cmd), cwd=cwd, env={**os.environ, **(extra_environ or {})},
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"{' '.join(cmd)}:\n{out.stdout}{out.stderr}"


def _install(argv: list[str]) -> None:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, f"{' '.join(argv)}:\n{out.stdout}{out.stderr}"


def versions_in(python: Path, *names: str) -> dict[str, str]:
    """The installed versions of distributions ``names`` in ``python``'s environment."""
    code = ("import sys; from importlib.metadata import version; "
            "print(*(version(n) for n in sys.argv[1:]))")
    out = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return dict(zip(names, out.stdout.split(), strict=True))

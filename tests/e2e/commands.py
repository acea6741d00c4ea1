"""Our commands run as processes, as a user runs them: ``python -m gateway ARGS`` with the
owner's secrets and ``MTGATEWAY_CONFIG`` left out of the environment (:func:`cli`; the
console's own command, ``python -m mtgateway_console ARGS``, the same way:
:func:`console_cli`), ``mtgateway audit`` (:func:`audit`), any command from the repository's
root (:func:`run`, the examples' and the demo's tests), a device's config file for remote mode
(:func:`device_config`), and reading a child's output until a line appears
(:func:`read_until`).

The README's quick start is installed as it says, into an environment of its own
(:func:`quick_start_python`), so the examples run on exactly what it installs.

Several test modules run the same commands the same way, so they live here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

from gateway.config import CONFIG_ENV
from tests.e2e.fixtures import WAIT_S

ROOT = Path(__file__).resolve().parents[2]


async def cli(*args: str | Path, env: dict[str, str] | None = None,
              module: str = "gateway", umask: int = -1) -> tuple[int, str, str]:
    """``python -m gateway ARGS`` (or another ``module``'s command): exit code, stdout,
    stderr. ``umask``: the child's (POSIX; -1 leaves this process's)."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("MTGATEWAY_OWNER_EMAIL", "MTGATEWAY_OWNER_PASSWORD", CONFIG_ENV)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *map(str, args), env={**base, **(env or {})},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, umask=umask)
    out, err = await asyncio.wait_for(proc.communicate(), WAIT_S * 3)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def console_cli(*args: str | Path, env: dict[str, str] | None = None
                      ) -> tuple[int, str, str]:
    """``python -m mtgateway_console ARGS`` (``mtgateway-console``), as :func:`cli`."""
    return await cli(*args, env=env, module="mtgateway_console")


def device_config(tmp_path: Path, url: str, key_b64: str) -> Path:
    """``device.toml`` in ``tmp_path``: remote mode against ``url`` pinning ``key_b64``, the
    device key kept in a file."""
    path = tmp_path / "device.toml"
    path.write_text(f'data_dir = "{(tmp_path / "device").as_posix()}"\n[authority]\n'
                    f'mode = "remote"\nurl = "{url}"\npublic_key = "{key_b64}"\n'
                    '[device]\nkey_storage = "file"\nname = "cli-box"\n', encoding="utf-8")
    return path


async def audit(config: Path, *argv: str) -> tuple[int, str, str]:
    """``mtgateway audit -c CONFIG ARGV``: exit code, stdout, stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "audit", "-c", str(config), *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(WAIT_S * 3):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def run(*argv: str) -> tuple[int, str]:
    """``argv`` from the repository's root, this interpreter's directory first on ``PATH``:
    exit code and output (stderr into stdout)."""
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                    f"{os.environ.get('PATH', '')}"})
    async with asyncio.timeout(WAIT_S * 3):
        out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def read_until(stream: asyncio.StreamReader, pattern: bytes) -> bytes:
    """Lines of ``stream`` until one holds ``pattern``: all of them (an assertion if it ends)."""
    seen = b""
    async with asyncio.timeout(WAIT_S * 2):
        while pattern not in seen:
            line = await stream.readline()
            assert line, seen.decode()
            seen += line
    return seen


#: What the quick-start environment is made from, besides its install line: the projects'
#: metadata (their code is installed editable, so it is always this checkout's).
_QUICK_START_SOURCES = ("daemon/pyproject.toml", "daemon/setup.py", "client/pyproject.toml",
                        "base/pyproject.toml", "base/setup.py", "console/pyproject.toml")
#: The ``[tool.*]`` tables of a ``pyproject.toml`` that no install reads (the linters', the type
#: checker's, the test runner's): left out of the environment's key, since most changes to the
#: file are to them (an import contract, a test option) and each remade the environment.
_NOT_READ_BY_INSTALL = frozenset({"pytest", "ruff", "mypy", "importlinter", "coverage"})


def _install_inputs() -> bytes:
    """What of :data:`_QUICK_START_SOURCES` an install reads: each ``setup.py`` whole, each
    ``pyproject.toml`` without the tables of :data:`_NOT_READ_BY_INSTALL`."""
    parts = []
    for name in _QUICK_START_SOURCES:
        text = (ROOT / name).read_text(encoding="utf-8")
        if name.endswith(".toml"):
            table = tomllib.loads(text)
            table["tool"] = {tool: value for tool, value in table.get("tool", {}).items()
                             if tool not in _NOT_READ_BY_INSTALL}
            text = json.dumps(table, sort_keys=True)
        parts.append(text)
    return "\0".join(parts).encode()


def readme_demo_install() -> list[str]:
    """What the README's demo line gives ``pip install``: ``python3 -m venv .venv &&
    .venv/bin/pip install ARGS && .venv/bin/mtgateway demo``."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [line] = [line for line in readme.splitlines()
              if "pip install" in line and "mtgateway demo" in line and "&&" in line]
    [install] = [part for part in line.split("&&") if "pip install" in part]
    words = shlex.split(install)
    return words[words.index("install") + 1:]


#: Where the quick start's environments are kept between runs (a CI run's test environment is
#: new each time, the machine's cache is not), one per checkout by what it installs.
QUICK_STARTS = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / \
    "mtgateway-ci" / "quick-start"
#: A quick start environment no run has used for this long is removed (its checkout or its
#: projects' metadata changed since).
_UNUSED_S = 30 * 86_400


def quick_start_python(cache: Path = QUICK_STARTS) -> Path:
    """The interpreter of a virtual environment made as the README's quick start makes
    ``.venv`` (``python3 -m venv``, then its demo line's ``pip install``, run from the
    repository's root, from the package index), under ``cache``, for this checkout; reused while
    that line, what an install reads of the projects' metadata, this checkout's place and the
    interpreter are the same (``venv`` makes an environment of the base interpreter, so a new
    test environment of the same one reuses it).

    The lines run once a machine for a key (:func:`_made_by_the_lines`); a checkout elsewhere
    (a clean clone, a worktree) gets a copy of that environment with its own paths in it
    (:func:`_copy_for_here`: the installs are editable, so they name the checkout they were
    made from), not a new install: the lines cost ~23 s of CPU, the copy ~1.5."""
    install = readme_demo_install()
    place = hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]
    key = hashlib.sha256("\n".join(install).encode() + _install_inputs() + "\0".join(
        (sys.base_prefix, sys.version, sys.implementation.cache_tag or "")).encode()
                         ).hexdigest()[:12]
    env_dir = cache / f"quick-start-{place}-{key}"
    python = _python_of(env_dir)
    installed = env_dir / "installed"
    if installed.is_file():
        installed.touch()  # in use: not removed as unused
        return python
    cache.mkdir(parents=True, exist_ok=True)
    # one process at a time: xdist's workers may each set up the module's fixture at once
    # (worksteal spreads a module's tests), and one removed the other's half-made environment
    # (ensurepip failed in it)
    with held(cache / "quick-start.lock"):
        if not installed.is_file():
            sweep_quick_starts(cache, place, time.time())
            made = _made_by_the_lines(cache / f"quick-start-lines-{key}", install, key)
            _copy_for_here(made, env_dir)
            (env_dir / "installed").write_text(key, encoding="utf-8")
    return python


def _python_of(env_dir: Path) -> Path:
    return env_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


@contextlib.contextmanager
def held(path: Path) -> Iterator[None]:
    """``path``'s lock, held by this process alone until the block ends (blocking)."""
    with open(path, "a+b") as handle:
        if sys.platform == "win32":
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
            try:
                yield
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def sweep_quick_starts(cache: Path, place: str, now: float) -> None:
    """Remove from ``cache`` the quick start environments no run will use again: this
    checkout's (``place``: it is made anew), one left half made (the lock is held: no one is
    making it), one unused for :data:`_UNUSED_S` (another checkout's, or the one the lines made
    for a key, which the copies come from), or another checkout's whose checkout is gone (a
    clean clone's run, removed after: kept, each run would leave one behind)."""
    for made in cache.glob("quick-start-*"):
        if not made.is_dir():
            continue
        marker, checkout = made / "installed", made / "checkout"
        lines = made.name.startswith("quick-start-lines-")
        if made.name.startswith(f"quick-start-{place}-") or not marker.is_file() \
                or now - marker.stat().st_mtime > _UNUSED_S or (
                    not lines and checkout.is_file()
                    and not Path(checkout.read_text(encoding="utf-8")).is_dir()):
            shutil.rmtree(made, ignore_errors=True)


def _made_by_the_lines(env_dir: Path, install: list[str], key: str) -> Path:
    """``env_dir``, made by the quick start's lines from this checkout if no run made it
    before (see :func:`quick_start_python`); marked used."""
    marker = env_dir / "installed"
    if marker.is_file():
        marker.touch()
        return env_dir
    # --no-compile: what the line installs, without compiling every installed module to
    # bytecode at install (~20 s of CPU for the daemon's and the extras' distributions); the
    # examples and the demo compile what they import when they first import it.
    for argv in ([sys.executable, "-m", "venv", str(env_dir)],
                 [str(_python_of(env_dir)), "-m", "pip", "install", "--quiet", "--no-compile",
                  *install]):
        out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, f"{' '.join(argv)}:\n{out.stdout}{out.stderr}"
    (env_dir / "checkout").write_text(str(ROOT), encoding="utf-8")
    marker.write_text(key, encoding="utf-8")
    return env_dir


def _copy_for_here(made: Path, env_dir: Path) -> None:
    """``made`` copied to ``env_dir``, every file that names ``made`` or the checkout it was
    made from naming ``env_dir`` and this checkout instead: the scripts' interpreter line,
    ``pyvenv.cfg``, and the editable installs' path files, finder and ``direct_url.json``.
    What a file does not name as a whole path (a longer one that starts with it) is left."""
    shutil.copytree(made, env_dir, symlinks=True)
    swaps = {str(made): str(env_dir),
             (made / "checkout").read_text(encoding="utf-8"): str(ROOT)}
    # one pass, the longer path first (the checkout may hold the cache), each path whole:
    # followed by a separator, a quote, the end of a line or of the file
    whole = re.compile(b"(" + b"|".join(re.escape(old.encode()) for old in sorted(
        swaps, key=len, reverse=True)) + rb""")(?=[/\\'"\r\n]|\Z)""")
    for path in env_dir.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        text = whole.sub(lambda found: swaps[found.group(1).decode()].encode(), data)
        if text != data:
            path.write_bytes(text)
    (env_dir / "checkout").write_text(str(ROOT), encoding="utf-8")

"""Building and installing this repository's distributions, as the distribution tests do.

Each distribution is built offline from a copy of its sources (so the tree gets no build
litter) with the standard front end, ``python -m build --no-isolation``: an sdist, and the
wheel built from that sdist, which must equal, file for file, the wheel built straight from
the tree. Fresh virtual environments then install the wheels with no package index.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "client"
#: The ground floor both services stand on (``mtgateway-base``) and the console
#: (``mtgateway-console``).
BASE = ROOT / "base"
CONSOLE = ROOT / "console"
#: The daemon (``mtgateway``: gateway, ea_bridge, mt5model).
DAEMON = ROOT / "daemon"
#: The opt-in distribution that makes ``import MetaTrader5`` the client.
SHIM = CLIENT / "metatrader5-shim"
#: Never copied into a build: this checkout's environment, history and build litter.
_LITTER = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", "build",
                                 "dist", ".mypy_cache", ".ruff_cache", ".pytest_cache",
                                 ".hypothesis")


def run(*args: str | Path, cwd: Path) -> str:
    """``args`` run in ``cwd``; its standard output, after checking it exited 0."""
    out = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def fresh_environment(env_dir: Path) -> Path:
    """A new virtual environment in ``env_dir`` with no pip of its own; its interpreter.
    :func:`pip_in` installs into it and lists it, as its own pip would: ensurepip's copy of
    pip, byte-compiled at install, cost 5 s of CPU an environment and is not what is tested."""
    import venv

    venv.create(env_dir, with_pip=False)
    return python_of(env_dir)


def pip_in(python: Path, *args: str | Path, cwd: Path) -> str:
    """This environment's pip run for ``python``'s environment (``pip --python``: it installs
    there and lists what is there); its standard output, after checking it exited 0."""
    return run(sys.executable, "-m", "pip", "--python", python, *args, cwd=cwd)


def python_of(env_dir: Path) -> Path:
    """The interpreter of the virtual environment ``env_dir``."""
    return env_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def members(wheel: Path) -> dict[str, bytes]:
    """A wheel's files by name."""
    with zipfile.ZipFile(wheel) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


#: What :func:`build` built in this process: project -> (sdist, wheel), in the first caller's
#: temporary directory (kept for the session).
_BUILT: dict[Path, tuple[Path, Path]] = {}


def build(project: Path, tmp_path: Path, name: str) -> tuple[Path, Path]:
    """Build ``project`` (copied first, alone: each project declares everything it is built
    from, its version included) into an sdist and a wheel made from that sdist, and check a
    wheel made straight from the tree is the same, file for file; (sdist, wheel). Once per
    process for the same project: the client's distribution tests and the MetaTrader5
    distribution's both build the client (three build runs, 3-4 s of CPU).
    """
    if project not in _BUILT:
        _BUILT[project] = _build(project, tmp_path, name)
    return _BUILT[project]


def _build(project: Path, tmp_path: Path, name: str) -> tuple[Path, Path]:
    src = tmp_path / f"{name}-src"
    shutil.copytree(project, src, ignore=_LITTER)
    via_sdist, direct = tmp_path / f"{name}-dist", tmp_path / f"{name}-direct"
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", via_sdist, src,
        cwd=tmp_path)
    run(sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", direct, src,
        cwd=tmp_path)
    [sdist] = via_sdist.glob("*.tar.gz")
    [wheel] = via_sdist.glob("*.whl")
    [straight] = direct.glob("*.whl")
    assert wheel.name == straight.name
    assert members(wheel) == members(straight), "the sdist does not rebuild the same wheel"
    return sdist, wheel


def metadata(wheel: Path) -> list[str]:
    """The lines of a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as zf:
        [name] = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return zf.read(name).decode().splitlines()

"""Issue 20 item 4: the client installs alone.

``client/pyproject.toml`` builds the ``mtgateway-client`` wheel from this repository's
``mtgateway/`` package. The test builds it (offline, from a copy of the sources, so the tree
gets no build litter), installs it into a fresh virtual environment with no index (a declared
dependency would fail to resolve) and imports it there: no daemon package, no third-party
module, and numpy and aiohttp only as extras.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

from gateway._version import __version__ as daemon_version

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "client"


def run(*args: str | Path, cwd: Path) -> str:
    out = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_the_client_metadata_declares_nothing_but_extras() -> None:
    """No run-time dependency; numpy and aiohttp as extras; the daemon's version."""
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "mtgateway-client"
    assert project["dependencies"] == []
    assert set(project["optional-dependencies"]) == {"numpy", "aio"}
    assert project["version"] == daemon_version


def test_the_client_wheel_installs_alone_and_imports(tmp_path: Path) -> None:
    """Build the wheel, install it into a fresh venv with no index, import it there."""
    src = tmp_path / "src"
    shutil.copytree(CLIENT, src / "client",
                    ignore=shutil.ignore_patterns("build", "*.egg-info"))
    shutil.copytree(ROOT / "mtgateway", src / "mtgateway",
                    ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "--no-index", "-w", dist, src / "client", cwd=tmp_path)
    wheel = next(dist.glob("mtgateway_client-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        top = {name.split("/")[0] for name in zf.namelist()}
    assert top == {"mtgateway", f"mtgateway_client-{daemon_version}.dist-info"}

    env_dir = tmp_path / "fresh"
    venv.create(env_dir, with_pip=True)
    python = env_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    run(python, "-m", "pip", "install", "--no-index", wheel, cwd=tmp_path)
    installed = run(python, "-m", "pip", "list", "--format=freeze", cwd=tmp_path)
    names = {line.split("==")[0].lower() for line in installed.splitlines()}
    assert names - {"pip", "setuptools"} == {"mtgateway-client"}, installed
    code = ("import sys; before = set(sys.modules); import mtgateway as mt5; "
            "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
            "print(sorted(n for n in new if n not in sys.stdlib_module_names)); "
            "print(mt5.__version__, mt5.TIMEFRAME_H1, mt5.__file__); "
            "print(mt5.initialize(token='mtgw_x', url='http://127.0.0.1:9', timeout=0), "
            "mt5.last_error()[0])")
    out = run(python, "-c", code, cwd=tmp_path).splitlines()
    assert out[0] == "['mtgateway']"
    version, h1, location = out[1].split()
    assert (version, h1) == (daemon_version, "16385")
    assert str(env_dir) in location  # the installed copy, not this source tree
    assert out[2] == "False -10004"  # nothing listens there: the package's no-connection code


def _names(requirements: list[str]) -> set[str]:
    """The distribution names of PEP 508 requirement strings, normalised."""
    return {re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower().replace("_", "-")
            for req in requirements}


def test_the_readmes_demo_line_installs_no_test_tools() -> None:
    """The README's demo line installs the daemon's distribution without an extra, and none
    of the daemon's run-time dependencies is one of the test and lint tools of ``[dev]``."""
    readme = (ROOT / "README.md").read_text()
    demo_lines = [line for line in readme.splitlines()
                  if "pip install" in line and "mtgateway demo" in line]
    assert len(demo_lines) == 1, demo_lines
    installed = demo_lines[0].split("pip install", 1)[1].split("&&", 1)[0].split()
    assert installed == ["-e", "./client", "-e", "."], demo_lines[0]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _names(project["dependencies"])
    tools = _names(project["optional-dependencies"]["dev"])
    assert {"pytest", "ruff", "mypy", "selenium", "hypothesis"} <= tools
    assert runtime & tools == set(), runtime & tools


def test_the_daemons_distribution_depends_on_the_clients() -> None:
    """The daemon's distribution requires ``mtgateway-client`` at its own version and packages
    no copy of ``mtgateway`` (issue 20 item 4: 'the daemon's distribution depends on it');
    the README's two install lines and CI install ``./client`` beside it."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = [r for r in root["project"]["dependencies"] if r.startswith("mtgateway-client")]
    assert pins == [f"mtgateway-client=={daemon_version}"], pins
    included = root["tool"]["setuptools"]["packages"]["find"]["include"]
    assert not any(name.startswith("mtgateway") for name in included), included
    assert "mtgateway" not in root["tool"]["setuptools"]["package-data"]
    readme = (ROOT / "README.md").read_text()
    for line in readme.splitlines():
        if "pip install" in line:
            assert "./client" in line, line
    assert "-e ./client -e '.[dev]'" in (ROOT / ".ci" / "run").read_text()

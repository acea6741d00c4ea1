"""The two distributions publish (issue 20 item 4, issue 33 item 5).

``mtgateway-client`` is the project in ``client/`` (its package in ``client/src/mtgateway``);
``mtgateway``, the daemon, is the project at the root and requires exactly the client of its
own version. The version is written once, in ``client/src/mtgateway/_version.py``.

Each distribution is built offline from a copy of its sources (so the tree gets no build
litter) with the standard front end, ``python -m build --no-isolation``: an sdist, and the
wheel built from that sdist, which must equal, file for file, the wheel built straight from
the tree. The wheels then install into fresh virtual environments with no package index: the
client alone (no dependency at all), the daemon with the client wheel beside it (its other
dependencies, which need an index, lent by this environment's site-packages).
"""

from __future__ import annotations

import os
import re
import sys
import sysconfig
import tarfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import mtgateway
from gateway._version import __version__ as daemon_version
from mtgateway._version import __version__ as client_version
from tests.client.distkit import BASE, CLIENT, ROOT, build, members, metadata, python_of, run

try:
    import venv
except ImportError:  # the embeddable Windows CPython (the Windows stage's) has none
    venv = None  # type: ignore[assignment]


def needs_venv(test: Callable[..., Any]) -> Callable[..., Any]:
    """A test that installs into a new virtual environment: marked where venv is missing."""
    return pytest.mark.not_on_windows("venv")(test) if venv is None else test


VERSION_FILE = CLIENT / "src" / "mtgateway" / "_version.py"


def test_the_version_is_written_once() -> None:
    """client/src/mtgateway/_version.py holds it; both projects read it (dynamic versions,
    the daemon's pin computed from it); the daemon reports the client's."""
    text = VERSION_FILE.read_text(encoding="utf-8")
    assert re.search(r'^__version__ = "\d+\.\d+\.\d+"$', text, re.M), text
    client = tomllib.loads((CLIENT / "pyproject.toml").read_text(encoding="utf-8"))
    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in client["project"] and client["project"]["dynamic"] == ["version"]
    assert client["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "mtgateway._version.__version__"}
    assert "version" not in root["project"] and "dependencies" not in root["project"]
    assert set(root["project"]["dynamic"]) == {"version", "dependencies"}
    assert daemon_version == client_version
    for path in (CLIENT / "pyproject.toml", ROOT / "pyproject.toml", ROOT / "setup.py",
                 ROOT / "gateway" / "_version.py", ROOT / "deploy" / "Containerfile",
                 ROOT / ".ci" / "run", ROOT / "README.md", CLIENT / "README.md"):
        assert client_version not in path.read_text(encoding="utf-8"), \
            f"{path} writes the version again"


def test_the_client_metadata_declares_nothing_but_extras() -> None:
    """No run-time dependency; numpy and aiohttp as extras; the package in src/."""
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == "mtgateway-client"
    assert project["project"]["dependencies"] == []
    assert set(project["project"]["optional-dependencies"]) == {"numpy", "aio"}
    assert project["tool"]["setuptools"]["packages"]["find"]["where"] == ["src"]


@needs_venv
def test_the_client_builds_rebuilds_and_installs_alone(tmp_path: Path) -> None:
    """python -m build of client/: an sdist holding the package (it held none before: the
    project root did not contain it) and the wheel it rebuilds; the wheel installs into a fresh
    venv with no index and imports there: no daemon package, no third-party module."""
    sdist, wheel = build(CLIENT, tmp_path, "client")
    with tarfile.open(sdist) as tf:
        names = tf.getnames()
    top = f"mtgateway_client-{client_version}"
    for member in ("src/mtgateway/__init__.py", "src/mtgateway/_version.py",
                   "src/mtgateway/py.typed", "pyproject.toml", "README.md", "LICENSE"):
        assert f"{top}/{member}" in names, names
    top_level = {name.split("/")[0] for name in members(wheel)}
    assert top_level == {"mtgateway", f"mtgateway_client-{client_version}.dist-info"}
    assert f"Version: {client_version}" in metadata(wheel)

    env_dir = tmp_path / "fresh"
    venv.create(env_dir, with_pip=True)
    python = python_of(env_dir)
    run(python, "-m", "pip", "install", "--no-index", wheel, cwd=tmp_path)
    installed = run(python, "-m", "pip", "list", "--format=freeze", cwd=tmp_path)
    names_installed = {line.split("==")[0].lower() for line in installed.splitlines()}
    assert names_installed - {"pip", "setuptools"} == {"mtgateway-client"}, installed
    code = ("import sys; before = set(sys.modules); import mtgateway as mt5; "
            "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
            "print(sorted(n for n in new if n not in sys.stdlib_module_names)); "
            "print(mt5.__version__, mt5.TIMEFRAME_H1, mt5.__file__); "
            "print(mt5.initialize(token='mtgw_x', url='http://127.0.0.1:9', timeout=0), "
            "mt5.last_error()[0])")
    out = run(python, "-c", code, cwd=tmp_path).splitlines()
    assert out[0] == "['mtgateway']"
    version, h1, location = out[1].split()
    assert (version, h1) == (client_version, "16385")
    assert str(env_dir) in location  # the installed copy, not this source tree
    assert out[2] == "False -10004"  # nothing listens there: the package's no-connection code


@needs_venv
def test_the_daemon_builds_rebuilds_and_installs_with_the_exact_client(tmp_path: Path) -> None:
    """python -m build of the root: an sdist (with the version source, so it rebuilds) and the
    wheel it rebuilds, which holds the daemon's packages only and requires
    mtgateway-client==<its own version>. Installed offline into a fresh venv with the client
    wheel beside it, the command runs and reports that version from the installed copies."""
    _, client_wheel = build(CLIENT, tmp_path, "client")
    _, base_wheel = build(BASE, tmp_path, "base", version_beside=True)
    sdist, wheel = build(ROOT, tmp_path, "daemon")
    with tarfile.open(sdist) as tf:
        assert f"mtgateway-{daemon_version}/client/src/mtgateway/_version.py" in tf.getnames()
    top_level = {name.split("/")[0] for name in members(wheel)}
    assert top_level == {"gateway", "ea_bridge", "mt5model",
                         f"mtgateway-{daemon_version}.dist-info"}, top_level
    requires = [line for line in metadata(wheel) if line.startswith("Requires-Dist: mtgateway")]
    assert requires == [f"Requires-Dist: mtgateway-base=={client_version}",
                        f"Requires-Dist: mtgateway-client=={client_version}"], requires

    env_dir = tmp_path / "fresh-daemon"
    venv.create(env_dir, with_pip=True)
    python = python_of(env_dir)
    # The daemon's other dependencies come from an index; offline, this environment's
    # site-packages lends them (a path entry: its .pth files, our editable installs among
    # them, are not run, so gateway and mtgateway come only from the wheels installed here).
    lent = sysconfig.get_paths()["purelib"]
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
               cwd=tmp_path).strip()
    (Path(site) / "lent-dependencies.pth").write_text(lent + "\n", encoding="utf-8")
    run(python, "-m", "pip", "install", "--no-index", "--no-deps", base_wheel, client_wheel,
        wheel, cwd=tmp_path)
    code = ("import gateway, mtgateway; from importlib.metadata import requires, version; "
            "print(gateway.__file__); print(mtgateway.__file__); "
            "print(version('mtgateway'), version('mtgateway-client')); "
            "print([r for r in requires('mtgateway') if r.startswith('mtgateway')])")
    out = run(python, "-c", code, cwd=tmp_path).splitlines()
    assert str(env_dir) in out[0] and str(env_dir) in out[1], out
    assert out[2] == f"{daemon_version} {client_version}"
    assert out[3] == f"['mtgateway-client=={client_version}']"
    scripts = env_dir / ("Scripts" if sys.platform == "win32" else "bin")
    command = run(scripts / "mtgateway", "--version", cwd=tmp_path).strip()
    assert command == f"mtgateway {daemon_version}"


def _names(requirements: list[str]) -> set[str]:
    """The distribution names of PEP 508 requirement strings, normalised."""
    return {re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower().replace("_", "-")
            for req in requirements}


def test_the_readmes_demo_line_installs_no_test_tools() -> None:
    """The README's demo line installs the daemon's distribution without an extra, and the
    client with the extras its examples need (numpy, aiohttp: tests/e2e/test_examples.py runs
    them on exactly this install); none of the daemon's run-time dependencies is one of the
    test and lint tools of ``[dev]``."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    demo_lines = [line for line in readme.splitlines()
                  if "pip install" in line and "mtgateway demo" in line]
    assert len(demo_lines) == 2, demo_lines  # sh, then PowerShell: the same install
    for line, separator in zip(demo_lines, ("&&", ";"), strict=True):
        installed = line.split("pip install", 1)[1].split(separator, 1)[0].split()
        assert installed == ["-e", "./base", "-e", "'./client[numpy,aio]'", "-e", "./console",
                             "-e", "."], line
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    runtime = _names(project["tool"]["mtgateway"]["dependencies"])
    tools = _names(project["project"]["optional-dependencies"]["dev"])
    assert {"pytest", "ruff", "mypy", "selenium", "hypothesis"} <= tools
    assert runtime & tools == set(), runtime & tools


#: Where install lines are: every README and every document.
_DOCS = [ROOT / "README.md", CLIENT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _install_lines() -> list[tuple[Path, str]]:
    found = []
    for doc in _DOCS:
        for line in doc.read_text(encoding="utf-8").splitlines():
            for command in re.findall(r"pip install ([^`#&;\n]*)", line):
                found.append((doc, command.strip()))
    return found


@pytest.mark.parametrize("doc,command", _install_lines(),
                         ids=lambda v: v.name if isinstance(v, Path) else v)
def test_every_install_line_installs_what_exists(doc: Path, command: str) -> None:
    """Every ``pip install`` in a README or a document names only projects of this repository
    (by path, run from its root) and requirement files that exist: neither distribution is on
    any index, so a line with its bare name is untrue (and would install whatever someone else
    published under it)."""
    words = [w.strip("'\"").replace("\\", "/") for w in command.split()]  # PowerShell's too
    after_flag = False
    for word in words:
        if after_flag:
            assert (ROOT / word).is_file(), (doc.name, command, word)
            after_flag = False
            continue
        if word in ("-r", "-c"):
            after_flag = True
            continue
        if word.startswith("-"):
            continue
        target = word.split("[", 1)[0]
        assert target not in ("mtgateway", "mtgateway-client"), (doc.name, command)
        assert target.startswith((".", "/")), (doc.name, command, word)
        assert (ROOT / target).is_dir() and (ROOT / target / "pyproject.toml").is_file(), (
            doc.name, command, word)


def test_the_readme_ci_and_container_install_both_projects() -> None:
    """The README's two lines, CI and the container image install ./client beside the root,
    the one documented way from a checkout (the pin resolves to the local client)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = [line for line in readme.splitlines() if "pip install -e" in line]
    # the quick start's sh and PowerShell lines, and the tests' line
    assert len(lines) == 3 and all(re.search(r"-e '?\./client\b", line) for line in lines), \
        lines
    assert "-e ./base -e ./client -e ./client/metatrader5-shim -e ./console -e '.[dev]'" in (
        ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "/src/base /src/client /src/console '/src[postgres]'" in (
        ROOT / "deploy" / "Containerfile").read_text(encoding="utf-8")
    # this checkout's client is the one in its project directory
    assert os.path.samefile(Path(mtgateway.__file__).parent, CLIENT / "src" / "mtgateway")

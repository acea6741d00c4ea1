"""The four distributions publish, each installing only what it imports.

``mtgateway-client`` is the project in ``client/`` (its package in ``client/src/mtgateway``);
``mtgateway-base``, the ground floor the two services share, is ``base/``; the console,
``mtgateway-console``, is ``console/``; ``mtgateway``, the daemon, is the project at the root.
The daemon and the console each require exactly the ground floor and the client of their own
version, and nothing of each other (the daemon's ``console`` extra names the console). Every
project declares the one version itself (``tests/test_versions.py`` holds them equal), so each
is built from its own directory alone.

Each distribution is built once for the module, offline, from a copy of its sources (so the
tree gets no build litter) with the standard front end, ``python -m build --no-isolation``: an
sdist, and the wheel built from that sdist, which must equal, file for file, the wheel built
straight from the tree. The wheels then install into fresh virtual environments with no
package index: the client alone (no dependency at all), the daemon with the ground floor and
the client beside it, the console with the ground floor and the client beside it (their other
dependencies, which need an index, lent by this environment's site-packages). What each
distribution declares is held against what its packages import (without building).
"""

from __future__ import annotations

import ast
import functools
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import Any

import pytest

import mtgateway
from client.tests.distkit import (
    BASE,
    CLIENT,
    CONSOLE,
    DAEMON,
    ROOT,
    build,
    fresh_environment,
    members,
    metadata,
    pip_in,
    run,
)
from gateway._version import __version__ as daemon_version
from mtgateway._version import __version__ as client_version

try:
    import venv
except ImportError:  # the embeddable Windows CPython (the Windows stage's) has none
    venv = None  # type: ignore[assignment]


def needs_venv(test: Callable[..., Any]) -> Callable[..., Any]:
    """A test that installs into a new virtual environment: marked where venv is missing."""
    return pytest.mark.not_on_windows("venv")(test) if venv is None else test


def test_the_client_metadata_declares_nothing_but_extras() -> None:
    """No run-time dependency; numpy and aiohttp as extras; the package in src/."""
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == "mtgateway-client"
    assert project["project"]["dependencies"] == []
    assert set(project["project"]["optional-dependencies"]) == {"numpy", "aio"}
    assert project["tool"]["setuptools"]["packages"]["find"]["where"] == ["src"]


@dataclass(frozen=True)
class Built:
    """One distribution, built: its sdist and its wheel."""

    sdist: Path
    wheel: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """The four distributions, each built once for the module (an sdist, and the wheel it
    rebuilds, equal to the tree's): by project directory name."""
    into = tmp_path_factory.mktemp("dists")
    # two at a time: each build is a few processes of its own, and the four one after another
    # came near the test's 60 s on a loaded machine
    with ThreadPoolExecutor(max_workers=2) as pool:
        made = {name: pool.submit(build, project, into, name)
                for name, project in (("client", CLIENT), ("base", BASE),
                                      ("console", CONSOLE), ("daemon", DAEMON))}
        return {name: Built(*future.result()) for name, future in made.items()}


def _fresh(env_dir: Path, *wheels: Path) -> Path:
    """A new virtual environment with ``wheels`` installed offline, without their
    dependencies; its interpreter. The third parties, which need an index, are lent by this
    environment's site-packages (a path entry: its .pth files, our editable installs among
    them, are not run, so our packages come only from the wheels installed here)."""
    python = fresh_environment(env_dir)
    lent = sysconfig.get_paths()["purelib"]
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
               cwd=env_dir).strip()
    (Path(site) / "lent-dependencies.pth").write_text(lent + "\n", encoding="utf-8")
    pip_in(python, "install", "--no-index", "--no-deps", *wheels, cwd=env_dir)
    return python


def _ours(wheel: Path) -> list[str]:
    """A wheel's requirements on this repository's distributions, as its METADATA says."""
    return [line.removeprefix("Requires-Dist: ") for line in metadata(wheel)
            if line.startswith("Requires-Dist: mtgateway")]


@needs_venv
def test_the_client_builds_rebuilds_and_installs_alone(built: dict[str, Built],
                                                       tmp_path: Path) -> None:
    """python -m build of client/: an sdist holding the package (it held none before: the
    project root did not contain it) and the wheel it rebuilds; the wheel installs into a fresh
    venv with no index and imports there: no daemon package, no third-party module."""
    sdist, wheel = built["client"].sdist, built["client"].wheel
    with tarfile.open(sdist) as tf:
        names = tf.getnames()
    top = f"mtgateway_client-{client_version}"
    for member in ("src/mtgateway/__init__.py", "src/mtgateway/_version.py",
                   "src/mtgateway/py.typed", "src/mtgateway/_module_functions.pyi",
                   "src/mtgateway/_aio_module_functions.pyi", "pyproject.toml", "README.md",
                   "LICENSE"):
        assert f"{top}/{member}" in names, names
    top_level = {name.split("/")[0] for name in members(wheel)}
    assert top_level == {"mtgateway", f"mtgateway_client-{client_version}.dist-info"}
    assert {"mtgateway/_module_functions.pyi", "mtgateway/_aio_module_functions.pyi",
            "mtgateway/py.typed"} <= set(members(wheel))  # what type checkers read
    assert f"Version: {client_version}" in metadata(wheel)

    env_dir = tmp_path / "fresh"
    python = fresh_environment(env_dir)
    pip_in(python, "install", "--no-index", wheel, cwd=tmp_path)
    installed = pip_in(python, "list", "--format=freeze", cwd=tmp_path)
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
def test_the_daemon_installs_without_the_console(built: dict[str, Built],
                                                 tmp_path: Path) -> None:
    """The daemon's wheel holds its packages only and requires exactly the ground floor and
    the client of its own version, and the console only through its console extra, none of
    the console's own dependencies. Installed offline beside the ground floor and the client
    (no console), the command runs and reports that version, its modules import no console,
    and a command that would run the console in its process says what to install."""
    sdist, wheel = built["daemon"].sdist, built["daemon"].wheel
    with tarfile.open(sdist) as tf:  # the daemon's alone: the client's package is not in it
        assert not any("/client/" in name for name in tf.getnames()), tf.getnames()
    top_level = {name.split("/")[0] for name in members(wheel)}
    assert top_level == {"gateway", "ea_bridge", "mt5model",
                         f"mtgateway-{daemon_version}.dist-info"}, top_level
    assert _ours(wheel) == [f"mtgateway-base=={client_version}",
                            f"mtgateway-client=={client_version}",
                            f'mtgateway-console=={client_version}; extra == "console"',
                            f'mtgateway-console[postgres]=={client_version}; extra == "postgres"'
                            ], _ours(wheel)
    required = _names(_required(metadata(wheel)))
    assert required & (_CONSOLE_ONLY | {"mtgateway-console"}) == set(), required

    python = _fresh(tmp_path / "daemon", built["base"].wheel, built["client"].wheel, wheel)
    code = ("import sys, gateway, mtgateway, mtgateway_base, gateway.cli, gateway.app, "
            "gateway.manage, gateway.keys, gateway.setup.command; "
            "from importlib.metadata import version; "
            "print(gateway.__file__); print(mtgateway_base.__file__); "
            "print(version('mtgateway'), version('mtgateway-base'), version('mtgateway-client')); "
            "print(sorted(m for m in sys.modules if m.startswith('mtgateway_console')))")
    out = run(python, "-c", code, cwd=tmp_path).splitlines()
    assert str(tmp_path) in out[0] and str(tmp_path) in out[1], out
    assert out[2] == f"{daemon_version} {client_version} {client_version}"
    assert out[3] == "[]"
    scripts = tmp_path / "daemon" / ("Scripts" if sys.platform == "win32" else "bin")
    command = run(scripts / "mtgateway", "--version", cwd=tmp_path).strip()
    assert command == f"mtgateway {daemon_version}"
    done = subprocess.run([scripts / "mtgateway", "demo"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("error: mtgateway demo needs the console "
                                  "(mtgateway-console), which is not installed"), done.stderr
    assert "pip install ./base ./client ./console './daemon[console]'" in done.stderr


@needs_venv
def test_the_console_installs_and_runs_from_its_own_distribution(built: dict[str, Built],
                                                                 tmp_path: Path) -> None:
    """The console's wheel holds its package (its pages' templates and files too) and
    requires exactly the ground floor and the client of its own version, nothing of the
    daemon's. Installed offline beside the ground floor and the client (no daemon), its
    command migrates a fresh database and says so, with no daemon package importable."""
    sdist, wheel = built["console"].sdist, built["console"].wheel
    with tarfile.open(sdist) as tf:
        assert (f"mtgateway_console-{daemon_version}/src/mtgateway_console/web/templates/"
                "base.html") in tf.getnames()
    files = members(wheel)
    assert {name.split("/")[0] for name in files} == {
        "mtgateway_console", f"mtgateway_console-{daemon_version}.dist-info"}
    assert any(name.startswith("mtgateway_console/web/static/") for name in files)
    assert _ours(wheel) == [f"mtgateway-base=={client_version}",
                            f"mtgateway-client=={client_version}"], _ours(wheel)
    required = _names(_required(metadata(wheel)))
    assert required & _DAEMON_ONLY == set(), required

    python = _fresh(tmp_path / "console", built["base"].wheel, built["client"].wheel, wheel)
    scripts = tmp_path / "console" / ("Scripts" if sys.platform == "win32" else "bin")
    assert run(scripts / "mtgateway-console", "--version", cwd=tmp_path).strip() == (
        f"mtgateway-console {daemon_version}")
    config = tmp_path / "console.toml"
    config.write_text(f'data_dir = "{(tmp_path / "data").as_posix()}"\n', encoding="utf-8")
    said = run(scripts / "mtgateway-console", "migrate", "-c", config, cwd=tmp_path)
    assert re.search(r"schema version 0 -> \d+", said), said
    code = ("import importlib.util; print([m for m in ('gateway', 'ea_bridge', 'mt5model') "
            "if importlib.util.find_spec(m)])")
    assert run(python, "-c", code, cwd=tmp_path).strip() == "[]"


def _names(requirements: list[str]) -> set[str]:
    """The distribution names of PEP 508 requirement strings, normalised."""
    return {re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower().replace("_", "-")
            for req in requirements}


def _required(lines: list[str]) -> list[str]:
    """The requirements of a METADATA (its lines) that no extra conditions."""
    return [line.removeprefix("Requires-Dist: ") for line in lines
            if line.startswith("Requires-Dist: ") and "extra ==" not in line]


def _toml(project: Path) -> dict[str, Any]:
    return tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))


#: Each distribution: its packages (where they are), what it requires (its pins on this
#: repository's distributions included), and its extras (the tool extras, compiled and dev,
#: aside: they install tools, not what the packages import).
_DISTRIBUTIONS: dict[str, tuple[list[Path], set[str], dict[str, set[str]]]] = {
    "mtgateway-client": ([CLIENT / "src" / "mtgateway"],
                         _names(_toml(CLIENT)["project"]["dependencies"]),
                         {k: _names(v) for k, v in
                          _toml(CLIENT)["project"]["optional-dependencies"].items()}),
    "mtgateway-base": ([BASE / "src" / "mtgateway_base"],
                       _names(_toml(BASE)["project"]["dependencies"]), {}),
    "mtgateway-console": ([CONSOLE / "src" / "mtgateway_console"],
                          _names(_toml(CONSOLE)["project"]["dependencies"]),
                          {k: _names(v) for k, v in
                           _toml(CONSOLE)["project"]["optional-dependencies"].items()}),
    "mtgateway": ([DAEMON / "src" / "gateway", DAEMON / "src" / "ea_bridge",
                   DAEMON / "src" / "mt5model"],
                  _names(_toml(DAEMON)["project"]["dependencies"]),
                  {k: _names(v)
                   for k, v in _toml(DAEMON)["project"]["optional-dependencies"].items()
                   if k not in ("compiled", "dev")}),
}
#: Our packages, and the distribution each is.
_OURS = {"mtgateway": "mtgateway-client", "mtgateway_base": "mtgateway-base",
         "mtgateway_console": "mtgateway-console", "gateway": "mtgateway",
         "ea_bridge": "mtgateway", "mt5model": "mtgateway"}


def _imports(package: Path) -> tuple[set[str], set[str]]:
    """The top-level modules ``package`` imports outside the standard library: those it needs,
    and those it tries (an import whose ``ImportError`` it catches). Imports for the type
    checker only (``if TYPE_CHECKING:``) install nothing and are left out."""
    needed: set[str] = set()
    tried: set[str] = set()

    def visit(node: ast.AST, optional: bool) -> None:
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING",
                                                                   "typing.TYPE_CHECKING"):
            for child in node.orelse:
                visit(child, optional)
            return
        if isinstance(node, ast.Try):
            caught = {ast.unparse(h.type) for h in node.handlers if h.type is not None}
            guarded = optional or bool(caught & {"ImportError", "ModuleNotFoundError"})
            for child in node.body:
                visit(child, guarded)
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(child, optional)
            return
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top not in sys.stdlib_module_names and top != "__future__":
                (tried if optional else needed).add(top)
        for child in ast.iter_child_nodes(node):
            visit(child, optional)

    for path in sorted(package.rglob("*.py")):
        visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return needed, tried - needed


#: A distribution imported as part of another, which pins it exactly: pydantic's core, whose
#: PydanticCustomError pydantic's documentation imports from there.
_PART_OF = {"pydantic-core": "pydantic"}


@functools.cache
def _installed() -> dict[str, list[str]]:
    """The top-level modules of this environment's distributions (``packages_distributions``
    reads every installed distribution's file list, 0.3-0.5 s: once, not per module)."""
    return dict(packages_distributions())


def _distribution_of(module: str) -> str:
    """The distribution a top-level module comes from (ours by name, a third party's as this
    environment has it installed), normalised."""
    if module in _OURS:
        return _OURS[module]
    found = _installed().get(module)
    assert found, f"no installed distribution provides {module}"
    name = found[0].lower().replace("_", "-")
    return _PART_OF.get(name, name)


def _imported_by(name: str) -> tuple[set[str], set[str]]:
    """The distributions ``name``'s packages need and try, itself left out."""
    needed: set[str] = set()
    tried: set[str] = set()
    for package in _DISTRIBUTIONS[name][0]:
        got, maybe = _imports(package)
        needed |= {_distribution_of(m) for m in got}
        tried |= {_distribution_of(m) for m in maybe}
    return needed - {name}, tried - needed - {name}


@pytest.mark.not_on_windows("installed-set")
@pytest.mark.parametrize("name", list(_DISTRIBUTIONS))
def test_each_distribution_requires_what_its_packages_import(name: str) -> None:
    """What a distribution requires (and each extra) is what its packages import, no more:
    the daemon's does not pull the console's jinja2, segno or PyJWT, nor the console's the
    daemon's httptools or keyring; and no less: everything its packages import unguarded is
    required or in an extra (what they try, an import whose absence they handle, may be left
    to the installer). A service may require what the ground floor tries for it (uvloop:
    the ground floor runs on it where it is installed)."""
    _, required, extras = _DISTRIBUTIONS[name]
    needed, tried = _imported_by(name)
    declared = required | set().union(*extras.values())
    assert needed <= declared, needed - declared
    offered = needed | tried
    if name in ("mtgateway", "mtgateway-console"):
        offered |= _imported_by("mtgateway-base")[1]
    assert required <= offered, required - offered
    for extra, wanted in extras.items():
        assert wanted <= offered, (extra, wanted - offered)


def _only(name: str, *others: str) -> set[str]:
    """What ``name`` requires that none of ``others`` does."""
    return _DISTRIBUTIONS[name][1] - set().union(*(_DISTRIBUTIONS[o][1] for o in others))


#: What only the console requires, and what only the daemon does: each other's wheel must not.
_CONSOLE_ONLY = _only("mtgateway-console", "mtgateway", "mtgateway-base")
_DAEMON_ONLY = _only("mtgateway", "mtgateway-console", "mtgateway-base")


def test_each_service_has_requirements_of_its_own() -> None:
    """The split means something: the console requires its pages' and APIs' libraries the
    daemon does not, and the daemon its device key's the console does not; llhttp is the
    ground floor's (both services' edges: the daemon's ``/rpc``, the console's device calls)."""
    assert {"jinja2", "segno", "pyjwt", "aiosmtplib"} <= _CONSOLE_ONLY, _CONSOLE_ONLY
    assert {"keyring"} <= _DAEMON_ONLY, _DAEMON_ONLY
    assert "httptools" in _DISTRIBUTIONS["mtgateway-base"][1] and "httptools" not in (
        _CONSOLE_ONLY | _DAEMON_ONLY)


def test_the_readmes_demo_line_installs_no_test_tools() -> None:
    """The README's demo line installs the daemon's distribution with the console (its
    ``console`` extra, the console's project beside it) and the ground floor, and the client
    with the extras its examples need (numpy, aiohttp: daemon/tests/e2e/test_examples.py runs
    them on exactly this install); none of the daemon's run-time dependencies is one of the test and
    lint tools of ``[dev]``."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    demo_lines = [line for line in readme.splitlines()
                  if "pip install" in line and "mtgateway demo" in line]
    assert len(demo_lines) == 2, demo_lines  # sh, then PowerShell: the same install
    for line, separator in zip(demo_lines, ("&&", ";"), strict=True):
        installed = line.split("pip install", 1)[1].split(separator, 1)[0].split()
        assert installed == ["-e", "./base", "-e", "'./client[numpy,aio]'", "-e", "./console",
                             "-e", "'./daemon[console]'"], line
    daemon = tomllib.loads((ROOT / "daemon" / "pyproject.toml").read_text(encoding="utf-8"))
    workspace = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    runtime = _names(daemon["project"]["dependencies"])
    tools = _names(workspace["project"]["optional-dependencies"]["dev"])
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
        # the root is the workspace: it installs no package, only the tools of its dev extra
        # (a line that meant the daemon by "." installs nothing of it since daemon/)
        assert target not in (".", "./") or word.endswith("[dev]"), (doc.name, command, word)


def test_the_readme_ci_and_container_install_both_projects() -> None:
    """The README's lines and CI install ./base and ./client beside the root, the one
    documented way from a checkout (the pins resolve to the local projects); the container
    image installs the console from its own distribution, with nothing of the daemon."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = [line for line in readme.splitlines() if "pip install -e" in line]
    # the quick start's sh and PowerShell lines, and the tests' line
    assert len(lines) == 3 and all(re.search(r"-e '?\./client\b", line) for line in lines), \
        lines
    assert ("-e ./base -e ./client -e ./client/metatrader5-shim -e ./console -e ./daemon "
            "-e '.[dev]'") in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    container = (ROOT / "deploy" / "Containerfile").read_text(encoding="utf-8")
    assert "RUN pip install --no-cache-dir /src/base /src/client '/src/console[postgres]' " \
           "&& rm -rf /src" in container
    assert 'ENTRYPOINT ["mtgateway-console"]' in container
    # this checkout's client is the one in its project directory
    assert os.path.samefile(Path(mtgateway.__file__).parent, CLIENT / "src" / "mtgateway")

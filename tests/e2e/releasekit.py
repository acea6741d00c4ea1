"""The last release's daemon and console, run as processes beside this release's.

The two processes' contract (``mtgateway_base/wire/__init__.py``, "Versioned as a protocol")
promises that a daemon and a console one release apart still work together. The last release
is a commit of this repository (:data:`LAST_RELEASE`); its tree is taken out of git once per
test session (``git archive``: its packages only, into a directory of the test's), and each of
its commands runs on this interpreter with ``-S``: no site directory is processed, so this
environment's editable installs of this release (path hooks, finders) are not loaded, and its
third-party packages are reached through a plain ``PYTHONPATH`` entry, after the old tree's
own packages. Each side is a :class:`Release`: how to run its daemon's command and its
console's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LAST_RELEASE", "Release", "last_release", "this_release"]

ROOT = Path(__file__).resolve().parents[2]
#: The commit of the last release: the daemon and console users run before the console became
#: its own distribution (``gateway/authority`` inside the daemon's package). Moved on at each
#: release, to that release's commit.
LAST_RELEASE = "19201348c59638838b7a1136e8b473b86a8de3ff"
#: What the last release's commands need of its tree (its client's proofs among them).
_PACKAGES = ("gateway", "ea_bridge", "mt5model", "client/src")


@dataclass(frozen=True)
class Release:
    """How to run one release's commands: its daemon's (``mtgateway``) and its console's."""

    name: str
    daemon: Sequence[str]
    console: Sequence[str]
    #: The console's operator commands (``owner create``...), before their arguments.
    operator: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path = ROOT

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment its commands run in: this process's, its own, and ``extra``."""
        return {**os.environ, **self.env, **(extra or {})}


def this_release() -> Release:
    """This checkout, as installed in this environment."""
    return Release("this release", (sys.executable, "-m", "gateway"),
                   (sys.executable, "-m", "mtgateway_console"),
                   (sys.executable, "-m", "mtgateway_console", "owner"))


def last_release(into: Path) -> Release:
    """The last release's tree, taken out of git into ``into`` (once), and its commands.

    Raises:
        AssertionError: git cannot give the commit (a clone without its history): the
            comparison cannot run, and says why.
    """
    tree = into / LAST_RELEASE[:12]
    if not (tree / "gateway" / "__main__.py").is_file():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar",
                                  LAST_RELEASE, *_PACKAGES], capture_output=True, check=False)
        assert archive.returncode == 0, (
            f"git cannot give the last release {LAST_RELEASE[:12]} (a clone without its "
            f"history? fetch it): {archive.stderr.decode(errors='replace')}")
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    paths = [str(tree), str(tree / "client" / "src"), sysconfig.get_paths()["purelib"],
             sysconfig.get_paths()["platlib"]]
    python = (sys.executable, "-S")
    return Release("the last release", (*python, "-m", "gateway"),
                   (*python, "-m", "gateway", "console"),
                   (*python, "-m", "gateway", "owner"),
                   {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}, tree)

"""Every place this repository's one version is written, read and rewritten together::

    python -m deploy.version            # the version, if every place agrees; else who differs
    python -m deploy.version X.Y.Z      # the release: every place rewritten to X.Y.Z

The five distributions are released together. Each declares the version statically in its
``pyproject.toml`` (``[project] version``), the daemon and the console pin the others they
require exactly (``mtgateway-base==X.Y.Z``), and the client's ``_version.py`` writes it as a
literal for the code. ``tests/test_versions.py`` holds them equal.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections import Counter
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

__all__ = ["LITERAL", "OURS", "PROJECTS", "main", "odd_ones", "places", "rewrite"]

ROOT = Path(__file__).resolve().parents[1]
#: The projects, by directory from the repository's root: the five distributions and the
#: workspace (never released, versioned with them so nothing of the tree says another number).
PROJECTS = (".", "base", "client", "client/metatrader5-shim", "console", "daemon")
#: The code's version, a literal every ``__version__`` of ours imports.
LITERAL = "client/src/mtgateway/_version.py"
#: Our distributions: a requirement naming one is an exact pin of the version.
OURS = frozenset({"mtgateway", "mtgateway-base", "mtgateway-client", "mtgateway-console",
                  "mtgateway-metatrader5"})


def places(root: Path = ROOT) -> dict[str, str]:
    """Where the version is written under ``root``, and what each place says (a pin that is
    not ``==`` says its whole specifier)."""
    found = {}
    for project in PROJECTS:
        path = f"{project}/pyproject.toml".removeprefix("./")
        table = tomllib.loads((root / path).read_text(encoding="utf-8"))["project"]
        found[f"{path} [project] version"] = table.get("version", "<none>")
        extras = table.get("optional-dependencies", {})
        for where, requirements in [("dependencies", table.get("dependencies", [])),
                                    *((f"[{k}]", v) for k, v in extras.items())]:
            for text in requirements:
                req = Requirement(text)
                if canonicalize_name(req.name) in OURS:
                    spec = str(req.specifier)
                    found[f"{path} {where} {req.name}"] = spec.removeprefix("==") if (
                        spec.startswith("==") and "," not in spec) else spec
    tree = ast.parse((root / LITERAL).read_text(encoding="utf-8"))
    found[f"{LITERAL} __version__"] = next(
        (str(node.value.value) for node in tree.body if isinstance(node, ast.Assign)
         and ast.unparse(node.targets[0]) == "__version__"
         and isinstance(node.value, ast.Constant)), "<none>")
    return found


def odd_ones(found: dict[str, str]) -> list[str]:
    """The places that differ from what most say, each with what it says."""
    most, _ = Counter(found.values()).most_common(1)[0]
    return [f"{place} says {said!r}, the others {most!r}"
            for place, said in found.items() if said != most]


def rewrite(version: str, root: Path = ROOT) -> list[Path]:
    """Every place under ``root`` rewritten to ``version``; the files written."""
    names = "|".join(sorted(OURS))
    pin = re.compile(r"""(["'](?:""" + names + r""")(?:\[[^\]]*\])?)==[^"';,\s]+""")
    written = []
    for path in [root / p / "pyproject.toml" for p in PROJECTS] + [root / LITERAL]:
        text = path.read_text(encoding="utf-8")
        new = re.sub(r'^(version|__version__) = "[^"]*"$', rf'\1 = "{version}"', text,
                     flags=re.M)
        new = pin.sub(rf"\1=={version}", new)
        if new != text:
            path.write_text(new, encoding="utf-8")
            written.append(path)
    return written


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    """The command; its exit status (1: the places disagree, or the version is invalid)."""
    args = sys.argv[1:] if argv is None else argv
    if args:
        try:
            version = str(Version(args[0]))
        except InvalidVersion:
            print(f"not a version: {args[0]!r}", file=sys.stderr)
            return 1
        for path in rewrite(version, root):
            print(f"rewrote {path.relative_to(root)}")
    odd = odd_ones(places(root))
    print("\n".join(odd) if odd else next(iter(places(root).values())),
          file=sys.stderr if odd else sys.stdout)
    return 1 if odd else 0


if __name__ == "__main__":
    sys.exit(main())

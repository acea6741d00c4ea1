"""Debian's Wine for the Linux suite's setup tests: a Wine prefix of the tests' own and the
stand-in MetaEditor the Windows stage builds (``tests/windows/metaeditor.c``), both made once
and cached in ``${XDG_CACHE_HOME:-~/.cache}/mtgateway-ci/wine-setup/``.

``wineboot`` takes 12-40 s to make a prefix (Wine 8 copies its DLLs into it, ~700 MB); a
prefix that is there starts a Wine program in about a second. So the prefix is made once per
machine, under a lock (the suite's workers may ask at once), marked ready only when complete
(a run stopped half-way leaves no prefix a later one would trust), and each test lays its
terminal out in it under a name of its own and removes it after. It is not the Windows stage's
prefix (``tests/windows/wine.py``): the two run side by side on a developer's machine. Like
the stage's, it has no debugger registered (``AeDebug``): a Windows program that crashes
ends, rather than waiting for ``winedbg`` with no one to answer it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
CACHE: Final = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / \
    "mtgateway-ci" / "wine-setup"
STAND_IN_SOURCE: Final = ROOT / "tests" / "windows" / "metaeditor.c"


def environment(prefix: Path) -> dict[str, str]:
    """This environment with ``prefix``, Wine's debug output off, no Mono or Gecko installer
    asked for, and nothing of ours (``MTGATEWAY_*``) or of another prefix (``WINE*``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MTGATEWAY_", "WINE"))}
    env.update(WINEPREFIX=str(prefix), WINEDEBUG="-all", WINEDLLOVERRIDES="mscoree,mshtml=")
    return env


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found is not None, f"{name} is missing: run .ci/system-packages"
    return found


def prefix() -> Path:
    """The tests' Wine prefix, made by ``wineboot`` the first time."""
    folder = CACHE / "prefix"
    if (folder / ".ready").exists():
        return folder
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / ".ready").exists():  # another worker made it meanwhile
            return folder
        shutil.rmtree(folder, ignore_errors=True)
        env = environment(folder)
        subprocess.run([_tool("wineboot"), "--init"], env=env, check=True,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
        subprocess.run([_tool("wine"), "reg", "delete",
                        "HKLM\\Software\\Microsoft\\Windows NT\\CurrentVersion\\AeDebug", "/v",
                        "Debugger", "/f"], env=env, check=True, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=300)
        # the registry is written by wineserver as it ends: wait for it before trusting it
        subprocess.run([_tool("wineserver"), "-w"], env=env, check=True, timeout=300)
        (folder / ".ready").write_text("wineboot, no AeDebug debugger\n", encoding="utf-8")
    return folder


def metaeditor() -> Path:
    """The stand-in ``metaeditor64.exe`` built from ``tests/windows/metaeditor.c`` with
    Debian's mingw-w64, cached by the source's hash."""
    source = STAND_IN_SOURCE.read_bytes()
    built = CACHE / f"metaeditor-{hashlib.sha256(source).hexdigest()[:16]}.exe"
    if built.exists():
        return built
    CACHE.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=CACHE, suffix=".exe")
    os.close(handle)
    try:
        subprocess.run([_tool("x86_64-w64-mingw32-gcc"), "-O2", "-s", "-municode", "-o",
                        partial, str(STAND_IN_SOURCE)], check=True, capture_output=True,
                       timeout=300)
        os.replace(partial, built)
    finally:
        Path(partial).unlink(missing_ok=True)
    return built

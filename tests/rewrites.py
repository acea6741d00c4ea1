"""The test modules' assertion rewriting shared between the run's workers, not done by each.

pytest rewrites every test module's ``assert`` statements on import and caches the result in a
bytecode file of its own (``<name>.cpython-311-pytest-X.Y.pyc``, beside the module or under
``PYTHONPYCACHEPREFIX``). The suite's workers (``-n 3``) start together and collect every
module in the same order, so on a cold cache each finds no file for the module it is on and
rewrites it too: three times the work, about 7 s of CPU a worker for the test modules alone,
all of it before the first test runs. Here each worker, before it collects, writes the
rewritten file for the modules that still lack one, starting at its own third of the list:
worker *k* of *n* begins at the *k*-th *n*-th and goes round, skipping a module whose file
another worker has written meanwhile. Collection then finds every file written, and reads it
as it would read its own.

The file is pytest's own: written by its rewriting hook's functions (``_rewrite_test``,
``_write_pyc``: an atomic rename, so a worker never reads a half-written one), read back by
pytest, which checks the source's hash. Those functions are pytest's private ones; if a
version of pytest no longer has them, nothing is written here and collection rewrites as it
always did.
"""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

__all__ = ["rotated", "share_the_rewriting", "rewritten_modules"]


def rewritten_modules(paths: Iterable[Path], top: Path, patterns: Iterable[str]) -> list[Path]:
    """The modules a run of ``paths`` (files or folders under ``top``) has pytest rewrite as
    test modules: those matching the ``python_files`` patterns under each, and the
    ``conftest.py`` files in them and in the folders between them and ``top``, in a fixed
    order. A run of one file writes that file's, not the whole suite's."""
    globs = [*patterns, "conftest.py"]
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(module for module in path.rglob("*.py")
                         if any(fnmatch.fnmatch(module.name, glob) for glob in globs)
                         and "__pycache__" not in module.parts)
        elif path.is_file() and any(fnmatch.fnmatch(path.name, glob) for glob in globs):
            found.add(path)
        folders = [path, *path.parents] if path.is_dir() else list(path.parents)
        for folder in folders:
            if folder != top and top not in folder.parents:
                break
            if (folder / "conftest.py").is_file():
                found.add(folder / "conftest.py")
    return sorted(found)


def rotated(items: Sequence[Path], worker: int, workers: int) -> list[Path]:
    """``items`` begun at the ``worker``-th ``workers``-th and gone round."""
    if not items or workers < 1:
        return list(items)
    start = len(items) * (worker % workers) // workers
    return [*items[start:], *items[:start]]


def share_the_rewriting(config: pytest.Config, paths: Iterable[Path], top: Path, worker: int,
                        workers: int) -> int:
    """Write the rewritten bytecode of every test module the run of ``paths`` (under ``top``)
    collects that has none yet,
    this worker's share first; how many this worker wrote. Nothing when bytecode is not
    written or pytest's assertion rewriting is off or has changed shape."""
    try:
        from _pytest.assertion import rewrite  # noqa: PLC0415 - pytest's own, private
        state = config.stash[rewrite.assertstate_key]
        rewrite_test, write_pyc = rewrite._rewrite_test, rewrite._write_pyc  # noqa: SLF001
        cache_dir, tail = rewrite.get_cache_dir, rewrite.PYC_TAIL
    except (AttributeError, ImportError, KeyError):
        return 0
    if sys.dont_write_bytecode or config.getoption("assertmode") != "rewrite":
        return 0
    written = 0
    modules = rewritten_modules(paths, top, config.getini("python_files"))
    for path in rotated(modules, worker, workers):
        folder = cache_dir(path)
        pyc = folder / (path.name[:-3] + tail)
        if pyc.exists():
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
            source_hash, code = rewrite_test(path, config)
        except (OSError, SyntaxError):
            continue  # collection meets it and says what is wrong, as it would have
        if write_pyc(state, code, source_hash, pyc):
            written += 1
    return written

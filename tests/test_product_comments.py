"""Product comments say why, never which issue or review round.

A comment that says "(issue 16 F5)" or "review round 4, m8" points at a tracker and review
files that do not ship with the repository: to a newcomer it is a pointer to nowhere, and it
ages (the finding's number means nothing once the review is replaced). The reason the code is
so belongs in the comment, in plain words; the history belongs in commits and in the docs,
whose tables map findings to tests on purpose. So this module reads the comments and
docstrings of every product tree (Python, the MQL sources, the deploy and CI files) and fails
naming each ``file:line`` that carries a tracker or review tag, each comment that points into
``shared/``, a folder beside the repository that no reader of the code has, and each comment
that names a file the repository does not hold (renamed, split, or never in it).

What it reads, per kind of file:

* Python: every ``#`` comment (:mod:`tokenize`) and every string that stands alone as a
  statement (module, class and function docstrings, ``#:``-style attribute docstrings), for
  every pattern; every other string literal (help text, messages) for the patterns that cannot
  be anything but a tag ("issue 21", "round-4", "T4-F2").
* MQL, JavaScript and CSS: ``//`` and ``/* */`` comments (string literals skipped, so a URL's
  ``//`` is not a comment); Jinja templates: ``{# #}`` and ``<!-- -->``.
* TOML, shell, the Containerfile, the systemd unit, the HAProxy template, the Grafana
  dashboard: the whole text (their comments are most of it, and their strings are text a user
  reads).

Tests and docs keep their tags: a test docstring may name the finding it proves, and the
docs' tables map findings to tests.
"""

from __future__ import annotations

import ast
import functools
import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The product, as shipped or deployed: the daemon and console, the bridge and its MQL
#: sources, the MT5 model, the client packages, the benchmarks, deploy and CI files, the
#: examples a user copies, and the packaging (whose dependency list says why each is there).
PRODUCT = ("daemon/src", "daemon/pyproject.toml", "daemon/setup.py", "client/src",
           "client/metatrader5-shim", "bench", "deploy", "config.example.toml", ".ci", "examples",
           "pyproject.toml", "base/src", "base/pyproject.toml", "base/setup.py", "console/src",
           "console/pyproject.toml")

#: Files that hold no comments of ours: build output, licences, markers, READMEs (docs, which
#: may keep their tags), compiled files.
_SKIPPED_SUFFIXES = frozenset({".md", ".typed", ".pyc", ".ex5", ".ex4", ".png", ".ico"})
_SKIPPED_NAMES = frozenset({"LICENSE"})

#: Tags that can only be tags, wherever they stand (comments and any string).
_ALWAYS = (
    # "issue 21", "Issue 8 (item 9)", "issue #5", "issues 16 and 8"
    ("issue number", re.compile(r"\bissues?\s+#?\d+", re.IGNORECASE)),
    # "review round 4", "round-4", "Round 5", a "(review round" broken across lines
    ("review round", re.compile(r"\breview\s+round\b(?:[- ]\d+\b)?|\bround[- ]\d+\b",
                                re.IGNORECASE)),
    # finding ids: "T4-F9", "T5-F1", "C5-4", "D4-2", "E-1", "D-3", "A-1", "CS-1", "E5-2".
    # Not "UTF-8", "SHA-256", "ISO-8601" (three letters), not a Windows SID "S-1-5-18".
    ("finding id", re.compile(r"(?<![\w-])[A-Z]{1,2}\d{0,2}-[A-Z]?\d+(?![\w-])")),
)

#: Tags that read as tags in a comment but may be legitimate in a user-facing string
#: ("press F7", "the item 3 of params").
_IN_COMMENTS = (
    ("item number", re.compile(r"\bitems?\s+\d+\b", re.IGNORECASE)),
    # a security finding "F10", "(issue 16 F5)"; not ruff's "noqa: F403" (removed first)
    ("finding F-number", re.compile(r"\bF\d{1,2}\b")),
    # a minor finding "m8", "m21"
    ("minor finding", re.compile(r"\bm\d{1,2}\b")),
    # a finding "G1", "U1", "D10"; MT5's timeframes (M1, H4, D1, W1, MN1...) are not tags
    ("letter-number finding", re.compile(
        r"\b(?!(?:M(?:[1-6]|1[025]|[23]0)|H(?:[1-46]|8|12)|D1|W1)\b)[A-Z]\d{1,2}\b")),
    # a path into the team's folder beside the repository, which no reader of the code has,
    # and the founding documents kept there ("seed-register-account", "seed-mt4-web-api")
    ("path outside the repository", re.compile(r"\bshared/(?:spec|reference)\b")),
    ("document outside the repository", re.compile(r"\bseed-[a-z]+(?:-[a-z0-9]+)*")),
)

#: Lint and type-checker directives carry rule codes ("noqa: F403,E402", "type: ignore[...]"),
#: not tags: they are removed before a comment is matched.
_DIRECTIVE = re.compile(
    r"#\s*(?:noqa\b(?::\s*[A-Z]+\d+(?:\s*,\s*[A-Z]+\d+)*)?|type:\s*ignore\[[^\]]*\])")

#: Reviewed exceptions: ``(path, the exact text matched)``, each with why it must stay.
ALLOWED: frozenset[tuple[str, str]] = frozenset({
    # RFC 6238's name for the TOTP epoch, quoted from the RFC the function implements.
    ("console/src/mtgateway_console/totp.py", "T0"),
})


@dataclass(frozen=True)
class Tag:
    path: str
    line: int
    kind: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind} {self.text!r}"


@dataclass(frozen=True)
class _Text:
    line: int
    text: str
    comment: bool  # a comment or docstring (every pattern) or another literal (the sure ones)


def _python(source: str) -> Iterator[_Text]:
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield _Text(token.start[0], token.string, True)
    standalone: set[int] = set()
    strings: list[ast.Constant] = []
    for node in ast.walk(ast.parse(source)):  # one walk: the tree has ~10^4 nodes a file
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            standalone.add(id(node.value))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            strings.append(node)
    lines = source.splitlines()
    for node in strings:
        end = node.end_lineno or node.lineno
        for number in range(node.lineno, end + 1):
            # the source lines, not the value: a line number per line of a docstring
            yield _Text(number, lines[number - 1], id(node) in standalone)


def _c_like(source: str, line_comments: bool) -> Iterator[_Text]:
    """``/* */`` (and ``//`` when ``line_comments``) comments, skipping string literals."""
    i, line, n = 0, 1, len(source)
    while i < n:
        c = source[i]
        if c == "\n":
            line += 1
            i += 1
        elif c in "\"'":
            i += 1
            while i < n and source[i] != c and source[i] != "\n":
                i += 2 if source[i] == "\\" else 1
            i += 1
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            end = n if end < 0 else end + 2
            for offset, text in enumerate(source[i:end].split("\n")):
                yield _Text(line + offset, text, True)
            line += source.count("\n", i, end)
            i = end
        elif line_comments and source.startswith("//", i):
            end = source.find("\n", i)
            end = n if end < 0 else end
            yield _Text(line, source[i:end], True)
            i = end
        else:
            i += 1


def _template(source: str) -> Iterator[_Text]:
    for match in re.finditer(r"\{#.*?#\}|<!--.*?-->", source, re.DOTALL):
        first = source.count("\n", 0, match.start()) + 1
        for offset, text in enumerate(match.group(0).split("\n")):
            yield _Text(first + offset, text, True)


def _whole(source: str) -> Iterator[_Text]:
    for number, text in enumerate(source.splitlines(), 1):
        yield _Text(number, text, True)


@functools.cache
def _texts(path: Path) -> tuple[_Text, ...]:
    """The texts of one file, read once per process: both checks below read every product
    file's (tokenizing and parsing the Python ones is most of their time)."""
    return tuple(_file_texts(path))


def _file_texts(path: Path) -> Iterator[_Text]:
    source = path.read_text(encoding="utf-8")
    suffix = path.suffix
    if suffix == ".py":
        return _python(source)
    if suffix in {".mq5", ".mq4", ".mqh", ".js"}:
        return _c_like(source, line_comments=True)
    if suffix == ".css":
        return _c_like(source, line_comments=False)
    if suffix == ".html":
        return _template(source)
    return _whole(source)


def _product_files(root: Path) -> Iterator[Path]:
    for top in PRODUCT:
        base = root / top
        candidates = [base] if base.is_file() else sorted(base.rglob("*"))
        for path in candidates:
            parts = path.relative_to(root).parts
            if (not path.is_file() or "__pycache__" in parts
                    or any(part.endswith(".egg-info") for part in parts)
                    or path.suffix in _SKIPPED_SUFFIXES or path.name in _SKIPPED_NAMES):
                continue
            yield path


def tags_in(path: Path, relative: str) -> list[Tag]:
    """Every tag in the comments (and, for the sure patterns, strings) of one file."""
    found: dict[tuple[int, str], Tag] = {}
    for text in _texts(path):
        patterns = _ALWAYS + _IN_COMMENTS if text.comment else _ALWAYS
        line = _DIRECTIVE.sub("", text.text)
        taken: list[tuple[int, int]] = []  # "T4-F13" is one tag, not also "T4" and "F13"
        for kind, pattern in patterns:
            for match in pattern.finditer(line):
                if any(start < match.end() and match.start() < end for start, end in taken):
                    continue
                taken.append(match.span())
                if (relative, match.group(0)) not in ALLOWED:
                    found.setdefault((text.line, match.group(0)),
                                     Tag(relative, text.line, kind, match.group(0)))
    return sorted(found.values(), key=lambda tag: (tag.line, tag.text))


def product_tags(root: Path = ROOT) -> list[Tag]:
    found: list[Tag] = []
    for path in _product_files(root):
        relative = path.relative_to(root).as_posix()
        found.extend(tags_in(path, relative))
    return found


def test_product_comments_carry_no_issue_or_review_tags() -> None:
    tags = product_tags()
    assert not tags, (
        f"{len(tags)} issue or review tags in product comments; say why the code is so, in plain "
        "words (history lives in commits and docs):\n" + "\n".join(map(str, tags)))


#: A file named in a comment: ``gateway/trading/reconcile.py``, ``auth/service.py``,
#: ``docs/protocol.md``, ``Methods5.mqh``. Not a URL's path or an absolute one (``/static/x.css``,
#: ``/etc/mtgateway/console.toml``), which the lookbehind leaves out.
_FILE_NAME = re.compile(r"(?<![\w/.:~-])((?:[\w-]+/)*[\w-]+\.(?:py|pyi|mqh|mq5|mq4|md|toml|json|"
                        r"html|css|js|txt|cfg|template|service))\b")

#: Where a named file may live: the repository's own trees (``.venv`` and build output aside).
_REPOSITORY = ("daemon", "client", "bench", "deploy", "docs", "tests", "examples", ".ci", "base",
               "console")


#: Files named in comments that live on the user's machine, not in the repository.
NOT_IN_THE_REPOSITORY = frozenset({
    "config.toml",                 # the daemon's configuration, which the user writes
    "demo.json",                   # the examples' name for ``mtgateway demo --state-file``
    "deploy/haproxy-console.cfg",  # what deploy/haproxy-console.cfg.template becomes when filled
    "postgresql.service",          # the distribution's PostgreSQL unit, ordered before the console
    "systemd.service",             # the man page, systemd.service(5)
    "origin.txt",                  # MetaTrader's, in a terminal's data folder: its install path
    "setup.json",                  # what ``mtgateway setup`` added, in the data directory
    "check.json",                  # the state file ``mtgateway setup`` writes for ``check``
})


def _repository_files(root: Path) -> set[str]:
    files = {path.name for path in root.iterdir() if path.is_file()}
    for top in _REPOSITORY:
        for path in (root / top).rglob("*"):
            parts = path.relative_to(root).parts
            if path.is_file() and "__pycache__" not in parts:
                files.add("/".join(parts))
    return files


def dangling_names(root: Path = ROOT) -> list[str]:
    """Each ``file:line name`` where a product comment names a file the repository lacks."""
    files = _repository_files(root)
    # a name is a file's path or the end of one (from a directory boundary on)
    ends = {"/".join(parts[k:]) for f in files for parts in [f.split("/")]
            for k in range(len(parts))}
    found: list[str] = []
    for path in _product_files(root):
        relative = path.relative_to(root).as_posix()
        for text in _texts(path):
            if not text.comment:
                continue  # a path in code (a default output file) is the code's business
            for match in _FILE_NAME.finditer(text.text):
                name = match.group(1)
                if name in NOT_IN_THE_REPOSITORY:
                    continue
                if name not in ends:
                    found.append(f"{relative}:{text.line} names {name}")
    return sorted(set(found))


def test_files_named_in_product_comments_exist() -> None:
    """A comment that sends the reader to a file that is gone (renamed, split, or never in the
    repository) is a pointer to nowhere."""
    missing = dangling_names()
    assert not missing, "\n".join(missing)


def test_every_allowed_tag_is_still_there() -> None:
    """An allowlist entry whose text is gone is stale: it would let the tag back in unseen."""
    for path, text in sorted(ALLOWED):
        assert text in (ROOT / path).read_text(encoding="utf-8"), (path, text)


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_the_scanner_finds_every_form_and_spares_what_is_not_a_tag(tmp_path: Path) -> None:
    """Each tag form is found at its line, in each kind of file; MT5 names, lint codes, hashes,
    encodings, SIDs, a URL's ``//`` and user-facing key names are not tags."""
    _write(tmp_path, "daemon/src/gateway/a.py", '''"""Module docstring.

Bound this (issue 16 F5) and that (review round 4, m8).
"""
import x  # noqa: F403,E402 -- not a tag
# Round-4 T4-F13: long-polls
X = 1
#: the owner's codes (issue 8, item 11); CS-1 and C5-4 and D4-2 and E-1
Y = 2
"""Y's docstring: G1 and U1, never M1, H4, D1, W1, MN1, M2 or H12."""
HELP = "the A/B of issue 21's edge"
KEY = "press F7 to compile, item 3"
SID = "*S-1-5-18:F"
ENC = "UTF-8, SHA-256, ISO-8601, UTF-16"


def f() -> None:
    """See ``shared/spec/security.md``, ``seed-register-account``; run with --seed 1."""
''')
    _write(tmp_path, "daemon/src/ea_bridge/mql/MQL5/E.mqh",
           '''string url = "http://x/issue 9"; // F10: here
/* a block
   comment, m21 */
int a = 1; // M1 and H4 bars
''')
    _write(tmp_path, "deploy/x.service", "# keep (round 5)\nExecStart=/bin/true\n")
    _write(tmp_path, "console/src/mtgateway_console/web/static/s.css",
           "a { color: #A1B2C3; } /* m19 */\n")
    _write(tmp_path, "console/src/mtgateway_console/web/templates/t.html",
           "<p>M1 bars, issue 5 in the text</p>\n{# D-3: why #}\n<!-- E5-2 -->\n")
    _write(tmp_path, "console/src/mtgateway_console/web/static/s.js",
           "const u = '//x F5'; // A-1\n")
    found = {(tag.path, tag.line, tag.text) for tag in product_tags(tmp_path)}
    a, e = "daemon/src/gateway/a.py", "daemon/src/ea_bridge/mql/MQL5/E.mqh"
    assert found == {
        (a, 3, "issue 16"), (a, 3, "F5"), (a, 3, "review round 4"), (a, 3, "m8"),
        (a, 6, "Round-4"), (a, 6, "T4-F13"),
        (a, 8, "issue 8"), (a, 8, "item 11"), (a, 8, "CS-1"),
        (a, 8, "C5-4"), (a, 8, "D4-2"), (a, 8, "E-1"),
        (a, 10, "G1"), (a, 10, "U1"),
        (a, 11, "issue 21"),
        (a, 18, "shared/spec"), (a, 18, "seed-register-account"),
        (e, 1, "F10"), (e, 3, "m21"),
        ("deploy/x.service", 1, "round 5"),
        ("console/src/mtgateway_console/web/static/s.css", 1, "m19"),
        ("console/src/mtgateway_console/web/templates/t.html", 2, "D-3"),
        ("console/src/mtgateway_console/web/templates/t.html", 3, "E5-2"),
        ("console/src/mtgateway_console/web/static/s.js", 1, "A-1"),
    }


def test_the_file_check_finds_a_gone_file_and_spares_urls(tmp_path: Path) -> None:
    """A named file that is gone is found, by its full path or by its tail; one that exists, a
    URL's path, an absolute path and a path in code are not."""
    _write(tmp_path, "daemon/src/gateway/auth/service.py", '''"""Here, beside ``auth/service.py``.

Also ``gateway/methods/trading.py`` and ``product.md``; not ``/static/console.css`` nor
https://www.sqlite.org/fileformat2.html nor ``/etc/mtgateway/console.toml``.
"""
OUT = "bench/results/out.json"
# see docs/protocol.md and ``store.py``
''')
    _write(tmp_path, "docs/protocol.md", "# protocol\n")
    assert dangling_names(tmp_path) == [
        "daemon/src/gateway/auth/service.py:3 names gateway/methods/trading.py",
        "daemon/src/gateway/auth/service.py:3 names product.md",
        "daemon/src/gateway/auth/service.py:7 names store.py",
    ]

"""Every text file the project opens names its encoding.

Without ``encoding=``, Python opens a text file in the locale's encoding: UTF-8 on Linux, the
ANSI code page on Windows (cp1252 in Western Europe and the Americas), where terminals live. A
file written here in UTF-8 and read there without an encoding fails with ``UnicodeDecodeError:
'charmap' codec can't decode`` or, worse, reads as other characters (the Windows stage found a
doc read so). ruff's ``PLW1514`` (unspecified-encoding) says the same, but only in preview
in the ruff this project pins, and it sees a ``read_text`` only on a receiver it can type; so
this test reads the syntax itself, over every Python file in the repository: the product, the
tests, the benchmarks and the examples.

Flagged, unless the call has an ``encoding=`` argument (or ``**kwargs``, which may carry one):

* ``open(...)`` and ``io.open(...)`` unless the mode is a literal with ``b`` in it;
* ``X.open(mode)`` (``Path.open``) when the mode is a literal without ``b``: a bare
  ``X.open()`` is left alone, since our own classes have ``open`` methods (the authority, the
  journal) that are not files;
* ``X.read_text(...)`` and ``X.write_text(...)``, whatever ``X`` is (``pathlib``, ``zipfile``
  and ``importlib.resources`` all take ``encoding``);
* ``io.TextIOWrapper(...)``; ``os.fdopen(fd, mode)`` and ``tempfile``'s ``TemporaryFile``,
  ``NamedTemporaryFile`` and ``SpooledTemporaryFile`` when the mode is a text literal.

Subprocess pipes opened with ``text=True`` are not files of ours: a child Python writes its
piped standard streams in the same locale encoding the parent decodes them with.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Kept byte for byte as the MetaTrader5 package's documentation prints them
#: (client/tests/test_package_examples.py).
_KEPT_AS_PUBLISHED = ("client/tests/package_examples/",)
_MODE = re.compile(r"[rwxa+bt]{1,3}")
_TEMPFILES = frozenset({"TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile"})


def _python_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                             "*.py"], cwd=ROOT, capture_output=True, check=True,
                            encoding="utf-8").stdout.split("\n")
    return sorted(name for name in listed
                  if name and not name.startswith(_KEPT_AS_PUBLISHED) and (ROOT / name).exists())


def _mode(call: ast.Call, position: int) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "mode":
            return keyword.value
    return call.args[position] if len(call.args) > position else None


def _text_mode(mode: ast.expr | None, *, default_text: bool) -> bool:
    """Whether ``mode`` opens text: a literal without ``b``; absent, the function's default;
    anything else (a variable), text, since it may be."""
    if mode is None:
        return default_text
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return "b" not in mode.value
    return True


def _module_name(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else None


def unspecified(source: str) -> list[tuple[int, str]]:
    """The line and the call of every text file opened in ``source`` without an encoding."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        if any(k.arg == "encoding" or k.arg is None for k in node.keywords):
            continue
        if any(isinstance(a, ast.Starred) for a in node.args):
            continue  # *args may carry the encoding
        func = node.func
        if isinstance(func, ast.Name):
            name, owner = func.id, None
        elif isinstance(func, ast.Attribute):
            name, owner = func.attr, _module_name(func.value)
        else:
            continue
        if name == "open" and (owner is None and isinstance(func, ast.Name) or owner == "io"):
            # open(file, mode, buffering, encoding)
            flagged = len(node.args) < 4 and _text_mode(_mode(node, 1), default_text=True)
        elif name == "open" and isinstance(func, ast.Attribute) and owner != "os":
            mode = _mode(node, 0)  # a file's mode only when it reads as one: not a URL, a path
            flagged = (isinstance(mode, ast.Constant) and isinstance(mode.value, str)
                       and _MODE.fullmatch(mode.value) is not None and "b" not in mode.value)
        elif name == "read_text" and isinstance(func, ast.Attribute):
            flagged = not node.args  # read_text("utf-8"): the encoding, positionally
        elif name == "write_text" and isinstance(func, ast.Attribute):
            flagged = len(node.args) < 2  # write_text(data, "utf-8")
        elif name == "TextIOWrapper":
            flagged = len(node.args) < 2
        elif name == "fdopen" and owner == "os":
            flagged = _text_mode(_mode(node, 1), default_text=True)
        elif name in _TEMPFILES:
            mode = _mode(node, 0)
            flagged = mode is not None and _text_mode(mode, default_text=False)
        else:
            continue
        if flagged:
            found.append((node.lineno, ast.unparse(func)))
    return found


def test_the_rule_flags_text_opens_and_passes_binary_and_encoded_ones() -> None:
    """Each form the rule reads is flagged without an encoding and passed with one (or in
    binary), so a change to the rule that stops seeing one fails here."""
    flagged = [
        "open('f')", "open('f', 'w')", "open(p, mode)", "io.open('f', 'r')",
        "Path('f').read_text()", "(d / 'x').write_text('y')", "p.open('w')",
        "p.open(mode='a')", "io.TextIOWrapper(raw)", "os.fdopen(fd, 'w')", "os.fdopen(fd)",
        "tempfile.NamedTemporaryFile('w')", "tempfile.TemporaryFile(mode='w+')",
    ]
    passed = [
        "open('f', 'rb')", "open('f', encoding='utf-8')", "open('f', 'w', encoding='ascii')",
        "p.read_text(encoding='utf-8')", "p.write_text('y', encoding='utf-8')",
        "p.open('rb')", "p.open()", "store.open(data_dir)", "browser.open('/login')",
        "os.open('f', os.O_RDONLY)", "p.read_text('utf-8')", "p.write_text('y', 'utf-8')",
        "open('f', 'w', -1, 'utf-8')", "p.read_text(*how)",
        "os.fdopen(fd, 'wb')", "tempfile.NamedTemporaryFile()", "open('f', **options)",
        "io.TextIOWrapper(raw, encoding='utf-8')", "p.read_bytes()",
    ]
    for line in flagged:
        assert unspecified(line) != [], line
    for line in passed:
        assert unspecified(line) == [], line


def test_every_text_file_is_opened_with_an_explicit_encoding() -> None:
    """No Python file in the repository opens a text file in the locale's encoding."""
    offenders = [f"{name}:{line}: {call}(...) without encoding="
                 for name in _python_files()
                 for line, call in unspecified((ROOT / name).read_text(encoding="utf-8"))]
    assert not offenders, "\n".join(offenders)

"""Issue 62's "no entry point resolves a caller itself", held to the source: outside the door
(``mtgateway_console/door/``) no module of the console reads a credential from a request.

The import contracts keep the entry points apart and below the console; they cannot see an
entry point that reads the ``Authorization`` header or the session cookie on its own and picks
a credential from it, as ``routes/operations.py`` did (it chose Basic or the access token by
the header's scheme; the door's ``"owner"`` kind decides that now).
"""

from __future__ import annotations

import re
from pathlib import Path

import mtgateway_console

CONSOLE = Path(mtgateway_console.__file__).resolve().parent
#: What reads a credential from a request: the header, the page session's cookie, the
#: second factor's header.
READS = re.compile(r"""["'](Authorization|mtgw_session|X-Owner-Code)["']""", re.IGNORECASE)
#: Modules outside the door that may, and why.
ALLOWED = {
    # the scrape token: a Prometheus scraper's, no owner, device or session of the door
    "metrics.py",
}


def test_no_module_outside_the_door_reads_a_credential() -> None:
    found = []
    for path in sorted(CONSOLE.rglob("*.py")):
        relative = path.relative_to(CONSOLE).as_posix()
        if relative.startswith("door/") or relative in ALLOWED:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if READS.search(line) and not line.lstrip().startswith("#"):
                found.append(f"{relative}:{number}: {line.strip()}")
    assert found == []


def test_the_pattern_finds_what_operations_did() -> None:
    """The check is not blind: the line ``routes/operations.py`` had is found."""
    line = '    scheme = request.headers.get("Authorization", "").partition(" ")[0].lower()'
    assert READS.search(line)

"""The tables of ``docs/rest.md`` that list the MT4 Web API's endpoints, written from the one
table (``table.ENDPOINTS``) instead of beside it.

``docs/rest.md`` says which side answers each endpoint and why the daemon answers 501 where it
does. Both were written by hand beside the rows they describe, so an endpoint was written
twice, and one added to the table but not to the page left the page wrong with no test to
notice. Here each is made from the rows: a row's two columns (the side's summary, or 501),
and a side's refusals grouped by their reason, word for word the 501's message.
``python -m mtgateway_base.mt4web.quickref docs/rest.md`` rewrites them in place, each
between its two markers (:func:`begin`, :func:`end`), and ``base/tests/test_mt4web.py`` holds
the page to what this module writes.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Final

from .table import ENDPOINTS, Answer, Endpoint, Side

__all__ = ["SECTIONS", "begin", "end", "main", "refusals", "rewrite", "sides"]

_COMMAND: Final = "python -m mtgateway_base.mt4web.quickref"


def _cell(text: str) -> str:
    """``text`` as one cell of a Markdown table: a ``|`` would end the cell, and ``<token>``
    would be read as an HTML tag and not shown."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _said(answer: Answer) -> str:
    if not answer.answered:
        return "501"
    return _cell(answer.summary + ("" if answer.auth else "; no token"))


def sides(endpoints: Sequence[Endpoint] = ENDPOINTS) -> str:
    """Which side answers each endpoint: its number, method and path, and each side's summary
    (``; no token`` where it takes none) or 501, one row per endpoint in the table's order."""
    lines = ["| # | endpoint | the daemon (`:8710`, the terminal's gateway token) "
             "| the console (`:8720`, the owner's JWT) |", "|---|---|---|---|"]
    lines += [f"| {e.number} | `{e.method} {e.path}` | {_said(e.daemon)} | {_said(e.console)} |"
              for e in endpoints]
    return "\n".join(lines) + "\n"


def refusals(side: Side, endpoints: Sequence[Endpoint] = ENDPOINTS) -> str:
    """What ``side`` answers 501, grouped by why (the 501's message, word for word), in the
    order each reason first appears."""
    grouped: dict[str, list[str]] = {}
    for e in endpoints:
        why = e.answer(side).why
        if why is not None:
            grouped.setdefault(why, []).append(f"`{e.method} {e.path}`")
    lines = ["| endpoints | why (the 501's message) |", "|---|---|"]
    lines += [f"| {', '.join(paths)} | {_cell(why)} |" for why, paths in grouped.items()]
    return "\n".join(lines) + "\n"


#: Every table of ``docs/rest.md`` written here, by the name its markers carry.
SECTIONS: Final[Mapping[str, Callable[[Sequence[Endpoint]], str]]] = {
    "which side answers each endpoint": sides,
    "what the daemon answers 501, and why": functools.partial(refusals, "daemon"),
}


def begin(name: str) -> str:
    """The line before the section ``name``."""
    return f"<!-- {name}: written by {_COMMAND} from base/src/mtgateway_base/mt4web/table.py -->"


def end(name: str) -> str:
    """The line after the section ``name``."""
    return f"<!-- end of {name} -->"


def rewrite(page: str, endpoints: Sequence[Endpoint] = ENDPOINTS) -> str:
    """``page`` with each section of :data:`SECTIONS` between its markers rewritten from
    ``endpoints``; the rest of the page as it was.

    Raises:
        ValueError: a section's markers are missing, or out of order (named).
    """
    for name, write in SECTIONS.items():
        start, stop = page.find(begin(name)), page.find(end(name))
        if start < 0 or stop < start:
            raise ValueError(f"no section {name!r} in the page: it needs the lines "
                             f"{begin(name)!r} and {end(name)!r}, in that order")
        start += len(begin(name))
        page = page[:start] + "\n\n" + write(endpoints) + "\n" + page[stop:]
    return page


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m mtgateway_base.mt4web.quickref docs/rest.md``: rewrite the page's tables
    from the one table."""
    parser = argparse.ArgumentParser(prog=_COMMAND, description=main.__doc__)
    parser.add_argument("page", type=Path, help="the Markdown page (docs/rest.md)")
    page: Path = parser.parse_args(argv).page
    text = page.read_text(encoding="utf-8")
    written = rewrite(text)
    if written != text:
        page.write_text(written, encoding="utf-8", newline="")
    print(f"{page}: {'rewritten' if written != text else 'unchanged'}")


if __name__ == "__main__":
    main()

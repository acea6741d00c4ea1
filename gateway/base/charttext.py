"""Text the owner puts on a terminal's chart: one line of printable text, bounded.

The EA shows an owner's message under its own status line (``MT Gateway: connected`` and
under it ``Message from the owner: ...``, with MQL's ``Comment``) and in the terminal's
journal (``Print``). A line break in the message would start a line that looks like the EA's
own; a bidi override or isolate would show characters in another order than they are; a
control character (NUL ends an MQL string early) is not text. So a chart message is refused,
never repaired: the console answers 422 naming the field and the character (the owner's
program is told what it sent), and the daemon settles a message an older console signed
``refused`` with the same words instead of relaying it (``trading/instructions.py``).

Refused: Unicode's control characters (``Cc``: U+0000-U+001F, DEL, U+0080-U+009F with
NEL), its line and paragraph separators (``Zl``, ``Zp``), the bidi controls
(``Bidi_Control``: the marks, embeddings, overrides and isolates, U+061C, U+200E-U+200F,
U+202A-U+202E, U+2066-U+2069), the characters that show nothing and shape nothing (zero width
space U+200B, the word joiner and invisible operators U+2060-U+2064, U+180E and the byte-order
mark U+FEFF: a message is also read in the owner's Activity, where they would hide what it
says) and lone surrogates (not text, and not encodable). Every other character passes:
letters of any script, symbols, emoji and the joiners inside them (U+200C, U+200D shape
scripts and emoji).
"""

from __future__ import annotations

import unicodedata
from typing import Final

__all__ = ["MAX_BODY", "MAX_CHART_TEXT", "MAX_SUBJECT", "PRINTABLE_PATTERN",
           "chart_text_problem", "unprintable"]

#: A chart message's subject and body (``POST /api/admin/mail``), and the line they make
#: (``subject: body``).
MAX_SUBJECT: Final = 100
MAX_BODY: Final = 500
MAX_CHART_TEXT: Final = MAX_SUBJECT + len(": ") + MAX_BODY

#: Unicode's ``Bidi_Control`` characters (its property list): they reorder the text around them.
_BIDI_CONTROLS: Final = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                                  "\u2066\u2067\u2068\u2069")
#: Characters that show nothing and shape nothing: a zero width space, the word joiner and
#: the invisible operators, the Mongolian vowel separator, the byte-order mark.
_INVISIBLE: Final = frozenset("\u200b\u2060\u2061\u2062\u2063\u2064\u180e\ufeff")
_REFUSED_CATEGORIES: Final = {"Cc": "a control character", "Zl": "a line separator",
                              "Zp": "a paragraph separator", "Cs": "a lone surrogate"}
#: The same rule as a JSON Schema pattern (ECMA-262), for the OpenAPI document: what a
#: client may send, so that a request the document allows is one the console takes. (A lone
#: surrogate is not in it: JSON text cannot carry one, the console's parser refuses it.)
PRINTABLE_PATTERN: Final = ("^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u180e\\u200b"
                            "\\u200e\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u2069"
                            "\\ufeff]*$")


def _what(ch: str) -> str:
    if ch in _BIDI_CONTROLS:
        return "a bidi control"
    if ch in _INVISIBLE:
        return "an invisible character"
    return _REFUSED_CATEGORIES.get(unicodedata.category(ch), "")


def unprintable(text: str) -> str | None:
    """The first character of ``text`` a chart may not show, in words (``U+000A (a control
    character) at character 6: ...``), or ``None``."""
    for at, ch in enumerate(text, start=1):
        what = _what(ch)
        if what:
            return (f"U+{ord(ch):04X} ({what}) at character {at}: a chart message is one "
                    "line of printable text")
    return None


def chart_text_problem(text: str) -> str | None:
    """Why ``text`` may not be shown on a chart (empty, longer than
    :data:`MAX_CHART_TEXT`, or :func:`unprintable`), or ``None``."""
    if not text:
        return "it is empty"
    if len(text) > MAX_CHART_TEXT:
        return f"it is {len(text)} characters long, more than {MAX_CHART_TEXT}"
    return unprintable(text)

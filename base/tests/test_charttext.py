"""The rule for text the owner puts on a terminal's chart (``mtgateway_base/charttext.py``):
one line of printable text, bounded, the same rule on the console and on the daemon."""

from __future__ import annotations

import sys

import pytest

from mtgateway_base.charttext import MAX_CHART_TEXT, chart_text_problem

#: Every character that breaks a line, controls the terminal, or reorders text around it.
REFUSED = ([chr(c) for c in range(0x20)] + ["\x7f"] + [chr(c) for c in range(0x80, 0xA0)]
           + ["\u061c", "\u200e", "\u200f", "\u2028", "\u2029"]
           + [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)]
           + ["\ud800"]
           # round 7's note: characters that show nothing, hiding text in the Activity
           + ["\u200b", "\u2060", "\u2061", "\u2062", "\u2063", "\u2064", "\u180e",
              "\ufeff"])


@pytest.mark.parametrize("ch", REFUSED, ids=[f"U+{ord(c):04X}" for c in REFUSED])
def test_control_line_breaking_and_bidi_characters_are_refused_by_name(ch: str) -> None:
    """Each is refused, named by its code point and where it stands."""
    problem = chart_text_problem(f"ab{ch}cd")
    assert problem is not None
    assert f"U+{ord(ch):04X}" in problem and "character 3" in problem


def test_printable_text_passes_and_the_bound_holds() -> None:
    """Any script, symbols, emoji with a joiner, and spaces pass up to the bound; one more
    character is refused with the bound named."""
    assert chart_text_problem("Café Ελλάδα Стоп 停止 \U0001F469\u200D\U0001F4BB ✓ $1,000") is None
    assert chart_text_problem("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645") is None  # ZWNJ
    assert chart_text_problem("x" * MAX_CHART_TEXT) is None
    problem = chart_text_problem("x" * (MAX_CHART_TEXT + 1))
    assert problem is not None and str(MAX_CHART_TEXT) in problem
    assert chart_text_problem("") is not None


def test_every_other_code_point_that_is_a_control_is_refused() -> None:
    """Nothing of Unicode's control category (Cc) or its line and paragraph separators (Zl,
    Zp) passes, whatever the code point."""
    import unicodedata

    for c in range(sys.maxunicode + 1):
        if unicodedata.category(chr(c)) in ("Cc", "Zl", "Zp", "Cs"):
            assert chart_text_problem(chr(c)) is not None, hex(c)

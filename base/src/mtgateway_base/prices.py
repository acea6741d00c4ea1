"""A price as the terminal writes it: at its symbol's digits.

MetaTrader quotes each symbol on a grid of ``10 ** -digits`` (``symbol_info().digits``: 5 for
EURUSD, 3 for USDJPY, 2 for XAUUSD) and writes every price with exactly that many decimals,
so ``3154.80`` and ``147.520`` read as prices of their symbols and line up in a column. A
float carries no digits (``3154.8``), so whoever shows a price needs them beside it: the
daemon's check report reads them from ``symbol_info``, the console from the terminal reports
that carry them. Without them a price is written as reported, trailing zeros left off (a
report from a daemon that did not send the digits).
"""

from __future__ import annotations

from typing import Final

__all__ = ["MAX_DIGITS", "at_digits"]

#: The most digits a symbol is quoted with that the console believes (MT5 allows up to 8
#: for a custom symbol; 10 leaves room and still bounds the text).
MAX_DIGITS: Final = 10


def at_digits(value: float, digits: int | None) -> str:
    """``value`` at ``digits`` decimals (``6367.40`` at 2, ``147.520`` at 3, ``97250`` at 0),
    a value off the grid rounded to it; with ``digits`` unknown (``None``), as reported
    without trailing zeros (``1.0842``, ``97250.5``)."""
    if digits is None:
        return f"{value:.5f}".rstrip("0").rstrip(".")
    return f"{value:.{max(0, min(int(digits), MAX_DIGITS))}f}"

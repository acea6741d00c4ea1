"""How a bench runs several variants on a machine whose speed drifts, and how it compares them.

A shared VM's speed moves within minutes (``docs/performance.md``, "What moves the figures"):
the same console's CPU per call at cadence fell 10 % over one quarter of an hour. Variants
run one after another in one invocation therefore, each several times, and in an order that
cancels a steady drift: **balanced** (A B, then B A, then A B, ...), so each variant is as
often first as second. Plain alternation (A B A B ...) always runs B later: on a machine
that is speeding up it favours B and on one slowing down A, by as much as the few per cent
a change is held to (``docs/performance.md`` has a run of each). ``--order alternate`` keeps
the plain order, to compare with runs made before.

:func:`compare` reads the rows back: per variant and step, the median of the figure asked
(the console's CPU per answered call) and its ratio to the first variant's, the figure a
change is judged by.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, TypeVar

__all__ = ["ORDERS", "Order", "compare", "print_comparison", "rounds"]

V = TypeVar("V")

Order = Literal["balanced", "alternate"]
#: The orders ``--order`` takes, the default first.
ORDERS: Final[tuple[Order, ...]] = ("balanced", "alternate")


def rounds(variants: Sequence[V], repeat: int, order: Order = "balanced") -> list[list[V]]:
    """The variants of each of ``repeat`` rounds, in the order they run: ``balanced``
    reverses every second round (A B, B A, A B); ``alternate`` keeps one order (A B, A B).

    Raises:
        ValueError: ``repeat`` under 1, or an unknown ``order``.
    """
    if repeat < 1:
        raise ValueError(f"--repeat must be at least 1, not {repeat}")
    if order not in ORDERS:
        raise ValueError(f"--order must be one of {', '.join(ORDERS)}, not {order!r}")
    forward = list(variants)
    return [forward[::-1] if order == "balanced" and i % 2 else list(forward)
            for i in range(repeat)]


def compare(rows: Sequence[Mapping[str, Any]], figure: str, *, step: str = "daemons"
            ) -> list[dict[str, Any]]:
    """Per step and variant (in the order the variants first appear), the runs of
    ``figure``, their median, and the median's ratio to the step's first variant's.

    Rows without ``figure`` (a step some variant did not reach) are left out.
    """
    runs: dict[tuple[Any, str], list[float]] = {}
    for row in rows:
        if figure in row:
            runs.setdefault((row[step], row["variant"]), []).append(float(row[figure]))
    out: list[dict[str, Any]] = []
    first: dict[Any, float] = {}
    for (at, variant), values in runs.items():
        median = statistics.median(values)
        base = first.setdefault(at, median)
        out.append({step: at, "variant": variant, "runs": values, "median": median,
                    "ratio": median / base if base else float("nan")})
    out.sort(key=lambda c: c[step])  # stable: the variants keep their order within a step
    return out


def print_comparison(comparison: Sequence[Mapping[str, Any]], figure: str, unit: str,
                     *, step: str = "daemons") -> None:
    """One line per step and variant: the runs, the median and the ratio."""
    for c in comparison:
        runs = ", ".join(f"{v:,.0f}" for v in c["runs"])
        print(f"[{c['variant']}] {step}={c[step]}: {figure} {runs} {unit}; median "
              f"{c['median']:,.0f} {unit}, ratio {c['ratio']:.3f}")

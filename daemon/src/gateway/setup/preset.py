"""The EA's preset: its inputs, with the token, in the file the terminal loads them from.

MetaTrader keeps an Expert Advisor's saved inputs as a preset (``.set``) in the data folder's
``MQL5\\Presets`` (``MQL4\\Presets``); the inputs dialog's *Load* button lists them, so the
owner picks ``MTGateway.set`` instead of pasting the token. MetaTrader 5 writes presets in
UTF-16LE with a byte-order mark and CRLF line ends: comment lines starting with ``;``, then one
line per input, ``Name=value`` for a string, and ``Name=value||start||step||stop||N`` for a
number or a bool (the optimisation range the Strategy Tester reads; ``N``: not optimised).
MetaTrader 4 writes them in the ANSI code page, ``Name=value`` with ``Name,F``, ``Name,1``,
``Name,2`` and ``Name,3`` lines beside each number. The inputs and their defaults are read from
the EA's own source (its ``input`` lines), so the preset always lists this EA's inputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final, Literal

__all__ = ["PRESET_NAME", "EaInput", "ea_inputs", "preset_bytes", "preset_values"]

#: The preset's file name in ``Presets``.
PRESET_NAME: Final = "MTGateway.set"
_INPUT = re.compile(r"^\s*input\s+(string|int|bool|double|long|uint|ulong)\s+(\w+)\s*=\s*"
                    r"(\"[^\"]*\"|[^;]+?)\s*;", re.MULTILINE)


@dataclass(frozen=True)
class EaInput:
    """One ``input`` of the EA: its MQL type, name and default, as its source declares it."""

    kind: str
    name: str
    default: str


def ea_inputs(source: str) -> list[EaInput]:
    """The ``input`` declarations of an EA's source, in order (the inputs dialog's order)."""
    return [EaInput(kind, name, value.strip().strip('"'))
            for kind, name, value in _INPUT.findall(source)]


def _numeric(kind: str) -> bool:
    return kind in ("int", "long", "uint", "ulong", "double")


def preset_bytes(inputs: list[EaInput], values: dict[str, str], platform: Literal["MT5", "MT4"],
                 now: datetime) -> bytes:
    """The preset with every input, ``values`` in place of the defaults they name.

    Raises:
        ValueError: a value names no input, or holds a line break (it would end its line).
    """
    unknown = set(values) - {i.name for i in inputs}
    if unknown:
        raise ValueError(f"the EA has no input {', '.join(sorted(unknown))}")
    if any("\n" in v or "\r" in v for v in values.values()):
        raise ValueError("an input's value cannot hold a line break")
    lines = [f"; saved on {now:%Y.%m.%d %H:%M:%S} by mtgateway setup",
             "; this file contains input parameters for the MTGateway expert advisor: in the "
             "EA's Inputs tab, Load, then MTGateway.set",
             ";"]
    for item in inputs:
        value = values.get(item.name, item.default)
        if platform == "MT4":
            lines.append(f"{item.name}={value}")
            if _numeric(item.kind):
                lines += [f"{item.name},F=0", f"{item.name},1={value}", f"{item.name},2=1",
                          f"{item.name},3={value}"]
        elif item.kind == "string":
            lines.append(f"{item.name}={value}")
        elif item.kind == "bool":
            lines.append(f"{item.name}={value}||false||0||true||N")
        else:
            lines.append(f"{item.name}={value}||{value}||1||{value}||N")
    text = "\r\n".join(lines) + "\r\n"
    if platform == "MT4":
        return text.encode("cp1252")
    return b"\xff\xfe" + text.encode("utf-16-le")


def preset_values(raw: bytes) -> dict[str, str]:
    """The ``Name=value`` inputs of a preset's bytes (either platform's), ranges left off."""
    text = (raw.decode("utf-16") if raw.startswith((b"\xff\xfe", b"\xfe\xff"))
            else raw.decode("cp1252", errors="replace"))
    values: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith(";") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        if "," not in name:
            values[name.strip()] = value.split("||", 1)[0]
    return values


def read_preset(path: Path) -> dict[str, str]:
    """:func:`preset_values` of the file at ``path``; empty when it is not there."""
    try:
        return preset_values(path.read_bytes())
    except (OSError, UnicodeError):
        return {}

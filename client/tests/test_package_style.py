"""The package-style script is written as the ``MetaTrader5`` package's documentation writes
scripts, but for its import.

``examples/mt5_script.py`` (initialize, account_info, symbol_info_tick, a market buy with SL/TP
through order_send, positions_get, the close, history_deals_get with dates and a group, 50 000
bars of copy_rates_from_pos into numpy) names ``mtgateway`` only in its import line and uses
nothing the package does not export. It, its asyncio twin and the Python the demo prints run
against a real demo on exactly the README's quick-start install in
``daemon/tests/e2e/test_examples.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

from client.tests.metatrader5_package import CONSTANTS, FUNCTIONS, HELPERS

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "mt5_script.py"

#: What the MetaTrader5 package exports (its own list, ``metatrader5_package.py``). A
#: package-style script may use nothing else.
PACKAGE_NAMES = set(FUNCTIONS) | set(HELPERS) | set(CONSTANTS)


def test_script_uses_only_the_package_api_apart_from_its_import() -> None:
    """The sync script names mtgateway only in its import, and calls only package names."""
    code = SCRIPT.read_text(encoding="utf-8").split('"""', 2)[2]
    assert [line for line in code.splitlines() if "mtgateway" in line] == [
        "import mtgateway as mt5"]
    used = set(re.findall(r"\bmt5\.([A-Za-z_0-9]+)", code))
    assert used, "the script uses the API"
    foreign = used - PACKAGE_NAMES
    assert not foreign, f"not in the MetaTrader5 package: {sorted(foreign)}"

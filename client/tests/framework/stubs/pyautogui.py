"""Stands in for pyautogui, which needs an X display, for PythonMetaTrader5's import.

PythonMetaTrader5 imports it at module level and uses it once: when a close is answered 10027
(Algo Trading off in the terminal) it presses Ctrl+E in the terminal's window. The gateway's
terminal is another machine's, so nothing here may press a key: a flow that reaches it fails.
"""

from __future__ import annotations


def hotkey(*keys: str) -> None:
    raise RuntimeError(f"PythonMetaTrader5 pressed {'+'.join(keys)}: a close was answered "
                       "10027, which no flow of the tests expects")

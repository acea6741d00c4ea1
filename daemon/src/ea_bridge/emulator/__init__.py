"""The emulated terminal: an EA and a simulated market, speaking the real bridge protocol, with
``mt5model``'s broker engine behind it.

Import :class:`EmulatedTerminal` from ``ea_bridge.emulator.terminal``; the pure parts
(``market``, ``pricepath``, ``symbols``) import without asyncio.
"""

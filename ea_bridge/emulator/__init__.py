"""The emulated terminal: an EA and a simulated broker, speaking the real bridge protocol.

Import :class:`EmulatedTerminal` from ``ea_bridge.emulator.terminal``; the pure parts
(``market``, ``broker``, ``symbols``, ``types``) import without asyncio.
"""

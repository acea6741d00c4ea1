"""MetaTrader 5's domain, without I/O: the constants and enums of the ``MetaTrader5`` package
(``mt5``), and a broker engine that executes MT5 trade requests against an account (``broker``
with ``orders``, ``rules``, ``margin``, ``ledger`` and the records in ``types``).

Why a package of its own at the ground floor: the emulated terminal (``ea_bridge.emulator``) and
the daemon's paper trading (``gateway.trading.paper``) both run the same engine, and neither
should borrow it from the other -- a product feature must not depend on a test fixture. It
imports nothing of ours (an import-linter contract keeps it so) and does no I/O: prices come in
through a ``MarketView``, time through an injected clock.
"""

"""Margin, profit and currency conversion of the simulated broker, per MT5 calc mode.

MT5 computes a position's margin in the symbol's margin currency and its profit in the symbol's
profit currency, then converts both to the account (deposit) currency with the broker's own
currency pairs. This module follows the formulas of the MQL5 reference
(``ENUM_SYMBOL_CALC_MODE``):

* ``FOREX``: ``lots * contract_size / leverage * margin_rate`` in the margin currency;
* ``FOREX_NO_LEVERAGE``: ``lots * contract_size * margin_rate`` in the margin currency;
* ``CFD``: ``lots * contract_size * price * margin_rate`` (no leverage);
* ``CFDINDEX``: ``lots * contract_size * price * tick_value / tick_size * margin_rate``. MT5's
  tick value is a broker setting our ``SymbolSpec`` does not carry; we take ``tick_value /
  tick_size`` as the value of a one-unit price move of ONE contract unit, i.e. 1 in the profit
  currency, so the formula equals the CFD one. (Reading tick value as "per lot" would square the
  contract size; for the usual index contract size of 1 both readings agree.)
* ``CFDLEVERAGE``: ``lots * contract_size * price / leverage * margin_rate``;
* any other mode (futures, exchange stocks, ...): the CFD formula.

The price-based modes produce an amount in the profit currency (price times contract), so they
are converted from ``currency_profit``; FOREX modes from ``currency_margin``.

Profit, every mode: ``(close - open) * contract_size * lots`` for a buy (``open - close`` for a
sell) in the profit currency.

Conversion of an amount from currency ``C`` to the account currency ``A``:

1. ``C == A``: as is;
2. a symbol ``C``/``A`` (base ``C``, profit ``A``) exists: multiply by its rate;
3. a symbol ``A``/``C`` exists: divide by its rate;
4. otherwise through USD (``C`` -> USD -> ``A``) with rules 2-3 on each leg.

The rate is the *price the caller gives* when the conversion pair is the traded symbol itself
(that is what makes 1 lot EURUSD at 1.10000 cost exactly 1 100 USD and a USDJPY profit convert
at the closing price, as MT5 does), and otherwise the pair's current quote: bid when
multiplying, ask when dividing (the broker sells you the foreign currency at its worst side).
No pair at all is a catalogue problem, reported as :class:`ConversionError`; a pair without a
quote yet is :class:`NoQuoteError` (the trading code turns it into ``TRADE_RETCODE_PRICE_OFF``).
"""

from __future__ import annotations

from mt5model.types import (
    SYMBOL_CALC_MODE_CFDLEVERAGE,
    SYMBOL_CALC_MODE_FOREX,
    SYMBOL_CALC_MODE_FOREX_NO_LEVERAGE,
    EmulatorError,
    ErrorCode,
    MarketView,
    SymbolSpec,
)

__all__ = [
    "ConversionError",
    "MoneyCalculator",
    "NoQuoteError",
]


class ConversionError(EmulatorError):
    """No currency pair of the catalogue converts between two currencies."""

    def __init__(self, source: str, target: str) -> None:
        super().__init__(ErrorCode.UNSUPPORTED,
                         f"no symbol converts {source} to {target}")


class NoQuoteError(EmulatorError):
    """A symbol needed for a price or a conversion has no tick yet."""

    def __init__(self, symbol: str) -> None:
        super().__init__(ErrorCode.HISTORY_NOT_READY, f"no quotes for {symbol}")
        self.symbol = symbol


class MoneyCalculator:
    """MT5 margin and profit of a trade, in the account currency (unrounded)."""

    def __init__(self, market: MarketView, currency: str, leverage: int) -> None:
        self._market = market
        self.currency = currency
        self.leverage = leverage
        # (from, to) -> (symbol, multiply) for direct pairs, looked up once.
        self._pairs: dict[tuple[str, str], tuple[str, bool] | None] = {}

    def _pair(self, source: str, target: str) -> tuple[str, bool] | None:
        key = (source, target)
        if key not in self._pairs:
            found: tuple[str, bool] | None = None
            for spec in self._market.specs():
                if spec.currency_base == source and spec.currency_profit == target:
                    found = (spec.name, True)
                    break
                if found is None and spec.currency_base == target \
                        and spec.currency_profit == source:
                    found = (spec.name, False)
            self._pairs[key] = found
        return self._pairs[key]

    def _leg(self, source: str, target: str, time_msc: int, own: str, own_price: float) -> float:
        pair = self._pair(source, target)
        if pair is None:
            raise ConversionError(source, target)
        symbol, multiply = pair
        if symbol == own:
            rate = own_price
        else:
            tick = self._market.tick_at(symbol, time_msc)
            if tick is None:
                raise NoQuoteError(symbol)
            rate = tick.bid if multiply else tick.ask
        if rate <= 0:
            raise NoQuoteError(symbol)
        return rate if multiply else 1.0 / rate

    def rate(self, source: str, time_msc: int, own: str = "", own_price: float = 0.0) -> float:
        """Factor converting an amount in ``source`` into the account currency.

        ``own``/``own_price``: the traded symbol and the price to use if it is the pair.
        """
        target = self.currency
        if source == target:
            return 1.0
        if self._pair(source, target) is not None:
            return self._leg(source, target, time_msc, own, own_price)
        if source != "USD" and target != "USD" and self._pair(source, "USD") is not None \
                and self._pair("USD", target) is not None:
            return (self._leg(source, "USD", time_msc, own, own_price)
                    * self._leg("USD", target, time_msc, own, own_price))
        raise ConversionError(source, target)

    def margin(self, spec: SymbolSpec, volume: float, price: float, time_msc: int) -> float:
        """Margin of ``volume`` lots at ``price`` in the account currency (buy and sell alike)."""
        lots = volume * spec.trade_contract_size
        mode = spec.trade_calc_mode
        if mode == SYMBOL_CALC_MODE_FOREX:
            amount = lots / self.leverage * spec.margin_rate
            currency = spec.currency_margin
        elif mode == SYMBOL_CALC_MODE_FOREX_NO_LEVERAGE:
            amount = lots * spec.margin_rate
            currency = spec.currency_margin
        elif mode == SYMBOL_CALC_MODE_CFDLEVERAGE:
            amount = lots * price / self.leverage * spec.margin_rate
            currency = spec.currency_profit
        else:  # CFD, CFDINDEX (tick_value / tick_size = 1, see above) and anything else
            amount = lots * price * spec.margin_rate
            currency = spec.currency_profit
        return amount * self.rate(currency, time_msc, spec.name, price)

    def profit(self, spec: SymbolSpec, is_buy: bool, volume: float, price_open: float,
               price_close: float, time_msc: int) -> float:
        """Profit of ``volume`` lots from ``price_open`` to ``price_close`` in account currency."""
        diff = price_close - price_open if is_buy else price_open - price_close
        amount = diff * spec.trade_contract_size * volume
        if amount == 0.0:
            return 0.0
        return amount * self.rate(spec.currency_profit, time_msc, spec.name, price_close)

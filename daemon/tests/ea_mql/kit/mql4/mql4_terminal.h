// mql4_terminal.h: a fake MetaTrader 4 terminal behind the functions an MQL4 EA calls, driven by
// the same JSON fixture as the MQL5 kit (tests write it from the Python emulator's answers;
// eakit4.py adds what MT4 needs: each symbol's margin for one lot).
//
// What it models, each as the MQL4 reference (docs.mql4.com) describes it:
// - one list of tickets: market orders (OP_BUY/OP_SELL) and pending ones (OP_BUYLIMIT..
//   OP_SELLSTOP) in MODE_TRADES, closed and deleted ones and balance records (type 6) in
//   MODE_HISTORY. OrderSelect "copies order data into program environment" and the Order*()
//   functions read that copy; selecting by ticket ignores the pool ("To find out from what list
//   the order has been selected, its close time must be analyzed") (trading/orderselect);
// - OrderSend returns the ticket or -1 with the trade server's error (129 invalid price,
//   130 invalid stops, 131 invalid volume, 134 not enough money, 138 requote, ...), 4109 when
//   trading is not allowed, 4106 for an unknown symbol (trading/ordersend); it blocks for
//   `order_latency_ms`. "Calculated or unnormalized price cannot be applied. If ... it has not
//   been normalized according to the amount of digits after decimal point, the error 129
//   (ERR_INVALID_PRICE) will be generated ... In the case of erroneous or unnormalized stop
//   levels, the error 130 (ERR_INVALID_STOPS) will be generated" (trading/ordersend): a price,
//   stop loss or take profit that is not its own NormalizeDouble(x, digits) is refused so, by
//   OrderSend, OrderModify and OrderClose alike (0 means no stop), and so is one between two
//   of the symbol's ticks where its tick size is coarser than a point (0-digit index CFDs
//   moving in 5 points; fixtures make such a symbol: mt4kit.py coarse_symbol);
// - OrderClose of part of a ticket closes that part under the ticket and leaves the rest open
//   under a new ticket whose comment is "from #<old ticket>" (MT4's partial close);
// - OrderModify with nothing changed fails with error 1, ERR_NO_RESULT (trading/ordermodify);
// - OrderCloseBy closes a market ticket by an opposite one of the same symbol without a market
//   price: both close at the open price of `opposite` (the one spread it saves; MT5's close by
//   offsets at the open price of position_by the same way, mql5.com/en/book/automation/experts/
//   experts_closeby). Tickets of different lots are allowed: the smaller closes whole, the larger
//   closes that many lots and the rest stays open under a new ticket, as OrderClose's partial
//   close leaves it (MT4's partial close by: "the remaining volume will be opened as another
//   order with new order number");
// - MarketInfo by MODE_* (marketinfo), SymbolInfo* with MQL4's property set, MqlTick with
//   seconds only (time, bid, ask, last, volume: constants/structures/mqltick);
// - at a terminal's start the account number, the connection and the trade state arrive
//   separately: after the login (fixture `logged_in: false`, control `login`) the account is
//   readable at once, while the connection and the ticket list come `trade_state_ms` later
//   (default 0: together);
// - TimeCurrent is "the last known server time (time of the last quote receipt)"
//   (dateandtime/timecurrent); there is no TimeTradeServer in MQL4. Control `quote <symbol>
//   <in_ms>`: a quote of the symbol at its last prices reaches the terminal <in_ms> from now
//   on the program's clock, stamped with the server's time then (what a quote's time is),
//   whatever the program is doing meanwhile;
// - CopyRates in MQL4 minutes; a series not built yet returns -1 with error 4066
//   ERR_HISTORY_WILL_UPDATED and is built meanwhile (array/arraycopyrates); W1 and MN1 are not
//   built here;
// - a trade call blocks until the trade server answers (OrderSend, OrderClose, OrderModify,
//   OrderDelete and OrderCloseBy are synchronous in MQL4): `order_latency_ms` on the wall
//   clock, and the control `trade_delay <ms>` makes the next one take <ms> more on the
//   program's clock, not waited out (as `advance`, mql_runtime.h): the program sees that much
//   time gone by when the call returns, the quotes that came meanwhile included, as after a
//   trade server that answered late;
// - the next trade call can be made to fail (control `trade_error <code> [fill]`): with `fill`
//   the order is executed and the call still reports the error (a 128 trade timeout after the
//   server filled it), which no EA can tell from a rejection; `trade_error none [fill]` makes it
//   fail without an error number (GetLastError() stays 0: the reference promises a number, but
//   a failure without one must not read as success);
// - the control `book` prints the trade server's tickets, open and history, one line each
//   (`KIT: ticket {json}`), and how many trade calls (OrderSend, OrderClose, OrderModify,
//   OrderDelete, OrderCloseBy) the program made (`KIT: trade_calls <n>`).
#pragma once
#include <random>

struct MqlTick { datetime time; double bid = 0, ask = 0, last = 0; ulong volume = 0; };
struct MqlRates { datetime time; double open = 0, high = 0, low = 0, close = 0; long tick_volume = 0; int spread = 0; long real_volume = 0; };

// ---- property enums: MQL4's sets (docs.mql4.com/constants/environment_state), each entry with
// the MT5 package field the fixture has; an MQL5-only property does not compile ---------------
#define _E(name, field) name,
#define _N(name, field) case name: return field;
#define SYMBOL_INTEGER_PROPS(X) X(SYMBOL_SELECT, "select") X(SYMBOL_VISIBLE, "visible") X(SYMBOL_SESSION_DEALS, "session_deals") \
  X(SYMBOL_SESSION_BUY_ORDERS, "session_buy_orders") X(SYMBOL_SESSION_SELL_ORDERS, "session_sell_orders") X(SYMBOL_VOLUME, "volume") \
  X(SYMBOL_VOLUMEHIGH, "volumehigh") X(SYMBOL_VOLUMELOW, "volumelow") X(SYMBOL_TIME, "time") X(SYMBOL_DIGITS, "digits") \
  X(SYMBOL_SPREAD_FLOAT, "spread_float") X(SYMBOL_SPREAD, "spread") X(SYMBOL_TRADE_CALC_MODE, "trade_calc_mode") \
  X(SYMBOL_TRADE_MODE, "trade_mode") X(SYMBOL_START_TIME, "start_time") X(SYMBOL_EXPIRATION_TIME, "expiration_time") \
  X(SYMBOL_TRADE_STOPS_LEVEL, "trade_stops_level") X(SYMBOL_TRADE_FREEZE_LEVEL, "trade_freeze_level") \
  X(SYMBOL_TRADE_EXEMODE, "trade_exemode") X(SYMBOL_SWAP_MODE, "swap_mode") X(SYMBOL_SWAP_ROLLOVER3DAYS, "swap_rollover3days") \
  X(SYMBOL_EXPIRATION_MODE, "expiration_mode") X(SYMBOL_FILLING_MODE, "filling_mode") X(SYMBOL_ORDER_MODE, "order_mode")
#define SYMBOL_DOUBLE_PROPS(X) X(SYMBOL_BID, "bid") X(SYMBOL_BIDHIGH, "bidhigh") X(SYMBOL_BIDLOW, "bidlow") X(SYMBOL_ASK, "ask") \
  X(SYMBOL_ASKHIGH, "askhigh") X(SYMBOL_ASKLOW, "asklow") X(SYMBOL_LAST, "last") X(SYMBOL_LASTHIGH, "lasthigh") \
  X(SYMBOL_LASTLOW, "lastlow") X(SYMBOL_POINT, "point") X(SYMBOL_TRADE_TICK_VALUE, "trade_tick_value") \
  X(SYMBOL_TRADE_TICK_VALUE_PROFIT, "trade_tick_value_profit") X(SYMBOL_TRADE_TICK_VALUE_LOSS, "trade_tick_value_loss") \
  X(SYMBOL_TRADE_TICK_SIZE, "trade_tick_size") X(SYMBOL_TRADE_CONTRACT_SIZE, "trade_contract_size") \
  X(SYMBOL_VOLUME_MIN, "volume_min") X(SYMBOL_VOLUME_MAX, "volume_max") X(SYMBOL_VOLUME_STEP, "volume_step") \
  X(SYMBOL_VOLUME_LIMIT, "volume_limit") X(SYMBOL_SWAP_LONG, "swap_long") X(SYMBOL_SWAP_SHORT, "swap_short") \
  X(SYMBOL_MARGIN_INITIAL, "margin_initial") X(SYMBOL_MARGIN_MAINTENANCE, "margin_maintenance") \
  X(SYMBOL_SESSION_VOLUME, "session_volume") X(SYMBOL_SESSION_TURNOVER, "session_turnover") \
  X(SYMBOL_SESSION_INTEREST, "session_interest") X(SYMBOL_SESSION_BUY_ORDERS_VOLUME, "session_buy_orders_volume") \
  X(SYMBOL_SESSION_SELL_ORDERS_VOLUME, "session_sell_orders_volume") X(SYMBOL_SESSION_OPEN, "session_open") \
  X(SYMBOL_SESSION_CLOSE, "session_close") X(SYMBOL_SESSION_AW, "session_aw") \
  X(SYMBOL_SESSION_PRICE_SETTLEMENT, "session_price_settlement") X(SYMBOL_SESSION_PRICE_LIMIT_MIN, "session_price_limit_min") \
  X(SYMBOL_SESSION_PRICE_LIMIT_MAX, "session_price_limit_max")
#define SYMBOL_STRING_PROPS(X) X(SYMBOL_CURRENCY_BASE, "currency_base") X(SYMBOL_CURRENCY_PROFIT, "currency_profit") \
  X(SYMBOL_CURRENCY_MARGIN, "currency_margin") X(SYMBOL_DESCRIPTION, "description") X(SYMBOL_PATH, "path")
#define ACCOUNT_INTEGER_PROPS(X) X(ACCOUNT_LOGIN, "login") X(ACCOUNT_TRADE_MODE, "trade_mode") X(ACCOUNT_LEVERAGE, "leverage") \
  X(ACCOUNT_LIMIT_ORDERS, "limit_orders") X(ACCOUNT_MARGIN_SO_MODE, "margin_so_mode") X(ACCOUNT_TRADE_ALLOWED, "trade_allowed") \
  X(ACCOUNT_TRADE_EXPERT, "trade_expert")
#define ACCOUNT_DOUBLE_PROPS(X) X(ACCOUNT_BALANCE, "balance") X(ACCOUNT_CREDIT, "credit") X(ACCOUNT_PROFIT, "profit") \
  X(ACCOUNT_EQUITY, "equity") X(ACCOUNT_MARGIN, "margin") X(ACCOUNT_MARGIN_FREE, "margin_free") X(ACCOUNT_MARGIN_LEVEL, "margin_level") \
  X(ACCOUNT_MARGIN_SO_CALL, "margin_so_call") X(ACCOUNT_MARGIN_SO_SO, "margin_so_so") X(ACCOUNT_MARGIN_INITIAL, "margin_initial") \
  X(ACCOUNT_MARGIN_MAINTENANCE, "margin_maintenance")
#define ACCOUNT_STRING_PROPS(X) X(ACCOUNT_NAME, "name") X(ACCOUNT_SERVER, "server") X(ACCOUNT_CURRENCY, "currency") X(ACCOUNT_COMPANY, "company")
#define TERMINAL_INTEGER_PROPS(X) X(TERMINAL_BUILD, "build") X(TERMINAL_COMMUNITY_ACCOUNT, "community_account") \
  X(TERMINAL_COMMUNITY_CONNECTION, "community_connection") X(TERMINAL_CONNECTED, "connected") X(TERMINAL_DLLS_ALLOWED, "dlls_allowed") \
  X(TERMINAL_TRADE_ALLOWED, "trade_allowed") X(TERMINAL_EMAIL_ENABLED, "email_enabled") X(TERMINAL_FTP_ENABLED, "ftp_enabled") \
  X(TERMINAL_NOTIFICATIONS_ENABLED, "notifications_enabled") X(TERMINAL_MAXBARS, "maxbars") X(TERMINAL_MQID, "mqid") \
  X(TERMINAL_CODEPAGE, "codepage")
#define TERMINAL_DOUBLE_PROPS(X) X(TERMINAL_COMMUNITY_BALANCE, "community_balance")
#define TERMINAL_STRING_PROPS(X) X(TERMINAL_LANGUAGE, "language") X(TERMINAL_COMPANY, "company") X(TERMINAL_NAME, "name") \
  X(TERMINAL_PATH, "path") X(TERMINAL_DATA_PATH, "data_path") X(TERMINAL_COMMONDATA_PATH, "commondata_path")
#define _ENUM(T, LIST) enum T { LIST(_E) }; inline const char* _field(T p) { switch (p) { LIST(_N) } return "?"; }
_ENUM(ENUM_SYMBOL_INFO_INTEGER, SYMBOL_INTEGER_PROPS) _ENUM(ENUM_SYMBOL_INFO_DOUBLE, SYMBOL_DOUBLE_PROPS)
_ENUM(ENUM_SYMBOL_INFO_STRING, SYMBOL_STRING_PROPS) _ENUM(ENUM_ACCOUNT_INFO_INTEGER, ACCOUNT_INTEGER_PROPS)
_ENUM(ENUM_ACCOUNT_INFO_DOUBLE, ACCOUNT_DOUBLE_PROPS) _ENUM(ENUM_ACCOUNT_INFO_STRING, ACCOUNT_STRING_PROPS)
_ENUM(ENUM_TERMINAL_INFO_INTEGER, TERMINAL_INTEGER_PROPS) _ENUM(ENUM_TERMINAL_INFO_DOUBLE, TERMINAL_DOUBLE_PROPS)
_ENUM(ENUM_TERMINAL_INFO_STRING, TERMINAL_STRING_PROPS)

// ---- the terminal's state -------------------------------------------------------------------------
struct FakeRecord { std::map<std::string, double> n; std::map<std::string, std::string> s; };
struct Ticket4 {
  int ticket = 0; int type = 0; double lots = 0; std::string symbol; double open_price = 0, sl = 0, tp = 0, close_price = 0;
  long open_time = 0, close_time = 0, expiration = 0; int magic = 0; std::string comment;
  double commission = 0, swap = 0, profit = 0;
};
struct FakeSymbol {
  std::string name; FakeRecord p; std::vector<MqlTick> ticks; bool selected = true;
  std::vector<MqlTick> live; std::vector<int64_t> live_at_ns; size_t live_next = 0;
  std::vector<MqlRates> m1; std::map<int, int64_t> series_ready_ns; int64_t series_build_ns = 30000000;
  double margin_1lot = 0;
};
struct FakeTerminal {
  FJ fixture; FakeRecord account, terminal; std::vector<FakeSymbol> symbols;
  std::vector<Ticket4> open, history; Ticket4 selected; bool has_selected = false;
  long long start_ms = 0; int next_ticket = 5000;
  bool trade_allowed = true, connected = true, logged_in = true, tester = false, dlls_allowed = true, history_synchronized = true;
  int timer_failures = 0, order_latency_ms = 0;
  int next_error = 0; bool next_error_fills = false;  // next_error -1: fail without an error number
  int trade_calls = 0;
  long last_quote_s = 0;
  int64_t trade_state_ns = 0, trade_state_at_ns = 0;  // the ticket list arrives this long after the login
  int64_t trade_delay_ns = 0;  // the next trade call takes this much more of the program's clock (control `trade_delay`)
};
inline FakeTerminal _term;
inline bool _trade_state() { return _term.logged_in && _mono_ns() >= _term.trade_state_at_ns; }
inline bool _dlls_allowed() { return _term.dlls_allowed; }

inline FakeRecord _record(const FJ& o) {
  FakeRecord r; for (auto& kv : o.o) { if (kv.second.k == FJ::STR) r.s[kv.first] = kv.second.s; else r.n[kv.first] = kv.second.num(); } return r;
}
inline MqlTick _tick_row(const FJ& row) {  // [time_msc, bid, ask, last, volume, flags, volume_real]: MT4 keeps seconds
  MqlTick t; t.time = datetime((long)row.a[0].n / 1000); t.bid = row.a[1].n; t.ask = row.a[2].n; t.last = row.a[3].n; t.volume = (ulong)row.a[4].n; return t;
}
inline long long _now_ms() { return _term.start_ms + (_mono_ns() - _start_ns) / 1000000; }
inline void FakeTerminalLoad(const char* path) {
  _term.fixture = FixtureRead(path); const FJ& fx = _term.fixture;
  _term.account = _record(*fx.get("account")); _term.terminal = _record(*fx.get("terminal"));
  _term.start_ms = (long long)fx.get("now_ms")->n;
  _term.trade_allowed = fx.bool_or("trade_allowed", true);
  _term.logged_in = fx.bool_or("logged_in", true); _term.connected = _term.logged_in;
  _term.trade_state_ns = (int64_t)(fx.num_or("trade_state_ms", 0) * 1e6);
  _term.trade_state_at_ns = _start_ns + _term.trade_state_ns;
  _term.tester = fx.bool_or("tester", false);
  _term.dlls_allowed = fx.bool_or("dlls_allowed", true);
  _term.history_synchronized = fx.bool_or("history_synchronized", true);
  _term.timer_failures = (int)fx.num_or("timer_failures", 0);
  _term.order_latency_ms = (int)fx.num_or("order_latency_ms", 0);
  if (auto c = fx.get("chart_symbol")) _symbol_now = _S(c->s);
  for (auto& kv : fx.get("symbols")->o) {
    const FJ& j = kv.second; FakeSymbol s; s.name = kv.first; s.p = _record(*j.get("info"));
    s.selected = s.p.n["select"] != 0; s.margin_1lot = j.num_or("margin_1lot", 0);
    for (auto& r : j.get("ticks")->a) s.ticks.push_back(_tick_row(r));
    for (auto& r : j.get("live")->a) s.live.push_back(_tick_row(r));
    double at = j.num_or("live_start_ms", 250), every = j.num_or("live_every_ms", 20);
    for (size_t k = 0; k < s.live.size(); ++k) { at += k == 0 ? 0 : every; s.live_at_ns.push_back(_start_ns + (int64_t)(at * 1e6)); }
    for (auto& r : j.get("m1")->a) { MqlRates b; b.time = datetime((long)r.a[0].n); b.open = r.a[1].n; b.high = r.a[2].n; b.low = r.a[3].n;
      b.close = r.a[4].n; b.tick_volume = (long)r.a[5].n; b.spread = (int)r.a[6].n; b.real_volume = (long)r.a[7].n; s.m1.push_back(b); }
    s.series_build_ns = _term.history_synchronized ? (int64_t)(j.num_or("series_build_ms", fx.num_or("series_build_ms", 30)) * 1e6) : (int64_t)1e15;
    if (!s.ticks.empty()) _term.last_quote_s = std::max(_term.last_quote_s, (long)s.ticks.back().time);
    _term.symbols.push_back(s);
  }
  // MT5's positions and orders become MT4 tickets; MT5's balance deals, balance records
  for (auto& r : fx.get("positions")->a) { FakeRecord p = _record(r); Ticket4 t; t.ticket = (int)p.n["ticket"]; t.type = (int)p.n["type"];
    t.lots = p.n["volume"]; t.symbol = p.s["symbol"]; t.open_price = p.n["price_open"]; t.sl = p.n["sl"]; t.tp = p.n["tp"];
    t.open_time = (long)p.n["time"]; t.magic = (int)p.n["magic"]; t.comment = p.s["comment"]; _term.open.push_back(t); }
  for (auto& r : fx.get("orders")->a) { FakeRecord o = _record(r); Ticket4 t; t.ticket = (int)o.n["ticket"]; t.type = (int)o.n["type"];
    t.lots = o.n["volume_current"]; t.symbol = o.s["symbol"]; t.open_price = o.n["price_open"]; t.sl = o.n["sl"]; t.tp = o.n["tp"];
    t.open_time = (long)o.n["time_setup"]; t.expiration = (long)o.n["time_expiration"]; t.magic = (int)o.n["magic"]; t.comment = o.s["comment"];
    _term.open.push_back(t); }
  for (auto& r : fx.get("deals")->a) { FakeRecord d = _record(r); if (d.n["type"] != 2 && d.n["type"] != 3) continue;
    Ticket4 t; t.ticket = (int)d.n["ticket"]; t.type = d.n["type"] == 2 ? 6 : 7; t.open_time = t.close_time = (long)d.n["time"];
    t.profit = d.n["profit"]; t.comment = d.s["comment"]; _term.history.push_back(t); }
  for (auto& t : _term.open) _term.next_ticket = std::max(_term.next_ticket, t.ticket + 1);
  for (auto& t : _term.history) _term.next_ticket = std::max(_term.next_ticket, t.ticket + 1);
}
inline FakeSymbol* _sym8(const std::string& n) { for (auto& s : _term.symbols) if (s.name == n) return &s; return nullptr; }
inline FakeSymbol* _sym(const string& name) { return _sym8(name._utf8()); }

// ---- the market moves: ticks arrive at their times ----------------------------------------------
inline std::function<void(const std::string&)> _on_tick_arrived;
inline void _market_advance() {
  int64_t now = _mono_ns();
  for (auto& s : _term.symbols) {
    bool arrived = false;
    while (s.live_next < s.live.size() && s.live_at_ns[s.live_next] <= now) {
      MqlTick t = s.live[s.live_next]; ++s.live_next; s.ticks.push_back(t); arrived = true;
      if (s.selected) _term.last_quote_s = std::max(_term.last_quote_s, (long)t.time);
    }
    if (arrived && _on_tick_arrived) _on_tick_arrived(s.name);
  }
}
inline int64_t _market_next_ns() {
  int64_t next = INT64_MAX;
  for (auto& s : _term.symbols) if (s.live_next < s.live.size()) next = std::min(next, s.live_at_ns[s.live_next]);
  return next;
}
inline const MqlTick* _last_tick(FakeSymbol& s) { _market_advance(); return s.ticks.empty() ? nullptr : &s.ticks.back(); }

// ---- account, terminal, program --------------------------------------------------------------------
inline double _ticket_profit(const Ticket4& t) {
  FakeSymbol* s = _sym8(t.symbol); if (!s || t.type > OP_SELL) return 0;
  const MqlTick* q = _last_tick(*s); if (!q) return 0;
  double close = t.type == OP_BUY ? q->bid : q->ask, size = s->p.n["trade_tick_size"], value = s->p.n["trade_tick_value"];
  if (size <= 0) return 0;
  double move = t.type == OP_BUY ? close - t.open_price : t.open_price - close;
  return std::round(move / size * value * t.lots * 100) / 100;
}
inline double _open_profit() { double p = 0; for (auto& t : _term.open) p += _ticket_profit(t) + t.swap + t.commission; return p; }
inline double _open_margin() { double m = 0; for (auto& t : _term.open) if (t.type <= OP_SELL) { FakeSymbol* s = _sym8(t.symbol); if (s) m += s->margin_1lot * t.lots; } return m; }
inline long AccountInfoInteger(ENUM_ACCOUNT_INFO_INTEGER p) { if (!_term.logged_in) return 0; return (long)_term.account.n[_field(p)]; }
inline double AccountInfoDouble(ENUM_ACCOUNT_INFO_DOUBLE p) {
  if (!_term.logged_in) return 0;
  double bal = _term.account.n["balance"], profit = _open_profit(), margin = _open_margin();
  switch (p) {
    case ACCOUNT_PROFIT: return profit;
    case ACCOUNT_EQUITY: return bal + profit;
    case ACCOUNT_MARGIN: return margin;
    case ACCOUNT_MARGIN_FREE: return bal + profit - margin;
    case ACCOUNT_MARGIN_LEVEL: return margin > 0 ? (bal + profit) / margin * 100 : 0;
    default: return _term.account.n[_field(p)];
  }
}
inline string AccountInfoString(ENUM_ACCOUNT_INFO_STRING p) { if (!_term.logged_in) return string(); return _S(_term.account.s[_field(p)]); }
// "Returns free margin that remains after the specified order has been opened at the current
// price"; not enough money sets 134 (account/accountfreemargincheck)
inline double AccountFreeMarginCheck(const string& symbol, int cmd, double volume) {
  FakeSymbol* s = _sym(symbol); if (!s) { _last_error = ERR_UNKNOWN_SYMBOL; return 0; }
  (void)cmd; double after = AccountInfoDouble(ACCOUNT_MARGIN_FREE) - s->margin_1lot * volume;
  if (after < 0) _last_error = ERR_NOT_ENOUGH_MONEY;
  return after;
}
inline double AccountFreeMargin() { return AccountInfoDouble(ACCOUNT_MARGIN_FREE); }
inline int TerminalInfoInteger(ENUM_TERMINAL_INFO_INTEGER p) {
  if (p == TERMINAL_TRADE_ALLOWED) return _term.trade_allowed;
  if (p == TERMINAL_CONNECTED) return _term.connected && _trade_state();
  if (p == TERMINAL_DLLS_ALLOWED) return _term.dlls_allowed;
  if (p == TERMINAL_BUILD) return 1420;  // MT4's build line (4.00 build 14xx)
  return (int)_term.terminal.n[_field(p)];
}
inline double TerminalInfoDouble(ENUM_TERMINAL_INFO_DOUBLE p) { return _term.terminal.n[_field(p)]; }
inline string TerminalInfoString(ENUM_TERMINAL_INFO_STRING p) { return _S(_term.terminal.s[_field(p)]); }
inline int MQLInfoInteger(ENUM_MQL_INFO_INTEGER p) {
  if (p == MQL_TRADE_ALLOWED) return 1;
  if (p == MQL_DLLS_ALLOWED) return _term.dlls_allowed;
  if (p == MQL_TESTER) return _term.tester;
  if (p == MQL_PROGRAM_TYPE) return PROGRAM_EXPERT;
  return 0;
}
inline string MQLInfoString(ENUM_MQL_INFO_STRING) { return "MTGateway"_s; }
inline bool IsTesting() { return _term.tester; }
inline bool IsTradeAllowed() { return _term.trade_allowed; }
inline bool IsConnected() { return _term.connected && _trade_state(); }
// "the last known server time (time of the last quote receipt)"
inline datetime TimeCurrent() { _market_advance(); return datetime(_term.last_quote_s); }
inline datetime TimeGMT() { return datetime((long)(_now_ms() / 1000) - (long)_term.fixture.get("tz_offset_s")->n); }
inline datetime TimeLocal() { return datetime((long)(_now_ms() / 1000)); }
// Day() ... Year(): "of the last known server time" (docs.mql4.com/dateandtime/day, ...).
inline int Day() { return TimeDay(TimeCurrent()); }
inline int DayOfWeek() { return TimeDayOfWeek(TimeCurrent()); }
inline int DayOfYear() { return TimeDayOfYear(TimeCurrent()); }
inline int Hour() { return TimeHour(TimeCurrent()); }
inline int Minute() { return TimeMinute(TimeCurrent()); }
inline int Month() { return TimeMonth(TimeCurrent()); }
inline int Seconds() { return TimeSeconds(TimeCurrent()); }
inline int Year() { return TimeYear(TimeCurrent()); }
inline datetime CurTime() { return TimeCurrent(); }
inline datetime LocalTime() { return TimeLocal(); }
inline int _timer_ms = 0;
inline int64_t _timer_due_ns = 0;
inline bool EventSetMillisecondTimer(int ms) {
  if (_term.timer_failures > 0) { --_term.timer_failures; _last_error = _ERR_INTERNAL; return false; }
  if (ms <= 0) { _last_error = _ERR_PARAMETER; return false; }
  _timer_ms = ms; _timer_due_ns = _mono_ns() + (int64_t)ms * 1000000; return true;
}
inline bool EventSetTimer(int seconds) { return EventSetMillisecondTimer(seconds * 1000); }
inline void EventKillTimer() { _timer_ms = 0; }
inline bool RefreshRates() { _market_advance(); return true; }

// ---- symbols ----------------------------------------------------------------------------------------
inline int SymbolsTotal(bool selected) { int n = 0; for (auto& s : _term.symbols) if (!selected || s.selected) ++n; return n; }
inline string SymbolName(int pos, bool selected) {
  int n = 0; for (auto& s : _term.symbols) if (!selected || s.selected) { if (n == pos) return _S(s.name); ++n; }
  _last_error = ERR_UNKNOWN_SYMBOL; return string();
}
inline bool SymbolSelect(const string& name, bool select) {
  FakeSymbol* s = _sym(name); if (!s) { _last_error = ERR_UNKNOWN_SYMBOL; return false; }
  s->selected = select; s->p.n["select"] = select; s->p.n["visible"] = select; return true;
}
inline bool SymbolInfoTick(const string& name, MqlTick& t) {
  FakeSymbol* s = _sym(name); if (!s) { _last_error = ERR_UNKNOWN_SYMBOL; return false; }
  const MqlTick* last = _last_tick(*s); if (!last) return false; t = *last; return true;
}
inline long SymbolInfoInteger(const string& name, ENUM_SYMBOL_INFO_INTEGER p) {
  FakeSymbol* s = _sym(name); if (!s) { _last_error = ERR_UNKNOWN_SYMBOL; return 0; }
  if (p == SYMBOL_TIME) { const MqlTick* t = _last_tick(*s); if (t) return (long)t->time; }
  return (long)s->p.n[_field(p)];
}
inline double SymbolInfoDouble(const string& name, ENUM_SYMBOL_INFO_DOUBLE p) {
  FakeSymbol* s = _sym(name); if (!s) { _last_error = ERR_UNKNOWN_SYMBOL; return 0; }
  if (p == SYMBOL_BID || p == SYMBOL_ASK) { const MqlTick* t = _last_tick(*s); if (t) return p == SYMBOL_BID ? t->bid : t->ask; }
  return s->p.n[_field(p)];
}
inline string SymbolInfoString(const string& name, ENUM_SYMBOL_INFO_STRING p) {
  FakeSymbol* s = _sym(name); if (!s) { _last_error = ERR_UNKNOWN_SYMBOL; return string(); } return _S(s->p.s[_field(p)]);
}
inline double MarketInfo(const string& name, int mode) {
  FakeSymbol* s = _sym(name); if (!s) { _last_error = ERR_UNKNOWN_SYMBOL; return 0; }
  const MqlTick* t = _last_tick(*s); auto& n = s->p.n;
  switch (mode) {
    case MODE_BID: return t ? t->bid : 0;
    case MODE_ASK: return t ? t->ask : 0;
    case MODE_TIME: return t ? (double)(long)t->time : 0;
    case MODE_POINT: return n["point"];
    case MODE_DIGITS: return n["digits"];
    case MODE_SPREAD: return n["spread"];
    case MODE_STOPLEVEL: return n["trade_stops_level"];
    case MODE_FREEZELEVEL: return n["trade_freeze_level"];
    case MODE_LOTSIZE: return n["trade_contract_size"];
    case MODE_TICKVALUE: return n["trade_tick_value"];
    case MODE_TICKSIZE: return n["trade_tick_size"];
    case MODE_SWAPLONG: return n["swap_long"];
    case MODE_SWAPSHORT: return n["swap_short"];
    case MODE_MINLOT: return n["volume_min"];
    case MODE_MAXLOT: return n["volume_max"];
    case MODE_LOTSTEP: return n["volume_step"];
    case MODE_TRADEALLOWED: return n["trade_mode"] != 0;
    case MODE_MARGININIT: return n["margin_initial"];
    case MODE_MARGINMAINTENANCE: return n["margin_maintenance"];
    case MODE_MARGINHEDGED: return n["margin_hedged"];
    case MODE_MARGINREQUIRED: return s->margin_1lot;
    case MODE_LOW: return n["bidlow"];
    case MODE_HIGH: return n["bidhigh"];
  }
  _last_error = ERR_INVALID_FUNCTION_PARAMVALUE; return 0;
}

// ---- bars -------------------------------------------------------------------------------------------
inline int PeriodSeconds(ENUM_TIMEFRAMES tf) { int v = (int)tf; if (v == 0) v = (int)_period_now; return v * 60; }
inline std::vector<MqlRates> _bars(const FakeSymbol& s, ENUM_TIMEFRAMES tf) {
  long sec = PeriodSeconds(tf); std::vector<MqlRates> out; if (sec == 0 || tf == PERIOD_W1 || tf == PERIOD_MN1) return out;
  for (auto& b : s.m1) {
    datetime open = datetime((long)b.time - (long)b.time % sec);
    if (!out.empty() && (long)out.back().time == (long)open) { auto& o = out.back(); o.high = std::max(o.high, b.high); o.low = std::min(o.low, b.low); o.close = b.close; o.tick_volume += b.tick_volume; o.real_volume += b.real_volume; }
    else { MqlRates x = b; x.time = open; out.push_back(x); }
  }
  return out;
}
// A series is built on first request; until then a copy returns -1 with 4066.
inline FakeSymbol* _series_for(const string& name, ENUM_TIMEFRAMES& tf) {
  FakeSymbol* s = _sym(name); if (!s) { _last_error = ERR_UNKNOWN_SYMBOL; return nullptr; }
  if (tf == PERIOD_CURRENT) tf = _period_now;
  int v = (int)tf;
  if (v != 1 && v != 5 && v != 15 && v != 30 && v != 60 && v != 240 && v != 1440 && v != 10080 && v != 43200) { _last_error = ERR_INVALID_FUNCTION_PARAMVALUE; return nullptr; }
  auto it = s->series_ready_ns.find(v);
  if (it == s->series_ready_ns.end()) { s->series_ready_ns[v] = _mono_ns() + s->series_build_ns; _last_error = ERR_HISTORY_WILL_UPDATED; return nullptr; }
  if (_mono_ns() < it->second) { _last_error = ERR_HISTORY_WILL_UPDATED; return nullptr; }
  return s;
}
inline int _rates_out(const std::vector<MqlRates>& v, size_t from, size_t to, MqlArray<MqlRates>& out) { out._v.assign(v.begin() + (long)from, v.begin() + (long)to); return (int)out._v.size(); }
inline int CopyRates(const string& name, ENUM_TIMEFRAMES tf, datetime start, int count, MqlArray<MqlRates>& out) {
  FakeSymbol* s = _series_for(name, tf); if (!s) return -1; auto v = _bars(*s, tf);
  size_t end = 0; while (end < v.size() && (long)v[end].time <= (long)start) ++end;
  size_t from = end > (size_t)count ? end - (size_t)count : 0; return _rates_out(v, from, end, out);
}
inline int CopyRates(const string& name, ENUM_TIMEFRAMES tf, int start_pos, int count, MqlArray<MqlRates>& out) {
  FakeSymbol* s = _series_for(name, tf); if (!s) return -1; auto v = _bars(*s, tf);
  if ((size_t)start_pos >= v.size()) { out._v.clear(); return 0; }
  size_t end = v.size() - (size_t)start_pos; size_t from = end > (size_t)count ? end - (size_t)count : 0; return _rates_out(v, from, end, out);
}
inline int CopyRates(const string& name, ENUM_TIMEFRAMES tf, datetime start, datetime stop, MqlArray<MqlRates>& out) {
  FakeSymbol* s = _series_for(name, tf); if (!s) return -1; auto v = _bars(*s, tf); out._v.clear();
  for (auto& b : v) if ((long)b.time >= (long)start && (long)b.time <= (long)stop) out._v.push_back(b);
  return (int)out._v.size();
}

// ---- the trade pool ---------------------------------------------------------------------------------
inline int OrdersTotal() { return _trade_state() ? (int)_term.open.size() : 0; }
inline int OrdersHistoryTotal() { return _trade_state() ? (int)_term.history.size() : 0; }
inline Ticket4 _with_prices(Ticket4 t) {  // an open ticket's close price and profit as of now
  if (t.close_time == 0 && t.type <= OP_SELL) { FakeSymbol* s = _sym8(t.symbol); const MqlTick* q = s ? _last_tick(*s) : nullptr;
    if (q) { t.close_price = t.type == OP_BUY ? q->bid : q->ask; } t.profit = _ticket_profit(t); }
  else if (t.close_time == 0) { FakeSymbol* s = _sym8(t.symbol); const MqlTick* q = s ? _last_tick(*s) : nullptr;
    if (q) t.close_price = (t.type % 2 == 0) ? q->ask : q->bid; }
  return t;
}
[[nodiscard]] inline bool OrderSelect(int index, int select, int pool = MODE_TRADES) {
  if (!_trade_state()) { _last_error = ERR_INVALID_TICKET; return false; }
  if (select == SELECT_BY_TICKET) {  // "The pool parameter is ignored if the order is selected by the ticket number"
    for (auto& t : _term.open) if (t.ticket == index) { _term.selected = _with_prices(t); _term.has_selected = true; return true; }
    for (auto& t : _term.history) if (t.ticket == index) { _term.selected = t; _term.has_selected = true; return true; }
    _last_error = ERR_INVALID_TICKET; return false;
  }
  auto& v = pool == MODE_HISTORY ? _term.history : _term.open;
  if (index < 0 || index >= (int)v.size()) { _last_error = ERR_INVALID_TICKET; return false; }
  _term.selected = pool == MODE_HISTORY ? v[(size_t)index] : _with_prices(v[(size_t)index]); _term.has_selected = true; return true;
}
inline const Ticket4& _sel() { if (!_term.has_selected) _last_error = ERR_NO_ORDER_SELECTED; return _term.selected; }
inline int OrderTicket() { return _sel().ticket; }
inline int OrderType() { return _sel().type; }
inline double OrderLots() { return _sel().lots; }
inline double OrderOpenPrice() { return _sel().open_price; }
inline datetime OrderOpenTime() { return datetime(_sel().open_time); }
inline double OrderClosePrice() { return _sel().close_price; }
inline datetime OrderCloseTime() { return datetime(_sel().close_time); }
inline datetime OrderExpiration() { return datetime(_sel().expiration); }
inline double OrderStopLoss() { return _sel().sl; }
inline double OrderTakeProfit() { return _sel().tp; }
inline string OrderSymbol() { return _S(_sel().symbol); }
inline string OrderComment() { return _S(_sel().comment); }
inline int OrderMagicNumber() { return _sel().magic; }
inline double OrderProfit() { return _sel().profit; }
inline double OrderSwap() { return _sel().swap; }
inline double OrderCommission() { return _sel().commission; }

// The trade server's wait, and a failure made to order by the control `trade_error`.
// Returns the error the call must report (0: none); `fills` says whether it executes anyway.
inline int _trade_preamble(bool& fills) {
  if (_term.order_latency_ms > 0) _sleep_until_ns(_mono_ns() + (int64_t)_term.order_latency_ms * 1000000);
  if (_term.trade_delay_ns > 0) { _slept_ns += _term.trade_delay_ns; _term.trade_delay_ns = 0; }  // see `trade_delay`
  fills = true;
  if (!_term.trade_allowed) { fills = false; return ERR_TRADE_NOT_ALLOWED; }
  if (!_term.connected || !_trade_state()) { fills = false; return ERR_NO_CONNECTION; }
  if (_term.next_error) { int e = _term.next_error; fills = _term.next_error_fills; _term.next_error = 0; return e; }
  return 0;
}
// A failed trade call's error number; -1 (control `trade_error none`) leaves none.
inline void _trade_failed(int err) { if (err > 0) _last_error = err; }
// A price as the trade server takes it: rounded to the symbol's digits, and a whole number of
// its ticks where the tick size (SYMBOL_TRADE_TICK_SIZE, "minimal price change") is coarser
// than a point, as index CFDs quoted in 0.25, 0.5 or 5 points are (0: no stop).
inline bool _normalized(const FakeSymbol& s, double x) {
  if (x == 0) return true;
  int digits = (int)s.p.n.at("digits"); if (x != NormalizeDouble(x, digits)) return false;
  double tick = s.p.n.at("trade_tick_size"), pt = s.p.n.at("point");
  return !(tick > pt * 1.000001) || std::fabs(std::round(x / tick) * tick - x) <= tick * 1e-6;
}
inline int _price_error(const FakeSymbol& s, double price, double sl, double tp) {
  if (!_normalized(s, price)) return ERR_INVALID_PRICE;
  if (!_normalized(s, sl) || !_normalized(s, tp)) return ERR_INVALID_STOPS;
  return 0;
}
inline int _volume_error(FakeSymbol& s, double lots) {
  double mn = s.p.n["volume_min"], mx = s.p.n["volume_max"], st = s.p.n["volume_step"];
  if (lots < mn - 1e-9 || lots > mx + 1e-9) return ERR_INVALID_TRADE_VOLUME;
  if (st > 0 && std::fabs(std::round(lots / st) * st - lots) > 1e-8) return ERR_INVALID_TRADE_VOLUME;
  return 0;
}
[[nodiscard]] inline int OrderSend(const string& symbol, int cmd, double volume, double price, int slippage, double stoploss,
                                   double takeprofit, const string& comment, int magic, datetime expiration, color arrow_color) {
  (void)arrow_color; ++_term.trade_calls;
  FakeSymbol* s = _sym(symbol); if (!s) { _last_error = ERR_UNKNOWN_SYMBOL; return -1; }
  if (cmd < OP_BUY || cmd > OP_SELLSTOP) { _last_error = ERR_INVALID_TRADE_PARAMETERS; return -1; }
  bool fills; int err = _trade_preamble(fills);
  if (err && !fills) { _trade_failed(err); return -1; }
  // the trade server's own checks refuse without executing
  const MqlTick* q = _last_tick(*s); double pt = s->p.n["point"];
  int bad = _volume_error(*s, volume);
  if (!bad) bad = _price_error(*s, price, stoploss, takeprofit);
  if (!bad && cmd <= OP_SELL) {
    double market = cmd == OP_BUY ? q->ask : q->bid;
    if (std::fabs(price - market) > (slippage > 0 ? slippage : 0) * pt + 1e-9) bad = ERR_REQUOTE;
    else if (AccountInfoDouble(ACCOUNT_MARGIN_FREE) < s->margin_1lot * volume) bad = ERR_NOT_ENOUGH_MONEY;
  }
  if (!bad && cmd > OP_SELL) {  // a limit below (buy) / above (sell) the market, a stop the other side
    bool buy = cmd % 2 == 0; double market = buy ? q->ask : q->bid;
    bool limit = cmd <= OP_SELLLIMIT;
    if (price <= 0 || (limit ? (buy ? price >= market : price <= market) : (buy ? price <= market : price >= market))) bad = ERR_INVALID_PRICE;
  }
  if (bad) { _trade_failed(bad); return -1; }
  Ticket4 t; t.ticket = _term.next_ticket++; t.type = cmd; t.lots = volume; t.symbol = s->name;
  t.open_price = cmd <= OP_SELL ? (cmd == OP_BUY ? q->ask : q->bid) : price; t.sl = stoploss; t.tp = takeprofit;
  t.open_time = (long)(_now_ms() / 1000); t.expiration = (long)expiration; t.magic = magic; t.comment = comment._utf8();
  _term.open.push_back(t);
  if (err) { _trade_failed(err); return -1; }
  return t.ticket;
}
inline Ticket4* _open_ticket(int ticket) { for (auto& t : _term.open) if (t.ticket == ticket) return &t; return nullptr; }
inline void _to_history(int ticket, double close_price) {
  for (size_t k = 0; k < _term.open.size(); ++k) if (_term.open[k].ticket == ticket) {
    Ticket4 t = _term.open[k]; t.close_price = close_price; t.close_time = (long)(_now_ms() / 1000);
    if (t.type <= OP_SELL) { double saved = t.close_price; t = _with_prices(t); t.close_price = saved; t.close_time = (long)(_now_ms() / 1000);
      FakeSymbol* s = _sym8(t.symbol); double size = s ? s->p.n["trade_tick_size"] : 0, value = s ? s->p.n["trade_tick_value"] : 0;
      double move = t.type == OP_BUY ? close_price - t.open_price : t.open_price - close_price;
      t.profit = size > 0 ? std::round(move / size * value * t.lots * 100) / 100 : 0; _term.account.n["balance"] += t.profit + t.swap + t.commission; }
    _term.open.erase(_term.open.begin() + (long)k); _term.history.push_back(t); return;
  }
}
// Leaves `lots` of an open ticket under its number (the part to close) and the rest open under a
// new ticket whose comment is "from #<ticket>" (MT4's partial close).
inline void _split(int ticket, double lots) {
  Ticket4* t = _open_ticket(ticket); if (!t || lots >= t->lots - 1e-9) return;
  Ticket4 rest = *t; rest.ticket = _term.next_ticket++; rest.lots = std::round((t->lots - lots) * 1e8) / 1e8;
  rest.comment = "from #" + std::to_string(ticket); t->lots = lots; _term.open.push_back(rest);
}
[[nodiscard]] inline bool OrderClose(int ticket, double lots, double price, int slippage, color arrow_color) {
  (void)arrow_color; ++_term.trade_calls;
  Ticket4* t = _open_ticket(ticket); if (!t || t->type > OP_SELL) { _last_error = ERR_INVALID_TICKET; return false; }
  bool fills; int err = _trade_preamble(fills);
  if (err && !fills) { _trade_failed(err); return false; }
  FakeSymbol* s = _sym8(t->symbol); const MqlTick* q = _last_tick(*s);
  double market = t->type == OP_BUY ? q->bid : q->ask;
  int bad = (lots <= 0 || lots > t->lots + 1e-9 || _volume_error(*s, lots)) ? ERR_INVALID_TRADE_VOLUME : 0;
  if (!bad) bad = _price_error(*s, price, 0, 0);
  if (!bad && std::fabs(price - market) > (slippage > 0 ? slippage : 0) * s->p.n["point"] + 1e-9) bad = ERR_REQUOTE;
  if (bad) { _trade_failed(bad); return false; }
  _split(ticket, lots);
  _to_history(ticket, market);
  if (err) { _trade_failed(err); return false; }
  return true;
}
[[nodiscard]] inline bool OrderModify(int ticket, double price, double stoploss, double takeprofit, datetime expiration, color arrow_color) {
  (void)arrow_color; ++_term.trade_calls;
  Ticket4* t = _open_ticket(ticket); if (!t) { _last_error = ERR_INVALID_TICKET; return false; }
  bool fills; int err = _trade_preamble(fills);
  if (err && !fills) { _trade_failed(err); return false; }
  bool pending = t->type > OP_SELL;
  int bad = _price_error(*_sym8(t->symbol), pending ? price : 0, stoploss, takeprofit);
  if (bad) { _trade_failed(bad); return false; }
  if (t->sl == stoploss && t->tp == takeprofit && (!pending || (t->open_price == price && t->expiration == (long)expiration))) {
    _last_error = ERR_NO_RESULT; return false; }
  t->sl = stoploss; t->tp = takeprofit; if (pending) { t->open_price = price; t->expiration = (long)expiration; }
  if (err) { _trade_failed(err); return false; }
  return true;
}
[[nodiscard]] inline bool OrderDelete(int ticket, color arrow_color) {
  (void)arrow_color; ++_term.trade_calls;
  Ticket4* t = _open_ticket(ticket); if (!t || t->type <= OP_SELL) { _last_error = ERR_INVALID_TICKET; return false; }
  bool fills; int err = _trade_preamble(fills);
  if (err && !fills) { _trade_failed(err); return false; }
  _to_history(ticket, t->open_price);
  if (err) { _trade_failed(err); return false; }
  return true;
}
[[nodiscard]] inline bool OrderCloseBy(int ticket, int opposite, color arrow_color) {
  (void)arrow_color; ++_term.trade_calls;
  Ticket4* a = _open_ticket(ticket); Ticket4* b = _open_ticket(opposite);
  if (!a || !b || a->type > OP_SELL || b->type > OP_SELL || a->type == b->type || a->symbol != b->symbol) { _last_error = ERR_INVALID_TICKET; return false; }
  bool fills; int err = _trade_preamble(fills);
  if (err && !fills) { _trade_failed(err); return false; }
  double lots = std::min(a->lots, b->lots), price = b->open_price;  // no market price: `opposite`'s open price
  _split(ticket, lots); _split(opposite, lots);  // the larger one: the rest stays open
  _to_history(ticket, price); _to_history(opposite, price);
  if (err) { _trade_failed(err); return false; }
  return true;
}

// One ticket as the control `book` prints it (doubles round-trip: %.17g).
inline std::string _ticket_json(const Ticket4& t) {
  auto str = [](const std::string& v) { std::string o = "\""; for (char c : v) { if (c == '"' || c == '\\') o += '\\'; o += c; } return o + "\""; };
  char b[512];
  snprintf(b, sizeof b, "{\"ticket\": %d, \"type\": %d, \"lots\": %.17g, \"open_price\": %.17g, \"sl\": %.17g, \"tp\": %.17g, "
           "\"close_price\": %.17g, \"close_time\": %ld, \"expiration\": %ld, \"profit\": %.17g, \"magic\": %d, ",
           t.ticket, t.type, t.lots, t.open_price, t.sl, t.tp, t.close_price, t.close_time, t.expiration, t.profit, t.magic);
  return b + ("\"symbol\": " + str(t.symbol) + ", \"comment\": " + str(t.comment) + "}");
}

// ---- what the user and the broker do (control commands) ---------------------------------------------
inline void _register_terminal_controls() {
  _controls()["login"] = [](const std::vector<std::string>&) {
    _term.logged_in = true; _term.connected = true; _term.trade_state_at_ns = _mono_ns() + _term.trade_state_ns; return std::string(); };
  _controls()["broker"] = [](const std::vector<std::string>& w) {
    if (w.size() < 2 || (w[1] != "up" && w[1] != "down")) return std::string("usage: broker up|down");
    _term.connected = w[1] == "up"; return std::string(); };
  _controls()["algo"] = [](const std::vector<std::string>& w) {
    if (w.size() < 2 || (w[1] != "on" && w[1] != "off")) return std::string("usage: algo on|off");
    _term.trade_allowed = w[1] == "on"; return std::string(); };
  _controls()["close"] = [](const std::vector<std::string>& w) {  // the user closes a ticket in the Terminal window
    if (w.size() < 2) return std::string("usage: close <ticket>");
    Ticket4* t = _open_ticket(atoi(w[1].c_str())); if (!t) return std::string("no such ticket");
    FakeSymbol* s = _sym8(t->symbol); const MqlTick* q = _last_tick(*s);
    _to_history(t->ticket, t->type == OP_BUY ? q->bid : (t->type == OP_SELL ? q->ask : t->open_price)); return std::string(); };
  _controls()["trade_error"] = [](const std::vector<std::string>& w) {
    bool none = w.size() >= 2 && w[1] == "none";
    if (w.size() < 2 || (!none && atoi(w[1].c_str()) <= 0)) return std::string("usage: trade_error <MT4 error>|none [fill]");
    _term.next_error = none ? -1 : atoi(w[1].c_str()); _term.next_error_fills = w.size() > 2 && w[2] == "fill"; return std::string(); };
  _controls()["trade_delay"] = [](const std::vector<std::string>& w) {
    long ms = w.size() == 2 ? strtol(w[1].c_str(), nullptr, 10) : 0;
    if (ms <= 0) return std::string("usage: trade_delay <ms>");
    _term.trade_delay_ns = (int64_t)ms * 1000000; return std::string(); };
  _controls()["quote"] = [](const std::vector<std::string>& w) {
    FakeSymbol* s = w.size() == 3 ? _sym8(w[1]) : nullptr;
    long ms = s ? strtol(w[2].c_str(), nullptr, 10) : -1;
    if (ms < 0) return std::string("usage: quote <symbol> <in_ms>");
    const MqlTick* last = _last_tick(*s); if (!last) return std::string("the symbol has no quote to repeat");
    int64_t at = _mono_ns() + (int64_t)ms * 1000000;
    MqlTick t = *last; t.time = datetime((long)((_term.start_ms + (at - _start_ns) / 1000000) / 1000));
    size_t k = s->live_next; while (k < s->live.size() && s->live_at_ns[k] <= at) ++k;  // arrivals stay in order
    s->live.insert(s->live.begin() + (long)k, t); s->live_at_ns.insert(s->live_at_ns.begin() + (long)k, at);
    return std::string(); };
  _controls()["book"] = [](const std::vector<std::string>&) {
    for (auto& t : _term.open) printf("KIT: ticket %s\n", _ticket_json(_with_prices(t)).c_str());
    for (auto& t : _term.history) printf("KIT: ticket %s\n", _ticket_json(t).c_str());
    printf("KIT: trade_calls %d\n", _term.trade_calls); return std::string(); };
}

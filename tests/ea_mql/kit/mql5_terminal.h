// mql5_terminal.h: a fake MetaTrader 5 terminal behind the functions the EA calls, driven by a
// JSON fixture (MTGW_FIXTURE) that tests make from the Python emulator's own answers
// (tests/ea_mql/fixture.py), so the compiled EA and the emulator serve the same market.
//
// What it models: account and terminal properties; symbols with every SymbolInfo property by
// the MT5 package's field name; Market Watch selection; tick history plus "live" ticks that
// appear one per timer pass (so ticks sharing a millisecond arrive in separate passes); M1 bars
// aggregated to any intraday timeframe; a hedging book (market and pending orders, SL/TP,
// closes) that raises OnTradeTransaction the way the terminal does, after the handler returns.
// What it does not model (docs/terminal.md's release checklist covers it): broker latency,
// requotes, partial fills, margin calls, history synchronisation delays (a fixture switch
// marks history as not synchronised to exercise the EA's -32008 path).
#pragma once
#include <fstream>
#include <memory>
#include <sstream>

// ---- a minimal JSON value for the fixture --------------------------------------------------------
struct FJ {
  enum K { NUL, BOOL, NUM, STR, ARR, OBJ } k = NUL;
  bool b = false; double n = 0; bool is_int = false; std::string s;
  std::vector<FJ> a; std::vector<std::pair<std::string, FJ>> o;
  const FJ* get(const std::string& key) const { for (auto& kv : o) if (kv.first == key) return &kv.second; return nullptr; }
  double num() const { return k == BOOL ? (b ? 1 : 0) : n; }
};
struct FJParser {
  const std::string& t; size_t i = 0;
  explicit FJParser(const std::string& text) : t(text) {}
  void ws() { while (i < t.size() && isspace((unsigned char)t[i])) ++i; }
  FJ value() {
    ws(); FJ v; if (i >= t.size()) _fatal("fixture: unexpected end");
    char c = t[i];
    if (c == '{') { v.k = FJ::OBJ; ++i; ws(); if (t[i] == '}') { ++i; return v; }
      for (;;) { ws(); std::string key = str(); ws(); ++i; v.o.emplace_back(key, value()); ws(); if (t[i++] == '}') break; } return v; }
    if (c == '[') { v.k = FJ::ARR; ++i; ws(); if (t[i] == ']') { ++i; return v; }
      for (;;) { v.a.push_back(value()); ws(); if (t[i++] == ']') break; } return v; }
    if (c == '"') { v.k = FJ::STR; v.s = str(); return v; }
    if (t.compare(i, 4, "true") == 0) { v.k = FJ::BOOL; v.b = true; i += 4; return v; }
    if (t.compare(i, 5, "false") == 0) { v.k = FJ::BOOL; i += 5; return v; }
    if (t.compare(i, 4, "null") == 0) { i += 4; return v; }
    if (t.compare(i, 3, "NaN") == 0) { v.k = FJ::NUM; v.n = NAN; i += 3; return v; }  // Python's json writes it
    if (t.compare(i, 8, "Infinity") == 0) { v.k = FJ::NUM; v.n = INFINITY; i += 8; return v; }
    size_t st = i; while (i < t.size() && strchr("+-0123456789.eE", t[i])) ++i;
    std::string lit = t.substr(st, i - st); v.k = FJ::NUM; v.n = strtod(lit.c_str(), nullptr);
    v.is_int = lit.find_first_of(".eE") == std::string::npos; return v;
  }
  std::string str() {
    std::string out; ++i;
    while (t[i] != '"') {
      if (t[i] == '\\') { ++i; char e = t[i++];
        if (e == 'n') out += '\n'; else if (e == 't') out += '\t'; else if (e == 'r') out += '\r';
        else if (e == 'u') { unsigned cp = (unsigned)strtoul(t.substr(i, 4).c_str(), nullptr, 16); i += 4;
          out += _u16_to_utf8(std::u16string(1, (char16_t)cp)); }
        else out += e; }
      else out += t[i++];
    }
    ++i; return out;
  }
};

// ---- property enums: one list per kind, each entry with the MT5 package field it reads --------
#define _E(name, field) name,
#define _N(name, field) case name: return field;
#define SYMBOL_INTEGER_PROPS(X) X(SYMBOL_CUSTOM, "custom") X(SYMBOL_CHART_MODE, "chart_mode") X(SYMBOL_SELECT, "select") \
  X(SYMBOL_VISIBLE, "visible") X(SYMBOL_SESSION_DEALS, "session_deals") X(SYMBOL_SESSION_BUY_ORDERS, "session_buy_orders") \
  X(SYMBOL_SESSION_SELL_ORDERS, "session_sell_orders") X(SYMBOL_VOLUME, "volume") X(SYMBOL_VOLUMEHIGH, "volumehigh") \
  X(SYMBOL_VOLUMELOW, "volumelow") X(SYMBOL_TIME, "time") X(SYMBOL_DIGITS, "digits") X(SYMBOL_SPREAD, "spread") \
  X(SYMBOL_SPREAD_FLOAT, "spread_float") X(SYMBOL_TICKS_BOOKDEPTH, "ticks_bookdepth") X(SYMBOL_TRADE_CALC_MODE, "trade_calc_mode") \
  X(SYMBOL_TRADE_MODE, "trade_mode") X(SYMBOL_START_TIME, "start_time") X(SYMBOL_EXPIRATION_TIME, "expiration_time") \
  X(SYMBOL_TRADE_STOPS_LEVEL, "trade_stops_level") X(SYMBOL_TRADE_FREEZE_LEVEL, "trade_freeze_level") \
  X(SYMBOL_TRADE_EXEMODE, "trade_exemode") X(SYMBOL_SWAP_MODE, "swap_mode") X(SYMBOL_SWAP_ROLLOVER3DAYS, "swap_rollover3days") \
  X(SYMBOL_MARGIN_HEDGED_USE_LEG, "margin_hedged_use_leg") X(SYMBOL_EXPIRATION_MODE, "expiration_mode") \
  X(SYMBOL_FILLING_MODE, "filling_mode") X(SYMBOL_ORDER_MODE, "order_mode") X(SYMBOL_ORDER_GTC_MODE, "order_gtc_mode") \
  X(SYMBOL_OPTION_MODE, "option_mode") X(SYMBOL_OPTION_RIGHT, "option_right")
#define SYMBOL_DOUBLE_PROPS(X) X(SYMBOL_BID, "bid") X(SYMBOL_BIDHIGH, "bidhigh") X(SYMBOL_BIDLOW, "bidlow") X(SYMBOL_ASK, "ask") \
  X(SYMBOL_ASKHIGH, "askhigh") X(SYMBOL_ASKLOW, "asklow") X(SYMBOL_LAST, "last") X(SYMBOL_LASTHIGH, "lasthigh") \
  X(SYMBOL_LASTLOW, "lastlow") X(SYMBOL_VOLUME_REAL, "volume_real") X(SYMBOL_VOLUMEHIGH_REAL, "volumehigh_real") \
  X(SYMBOL_VOLUMELOW_REAL, "volumelow_real") X(SYMBOL_OPTION_STRIKE, "option_strike") X(SYMBOL_POINT, "point") \
  X(SYMBOL_TRADE_TICK_VALUE, "trade_tick_value") X(SYMBOL_TRADE_TICK_VALUE_PROFIT, "trade_tick_value_profit") \
  X(SYMBOL_TRADE_TICK_VALUE_LOSS, "trade_tick_value_loss") X(SYMBOL_TRADE_TICK_SIZE, "trade_tick_size") \
  X(SYMBOL_TRADE_CONTRACT_SIZE, "trade_contract_size") X(SYMBOL_TRADE_ACCRUED_INTEREST, "trade_accrued_interest") \
  X(SYMBOL_TRADE_FACE_VALUE, "trade_face_value") X(SYMBOL_TRADE_LIQUIDITY_RATE, "trade_liquidity_rate") \
  X(SYMBOL_VOLUME_MIN, "volume_min") X(SYMBOL_VOLUME_MAX, "volume_max") X(SYMBOL_VOLUME_STEP, "volume_step") \
  X(SYMBOL_VOLUME_LIMIT, "volume_limit") X(SYMBOL_SWAP_LONG, "swap_long") X(SYMBOL_SWAP_SHORT, "swap_short") \
  X(SYMBOL_MARGIN_INITIAL, "margin_initial") X(SYMBOL_MARGIN_MAINTENANCE, "margin_maintenance") \
  X(SYMBOL_SESSION_VOLUME, "session_volume") X(SYMBOL_SESSION_TURNOVER, "session_turnover") \
  X(SYMBOL_SESSION_INTEREST, "session_interest") X(SYMBOL_SESSION_BUY_ORDERS_VOLUME, "session_buy_orders_volume") \
  X(SYMBOL_SESSION_SELL_ORDERS_VOLUME, "session_sell_orders_volume") X(SYMBOL_SESSION_OPEN, "session_open") \
  X(SYMBOL_SESSION_CLOSE, "session_close") X(SYMBOL_SESSION_AW, "session_aw") \
  X(SYMBOL_SESSION_PRICE_SETTLEMENT, "session_price_settlement") X(SYMBOL_SESSION_PRICE_LIMIT_MIN, "session_price_limit_min") \
  X(SYMBOL_SESSION_PRICE_LIMIT_MAX, "session_price_limit_max") X(SYMBOL_MARGIN_HEDGED, "margin_hedged") \
  X(SYMBOL_PRICE_CHANGE, "price_change") X(SYMBOL_PRICE_VOLATILITY, "price_volatility") \
  X(SYMBOL_PRICE_THEORETICAL, "price_theoretical") X(SYMBOL_PRICE_DELTA, "price_greeks_delta") \
  X(SYMBOL_PRICE_THETA, "price_greeks_theta") X(SYMBOL_PRICE_GAMMA, "price_greeks_gamma") \
  X(SYMBOL_PRICE_VEGA, "price_greeks_vega") X(SYMBOL_PRICE_RHO, "price_greeks_rho") X(SYMBOL_PRICE_OMEGA, "price_greeks_omega") \
  X(SYMBOL_PRICE_SENSITIVITY, "price_sensitivity")
#define SYMBOL_STRING_PROPS(X) X(SYMBOL_BASIS, "basis") X(SYMBOL_CATEGORY, "category") X(SYMBOL_CURRENCY_BASE, "currency_base") \
  X(SYMBOL_CURRENCY_PROFIT, "currency_profit") X(SYMBOL_CURRENCY_MARGIN, "currency_margin") X(SYMBOL_BANK, "bank") \
  X(SYMBOL_DESCRIPTION, "description") X(SYMBOL_EXCHANGE, "exchange") X(SYMBOL_FORMULA, "formula") X(SYMBOL_ISIN, "isin") \
  X(SYMBOL_NAME, "name") X(SYMBOL_PAGE, "page") X(SYMBOL_PATH, "path")
#define ACCOUNT_INTEGER_PROPS(X) X(ACCOUNT_LOGIN, "login") X(ACCOUNT_TRADE_MODE, "trade_mode") X(ACCOUNT_LEVERAGE, "leverage") \
  X(ACCOUNT_LIMIT_ORDERS, "limit_orders") X(ACCOUNT_MARGIN_SO_MODE, "margin_so_mode") X(ACCOUNT_TRADE_ALLOWED, "trade_allowed") \
  X(ACCOUNT_TRADE_EXPERT, "trade_expert") X(ACCOUNT_MARGIN_MODE, "margin_mode") X(ACCOUNT_CURRENCY_DIGITS, "currency_digits") \
  X(ACCOUNT_FIFO_CLOSE, "fifo_close")
#define ACCOUNT_DOUBLE_PROPS(X) X(ACCOUNT_BALANCE, "balance") X(ACCOUNT_CREDIT, "credit") X(ACCOUNT_PROFIT, "profit") \
  X(ACCOUNT_EQUITY, "equity") X(ACCOUNT_MARGIN, "margin") X(ACCOUNT_MARGIN_FREE, "margin_free") X(ACCOUNT_MARGIN_LEVEL, "margin_level") \
  X(ACCOUNT_MARGIN_SO_CALL, "margin_so_call") X(ACCOUNT_MARGIN_SO_SO, "margin_so_so") X(ACCOUNT_MARGIN_INITIAL, "margin_initial") \
  X(ACCOUNT_MARGIN_MAINTENANCE, "margin_maintenance") X(ACCOUNT_ASSETS, "assets") X(ACCOUNT_LIABILITIES, "liabilities") \
  X(ACCOUNT_COMMISSION_BLOCKED, "commission_blocked")
#define ACCOUNT_STRING_PROPS(X) X(ACCOUNT_NAME, "name") X(ACCOUNT_SERVER, "server") X(ACCOUNT_CURRENCY, "currency") X(ACCOUNT_COMPANY, "company")
#define TERMINAL_INTEGER_PROPS(X) X(TERMINAL_COMMUNITY_ACCOUNT, "community_account") X(TERMINAL_COMMUNITY_CONNECTION, "community_connection") \
  X(TERMINAL_CONNECTED, "connected") X(TERMINAL_DLLS_ALLOWED, "dlls_allowed") X(TERMINAL_TRADE_ALLOWED, "trade_allowed") \
  X(TERMINAL_EMAIL_ENABLED, "email_enabled") X(TERMINAL_FTP_ENABLED, "ftp_enabled") X(TERMINAL_NOTIFICATIONS_ENABLED, "notifications_enabled") \
  X(TERMINAL_MQID, "mqid") X(TERMINAL_BUILD, "build") X(TERMINAL_MAXBARS, "maxbars") X(TERMINAL_CODEPAGE, "codepage") \
  X(TERMINAL_PING_LAST, "ping_last")
#define TERMINAL_DOUBLE_PROPS(X) X(TERMINAL_COMMUNITY_BALANCE, "community_balance") X(TERMINAL_RETRANSMISSION, "retransmission")
#define TERMINAL_STRING_PROPS(X) X(TERMINAL_COMPANY, "company") X(TERMINAL_NAME, "name") X(TERMINAL_LANGUAGE, "language") \
  X(TERMINAL_PATH, "path") X(TERMINAL_DATA_PATH, "data_path") X(TERMINAL_COMMONDATA_PATH, "commondata_path")
#define ORDER_INTEGER_PROPS(X) X(ORDER_TICKET, "ticket") X(ORDER_TIME_SETUP, "time_setup") X(ORDER_TIME_SETUP_MSC, "time_setup_msc") \
  X(ORDER_TIME_DONE, "time_done") X(ORDER_TIME_DONE_MSC, "time_done_msc") X(ORDER_TIME_EXPIRATION, "time_expiration") \
  X(ORDER_TYPE, "type") X(ORDER_TYPE_TIME, "type_time") X(ORDER_TYPE_FILLING, "type_filling") X(ORDER_STATE, "state") \
  X(ORDER_MAGIC, "magic") X(ORDER_POSITION_ID, "position_id") X(ORDER_POSITION_BY_ID, "position_by_id") X(ORDER_REASON, "reason")
#define ORDER_DOUBLE_PROPS(X) X(ORDER_VOLUME_INITIAL, "volume_initial") X(ORDER_VOLUME_CURRENT, "volume_current") \
  X(ORDER_PRICE_OPEN, "price_open") X(ORDER_SL, "sl") X(ORDER_TP, "tp") X(ORDER_PRICE_CURRENT, "price_current") \
  X(ORDER_PRICE_STOPLIMIT, "price_stoplimit")
#define ORDER_STRING_PROPS(X) X(ORDER_SYMBOL, "symbol") X(ORDER_COMMENT, "comment") X(ORDER_EXTERNAL_ID, "external_id")
#define POSITION_INTEGER_PROPS(X) X(POSITION_TICKET, "ticket") X(POSITION_TIME, "time") X(POSITION_TIME_MSC, "time_msc") \
  X(POSITION_TIME_UPDATE, "time_update") X(POSITION_TIME_UPDATE_MSC, "time_update_msc") X(POSITION_TYPE, "type") \
  X(POSITION_MAGIC, "magic") X(POSITION_IDENTIFIER, "identifier") X(POSITION_REASON, "reason")
#define POSITION_DOUBLE_PROPS(X) X(POSITION_VOLUME, "volume") X(POSITION_PRICE_OPEN, "price_open") X(POSITION_SL, "sl") \
  X(POSITION_TP, "tp") X(POSITION_PRICE_CURRENT, "price_current") X(POSITION_SWAP, "swap") X(POSITION_PROFIT, "profit")
#define POSITION_STRING_PROPS(X) X(POSITION_SYMBOL, "symbol") X(POSITION_COMMENT, "comment") X(POSITION_EXTERNAL_ID, "external_id")
#define DEAL_INTEGER_PROPS(X) X(DEAL_TICKET, "ticket") X(DEAL_ORDER, "order") X(DEAL_TIME, "time") X(DEAL_TIME_MSC, "time_msc") \
  X(DEAL_TYPE, "type") X(DEAL_ENTRY, "entry") X(DEAL_MAGIC, "magic") X(DEAL_POSITION_ID, "position_id") X(DEAL_REASON, "reason")
#define DEAL_DOUBLE_PROPS(X) X(DEAL_VOLUME, "volume") X(DEAL_PRICE, "price") X(DEAL_COMMISSION, "commission") X(DEAL_SWAP, "swap") \
  X(DEAL_PROFIT, "profit") X(DEAL_FEE, "fee")
#define DEAL_STRING_PROPS(X) X(DEAL_SYMBOL, "symbol") X(DEAL_COMMENT, "comment") X(DEAL_EXTERNAL_ID, "external_id")

#define _ENUM(T, LIST) enum T { LIST(_E) }; inline const char* _field(T p) { switch (p) { LIST(_N) } return "?"; }
_ENUM(ENUM_SYMBOL_INFO_INTEGER, SYMBOL_INTEGER_PROPS) _ENUM(ENUM_SYMBOL_INFO_DOUBLE, SYMBOL_DOUBLE_PROPS)
_ENUM(ENUM_SYMBOL_INFO_STRING, SYMBOL_STRING_PROPS) _ENUM(ENUM_ACCOUNT_INFO_INTEGER, ACCOUNT_INTEGER_PROPS)
_ENUM(ENUM_ACCOUNT_INFO_DOUBLE, ACCOUNT_DOUBLE_PROPS) _ENUM(ENUM_ACCOUNT_INFO_STRING, ACCOUNT_STRING_PROPS)
_ENUM(ENUM_TERMINAL_INFO_INTEGER, TERMINAL_INTEGER_PROPS) _ENUM(ENUM_TERMINAL_INFO_DOUBLE, TERMINAL_DOUBLE_PROPS)
_ENUM(ENUM_TERMINAL_INFO_STRING, TERMINAL_STRING_PROPS) _ENUM(ENUM_ORDER_PROPERTY_INTEGER, ORDER_INTEGER_PROPS)
_ENUM(ENUM_ORDER_PROPERTY_DOUBLE, ORDER_DOUBLE_PROPS) _ENUM(ENUM_ORDER_PROPERTY_STRING, ORDER_STRING_PROPS)
_ENUM(ENUM_POSITION_PROPERTY_INTEGER, POSITION_INTEGER_PROPS) _ENUM(ENUM_POSITION_PROPERTY_DOUBLE, POSITION_DOUBLE_PROPS)
_ENUM(ENUM_POSITION_PROPERTY_STRING, POSITION_STRING_PROPS) _ENUM(ENUM_DEAL_PROPERTY_INTEGER, DEAL_INTEGER_PROPS)
_ENUM(ENUM_DEAL_PROPERTY_DOUBLE, DEAL_DOUBLE_PROPS) _ENUM(ENUM_DEAL_PROPERTY_STRING, DEAL_STRING_PROPS)

enum ENUM_TIMEFRAMES { PERIOD_CURRENT = 0, PERIOD_M1 = 1, PERIOD_H1 = 16385, PERIOD_D1 = 16408 };
enum ENUM_SERIES_INFO_INTEGER { SERIES_BARS_COUNT, SERIES_FIRSTDATE, SERIES_LASTBAR_DATE, SERIES_SERVER_FIRSTDATE, SERIES_SYNCHRONIZED };
enum ENUM_MQL_INFO_INTEGER { MQL_TRADE_ALLOWED, MQL_DLLS_ALLOWED, MQL_TESTER };
enum ENUM_MQL_INFO_STRING { MQL_PROGRAM_NAME, MQL_PROGRAM_PATH };
enum ENUM_ORDER_TYPE { ORDER_TYPE_BUY, ORDER_TYPE_SELL, ORDER_TYPE_BUY_LIMIT, ORDER_TYPE_SELL_LIMIT, ORDER_TYPE_BUY_STOP,
                       ORDER_TYPE_SELL_STOP, ORDER_TYPE_BUY_STOP_LIMIT, ORDER_TYPE_SELL_STOP_LIMIT, ORDER_TYPE_CLOSE_BY };
enum ENUM_ORDER_TYPE_FILLING { ORDER_FILLING_FOK, ORDER_FILLING_IOC, ORDER_FILLING_RETURN, ORDER_FILLING_BOC };
enum ENUM_ORDER_TYPE_TIME { ORDER_TIME_GTC, ORDER_TIME_DAY, ORDER_TIME_SPECIFIED, ORDER_TIME_SPECIFIED_DAY };
enum ENUM_TRADE_REQUEST_ACTIONS { TRADE_ACTION_DEAL = 1, TRADE_ACTION_PENDING = 5, TRADE_ACTION_SLTP = 6,
                                  TRADE_ACTION_MODIFY = 7, TRADE_ACTION_REMOVE = 8, TRADE_ACTION_CLOSE_BY = 10 };
enum ENUM_TRADE_TRANSACTION_TYPE { TRADE_TRANSACTION_ORDER_ADD, TRADE_TRANSACTION_ORDER_UPDATE, TRADE_TRANSACTION_ORDER_DELETE,
                                   TRADE_TRANSACTION_DEAL_ADD, TRADE_TRANSACTION_DEAL_UPDATE, TRADE_TRANSACTION_DEAL_DELETE,
                                   TRADE_TRANSACTION_HISTORY_ADD, TRADE_TRANSACTION_HISTORY_UPDATE, TRADE_TRANSACTION_HISTORY_DELETE,
                                   TRADE_TRANSACTION_POSITION, TRADE_TRANSACTION_REQUEST };
enum ENUM_DEAL_ENTRY { DEAL_ENTRY_IN, DEAL_ENTRY_OUT, DEAL_ENTRY_INOUT, DEAL_ENTRY_OUT_BY };
enum ENUM_DEAL_TYPE { DEAL_TYPE_BUY, DEAL_TYPE_SELL, DEAL_TYPE_BALANCE };
enum ENUM_POSITION_TYPE { POSITION_TYPE_BUY, POSITION_TYPE_SELL };
#define COPY_TICKS_ALL (-1)
#define COPY_TICKS_INFO 1
#define COPY_TICKS_TRADE 2

struct MqlTick { datetime time = 0; double bid = 0, ask = 0, last = 0; ulong volume = 0; long time_msc = 0; uint flags = 0; double volume_real = 0; };
struct MqlRates { datetime time = 0; double open = 0, high = 0, low = 0, close = 0; long tick_volume = 0; int spread = 0; long real_volume = 0; };
struct MqlTradeRequest {
  ENUM_TRADE_REQUEST_ACTIONS action = (ENUM_TRADE_REQUEST_ACTIONS)0; ulong magic = 0, order = 0; string symbol;
  double volume = 0, price = 0, stoplimit = 0, sl = 0, tp = 0; ulong deviation = 0;
  ENUM_ORDER_TYPE type = ORDER_TYPE_BUY; ENUM_ORDER_TYPE_FILLING type_filling = ORDER_FILLING_FOK;
  ENUM_ORDER_TYPE_TIME type_time = ORDER_TIME_GTC; datetime expiration = 0; string comment; ulong position = 0, position_by = 0;
};
struct MqlTradeResult { uint retcode = 0; ulong deal = 0, order = 0; double volume = 0, price = 0, bid = 0, ask = 0; string comment; uint request_id = 0; int retcode_external = 0; };
struct MqlTradeCheckResult { uint retcode = 0; double balance = 0, equity = 0, profit = 0, margin = 0, margin_free = 0, margin_level = 0; string comment; };
struct MqlTradeTransaction {
  ulong deal = 0, order = 0; string symbol; ENUM_TRADE_TRANSACTION_TYPE type = TRADE_TRANSACTION_ORDER_ADD;
  ENUM_ORDER_TYPE order_type = ORDER_TYPE_BUY; int order_state = 0; int deal_type = 0; ENUM_ORDER_TYPE_TIME time_type = ORDER_TIME_GTC;
  datetime time_expiration = 0; double price = 0, price_trigger = 0, price_sl = 0, price_tp = 0, volume = 0; ulong position = 0, position_by = 0;
};

// ---- the terminal's state -----------------------------------------------------------------------
struct FakeRecord { std::map<std::string, double> n; std::map<std::string, std::string> s; };
struct FakeSymbol { std::string name; FakeRecord p; std::vector<MqlTick> ticks, live; size_t live_next = 0; std::vector<MqlRates> m1; bool selected = true; };
struct FakeTerminal {
  FJ fixture; FakeRecord account, terminal;
  std::vector<FakeSymbol> symbols;
  std::vector<FakeRecord> orders, positions, history_orders, deals;
  std::vector<MqlTradeTransaction> transactions;
  long long start_ms = 0; uint started = 0; ulong next_ticket = 5000; uint request_id = 0;
  bool history_synchronized = true; bool trade_allowed = true; bool connected = true;
  const FakeRecord* selected_order = nullptr; const FakeRecord* selected_position = nullptr;
  std::vector<const FakeRecord*> history_sel_orders, history_sel_deals;
};
inline FakeTerminal _term;

inline FakeRecord _record(const FJ& o) {
  FakeRecord r; for (auto& kv : o.o) { if (kv.second.k == FJ::STR) r.s[kv.first] = kv.second.s; else r.n[kv.first] = kv.second.num(); } return r;
}
inline MqlTick _tick_row(const FJ& row) {  // [time_msc, bid, ask, last, volume, flags, volume_real]
  MqlTick t; t.time_msc = (long)row.a[0].n; t.time = t.time_msc / 1000; t.bid = row.a[1].n; t.ask = row.a[2].n; t.last = row.a[3].n;
  t.volume = (ulong)row.a[4].n; t.flags = (uint)row.a[5].n; t.volume_real = row.a[6].n; return t;
}
inline void FakeTerminalLoad(const char* path) {
  std::ifstream f(path); if (!f) _fatal("fixture: cannot open MTGW_FIXTURE");
  std::stringstream ss; ss << f.rdbuf(); std::string text = ss.str();
  FJParser p(text); _term.fixture = p.value(); const FJ& fx = _term.fixture;
  _term.account = _record(*fx.get("account")); _term.terminal = _record(*fx.get("terminal"));
  _term.start_ms = (long long)fx.get("now_ms")->n; _term.started = GetTickCount();
  if (auto h = fx.get("history_synchronized")) _term.history_synchronized = h->b;
  if (auto t = fx.get("trade_allowed")) _term.trade_allowed = t->b;
  for (auto& kv : fx.get("symbols")->o) {
    FakeSymbol s; s.name = kv.first; s.p = _record(*kv.second.get("info"));
    s.selected = s.p.n["select"] != 0;
    for (auto& r : kv.second.get("ticks")->a) s.ticks.push_back(_tick_row(r));
    for (auto& r : kv.second.get("live")->a) s.live.push_back(_tick_row(r));
    for (auto& r : kv.second.get("m1")->a) { MqlRates b; b.time = (datetime)r.a[0].n; b.open = r.a[1].n; b.high = r.a[2].n; b.low = r.a[3].n;
      b.close = r.a[4].n; b.tick_volume = (long)r.a[5].n; b.spread = (int)r.a[6].n; b.real_volume = (long)r.a[7].n; s.m1.push_back(b); }
    _term.symbols.push_back(s);
  }
  for (auto& r : fx.get("positions")->a) _term.positions.push_back(_record(r));
  for (auto& r : fx.get("orders")->a) _term.orders.push_back(_record(r));
  for (auto& r : fx.get("history_orders")->a) _term.history_orders.push_back(_record(r));
  for (auto& r : fx.get("deals")->a) _term.deals.push_back(_record(r));
}
inline FakeSymbol* _sym(const string& name) { std::string n = name.utf8(); for (auto& s : _term.symbols) if (s.name == n) return &s; return nullptr; }
inline long long _now_ms() { return _term.start_ms + (long long)(GetTickCount() - _term.started); }
// One timer pass of the market: the next live tick of each symbol appears. With
// MTGW_STAMP_TICKS=1 (python -m bench --ea) its volume carries CLOCK_MONOTONIC in ns at that
// moment, so a subscriber can measure terminal-has-the-tick -> client-has-it.
inline void FakeTerminalAdvance() {
  static const bool stamp = getenv("MTGW_STAMP_TICKS") != nullptr;
  for (auto& s : _term.symbols) if (s.live_next < s.live.size()) {
    MqlTick t = s.live[s.live_next++];
    if (stamp) t.volume = (ulong)std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
    s.ticks.push_back(t);
  }
}
inline const MqlTick* _last_tick(const FakeSymbol& s) { return s.ticks.empty() ? nullptr : &s.ticks.back(); }

// ---- account, terminal, program --------------------------------------------------------------------
inline double _positions_profit();
inline double _positions_margin();
inline long AccountInfoInteger(ENUM_ACCOUNT_INFO_INTEGER p) { return (long)_term.account.n[_field(p)]; }
inline double AccountInfoDouble(ENUM_ACCOUNT_INFO_DOUBLE p) {
  double bal = _term.account.n["balance"], profit = _positions_profit(), margin = _positions_margin();
  switch (p) {
    case ACCOUNT_PROFIT: return profit;
    case ACCOUNT_EQUITY: return bal + profit;
    case ACCOUNT_MARGIN: return margin;
    case ACCOUNT_MARGIN_FREE: return bal + profit - margin;
    case ACCOUNT_MARGIN_LEVEL: return margin > 0 ? (bal + profit) / margin * 100 : 0;
    default: return _term.account.n[_field(p)];
  }
}
inline string AccountInfoString(ENUM_ACCOUNT_INFO_STRING p) { return _S(_term.account.s[_field(p)]); }
inline long TerminalInfoInteger(ENUM_TERMINAL_INFO_INTEGER p) {
  if (p == TERMINAL_TRADE_ALLOWED) return _term.trade_allowed;
  if (p == TERMINAL_CONNECTED) return _term.connected;
  return (long)_term.terminal.n[_field(p)];
}
inline double TerminalInfoDouble(ENUM_TERMINAL_INFO_DOUBLE p) { return _term.terminal.n[_field(p)]; }
inline string TerminalInfoString(ENUM_TERMINAL_INFO_STRING p) { return _S(_term.terminal.s[_field(p)]); }
inline long MQLInfoInteger(ENUM_MQL_INFO_INTEGER p) { return p == MQL_TRADE_ALLOWED ? 1 : 0; }
inline string MQLInfoString(ENUM_MQL_INFO_STRING) { return "MTGateway"_s; }
inline datetime TimeTradeServer() { return (datetime)(_now_ms() / 1000); }
inline datetime TimeCurrent() { return TimeTradeServer(); }
inline datetime TimeGMT() { return TimeTradeServer() - (datetime)_term.fixture.get("tz_offset_s")->n; }
inline string _Symbol = "EURUSD"_s;

// ---- symbols ----------------------------------------------------------------------------------------
inline int SymbolsTotal(bool selected) { int n = 0; for (auto& s : _term.symbols) if (!selected || s.selected) ++n; return n; }
inline string SymbolName(int pos, bool selected) {
  int n = 0; for (auto& s : _term.symbols) if (!selected || s.selected) { if (n == pos) return _S(s.name); ++n; }
  _LastError = 4301; return string();
}
inline bool SymbolExist(const string& name, bool& is_custom) { is_custom = false; return _sym(name) != nullptr; }
inline bool SymbolSelect(const string& name, bool select) { FakeSymbol* s = _sym(name); if (!s) return false; s->selected = select; s->p.n["select"] = select; return true; }
inline bool SymbolIsSynchronized(const string& name) { return _sym(name) != nullptr && _term.history_synchronized; }
inline long SeriesInfoInteger(const string& name, ENUM_TIMEFRAMES, ENUM_SERIES_INFO_INTEGER p) {
  return p == SERIES_SYNCHRONIZED ? (SymbolIsSynchronized(name) ? 1 : 0) : 0;
}
inline bool SymbolInfoTick(const string& name, MqlTick& t) {
  FakeSymbol* s = _sym(name); if (!s || s->ticks.empty()) { _LastError = 4301; return false; } t = s->ticks.back(); return true;
}
inline long SymbolInfoInteger(const string& name, ENUM_SYMBOL_INFO_INTEGER p) {
  FakeSymbol* s = _sym(name); if (!s) { _LastError = 4301; return 0; }
  if (p == SYMBOL_TIME && !s->ticks.empty()) return s->ticks.back().time;
  return (long)s->p.n[_field(p)];
}
inline double SymbolInfoDouble(const string& name, ENUM_SYMBOL_INFO_DOUBLE p) {
  FakeSymbol* s = _sym(name); if (!s) { _LastError = 4301; return 0; }
  if (!s->ticks.empty()) { if (p == SYMBOL_BID) return s->ticks.back().bid; if (p == SYMBOL_ASK) return s->ticks.back().ask; }
  return s->p.n[_field(p)];
}
inline string SymbolInfoString(const string& name, ENUM_SYMBOL_INFO_STRING p) {
  FakeSymbol* s = _sym(name); if (!s) { _LastError = 4301; return string(); } return _S(s->p.s[_field(p)]);
}

// ---- bars and ticks -----------------------------------------------------------------------------------
inline long _tf_seconds(ENUM_TIMEFRAMES tf) {
  int v = (int)tf;
  if (v >= 1 && v <= 30) return v * 60L;
  if (v > 16384 && v < 16408) return (v - 16384) * 3600L;
  if (v == 16408) return 86400;
  return 0;
}
inline std::vector<MqlRates> _bars(const FakeSymbol& s, ENUM_TIMEFRAMES tf) {
  long sec = _tf_seconds(tf); std::vector<MqlRates> out; if (sec == 0) return out;
  for (auto& b : s.m1) {
    datetime open = b.time - b.time % sec;
    if (!out.empty() && out.back().time == open) { auto& o = out.back(); o.high = std::max(o.high, b.high); o.low = std::min(o.low, b.low); o.close = b.close; o.tick_volume += b.tick_volume; o.real_volume += b.real_volume; }
    else { MqlRates n = b; n.time = open; out.push_back(n); }
  }
  return out;
}
inline int _rates_out(const std::vector<MqlRates>& v, size_t from, size_t to, MqlArray<MqlRates>& out) { out.v.assign(v.begin() + from, v.begin() + to); return (int)out.v.size(); }
inline int CopyRates(const string& name, ENUM_TIMEFRAMES tf, datetime start, int count, MqlArray<MqlRates>& out) {
  FakeSymbol* s = _sym(name); if (!s) return -1; auto v = _bars(*s, tf);
  size_t end = 0; while (end < v.size() && v[end].time <= start) ++end;
  size_t from = end > (size_t)count ? end - count : 0; return _rates_out(v, from, end, out);
}
inline int CopyRates(const string& name, ENUM_TIMEFRAMES tf, int start_pos, int count, MqlArray<MqlRates>& out) {
  FakeSymbol* s = _sym(name); if (!s) return -1; auto v = _bars(*s, tf);
  if ((size_t)start_pos >= v.size()) { out.v.clear(); return 0; }
  size_t end = v.size() - start_pos; size_t from = end > (size_t)count ? end - count : 0; return _rates_out(v, from, end, out);
}
inline int CopyRates(const string& name, ENUM_TIMEFRAMES tf, datetime start, datetime stop, MqlArray<MqlRates>& out) {
  FakeSymbol* s = _sym(name); if (!s) return -1; auto v = _bars(*s, tf); out.v.clear();
  for (auto& b : v) if (b.time >= start && b.time <= stop) out.v.push_back(b);
  return (int)out.v.size();
}
inline bool _tick_kind(const MqlTick& t, uint flags) {
  if ((int)flags == COPY_TICKS_INFO) return (t.flags & 6) != 0;
  if ((int)flags == COPY_TICKS_TRADE) return (t.flags & 24) != 0;
  return true;
}
inline int CopyTicks(const string& name, MqlArray<MqlTick>& out, uint flags, ulong from_msc, uint count) {
  FakeSymbol* s = _sym(name); if (!s) return -1; out.v.clear();
  if (from_msc == 0) { for (size_t i = s->ticks.size(); i-- > 0 && out.v.size() < count;) if (_tick_kind(s->ticks[i], flags)) out.v.insert(out.v.begin(), s->ticks[i]); }
  else for (auto& t : s->ticks) { if (out.v.size() >= count) break; if ((ulong)t.time_msc >= from_msc && _tick_kind(t, flags)) out.v.push_back(t); }
  return (int)out.v.size();
}
inline int CopyTicksRange(const string& name, MqlArray<MqlTick>& out, uint flags, ulong from_msc, ulong to_msc) {
  FakeSymbol* s = _sym(name); if (!s) return -1; out.v.clear();
  for (auto& t : s->ticks) if ((ulong)t.time_msc >= from_msc && (to_msc == 0 || (ulong)t.time_msc <= to_msc) && _tick_kind(t, flags)) out.v.push_back(t);
  return (int)out.v.size();
}

// ---- orders, positions, history ------------------------------------------------------------------------
inline double _contract(const std::string& sym) { FakeSymbol* s = _sym(_S(sym)); return s ? s->p.n["trade_contract_size"] : 1; }
inline double _position_profit(const FakeRecord& p) {
  FakeSymbol* s = _sym(_S(p.s.at("symbol"))); const MqlTick* t = s ? _last_tick(*s) : nullptr; if (!t) return 0;
  bool buy = p.n.at("type") == 0; double cur = buy ? t->bid : t->ask;
  return std::round((buy ? cur - p.n.at("price_open") : p.n.at("price_open") - cur) * p.n.at("volume") * _contract(p.s.at("symbol")) * 100) / 100;
}
inline double _positions_profit() { double sum = 0; for (auto& p : _term.positions) sum += _position_profit(p); return sum; }
inline double _margin_of(const std::string& sym, double volume, double price) {
  double lev = _term.account.n["leverage"]; return std::round(volume * _contract(sym) * price / (lev > 0 ? lev : 1) * 100) / 100;
}
inline double _positions_margin() { double sum = 0; for (auto& p : _term.positions) sum += _margin_of(p.s.at("symbol"), p.n.at("volume"), p.n.at("price_open")); return sum; }
inline void _refresh(FakeRecord& p) {
  FakeSymbol* s = _sym(_S(p.s["symbol"])); const MqlTick* t = s ? _last_tick(*s) : nullptr;
  if (t) { p.n["price_current"] = p.n["type"] == 0 ? t->bid : t->ask; p.n["profit"] = _position_profit(p); }
}
inline int OrdersTotal() { return (int)_term.orders.size(); }
inline ulong OrderGetTicket(int i) { if (i < 0 || i >= (int)_term.orders.size()) return 0; _term.selected_order = &_term.orders[i]; return (ulong)_term.orders[i].n.at("ticket"); }
inline bool OrderSelect(ulong ticket) { for (auto& o : _term.orders) if ((ulong)o.n.at("ticket") == ticket) { _term.selected_order = &o; return true; } return false; }
inline long OrderGetInteger(ENUM_ORDER_PROPERTY_INTEGER p) { return _term.selected_order ? (long)_term.selected_order->n.at(_field(p)) : 0; }
inline double OrderGetDouble(ENUM_ORDER_PROPERTY_DOUBLE p) { return _term.selected_order ? _term.selected_order->n.at(_field(p)) : 0; }
inline string OrderGetString(ENUM_ORDER_PROPERTY_STRING p) { return _term.selected_order ? _S(_term.selected_order->s.at(_field(p))) : string(); }
inline int PositionsTotal() { return (int)_term.positions.size(); }
inline ulong PositionGetTicket(int i) {
  if (i < 0 || i >= (int)_term.positions.size()) return 0;
  _refresh(_term.positions[i]);
  _term.selected_position = &_term.positions[i]; return (ulong)_term.positions[i].n.at("ticket");
}
inline bool PositionSelectByTicket(ulong ticket) {
  for (auto& p : _term.positions) if ((ulong)p.n.at("ticket") == ticket) { _refresh(p); _term.selected_position = &p; return true; }
  return false;
}
inline long PositionGetInteger(ENUM_POSITION_PROPERTY_INTEGER p) { return _term.selected_position ? (long)_term.selected_position->n.at(_field(p)) : 0; }
inline double PositionGetDouble(ENUM_POSITION_PROPERTY_DOUBLE p) { return _term.selected_position ? _term.selected_position->n.at(_field(p)) : 0; }
inline string PositionGetString(ENUM_POSITION_PROPERTY_STRING p) { return _term.selected_position ? _S(_term.selected_position->s.at(_field(p))) : string(); }
inline bool HistorySelect(datetime from, datetime to) {
  if (!_term.history_synchronized) return false;
  _term.history_sel_orders.clear(); _term.history_sel_deals.clear();
  for (auto& o : _term.history_orders) { long t = (long)o.n.at("time_setup"); if (t >= from && t <= to) _term.history_sel_orders.push_back(&o); }
  for (auto& d : _term.deals) { long t = (long)d.n.at("time"); if (t >= from && t <= to) _term.history_sel_deals.push_back(&d); }
  return true;
}
inline bool HistorySelectByPosition(long position) {
  if (!_term.history_synchronized) return false;
  _term.history_sel_orders.clear(); _term.history_sel_deals.clear();
  for (auto& o : _term.history_orders) if ((long)o.n.at("position_id") == position) _term.history_sel_orders.push_back(&o);
  for (auto& d : _term.deals) if ((long)d.n.at("position_id") == position) _term.history_sel_deals.push_back(&d);
  return true;
}
inline const FakeRecord* _find(const std::vector<FakeRecord>& v, ulong ticket) { for (auto& r : v) if ((ulong)r.n.at("ticket") == ticket) return &r; return nullptr; }
inline bool HistoryOrderSelect(ulong t) { const FakeRecord* r = _find(_term.history_orders, t); if (!r) return false; _term.history_sel_orders.assign(1, r); return true; }
inline bool HistoryDealSelect(ulong t) { const FakeRecord* r = _find(_term.deals, t); if (!r) return false; _term.history_sel_deals.assign(1, r); return true; }
inline int HistoryOrdersTotal() { return (int)_term.history_sel_orders.size(); }
inline int HistoryDealsTotal() { return (int)_term.history_sel_deals.size(); }
inline ulong HistoryOrderGetTicket(int i) { return i >= 0 && i < (int)_term.history_sel_orders.size() ? (ulong)_term.history_sel_orders[i]->n.at("ticket") : 0; }
inline ulong HistoryDealGetTicket(int i) { return i >= 0 && i < (int)_term.history_sel_deals.size() ? (ulong)_term.history_sel_deals[i]->n.at("ticket") : 0; }
// The terminal answers property reads only for tickets in the current selection.
inline const FakeRecord* _hsel(const std::vector<const FakeRecord*>& v, ulong t) { for (auto* r : v) if ((ulong)r->n.at("ticket") == t) return r; return nullptr; }
inline long HistoryOrderGetInteger(ulong t, ENUM_ORDER_PROPERTY_INTEGER p) { auto r = _hsel(_term.history_sel_orders, t); return r ? (long)r->n.at(_field(p)) : 0; }
inline double HistoryOrderGetDouble(ulong t, ENUM_ORDER_PROPERTY_DOUBLE p) { auto r = _hsel(_term.history_sel_orders, t); return r ? r->n.at(_field(p)) : 0; }
inline string HistoryOrderGetString(ulong t, ENUM_ORDER_PROPERTY_STRING p) { auto r = _hsel(_term.history_sel_orders, t); return r ? _S(r->s.at(_field(p))) : string(); }
inline long HistoryDealGetInteger(ulong t, ENUM_DEAL_PROPERTY_INTEGER p) { auto r = _hsel(_term.history_sel_deals, t); return r ? (long)r->n.at(_field(p)) : 0; }
inline double HistoryDealGetDouble(ulong t, ENUM_DEAL_PROPERTY_DOUBLE p) { auto r = _hsel(_term.history_sel_deals, t); return r ? r->n.at(_field(p)) : 0; }
inline string HistoryDealGetString(ulong t, ENUM_DEAL_PROPERTY_STRING p) { auto r = _hsel(_term.history_sel_deals, t); return r ? _S(r->s.at(_field(p))) : string(); }

// ---- calculations and trading ----------------------------------------------------------------------------
inline bool OrderCalcMargin(ENUM_ORDER_TYPE, const string& sym, double volume, double price, double& margin) {
  if (!_sym(sym)) { _LastError = 4301; return false; } margin = _margin_of(sym.utf8(), volume, price); return true;
}
inline bool OrderCalcProfit(ENUM_ORDER_TYPE type, const string& sym, double volume, double open, double close, double& profit) {
  if (!_sym(sym)) { _LastError = 4301; return false; }
  profit = std::round((type == ORDER_TYPE_BUY ? close - open : open - close) * volume * _contract(sym.utf8()) * 100) / 100; return true;
}
inline void _tx(ENUM_TRADE_TRANSACTION_TYPE type, ulong order, ulong deal, ulong position, const std::string& sym) {
  MqlTradeTransaction t; t.type = type; t.order = order; t.deal = deal; t.position = position; t.symbol = _S(sym); _term.transactions.push_back(t);
}
inline uint _validate(const MqlTradeRequest& r, FakeSymbol*& s, std::string& why) {
  s = _sym(r.symbol);
  if (r.action == TRADE_ACTION_DEAL || r.action == TRADE_ACTION_PENDING) {
    if (!s) { why = "Invalid request"; return 10013; }
    if (r.volume <= 0 || r.volume < s->p.n["volume_min"] || r.volume > s->p.n["volume_max"]) { why = "Invalid volume"; return 10014; }
    if (s->ticks.empty()) { why = "Market is closed"; return 10018; }
  }
  return 0;
}
inline bool OrderCheck(const MqlTradeRequest& r, MqlTradeCheckResult& c) {
  FakeSymbol* s; std::string why; uint rc = _validate(r, s, why);
  double bal = _term.account.n["balance"], profit = _positions_profit(), margin = _positions_margin();
  if (rc == 0 && r.action == TRADE_ACTION_DEAL && s) margin += _margin_of(s->name, r.volume, r.type == ORDER_TYPE_BUY ? s->ticks.back().ask : s->ticks.back().bid);
  c.retcode = rc; c.balance = bal; c.equity = bal + profit; c.profit = profit; c.margin = margin; c.margin_free = bal + profit - margin;
  c.margin_level = margin > 0 ? (bal + profit) / margin * 100 : 0; c.comment = _S(rc == 0 ? "Done" : why);
  if (rc == 0 && c.margin_free < 0) { c.retcode = 10019; c.comment = "No money"_s; }
  return c.retcode == 0;
}
inline bool OrderSend(const MqlTradeRequest& r, MqlTradeResult& res) {
  FakeSymbol* s; std::string why; res.request_id = ++_term.request_id;
  uint rc = _validate(r, s, why);
  if (rc) { res.retcode = rc; res.comment = _S(why); return false; }
  long long now = _now_ms(); long sec = (long)(now / 1000);
  auto order_rec = [&](ulong ticket, int state, double price, ulong position) {
    FakeRecord o; o.n = {{"ticket", (double)ticket}, {"time_setup", (double)sec}, {"time_setup_msc", (double)now}, {"time_done", 0}, {"time_done_msc", 0},
      {"time_expiration", (double)r.expiration}, {"type", (double)r.type}, {"type_time", (double)r.type_time}, {"type_filling", (double)r.type_filling},
      {"state", (double)state}, {"magic", (double)r.magic}, {"position_id", (double)position}, {"position_by_id", 0}, {"reason", 3},
      {"volume_initial", r.volume}, {"volume_current", r.volume}, {"price_open", price}, {"sl", r.sl}, {"tp", r.tp}, {"price_current", price},
      {"price_stoplimit", r.stoplimit}};
    o.s = {{"symbol", s ? s->name : r.symbol.utf8()}, {"comment", r.comment.utf8()}, {"external_id", ""}}; return o;
  };
  if (r.action == TRADE_ACTION_DEAL) {
    const MqlTick& t = s->ticks.back(); bool buy = r.type == ORDER_TYPE_BUY; double price = buy ? t.ask : t.bid;
    ulong order = _term.next_ticket++, deal = _term.next_ticket++; ulong position = r.position ? r.position : order;
    FakeRecord* open_pos = nullptr; for (auto& p : _term.positions) if ((ulong)p.n["ticket"] == r.position) open_pos = &p;
    if (r.position && !open_pos) { res.retcode = 10036; res.comment = "Position doesn't exist"_s; return false; }
    FakeRecord o = order_rec(order, 4, price, position); o.n["time_done"] = (double)sec; o.n["time_done_msc"] = (double)now; o.n["volume_current"] = 0;
    _term.history_orders.push_back(o);
    FakeRecord d; double profit = 0;
    if (open_pos) { FakeRecord closing = *open_pos; closing.n["volume"] = std::min(r.volume, open_pos->n["volume"]); profit = _position_profit(closing); }
    d.n = {{"ticket", (double)deal}, {"order", (double)order}, {"time", (double)sec}, {"time_msc", (double)now}, {"type", buy ? 0.0 : 1.0},
           {"entry", open_pos ? 1.0 : 0.0}, {"magic", (double)r.magic}, {"position_id", (double)position}, {"reason", 3}, {"volume", r.volume},
           {"price", price}, {"commission", 0}, {"swap", 0}, {"profit", profit}, {"fee", 0}};
    d.s = {{"symbol", s->name}, {"comment", r.comment.utf8()}, {"external_id", ""}};
    _term.deals.push_back(d);
    _tx(TRADE_TRANSACTION_ORDER_ADD, order, 0, 0, s->name);
    _tx(TRADE_TRANSACTION_DEAL_ADD, order, deal, position, s->name);
    _tx(TRADE_TRANSACTION_ORDER_DELETE, order, 0, position, s->name);
    if (open_pos) {
      _term.account.n["balance"] += profit;
      open_pos->n["volume"] -= std::min(r.volume, open_pos->n["volume"]);
      if (open_pos->n["volume"] <= 1e-9) _term.positions.erase(_term.positions.begin() + (open_pos - _term.positions.data()));
    } else {
      FakeRecord p; p.n = {{"ticket", (double)position}, {"time", (double)sec}, {"time_msc", (double)now}, {"time_update", (double)sec},
        {"time_update_msc", (double)now}, {"type", buy ? 0.0 : 1.0}, {"magic", (double)r.magic}, {"identifier", (double)position}, {"reason", 3},
        {"volume", r.volume}, {"price_open", price}, {"sl", r.sl}, {"tp", r.tp}, {"price_current", price}, {"swap", 0}, {"profit", 0}};
      p.s = {{"symbol", s->name}, {"comment", r.comment.utf8()}, {"external_id", ""}};
      _term.positions.push_back(p);
    }
    res.retcode = 10009; res.deal = deal; res.order = order; res.volume = r.volume; res.price = price; res.bid = t.bid; res.ask = t.ask;
    res.comment = "Request executed"_s; return true;
  }
  if (r.action == TRADE_ACTION_PENDING) {
    ulong order = _term.next_ticket++; _term.orders.push_back(order_rec(order, 1, r.price, 0));
    _tx(TRADE_TRANSACTION_ORDER_ADD, order, 0, 0, s->name);
    res.retcode = 10008; res.order = order; res.volume = r.volume; res.price = r.price; res.comment = "Request executed"_s; return true;
  }
  if (r.action == TRADE_ACTION_REMOVE || r.action == TRADE_ACTION_MODIFY) {
    for (size_t i = 0; i < _term.orders.size(); ++i) if ((ulong)_term.orders[i].n["ticket"] == r.order) {
      std::string sym = _term.orders[i].s["symbol"];
      if (r.action == TRADE_ACTION_MODIFY) { _term.orders[i].n["price_open"] = r.price; _term.orders[i].n["sl"] = r.sl; _term.orders[i].n["tp"] = r.tp; _tx(TRADE_TRANSACTION_ORDER_UPDATE, r.order, 0, 0, sym); }
      else { FakeRecord o = _term.orders[i]; o.n["state"] = 2; o.n["time_done"] = (double)sec; o.n["time_done_msc"] = (double)now;
             _term.history_orders.push_back(o); _term.orders.erase(_term.orders.begin() + i); _tx(TRADE_TRANSACTION_ORDER_DELETE, r.order, 0, 0, sym); }
      res.retcode = 10009; res.order = r.order; res.comment = "Request executed"_s; return true;
    }
    res.retcode = 10013; res.comment = "Invalid request"_s; return false;
  }
  if (r.action == TRADE_ACTION_SLTP) {
    for (auto& p : _term.positions) if ((ulong)p.n["ticket"] == r.position) {
      p.n["sl"] = r.sl; p.n["tp"] = r.tp; p.n["time_update"] = (double)sec; p.n["time_update_msc"] = (double)now;
      _tx(TRADE_TRANSACTION_POSITION, 0, 0, r.position, p.s["symbol"]);
      res.retcode = 10009; res.comment = "Request executed"_s; return true;
    }
    res.retcode = 10036; res.comment = "Position doesn't exist"_s; return false;
  }
  res.retcode = 10013; res.comment = "Invalid request"_s; return false;
}

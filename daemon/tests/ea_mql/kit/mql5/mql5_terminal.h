// mql5_terminal.h: a fake MetaTrader 5 terminal behind the functions the EA calls, driven by a
// JSON fixture (MTGW_FIXTURE) that tests write from the Python emulator's own answers
// (daemon/tests/ea_mql/eakit.py write_fixture), so the compiled EA and the emulator serve one market.
//
// What it models, each as the reference describes it:
// - the account and the terminal; login after the EA's start (fixture `logged_in: false`, then
//   the control command `login`): until then ACCOUNT_LOGIN is 0 and no position or order shows.
//   At a terminal's start the account number, the connection and the trade state arrive
//   separately: the account is readable at the login, while the connection to the trade
//   server and the trade state (positions, orders, history) come `trade_state_ms` later
//   (default 0: together);
// - symbols with every SymbolInfo* property by the MT5 package's field name; Market Watch: the
//   terminal receives quotes only for Market Watch symbols, so ticks that arrive while a symbol
//   is out of it reach the trade server's history, not the terminal's (a hole in its tick
//   database, synchronized like older history when a copy reaches into it); back in Market
//   Watch, its quote (SymbolInfoTick) is the last one received before it left until the next
//   tick arrives. A terminal that was closed (fixture `offline_from_ms`, per symbol) starts the
//   same way: the ticks after that time are a hole and its quote is the last one before it.
//   So does a lost connection to the trade server (control `broker down`, and before the
//   login): no quotes arrive without it, for any symbol, so each symbol's ticks of the outage
//   are a hole, and its quote is the last one before the outage until the next tick after it.
//   Whether a terminal flags its connection back (TERMINAL_CONNECTED) only once its quotes
//   flow again is not documented: control `quotes off|on` stops and resumes the quote stream
//   alone, TERMINAL_CONNECTED unchanged (`quotes off` then `broker up`: a terminal connected
//   again whose quotes resume later), and ticks that come meanwhile are a hole the same way;
//   control `hold <symbol> on|off` stops and resumes the arrival of a symbol's live ticks,
//   `tick <symbol>` makes its next one arrive at once (held or not);
//   control `server_ticks <symbol> [<to_msc>]` prints how many ticks the trade server has of it (up to then);
// - ticks: history, then live ticks that ARRIVE at their own times (fixture `live_every_ms`, or
//   `live_poisson_hz`, from `live_start_ms` after the EA's first timer pass), raising NewTick
//   for the chart symbol and Calculate for indicators. A live tick keeps the time the fixture
//   gave it, which runs at a pace of its own (a few ms a tick) beside the terminal's clock; a
//   symbol with `live_stamped_at_arrival` has each carry the server's time when it arrives
//   instead, as a trade server stamps the ticks it makes and sends at once (a test that
//   compares tick times with the server's clock: when the terminal saw its connection back);
// - bars built from M1 on request: a series is not synchronized until something asks for it
//   (CopyRates, CopyTime) and then takes `series_build_ms` to build; in an EA a copy from an
//   unbuilt series waits for it, in an indicator it returns -1 at once. A built series holds
//   only its newest `series_depth_bars` bars (default 100) and is loaded further back on
//   request, except by an indicator on its own symbol and timeframe (see _series_reach);
// - the tick database: ticks before `ticks_local_from_ms` are on the trade server only; the
//   first CopyTicks* that reaches them (CopyTicksRange's range; CopyTicks' first `count` ticks:
//   what lies after them is not needed) starts a synchronization of `tick_sync_ms`, during which
//   the call waits ("In Expert Advisors and scripts, CopyTicks() can wait for the result for
//   45 seconds"), returning what it has with ERR_HISTORY_TIMEOUT if that is not enough; in an
//   indicator it "immediately returns all available ticks" with no error and the sync goes on.
//   How a synchronization progresses is not documented: it lands in one piece at its end, or
//   (`tick_sync_steps` N > 1) back from the first tick on disk in N equal pieces, the newest
//   first, one every `tick_sync_ms` / N;
// - the symbol's thread: "All indicators calculated on one symbol ... work in the same thread
//   ... All other actions associated with a symbol, like processing of ticks and history
//   synchronization, are also consistently performed in the same thread"
//   (mql5.com/en/docs/runtime/running). The time the symbol's indicators spend in their
//   handlers (as measured, plus `indicator_call_us` per history call: CopyTicks*, CopyRates,
//   CopyTime) is time its synchronization does not progress; control `symbol_thread
//   <symbol>` prints the history calls its indicators made, by handler;
// - a hedging book: OrderSend blocks for `order_latency_ms`, may fill in several deals
//   (`deal_max_volume`) or partially (IOC beyond `liquidity`: TRADE_RETCODE_DONE_PARTIAL), and
//   raises OnTradeTransaction after the handler returns, HISTORY_ADD and REQUEST included, in
//   the order of the MQL5 Book's TradeTransactions.mq5 log (ORDER_ADD, DEAL_ADD, ORDER_DELETE,
//   HISTORY_ADD, REQUEST) or shuffled (`tx_order: "shuffle"`: "the order of arrival is not
//   guaranteed"); a filling mode the symbol's `filling_mode` does not allow is 10030, and a
//   market order (a close too) without `price` on a symbol in Request or Instant execution
//   (`trade_exemode` 0 or 1) is 10015: only "Market Execution" takes one without
//   (MqlTradeRequest, field `price`);
// - what the user or the broker does meanwhile (control commands): a close from the terminal's
//   window, a cancelled order, an SL/TP change, a lost broker connection, Algo Trading off,
//   and `answer_next <retcode>`: the next OrderSend executes as usual but the server's answer
//   is that retcode (a 10012 TIMEOUT after the deal was made, as a broker can answer);
//   these land step by step, the EA seeing each step's transaction before the next one lands
//   (an ORDER_DELETE before the order reaches the history);
// - the Strategy Tester (`tester: true`), where sockets do nothing;
// - BookEvent is broadcast: "if one Expert Advisor subscribes to receiving BookEvent events
//   using MarketBookAdd, all the other Experts Advisors that have the OnBookEvent() handler
//   will receive this event" (control `book_other <symbol> add|release`: another program's
//   subscription);
// - control `globals` prints the terminal's global variables;
// - control `history_waits` prints how many copies made the EA wait for history (an EA that
//   never copies what is not local never waits); controls `indicators` and `series` print the indicator instances and the built series
//   (a series costs memory: "hundreds of megabytes" with deep history on small timeframes).
// Broker latency spread, requotes, margin calls and netting accounts are not modelled.
#pragma once
#include <memory>
#include <random>

#define ERR_HISTORY_NOT_FOUND 4401
#define ERR_HISTORY_WRONG_PROPERTY 4402
#define ERR_HISTORY_TIMEOUT 4403
#define ERR_HISTORY_BARS_LIMIT 4404
#define ERR_HISTORY_LOAD_ERRORS 4405
#define ERR_HISTORY_SMALL_BUFFER 4407
#define ERR_MARKET_UNKNOWN_SYMBOL 4301
#define ERR_MARKET_NOT_SELECTED 4302
#define ERR_MARKET_WRONG_PROPERTY 4303
#define ERR_TRADE_SEND_FAILED 4756
#define ERR_INDICATOR_UNKNOWN_SYMBOL 4801
#define ERR_INDICATOR_CANNOT_CREATE 4802
#define ERR_INDICATOR_WRONG_HANDLE 4807

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


// ---- trade, series and tick enums: MQL5's values --------------------------------------------
enum ENUM_SERIES_INFO_INTEGER { SERIES_BARS_COUNT = 0, SERIES_FIRSTDATE = 1, SERIES_SERVER_FIRSTDATE = 2,
  SERIES_TERMINAL_FIRSTDATE = 3, SERIES_SYNCHRONIZED = 4, SERIES_LASTBAR_DATE = 5 };
enum ENUM_ORDER_TYPE { ORDER_TYPE_BUY = 0, ORDER_TYPE_SELL = 1, ORDER_TYPE_BUY_LIMIT = 2, ORDER_TYPE_SELL_LIMIT = 3,
  ORDER_TYPE_BUY_STOP = 4, ORDER_TYPE_SELL_STOP = 5, ORDER_TYPE_BUY_STOP_LIMIT = 6, ORDER_TYPE_SELL_STOP_LIMIT = 7,
  ORDER_TYPE_CLOSE_BY = 8 };
enum ENUM_ORDER_STATE { ORDER_STATE_STARTED = 0, ORDER_STATE_PLACED = 1, ORDER_STATE_CANCELED = 2, ORDER_STATE_PARTIAL = 3,
  ORDER_STATE_FILLED = 4, ORDER_STATE_REJECTED = 5, ORDER_STATE_EXPIRED = 6, ORDER_STATE_REQUEST_ADD = 7,
  ORDER_STATE_REQUEST_MODIFY = 8, ORDER_STATE_REQUEST_CANCEL = 9 };
enum ENUM_ORDER_TYPE_FILLING { ORDER_FILLING_FOK = 0, ORDER_FILLING_IOC = 1, ORDER_FILLING_RETURN = 2, ORDER_FILLING_BOC = 3 };
enum ENUM_ORDER_TYPE_TIME { ORDER_TIME_GTC = 0, ORDER_TIME_DAY = 1, ORDER_TIME_SPECIFIED = 2, ORDER_TIME_SPECIFIED_DAY = 3 };
enum ENUM_TRADE_REQUEST_ACTIONS { TRADE_ACTION_DEAL = 1, TRADE_ACTION_PENDING = 5, TRADE_ACTION_SLTP = 6,
  TRADE_ACTION_MODIFY = 7, TRADE_ACTION_REMOVE = 8, TRADE_ACTION_CLOSE_BY = 10 };
enum ENUM_TRADE_TRANSACTION_TYPE { TRADE_TRANSACTION_ORDER_ADD = 0, TRADE_TRANSACTION_ORDER_UPDATE = 1,
  TRADE_TRANSACTION_ORDER_DELETE = 2, TRADE_TRANSACTION_HISTORY_ADD = 3, TRADE_TRANSACTION_HISTORY_UPDATE = 4,
  TRADE_TRANSACTION_HISTORY_DELETE = 5, TRADE_TRANSACTION_DEAL_ADD = 6, TRADE_TRANSACTION_DEAL_UPDATE = 7,
  TRADE_TRANSACTION_DEAL_DELETE = 8, TRADE_TRANSACTION_POSITION = 9, TRADE_TRANSACTION_REQUEST = 10 };
enum ENUM_DEAL_ENTRY { DEAL_ENTRY_IN = 0, DEAL_ENTRY_OUT = 1, DEAL_ENTRY_INOUT = 2, DEAL_ENTRY_OUT_BY = 3 };
enum ENUM_DEAL_TYPE { DEAL_TYPE_BUY = 0, DEAL_TYPE_SELL = 1, DEAL_TYPE_BALANCE = 2 };
enum ENUM_POSITION_TYPE { POSITION_TYPE_BUY = 0, POSITION_TYPE_SELL = 1 };
enum ENUM_DEAL_REASON { DEAL_REASON_CLIENT = 0, DEAL_REASON_MOBILE = 1, DEAL_REASON_WEB = 2, DEAL_REASON_EXPERT = 3,
  DEAL_REASON_SL = 4, DEAL_REASON_TP = 5, DEAL_REASON_SO = 6 };
// ENUM_COPY_TICKS: "the first three bits ... determine the set of requested ticks" (MQL5 Book,
// matrices_copyticks): INFO 1, TRADE 2, ALL 3. The MetaTrader5 Python package's COPY_TICKS_ALL
// is -1: an EA must translate, never pass the wire value on.
enum ENUM_COPY_TICKS { COPY_TICKS_INFO = 1, COPY_TICKS_TRADE = 2, COPY_TICKS_ALL = 3 };
#define TICK_FLAG_BID 2
#define TICK_FLAG_ASK 4
#define TICK_FLAG_LAST 8
#define TICK_FLAG_VOLUME 16
#define TICK_FLAG_BUY 32
#define TICK_FLAG_SELL 64
#define SYMBOL_FILLING_FOK 1
#define SYMBOL_FILLING_IOC 2
#define SYMBOL_FILLING_BOC 4
#define SYMBOL_TRADE_EXECUTION_REQUEST 0
#define SYMBOL_TRADE_EXECUTION_INSTANT 1
#define SYMBOL_TRADE_EXECUTION_MARKET 2
#define SYMBOL_TRADE_EXECUTION_EXCHANGE 3
#define TRADE_RETCODE_PLACED 10008
#define TRADE_RETCODE_DONE 10009
#define TRADE_RETCODE_DONE_PARTIAL 10010
#define TRADE_RETCODE_REJECT 10006
#define TRADE_RETCODE_INVALID 10013
#define TRADE_RETCODE_INVALID_VOLUME 10014
#define TRADE_RETCODE_INVALID_PRICE 10015
#define TRADE_RETCODE_MARKET_CLOSED 10018
#define TRADE_RETCODE_NO_MONEY 10019
#define TRADE_RETCODE_INVALID_FILL 10030
#define TRADE_RETCODE_CONNECTION 10031
#define TRADE_RETCODE_POSITION_CLOSED 10036

struct MqlTick { datetime time; double bid = 0, ask = 0, last = 0; ulong volume = 0; long time_msc = 0; uint flags = 0; double volume_real = 0; };
// MqlBookInfo and ENUM_BOOK_TYPE as the MQL5 reference lists them.
enum ENUM_BOOK_TYPE { BOOK_TYPE_SELL = 1, BOOK_TYPE_BUY = 2, BOOK_TYPE_SELL_MARKET = 3, BOOK_TYPE_BUY_MARKET = 4 };
struct MqlBookInfo { ENUM_BOOK_TYPE type = BOOK_TYPE_SELL; double price = 0; long volume = 0; double volume_real = 0; };
struct MqlRates { datetime time; double open = 0, high = 0, low = 0, close = 0; long tick_volume = 0; int spread = 0; long real_volume = 0; };
struct MqlTradeRequest {
  ENUM_TRADE_REQUEST_ACTIONS action = (ENUM_TRADE_REQUEST_ACTIONS)0; ulong magic = 0, order = 0; string symbol;
  double volume = 0, price = 0, stoplimit = 0, sl = 0, tp = 0; ulong deviation = 0;
  ENUM_ORDER_TYPE type = ORDER_TYPE_BUY; ENUM_ORDER_TYPE_FILLING type_filling = ORDER_FILLING_FOK;
  ENUM_ORDER_TYPE_TIME type_time = ORDER_TIME_GTC; datetime expiration; string comment; ulong position = 0, position_by = 0;
};
struct MqlTradeResult { uint retcode = 0; ulong deal = 0, order = 0; double volume = 0, price = 0, bid = 0, ask = 0; string comment; uint request_id = 0; int retcode_external = 0; };
struct MqlTradeCheckResult { uint retcode = 0; double balance = 0, equity = 0, profit = 0, margin = 0, margin_free = 0, margin_level = 0; string comment; };
struct MqlTradeTransaction {
  ulong deal = 0, order = 0; string symbol; ENUM_TRADE_TRANSACTION_TYPE type = TRADE_TRANSACTION_ORDER_ADD;
  ENUM_ORDER_TYPE order_type = ORDER_TYPE_BUY; ENUM_ORDER_STATE order_state = ORDER_STATE_STARTED; ENUM_DEAL_TYPE deal_type = DEAL_TYPE_BUY;
  ENUM_ORDER_TYPE_TIME time_type = ORDER_TIME_GTC; datetime time_expiration; double price = 0, price_trigger = 0, price_sl = 0,
  price_tp = 0, volume = 0; ulong position = 0, position_by = 0;
};

// ---- the terminal's state -----------------------------------------------------------------------
struct FakeRecord { std::map<std::string, double> n; std::map<std::string, std::string> s; };
struct FakeSeries { int64_t ready_ns = 0; bool started = false; int depth = 0; int extend_to = 0; int64_t extend_ready_ns = 0; };
struct FakeSymbol {
  std::string name; FakeRecord p; std::vector<MqlTick> ticks; bool selected = true;
  std::vector<MqlTick> live; std::vector<int64_t> live_at_ns; size_t live_next = 0;  // arrivals still to come
  std::vector<MqlRates> m1;
  std::map<int, FakeSeries> series; int64_t series_build_ns = 30000000; int series_depth = 0;
  long ticks_local_from_ms = 0; int64_t tick_sync_ns = 0; long sync_from_ms = 0; int64_t sync_ready_ns = 0;
  int tick_sync_steps = 1; long sync_base_ms = 0;  // progressive sync: from where the disk started, in steps
  long thread_calls[3] = {0, 0, 0};  // history calls of its indicators: init/deinit, calculate, timer
  int64_t thread_busy_ns = 0;        // the symbol's thread in its indicators' handlers
  double deal_max_volume = 0, liquidity = 0;
  int book_subscriptions = 0;        // this program's MarketBookAdd calls
  int other_book_subscriptions = 0;  // other programs' (control `book_other`): BookEvent is broadcast
  size_t out_from_idx = 0;           // out of Market Watch: ticks from this one on did not reach the terminal
  size_t quote_idx = 0;              // ...and its quote is the one before this (a synchronization of the
                                     // tick database brings ticks to disk, not quotes: SymbolInfoTick stays)
  long out_first_ms = -1, out_last_ms = -1;  // the first and last of them (-1: none yet)
  std::vector<std::pair<long, long>> holes;  // tick times the terminal never received (out of Market Watch, no connection)
  size_t back_at = SIZE_MAX;         // back in Market Watch when the server had this many ticks
  bool held = false;                 // its live ticks do not arrive (control `hold`)
  bool stamped_at_arrival = false;   // its live ticks carry the server's time when they arrive
};
struct FakeTerminal {
  FJ fixture; FakeRecord account, terminal;
  std::vector<FakeSymbol> symbols;
  std::vector<FakeRecord> orders, positions, history_orders, deals;
  long long start_ms = 0; ulong next_ticket = 5000; uint request_id = 0;
  bool history_synchronized = true; bool trade_allowed = true; bool connected = true; bool logged_in = true;
  bool tester = false; std::vector<std::string> allowed_hosts{"127.0.0.1"};
  bool quotes = true;          // the quote stream flows (control `quotes`)
  int timer_failures = 0; int order_latency_ms = 0; std::vector<uint> answer_next; bool shuffle_tx = false; std::mt19937_64 rng{42};
  const FakeRecord* selected_order = nullptr; const FakeRecord* selected_position = nullptr;
  std::vector<const FakeRecord*> history_sel_orders, history_sel_deals;
  bool in_indicator = false;  // the running program is an indicator (copies do not wait; no sockets)
  int64_t trade_state_ns = 0; int64_t trade_state_at_ns = 0;  // the trade state arrives this long after the login
  int series_depth = 0;        // bars a series holds when first built (0: all the server has)
  int history_waits = 0;       // copies that made the EA wait for history (control `history_waits`)
  bool nan_next = false;       // the next OrderSend's result carries a NaN price (control `answer_nan`)
  int64_t indicator_call_ns = 0;  // the symbol thread's cost of one history call of an indicator
  int indicator_calls = 0;     // history calls of the indicator handler that runs
};
inline FakeTerminal _term;
// The terminal receives a symbol's quotes: it is in Market Watch and the terminal is connected
// to the trade server ("the terminal receives quotes only for Market Watch symbols"; without
// the connection, none arrive at all), its quote stream flowing (control `quotes`).
inline bool _receiving(const FakeSymbol& s) { return s.selected && _term.connected && _term.quotes; }
// Quotes of `s` stop reaching the terminal: its quote stays the last one received.
inline void _quotes_stop(FakeSymbol& s) { s.out_from_idx = s.quote_idx = s.ticks.size(); s.back_at = SIZE_MAX; }
// They reach it again: the ticks that came meanwhile are a hole in its database, and its quote
// is the one from before until the next tick arrives.
inline void _quotes_resume(FakeSymbol& s) {
  if (s.out_first_ms >= 0) { s.holes.emplace_back(s.out_first_ms, s.out_last_ms); s.back_at = s.ticks.size(); }
  s.out_first_ms = s.out_last_ms = -1;
}
// The trade server's state (positions, orders, history, the connection) is in the terminal.
inline bool _trade_state() { return _term.logged_in && _mono_ns() >= _term.trade_state_at_ns; }
// Set by the harness: what a new tick raises (NewTick, Calculate, BookEvent) and where a trade
// transaction goes (the EA's queue, after the running handler).
inline std::function<void(const std::string&)> _on_tick_arrived;
inline std::function<void(const MqlTradeTransaction&, const MqlTradeRequest&, const MqlTradeResult&)> _tx_sink;

inline bool _sockets_refused() { return _term.tester || _term.in_indicator; }
inline bool _host_allowed(const std::string& host) {
  return std::find(_term.allowed_hosts.begin(), _term.allowed_hosts.end(), host) != _term.allowed_hosts.end();
}

inline FakeRecord _record(const FJ& o) {
  FakeRecord r; for (auto& kv : o.o) { if (kv.second.k == FJ::STR) r.s[kv.first] = kv.second.s; else r.n[kv.first] = kv.second.num(); } return r;
}
inline MqlTick _tick_row(const FJ& row) {  // [time_msc, bid, ask, last, volume, flags, volume_real]
  MqlTick t; t.time_msc = (long)row.a[0].n; t.time = datetime(t.time_msc / 1000); t.bid = row.a[1].n; t.ask = row.a[2].n; t.last = row.a[3].n;
  t.volume = (ulong)row.a[4].n; t.flags = (uint)row.a[5].n; t.volume_real = row.a[6].n; return t;
}
inline void FakeTerminalLoad(const char* path) {
  _term.fixture = FixtureRead(path); const FJ& fx = _term.fixture;
  _term.account = _record(*fx.get("account")); _term.terminal = _record(*fx.get("terminal"));
  _term.start_ms = (long long)fx.get("now_ms")->n;
  _term.history_synchronized = fx.bool_or("history_synchronized", true);
  _term.trade_allowed = fx.bool_or("trade_allowed", true);
  _term.logged_in = fx.bool_or("logged_in", true); _term.connected = _term.logged_in;
  _term.trade_state_ns = (int64_t)(fx.num_or("trade_state_ms", 0) * 1e6);
  _term.trade_state_at_ns = _start_ns + _term.trade_state_ns;
  _term.series_depth = (int)fx.num_or("series_depth_bars", 100);
  _term.tester = fx.bool_or("tester", false);
  _term.timer_failures = (int)fx.num_or("timer_failures", 0);
  _term.order_latency_ms = (int)fx.num_or("order_latency_ms", 0);
  _term.shuffle_tx = fx.str_or("tx_order", "book") == "shuffle";
  _term.indicator_call_ns = (int64_t)(fx.num_or("indicator_call_us", 0) * 1e3);
  _term.rng.seed((uint64_t)fx.num_or("seed", 42));
  if (auto a = fx.get("allowed_hosts")) { _term.allowed_hosts.clear(); for (auto& h : a->a) _term.allowed_hosts.push_back(h.s); }
  if (auto c = fx.get("chart_id")) _chart_id = (long)c->n;
  if (auto c = fx.get("chart_symbol")) _symbol_now = _S(c->s);
  std::exponential_distribution<double> gap(1.0);
  for (auto& kv : fx.get("symbols")->o) {
    const FJ& j = kv.second;
    FakeSymbol s; s.name = kv.first; s.p = _record(*j.get("info"));
    s.selected = s.p.n["select"] != 0;
    for (auto& r : j.get("ticks")->a) s.ticks.push_back(_tick_row(r));
    s.out_from_idx = s.quote_idx = s.ticks.size();
    for (auto& r : j.get("live")->a) s.live.push_back(_tick_row(r));
    // arrival times: evenly spaced, or a Poisson stream of the given rate
    double start_ms = j.num_or("live_start_ms", 250), every = j.num_or("live_every_ms", 20), hz = j.num_or("live_poisson_hz", 0);
    double at = start_ms;
    for (size_t k = 0; k < s.live.size(); ++k) {
      at += hz > 0 ? gap(_term.rng) * 1000.0 / hz : (k == 0 ? 0 : every);
      s.live_at_ns.push_back((int64_t)(at * 1e6));  // from the anchor: see _market_anchor_ns
    }
    for (auto& r : j.get("m1")->a) { MqlRates b; b.time = datetime((long)r.a[0].n); b.open = r.a[1].n; b.high = r.a[2].n; b.low = r.a[3].n;
      b.close = r.a[4].n; b.tick_volume = (long)r.a[5].n; b.spread = (int)r.a[6].n; b.real_volume = (long)r.a[7].n; s.m1.push_back(b); }
    bool never = !_term.history_synchronized;
    s.series_build_ns = never ? (int64_t)1e15 : (int64_t)(j.num_or("series_build_ms", fx.num_or("series_build_ms", 30)) * 1e6);
    s.series_depth = (int)j.num_or("series_depth_bars", _term.series_depth);
    s.ticks_local_from_ms = (long)j.num_or("ticks_local_from_ms", fx.num_or("ticks_local_from_ms", 0));
    s.tick_sync_ns = never ? (int64_t)1e15 : (int64_t)(j.num_or("tick_sync_ms", fx.num_or("tick_sync_ms", 200)) * 1e6);
    s.tick_sync_steps = std::max(1, (int)j.num_or("tick_sync_steps", fx.num_or("tick_sync_steps", 1)));
    s.deal_max_volume = j.num_or("deal_max_volume", 0); s.liquidity = j.num_or("liquidity", 0);
    s.stamped_at_arrival = j.bool_or("live_stamped_at_arrival", false);
    if (const FJ* off = j.get("offline_from_ms")) {  // the terminal was closed from then on
      size_t k = 0; while (k < s.ticks.size() && s.ticks[k].time_msc <= (long)off->n) ++k;
      if (k < s.ticks.size()) { s.holes.emplace_back(s.ticks[k].time_msc, s.ticks.back().time_msc); s.out_from_idx = s.quote_idx = k; s.back_at = s.ticks.size(); }
    }
    _term.symbols.push_back(s);
  }
  for (auto& r : fx.get("positions")->a) _term.positions.push_back(_record(r));
  for (auto& r : fx.get("orders")->a) _term.orders.push_back(_record(r));
  for (auto& r : fx.get("history_orders")->a) _term.history_orders.push_back(_record(r));
  for (auto& r : fx.get("deals")->a) _term.deals.push_back(_record(r));
}
// A history call (CopyTicks*, CopyRates, CopyTime): an indicator's costs its symbol's thread.
inline void _history_call() { if (_term.in_indicator) ++_term.indicator_calls; }
// An indicator of `symbol` spent `ns` in a handler that made `calls` history calls (`kind`: 0
// OnInit or OnDeinit, 1 OnCalculate, 2 OnTimer): the symbol's thread did nothing else meanwhile, so a
// synchronization in progress lands that much later.
inline void _symbol_thread_spent(const std::string& symbol, int kind, int calls, int64_t ns) {
  for (auto& s : _term.symbols) if (s.name == symbol) {
    s.thread_calls[kind] += calls; ns += calls * _term.indicator_call_ns; s.thread_busy_ns += ns;
    if (s.sync_ready_ns) s.sync_ready_ns += ns;
  }
}
inline FakeSymbol* _sym(const string& name) { std::string n = name._utf8(); for (auto& s : _term.symbols) if (s.name == n) return &s; return nullptr; }
inline FakeSymbol* _sym8(const std::string& n) { for (auto& s : _term.symbols) if (s.name == n) return &s; return nullptr; }
inline long long _now_ms() { return _term.start_ms + (_mono_ns() - _start_ns) / 1000000; }

// ---- the market moves: ticks arrive at their times ----------------------------------------------
// Called by every function that reads prices, and by the harness's loop: a tick "is in the
// terminal" from its arrival time on, whoever looks. MTGW_STAMP_TICKS=1 (python -m bench --ea)
// puts the arrival time (CLOCK_MONOTONIC, ns) in the tick's volume, so a subscriber can measure
// terminal-has-the-tick -> client-has-it. The wall's CLOCK_MONOTONIC, not the program's: the
// program's clock runs ahead by the Sleeps the kit did not wait out before its first network
// call (mql_clock.h), and a subscriber reads the wall's.
// Live ticks are timed from the end of the EA's first timer pass (the harness sets the anchor),
// so they all come after the EA first looked at Market Watch, however slowly it started.
inline int64_t _market_anchor_ns = INT64_MAX;
// The symbol's next live tick reaches the trade server at `at_ns` (the program's clock), and the
// terminal when it receives the symbol's quotes (`stamp`: the volume the bench reads, 0 to keep
// the fixture's); true then.
inline bool _tick_arrives(FakeSymbol& s, ulong stamp, int64_t at_ns) {
  MqlTick t = s.live[s.live_next];
  if (stamp) t.volume = stamp;
  if (s.stamped_at_arrival) {
    long prev = s.ticks.empty() ? 0 : s.ticks.back().time_msc;
    t.time_msc = std::max(prev, (long)(_term.start_ms + (at_ns - _start_ns) / 1000000)); t.time = datetime(t.time_msc / 1000);
  }
  ++s.live_next; s.ticks.push_back(t);
  if (_receiving(s)) return true;
  // out of Market Watch, or no connection: the trade server has it, the terminal does not
  if (s.out_first_ms < 0) s.out_first_ms = t.time_msc;
  s.out_last_ms = t.time_msc;
  return false;
}
inline void _market_advance() {
  static const bool stamp = getenv("MTGW_STAMP_TICKS") != nullptr;
  if (_market_anchor_ns == INT64_MAX) return;
  int64_t now = _mono_ns();
  for (auto& s : _term.symbols) {
    bool arrived = false;
    while (!s.held && s.live_next < s.live.size() && _market_anchor_ns + s.live_at_ns[s.live_next] <= now) {
      int64_t at = _market_anchor_ns + s.live_at_ns[s.live_next];
      arrived = _tick_arrives(s, stamp ? (ulong)(at - _slept_ns) : 0, at) || arrived;
    }
    if (arrived && _on_tick_arrived) _on_tick_arrived(s.name);
  }
}
// When the next tick arrives (INT64_MAX when none will).
inline int64_t _market_next_ns() {
  int64_t next = INT64_MAX;
  if (_market_anchor_ns == INT64_MAX) return next;
  for (auto& s : _term.symbols) if (!s.held && s.live_next < s.live.size()) next = std::min(next, _market_anchor_ns + s.live_at_ns[s.live_next]);
  return next;
}
// The symbol's last quote in the terminal: out of Market Watch, the last one before it left; back
// in it, still that one until the next tick arrives (the terminal received none meanwhile).
inline const MqlTick* _last_tick(FakeSymbol& s) {
  _market_advance();
  bool stale = !_receiving(s) || (s.back_at != SIZE_MAX && s.ticks.size() <= s.back_at);
  size_t n = stale ? std::min(s.quote_idx, s.ticks.size()) : s.ticks.size();
  return n == 0 ? nullptr : &s.ticks[n - 1];
}

// ---- account, terminal, program --------------------------------------------------------------------
inline double _positions_profit();
inline double _positions_margin();
inline long AccountInfoInteger(ENUM_ACCOUNT_INFO_INTEGER p) { if (!_term.logged_in) return 0; return (long)_term.account.n[_field(p)]; }
inline double AccountInfoDouble(ENUM_ACCOUNT_INFO_DOUBLE p) {
  if (!_term.logged_in) return 0;
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
inline string AccountInfoString(ENUM_ACCOUNT_INFO_STRING p) { if (!_term.logged_in) return string(); return _S(_term.account.s[_field(p)]); }
// TerminalInfoInteger and MQLInfoInteger return int in MQL5 (not long).
inline int TerminalInfoInteger(ENUM_TERMINAL_INFO_INTEGER p) {
  if (p == TERMINAL_TRADE_ALLOWED) return _term.trade_allowed;
  if (p == TERMINAL_CONNECTED) return _term.connected && _trade_state();
  return (int)_term.terminal.n[_field(p)];
}
inline double TerminalInfoDouble(ENUM_TERMINAL_INFO_DOUBLE p) { return _term.terminal.n[_field(p)]; }
inline string TerminalInfoString(ENUM_TERMINAL_INFO_STRING p) { return _S(_term.terminal.s[_field(p)]); }
inline int MQLInfoInteger(ENUM_MQL_INFO_INTEGER p) {
  if (p == MQL_TRADE_ALLOWED) return 1;
  if (p == MQL_TESTER) return _term.tester;
  if (p == MQL_PROGRAM_TYPE) return _term.in_indicator ? PROGRAM_INDICATOR : PROGRAM_EXPERT;
  return 0;
}
inline string MQLInfoString(ENUM_MQL_INFO_STRING) { return "MTGateway"_s; }
inline datetime TimeTradeServer() { return datetime((long)(_now_ms() / 1000)); }
inline datetime TimeCurrent() { return TimeTradeServer(); }
inline datetime TimeGMT() { return TimeTradeServer() - (int)_term.fixture.get("tz_offset_s")->n; }
inline datetime TimeLocal() { return TimeTradeServer(); }
// EventSetMillisecondTimer can fail (fixture `timer_failures`: the first n calls do). In an
// indicator it sets that indicator's own timer (the harness's hooks).
inline int _timer_ms = 0;
inline int64_t _timer_due_ns = 0;
inline std::function<bool(int)> _ind_set_timer;
inline bool EventSetMillisecondTimer(int ms) {
  if (_term.in_indicator && _ind_set_timer) return _ind_set_timer(ms);
  if (_term.timer_failures > 0) { --_term.timer_failures; _last_error = ERR_INTERNAL_ERROR; return false; }
  if (ms <= 0) { _last_error = ERR_INVALID_PARAMETER; return false; }
  _timer_ms = ms; _timer_due_ns = _mono_ns() + (int64_t)ms * 1000000; return true;
}
inline bool EventSetTimer(int seconds) { return EventSetMillisecondTimer(seconds * 1000); }
inline void EventKillTimer() { if (_term.in_indicator && _ind_set_timer) { _ind_set_timer(0); return; } _timer_ms = 0; }

// ---- symbols ----------------------------------------------------------------------------------------
inline int SymbolsTotal(bool selected) { int n = 0; for (auto& s : _term.symbols) if (!selected || s.selected) ++n; return n; }
inline string SymbolName(int pos, bool selected) {
  int n = 0; for (auto& s : _term.symbols) if (!selected || s.selected) { if (n == pos) return _S(s.name); ++n; }
  _last_error = ERR_MARKET_UNKNOWN_SYMBOL; return string();
}
inline bool SymbolExist(const string& name, bool& is_custom) { is_custom = false; return _sym(name) != nullptr; }
inline bool SymbolSelect(const string& name, bool select) {
  FakeSymbol* s = _sym(name); if (!s) { _last_error = ERR_MARKET_UNKNOWN_SYMBOL; return false; }
  _market_advance();
  bool was = _receiving(*s);
  s->selected = select;
  if (was && !_receiving(*s)) _quotes_stop(*s);
  if (!was && _receiving(*s)) _quotes_resume(*s);
  s->p.n["select"] = select; s->p.n["visible"] = select; return true;
}
// SymbolIsSynchronized: the symbol's data (bars) against the server, not its tick database.
inline bool SymbolIsSynchronized(const string& name) { FakeSymbol* s = _sym(name); return s && _term.history_synchronized; }
inline bool SymbolInfoTick(const string& name, MqlTick& t) {
  FakeSymbol* s = _sym(name); if (!s) { _last_error = ERR_MARKET_UNKNOWN_SYMBOL; return false; }
  const MqlTick* last = _last_tick(*s); if (!last) { _last_error = ERR_MARKET_UNKNOWN_SYMBOL; return false; }
  t = *last; return true;
}
inline long SymbolInfoInteger(const string& name, ENUM_SYMBOL_INFO_INTEGER p) {
  FakeSymbol* s = _sym(name); if (!s) { _last_error = ERR_MARKET_UNKNOWN_SYMBOL; return 0; }
  if (p == SYMBOL_TIME) { const MqlTick* t = _last_tick(*s); if (t) return (long)t->time; }
  return (long)s->p.n[_field(p)];
}
inline double SymbolInfoDouble(const string& name, ENUM_SYMBOL_INFO_DOUBLE p) {
  FakeSymbol* s = _sym(name); if (!s) { _last_error = ERR_MARKET_UNKNOWN_SYMBOL; return 0; }
  if (p == SYMBOL_BID || p == SYMBOL_ASK) { const MqlTick* t = _last_tick(*s); if (t) return p == SYMBOL_BID ? t->bid : t->ask; }
  return s->p.n[_field(p)];
}
inline string SymbolInfoString(const string& name, ENUM_SYMBOL_INFO_STRING p) {
  FakeSymbol* s = _sym(name); if (!s) { _last_error = ERR_MARKET_UNKNOWN_SYMBOL; return string(); } return _S(s->p.s[_field(p)]);
}
// Depth of Market subscriptions: BookEvent comes for a subscribed symbol that has a book
// (SYMBOL_TICKS_BOOKDEPTH > 0), on each change (here: each tick); "OnBookEvent events are queued
// even if the processing of the previous OnBookEvent event has not yet been completed".
inline bool MarketBookAdd(const string& name) {
  FakeSymbol* s = _sym(name); if (!s) { _last_error = ERR_MARKET_UNKNOWN_SYMBOL; return false; }
  if (!s->selected) SymbolSelect(name, true);  // "it will be added to the window automatically"
  ++s->book_subscriptions; return true;
}
inline bool MarketBookRelease(const string& name) {
  FakeSymbol* s = _sym(name); if (!s || s->book_subscriptions == 0) { _last_error = ERR_INVALID_PARAMETER; return false; }
  --s->book_subscriptions; return true;
}
// The book of a subscribed symbol with a depth (false otherwise, as MT5 fails then): the fixture
// has no order flow, so the book is the emulator's (ea_bridge/emulator/book.py) from the last
// tick: ticks_bookdepth sell levels from the ask up, as many buy levels from the bid down, one
// point apart, sells first and prices descending, volume_min * 10 * (level + 1) at each level.
inline bool MarketBookGet(const string& name, MqlArray<MqlBookInfo>& book) {
  FakeSymbol* s = _sym(name); if (!s) { _last_error = ERR_MARKET_UNKNOWN_SYMBOL; return false; }
  int depth = (int)s->p.n["ticks_bookdepth"];
  const MqlTick* last = _last_tick(*s);
  if (s->book_subscriptions + s->other_book_subscriptions == 0 || depth <= 0 || !last) { _last_error = ERR_INVALID_PARAMETER; return false; }
  double point = s->p.n["point"], vmin = s->p.n["volume_min"], scale = std::pow(10.0, s->p.n["digits"]);
  auto level = [&](ENUM_BOOK_TYPE type, double price, int k) {
    MqlBookInfo b; b.type = type; b.price = std::round(price * scale) / scale;
    b.volume_real = std::round(vmin * 10 * (k + 1) * 1e8) / 1e8; b.volume = std::max(1L, (long)b.volume_real);
    return b;
  };
  book._v.clear();
  for (int k = depth - 1; k >= 0; --k) book._v.push_back(level(BOOK_TYPE_SELL, last->ask + k * point, k));
  for (int k = 0; k < depth; ++k) book._v.push_back(level(BOOK_TYPE_BUY, last->bid - k * point, k));
  return true;
}

// ---- bars -------------------------------------------------------------------------------------------
inline int PeriodSeconds(ENUM_TIMEFRAMES tf) {
  int v = (int)tf;
  if (v == 0) v = (int)_period_now;
  if (v >= 1 && v <= 30) return v * 60;
  if (v > 16384 && v < 16408) return (v - 16384) * 3600;
  if (v == 16408) return 86400;
  if (v == 32769) return 604800;
  if (v == 49153) return 2592000;
  return 0;
}
inline std::vector<MqlRates> _bars(const FakeSymbol& s, ENUM_TIMEFRAMES tf) {
  long sec = PeriodSeconds(tf); std::vector<MqlRates> out; if (sec == 0 || tf == PERIOD_W1 || tf == PERIOD_MN1) return out;
  for (auto& b : s.m1) {
    datetime open = datetime((long)b.time - (long)b.time % sec);
    if (!out.empty() && (long)out.back().time == (long)open) { auto& o = out.back(); o.high = std::max(o.high, b.high); o.low = std::min(o.low, b.low); o.close = b.close; o.tick_volume += b.tick_volume; o.real_volume += b.real_volume; }
    else { MqlRates n = b; n.time = open; out.push_back(n); }
  }
  return out;
}
// A series as the terminal holds it: built on the first request (`series_build_ms`), then
// holding its newest `series_depth_bars` bars (fixture, default 100; 0: all the server has),
// never more than TERMINAL_MAXBARS; "loaded further back on request": a copy that reaches
// past the oldest bar held has the terminal load the missing part (`series_build_ms` again).
// In an EA the copy waits for it (the time it may wait is not documented; 5 s here); from an
// indicator "if requested timeseries are not yet built or they should be downloaded from the
// server, the function will immediately return -1, but the process of downloading/building
// will be initiated" (CopyRates) - except for the indicator's own symbol and timeframe, which
// it cannot have loaded: the reference's CheckLoadHistory refuses it ("Indicator shouldn't load
// its own data") and so does the Standard Library's CSeries::CheckLoadHistory; here such a copy
// answers what is held and loads nothing. "If data outside TERMINAL_MAXBARS (maximal number of
// bars on the chart) is requested, the function will also return -1" (CopyRates): a copy
// reaching further back than the newest TERMINAL_MAXBARS bars fails so, with 4404
// ERR_HISTORY_BARS_LIMIT ("Number of requested bars limited by terminal settings"), and has
// the terminal load the series back to that limit (the reference's CheckLoadHistory steps back
// until `bars >= max_bars`: what lies within the limit is loaded on request).
inline bool _series_ready(FakeSymbol& s, ENUM_TIMEFRAMES tf) { auto& x = s.series[(int)tf]; return x.started && _mono_ns() >= x.ready_ns; }
inline int _maxbars() { int m = (int)_term.terminal.n["maxbars"]; return m > 0 ? m : 100000; }
inline void _series_start(FakeSymbol& s, ENUM_TIMEFRAMES tf) {
  auto& x = s.series[(int)tf];
  if (!x.started) {
    x.started = true; x.ready_ns = _mono_ns() + s.series_build_ns;
    int total = (int)_bars(s, tf).size();
    x.depth = std::min(s.series_depth > 0 ? std::min(s.series_depth, total) : total, _maxbars());
  }
}
// Apply a finished load further back.
inline void _series_settle(FakeSeries& x) { if (x.extend_to > 0 && _mono_ns() >= x.extend_ready_ns) { x.depth = std::max(x.depth, x.extend_to); x.extend_to = 0; } }
inline bool _series_request(FakeSymbol& s, ENUM_TIMEFRAMES tf) {
  _series_start(s, tf); auto& x = s.series[(int)tf];
  if (_mono_ns() >= x.ready_ns) return true;
  if (_term.in_indicator) { _last_error = ERR_HISTORY_NOT_FOUND; return false; }
  ++_term.history_waits;
  _sleep_until_ns(std::min(x.ready_ns, _mono_ns() + (int64_t)5000000000));
  if (_mono_ns() >= x.ready_ns) return true;
  _last_error = ERR_HISTORY_TIMEOUT; return false;
}
inline bool _own_series(const FakeSymbol& s, ENUM_TIMEFRAMES tf) { return _term.in_indicator && s.name == _symbol_now._utf8() && tf == _period_now; }
// The bars held now, oldest first; a copy that needs `need` bars back from the newest first has
// the terminal load them (see above). False: -1 for the caller (loading, or timed out).
inline bool _series_reach(FakeSymbol& s, ENUM_TIMEFRAMES tf, long need, std::vector<MqlRates>& held) {
  auto v = _bars(s, tf); auto& x = s.series[(int)tf]; _series_settle(x);
  if (std::min<long>(need, (long)v.size()) > _maxbars()) {
    long most = std::min<long>((long)v.size(), _maxbars());
    if (most > x.depth && x.extend_to < most && !_own_series(s, tf)) { x.extend_to = (int)most; x.extend_ready_ns = _mono_ns() + s.series_build_ns; }
    _last_error = ERR_HISTORY_BARS_LIMIT; return false;
  }
  long want = std::min<long>(std::min<long>(need, (long)v.size()), _maxbars());
  if (want > x.depth && !_own_series(s, tf)) {
    if (x.extend_to < want) { x.extend_to = (int)want; x.extend_ready_ns = _mono_ns() + s.series_build_ns; }
    if (_term.in_indicator) { _last_error = ERR_HISTORY_NOT_FOUND; return false; }
    ++_term.history_waits;
    _sleep_until_ns(std::min(x.extend_ready_ns, _mono_ns() + (int64_t)5000000000)); _series_settle(x);
    if (x.depth < want) { _last_error = ERR_HISTORY_TIMEOUT; return false; }
  }
  held.assign(v.end() - std::min<long>(x.depth, (long)v.size()), v.end());
  return true;
}
inline long SeriesInfoInteger(const string& name, ENUM_TIMEFRAMES tf, ENUM_SERIES_INFO_INTEGER p) {
  FakeSymbol* s = _sym(name); if (!s) { _last_error = ERR_MARKET_UNKNOWN_SYMBOL; return 0; }
  if (tf == PERIOD_CURRENT) tf = _period_now;
  bool ready = _series_ready(*s, tf);
  if (p == SERIES_SYNCHRONIZED) return ready ? 1 : 0;
  if (p == SERIES_SERVER_FIRSTDATE || p == SERIES_TERMINAL_FIRSTDATE) return s->m1.empty() ? 0 : (long)s->m1.front().time;
  if (!ready) return 0;
  auto v = _bars(*s, tf); auto& x = s->series[(int)tf]; _series_settle(x);
  long held = std::min<long>(x.depth, (long)v.size());
  if (p == SERIES_BARS_COUNT) return held;
  if (p == SERIES_FIRSTDATE) return held == 0 ? 0 : (long)v[v.size() - (size_t)held].time;
  if (p == SERIES_LASTBAR_DATE) return v.empty() ? 0 : (long)v.back().time;
  return 0;
}
inline int Bars(const string& name, ENUM_TIMEFRAMES tf) {
  FakeSymbol* s = _sym(name); if (!s) return 0; if (tf == PERIOD_CURRENT) tf = _period_now;
  return _series_ready(*s, tf) ? (int)SeriesInfoInteger(name, tf, SERIES_BARS_COUNT) : 0;
}
inline int _rates_out(const std::vector<MqlRates>& v, size_t from, size_t to, MqlArray<MqlRates>& out) {
  out._v.assign(v.begin() + (long)from, v.begin() + (long)to); return (int)out._v.size();
}
inline FakeSymbol* _series_for(const string& name, ENUM_TIMEFRAMES& tf) {
  _history_call(); FakeSymbol* s = _sym(name); if (!s) { _last_error = ERR_MARKET_UNKNOWN_SYMBOL; return nullptr; }
  if (tf == PERIOD_CURRENT) tf = _period_now;
  if (PeriodSeconds(tf) == 0) { _last_error = ERR_INVALID_PARAMETER; return nullptr; }
  return _series_request(*s, tf) ? s : nullptr;
}
inline int CopyRates(const string& name, ENUM_TIMEFRAMES tf, datetime start, int count, MqlArray<MqlRates>& out) {
  FakeSymbol* s = _series_for(name, tf); if (!s) return -1; auto all = _bars(*s, tf);
  size_t end = 0; while (end < all.size() && (long)all[end].time <= (long)start) ++end;
  std::vector<MqlRates> v; if (!_series_reach(*s, tf, (long)(all.size() - end) + count, v)) return -1;
  end = 0; while (end < v.size() && (long)v[end].time <= (long)start) ++end;
  size_t from = end > (size_t)count ? end - (size_t)count : 0; return _rates_out(v, from, end, out);
}
inline int CopyRates(const string& name, ENUM_TIMEFRAMES tf, int start_pos, int count, MqlArray<MqlRates>& out) {
  FakeSymbol* s = _series_for(name, tf); if (!s) return -1;
  std::vector<MqlRates> v; if (!_series_reach(*s, tf, (long)start_pos + count, v)) return -1;
  if ((size_t)start_pos >= v.size()) { out._v.clear(); return 0; }
  size_t end = v.size() - (size_t)start_pos; size_t from = end > (size_t)count ? end - (size_t)count : 0; return _rates_out(v, from, end, out);
}
inline int CopyRates(const string& name, ENUM_TIMEFRAMES tf, datetime start, datetime stop, MqlArray<MqlRates>& out) {
  FakeSymbol* s = _series_for(name, tf); if (!s) return -1; auto all = _bars(*s, tf);
  size_t first = 0; while (first < all.size() && (long)all[first].time < (long)start) ++first;
  std::vector<MqlRates> v; if (!_series_reach(*s, tf, (long)(all.size() - first), v)) return -1;
  out._v.clear();
  for (auto& b : v) if ((long)b.time >= (long)start && (long)b.time <= (long)stop) out._v.push_back(b);
  return (int)out._v.size();
}
inline int CopyTime(const string& name, ENUM_TIMEFRAMES tf, int start_pos, int count, MqlArray<datetime>& out) {
  MqlArray<MqlRates> r; int n = CopyRates(name, tf, start_pos, count, r); if (n < 0) return -1;
  out._v.clear(); for (auto& b : r._v) out._v.push_back(b.time); return n;
}
inline int CopyTime(const string& name, ENUM_TIMEFRAMES tf, datetime start, int count, MqlArray<datetime>& out) {
  MqlArray<MqlRates> r; int n = CopyRates(name, tf, start, count, r); if (n < 0) return -1;
  out._v.clear(); for (auto& b : r._v) out._v.push_back(b.time); return n;
}

// ---- ticks and the tick database ------------------------------------------------------------------
inline bool _tick_kind(const MqlTick& t, uint flags) {
  if (flags == COPY_TICKS_INFO) return (t.flags & (TICK_FLAG_BID | TICK_FLAG_ASK)) != 0;
  if (flags == COPY_TICKS_TRADE) return (t.flags & (TICK_FLAG_LAST | TICK_FLAG_VOLUME)) != 0;
  return true;
}
// Whether ticks from `from_msc` on are on disk; reaching before that synchronizes the database
// from `from_msc` to now: an EA waits (at most 45 s), an indicator does not. On return the
// caller gets what is local, and ERR_HISTORY_TIMEOUT ("ticks synchronization waiting time is
// up, the function has sent all it had") when that is not everything asked. In an indicator
// "CopyTicks() immediately returns all available ticks of a symbol and launches
// synchronization of the tick database if available data is not enough ... After
// synchronization, CopyTicks() will return all requested ticks during the next call"
// (mql5.com/en/docs/series/copyticks); the page's own example reads the state off the copy,
// "If the tick history is synchronized, the error code is equal to zero", and the kit keeps
// to it in an indicator as in an EA (an indicator's error code there is what `mtgateway
// check`'s deep_history settles on a terminal).
// Ticks that arrived while the symbol was out of Market Watch never reached the terminal (the
// terminal "receives quotes only for Market Watch symbols"): they are a hole in the database,
// which a copy reaching into it synchronizes like older history.
// A copy needs the ticks from `from_msc` to `to_msc` (CopyTicksRange's end; for CopyTicks, the
// count-th tick from there: "if available data is not enough", and the first ticks of a count
// can be there whatever lies after them); INT64_MAX: up to now.
inline bool _ticks_local(FakeSymbol& s, long from_msc, long to_msc) {
  auto done = [&]() {
    if (!s.sync_ready_ns) return;
    if (_mono_ns() < s.sync_ready_ns) {
      if (s.tick_sync_steps <= 1) return;
      // the pieces landed so far, the newest first
      int64_t step = std::max<int64_t>(1, s.tick_sync_ns / s.tick_sync_steps);
      int64_t landed = (_mono_ns() - (s.sync_ready_ns - s.tick_sync_ns)) / step;
      long reach = s.sync_base_ms - (long)((double)(s.sync_base_ms - s.sync_from_ms) * (double)landed / s.tick_sync_steps);
      s.ticks_local_from_ms = std::min(s.ticks_local_from_ms, reach);
      return;
    }
    s.ticks_local_from_ms = std::min(s.ticks_local_from_ms, s.sync_from_ms); s.sync_ready_ns = 0;
    long from = s.sync_from_ms;
    s.holes.erase(std::remove_if(s.holes.begin(), s.holes.end(), [from](const std::pair<long, long>& h) { return h.second >= from; }), s.holes.end());
    if (!_receiving(s)) { s.out_from_idx = s.ticks.size(); s.out_first_ms = s.out_last_ms = -1; }
  };
  auto local = [&]() {
    if (from_msc < s.ticks_local_from_ms) return false;
    for (auto& h : s.holes) if (h.second >= from_msc && h.first <= to_msc) return false;
    return _receiving(s) || s.out_first_ms < 0 || s.out_last_ms < from_msc || s.out_first_ms > to_msc;
  };
  done();
  if (local()) return true;
  if (s.sync_ready_ns == 0 || from_msc < s.sync_from_ms) {
    s.sync_from_ms = from_msc; s.sync_ready_ns = _mono_ns() + s.tick_sync_ns; s.sync_base_ms = s.ticks_local_from_ms;
  }
  if (!_term.in_indicator) { ++_term.history_waits; _sleep_until_ns(std::min(s.sync_ready_ns, _mono_ns() + (int64_t)45000000000)); done(); }
  return local();
}
// Tick `i` of the server's list is in the terminal's database.
inline bool _on_disk(const FakeSymbol& s, size_t i) {
  const MqlTick& t = s.ticks[i];
  if (t.time_msc < s.ticks_local_from_ms) return false;
  if (!_receiving(s) && i >= s.out_from_idx) return false;
  for (auto& h : s.holes) if (t.time_msc >= h.first && t.time_msc <= h.second) return false;
  return true;
}
inline bool _tick_flags_ok(uint flags) {
  if (flags == COPY_TICKS_INFO || flags == COPY_TICKS_TRADE || flags == COPY_TICKS_ALL) return true;
  _last_error = ERR_INVALID_PARAMETER; return false;  // e.g. the wire's -1 passed on as 0xFFFFFFFF
}
inline int CopyTicks(const string& name, MqlArray<MqlTick>& out, uint flags = COPY_TICKS_ALL, ulong from_msc = 0, uint count = 0) {
  _history_call(); FakeSymbol* s = _sym(name); if (!s) { _last_error = ERR_MARKET_UNKNOWN_SYMBOL; return -1; }
  if (!_tick_flags_ok(flags)) return -1;
  _market_advance(); out._v.clear();
  if (count == 0) count = 2000;
  if (from_msc == 0) {
    for (size_t i = s->ticks.size(); i-- > 0 && out._v.size() < count;) if (_on_disk(*s, i) && _tick_kind(s->ticks[i], flags)) out._v.insert(out._v.begin(), s->ticks[i]);
    return (int)out._v.size();
  }
  long need_to = INT64_MAX; uint seen = 0;  // the count-th tick of the kind asked, on the server
  for (size_t i = 0; i < s->ticks.size(); ++i)
    if (s->ticks[i].time_msc >= (long)from_msc && _tick_kind(s->ticks[i], flags) && ++seen == count) { need_to = s->ticks[i].time_msc; break; }
  bool complete = _ticks_local(*s, (long)from_msc, need_to);
  for (size_t i = 0; i < s->ticks.size() && out._v.size() < count; ++i)
    if (s->ticks[i].time_msc >= (long)from_msc && _on_disk(*s, i) && _tick_kind(s->ticks[i], flags)) out._v.push_back(s->ticks[i]);
  if (!complete) _last_error = ERR_HISTORY_TIMEOUT;
  return (int)out._v.size();
}
inline int CopyTicksRange(const string& name, MqlArray<MqlTick>& out, uint flags = COPY_TICKS_ALL, ulong from_msc = 0, ulong to_msc = 0) {
  _history_call(); FakeSymbol* s = _sym(name); if (!s) { _last_error = ERR_MARKET_UNKNOWN_SYMBOL; return -1; }
  if (!_tick_flags_ok(flags)) return -1;
  _market_advance(); out._v.clear();
  bool complete = _ticks_local(*s, (long)from_msc, to_msc == 0 ? INT64_MAX : (long)to_msc);
  for (size_t i = 0; i < s->ticks.size(); ++i) {
    const MqlTick& t = s->ticks[i];
    if (t.time_msc >= (long)from_msc && (to_msc == 0 || (ulong)t.time_msc <= to_msc) && _on_disk(*s, i) && _tick_kind(t, flags)) out._v.push_back(t);
  }
  if (!complete) _last_error = ERR_HISTORY_TIMEOUT;
  return (int)out._v.size();
}

// ---- orders, positions, history ------------------------------------------------------------------------
inline double _contract(const std::string& sym) { FakeSymbol* s = _sym8(sym); return s ? s->p.n["trade_contract_size"] : 1; }
// Money is in the account's currency, as the terminal reports profit, margin and equity: an
// amount in the symbol's profit currency (yen for USDJPY) times the rate its tick value
// carries (SYMBOL_TRADE_TICK_VALUE is "the value of SYMBOL_TRADE_TICK_SIZE ... in the deposit
// currency": tick_value / (tick_size * contract size), 1/150 for USDJPY on a USD account).
// Counting yen as dollars made 0.01 lot of USDJPY moving 0.1 yen a loss of 100 USD, not 0.67.
inline double _to_account(const std::string& sym) {
  FakeSymbol* s = _sym8(sym); if (!s) return 1;
  double size = s->p.n["trade_tick_size"], value = s->p.n["trade_tick_value"], contract = s->p.n["trade_contract_size"];
  return size > 0 && value > 0 && contract > 0 ? value / (size * contract) : 1;
}
inline double _money(const std::string& sym, double move, double volume) {
  return std::round(move * volume * _contract(sym) * _to_account(sym) * 100) / 100;
}
inline double _position_profit(const FakeRecord& p) {
  FakeSymbol* s = _sym8(p.s.at("symbol")); const MqlTick* t = s ? _last_tick(*s) : nullptr; if (!t) return 0;
  bool buy = p.n.at("type") == 0; double cur = buy ? t->bid : t->ask;
  return _money(p.s.at("symbol"), buy ? cur - p.n.at("price_open") : p.n.at("price_open") - cur, p.n.at("volume"));
}
inline double _positions_profit() { double sum = 0; for (auto& p : _term.positions) sum += _position_profit(p); return sum; }
inline double _margin_of(const std::string& sym, double volume, double price) {
  double lev = _term.account.n["leverage"]; return _money(sym, price / (lev > 0 ? lev : 1), volume);
}
inline double _positions_margin() { double sum = 0; for (auto& p : _term.positions) sum += _margin_of(p.s.at("symbol"), p.n.at("volume"), p.n.at("price_open")); return sum; }
inline void _refresh(FakeRecord& p) {
  FakeSymbol* s = _sym8(p.s["symbol"]); const MqlTick* t = s ? _last_tick(*s) : nullptr;
  if (t) { p.n["price_current"] = p.n["type"] == 0 ? t->bid : t->ask; p.n["profit"] = _position_profit(p); }
}
// Before login the terminal shows no trading state.
inline int OrdersTotal() { return _trade_state() ? (int)_term.orders.size() : 0; }
inline ulong OrderGetTicket(int i) { if (i < 0 || i >= OrdersTotal()) return 0; _term.selected_order = &_term.orders[(size_t)i]; return (ulong)_term.orders[(size_t)i].n.at("ticket"); }
inline bool OrderSelect(ulong ticket) { if (!_trade_state()) return false; for (auto& o : _term.orders) if ((ulong)o.n.at("ticket") == ticket) { _term.selected_order = &o; return true; } return false; }
inline long OrderGetInteger(ENUM_ORDER_PROPERTY_INTEGER p) { return _term.selected_order ? (long)_term.selected_order->n.at(_field(p)) : 0; }
inline double OrderGetDouble(ENUM_ORDER_PROPERTY_DOUBLE p) { return _term.selected_order ? _term.selected_order->n.at(_field(p)) : 0; }
inline string OrderGetString(ENUM_ORDER_PROPERTY_STRING p) { return _term.selected_order ? _S(_term.selected_order->s.at(_field(p))) : string(); }
inline int PositionsTotal() { return _trade_state() ? (int)_term.positions.size() : 0; }
inline ulong PositionGetTicket(int i) {
  if (i < 0 || i >= PositionsTotal()) return 0;
  _refresh(_term.positions[(size_t)i]);
  _term.selected_position = &_term.positions[(size_t)i]; return (ulong)_term.positions[(size_t)i].n.at("ticket");
}
inline bool PositionSelectByTicket(ulong ticket) {
  if (!_trade_state()) return false;
  for (auto& p : _term.positions) if ((ulong)p.n.at("ticket") == ticket) { _refresh(p); _term.selected_position = &p; return true; }
  return false;
}
inline long PositionGetInteger(ENUM_POSITION_PROPERTY_INTEGER p) { return _term.selected_position ? (long)_term.selected_position->n.at(_field(p)) : 0; }
inline double PositionGetDouble(ENUM_POSITION_PROPERTY_DOUBLE p) { return _term.selected_position ? _term.selected_position->n.at(_field(p)) : 0; }
inline string PositionGetString(ENUM_POSITION_PROPERTY_STRING p) { return _term.selected_position ? _S(_term.selected_position->s.at(_field(p))) : string(); }
inline bool HistorySelect(datetime from, datetime to) {
  if (!_term.history_synchronized || !_trade_state()) return false;
  _term.history_sel_orders.clear(); _term.history_sel_deals.clear();
  for (auto& o : _term.history_orders) { long t = (long)o.n.at("time_setup"); if (t >= (long)from && t <= (long)to) _term.history_sel_orders.push_back(&o); }
  for (auto& d : _term.deals) { long t = (long)d.n.at("time"); if (t >= (long)from && t <= (long)to) _term.history_sel_deals.push_back(&d); }
  return true;
}
inline bool HistorySelectByPosition(ulong position) {
  if (!_term.history_synchronized || !_trade_state()) return false;
  _term.history_sel_orders.clear(); _term.history_sel_deals.clear();
  for (auto& o : _term.history_orders) if ((ulong)o.n.at("position_id") == position) _term.history_sel_orders.push_back(&o);
  for (auto& d : _term.deals) if ((ulong)d.n.at("position_id") == position) _term.history_sel_deals.push_back(&d);
  return true;
}
inline const FakeRecord* _find(const std::vector<FakeRecord>& v, ulong ticket) { for (auto& r : v) if ((ulong)r.n.at("ticket") == ticket) return &r; return nullptr; }
inline bool HistoryOrderSelect(ulong t) { if (!_trade_state()) return false; const FakeRecord* r = _find(_term.history_orders, t); if (!r) return false; _term.history_sel_orders.assign(1, r); return true; }
inline bool HistoryDealSelect(ulong t) { if (!_trade_state()) return false; const FakeRecord* r = _find(_term.deals, t); if (!r) return false; _term.history_sel_deals.assign(1, r); return true; }
inline int HistoryOrdersTotal() { return (int)_term.history_sel_orders.size(); }
inline int HistoryDealsTotal() { return (int)_term.history_sel_deals.size(); }
inline ulong HistoryOrderGetTicket(int i) { return i >= 0 && i < HistoryOrdersTotal() ? (ulong)_term.history_sel_orders[(size_t)i]->n.at("ticket") : 0; }
inline ulong HistoryDealGetTicket(int i) { return i >= 0 && i < HistoryDealsTotal() ? (ulong)_term.history_sel_deals[(size_t)i]->n.at("ticket") : 0; }
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
  if (!_sym(sym)) { _last_error = ERR_MARKET_UNKNOWN_SYMBOL; return false; } margin = _margin_of(sym._utf8(), volume, price); return true;
}
inline bool OrderCalcProfit(ENUM_ORDER_TYPE type, const string& sym, double volume, double open, double close, double& profit) {
  if (!_sym(sym)) { _last_error = ERR_MARKET_UNKNOWN_SYMBOL; return false; }
  profit = _money(sym._utf8(), type == ORDER_TYPE_BUY ? close - open : open - close, volume); return true;
}
inline MqlTradeTransaction _txn(ENUM_TRADE_TRANSACTION_TYPE type, ulong order, ulong deal, ulong position, const std::string& sym) {
  MqlTradeTransaction t; t.type = type; t.order = order; t.deal = deal; t.position = position; t.symbol = _S(sym); return t;
}
inline void _post_tx(const MqlTradeTransaction& t) { if (_tx_sink) _tx_sink(t, MqlTradeRequest{}, MqlTradeResult{}); }
inline bool _known_action(ENUM_TRADE_REQUEST_ACTIONS a) {
  return a == TRADE_ACTION_DEAL || a == TRADE_ACTION_PENDING || a == TRADE_ACTION_SLTP || a == TRADE_ACTION_MODIFY
      || a == TRADE_ACTION_REMOVE || a == TRADE_ACTION_CLOSE_BY;
}
inline uint _validate(const MqlTradeRequest& r, FakeSymbol*& s, std::string& why) {
  s = _sym(r.symbol);
  if (!_trade_state() || !_term.connected) { why = "No connection with the trade server"; return TRADE_RETCODE_CONNECTION; }
  if (r.action == TRADE_ACTION_DEAL || r.action == TRADE_ACTION_PENDING) {
    if (!s) { why = "Invalid request"; return TRADE_RETCODE_INVALID; }
    if (r.volume <= 0 || r.volume < s->p.n["volume_min"] || r.volume > s->p.n["volume_max"]) { why = "Invalid volume"; return TRADE_RETCODE_INVALID_VOLUME; }
    if (_last_tick(*s) == nullptr) { why = "Market is closed"; return TRADE_RETCODE_MARKET_CLOSED; }
    // FOK and IOC where the symbol's filling_mode allows them; RETURN for a pending order,
    // and for a market order in Exchange execution (MetaTrader 5's own help, "Fill Policy":
    // "For market orders, the Return policy is used only in the Exchange Execution mode"; the
    // reference's ENUM_ORDER_TYPE_FILLING says Market or Exchange, and a broker was seen
    // refusing it in Market execution: the kit keeps the stricter). In Request and Instant
    // execution "the Fill or Kill policy is always used for market orders ... there is no
    // need to specify a fill policy" (SYMBOL_FILLING_MODE): any is taken, and FOK applies
    // (_plan_fill). The emulator's rule too: mt5model/rules.py check_filling.
    int mode = (int)s->p.n["filling_mode"], exe = (int)s->p.n["trade_exemode"];
    bool ok = r.type_filling == ORDER_FILLING_FOK ? (mode & SYMBOL_FILLING_FOK) != 0
            : r.type_filling == ORDER_FILLING_IOC ? (mode & SYMBOL_FILLING_IOC) != 0
            : r.type_filling == ORDER_FILLING_RETURN ? r.action == TRADE_ACTION_PENDING || exe == SYMBOL_TRADE_EXECUTION_EXCHANGE : false;
    if (r.action == TRADE_ACTION_DEAL && (exe == SYMBOL_TRADE_EXECUTION_REQUEST || exe == SYMBOL_TRADE_EXECUTION_INSTANT)
        && r.type_filling <= ORDER_FILLING_RETURN) ok = true;
    if (!ok) { why = "Unsupported filling mode"; return TRADE_RETCODE_INVALID_FILL; }
    // "Market orders of symbols, whose execution type is 'Market Execution' ... do not
    // require specification of price" (MqlTradeRequest): in Request and Instant execution
    // they do, closes included
    if (r.action == TRADE_ACTION_DEAL && (exe == SYMBOL_TRADE_EXECUTION_REQUEST || exe == SYMBOL_TRADE_EXECUTION_INSTANT) && !(r.price > 0)) {
      why = "Invalid price"; return TRADE_RETCODE_INVALID_PRICE;
    }
  }
  return 0;
}
// The request is taken as the reference declares it, "MqlTradeRequest& request": not const.
[[nodiscard]] inline bool OrderCheck(MqlTradeRequest& r, MqlTradeCheckResult& c) {
  if (!_known_action(r.action)) { _last_error = ERR_INVALID_PARAMETER; return false; }  // the structure check: no retcode
  FakeSymbol* s; std::string why; uint rc = _validate(r, s, why);
  double bal = _term.account.n["balance"], profit = _positions_profit(), margin = _positions_margin();
  if (rc == 0 && r.action == TRADE_ACTION_DEAL && s) { const MqlTick* t = _last_tick(*s); margin += _margin_of(s->name, r.volume, r.type == ORDER_TYPE_BUY ? t->ask : t->bid); }
  c.retcode = rc; c.balance = bal; c.equity = bal + profit; c.profit = profit; c.margin = margin; c.margin_free = bal + profit - margin;
  c.margin_level = margin > 0 ? (bal + profit) / margin * 100 : 0; c.comment = _S(rc == 0 ? "Done" : why);
  if (rc == 0 && c.margin_free < 0) { c.retcode = TRADE_RETCODE_NO_MONEY; c.comment = "No money"_s; }
  return c.retcode == 0;
}
inline FakeRecord _order_rec(const MqlTradeRequest& r, const std::string& sym, ulong ticket, ENUM_ORDER_STATE state, double price, ulong position, long long now, int reason) {
  long sec = (long)(now / 1000);
  FakeRecord o; o.n = {{"ticket", (double)ticket}, {"time_setup", (double)sec}, {"time_setup_msc", (double)now}, {"time_done", 0}, {"time_done_msc", 0},
    {"time_expiration", (double)(long)r.expiration}, {"type", (double)r.type}, {"type_time", (double)r.type_time}, {"type_filling", (double)r.type_filling},
    {"state", (double)state}, {"magic", (double)r.magic}, {"position_id", (double)position}, {"position_by_id", 0}, {"reason", (double)reason},
    {"volume_initial", r.volume}, {"volume_current", r.volume}, {"price_open", price}, {"sl", r.sl}, {"tp", r.tp}, {"price_current", price},
    {"price_stoplimit", r.stoplimit}};
  o.s = {{"symbol", sym}, {"comment", r.comment._utf8()}, {"external_id", ""}}; return o;
}
// A market order's deals: each at most `deal_max_volume`; IOC beyond `liquidity` fills what
// there is (DONE_PARTIAL) and FOK beyond it is rejected. In Request and Instant execution every
// market order is FOK, whatever its type_filling.
struct _Fill { uint retcode = 0; std::vector<double> parts; double filled = 0; };
inline _Fill _plan_fill(const FakeSymbol& s, const MqlTradeRequest& r) {
  _Fill f; double want = r.volume;
  int exe = s.p.n.count("trade_exemode") ? (int)s.p.n.at("trade_exemode") : SYMBOL_TRADE_EXECUTION_MARKET;
  bool fok = r.type_filling == ORDER_FILLING_FOK || exe == SYMBOL_TRADE_EXECUTION_REQUEST || exe == SYMBOL_TRADE_EXECUTION_INSTANT;
  if (s.liquidity > 0 && want > s.liquidity + 1e-9) {
    if (fok) { f.retcode = TRADE_RETCODE_REJECT; return f; }
    want = s.liquidity;
  }
  double step = s.deal_max_volume > 0 ? s.deal_max_volume : want;
  for (double left = want; left > 1e-9; left -= step) f.parts.push_back(std::round(std::min(step, left) * 1e8) / 1e8);
  f.filled = want; f.retcode = want < r.volume - 1e-9 ? TRADE_RETCODE_DONE_PARTIAL : TRADE_RETCODE_DONE;
  return f;
}
// One deal of a market order: the deal into history and the position opened, increased,
// reduced or closed. Returns the deal's ticket.
inline ulong _apply_deal(const MqlTradeRequest& r, FakeSymbol& s, ulong order, ulong position, double part, int reason) {
  const MqlTick& t = *_last_tick(s); bool buy = r.type == ORDER_TYPE_BUY; double price = buy ? t.ask : t.bid;
  long long now = _now_ms(); long sec = (long)(now / 1000);
  FakeRecord* open_pos = nullptr; if (r.position) for (auto& p : _term.positions) if ((ulong)p.n["ticket"] == r.position) open_pos = &p;
  ulong deal = _term.next_ticket++;
  double profit = 0;
  if (open_pos) { FakeRecord closing = *open_pos; closing.n["volume"] = std::min(part, open_pos->n["volume"]); profit = _position_profit(closing); }
  FakeRecord d; d.n = {{"ticket", (double)deal}, {"order", (double)order}, {"time", (double)sec}, {"time_msc", (double)now}, {"type", buy ? 0.0 : 1.0},
         {"entry", open_pos ? 1.0 : 0.0}, {"magic", (double)r.magic}, {"position_id", (double)position}, {"reason", (double)reason}, {"volume", part},
         {"price", price}, {"commission", 0}, {"swap", 0}, {"profit", profit}, {"fee", 0}};
  d.s = {{"symbol", s.name}, {"comment", r.comment._utf8()}, {"external_id", ""}};
  _term.deals.push_back(d);
  if (open_pos) {
    _term.account.n["balance"] += profit;
    open_pos->n["volume"] -= std::min(part, open_pos->n["volume"]);
    if (open_pos->n["volume"] <= 1e-9) _term.positions.erase(_term.positions.begin() + (open_pos - _term.positions.data()));
    return deal;
  }
  FakeRecord* grow = nullptr; for (auto& p : _term.positions) if ((ulong)p.n["ticket"] == position) grow = &p;
  if (grow) { grow->n["volume"] += part; grow->n["time_update"] = (double)sec; grow->n["time_update_msc"] = (double)now; return deal; }
  FakeRecord p; p.n = {{"ticket", (double)position}, {"time", (double)sec}, {"time_msc", (double)now}, {"time_update", (double)sec},
    {"time_update_msc", (double)now}, {"type", buy ? 0.0 : 1.0}, {"magic", (double)r.magic}, {"identifier", (double)position}, {"reason", (double)reason},
    {"volume", part}, {"price_open", price}, {"sl", r.sl}, {"tp", r.tp}, {"price_current", price}, {"swap", 0}, {"profit", 0}};
  p.s = {{"symbol", s.name}, {"comment", r.comment._utf8()}, {"external_id", ""}};
  _term.positions.push_back(p);
  return deal;
}
// A market order as the terminal lives it, one step after another: the order enters the list
// of open ones (ORDER_ADD), its deals land (DEAL_ADD each), it leaves the list (ORDER_DELETE)
// and enters the history (HISTORY_ADD). `steps` receives each step; `res` the result.
inline void _market_steps(const MqlTradeRequest& r, FakeSymbol& s, const _Fill& fill, MqlTradeResult& res, int reason,
                          const std::function<void(std::function<MqlTradeTransaction()>)>& steps) {
  const MqlTick& t = *_last_tick(s); double price = r.type == ORDER_TYPE_BUY ? t.ask : t.bid;
  long long now = _now_ms();
  ulong order = _term.next_ticket++; ulong position = r.position ? r.position : order; std::string sym = s.name;
  FakeRecord started = _order_rec(r, sym, order, ORDER_STATE_STARTED, price, 0, now, reason);
  FakeRecord done = _order_rec(r, sym, order, fill.retcode == TRADE_RETCODE_DONE ? ORDER_STATE_FILLED : ORDER_STATE_PARTIAL, price, position, now, reason);
  done.n["time_done"] = (double)(now / 1000); done.n["time_done_msc"] = (double)now; done.n["volume_current"] = r.volume - fill.filled;
  steps([started, order, sym]() { _term.orders.push_back(started); return _txn(TRADE_TRANSACTION_ORDER_ADD, order, 0, 0, sym); });
  auto last_deal = std::make_shared<ulong>(0);
  for (double part : fill.parts)
    steps([r, sym, order, position, part, reason, last_deal]() {
      FakeSymbol* fs = _sym8(sym); *last_deal = _apply_deal(r, *fs, order, position, part, reason);
      return _txn(TRADE_TRANSACTION_DEAL_ADD, order, *last_deal, position, sym); });
  steps([order, position, sym]() {
    for (size_t k = 0; k < _term.orders.size(); ++k) if ((ulong)_term.orders[k].n["ticket"] == order) { _term.orders.erase(_term.orders.begin() + (long)k); break; }
    return _txn(TRADE_TRANSACTION_ORDER_DELETE, order, 0, position, sym); });
  steps([done, order, position, sym]() { _term.history_orders.push_back(done); return _txn(TRADE_TRANSACTION_HISTORY_ADD, order, 0, position, sym); });
  res.retcode = fill.retcode; res.order = order; res.volume = fill.filled; res.price = price;
  res.bid = t.bid; res.ask = t.ask; res.comment = fill.retcode == TRADE_RETCODE_DONE ? "Request executed"_s : "Request executed partially"_s;
  res.deal = 0; (void)last_deal;
}
// OrderSend waits for the trade server (`order_latency_ms`). It returns false with retcode 0
// when the request fails the terminal's own structure check (ERR_TRADE_SEND_FAILED), and false
// with the server's retcode when the server refuses. Its transactions reach OnTradeTransaction
// after the running handler returns, REQUEST last (or shuffled).
[[nodiscard]] inline bool OrderSend(MqlTradeRequest& r, MqlTradeResult& res) {
  res = MqlTradeResult{}; res.request_id = ++_term.request_id;
  if (!_known_action(r.action)) { _last_error = ERR_TRADE_SEND_FAILED; return false; }
  if (_term.order_latency_ms > 0) _sleep_until_ns(_mono_ns() + (int64_t)_term.order_latency_ms * 1000000);
  FakeSymbol* s; std::string why;
  uint rc = _validate(r, s, why);
  std::vector<MqlTradeTransaction> tx;
  long long now = _now_ms(); long sec = (long)(now / 1000);
  if (rc == 0 && r.action == TRADE_ACTION_DEAL) {
    if (r.position) { bool found = false; for (auto& p : _term.positions) found |= (ulong)p.n["ticket"] == r.position;
      if (!found) { rc = TRADE_RETCODE_POSITION_CLOSED; why = "Position doesn't exist"; } }
    if (rc == 0) {
      _Fill f = _plan_fill(*s, r);
      if (f.parts.empty()) { rc = f.retcode; why = "Request rejected"; }
      else {  // the EA's own order: every step lands before OrderSend returns
        _market_steps(r, *s, f, res, DEAL_REASON_EXPERT, [&](std::function<MqlTradeTransaction()> step) { tx.push_back(step()); });
        for (auto& t : tx) if (t.type == TRADE_TRANSACTION_DEAL_ADD) res.deal = t.deal;
      }
    }
  } else if (rc == 0 && r.action == TRADE_ACTION_PENDING) {
    ulong order = _term.next_ticket++; _term.orders.push_back(_order_rec(r, s->name, order, ORDER_STATE_PLACED, r.price, 0, now, DEAL_REASON_EXPERT));
    tx.push_back(_txn(TRADE_TRANSACTION_ORDER_ADD, order, 0, 0, s->name));
    // a terminal's synchronous OrderSend answers a placed order DONE with the quote, no price
    // (PLACED is what OrderSendAsync reports)
    res.retcode = TRADE_RETCODE_DONE; res.order = order; res.volume = r.volume; res.comment = "Request executed"_s;
    if (const MqlTick* t = _last_tick(*s)) { res.bid = t->bid; res.ask = t->ask; }
  } else if (rc == 0 && (r.action == TRADE_ACTION_REMOVE || r.action == TRADE_ACTION_MODIFY)) {
    rc = TRADE_RETCODE_INVALID; why = "Invalid request";
    for (size_t i = 0; i < _term.orders.size(); ++i) if ((ulong)_term.orders[i].n["ticket"] == r.order) {
      std::string sym = _term.orders[i].s["symbol"]; rc = 0;
      if (r.action == TRADE_ACTION_MODIFY) { _term.orders[i].n["price_open"] = r.price; _term.orders[i].n["sl"] = r.sl; _term.orders[i].n["tp"] = r.tp;
        tx.push_back(_txn(TRADE_TRANSACTION_ORDER_UPDATE, r.order, 0, 0, sym)); }
      else { FakeRecord o = _term.orders[i]; o.n["state"] = ORDER_STATE_CANCELED; o.n["time_done"] = (double)sec; o.n["time_done_msc"] = (double)now;
             _term.history_orders.push_back(o); _term.orders.erase(_term.orders.begin() + (long)i);
             tx.push_back(_txn(TRADE_TRANSACTION_ORDER_DELETE, r.order, 0, 0, sym)); tx.push_back(_txn(TRADE_TRANSACTION_HISTORY_ADD, r.order, 0, 0, sym)); }
      res.retcode = TRADE_RETCODE_DONE; res.order = r.order; res.comment = "Request executed"_s; break;
    }
  } else if (rc == 0 && r.action == TRADE_ACTION_SLTP) {
    rc = TRADE_RETCODE_POSITION_CLOSED; why = "Position doesn't exist";
    for (auto& p : _term.positions) if ((ulong)p.n["ticket"] == r.position) {
      p.n["sl"] = r.sl; p.n["tp"] = r.tp; p.n["time_update"] = (double)sec; p.n["time_update_msc"] = (double)now;
      tx.push_back(_txn(TRADE_TRANSACTION_POSITION, 0, 0, r.position, p.s["symbol"]));
      rc = 0; res.retcode = TRADE_RETCODE_DONE; res.comment = "Request executed"_s; break;
    }
  } else if (rc == 0) { rc = TRADE_RETCODE_INVALID; why = "Invalid request"; }
  if (rc) { res.retcode = rc; res.comment = _S(why); }
  if (!_term.answer_next.empty()) {  // executed (or not) as above; the server answers this retcode
    rc = _term.answer_next.front(); _term.answer_next.erase(_term.answer_next.begin());
    res.retcode = rc; res.comment = "Request answered "_s + _S(std::to_string(rc));
    if (rc == TRADE_RETCODE_DONE || rc == TRADE_RETCODE_PLACED || rc == TRADE_RETCODE_DONE_PARTIAL) rc = 0;
  }
  if (_term.nan_next) { res.price = NAN; _term.nan_next = false; }  // a terminal's number the JSON cannot carry
  if (_term.shuffle_tx) std::shuffle(tx.begin(), tx.end(), _term.rng);
  for (auto& t : tx) _post_tx(t);
  MqlTradeTransaction req; req.type = TRADE_TRANSACTION_REQUEST;
  if (_tx_sink) _tx_sink(req, r, res);
  if (rc) { _last_error = ERR_TRADE_SEND_FAILED; return false; }
  return true;
}

// ---- what the user and the broker do meanwhile (control commands) ------------------------------------------
// The connection to the trade server goes (or comes back): every Market Watch symbol's quotes
// stop (or start again), the ticks of the outage a hole in the terminal's database.
// The connection to the trade server and the quote stream over it: each symbol whose quotes
// stop reaching the terminal keeps its last one, each whose quotes come back has a hole.
inline void _set_link(bool connected, bool quotes) {
  _market_advance();
  std::vector<bool> was; for (auto& s : _term.symbols) was.push_back(_receiving(s));
  _term.connected = connected; _term.quotes = quotes;
  for (size_t k = 0; k < _term.symbols.size(); ++k) {
    FakeSymbol& s = _term.symbols[k];
    if (was[k] && !_receiving(s)) _quotes_stop(s);
    if (!was[k] && _receiving(s)) _quotes_resume(s);
  }
}
inline void _set_connected(bool up) { _set_link(up, _term.quotes); }
// Each lands in steps; the EA handles one step's transaction before the next step lands.
inline std::string _control_close(const std::vector<std::string>& w) {
  if (w.size() < 2) return "usage: close <position ticket>";
  ulong ticket = strtoul(w[1].c_str(), nullptr, 10);
  FakeRecord* pos = nullptr; for (auto& p : _term.positions) if ((ulong)p.n["ticket"] == ticket) pos = &p;
  if (!pos) return "no such position";
  MqlTradeRequest r; r.action = TRADE_ACTION_DEAL; r.symbol = _S(pos->s["symbol"]); r.volume = pos->n["volume"]; r.position = ticket;
  r.type = pos->n["type"] == 0 ? ORDER_TYPE_SELL : ORDER_TYPE_BUY; r.type_filling = ORDER_FILLING_IOC;
  FakeSymbol* s = _sym(r.symbol); if (!s) return "unknown symbol";
  MqlTradeResult res; _Fill f; f.parts = {r.volume}; f.filled = r.volume; f.retcode = TRADE_RETCODE_DONE;
  _market_steps(r, *s, f, res, DEAL_REASON_CLIENT, [](std::function<MqlTradeTransaction()> step) {
    _terminal_steps().push_back([step]() { _post_tx(step()); }); });
  return "";
}
inline std::string _control_cancel(const std::vector<std::string>& w) {
  if (w.size() < 2) return "usage: cancel <order ticket>";
  ulong ticket = strtoul(w[1].c_str(), nullptr, 10);
  for (size_t i = 0; i < _term.orders.size(); ++i) if ((ulong)_term.orders[i].n["ticket"] == ticket) {
    long long now = _now_ms(); FakeRecord o = _term.orders[i]; std::string sym = o.s["symbol"];
    o.n["state"] = ORDER_STATE_CANCELED; o.n["time_done"] = (double)(now / 1000); o.n["time_done_msc"] = (double)now;
    _terminal_steps().push_back([ticket, sym]() {
      for (size_t k = 0; k < _term.orders.size(); ++k) if ((ulong)_term.orders[k].n["ticket"] == ticket) { _term.orders.erase(_term.orders.begin() + (long)k); break; }
      _post_tx(_txn(TRADE_TRANSACTION_ORDER_DELETE, ticket, 0, 0, sym)); });
    _terminal_steps().push_back([o, ticket, sym]() { _term.history_orders.push_back(o); _post_tx(_txn(TRADE_TRANSACTION_HISTORY_ADD, ticket, 0, 0, sym)); });
    return "";
  }
  return "no such order";
}
inline std::string _control_sltp(const std::vector<std::string>& w) {
  if (w.size() < 4) return "usage: sltp <position ticket> <sl> <tp>";
  ulong ticket = strtoul(w[1].c_str(), nullptr, 10);
  for (auto& p : _term.positions) if ((ulong)p.n["ticket"] == ticket) {
    double sl = atof(w[2].c_str()), tp = atof(w[3].c_str()); std::string sym = p.s["symbol"];
    _terminal_steps().push_back([ticket, sl, tp, sym]() {
      for (auto& q : _term.positions) if ((ulong)q.n["ticket"] == ticket) { q.n["sl"] = sl; q.n["tp"] = tp; long long now = _now_ms();
        q.n["time_update"] = (double)(now / 1000); q.n["time_update_msc"] = (double)now; }
      _post_tx(_txn(TRADE_TRANSACTION_POSITION, 0, 0, ticket, sym)); });
    return "";
  }
  return "no such position";
}
inline void _register_terminal_controls() {
  _controls()["close"] = _control_close;
  _controls()["cancel"] = _control_cancel;
  _controls()["sltp"] = _control_sltp;
  _controls()["login"] = [](const std::vector<std::string>&) {
    _term.logged_in = true; _set_connected(true); _term.trade_state_at_ns = _mono_ns() + _term.trade_state_ns; return std::string(); };
  _controls()["broker"] = [](const std::vector<std::string>& w) {
    if (w.size() < 2 || (w[1] != "up" && w[1] != "down")) return std::string("usage: broker up|down");
    _set_connected(w[1] == "up"); return std::string(); };
  _controls()["quotes"] = [](const std::vector<std::string>& w) {
    if (w.size() < 2 || (w[1] != "on" && w[1] != "off")) return std::string("usage: quotes on|off");
    _set_link(_term.connected, w[1] == "on"); return std::string(); };
  // `tick <symbol>`: its next live tick arrives now, held or not, before any program runs again
  // (a quote that comes with the connection's return, say); prints its time_msc.
  _controls()["tick"] = [](const std::vector<std::string>& w) {
    FakeSymbol* s = w.size() > 1 ? _sym8(w[1]) : nullptr; if (!s) return std::string("usage: tick <symbol>");
    _market_advance();
    if (s->live_next >= s->live.size()) return std::string("no live tick left");
    if (_tick_arrives(*s, 0, _mono_ns()) && _on_tick_arrived) _on_tick_arrived(s->name);
    printf("KIT: tick %s %ld\n", s->name.c_str(), s->ticks.back().time_msc); return std::string(); };
  // `server_ticks <symbol> [<to_msc>]`: how many ticks of it the trade server has (up to that time)
  _controls()["server_ticks"] = [](const std::vector<std::string>& w) {
    FakeSymbol* s = w.size() > 1 ? _sym8(w[1]) : nullptr; if (!s) return std::string("usage: server_ticks <symbol> [<to_msc>]");
    _market_advance();
    long to = w.size() > 2 ? strtol(w[2].c_str(), nullptr, 10) : INT64_MAX; size_t n = 0;
    for (auto& t : s->ticks) if (t.time_msc <= to) ++n;
    printf("KIT: server_ticks %s %zu\n", s->name.c_str(), n); return std::string(); };
  _controls()["algo"] = [](const std::vector<std::string>& w) {
    if (w.size() < 2 || (w[1] != "on" && w[1] != "off")) return std::string("usage: algo on|off");
    _term.trade_allowed = w[1] == "on"; return std::string(); };
  _controls()["answer_next"] = [](const std::vector<std::string>& w) {
    if (w.size() < 2 || std::atol(w[1].c_str()) <= 0) return std::string("usage: answer_next <retcode>");
    _term.answer_next.push_back((uint)std::atol(w[1].c_str())); return std::string(); };
  _controls()["book_other"] = [](const std::vector<std::string>& w) {
    if (w.size() < 3 || (w[2] != "add" && w[2] != "release")) return std::string("usage: book_other <symbol> add|release");
    FakeSymbol* s = _sym8(w[1]); if (!s) return std::string("unknown symbol");
    if (w[2] == "add") ++s->other_book_subscriptions; else if (s->other_book_subscriptions > 0) --s->other_book_subscriptions;
    return std::string(); };
  _controls()["answer_nan"] = [](const std::vector<std::string>&) { _term.nan_next = true; return std::string(); };
  _controls()["symbol_thread"] = [](const std::vector<std::string>& w) {
    FakeSymbol* s = w.size() > 1 ? _sym8(w[1]) : nullptr; if (!s) return std::string("usage: symbol_thread <symbol>");
    printf("KIT: symbol_thread %s init=%ld calculate=%ld timer=%ld busy_us=%ld\n", s->name.c_str(), s->thread_calls[0],
           s->thread_calls[1], s->thread_calls[2], (long)(s->thread_busy_ns / 1000));
    return std::string(); };
  _controls()["hold"] = [](const std::vector<std::string>& w) {
    FakeSymbol* s = w.size() > 2 ? _sym8(w[1]) : nullptr;
    if (!s || (w[2] != "on" && w[2] != "off")) return std::string("usage: hold <symbol> on|off");
    _market_advance(); s->held = w[2] == "on"; return std::string(); };
  _controls()["globals"] = [](const std::vector<std::string>&) {
    for (auto& kv : _gvars()) printf("KIT: global %s %.17g\n", kv.first.c_str(), kv.second);
    return std::string(); };
  _controls()["history_waits"] = [](const std::vector<std::string>&) {
    printf("KIT: history_waits %d\n", _term.history_waits); return std::string(); };
  _controls()["series"] = [](const std::vector<std::string>&) {
    for (auto& s : _term.symbols) for (auto& kv : s.series) if (kv.second.started)
      printf("KIT: series %s %d %d\n", s.name.c_str(), kv.first, kv.second.depth);
    return std::string(); };
  _controls()["select"] = [](const std::vector<std::string>& w) {
    if (w.size() < 3) return std::string("usage: select <symbol> 0|1");
    return SymbolSelect(_S(w[1]), w[2] == "1") ? std::string() : std::string("unknown symbol"); };
}

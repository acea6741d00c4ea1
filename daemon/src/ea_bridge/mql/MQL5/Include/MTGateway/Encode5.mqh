//+------------------------------------------------------------------+
//| Encode5.mqh: the terminal's structures as JSON objects with the  |
//| MetaTrader5 Python package's field names (mql5.com/en/docs/      |
//| python_metatrader5), so a bot sees the dict it would get there.  |
//| Prices are written with the symbol's digits, other floats with 8 |
//| significant decimals; every float goes through the NaN guard.    |
//+------------------------------------------------------------------+
#ifndef MTGW_ENCODE5_MQH
#define MTGW_ENCODE5_MQH

#include <MTGateway\Json.mqh>

// A symbol's digits; 0 is a symbol's digits too (index and stock CFDs quoted in whole points).
// The JSON writer keeps one decimal whatever this says, so a price stays a JSON float.
int SymbolDigits(const string symbol)
  {
   long d = SymbolInfoInteger(symbol, SYMBOL_DIGITS);
   return d >= 0 ? (int)d : 8;
  }

void EncodeTick(JsonWriter &w, const MqlTick &t, const int digits)
  {
   w.BeginObj();
   w.KInt("time", (long)t.time);
   w.KDbl("bid", t.bid, digits);
   w.KDbl("ask", t.ask, digits);
   w.KDbl("last", t.last, digits);
   w.KInt("volume", (long)t.volume);
   w.KInt("time_msc", t.time_msc);
   w.KInt("flags", (long)t.flags);
   w.KDbl("volume_real", t.volume_real);
   w.EndObj();
  }

void EncodeSymbol(JsonWriter &w, const string s)
  {
   int dg = SymbolDigits(s);
   w.BeginObj();
   w.KBool("custom", SymbolInfoInteger(s, SYMBOL_CUSTOM) != 0);
   w.KInt("chart_mode", SymbolInfoInteger(s, SYMBOL_CHART_MODE));
   w.KBool("select", SymbolInfoInteger(s, SYMBOL_SELECT) != 0);
   w.KBool("visible", SymbolInfoInteger(s, SYMBOL_VISIBLE) != 0);
   w.KInt("session_deals", SymbolInfoInteger(s, SYMBOL_SESSION_DEALS));
   w.KInt("session_buy_orders", SymbolInfoInteger(s, SYMBOL_SESSION_BUY_ORDERS));
   w.KInt("session_sell_orders", SymbolInfoInteger(s, SYMBOL_SESSION_SELL_ORDERS));
   w.KInt("volume", SymbolInfoInteger(s, SYMBOL_VOLUME));
   w.KInt("volumehigh", SymbolInfoInteger(s, SYMBOL_VOLUMEHIGH));
   w.KInt("volumelow", SymbolInfoInteger(s, SYMBOL_VOLUMELOW));
   w.KInt("time", SymbolInfoInteger(s, SYMBOL_TIME));
   w.KInt("digits", SymbolInfoInteger(s, SYMBOL_DIGITS));
   w.KInt("spread", SymbolInfoInteger(s, SYMBOL_SPREAD));
   w.KBool("spread_float", SymbolInfoInteger(s, SYMBOL_SPREAD_FLOAT) != 0);
   w.KInt("ticks_bookdepth", SymbolInfoInteger(s, SYMBOL_TICKS_BOOKDEPTH));
   w.KInt("trade_calc_mode", SymbolInfoInteger(s, SYMBOL_TRADE_CALC_MODE));
   w.KInt("trade_mode", SymbolInfoInteger(s, SYMBOL_TRADE_MODE));
   w.KInt("start_time", SymbolInfoInteger(s, SYMBOL_START_TIME));
   w.KInt("expiration_time", SymbolInfoInteger(s, SYMBOL_EXPIRATION_TIME));
   w.KInt("trade_stops_level", SymbolInfoInteger(s, SYMBOL_TRADE_STOPS_LEVEL));
   w.KInt("trade_freeze_level", SymbolInfoInteger(s, SYMBOL_TRADE_FREEZE_LEVEL));
   w.KInt("trade_exemode", SymbolInfoInteger(s, SYMBOL_TRADE_EXEMODE));
   w.KInt("swap_mode", SymbolInfoInteger(s, SYMBOL_SWAP_MODE));
   w.KInt("swap_rollover3days", SymbolInfoInteger(s, SYMBOL_SWAP_ROLLOVER3DAYS));
   w.KBool("margin_hedged_use_leg", SymbolInfoInteger(s, SYMBOL_MARGIN_HEDGED_USE_LEG) != 0);
   w.KInt("expiration_mode", SymbolInfoInteger(s, SYMBOL_EXPIRATION_MODE));
   w.KInt("filling_mode", SymbolInfoInteger(s, SYMBOL_FILLING_MODE));
   w.KInt("order_mode", SymbolInfoInteger(s, SYMBOL_ORDER_MODE));
   w.KInt("order_gtc_mode", SymbolInfoInteger(s, SYMBOL_ORDER_GTC_MODE));
   w.KInt("option_mode", SymbolInfoInteger(s, SYMBOL_OPTION_MODE));
   w.KInt("option_right", SymbolInfoInteger(s, SYMBOL_OPTION_RIGHT));
   w.KDbl("bid", SymbolInfoDouble(s, SYMBOL_BID), dg);
   w.KDbl("bidhigh", SymbolInfoDouble(s, SYMBOL_BIDHIGH), dg);
   w.KDbl("bidlow", SymbolInfoDouble(s, SYMBOL_BIDLOW), dg);
   w.KDbl("ask", SymbolInfoDouble(s, SYMBOL_ASK), dg);
   w.KDbl("askhigh", SymbolInfoDouble(s, SYMBOL_ASKHIGH), dg);
   w.KDbl("asklow", SymbolInfoDouble(s, SYMBOL_ASKLOW), dg);
   w.KDbl("last", SymbolInfoDouble(s, SYMBOL_LAST), dg);
   w.KDbl("lasthigh", SymbolInfoDouble(s, SYMBOL_LASTHIGH), dg);
   w.KDbl("lastlow", SymbolInfoDouble(s, SYMBOL_LASTLOW), dg);
   w.KDbl("volume_real", SymbolInfoDouble(s, SYMBOL_VOLUME_REAL));
   w.KDbl("volumehigh_real", SymbolInfoDouble(s, SYMBOL_VOLUMEHIGH_REAL));
   w.KDbl("volumelow_real", SymbolInfoDouble(s, SYMBOL_VOLUMELOW_REAL));
   w.KDbl("option_strike", SymbolInfoDouble(s, SYMBOL_OPTION_STRIKE), dg);
   w.KDbl("point", SymbolInfoDouble(s, SYMBOL_POINT), dg);
   w.KDbl("trade_tick_value", SymbolInfoDouble(s, SYMBOL_TRADE_TICK_VALUE));
   w.KDbl("trade_tick_value_profit", SymbolInfoDouble(s, SYMBOL_TRADE_TICK_VALUE_PROFIT));
   w.KDbl("trade_tick_value_loss", SymbolInfoDouble(s, SYMBOL_TRADE_TICK_VALUE_LOSS));
   w.KDbl("trade_tick_size", SymbolInfoDouble(s, SYMBOL_TRADE_TICK_SIZE), dg);
   w.KDbl("trade_contract_size", SymbolInfoDouble(s, SYMBOL_TRADE_CONTRACT_SIZE));
   w.KDbl("trade_accrued_interest", SymbolInfoDouble(s, SYMBOL_TRADE_ACCRUED_INTEREST));
   w.KDbl("trade_face_value", SymbolInfoDouble(s, SYMBOL_TRADE_FACE_VALUE));
   w.KDbl("trade_liquidity_rate", SymbolInfoDouble(s, SYMBOL_TRADE_LIQUIDITY_RATE));
   w.KDbl("volume_min", SymbolInfoDouble(s, SYMBOL_VOLUME_MIN));
   w.KDbl("volume_max", SymbolInfoDouble(s, SYMBOL_VOLUME_MAX));
   w.KDbl("volume_step", SymbolInfoDouble(s, SYMBOL_VOLUME_STEP));
   w.KDbl("volume_limit", SymbolInfoDouble(s, SYMBOL_VOLUME_LIMIT));
   w.KDbl("swap_long", SymbolInfoDouble(s, SYMBOL_SWAP_LONG));
   w.KDbl("swap_short", SymbolInfoDouble(s, SYMBOL_SWAP_SHORT));
   w.KDbl("margin_initial", SymbolInfoDouble(s, SYMBOL_MARGIN_INITIAL));
   w.KDbl("margin_maintenance", SymbolInfoDouble(s, SYMBOL_MARGIN_MAINTENANCE));
   w.KDbl("session_volume", SymbolInfoDouble(s, SYMBOL_SESSION_VOLUME));
   w.KDbl("session_turnover", SymbolInfoDouble(s, SYMBOL_SESSION_TURNOVER));
   w.KDbl("session_interest", SymbolInfoDouble(s, SYMBOL_SESSION_INTEREST));
   w.KDbl("session_buy_orders_volume", SymbolInfoDouble(s, SYMBOL_SESSION_BUY_ORDERS_VOLUME));
   w.KDbl("session_sell_orders_volume", SymbolInfoDouble(s, SYMBOL_SESSION_SELL_ORDERS_VOLUME));
   w.KDbl("session_open", SymbolInfoDouble(s, SYMBOL_SESSION_OPEN), dg);
   w.KDbl("session_close", SymbolInfoDouble(s, SYMBOL_SESSION_CLOSE), dg);
   w.KDbl("session_aw", SymbolInfoDouble(s, SYMBOL_SESSION_AW), dg);
   w.KDbl("session_price_settlement", SymbolInfoDouble(s, SYMBOL_SESSION_PRICE_SETTLEMENT), dg);
   w.KDbl("session_price_limit_min", SymbolInfoDouble(s, SYMBOL_SESSION_PRICE_LIMIT_MIN), dg);
   w.KDbl("session_price_limit_max", SymbolInfoDouble(s, SYMBOL_SESSION_PRICE_LIMIT_MAX), dg);
   w.KDbl("margin_hedged", SymbolInfoDouble(s, SYMBOL_MARGIN_HEDGED));
   w.KDbl("price_change", SymbolInfoDouble(s, SYMBOL_PRICE_CHANGE), 4);
   w.KDbl("price_volatility", SymbolInfoDouble(s, SYMBOL_PRICE_VOLATILITY));
   w.KDbl("price_theoretical", SymbolInfoDouble(s, SYMBOL_PRICE_THEORETICAL));
   w.KDbl("price_greeks_delta", SymbolInfoDouble(s, SYMBOL_PRICE_DELTA));
   w.KDbl("price_greeks_theta", SymbolInfoDouble(s, SYMBOL_PRICE_THETA));
   w.KDbl("price_greeks_gamma", SymbolInfoDouble(s, SYMBOL_PRICE_GAMMA));
   w.KDbl("price_greeks_vega", SymbolInfoDouble(s, SYMBOL_PRICE_VEGA));
   w.KDbl("price_greeks_rho", SymbolInfoDouble(s, SYMBOL_PRICE_RHO));
   w.KDbl("price_greeks_omega", SymbolInfoDouble(s, SYMBOL_PRICE_OMEGA));
   w.KDbl("price_sensitivity", SymbolInfoDouble(s, SYMBOL_PRICE_SENSITIVITY));
   w.KStr("basis", SymbolInfoString(s, SYMBOL_BASIS));
   w.KStr("category", SymbolInfoString(s, SYMBOL_CATEGORY));
   w.KStr("currency_base", SymbolInfoString(s, SYMBOL_CURRENCY_BASE));
   w.KStr("currency_profit", SymbolInfoString(s, SYMBOL_CURRENCY_PROFIT));
   w.KStr("currency_margin", SymbolInfoString(s, SYMBOL_CURRENCY_MARGIN));
   w.KStr("bank", SymbolInfoString(s, SYMBOL_BANK));
   w.KStr("description", SymbolInfoString(s, SYMBOL_DESCRIPTION));
   w.KStr("exchange", SymbolInfoString(s, SYMBOL_EXCHANGE));
   w.KStr("formula", SymbolInfoString(s, SYMBOL_FORMULA));
   w.KStr("isin", SymbolInfoString(s, SYMBOL_ISIN));
   w.KStr("name", SymbolInfoString(s, SYMBOL_NAME));
   w.KStr("page", SymbolInfoString(s, SYMBOL_PAGE));
   w.KStr("path", SymbolInfoString(s, SYMBOL_PATH));
   w.EndObj();
  }

void EncodeAccount(JsonWriter &w)
  {
   int cd = (int)AccountInfoInteger(ACCOUNT_CURRENCY_DIGITS);
   if(cd < 1)
      cd = 2;
   w.BeginObj();
   w.KInt("login", AccountInfoInteger(ACCOUNT_LOGIN));
   w.KInt("trade_mode", AccountInfoInteger(ACCOUNT_TRADE_MODE));
   w.KInt("leverage", AccountInfoInteger(ACCOUNT_LEVERAGE));
   w.KInt("limit_orders", AccountInfoInteger(ACCOUNT_LIMIT_ORDERS));
   w.KInt("margin_so_mode", AccountInfoInteger(ACCOUNT_MARGIN_SO_MODE));
   w.KBool("trade_allowed", AccountInfoInteger(ACCOUNT_TRADE_ALLOWED) != 0);
   w.KBool("trade_expert", AccountInfoInteger(ACCOUNT_TRADE_EXPERT) != 0);
   w.KInt("margin_mode", AccountInfoInteger(ACCOUNT_MARGIN_MODE));
   w.KInt("currency_digits", AccountInfoInteger(ACCOUNT_CURRENCY_DIGITS));
   w.KBool("fifo_close", AccountInfoInteger(ACCOUNT_FIFO_CLOSE) != 0);
   w.KDbl("balance", AccountInfoDouble(ACCOUNT_BALANCE), cd);
   w.KDbl("credit", AccountInfoDouble(ACCOUNT_CREDIT), cd);
   w.KDbl("profit", AccountInfoDouble(ACCOUNT_PROFIT), cd);
   w.KDbl("equity", AccountInfoDouble(ACCOUNT_EQUITY), cd);
   w.KDbl("margin", AccountInfoDouble(ACCOUNT_MARGIN), cd);
   w.KDbl("margin_free", AccountInfoDouble(ACCOUNT_MARGIN_FREE), cd);
   w.KDbl("margin_level", AccountInfoDouble(ACCOUNT_MARGIN_LEVEL), 2);
   w.KDbl("margin_so_call", AccountInfoDouble(ACCOUNT_MARGIN_SO_CALL), 2);
   w.KDbl("margin_so_so", AccountInfoDouble(ACCOUNT_MARGIN_SO_SO), 2);
   w.KDbl("margin_initial", AccountInfoDouble(ACCOUNT_MARGIN_INITIAL), cd);
   w.KDbl("margin_maintenance", AccountInfoDouble(ACCOUNT_MARGIN_MAINTENANCE), cd);
   w.KDbl("assets", AccountInfoDouble(ACCOUNT_ASSETS), cd);
   w.KDbl("liabilities", AccountInfoDouble(ACCOUNT_LIABILITIES), cd);
   w.KDbl("commission_blocked", AccountInfoDouble(ACCOUNT_COMMISSION_BLOCKED), cd);
   w.KStr("name", AccountInfoString(ACCOUNT_NAME));
   w.KStr("server", AccountInfoString(ACCOUNT_SERVER));
   w.KStr("currency", AccountInfoString(ACCOUNT_CURRENCY));
   w.KStr("company", AccountInfoString(ACCOUNT_COMPANY));
   w.EndObj();
  }

void EncodeTerminal(JsonWriter &w)
  {
   w.BeginObj();
   w.KBool("community_account", TerminalInfoInteger(TERMINAL_COMMUNITY_ACCOUNT) != 0);
   w.KBool("community_connection", TerminalInfoInteger(TERMINAL_COMMUNITY_CONNECTION) != 0);
   w.KBool("connected", TerminalInfoInteger(TERMINAL_CONNECTED) != 0);
   w.KBool("dlls_allowed", TerminalInfoInteger(TERMINAL_DLLS_ALLOWED) != 0);
   w.KBool("trade_allowed", TerminalInfoInteger(TERMINAL_TRADE_ALLOWED) != 0);
   // The Python package's own switch (Tools > Options > Expert Advisors > "Disable automatic
   // trading via external Python API"); MQL5 has no property for it and the EA is not that API.
   w.KBool("tradeapi_disabled", false);
   w.KBool("email_enabled", TerminalInfoInteger(TERMINAL_EMAIL_ENABLED) != 0);
   w.KBool("ftp_enabled", TerminalInfoInteger(TERMINAL_FTP_ENABLED) != 0);
   w.KBool("notifications_enabled", TerminalInfoInteger(TERMINAL_NOTIFICATIONS_ENABLED) != 0);
   w.KBool("mqid", TerminalInfoInteger(TERMINAL_MQID) != 0);
   w.KInt("build", TerminalInfoInteger(TERMINAL_BUILD));
   w.KInt("maxbars", TerminalInfoInteger(TERMINAL_MAXBARS));
   w.KInt("codepage", TerminalInfoInteger(TERMINAL_CODEPAGE));
   w.KInt("ping_last", TerminalInfoInteger(TERMINAL_PING_LAST));
   w.KDbl("community_balance", TerminalInfoDouble(TERMINAL_COMMUNITY_BALANCE), 2);
   w.KDbl("retransmission", TerminalInfoDouble(TERMINAL_RETRANSMISSION), 4);
   w.KStr("company", TerminalInfoString(TERMINAL_COMPANY));
   w.KStr("name", TerminalInfoString(TERMINAL_NAME));
   w.KStr("language", TerminalInfoString(TERMINAL_LANGUAGE));
   w.KStr("path", TerminalInfoString(TERMINAL_PATH));
   w.KStr("data_path", TerminalInfoString(TERMINAL_DATA_PATH));
   w.KStr("commondata_path", TerminalInfoString(TERMINAL_COMMONDATA_PATH));
   w.EndObj();
  }

// The order selected with OrderSelect / OrderGetTicket.
void EncodeOrder(JsonWriter &w)
  {
   int dg = SymbolDigits(OrderGetString(ORDER_SYMBOL));
   w.BeginObj();
   w.KInt("ticket", OrderGetInteger(ORDER_TICKET));
   w.KInt("time_setup", OrderGetInteger(ORDER_TIME_SETUP));
   w.KInt("time_setup_msc", OrderGetInteger(ORDER_TIME_SETUP_MSC));
   w.KInt("time_done", OrderGetInteger(ORDER_TIME_DONE));
   w.KInt("time_done_msc", OrderGetInteger(ORDER_TIME_DONE_MSC));
   w.KInt("time_expiration", OrderGetInteger(ORDER_TIME_EXPIRATION));
   w.KInt("type", OrderGetInteger(ORDER_TYPE));
   w.KInt("type_time", OrderGetInteger(ORDER_TYPE_TIME));
   w.KInt("type_filling", OrderGetInteger(ORDER_TYPE_FILLING));
   w.KInt("state", OrderGetInteger(ORDER_STATE));
   w.KInt("magic", OrderGetInteger(ORDER_MAGIC));
   w.KInt("position_id", OrderGetInteger(ORDER_POSITION_ID));
   w.KInt("position_by_id", OrderGetInteger(ORDER_POSITION_BY_ID));
   w.KInt("reason", OrderGetInteger(ORDER_REASON));
   w.KDbl("volume_initial", OrderGetDouble(ORDER_VOLUME_INITIAL));
   w.KDbl("volume_current", OrderGetDouble(ORDER_VOLUME_CURRENT));
   w.KDbl("price_open", OrderGetDouble(ORDER_PRICE_OPEN), dg);
   w.KDbl("sl", OrderGetDouble(ORDER_SL), dg);
   w.KDbl("tp", OrderGetDouble(ORDER_TP), dg);
   w.KDbl("price_current", OrderGetDouble(ORDER_PRICE_CURRENT), dg);
   w.KDbl("price_stoplimit", OrderGetDouble(ORDER_PRICE_STOPLIMIT), dg);
   w.KStr("symbol", OrderGetString(ORDER_SYMBOL));
   w.KStr("comment", OrderGetString(ORDER_COMMENT));
   w.KStr("external_id", OrderGetString(ORDER_EXTERNAL_ID));
   w.EndObj();
  }

// A history order by ticket (after HistorySelect / HistoryOrderSelect).
void EncodeHistoryOrder(JsonWriter &w, const ulong t)
  {
   int dg = SymbolDigits(HistoryOrderGetString(t, ORDER_SYMBOL));
   w.BeginObj();
   w.KInt("ticket", (long)t);
   w.KInt("time_setup", HistoryOrderGetInteger(t, ORDER_TIME_SETUP));
   w.KInt("time_setup_msc", HistoryOrderGetInteger(t, ORDER_TIME_SETUP_MSC));
   w.KInt("time_done", HistoryOrderGetInteger(t, ORDER_TIME_DONE));
   w.KInt("time_done_msc", HistoryOrderGetInteger(t, ORDER_TIME_DONE_MSC));
   w.KInt("time_expiration", HistoryOrderGetInteger(t, ORDER_TIME_EXPIRATION));
   w.KInt("type", HistoryOrderGetInteger(t, ORDER_TYPE));
   w.KInt("type_time", HistoryOrderGetInteger(t, ORDER_TYPE_TIME));
   w.KInt("type_filling", HistoryOrderGetInteger(t, ORDER_TYPE_FILLING));
   w.KInt("state", HistoryOrderGetInteger(t, ORDER_STATE));
   w.KInt("magic", HistoryOrderGetInteger(t, ORDER_MAGIC));
   w.KInt("position_id", HistoryOrderGetInteger(t, ORDER_POSITION_ID));
   w.KInt("position_by_id", HistoryOrderGetInteger(t, ORDER_POSITION_BY_ID));
   w.KInt("reason", HistoryOrderGetInteger(t, ORDER_REASON));
   w.KDbl("volume_initial", HistoryOrderGetDouble(t, ORDER_VOLUME_INITIAL));
   w.KDbl("volume_current", HistoryOrderGetDouble(t, ORDER_VOLUME_CURRENT));
   w.KDbl("price_open", HistoryOrderGetDouble(t, ORDER_PRICE_OPEN), dg);
   w.KDbl("sl", HistoryOrderGetDouble(t, ORDER_SL), dg);
   w.KDbl("tp", HistoryOrderGetDouble(t, ORDER_TP), dg);
   w.KDbl("price_current", HistoryOrderGetDouble(t, ORDER_PRICE_CURRENT), dg);
   w.KDbl("price_stoplimit", HistoryOrderGetDouble(t, ORDER_PRICE_STOPLIMIT), dg);
   w.KStr("symbol", HistoryOrderGetString(t, ORDER_SYMBOL));
   w.KStr("comment", HistoryOrderGetString(t, ORDER_COMMENT));
   w.KStr("external_id", HistoryOrderGetString(t, ORDER_EXTERNAL_ID));
   w.EndObj();
  }

// The position selected with PositionSelectByTicket / PositionGetTicket.
void EncodePosition(JsonWriter &w)
  {
   int dg = SymbolDigits(PositionGetString(POSITION_SYMBOL));
   w.BeginObj();
   w.KInt("ticket", PositionGetInteger(POSITION_TICKET));
   w.KInt("time", PositionGetInteger(POSITION_TIME));
   w.KInt("time_msc", PositionGetInteger(POSITION_TIME_MSC));
   w.KInt("time_update", PositionGetInteger(POSITION_TIME_UPDATE));
   w.KInt("time_update_msc", PositionGetInteger(POSITION_TIME_UPDATE_MSC));
   w.KInt("type", PositionGetInteger(POSITION_TYPE));
   w.KInt("magic", PositionGetInteger(POSITION_MAGIC));
   w.KInt("identifier", PositionGetInteger(POSITION_IDENTIFIER));
   w.KInt("reason", PositionGetInteger(POSITION_REASON));
   w.KDbl("volume", PositionGetDouble(POSITION_VOLUME));
   w.KDbl("price_open", PositionGetDouble(POSITION_PRICE_OPEN), dg);
   w.KDbl("sl", PositionGetDouble(POSITION_SL), dg);
   w.KDbl("tp", PositionGetDouble(POSITION_TP), dg);
   w.KDbl("price_current", PositionGetDouble(POSITION_PRICE_CURRENT), dg);
   w.KDbl("swap", PositionGetDouble(POSITION_SWAP), 2);
   w.KDbl("profit", PositionGetDouble(POSITION_PROFIT), 2);
   w.KStr("symbol", PositionGetString(POSITION_SYMBOL));
   w.KStr("comment", PositionGetString(POSITION_COMMENT));
   w.KStr("external_id", PositionGetString(POSITION_EXTERNAL_ID));
   w.EndObj();
  }

// A deal by ticket (after HistorySelect / HistoryDealSelect).
void EncodeDeal(JsonWriter &w, const ulong t)
  {
   int dg = SymbolDigits(HistoryDealGetString(t, DEAL_SYMBOL));
   w.BeginObj();
   w.KInt("ticket", (long)t);
   w.KInt("order", HistoryDealGetInteger(t, DEAL_ORDER));
   w.KInt("time", HistoryDealGetInteger(t, DEAL_TIME));
   w.KInt("time_msc", HistoryDealGetInteger(t, DEAL_TIME_MSC));
   w.KInt("type", HistoryDealGetInteger(t, DEAL_TYPE));
   w.KInt("entry", HistoryDealGetInteger(t, DEAL_ENTRY));
   w.KInt("magic", HistoryDealGetInteger(t, DEAL_MAGIC));
   w.KInt("position_id", HistoryDealGetInteger(t, DEAL_POSITION_ID));
   w.KInt("reason", HistoryDealGetInteger(t, DEAL_REASON));
   w.KDbl("volume", HistoryDealGetDouble(t, DEAL_VOLUME));
   w.KDbl("price", HistoryDealGetDouble(t, DEAL_PRICE), dg);
   w.KDbl("commission", HistoryDealGetDouble(t, DEAL_COMMISSION), 2);
   w.KDbl("swap", HistoryDealGetDouble(t, DEAL_SWAP), 2);
   w.KDbl("profit", HistoryDealGetDouble(t, DEAL_PROFIT), 2);
   w.KDbl("fee", HistoryDealGetDouble(t, DEAL_FEE), 2);
   w.KStr("symbol", HistoryDealGetString(t, DEAL_SYMBOL));
   w.KStr("comment", HistoryDealGetString(t, DEAL_COMMENT));
   w.KStr("external_id", HistoryDealGetString(t, DEAL_EXTERNAL_ID));
   w.EndObj();
  }

void EncodeRequest(JsonWriter &w, const MqlTradeRequest &r)
  {
   int dg = r.symbol == "" ? 8 : SymbolDigits(r.symbol);
   w.BeginObj();
   w.KInt("action", (long)r.action);
   w.KInt("magic", (long)r.magic);
   w.KInt("order", (long)r.order);
   w.KStr("symbol", r.symbol);
   w.KDbl("volume", r.volume);
   w.KDbl("price", r.price, dg);
   w.KDbl("stoplimit", r.stoplimit, dg);
   w.KDbl("sl", r.sl, dg);
   w.KDbl("tp", r.tp, dg);
   w.KInt("deviation", (long)r.deviation);
   w.KInt("type", (long)r.type);
   w.KInt("type_filling", (long)r.type_filling);
   w.KInt("type_time", (long)r.type_time);
   w.KInt("expiration", (long)r.expiration);
   w.KStr("comment", r.comment);
   w.KInt("position", (long)r.position);
   w.KInt("position_by", (long)r.position_by);
   w.EndObj();
  }

// The symbol's depth of market as the package's BookInfo objects (MqlBookInfo's volume_real is
// its volume_dbl), sells first as MarketBookGet orders them; false when MarketBookGet fails (the
// symbol is not subscribed with MarketBookAdd, or has no book).
bool EncodeBook(JsonWriter &w, const string s)
  {
   MqlBookInfo book[];
   if(!MarketBookGet(s, book))
      return false;
   int dg = SymbolDigits(s);
   w.BeginArr();
   for(int i = 0; i < ArraySize(book); i++)
     {
      w.BeginObj();
      w.KInt("type", (long)book[i].type);
      w.KDbl("price", book[i].price, dg);
      w.KInt("volume", book[i].volume);
      w.KDbl("volume_dbl", book[i].volume_real);
      w.EndObj();
     }
   w.EndArr();
   return true;
  }

#endif

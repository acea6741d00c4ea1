//+------------------------------------------------------------------+
//| Encode4.mqh: MT4's state as the MetaTrader5 Python package's     |
//| structures (the same field names the MQL5 EA writes), so a bot   |
//| sees one contract whichever terminal answers. What MT4 does not  |
//| have is written as MT5's zero ("" / 0 / false) and documented in |
//| docs/terminal.md ("MetaTrader 4").                               |
//|                                                                  |
//| MT4 keeps one list of tickets: market orders (OP_BUY, OP_SELL)   |
//| are MT5's positions, pending orders (OP_BUYLIMIT..OP_SELLSTOP,   |
//| the same numbers as ORDER_TYPE_*) its orders. Its history has the|
//| closed and deleted tickets and balance records. MT5's history of |
//| orders and deals is derived from both lists: a market ticket X   |
//| opened by order X with deal X (entry in), and, once closed, the  |
//| closing order and deal X + 2^32 (entry out, with the profit);    |
//| a deleted pending order is a cancelled order; a balance or credit|
//| record is a deal of its own. X + 2^32 cannot collide with an MT4 |
//| ticket, which is a 32-bit int.                                   |
//+------------------------------------------------------------------+
#ifndef MTGW_ENCODE4_MQH
#define MTGW_ENCODE4_MQH

#include <MTGateway\Json.mqh>

#define MTGW_CLOSE_BIT   4294967296   // 2^32: the closing order and deal of ticket X are X + 2^32
#define MT5_ORDER_STATE_CANCELED 2
#define MT5_ORDER_STATE_FILLED   4
#define MT5_DEAL_ENTRY_IN        0
#define MT5_DEAL_ENTRY_OUT       1
#define MT5_DEAL_TYPE_BALANCE    2
#define MT5_DEAL_TYPE_CREDIT     3
#define MT5_MARGIN_MODE_HEDGING  2    // ACCOUNT_MARGIN_MODE_RETAIL_HEDGING: MT4 accounts hedge

// A symbol's digits; 0 is a symbol's digits too (index and stock CFDs quoted in whole points).
// The JSON writer keeps one decimal whatever this says, so a price stays a JSON float.
int SymbolDigits(const string symbol)
  {
   long d = SymbolInfoInteger(symbol, SYMBOL_DIGITS);
   return d >= 0 ? (int)d : 8;
  }

// MT4 ticks carry seconds only (MqlTick has no time_msc in MQL4): time_msc is time * 1000,
// and the flags say bid and ask (TICK_FLAG_BID | TICK_FLAG_ASK).
void EncodeTick(JsonWriter &w, const MqlTick &t, const int digits)
  {
   w.BeginObj();
   w.KInt("time", (long)t.time);
   w.KDbl("bid", t.bid, digits);
   w.KDbl("ask", t.ask, digits);
   w.KDbl("last", t.last, digits);
   w.KInt("volume", (long)t.volume);
   w.KInt("time_msc", (long)t.time * 1000);
   w.KInt("flags", 6);
   w.KDbl("volume_real", (double)t.volume);
   w.EndObj();
  }

void EncodeSymbol(JsonWriter &w, const string s)
  {
   int dg = SymbolDigits(s);
   w.BeginObj();
   w.KBool("custom", false);
   w.KInt("chart_mode", 0);
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
   w.KInt("ticks_bookdepth", 0);
   w.KInt("trade_calc_mode", SymbolInfoInteger(s, SYMBOL_TRADE_CALC_MODE));
   w.KInt("trade_mode", SymbolInfoInteger(s, SYMBOL_TRADE_MODE));
   w.KInt("start_time", SymbolInfoInteger(s, SYMBOL_START_TIME));
   w.KInt("expiration_time", SymbolInfoInteger(s, SYMBOL_EXPIRATION_TIME));
   w.KInt("trade_stops_level", SymbolInfoInteger(s, SYMBOL_TRADE_STOPS_LEVEL));
   w.KInt("trade_freeze_level", SymbolInfoInteger(s, SYMBOL_TRADE_FREEZE_LEVEL));
   w.KInt("trade_exemode", SymbolInfoInteger(s, SYMBOL_TRADE_EXEMODE));
   w.KInt("swap_mode", SymbolInfoInteger(s, SYMBOL_SWAP_MODE));
   w.KInt("swap_rollover3days", SymbolInfoInteger(s, SYMBOL_SWAP_ROLLOVER3DAYS));
   w.KBool("margin_hedged_use_leg", false);
   w.KInt("expiration_mode", SymbolInfoInteger(s, SYMBOL_EXPIRATION_MODE));
   w.KInt("filling_mode", SymbolInfoInteger(s, SYMBOL_FILLING_MODE));
   w.KInt("order_mode", SymbolInfoInteger(s, SYMBOL_ORDER_MODE));
   w.KInt("order_gtc_mode", 0);
   w.KInt("option_mode", 0);
   w.KInt("option_right", 0);
   w.KDbl("bid", SymbolInfoDouble(s, SYMBOL_BID), dg);
   w.KDbl("bidhigh", SymbolInfoDouble(s, SYMBOL_BIDHIGH), dg);
   w.KDbl("bidlow", SymbolInfoDouble(s, SYMBOL_BIDLOW), dg);
   w.KDbl("ask", SymbolInfoDouble(s, SYMBOL_ASK), dg);
   w.KDbl("askhigh", SymbolInfoDouble(s, SYMBOL_ASKHIGH), dg);
   w.KDbl("asklow", SymbolInfoDouble(s, SYMBOL_ASKLOW), dg);
   w.KDbl("last", SymbolInfoDouble(s, SYMBOL_LAST), dg);
   w.KDbl("lasthigh", SymbolInfoDouble(s, SYMBOL_LASTHIGH), dg);
   w.KDbl("lastlow", SymbolInfoDouble(s, SYMBOL_LASTLOW), dg);
   w.KDbl("volume_real", (double)SymbolInfoInteger(s, SYMBOL_VOLUME));
   w.KDbl("volumehigh_real", (double)SymbolInfoInteger(s, SYMBOL_VOLUMEHIGH));
   w.KDbl("volumelow_real", (double)SymbolInfoInteger(s, SYMBOL_VOLUMELOW));
   w.KDbl("option_strike", 0.0, dg);
   w.KDbl("point", SymbolInfoDouble(s, SYMBOL_POINT), dg);
   w.KDbl("trade_tick_value", SymbolInfoDouble(s, SYMBOL_TRADE_TICK_VALUE));
   w.KDbl("trade_tick_value_profit", SymbolInfoDouble(s, SYMBOL_TRADE_TICK_VALUE_PROFIT));
   w.KDbl("trade_tick_value_loss", SymbolInfoDouble(s, SYMBOL_TRADE_TICK_VALUE_LOSS));
   w.KDbl("trade_tick_size", SymbolInfoDouble(s, SYMBOL_TRADE_TICK_SIZE), dg);
   w.KDbl("trade_contract_size", SymbolInfoDouble(s, SYMBOL_TRADE_CONTRACT_SIZE));
   w.KDbl("trade_accrued_interest", 0.0);
   w.KDbl("trade_face_value", 0.0);
   w.KDbl("trade_liquidity_rate", 0.0);
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
   w.KDbl("margin_hedged", MarketInfo(s, MODE_MARGINHEDGED));
   w.KDbl("price_change", 0.0, 4);
   w.KDbl("price_volatility", 0.0);
   w.KDbl("price_theoretical", 0.0);
   w.KDbl("price_greeks_delta", 0.0);
   w.KDbl("price_greeks_theta", 0.0);
   w.KDbl("price_greeks_gamma", 0.0);
   w.KDbl("price_greeks_vega", 0.0);
   w.KDbl("price_greeks_rho", 0.0);
   w.KDbl("price_greeks_omega", 0.0);
   w.KDbl("price_sensitivity", 0.0);
   w.KStr("basis", "");
   w.KStr("category", "");
   w.KStr("currency_base", SymbolInfoString(s, SYMBOL_CURRENCY_BASE));
   w.KStr("currency_profit", SymbolInfoString(s, SYMBOL_CURRENCY_PROFIT));
   w.KStr("currency_margin", SymbolInfoString(s, SYMBOL_CURRENCY_MARGIN));
   w.KStr("bank", "");
   w.KStr("description", SymbolInfoString(s, SYMBOL_DESCRIPTION));
   w.KStr("exchange", "");
   w.KStr("formula", "");
   w.KStr("isin", "");
   w.KStr("name", s);
   w.KStr("page", "");
   w.KStr("path", SymbolInfoString(s, SYMBOL_PATH));
   w.EndObj();
  }

void EncodeAccount(JsonWriter &w)
  {
   w.BeginObj();
   w.KInt("login", AccountInfoInteger(ACCOUNT_LOGIN));
   w.KInt("trade_mode", AccountInfoInteger(ACCOUNT_TRADE_MODE));
   w.KInt("leverage", AccountInfoInteger(ACCOUNT_LEVERAGE));
   w.KInt("limit_orders", AccountInfoInteger(ACCOUNT_LIMIT_ORDERS));
   w.KInt("margin_so_mode", AccountInfoInteger(ACCOUNT_MARGIN_SO_MODE));
   w.KBool("trade_allowed", AccountInfoInteger(ACCOUNT_TRADE_ALLOWED) != 0);
   w.KBool("trade_expert", AccountInfoInteger(ACCOUNT_TRADE_EXPERT) != 0);
   w.KInt("margin_mode", MT5_MARGIN_MODE_HEDGING);
   w.KInt("currency_digits", 2);
   w.KBool("fifo_close", false);
   w.KDbl("balance", AccountInfoDouble(ACCOUNT_BALANCE), 2);
   w.KDbl("credit", AccountInfoDouble(ACCOUNT_CREDIT), 2);
   w.KDbl("profit", AccountInfoDouble(ACCOUNT_PROFIT), 2);
   w.KDbl("equity", AccountInfoDouble(ACCOUNT_EQUITY), 2);
   w.KDbl("margin", AccountInfoDouble(ACCOUNT_MARGIN), 2);
   w.KDbl("margin_free", AccountInfoDouble(ACCOUNT_MARGIN_FREE), 2);
   w.KDbl("margin_level", AccountInfoDouble(ACCOUNT_MARGIN_LEVEL), 2);
   w.KDbl("margin_so_call", AccountInfoDouble(ACCOUNT_MARGIN_SO_CALL), 2);
   w.KDbl("margin_so_so", AccountInfoDouble(ACCOUNT_MARGIN_SO_SO), 2);
   w.KDbl("margin_initial", AccountInfoDouble(ACCOUNT_MARGIN_INITIAL), 2);
   w.KDbl("margin_maintenance", AccountInfoDouble(ACCOUNT_MARGIN_MAINTENANCE), 2);
   w.KDbl("assets", 0.0, 2);
   w.KDbl("liabilities", 0.0, 2);
   w.KDbl("commission_blocked", 0.0, 2);
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
   w.KBool("tradeapi_disabled", false);
   w.KBool("email_enabled", TerminalInfoInteger(TERMINAL_EMAIL_ENABLED) != 0);
   w.KBool("ftp_enabled", TerminalInfoInteger(TERMINAL_FTP_ENABLED) != 0);
   w.KBool("notifications_enabled", TerminalInfoInteger(TERMINAL_NOTIFICATIONS_ENABLED) != 0);
   w.KBool("mqid", TerminalInfoInteger(TERMINAL_MQID) != 0);
   w.KInt("build", TerminalInfoInteger(TERMINAL_BUILD));
   w.KInt("maxbars", TerminalInfoInteger(TERMINAL_MAXBARS));
   w.KInt("codepage", TerminalInfoInteger(TERMINAL_CODEPAGE));
   w.KInt("ping_last", 0);                       // not among MQL4's terminal properties
   w.KDbl("community_balance", TerminalInfoDouble(TERMINAL_COMMUNITY_BALANCE), 2);
   w.KDbl("retransmission", 0.0, 4);
   w.KStr("company", TerminalInfoString(TERMINAL_COMPANY));
   w.KStr("name", TerminalInfoString(TERMINAL_NAME));
   w.KStr("language", TerminalInfoString(TERMINAL_LANGUAGE));
   w.KStr("path", TerminalInfoString(TERMINAL_PATH));
   w.KStr("data_path", TerminalInfoString(TERMINAL_DATA_PATH));
   w.KStr("commondata_path", TerminalInfoString(TERMINAL_COMMONDATA_PATH));
   w.EndObj();
  }

//+------------------------------------------------------------------+
//| MT5 records derived from MT4 tickets.                            |
//+------------------------------------------------------------------+
struct VOrder
  {
   long              ticket;
   long              time_setup;
   long              time_done;
   long              time_expiration;
   int               type;
   int               state;
   long              magic;
   long              position_id;
   double            volume_initial;
   double            volume_current;
   double            price_open;
   double            sl;
   double            tp;
   double            price_current;
   string            symbol;
   string            comment;
  };

struct VDeal
  {
   long              ticket;
   long              order;
   long              time;
   int               type;
   int               entry;
   long              magic;
   long              position_id;
   double            volume;
   double            price;
   double            commission;
   double            swap;
   double            profit;
   string            symbol;
   string            comment;
  };

// Field by field: no structure holding a string is assigned whole (MetaEditor has refused '='
// on structures with objects in some builds; a field assignment is unambiguous in every one).
void CopyVOrder(VOrder &dst, const VOrder &src)
  {
   dst.ticket = src.ticket;
   dst.time_setup = src.time_setup;
   dst.time_done = src.time_done;
   dst.time_expiration = src.time_expiration;
   dst.type = src.type;
   dst.state = src.state;
   dst.magic = src.magic;
   dst.position_id = src.position_id;
   dst.volume_initial = src.volume_initial;
   dst.volume_current = src.volume_current;
   dst.price_open = src.price_open;
   dst.sl = src.sl;
   dst.tp = src.tp;
   dst.price_current = src.price_current;
   dst.symbol = src.symbol;
   dst.comment = src.comment;
  }

void CopyVDeal(VDeal &dst, const VDeal &src)
  {
   dst.ticket = src.ticket;
   dst.order = src.order;
   dst.time = src.time;
   dst.type = src.type;
   dst.entry = src.entry;
   dst.magic = src.magic;
   dst.position_id = src.position_id;
   dst.volume = src.volume;
   dst.price = src.price;
   dst.commission = src.commission;
   dst.swap = src.swap;
   dst.profit = src.profit;
   dst.symbol = src.symbol;
   dst.comment = src.comment;
  }

void EncodeVOrder(JsonWriter &w, const VOrder &o)
  {
   int dg = o.symbol == "" ? 5 : SymbolDigits(o.symbol);
   w.BeginObj();
   w.KInt("ticket", o.ticket);
   w.KInt("time_setup", o.time_setup);
   w.KInt("time_setup_msc", o.time_setup * 1000);
   w.KInt("time_done", o.time_done);
   w.KInt("time_done_msc", o.time_done * 1000);
   w.KInt("time_expiration", o.time_expiration);
   w.KInt("type", o.type);
   w.KInt("type_time", o.time_expiration > 0 ? 2 : 0);   // ORDER_TIME_SPECIFIED / ORDER_TIME_GTC
   w.KInt("type_filling", 0);
   w.KInt("state", o.state);
   w.KInt("magic", o.magic);
   w.KInt("position_id", o.position_id);
   w.KInt("position_by_id", 0);
   w.KInt("reason", 0);
   w.KDbl("volume_initial", o.volume_initial);
   w.KDbl("volume_current", o.volume_current);
   w.KDbl("price_open", o.price_open, dg);
   w.KDbl("sl", o.sl, dg);
   w.KDbl("tp", o.tp, dg);
   w.KDbl("price_current", o.price_current, dg);
   w.KDbl("price_stoplimit", 0.0, dg);
   w.KStr("symbol", o.symbol);
   w.KStr("comment", o.comment);
   w.KStr("external_id", "");
   w.EndObj();
  }

void EncodeVDeal(JsonWriter &w, const VDeal &d)
  {
   int dg = d.symbol == "" ? 5 : SymbolDigits(d.symbol);
   w.BeginObj();
   w.KInt("ticket", d.ticket);
   w.KInt("order", d.order);
   w.KInt("time", d.time);
   w.KInt("time_msc", d.time * 1000);
   w.KInt("type", d.type);
   w.KInt("entry", d.entry);
   w.KInt("magic", d.magic);
   w.KInt("position_id", d.position_id);
   w.KInt("reason", 0);
   w.KDbl("volume", d.volume);
   w.KDbl("price", d.price, dg);
   w.KDbl("commission", d.commission, 2);
   w.KDbl("swap", d.swap, 2);
   w.KDbl("profit", d.profit, 2);
   w.KDbl("fee", 0.0, 2);
   w.KStr("symbol", d.symbol);
   w.KStr("comment", d.comment);
   w.KStr("external_id", "");
   w.EndObj();
  }

// The pending order selected with OrderSelect, as an MT5 TradeOrder.
void EncodeOrder(JsonWriter &w)
  {
   VOrder o;
   o.ticket = OrderTicket();
   o.time_setup = (long)OrderOpenTime();
   o.time_done = 0;
   o.time_expiration = (long)OrderExpiration();
   o.type = OrderType();
   o.state = 1;                                  // ORDER_STATE_PLACED
   o.magic = OrderMagicNumber();
   o.position_id = 0;
   o.volume_initial = OrderLots();
   o.volume_current = OrderLots();
   o.price_open = OrderOpenPrice();
   o.sl = OrderStopLoss();
   o.tp = OrderTakeProfit();
   o.price_current = OrderClosePrice();
   o.symbol = OrderSymbol();
   o.comment = OrderComment();
   EncodeVOrder(w, o);
  }

// The market order selected with OrderSelect, as an MT5 TradePosition.
void EncodePosition(JsonWriter &w)
  {
   string s = OrderSymbol();
   int dg = SymbolDigits(s);
   long opened = (long)OrderOpenTime();
   w.BeginObj();
   w.KInt("ticket", OrderTicket());
   w.KInt("time", opened);
   w.KInt("time_msc", opened * 1000);
   w.KInt("time_update", opened);
   w.KInt("time_update_msc", opened * 1000);
   w.KInt("type", OrderType());
   w.KInt("magic", OrderMagicNumber());
   w.KInt("identifier", OrderTicket());
   w.KInt("reason", 0);
   w.KDbl("volume", OrderLots());
   w.KDbl("price_open", OrderOpenPrice(), dg);
   w.KDbl("sl", OrderStopLoss(), dg);
   w.KDbl("tp", OrderTakeProfit(), dg);
   w.KDbl("price_current", OrderClosePrice(), dg);
   w.KDbl("swap", OrderSwap(), 2);
   w.KDbl("profit", OrderProfit(), 2);
   w.KStr("symbol", s);
   w.KStr("comment", OrderComment());
   w.KStr("external_id", "");
   w.EndObj();
  }

// The derived records of the ticket selected with OrderSelect: up to two orders and two
// deals (see the header). `closed`: the ticket is in the history pool.
int DeriveOrders(const bool closed, VOrder &out[])
  {
   int type = OrderType();
   ArrayResize(out, 0);
   if(type > OP_SELLSTOP)
      return 0;                                  // balance and credit records have no order
   long t = OrderTicket();
   VOrder o;
   o.ticket = t;
   o.time_setup = (long)OrderOpenTime();
   o.time_expiration = (long)OrderExpiration();
   o.type = type;
   o.magic = OrderMagicNumber();
   o.sl = OrderStopLoss();
   o.tp = OrderTakeProfit();
   o.symbol = OrderSymbol();
   o.comment = OrderComment();
   o.volume_initial = OrderLots();
   o.price_open = OrderOpenPrice();
   if(type >= OP_BUYLIMIT)
     {
      if(!closed)
         return 0;                               // a live pending order is not history yet
      o.time_done = (long)OrderCloseTime();
      o.state = MT5_ORDER_STATE_CANCELED;
      o.position_id = 0;
      o.volume_current = OrderLots();
      o.price_current = OrderClosePrice();
      ArrayResize(out, 1);
      CopyVOrder(out[0], o);
      return 1;
     }
   o.time_done = o.time_setup;
   o.state = MT5_ORDER_STATE_FILLED;
   o.position_id = t;
   o.volume_current = 0;
   o.price_current = OrderOpenPrice();
   ArrayResize(out, closed ? 2 : 1);
   CopyVOrder(out[0], o);
   if(closed)
     {
      VOrder c;
      CopyVOrder(c, o);
      c.ticket = t + MTGW_CLOSE_BIT;
      c.time_setup = (long)OrderCloseTime();
      c.time_done = c.time_setup;
      c.time_expiration = 0;
      c.type = type == OP_BUY ? OP_SELL : OP_BUY;
      c.price_open = OrderClosePrice();
      c.price_current = OrderClosePrice();
      c.comment = "";
      CopyVOrder(out[1], c);
     }
   return closed ? 2 : 1;
  }

int DeriveDeals(const bool closed, VDeal &out[])
  {
   int type = OrderType();
   ArrayResize(out, 0);
   if(type >= OP_BUYLIMIT && type <= OP_SELLSTOP)
      return 0;
   long t = OrderTicket();
   VDeal d;
   d.ticket = t;
   d.time = (long)OrderOpenTime();
   d.magic = OrderMagicNumber();
   d.symbol = OrderSymbol();
   d.comment = OrderComment();
   d.commission = 0;
   d.swap = 0;
   d.profit = 0;
   if(type > OP_SELLSTOP)
     {
      d.order = 0;
      d.type = type == 6 ? MT5_DEAL_TYPE_BALANCE : MT5_DEAL_TYPE_CREDIT;
      d.entry = MT5_DEAL_ENTRY_IN;
      d.position_id = 0;
      d.volume = 0;
      d.price = 0;
      d.profit = OrderProfit();
      d.symbol = "";
      ArrayResize(out, 1);
      CopyVDeal(out[0], d);
      return 1;
     }
   d.order = t;
   d.type = type;                                // DEAL_TYPE_BUY 0 / DEAL_TYPE_SELL 1
   d.entry = MT5_DEAL_ENTRY_IN;
   d.position_id = t;
   d.volume = OrderLots();
   d.price = OrderOpenPrice();
   d.commission = OrderCommission();
   ArrayResize(out, closed ? 2 : 1);
   CopyVDeal(out[0], d);
   if(closed)
     {
      VDeal c;
      CopyVDeal(c, d);
      c.ticket = t + MTGW_CLOSE_BIT;
      c.order = c.ticket;
      c.time = (long)OrderCloseTime();
      c.type = type == OP_BUY ? OP_SELL : OP_BUY;
      c.entry = MT5_DEAL_ENTRY_OUT;
      c.price = OrderClosePrice();
      c.commission = 0;
      c.swap = OrderSwap();
      c.profit = OrderProfit();
      c.comment = "";
      CopyVDeal(out[1], c);
     }
   return closed ? 2 : 1;
  }

#endif

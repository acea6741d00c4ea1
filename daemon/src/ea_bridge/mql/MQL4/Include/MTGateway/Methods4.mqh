//+------------------------------------------------------------------+
//| Methods4.mqh: every method of docs/protocol.md section 6 answered|
//| from MetaTrader 4's functions, with the MetaTrader5 package's    |
//| field names (Encode4.mqh), so the daemon and its bots see one    |
//| contract. Parameters arrive by name, checked as the MQL5 EA does.|
//| What MT4 cannot do answers -32009 (unsupported on this platform):|
//| tick history (copy_ticks_*: MT4 keeps no ticks), market depth    |
//| (market_book_*: MQL4 has no MarketBook functions) and timeframes |
//| MT4 does not have (M2, M3, H2, ...). Trading maps MT5's request  |
//| onto OrderSend/OrderClose/OrderModify/OrderDelete/OrderCloseBy   |
//| and MT4's error numbers onto MT5's retcodes (Retcode4 below).    |
//| The order record (protocol 1.2): every order_send with an        |
//| order_key is recorded, result and request echo, before the answer|
//| is written; a key seen again is answered from the record and not |
//| executed again; trade_results reads the record.                  |
//+------------------------------------------------------------------+
#ifndef MTGW_METHODS4_MQH
#define MTGW_METHODS4_MQH

#include <MTGateway\Json.mqh>
#include <MTGateway\Encode4.mqh>

#define E_METHOD      -32601
#define E_PARAMS      -32602
#define E_OFFLINE     -32002
#define E_UNKNOWN     -32006
#define E_ALGO        -32007
#define E_HISTORY     -32008
#define E_UNSUPPORTED -32009
#define E_INTERNAL    -32603
#define E_DEFER       1        // not an answer: the history is being loaded, ask again next pass
#define MTGW_RECORD_MAX 10000  // order keys kept (docs/protocol.md: at least the last 10 000)
#define MT4_ERR_HISTORY_WILL_UPDATED 4066
#define MTGW_ZONE_WINDOW_S 30     // the server's offset: the largest estimate of the last one or two of these
#define MTGW_ZONE_JUMP_S   900    // an estimate this far from the offset is a new time zone (15 min)

// MT5 group filter: comma-separated patterns with * and ?, case-insensitive, "!" excludes.
bool WildMatch(const string name, const string pattern)
  {
   int n = StringLen(name), m = StringLen(pattern);
   int i = 0, j = 0, star = -1, mark = 0;
   while(i < n)
     {
      if(j < m && (StringGetCharacter(pattern, j) == '?' || StringGetCharacter(pattern, j) == StringGetCharacter(name, i)))
        {
         i++;
         j++;
        }
      else
         if(j < m && StringGetCharacter(pattern, j) == '*')
           {
            star = j;
            mark = i;
            j++;
           }
         else
            if(star >= 0)
              {
               j = star + 1;
               mark++;
               i = mark;
              }
            else
               return false;
     }
   while(j < m && StringGetCharacter(pattern, j) == '*')
      j++;
   return j == m;
  }

bool GroupMatch(const string name, const string filter)
  {
   if(filter == "")
      return true;
   string upper = name;
   StringToUpper(upper);
   string parts[];
   int k = StringSplit(filter, ',', parts);
   bool any_include = false, included = false;
   for(int i = 0; i < k; i++)
     {
      string p = StringTrimRight(StringTrimLeft(parts[i]));   // MQL4 returns the trimmed copy
      StringToUpper(p);
      if(p == "")
         continue;
      if(StringGetCharacter(p, 0) == '!')
        {
         if(WildMatch(upper, StringSubstr(p, 1)))
            return false;
        }
      else
        {
         any_include = true;
         if(WildMatch(upper, p))
            included = true;
        }
     }
   return !any_include || included;
  }

// MT5's TIMEFRAME_* value (the wire's) as MQL4's period in minutes; 0 for a timeframe MT4 does
// not have (M2, M3, M4, M6, M10, M12, M20, H2, H3, H6, H8, H12), -1 for no timeframe at all.
int Mt4Period(const long tf)
  {
   if(tf == 1 || tf == 5 || tf == 15 || tf == 30)
      return (int)tf;
   if(tf == 16385)
      return 60;
   if(tf == 16388)
      return 240;
   if(tf == 16408)
      return 1440;
   if(tf == 32769)
      return 10080;
   if(tf == 49153)
      return 43200;
   if((tf >= 2 && tf <= 6) || tf == 10 || tf == 12 || tf == 20 || tf == 16386 || tf == 16387 || tf == 16390 ||
      tf == 16392 || tf == 16396)
      return 0;
   return -1;
  }

// MT4's trade errors (docs.mql4.com/constants/errorswarnings/errorcodes) as MT5 retcodes, the
// only ones the daemon reads. 128 (trade timeout), 6 (no connection) and 2/9 (common error,
// malfunctional trade) do not prove the order was not executed: they become 10012 TIMEOUT,
// 10031 CONNECTION and 10011 ERROR, which the daemon treats as outcome unknown.
uint Retcode4(const int err)
  {
   switch(err)
     {
      case 0:   return 10009;   // DONE
      case 1:   return 10025;   // ERR_NO_RESULT: nothing changed -> NO_CHANGES
      case 2:   return 10011;   // common error -> ERROR (unknown outcome)
      case 3:   return 10013;   // invalid trade parameters -> INVALID
      case 4:   return 10006;   // server busy -> REJECT
      case 6:   return 10031;   // no connection -> CONNECTION (unknown outcome)
      case 8:   return 10024;   // too frequent requests -> TOO_MANY_REQUESTS
      case 9:   return 10011;   // malfunctional trade operation -> ERROR (unknown outcome)
      case 64:  return 10017;   // account disabled -> TRADE_DISABLED
      case 65:  return 10017;   // invalid account
      case 128: return 10012;   // trade timeout -> TIMEOUT (unknown outcome)
      case 129: return 10015;   // invalid price -> INVALID_PRICE
      case 130: return 10016;   // invalid stops -> INVALID_STOPS
      case 131: return 10014;   // invalid volume -> INVALID_VOLUME
      case 132: return 10018;   // market closed -> MARKET_CLOSED
      case 133: return 10017;   // trade disabled -> TRADE_DISABLED
      case 134: return 10019;   // not enough money -> NO_MONEY
      case 135: return 10020;   // price changed -> PRICE_CHANGED
      case 136: return 10021;   // off quotes -> PRICE_OFF
      case 137: return 10006;   // broker busy -> REJECT
      case 138: return 10004;   // requote -> REQUOTE
      case 139: return 10028;   // order locked -> LOCKED
      case 140: return 10042;   // long positions only -> LONG_ONLY
      case 141: return 10024;   // too many requests -> TOO_MANY_REQUESTS
      case 145: return 10029;   // modification denied (too close to market) -> FROZEN
      case 146: return 10006;   // trade context busy (nothing was sent) -> REJECT
      case 147: return 10022;   // expirations denied -> INVALID_EXPIRATION
      case 148: return 10033;   // too many orders -> LIMIT_ORDERS
      case 149: return 10046;   // hedging prohibited -> HEDGE_PROHIBITED
      case 150: return 10045;   // FIFO -> FIFO_CLOSE
     }
   return 10006;                // any other refusal -> REJECT
  }

// MT5's MqlTradeRequest, which MQL4 does not have: what the daemon sends.
struct GatewayRequest
  {
   int               action;
   long              magic;
   long              order;
   string            symbol;
   double            volume;
   double            price;
   double            stoplimit;
   double            sl;
   double            tp;
   long              deviation;
   int               type;
   int               type_filling;
   int               type_time;
   long              expiration;
   string            comment;
   long              position;
   long              position_by;
  };

void EncodeRequest(JsonWriter &w, const GatewayRequest &r)
  {
   int dg = r.symbol == "" ? 8 : SymbolDigits(r.symbol);
   w.BeginObj();
   w.KInt("action", r.action);
   w.KInt("magic", r.magic);
   w.KInt("order", r.order);
   w.KStr("symbol", r.symbol);
   w.KDbl("volume", r.volume);
   w.KDbl("price", r.price, dg);
   w.KDbl("stoplimit", r.stoplimit, dg);
   w.KDbl("sl", r.sl, dg);
   w.KDbl("tp", r.tp, dg);
   w.KInt("deviation", r.deviation);
   w.KInt("type", r.type);
   w.KInt("type_filling", r.type_filling);
   w.KInt("type_time", r.type_time);
   w.KInt("expiration", r.expiration);
   w.KStr("comment", r.comment);
   w.KInt("position", r.position);
   w.KInt("position_by", r.position_by);
   w.EndObj();
  }

// The six fields the daemon checks a record against (docs/protocol.md, "The order record").
void EncodeEcho(JsonWriter &w, const GatewayRequest &r)
  {
   w.BeginObj();
   w.KInt("action", r.action);
   w.KStr("symbol", r.symbol);
   w.KDbl("volume", r.volume);
   w.KInt("type", r.type);
   w.KInt("position", r.position);
   w.KInt("order", r.order);
   w.EndObj();
  }

//+------------------------------------------------------------------+
//| The dispatcher and the methods.                                  |
//+------------------------------------------------------------------+
class Methods4
  {
public:
   int               max_rows;
   long              max_answer_bytes;
   int               code;
   string            message;
   string            record_keys[];    // the order record, a ring of MTGW_RECORD_MAX keys
   string            record_json[];
   int               record_next;
   int               request_id;

                     Methods4(void);

   void              Call(const string m, JsonDoc &doc, const int p, JsonWriter &w, int &code_out, string &message_out);

   //--- parameters --------------------------------------------------------------------------

   bool              Fail(const int c, const string text);
   bool              Has(JsonDoc &doc, const int p, const string name);
   string            PStr(JsonDoc &doc, const int p, const string name, const bool required);
   long              PInt(JsonDoc &doc, const int p, const string name, const bool required, const long fallback = 0);

   // A time in epoch seconds: an integer, or a float (the package accepts datetime.timestamp()).
   long              PTime(JsonDoc &doc, const int p, const string name, const bool required);

   // A time in epoch milliseconds from seconds given as an integer or a float (tick windows
   // are millisecond-exact: 1763650000.123 is 1763650000123).
   long              PTimeMs(JsonDoc &doc, const int p, const string name, const bool required);

   double            PNum(JsonDoc &doc, const int p, const string name, const bool required);
   bool              PBool(JsonDoc &doc, const int p, const string name, const bool required);
   bool              Symbol(const string name);

   //--- the method table --------------------------------------------------------------------

   string            Allowed(const string m);
   bool              Known(const string m);
   bool              CheckNames(const string m, JsonDoc &doc, const int p);
   void              Dispatch(const string m, JsonDoc &doc, const int p, JsonWriter &w);

   // MT4 has no TimeTradeServer: TimeCurrent is "the last known server time (time of the
   // last quote receipt)", which stands still while no quote comes (a quiet market, a
   // weekend, a terminal started after the last one). The daemon takes server_time for the
   // server's clock now (the age of a quote, the window in which reconciliation looks for an
   // order whose answer was lost: a clock minutes behind put an order filled now outside it,
   // and the order was given up as not found). So the answer is the server's clock as MT5's
   // TimeTradeServer calculates it: the computer's UTC clock (TimeGMT) plus the server's
   // offset to it, learnt when a quote is seen to arrive (its time is the server's clock
   // then), and until one is seen the offset from the last quote rounded to a whole quarter
   // hour (time zones are), which holds while that quote is under 7.5 min old. Never earlier
   // than TimeCurrent. Seconds only, as MT4's clock.
   void              ServerTime(JsonWriter &w);
   long              zone_s;           // the server's clock minus TimeGMT: the largest recent estimate
   bool              zone_known;
   long              zone_now_s;       // the largest estimate of the current window...
   long              zone_last_s;      // ...and of the one before it
   long              zone_from_s;      // TimeGMT when the current window began
   long              last_quote_s;     // TimeCurrent at the last look
   // Looks at TimeCurrent: a quote arrived since the last look (every timer pass and tick)
   // gives an estimate of the server's offset to TimeGMT (LearnZone).
   void              WatchClock(void);
   // One estimate of that offset, the quote's time minus TimeGMT now. The quote was made
   // before this look, by its network latency and by however late the look is (the EA serves
   // one request at a time, and a trade call can take seconds), so each estimate is at most
   // the true offset: the offset taken is the largest estimate of the last one to two windows
   // of MTGW_ZONE_WINDOW_S, which a late look does not lower (one estimate alone was short by
   // the delay until the next quote), while a change of the computer's clock still shows
   // within two windows. An estimate more than MTGW_ZONE_JUMP_S from it is the server's time
   // zone changing (daylight saving time): it replaces the others.
   void              LearnZone(const long estimate, const long gmt);
   long              ServerNow(void);

   void              SymbolsGet(JsonDoc &doc, const int p, JsonWriter &w);
   void              SymbolInfo(JsonDoc &doc, const int p, JsonWriter &w);
   void              SymbolTick(JsonDoc &doc, const int p, JsonWriter &w);
   void              SymbolSelectMethod(JsonDoc &doc, const int p, JsonWriter &w);

   //--- rates ---------------------------------------------------------------------------------

   void              RatesAnswer(JsonWriter &w, const MqlRates &rates[], const int from, const int count, const bool truncated, const int dg);

   // A copy that returned -1: the terminal is building or downloading the series (error 4066,
   // "the requested history data are under updating", docs.mql4.com/array/arraycopyrates).
   // The call is held (E_DEFER) and asked again next pass, or answers -32008 after HistoryWaitMs.
   void              RatesFailed(const string s);

   void              CopyRatesMethod(const string m, JsonDoc &doc, const int p, JsonWriter &w);

   //--- trading state: MT4's one list of tickets --------------------------------------------

   int               CountPool(const bool market);
   void              PoolGet(JsonDoc &doc, const int p, JsonWriter &w, const bool market);

   // MT5's history, derived from MT4's tickets (Encode4.mqh): open market tickets have their
   // opening order and deal in it, as in MT5.
   void              History(const string m, JsonDoc &doc, const int p, JsonWriter &w);

   //--- calculations ----------------------------------------------------------------------------

   // MT4 has no OrderCalcMargin/OrderCalcProfit: margin from MODE_MARGINREQUIRED (one lot at
   // the current price, scaled to the asked price), profit from the tick value and size.
   void              Calc(const string m, JsonDoc &doc, const int p, JsonWriter &w);

   //--- trading -----------------------------------------------------------------------------

   bool              ParseRequest(JsonDoc &doc, const int p, GatewayRequest &r);

   // MT4 has no OrderCheck: the checks MT4 can make without sending (volume limits, the
   // margin AccountFreeMarginCheck leaves) with MT5's MqlTradeCheckResult fields.
   void              Check(JsonDoc &doc, const int p, JsonWriter &w);

   int               RecordFind(const string key);
   void              RecordPut(const string key, const string json);

   // The error of a trade call that failed. A failure that leaves no error number (0) proves
   // nothing either way: it is reported as 2, common error (10011, outcome unknown), never as
   // success.
   int               TradeError(void);

   // The current price to trade at when the request gives none (MT4's OrderSend needs one).
   // RefreshRates returns whether the rates were refreshed; MarketInfo reads the latest quote
   // either way.
   double            MarketPrice(const string s, const bool buy);

   // A price, stop loss or take profit as MT4's trade server takes it: "Calculated or
   // unnormalized price cannot be applied ... the error 129 (ERR_INVALID_PRICE) will be
   // generated ... In the case of erroneous or unnormalized stop levels, the error 130
   // (ERR_INVALID_STOPS)" (OrderSend). MT5 takes any double, and bots compute stops
   // (price - 100 * point, a percentage): rounded here to the symbol's digits (0 for a
   // symbol quoted in whole points), and first to its tick size where that is coarser than a
   // point (index CFDs moving in 0.25, 0.5 or 5 points): a price between two ticks is no
   // price of the symbol either. 0 stays 0.
   double            Price(const string symbol, const double x);

   // The request's prices rounded for `symbol` (the order's own symbol for a change of an
   // existing ticket, which the request may not name), so the record echoes what was sent.
   void              RoundPrices(GatewayRequest &r, const string symbol);

   void              Send(JsonDoc &doc, const int p, JsonWriter &w);

   // Writes the OrderSendResult (with the request it answered) and records it under `key`
   // first, so an answer lost on the way is still known to trade_results.
   void              Result(JsonWriter &w, const GatewayRequest &r, const string key, const uint retcode, const long deal,
                            const long order, const double volume, const double price, const string comment, const int external);

   void              Results(JsonDoc &doc, const int p, JsonWriter &w);
  };

Methods4::Methods4(void)
  {
   max_rows = 20000;
   max_answer_bytes = 8388608;
   code = 0;
   message = "";
   record_next = 0;
   request_id = 0;
   zone_s = 0;
   zone_known = false;
   zone_now_s = 0;
   zone_last_s = 0;
   zone_from_s = 0;
   last_quote_s = 0;
  }

void Methods4::Call(const string m, JsonDoc &doc, const int p, JsonWriter &w, int &code_out, string &message_out)
  {
   code = 0;
   message = "";
   if(!Known(m))
      Fail(E_METHOD, "unknown method '" + m + "'");
   else
      if(CheckNames(m, doc, p))
         Dispatch(m, doc, p, w);
   code_out = code;
   message_out = message;
  }

bool Methods4::Fail(const int c, const string text)
  {
   if(code == 0)
     {
      code = c;
      message = text;
     }
   return false;
  }

bool Methods4::Has(JsonDoc &doc, const int p, const string name)
  {
   int n = doc.Get(p, name);
   return n >= 0 && doc.Type(n) != J_NULL;
  }

string Methods4::PStr(JsonDoc &doc, const int p, const string name, const bool required)
  {
   int n = doc.Get(p, name);
   if(n < 0 || doc.Type(n) == J_NULL)
     {
      if(required)
         Fail(E_PARAMS, name + ": missing");
      return "";
     }
   if(doc.Type(n) != J_STR)
     {
      Fail(E_PARAMS, name + ": expected a string");
      return "";
     }
   return doc.Str(n);
  }

long Methods4::PInt(JsonDoc &doc, const int p, const string name, const bool required, const long fallback)
  {
   int n = doc.Get(p, name);
   if(n < 0 || doc.Type(n) == J_NULL)
     {
      if(required)
         Fail(E_PARAMS, name + ": missing");
      return fallback;
     }
   if(doc.Type(n) != J_INT)
     {
      Fail(E_PARAMS, name + ": expected an integer");
      return fallback;
     }
   return doc.Int(n);
  }

long Methods4::PTime(JsonDoc &doc, const int p, const string name, const bool required)
  {
   int n = doc.Get(p, name);
   if(n < 0 || doc.Type(n) == J_NULL)
     {
      if(required)
         Fail(E_PARAMS, name + ": missing");
      return 0;
     }
   if(!doc.IsNumber(n) || doc.Num(n) < 0)
     {
      Fail(E_PARAMS, name + ": expected epoch seconds");
      return 0;
     }
   return (long)MathFloor(doc.Num(n));
  }

long Methods4::PTimeMs(JsonDoc &doc, const int p, const string name, const bool required)
  {
   int n = doc.Get(p, name);
   if(n >= 0 && doc.Type(n) == J_INT)
      return PTime(doc, p, name, required) * 1000;
   double seconds = PNum(doc, p, name, required);
   if(code == 0 && seconds < 0)
      Fail(E_PARAMS, name + ": expected epoch seconds");
   return (long)MathRound(seconds * 1000.0);
  }

double Methods4::PNum(JsonDoc &doc, const int p, const string name, const bool required)
  {
   int n = doc.Get(p, name);
   if(n < 0 || doc.Type(n) == J_NULL)
     {
      if(required)
         Fail(E_PARAMS, name + ": missing");
      return 0.0;
     }
   if(!doc.IsNumber(n))
     {
      Fail(E_PARAMS, name + ": expected a number");
      return 0.0;
     }
   return doc.Num(n);
  }

bool Methods4::PBool(JsonDoc &doc, const int p, const string name, const bool required)
  {
   int n = doc.Get(p, name);
   if(n < 0)
     {
      if(required)
         Fail(E_PARAMS, name + ": missing");
      return false;
     }
   if(doc.Type(n) != J_BOOL)
     {
      Fail(E_PARAMS, name + ": expected true or false");
      return false;
     }
   return doc.Int(n) != 0;
  }

bool Methods4::Symbol(const string name)
  {
   if(name != "")
      for(int i = SymbolsTotal(false) - 1; i >= 0; i--)
         if(SymbolName(i, false) == name)
            return true;
   return Fail(E_UNKNOWN, "unknown symbol '" + name + "'");
  }

string Methods4::Allowed(const string m)
  {
   if(m == "symbols_get")
      return ",group,";
   if(m == "symbol_info" || m == "symbol_info_tick")
      return ",symbol,";
   if(m == "symbol_select")
      return ",symbol,enable,";
   if(m == "copy_rates_from")
      return ",symbol,timeframe,date_from,count,";
   if(m == "copy_rates_from_pos")
      return ",symbol,timeframe,start_pos,count,";
   if(m == "copy_rates_range")
      return ",symbol,timeframe,date_from,date_to,";
   if(m == "copy_ticks_from")
      return ",symbol,date_from,count,flags,";
   if(m == "copy_ticks_range")
      return ",symbol,date_from,date_to,flags,";
   if(m == "orders_get" || m == "positions_get")
      return ",symbol,group,ticket,";
   if(StringFind(m, "market_book_") == 0)
      return ",symbol,";
   if(m == "history_orders_total" || m == "history_deals_total")
      return ",date_from,date_to,";
   if(m == "history_orders_get" || m == "history_deals_get")
      return ",date_from,date_to,group,ticket,position,";
   if(m == "order_calc_margin")
      return ",action,symbol,volume,price,";
   if(m == "order_calc_profit")
      return ",action,symbol,volume,price_open,price_close,";
   if(m == "order_check")
      return ",request,";
   if(m == "order_send")
      return ",request,order_key,client_id,";
   if(m == "trade_results")
      return ",order_keys,client_ids,";
   return ",";
  }

bool Methods4::Known(const string m)
  {
   return m == "ping" || m == "version" || m == "terminal_info" || m == "account_info" || m == "server_time" ||
          m == "symbols_total" || m == "symbols_get" || m == "symbol_info" || m == "symbol_info_tick" ||
          m == "symbol_select" || m == "copy_rates_from" || m == "copy_rates_from_pos" || m == "copy_rates_range" ||
          m == "copy_ticks_from" || m == "copy_ticks_range" || m == "orders_total" || m == "orders_get" ||
          m == "positions_total" || m == "positions_get" || m == "history_orders_total" ||
          m == "history_orders_get" || m == "history_deals_total" || m == "history_deals_get" ||
          m == "order_calc_margin" || m == "order_calc_profit" || m == "order_check" || m == "order_send" ||
          m == "trade_results" || m == "market_book_add" || m == "market_book_get" || m == "market_book_release";
  }

bool Methods4::CheckNames(const string m, JsonDoc &doc, const int p)
  {
   if(p < 0)
      return true;
   string allowed = Allowed(m);
   for(int c = doc.nodes[p].first; c >= 0; c = doc.nodes[c].next)
      if(StringFind(allowed, "," + doc.nodes[c].key + ",") < 0)
         return Fail(E_PARAMS, m + "() got an unexpected keyword argument '" + doc.nodes[c].key + "'");
   return true;
  }

void Methods4::Dispatch(const string m, JsonDoc &doc, const int p, JsonWriter &w)
  {
   if(m == "ping")
     {
      w.BeginObj();
      w.EndObj();
      return;
     }
   if(m == "version")
     {
      w.BeginArr();
      w.Int(400);
      w.Int(TerminalInfoInteger(TERMINAL_BUILD));
      w.Str("build " + IntegerToString(TerminalInfoInteger(TERMINAL_BUILD)));
      w.EndArr();
      return;
     }
   if(m == "terminal_info")
      EncodeTerminal(w);
   else if(m == "account_info")
      EncodeAccount(w);
   else if(m == "server_time")
      ServerTime(w);
   else if(m == "symbols_total")
      w.Int(SymbolsTotal(false));
   else if(m == "symbols_get")
      SymbolsGet(doc, p, w);
   else if(m == "symbol_info")
      SymbolInfo(doc, p, w);
   else if(m == "symbol_info_tick")
      SymbolTick(doc, p, w);
   else if(m == "symbol_select")
      SymbolSelectMethod(doc, p, w);
   else if(StringFind(m, "copy_rates_") == 0)
      CopyRatesMethod(m, doc, p, w);
   else if(StringFind(m, "copy_ticks_") == 0)
      Fail(E_UNSUPPORTED, m + " is not available on MetaTrader 4: MT4 keeps no tick history (the ticks stream and symbol_info_tick work)");
   else if(StringFind(m, "market_book_") == 0)
      Fail(E_UNSUPPORTED, m + " is not available on MetaTrader 4: MQL4 has no depth of market (MarketBookAdd/MarketBookGet are MetaTrader 5's)");
   else if(m == "orders_total")
      w.Int(CountPool(false));
   else if(m == "positions_total")
      w.Int(CountPool(true));
   else if(m == "orders_get")
      PoolGet(doc, p, w, false);
   else if(m == "positions_get")
      PoolGet(doc, p, w, true);
   else if(StringFind(m, "history_") == 0)
      History(m, doc, p, w);
   else if(m == "order_calc_margin" || m == "order_calc_profit")
      Calc(m, doc, p, w);
   else if(m == "order_check")
      Check(doc, p, w);
   else if(m == "order_send")
      Send(doc, p, w);
   else if(m == "trade_results")
      Results(doc, p, w);
  }

void Methods4::WatchClock(void)
  {
   long current = (long)TimeCurrent();
   if(last_quote_s != 0 && current > last_quote_s)
     {
      long gmt = (long)TimeGMT();
      LearnZone(current - gmt, gmt);
     }
   last_quote_s = current;
  }

void Methods4::LearnZone(const long estimate, const long gmt)
  {
   if(!zone_known || estimate - zone_s > MTGW_ZONE_JUMP_S || zone_s - estimate > MTGW_ZONE_JUMP_S)
     {
      zone_known = true;
      zone_now_s = estimate;
      zone_last_s = estimate;
      zone_from_s = gmt;
     }
   else if(gmt - zone_from_s >= MTGW_ZONE_WINDOW_S)
     {
      // a new window: the one that just ended still counts, an older one does not
      zone_last_s = gmt - zone_from_s < 2 * MTGW_ZONE_WINDOW_S ? zone_now_s : estimate;
      zone_now_s = estimate;
      zone_from_s = gmt;
     }
   else if(estimate > zone_now_s)
      zone_now_s = estimate;
   zone_s = zone_now_s > zone_last_s ? zone_now_s : zone_last_s;
  }

long Methods4::ServerNow(void)
  {
   WatchClock();
   long gmt = (long)TimeGMT();
   long zone = zone_known ? zone_s : (long)MathRound((double)(last_quote_s - gmt) / 900.0) * 900;
   long now = gmt + zone;
   return now > last_quote_s ? now : last_quote_s;
  }

void Methods4::ServerTime(JsonWriter &w)
  {
   long sec = ServerNow();
   w.BeginObj();
   w.KInt("time", sec);
   w.KInt("time_msc", sec * 1000);
   w.KInt("tz_offset_s", sec - (long)TimeGMT());
   w.EndObj();
  }

void Methods4::SymbolsGet(JsonDoc &doc, const int p, JsonWriter &w)
  {
   string filter = PStr(doc, p, "group", false);
   if(code != 0)
      return;
   int total = SymbolsTotal(false);
   w.BeginArr();
   for(int i = 0; i < total; i++)
     {
      string name = SymbolName(i, false);
      if(GroupMatch(name, filter))
         EncodeSymbol(w, name);
     }
   w.EndArr();
  }

void Methods4::SymbolInfo(JsonDoc &doc, const int p, JsonWriter &w)
  {
   string s = PStr(doc, p, "symbol", true);
   if(code != 0 || !Symbol(s))
      return;
   EncodeSymbol(w, s);
  }

void Methods4::SymbolTick(JsonDoc &doc, const int p, JsonWriter &w)
  {
   string s = PStr(doc, p, "symbol", true);
   if(code != 0 || !Symbol(s))
      return;
   MqlTick t;
   if(!SymbolInfoTick(s, t) || t.time == 0)
     {
      Fail(E_HISTORY, "no quote for '" + s + "' yet: select it in Market Watch and ask again");
      return;
     }
   EncodeTick(w, t, SymbolDigits(s));
  }

void Methods4::SymbolSelectMethod(JsonDoc &doc, const int p, JsonWriter &w)
  {
   string s = PStr(doc, p, "symbol", true);
   bool enable = Has(doc, p, "enable") ? PBool(doc, p, "enable", true) : true;
   if(code != 0 || !Symbol(s))
      return;
   w.Bool(SymbolSelect(s, enable));
  }

void Methods4::RatesAnswer(JsonWriter &w, const MqlRates &rates[], const int from, const int count, const bool truncated, const int dg)
  {
   w.BeginObj();
   w.Key("columns");
   w.Raw("[\"time\",\"open\",\"high\",\"low\",\"close\",\"tick_volume\",\"spread\",\"real_volume\"]");
   w.Key("rows");
   w.BeginArr();
   for(int i = from; i < from + count; i++)
     {
      w.BeginArr();
      w.Int((long)rates[i].time);
      w.Dbl(rates[i].open, dg);
      w.Dbl(rates[i].high, dg);
      w.Dbl(rates[i].low, dg);
      w.Dbl(rates[i].close, dg);
      w.Int(rates[i].tick_volume);
      w.Int(rates[i].spread);
      w.Int(rates[i].real_volume);
      w.EndArr();
     }
   w.EndArr();
   w.KBool("truncated", truncated);
   w.EndObj();
  }

void Methods4::RatesFailed(const string s)
  {
   int err = GetLastError();
   if(err == MT4_ERR_HISTORY_WILL_UPDATED || err == 0)
      Fail(E_DEFER, "history of " + s + " is still loading; ask again shortly");
   else
      Fail(E_HISTORY, "history of " + s + " is not available (error " + IntegerToString(err) + "); ask again shortly");
  }

void Methods4::CopyRatesMethod(const string m, JsonDoc &doc, const int p, JsonWriter &w)
  {
   string s = PStr(doc, p, "symbol", true);
   long tf = PInt(doc, p, "timeframe", true);
   int period = Mt4Period(tf);
   if(code == 0 && period < 0)
      Fail(E_PARAMS, "timeframe: " + IntegerToString(tf) + " is not a TIMEFRAME_* value");
   long date_from = 0, date_to = 0, start_pos = 0, count = 0;
   if(m == "copy_rates_from")
     {
      date_from = PTime(doc, p, "date_from", true);
      count = PInt(doc, p, "count", true);
     }
   else
      if(m == "copy_rates_from_pos")
        {
         start_pos = PInt(doc, p, "start_pos", true);
         count = PInt(doc, p, "count", true);
        }
      else
        {
         date_from = PTime(doc, p, "date_from", true);
         date_to = PTime(doc, p, "date_to", true);
        }
   if(code == 0 && (count < 0 || start_pos < 0))
      Fail(E_PARAMS, count < 0 ? "count: must be >= 0" : "start_pos: must be >= 0");
   if(code == 0 && period == 0)
      Fail(E_UNSUPPORTED, "timeframe " + IntegerToString(tf) + " is not available on MetaTrader 4 (M1, M5, M15, M30, H1, H4, D1, W1, MN1 are)");
   if(code != 0 || !Symbol(s))
      return;
   ENUM_TIMEFRAMES tfv = (ENUM_TIMEFRAMES)period;
   MqlRates rates[];
   int dg = SymbolDigits(s);
   int got = 0;
   ResetLastError();
   if(m == "copy_rates_range")
     {
      if(date_to >= date_from)
        {
         got = CopyRates(s, tfv, (datetime)date_from, (datetime)date_to, rates);
         if(got < 0)
           {
            RatesFailed(s);
            return;
           }
        }
      bool cut = got > max_rows;
      RatesAnswer(w, rates, 0, cut ? max_rows : got, cut, dg);
      return;
     }
   int take = count > max_rows ? max_rows : (int)count;
   int ask = take < count ? take + 1 : take;
   if(ask == 0)
     {
      RatesAnswer(w, rates, 0, 0, false, dg);
      return;
     }
   if(m == "copy_rates_from")
      got = CopyRates(s, tfv, (datetime)date_from, ask, rates);
   else
      got = CopyRates(s, tfv, (int)start_pos, ask, rates);
   if(got < 0)
     {
      RatesFailed(s);
      return;
     }
   bool truncated = got > take;
   RatesAnswer(w, rates, truncated ? got - take : 0, truncated ? take : got, truncated, dg);
  }

int Methods4::CountPool(const bool market)
  {
   int n = 0;
   for(int i = OrdersTotal() - 1; i >= 0; i--)
      if(OrderSelect(i, SELECT_BY_POS, MODE_TRADES) && (OrderType() <= OP_SELL) == market)
         n++;
   return n;
  }

void Methods4::PoolGet(JsonDoc &doc, const int p, JsonWriter &w, const bool market)
  {
   string s = PStr(doc, p, "symbol", false);
   string filter = PStr(doc, p, "group", false);
   bool by_ticket = Has(doc, p, "ticket");
   long ticket = PInt(doc, p, "ticket", false);
   if(code != 0)
      return;
   w.BeginArr();
   int total = OrdersTotal();
   for(int i = 0; i < total; i++)
     {
      if(!OrderSelect(i, SELECT_BY_POS, MODE_TRADES) || (OrderType() <= OP_SELL) != market)
         continue;
      string sym = OrderSymbol();
      if((s != "" && sym != s) || !GroupMatch(sym, filter) || (by_ticket && OrderTicket() != ticket))
         continue;
      if(market)
         EncodePosition(w);
      else
         EncodeOrder(w);
     }
   w.EndArr();
  }

void Methods4::History(const string m, JsonDoc &doc, const int p, JsonWriter &w)
  {
   bool deals = StringFind(m, "deals") >= 0;
   bool total_only = StringFind(m, "_total") > 0;
   bool by_ticket = !total_only && Has(doc, p, "ticket");
   bool by_position = !total_only && Has(doc, p, "position");
   bool dated = total_only || (!by_ticket && !by_position);
   long date_from = PTime(doc, p, "date_from", dated);
   long date_to = PTime(doc, p, "date_to", dated);
   string filter = total_only ? "" : PStr(doc, p, "group", false);
   long ticket = by_ticket ? PInt(doc, p, "ticket", true) : 0;
   long position = by_position ? PInt(doc, p, "position", true) : 0;
   if(code != 0)
      return;
   int count = 0;
   if(!total_only)
      w.BeginArr();
   for(int pool = 0; pool < 2; pool++)
     {
      bool closed = pool == 1;
      int n = closed ? OrdersHistoryTotal() : OrdersTotal();
      for(int i = 0; i < n && count < max_rows; i++)
        {
         if(!OrderSelect(i, SELECT_BY_POS, closed ? MODE_HISTORY : MODE_TRADES))
            continue;
         if(deals)
           {
            VDeal d[];
            int k = DeriveDeals(closed, d);
            for(int j = 0; j < k && count < max_rows; j++)
              {
               if(by_ticket ? d[j].order != ticket : (by_position ? d[j].position_id != position :
                                                       (d[j].time < date_from || d[j].time > date_to)))
                  continue;
               if(!GroupMatch(d[j].symbol, filter))
                  continue;
               count++;
               if(!total_only)
                  EncodeVDeal(w, d[j]);
              }
           }
         else
           {
            VOrder o[];
            int k = DeriveOrders(closed, o);
            for(int j = 0; j < k && count < max_rows; j++)
              {
               if(by_ticket ? o[j].ticket != ticket : (by_position ? o[j].position_id != position :
                                                       (o[j].time_setup < date_from || o[j].time_setup > date_to)))
                  continue;
               if(!GroupMatch(o[j].symbol, filter))
                  continue;
               count++;
               if(!total_only)
                  EncodeVOrder(w, o[j]);
              }
           }
        }
     }
   if(total_only)
      w.Int(count);
   else
      w.EndArr();
  }

void Methods4::Calc(const string m, JsonDoc &doc, const int p, JsonWriter &w)
  {
   long action = PInt(doc, p, "action", true);
   string s = PStr(doc, p, "symbol", true);
   double volume = PNum(doc, p, "volume", true);
   double price = 0, price_open = 0, price_close = 0;
   if(m == "order_calc_margin")
      price = PNum(doc, p, "price", true);
   else
     {
      price_open = PNum(doc, p, "price_open", true);
      price_close = PNum(doc, p, "price_close", true);
     }
   if(code == 0 && (action < 0 || action > 7))
      Fail(E_PARAMS, "action: " + IntegerToString(action) + " is not an ORDER_TYPE_* value");
   if(code == 0 && volume <= 0)
      Fail(E_PARAMS, "volume: must be positive");
   if(code != 0 || !Symbol(s))
      return;
   bool buy = action % 2 == 0;
   if(m == "order_calc_margin")
     {
      double per_lot = MarketInfo(s, MODE_MARGINREQUIRED);
      double now = buy ? MarketInfo(s, MODE_ASK) : MarketInfo(s, MODE_BID);
      if(per_lot <= 0 || now <= 0)
        {
         Fail(E_HISTORY, "order_calc_margin: no margin rate for " + s + " yet (error " + IntegerToString(GetLastError()) + ")");
         return;
        }
      double margin = price > 0 ? per_lot * price / now : per_lot;   // per lot at the asked price
      margin *= volume;
      w.Dbl(margin, 2);
      return;
     }
   double tick_value = MarketInfo(s, MODE_TICKVALUE);
   double tick_size = MarketInfo(s, MODE_TICKSIZE);
   if(tick_value <= 0 || tick_size <= 0)
     {
      Fail(E_HISTORY, "order_calc_profit: no tick value for " + s + " yet (error " + IntegerToString(GetLastError()) + ")");
      return;
     }
   double move = buy ? price_close - price_open : price_open - price_close;
   double profit = move * tick_value / tick_size;
   profit *= volume;
   w.Dbl(profit, 2);
  }

bool Methods4::ParseRequest(JsonDoc &doc, const int p, GatewayRequest &r)
  {
   int q = doc.Get(p, "request");
   if(q < 0 || doc.Type(q) != J_OBJ)
      return Fail(E_PARAMS, "request: expected a TradeRequest object");
   r.action = (int)PInt(doc, q, "action", true);
   r.magic = PInt(doc, q, "magic", false);
   r.order = PInt(doc, q, "order", false);
   r.symbol = PStr(doc, q, "symbol", false);
   r.volume = PNum(doc, q, "volume", false);
   r.price = PNum(doc, q, "price", false);
   r.stoplimit = PNum(doc, q, "stoplimit", false);
   r.sl = PNum(doc, q, "sl", false);
   r.tp = PNum(doc, q, "tp", false);
   r.deviation = PInt(doc, q, "deviation", false);
   r.type = (int)PInt(doc, q, "type", false);
   r.type_filling = (int)PInt(doc, q, "type_filling", false);
   r.type_time = (int)PInt(doc, q, "type_time", false);
   r.expiration = PTime(doc, q, "expiration", false);
   r.comment = PStr(doc, q, "comment", false);
   r.position = PInt(doc, q, "position", false);
   r.position_by = PInt(doc, q, "position_by", false);
   if(code != 0)
      return false;
   if(r.symbol != "" && !Symbol(r.symbol))
      return false;
   return true;
  }

void Methods4::Check(JsonDoc &doc, const int p, JsonWriter &w)
  {
   GatewayRequest r;
   if(!ParseRequest(doc, p, r))
      return;
   uint retcode = 0;
   string comment = "Done";
   double margin = AccountInfoDouble(ACCOUNT_MARGIN);
   double free = AccountInfoDouble(ACCOUNT_MARGIN_FREE);
   if(r.action == 1 || r.action == 5)
     {
      double vmin = MarketInfo(r.symbol, MODE_MINLOT), vmax = MarketInfo(r.symbol, MODE_MAXLOT);
      double step = MarketInfo(r.symbol, MODE_LOTSTEP);
      if(r.symbol == "" || r.volume < vmin || r.volume > vmax ||
         (step > 0 && MathAbs(MathRound(r.volume / step) * step - r.volume) > 1e-8))
        {
         retcode = 10014;
         comment = "Invalid volume";
        }
      else
         if(r.action == 1 && (r.type == OP_BUY || r.type == OP_SELL))
           {
            ResetLastError();
            double after = AccountFreeMarginCheck(r.symbol, r.type, r.volume);
            if(after < 0 || GetLastError() == 134)
              {
               retcode = 10019;
               comment = "No money";
              }
            margin += free - after;
            free = after;
           }
     }
   double equity = AccountInfoDouble(ACCOUNT_EQUITY);
   w.BeginObj();
   w.KInt("retcode", retcode);
   w.KDbl("balance", AccountInfoDouble(ACCOUNT_BALANCE), 2);
   w.KDbl("equity", equity, 2);
   w.KDbl("profit", AccountInfoDouble(ACCOUNT_PROFIT), 2);
   w.KDbl("margin", margin, 2);
   w.KDbl("margin_free", free, 2);
   w.KDbl("margin_level", margin > 0 ? equity / margin * 100.0 : 0.0, 2);
   w.KStr("comment", comment);
   w.Key("request");
   EncodeRequest(w, r);
   w.EndObj();
  }

int Methods4::RecordFind(const string key)
  {
   for(int i = ArraySize(record_keys) - 1; i >= 0; i--)
      if(record_keys[i] == key)
         return i;
   return -1;
  }

void Methods4::RecordPut(const string key, const string json)
  {
   if(ArraySize(record_keys) < MTGW_RECORD_MAX)
     {
      int n = ArraySize(record_keys);
      ArrayResize(record_keys, n + 1, 1024);
      ArrayResize(record_json, n + 1, 1024);
      record_keys[n] = key;
      record_json[n] = json;
      return;
     }
   record_keys[record_next] = key;           // the oldest goes
   record_json[record_next] = json;
   record_next = (record_next + 1) % MTGW_RECORD_MAX;
  }

int Methods4::TradeError(void)
  {
   int err = GetLastError();
   return err == 0 ? 2 : err;
  }

double Methods4::MarketPrice(const string s, const bool buy)
  {
   if(!RefreshRates())
      ResetLastError();
   return buy ? MarketInfo(s, MODE_ASK) : MarketInfo(s, MODE_BID);
  }

double Methods4::Price(const string symbol, const double x)
  {
   if(x == 0.0 || symbol == "")
      return x;
   // SYMBOL_TRADE_TICK_SIZE, "Minimal price change", is a price; MarketInfo's MODE_TICKSIZE
   // is documented as "Tick size in points", which would leave the unit in doubt
   double tick = SymbolInfoDouble(symbol, SYMBOL_TRADE_TICK_SIZE);
   double y = tick > SymbolInfoDouble(symbol, SYMBOL_POINT) * 1.000001 ? MathRound(x / tick) * tick : x;
   return NormalizeDouble(y, SymbolDigits(symbol));
  }

void Methods4::RoundPrices(GatewayRequest &r, const string symbol)
  {
   r.price = Price(symbol, r.price);
   r.sl = Price(symbol, r.sl);
   r.tp = Price(symbol, r.tp);
   r.stoplimit = Price(symbol, r.stoplimit);
   // a volume that is a lot-step multiple but for float noise (0.1 + 0.2) is that multiple;
   // any other volume goes as it is and MT4 refuses it (131), as MT5 does (10014)
   double step = symbol == "" ? 0.0 : MarketInfo(symbol, MODE_LOTSTEP);
   if(step > 0.0 && r.volume > 0.0)
     {
      double lots = MathRound(r.volume / step) * step;
      if(MathAbs(lots - r.volume) < 1e-8)
         r.volume = NormalizeDouble(lots, 8);
     }
  }

void Methods4::Send(JsonDoc &doc, const int p, JsonWriter &w)
  {
   // protocol 1.2's order_key; a daemon from before 1.2 sends the same kind of key as client_id
   string key = Has(doc, p, "order_key") ? PStr(doc, p, "order_key", true) : PStr(doc, p, "client_id", false);
   GatewayRequest r;
   if(!ParseRequest(doc, p, r))
      return;
   if(key != "")
     {
      int at = RecordFind(key);
      if(at >= 0)
        {
         w.Raw(record_json[at]);               // a duplicated delivery: never a second order
         return;
        }
     }
   if(!TerminalInfoInteger(TERMINAL_CONNECTED))
     {
      Fail(E_OFFLINE, "the terminal is not connected to the trade server");
      return;
     }
   if(!TerminalInfoInteger(TERMINAL_TRADE_ALLOWED) || !MQLInfoInteger(MQL_TRADE_ALLOWED))
     {
      Fail(E_ALGO, "Algo Trading is disabled in the terminal (or for this EA): enable it to trade");
      return;
     }
   int err = 0;
   string call = "OrderSend";                     // the MT4 function the request became
   long order = 0, deal = 0;
   double volume = 0, price = 0;
   string comment = "";
   int slippage = (int)r.deviation;
   color none = clrNONE;
   RoundPrices(r, r.symbol);
   ResetLastError();
   if(r.action == 1 && r.position == 0)          // TRADE_ACTION_DEAL: open
     {
      if(r.type != OP_BUY && r.type != OP_SELL)
         err = 3;
      else
        {
         double at = r.price > 0 ? r.price : MarketPrice(r.symbol, r.type == OP_BUY);
         int ticket = OrderSend(r.symbol, r.type, r.volume, at, slippage, r.sl, r.tp, r.comment, (int)r.magic, 0, none);
         if(ticket < 0)
            err = TradeError();
         else
           {
            order = ticket;
            deal = ticket;
            volume = r.volume;
            price = OrderSelect(ticket, SELECT_BY_TICKET) ? OrderOpenPrice() : at;
           }
        }
     }
   else
      if(r.action == 1)                           // TRADE_ACTION_DEAL with a position: close
        {
         if(!OrderSelect((int)r.position, SELECT_BY_TICKET, MODE_TRADES) || OrderCloseTime() != 0 || OrderType() > OP_SELL)
           {
            Result(w, r, key, 10036, 0, 0, 0, 0, "Position doesn't exist", 0);
            return;
           }
         call = "OrderClose";
         bool was_buy = OrderType() == OP_BUY;
         string closing = OrderSymbol();
         RoundPrices(r, closing);
         double lots = r.volume > 0 ? r.volume : OrderLots();
         double at = r.price > 0 ? r.price : MarketPrice(closing, !was_buy);
         if(!OrderClose((int)r.position, lots, at, slippage, none))
            err = TradeError();
         else
           {
            order = r.position + MTGW_CLOSE_BIT;
            deal = order;
            volume = lots;
            price = OrderSelect((int)r.position, SELECT_BY_TICKET, MODE_HISTORY) ? OrderClosePrice() : at;
           }
        }
      else
         if(r.action == 5)                        // TRADE_ACTION_PENDING
           {
            if(r.type < OP_BUYLIMIT || r.type > OP_SELLSTOP)
              {
               Result(w, r, key, 10035, 0, 0, 0, 0, "Invalid order type: MT4 has no stop-limit orders", 0);
               return;
              }
            int ticket = OrderSend(r.symbol, r.type, r.volume, r.price, slippage, r.sl, r.tp, r.comment, (int)r.magic,
                                   (datetime)r.expiration, none);
            if(ticket < 0)
               err = TradeError();
            else
              {
               // 10009 DONE with the quote, as MT5's synchronous OrderSend answers a
               // placed order (10008 PLACED is what its OrderSendAsync reports)
               Result(w, r, key, 10009, 0, ticket, r.volume, r.price, "Request executed", 0);
               return;
              }
           }
         else
            if(r.action == 6 || r.action == 7)    // SLTP on a position, MODIFY of an order
              {
               call = "OrderModify";
               int t = (int)(r.action == 6 ? r.position : r.order);
               if(!OrderSelect(t, SELECT_BY_TICKET, MODE_TRADES) || OrderCloseTime() != 0 ||
                  (r.action == 6) != (OrderType() <= OP_SELL))
                 {
                  Result(w, r, key, r.action == 6 ? 10036 : 10013, 0, 0, 0, 0,
                         r.action == 6 ? "Position doesn't exist" : "Invalid request", 0);
                  return;
                 }
               RoundPrices(r, OrderSymbol());
               double at = r.action == 6 ? OrderOpenPrice() : r.price;
               datetime expiry = r.action == 6 ? OrderExpiration() : (datetime)r.expiration;
               if(!OrderModify(t, at, r.sl, r.tp, expiry, none))
                  err = TradeError();
               else
                  order = r.action == 7 ? t : 0;
              }
            else
               if(r.action == 8)                  // REMOVE a pending order
                 {
                  call = "OrderDelete";
                  if(!OrderSelect((int)r.order, SELECT_BY_TICKET, MODE_TRADES) || OrderCloseTime() != 0 ||
                     OrderType() <= OP_SELL)
                    {
                     Result(w, r, key, 10013, 0, 0, 0, 0, "Invalid request", 0);   // MT5: no such order
                     return;
                    }
                  if(!OrderDelete((int)r.order, none))
                     err = TradeError();
                  else
                     order = r.order;
                 }
               else
                  if(r.action == 10)              // CLOSE_BY: the two close against each other
                    {
                     call = "OrderCloseBy";
                     string by_symbol = "";
                     int by_type = -1;
                     double lots = 0;
                     if(OrderSelect((int)r.position_by, SELECT_BY_TICKET, MODE_TRADES) && OrderCloseTime() == 0)
                       {
                        by_symbol = OrderSymbol();
                        by_type = OrderType();
                        lots = OrderLots();
                       }
                     if(by_type < 0 || by_type > OP_SELL || !OrderSelect((int)r.position, SELECT_BY_TICKET, MODE_TRADES) ||
                        OrderCloseTime() != 0 || OrderType() > OP_SELL)
                       {
                        Result(w, r, key, 10036, 0, 0, 0, 0, "Position doesn't exist", 0);
                        return;
                       }
                     if(OrderType() == by_type || OrderSymbol() != by_symbol)
                       {
                        Result(w, r, key, 10013, 0, 0, 0, 0, "Invalid request: positions not opposite", 0);
                        return;
                       }
                     lots = MathMin(lots, OrderLots());   // the larger one's rest stays open
                     if(!OrderCloseBy((int)r.position, (int)r.position_by, none))
                        err = TradeError();
                     else
                       {
                        order = r.position + MTGW_CLOSE_BIT;   // the position's closing order and deal
                        deal = order;
                        volume = lots;
                        price = OrderSelect((int)r.position, SELECT_BY_TICKET, MODE_HISTORY) ? OrderClosePrice() : 0;
                       }
                    }
                  else
                    {
                     Result(w, r, key, 10013, 0, 0, 0, 0, "Invalid request", 0);
                     return;
                    }
   if(err >= 4000)
     {
      // the terminal's own checks (4051 invalid parameter, 4106 unknown symbol, 4108
      // invalid ticket, 4109 trading not allowed...): nothing was sent, as MT5's 4756
      Fail(E_INTERNAL, call + " failed (error " + IntegerToString(err) + "): nothing was sent");
      return;
     }
   uint retcode = Retcode4(err);
   if(err == 0)
      comment = "Request executed";
   else
      comment = "MT4 error " + IntegerToString(err);
   Result(w, r, key, retcode, deal, order, volume, price, comment, err);
  }

void Methods4::Result(JsonWriter &w, const GatewayRequest &r, const string key, const uint retcode, const long deal,
                      const long order, const double volume, const double price, const string comment, const int external)
  {
   int dg = r.symbol == "" ? 8 : SymbolDigits(r.symbol);
   JsonWriter out;
   out.BeginObj();
   out.KInt("retcode", retcode);
   out.KInt("deal", deal);
   out.KInt("order", order);
   out.KDbl("volume", volume);
   out.KDbl("price", price, dg);
   out.KDbl("bid", r.symbol == "" ? 0.0 : MarketInfo(r.symbol, MODE_BID), dg);
   out.KDbl("ask", r.symbol == "" ? 0.0 : MarketInfo(r.symbol, MODE_ASK), dg);
   out.KStr("comment", comment);
   out.KInt("request_id", ++request_id);
   out.KInt("retcode_external", external);
   out.Key("request");
   EncodeRequest(out, r);
   out.EndObj();
   if(key != "")
      RecordPut(key, out.out);
   w.Raw(out.out);
  }

void Methods4::Results(JsonDoc &doc, const int p, JsonWriter &w)
  {
   string name = Has(doc, p, "order_keys") ? "order_keys" : "client_ids";
   int keys = doc.Get(p, name);
   if(keys < 0 || doc.Type(keys) != J_ARR)
     {
      Fail(E_PARAMS, name + ": expected an array of strings");
      return;
     }
   for(int c = doc.nodes[keys].first; c >= 0; c = doc.nodes[c].next)
      if(doc.Type(c) != J_STR)
        {
         Fail(E_PARAMS, name + ": expected an array of strings");
         return;
        }
   w.BeginObj();
   for(int c = doc.nodes[keys].first; c >= 0; c = doc.nodes[c].next)
     {
      int at = RecordFind(doc.Str(c));
      if(at < 0)
         continue;
      w.Key(doc.Str(c));
      w.Raw(record_json[at]);
     }
   w.EndObj();
  }

#endif

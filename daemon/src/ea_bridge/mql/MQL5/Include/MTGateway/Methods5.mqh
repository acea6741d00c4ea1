//+------------------------------------------------------------------+
//| Methods5.mqh: every method of docs/protocol.md section 6,        |
//| answered from the terminal's own functions. Parameters arrive by |
//| name; a wrong type or a missing one is -32602 naming it. History |
//| that is not local yet is never copied (CopyTicks can wait 45 s,  |
//| and a waiting EA cannot answer pings): the call is held while the|
//| helper indicator loads it (History5.mqh) and answered once it is |
//| there, or -32008 after the EA's HistoryWaitMs. Row answers stop  |
//| at max_rows and say `truncated`.                                 |
//|                                                                  |
//| The order record (protocol 1.2): an order_send with the daemon's |
//| order_key is recorded, its OrderSendResult with the request it   |
//| executed, before the answer is written; a key seen again is      |
//| answered from the record and never executed again; trade_results |
//| reads the record. Retcodes are recorded as the server gave them  |
//| (a 10012 TIMEOUT may hide a deal: the daemon decides).           |
//+------------------------------------------------------------------+
#ifndef MTGW_METHODS5_MQH
#define MTGW_METHODS5_MQH

#include <MTGateway\Json.mqh>
#include <MTGateway\Encode5.mqh>
#include <MTGateway\History5.mqh>

#define E_METHOD   -32601
#define E_PARAMS   -32602
#define E_OFFLINE  -32002
#define E_UNKNOWN  -32006
#define E_ALGO     -32007
#define E_HISTORY  -32008
#define E_INTERNAL -32603
#define E_DEFER    1        // not an answer: the history is being loaded, ask again next pass
#define MTGW_RECORD_MAX 10000   // order records kept (the daemon reconciles within minutes)
#define MTGW_KEY_MAX    64      // longest order key taken (the daemon's are 22 characters)

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
      string p = parts[i];
      StringTrimLeft(p);
      StringTrimRight(p);
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

bool ValidTimeframe(const long tf)
  {
   return (tf >= 1 && tf <= 6) || tf == 10 || tf == 12 || tf == 15 || tf == 20 || tf == 30 ||
          tf == 16385 || tf == 16386 || tf == 16387 || tf == 16388 || tf == 16390 || tf == 16392 ||
          tf == 16396 || tf == 16408 || tf == 32769 || tf == 49153;
  }

//+------------------------------------------------------------------+
//| The dispatcher and the methods. Each method writes its result    |
//| into `w`, or sets `code`/`message` for an error answer.           |
//+------------------------------------------------------------------+
class Methods5
  {
public:
   int               max_rows;
   long              max_answer_bytes;
   int               code;
   string            message;
   CHistory5         history;
   string            record_keys[];    // the order record: a ring of MTGW_RECORD_MAX keys...
   string            record_json[];    // ...and their answers, as written
   int               record_next;      // the oldest entry once the ring is full
   string            book_symbols[];   // the books the gateway subscribed (market_book_add)...
   int               book_counts[];    // ...and how many times, each undone by a release

                     Methods5(void);

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

   // The parameter names each method accepts (a stray name is -32602, like a Python TypeError).
   string            Allowed(const string m);

   bool              Known(const string m);
   bool              CheckNames(const string m, JsonDoc &doc, const int p);
   void              Dispatch(const string m, JsonDoc &doc, const int p, JsonWriter &w);

   // The terminal's build date is not exposed to MQL5; the build number identifies it.
   string            BuildDate(void);

   void              ServerTime(JsonWriter &w);
   void              SymbolsGet(JsonDoc &doc, const int p, JsonWriter &w);
   void              SymbolInfo(JsonDoc &doc, const int p, JsonWriter &w);
   void              SymbolTick(JsonDoc &doc, const int p, JsonWriter &w);

   //--- depth of market: MarketBookAdd/Get/Release; OnBookEvent pushes `book` (Events5.mqh) --

   bool              IsBook(const string m);

   // How many market_book_add of `symbol` are not released yet (its index in book_symbols,
   // or -1 when none).
   int               BookAt(const string symbol);

   // BookEvent is broadcast: it comes for any program's subscription. Only the books the
   // gateway asked for are its business.
   bool              BookSubscribed(const string symbol);

   // The EA's subscriptions go with it (OnDeinit).
   void              ReleaseBooks(void);

   void              BookMethod(const string m, JsonDoc &doc, const int p, JsonWriter &w);
   void              SymbolSelectMethod(JsonDoc &doc, const int p, JsonWriter &w);

   //--- rates and ticks ---------------------------------------------------------------------

   // The wire's flags (the MetaTrader5 package's: COPY_TICKS_ALL is -1, INFO 1, TRADE 2) as
   // MQL5's ENUM_COPY_TICKS (ALL is 3 there). MQL5's own 3 is accepted too; anything else,
   // and never the raw wire value, reaches CopyTicks.
   uint              TickFlags(const long wire);

   // The history is not local: have the helper load it and hold the call (E_DEFER), or say
   // why it cannot be loaded. A symbol outside Market Watch is selected first, as the
   // reference's CheckLoadHistory does (the terminal keeps no data for it otherwise).
   void              Load(const string s, const int mode, const ENUM_TIMEFRAMES period, const long from_msc);


   void              RatesAnswer(JsonWriter &w, const MqlRates &rates[], const int from, const int count, const bool truncated, const int dg);
   void              CopyRatesMethod(const string m, JsonDoc &doc, const int p, JsonWriter &w);
   // A tick answer; `floor_msc` > 0: the copy started there, later than asked, at the first
   // tick on disk, and ticks the server had after the start asked for are not on this
   // computer (the server keeps none that old, or they are still loading): the answer says so
   // as `from_msc` (History5's TicksFloor).
   void              TicksAnswer(JsonWriter &w, const MqlTick &ticks[], const int count, const bool truncated, const int dg,
                                 const long floor_msc);
   void              CopyTicksMethod(const string m, JsonDoc &doc, const int p, JsonWriter &w);

   //--- trading state -------------------------------------------------------------------------

   void              OrdersGet(JsonDoc &doc, const int p, JsonWriter &w);
   void              PositionsGet(JsonDoc &doc, const int p, JsonWriter &w);
   void              History(const string m, JsonDoc &doc, const int p, JsonWriter &w);

   //--- calculations and trading ------------------------------------------------------------

   void              Calc(const string m, JsonDoc &doc, const int p, JsonWriter &w);
   bool              ParseRequest(JsonDoc &doc, const int p, MqlTradeRequest &r);
   void              Check(JsonDoc &doc, const int p, JsonWriter &w);

   //--- the order record ----------------------------------------------------------------

   int               RecordFind(const string key);
   void              RecordPut(const string key, const string json);

   // The daemon's key for this order: `order_key` (protocol 1.2), or the same key as
   // `client_id` (a daemon of 1.1); "" when neither came (nothing is recorded).
   string            OrderKey(JsonDoc &doc, const int p);

   void              Send(JsonDoc &doc, const int p, JsonWriter &w);

   // The recorded answer of each key asked that the record holds (the others are absent).
   void              Results(JsonDoc &doc, const int p, JsonWriter &w);
  };

Methods5::Methods5(void)
  {
   max_rows = 20000;
   max_answer_bytes = 8388608;
   code = 0;
   message = "";
   record_next = 0;
  }

void Methods5::Call(const string m, JsonDoc &doc, const int p, JsonWriter &w, int &code_out, string &message_out)
  {
   code = 0;
   message = "";
   if(!Known(m) && !IsBook(m))
      Fail(E_METHOD, "unknown method '" + m + "'");
   else
      if(CheckNames(m, doc, p))
        {
         if(IsBook(m))
            BookMethod(m, doc, p, w);
         else
            Dispatch(m, doc, p, w);
        }
   code_out = code;
   message_out = message;
  }

bool Methods5::Fail(const int c, const string text)
  {
   if(code == 0)
     {
      code = c;
      message = text;
     }
   return false;
  }

bool Methods5::Has(JsonDoc &doc, const int p, const string name)
  {
   int n = doc.Get(p, name);
   return n >= 0 && doc.Type(n) != J_NULL;
  }

string Methods5::PStr(JsonDoc &doc, const int p, const string name, const bool required)
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

long Methods5::PInt(JsonDoc &doc, const int p, const string name, const bool required, const long fallback)
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

long Methods5::PTime(JsonDoc &doc, const int p, const string name, const bool required)
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

long Methods5::PTimeMs(JsonDoc &doc, const int p, const string name, const bool required)
  {
   int n = doc.Get(p, name);
   if(n >= 0 && doc.Type(n) == J_INT)
      return PTime(doc, p, name, required) * 1000;
   double seconds = PNum(doc, p, name, required);
   if(code == 0 && seconds < 0)
      Fail(E_PARAMS, name + ": expected epoch seconds");
   return (long)MathRound(seconds * 1000.0);
  }

double Methods5::PNum(JsonDoc &doc, const int p, const string name, const bool required)
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

bool Methods5::PBool(JsonDoc &doc, const int p, const string name, const bool required)
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

bool Methods5::Symbol(const string name)
  {
   bool custom = false;
   if(name == "" || !SymbolExist(name, custom))
      return Fail(E_UNKNOWN, "unknown symbol '" + name + "'");
   return true;
  }

string Methods5::Allowed(const string m)
  {
   if(IsBook(m))
      return ",symbol,";
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

bool Methods5::Known(const string m)
  {
   return m == "ping" || m == "version" || m == "terminal_info" || m == "account_info" || m == "server_time" ||
          m == "symbols_total" || m == "symbols_get" || m == "symbol_info" || m == "symbol_info_tick" ||
          m == "symbol_select" || m == "copy_rates_from" || m == "copy_rates_from_pos" || m == "copy_rates_range" ||
          m == "copy_ticks_from" || m == "copy_ticks_range" || m == "orders_total" || m == "orders_get" ||
          m == "positions_total" || m == "positions_get" || m == "history_orders_total" ||
          m == "history_orders_get" || m == "history_deals_total" || m == "history_deals_get" ||
          m == "order_calc_margin" || m == "order_calc_profit" || m == "order_check" || m == "order_send" ||
          m == "trade_results";
  }

bool Methods5::CheckNames(const string m, JsonDoc &doc, const int p)
  {
   if(p < 0)
      return true;
   string allowed = Allowed(m);
   for(int c = doc.nodes[p].first; c >= 0; c = doc.nodes[c].next)
      if(StringFind(allowed, "," + doc.nodes[c].key + ",") < 0)
         return Fail(E_PARAMS, m + "() got an unexpected keyword argument '" + doc.nodes[c].key + "'");
   return true;
  }

void Methods5::Dispatch(const string m, JsonDoc &doc, const int p, JsonWriter &w)
  {
   if(m == "ping")
     {
      w.BeginObj();
      w.EndObj();
     }
   else
      if(m == "version")
        {
         w.BeginArr();
         w.Int(500);
         w.Int(TerminalInfoInteger(TERMINAL_BUILD));
         w.Str(BuildDate());
         w.EndArr();
        }
      else
         if(m == "terminal_info")
            EncodeTerminal(w);
         else
            if(m == "account_info")
               EncodeAccount(w);
            else
               if(m == "server_time")
                  ServerTime(w);
               else
                  if(m == "symbols_total")
                     w.Int(SymbolsTotal(false));
                  else
                     if(m == "symbols_get")
                        SymbolsGet(doc, p, w);
                     else
                        if(m == "symbol_info")
                           SymbolInfo(doc, p, w);
                        else
                           if(m == "symbol_info_tick")
                              SymbolTick(doc, p, w);
                           else
                              if(m == "symbol_select")
                                 SymbolSelectMethod(doc, p, w);
                              else
                                 if(StringFind(m, "copy_rates_") == 0)
                                    CopyRatesMethod(m, doc, p, w);
                                 else
                                    if(StringFind(m, "copy_ticks_") == 0)
                                       CopyTicksMethod(m, doc, p, w);
                                    else
                                       if(m == "orders_total")
                                          w.Int(OrdersTotal());
                                       else
                                          if(m == "orders_get")
                                             OrdersGet(doc, p, w);
                                          else
                                             if(m == "positions_total")
                                                w.Int(PositionsTotal());
                                             else
                                                if(m == "positions_get")
                                                   PositionsGet(doc, p, w);
                                                else
                                                   if(StringFind(m, "history_") == 0)
                                                      History(m, doc, p, w);
                                                   else
                                                      if(m == "order_calc_margin" || m == "order_calc_profit")
                                                         Calc(m, doc, p, w);
                                                      else
                                                         if(m == "order_check")
                                                            Check(doc, p, w);
                                                         else
                                                            if(m == "order_send")
                                                               Send(doc, p, w);
                                                            else
                                                               if(m == "trade_results")
                                                                  Results(doc, p, w);
  }

string Methods5::BuildDate(void)
  {
   return "build " + IntegerToString(TerminalInfoInteger(TERMINAL_BUILD));
  }

void Methods5::ServerTime(JsonWriter &w)
  {
   MqlTick t;
   long msc = 0;
   // the newest tick of the chart symbol carries the server's milliseconds
   if(SymbolInfoTick(_Symbol, t) && t.time_msc > 0 && (long)t.time == (long)TimeTradeServer())
      msc = t.time_msc;
   long sec = (long)TimeTradeServer();
   if(msc / 1000 != sec)
      msc = sec * 1000;
   w.BeginObj();
   w.KInt("time", sec);
   w.KInt("time_msc", msc);
   w.KInt("tz_offset_s", sec - (long)TimeGMT());
   w.EndObj();
  }

void Methods5::SymbolsGet(JsonDoc &doc, const int p, JsonWriter &w)
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

void Methods5::SymbolInfo(JsonDoc &doc, const int p, JsonWriter &w)
  {
   string s = PStr(doc, p, "symbol", true);
   if(code != 0 || !Symbol(s))
      return;
   EncodeSymbol(w, s);
  }

void Methods5::SymbolTick(JsonDoc &doc, const int p, JsonWriter &w)
  {
   string s = PStr(doc, p, "symbol", true);
   if(code != 0 || !Symbol(s))
      return;
   MqlTick t;
   if(!SymbolInfoTick(s, t))
     {
      Fail(E_HISTORY, "no quote for '" + s + "' yet: select it in Market Watch and ask again");
      return;
     }
   EncodeTick(w, t, SymbolDigits(s));
  }

bool Methods5::IsBook(const string m)
  {
   return m == "market_book_add" || m == "market_book_get" || m == "market_book_release";
  }

int Methods5::BookAt(const string symbol)
  {
   for(int i = 0; i < ArraySize(book_symbols); i++)
      if(book_symbols[i] == symbol)
         return i;
   return -1;
  }

bool Methods5::BookSubscribed(const string symbol)
  {
   int i = BookAt(symbol);
   return i >= 0 && book_counts[i] > 0;
  }

void Methods5::ReleaseBooks(void)
  {
   for(int i = 0; i < ArraySize(book_symbols); i++)
      for(; book_counts[i] > 0; book_counts[i]--)
         if(!MarketBookRelease(book_symbols[i]))
            break;
   ArrayResize(book_symbols, 0);
   ArrayResize(book_counts, 0);
  }

void Methods5::BookMethod(const string m, JsonDoc &doc, const int p, JsonWriter &w)
  {
   string s = PStr(doc, p, "symbol", true);
   if(code != 0 || !Symbol(s))
      return;
   int at = BookAt(s);
   if(m == "market_book_add")
     {
      if(MarketBookAdd(s))
        {
         if(at < 0)
           {
            at = ArraySize(book_symbols);
            ArrayResize(book_symbols, at + 1);
            ArrayResize(book_counts, at + 1);
            book_symbols[at] = s;
            book_counts[at] = 0;
           }
         book_counts[at]++;
         w.Bool(true);
        }
      else
         Fail(E_INTERNAL, "MarketBookAdd('" + s + "') failed (error " + IntegerToString(GetLastError()) + ")");
     }
   else
      if(m == "market_book_release")
        {
         // only a subscription of the gateway's own is released (another program's stays)
         bool released = at >= 0 && book_counts[at] > 0 && MarketBookRelease(s);
         if(released)
            book_counts[at]--;
         w.Bool(released);
        }
      else
         if(!BookSubscribed(s) || !EncodeBook(w, s))
            Fail(E_PARAMS, "symbol: no depth of market for '" + s + "': call market_book_add('" + s + "') first");
  }

void Methods5::SymbolSelectMethod(JsonDoc &doc, const int p, JsonWriter &w)
  {
   string s = PStr(doc, p, "symbol", true);
   bool enable = Has(doc, p, "enable") ? PBool(doc, p, "enable", true) : true;
   if(code != 0 || !Symbol(s))
      return;
   w.Bool(SymbolSelect(s, enable));
  }

uint Methods5::TickFlags(const long wire)
  {
   if(wire == -1 || wire == 3)
      return (uint)COPY_TICKS_ALL;
   if(wire == 1)
      return (uint)COPY_TICKS_INFO;
   if(wire == 2)
      return (uint)COPY_TICKS_TRADE;
   if(code == 0)
      Fail(E_PARAMS, "flags: " + IntegerToString(wire) + " is not a COPY_TICKS_* value (-1 or 3 all, 1 info, 2 trade)");
   return (uint)COPY_TICKS_ALL;
  }

void Methods5::Load(const string s, const int mode, const ENUM_TIMEFRAMES period, const long from_msc)
  {
   if(!SymbolInfoInteger(s, SYMBOL_SELECT) && !SymbolSelect(s, true))
     {
      Fail(E_HISTORY, s + " cannot be added to Market Watch (error " + IntegerToString(GetLastError()) + "); ask again shortly");
      return;
     }
   if(!history.Request(s, mode, period, from_msc))
     {
      Fail(E_INTERNAL, "history of " + s + " is not on this computer and the terminal cannot create the helper indicator " +
           MTGW_HELPER_NAME + " that loads it (the Experts log has the error)");
      return;
     }
   Fail(E_DEFER, "history of " + s + " is still loading; ask again shortly");
  }

void Methods5::RatesAnswer(JsonWriter &w, const MqlRates &rates[], const int from, const int count, const bool truncated, const int dg)
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

void Methods5::CopyRatesMethod(const string m, JsonDoc &doc, const int p, JsonWriter &w)
  {
   string s = PStr(doc, p, "symbol", true);
   long tf = PInt(doc, p, "timeframe", true);
   if(code == 0 && !ValidTimeframe(tf))
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
   if(code != 0 || !Symbol(s))
      return;
   ENUM_TIMEFRAMES period = (ENUM_TIMEFRAMES)tf;
   // never copy bars that are not built: the copy would wait for them
   long need = m == "copy_rates_from_pos" ? start_pos + count : count;
   if(!history.BarsLocal(s, period, m == "copy_rates_from_pos" ? 0 : date_from, need))
     {
      Load(s, MTGW_HELPER_BARS, period, m == "copy_rates_from_pos" ? 0 : date_from * 1000);
      return;
     }
   MqlRates rates[];
   int dg = SymbolDigits(s);
   int got = 0;
   bool truncated = false;
   if(m == "copy_rates_range")
     {
      got = date_to < date_from ? 0 : CopyRates(s, period, (datetime)date_from, (datetime)date_to, rates);
      if(got < 0)
         got = 0;
      truncated = got > max_rows;
      RatesAnswer(w, rates, 0, truncated ? max_rows : got, truncated, dg);
      return;
     }
   // newest `take` bars; one more tells whether the answer was cut
   int take = count > max_rows ? max_rows : (int)count;
   int ask = take < count ? take + 1 : take;
   if(ask == 0)
     {
      RatesAnswer(w, rates, 0, 0, false, dg);
      return;
     }
   if(m == "copy_rates_from")
      got = CopyRates(s, period, (datetime)date_from, ask, rates);
   else
      got = CopyRates(s, period, (int)start_pos, ask, rates);
   if(got < 0)
      got = 0;
   truncated = got > take;
   // rates come oldest first: the extra bar, if any, is the oldest one
   RatesAnswer(w, rates, truncated ? got - take : 0, truncated ? take : got, truncated, dg);
  }

void Methods5::TicksAnswer(JsonWriter &w, const MqlTick &ticks[], const int count, const bool truncated, const int dg,
                           const long floor_msc)
  {
   w.BeginObj();
   w.Key("columns");
   w.Raw("[\"time\",\"bid\",\"ask\",\"last\",\"volume\",\"time_msc\",\"flags\",\"volume_real\"]");
   w.Key("rows");
   w.BeginArr();
   for(int i = 0; i < count; i++)
     {
      w.BeginArr();
      w.Int((long)ticks[i].time);
      w.Dbl(ticks[i].bid, dg);
      w.Dbl(ticks[i].ask, dg);
      w.Dbl(ticks[i].last, dg);
      w.Int((long)ticks[i].volume);
      w.Int(ticks[i].time_msc);
      w.Int((long)ticks[i].flags);
      w.Dbl(ticks[i].volume_real);
      w.EndArr();
     }
   w.EndArr();
   w.KBool("truncated", truncated);
   if(floor_msc > 0)
      w.KInt("from_msc", floor_msc);
   w.EndObj();
  }

void Methods5::CopyTicksMethod(const string m, JsonDoc &doc, const int p, JsonWriter &w)
  {
   string s = PStr(doc, p, "symbol", true);
   long from_msc = PTimeMs(doc, p, "date_from", true);
   long to_msc = 0, count = 0;
   if(m == "copy_ticks_from")
      count = PInt(doc, p, "count", true);
   else
      to_msc = PTimeMs(doc, p, "date_to", true);
   uint flags = TickFlags(PInt(doc, p, "flags", true));
   if(code == 0 && count < 0)
      Fail(E_PARAMS, "count: must be >= 0");
   if(code != 0 || !Symbol(s))
      return;
   // never copy ticks that are not on disk: CopyTicks would wait up to 45 s for them
   if(!history.TicksLocal(s, from_msc, to_msc))
     {
      Load(s, MTGW_HELPER_TICKS, PERIOD_M1, from_msc);
      return;
     }
   // from the first tick on disk, never before it (History5.mqh); while that is a minute or
   // more later, the helper keeps looking for older ticks. The answer says where the copy
   // started only when ticks between the start asked for and there are not on disk: a start
   // with no tick before the next one on disk (a whole minute's) is not a later start.
   long copy_from = history.TicksStart(s, from_msc);
   long floor_msc = history.TicksFloor(s, from_msc);
   if(copy_from - from_msc >= MTGW_FLOOR_WATCH_MS)
      history.Request(s, MTGW_HELPER_TICKS, PERIOD_M1, from_msc);
   MqlTick ticks[];
   int dg = SymbolDigits(s);
   int got = 0;
   bool truncated = false;
   if(m == "copy_ticks_from")
     {
      int take = count > max_rows ? max_rows : (int)count;
      if(take > 0)
         got = CopyTicks(s, ticks, flags, (ulong)copy_from, (uint)(take < count ? take + 1 : take));
      if(got < 0)
         got = 0;
      truncated = got > take;
      TicksAnswer(w, ticks, truncated ? take : got, truncated, dg, floor_msc);
      return;
     }
   // both ends inclusive, to the millisecond (a to_msc of 0 would mean "up to now")
   if(to_msc >= copy_from && to_msc > 0)
      got = CopyTicksRange(s, ticks, flags, (ulong)copy_from, (ulong)to_msc);
   if(got < 0)
      got = 0;
   truncated = got > max_rows;
   TicksAnswer(w, ticks, truncated ? max_rows : got, truncated, dg, floor_msc);
  }

void Methods5::OrdersGet(JsonDoc &doc, const int p, JsonWriter &w)
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
      ulong t = OrderGetTicket(i);
      if(t == 0)
         continue;
      string sym = OrderGetString(ORDER_SYMBOL);
      if((s != "" && sym != s) || !GroupMatch(sym, filter) || (by_ticket && (long)t != ticket))
         continue;
      EncodeOrder(w);
     }
   w.EndArr();
  }

void Methods5::PositionsGet(JsonDoc &doc, const int p, JsonWriter &w)
  {
   string s = PStr(doc, p, "symbol", false);
   string filter = PStr(doc, p, "group", false);
   bool by_ticket = Has(doc, p, "ticket");
   long ticket = PInt(doc, p, "ticket", false);
   if(code != 0)
      return;
   w.BeginArr();
   int total = PositionsTotal();
   for(int i = 0; i < total; i++)
     {
      ulong t = PositionGetTicket(i);
      if(t == 0)
         continue;
      string sym = PositionGetString(POSITION_SYMBOL);
      if((s != "" && sym != s) || !GroupMatch(sym, filter) || (by_ticket && (long)t != ticket))
         continue;
      EncodePosition(w);
     }
   w.EndArr();
  }

void Methods5::History(const string m, JsonDoc &doc, const int p, JsonWriter &w)
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
   // MT5 semantics: history_orders_get(ticket=X) is order X; history_deals_get(ticket=X)
   // is the deals of ORDER X (DEAL_ORDER), which MQL5 can only find by scanning history.
   bool selected = false;
   bool one_order = by_ticket && !deals;
   if(one_order)
      selected = HistoryOrderSelect((ulong)ticket);
   else
      if(by_ticket)
         selected = HistorySelect(0, TimeTradeServer() + 86400);
      else
         if(by_position)
            selected = HistorySelectByPosition((ulong)position);
         else
            selected = HistorySelect((datetime)date_from, (datetime)date_to);
   if(!selected && !one_order)
     {
      Fail(E_HISTORY, "trade history is still loading; ask again shortly");
      return;
     }
   int total = !selected ? 0 : (one_order ? 1 : (deals ? HistoryDealsTotal() : HistoryOrdersTotal()));
   if(total_only)
     {
      w.Int(total);
      return;
     }
   w.BeginArr();
   int written = 0;
   for(int i = 0; i < total && written < max_rows; i++)
     {
      ulong t = one_order ? (ulong)ticket : (deals ? HistoryDealGetTicket(i) : HistoryOrderGetTicket(i));
      if(t == 0 || (deals && by_ticket && HistoryDealGetInteger(t, DEAL_ORDER) != ticket))
         continue;
      string sym = deals ? HistoryDealGetString(t, DEAL_SYMBOL) : HistoryOrderGetString(t, ORDER_SYMBOL);
      if(!GroupMatch(sym, filter))
         continue;
      if(deals)
         EncodeDeal(w, t);
      else
         EncodeHistoryOrder(w, t);
      written++;
     }
   w.EndArr();
  }

void Methods5::Calc(const string m, JsonDoc &doc, const int p, JsonWriter &w)
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
   double out = 0;
   ResetLastError();
   bool ok = m == "order_calc_margin" ? OrderCalcMargin((ENUM_ORDER_TYPE)action, s, volume, price, out)
             : OrderCalcProfit((ENUM_ORDER_TYPE)action, s, volume, price_open, price_close, out);
   if(!ok)
     {
      Fail(E_HISTORY, m + " failed (error " + IntegerToString(GetLastError()) + "): a conversion rate may still be loading");
      return;
     }
   long cd = AccountInfoInteger(ACCOUNT_CURRENCY_DIGITS);
   w.Dbl(out, cd > 0 ? (int)cd : 2);
  }

bool Methods5::ParseRequest(JsonDoc &doc, const int p, MqlTradeRequest &r)
  {
   int q = doc.Get(p, "request");
   if(q < 0 || doc.Type(q) != J_OBJ)
      return Fail(E_PARAMS, "request: expected a TradeRequest object");
   ZeroMemory(r);
   r.action = (ENUM_TRADE_REQUEST_ACTIONS)PInt(doc, q, "action", true);
   r.magic = (ulong)PInt(doc, q, "magic", false);
   r.order = (ulong)PInt(doc, q, "order", false);
   r.symbol = PStr(doc, q, "symbol", false);
   r.volume = PNum(doc, q, "volume", false);
   r.price = PNum(doc, q, "price", false);
   r.stoplimit = PNum(doc, q, "stoplimit", false);
   r.sl = PNum(doc, q, "sl", false);
   r.tp = PNum(doc, q, "tp", false);
   r.deviation = (ulong)PInt(doc, q, "deviation", false);
   r.type = (ENUM_ORDER_TYPE)PInt(doc, q, "type", false);
   r.type_filling = (ENUM_ORDER_TYPE_FILLING)PInt(doc, q, "type_filling", false);
   r.type_time = (ENUM_ORDER_TYPE_TIME)PInt(doc, q, "type_time", false);
   r.expiration = (datetime)PTime(doc, q, "expiration", false);
   r.comment = PStr(doc, q, "comment", false);
   r.position = (ulong)PInt(doc, q, "position", false);
   r.position_by = (ulong)PInt(doc, q, "position_by", false);
   if(code != 0)
      return false;
   if(r.symbol != "" && !Symbol(r.symbol))
      return false;
   return true;
  }

void Methods5::Check(JsonDoc &doc, const int p, JsonWriter &w)
  {
   MqlTradeRequest r;
   if(!ParseRequest(doc, p, r))
      return;
   MqlTradeCheckResult c;
   ZeroMemory(c);
   ResetLastError();
   // false with a retcode is a result, as in MT5; false without one failed the terminal's
   // own check of the request and has no result to give
   if(!OrderCheck(r, c) && c.retcode == 0)
     {
      Fail(E_INTERNAL, "OrderCheck failed (error " + IntegerToString(GetLastError()) + ")");
      return;
     }
   long cd = AccountInfoInteger(ACCOUNT_CURRENCY_DIGITS);
   int d = cd > 0 ? (int)cd : 2;
   w.BeginObj();
   w.KInt("retcode", (long)c.retcode);
   w.KDbl("balance", c.balance, d);
   w.KDbl("equity", c.equity, d);
   w.KDbl("profit", c.profit, d);
   w.KDbl("margin", c.margin, d);
   w.KDbl("margin_free", c.margin_free, d);
   w.KDbl("margin_level", c.margin_level, 2);
   w.KStr("comment", c.comment);
   w.Key("request");
   EncodeRequest(w, r);
   w.EndObj();
  }

int Methods5::RecordFind(const string key)
  {
   for(int i = ArraySize(record_keys) - 1; i >= 0; i--)
      if(record_keys[i] == key)
         return i;
   return -1;
  }

void Methods5::RecordPut(const string key, const string json)
  {
   int n = ArraySize(record_keys);
   if(n < MTGW_RECORD_MAX)
     {
      if(ArrayResize(record_keys, n + 1, 1024) != n + 1 || ArrayResize(record_json, n + 1, 1024) != n + 1)
        {
         Print("MT Gateway: no memory for the order record; key ", key, " is not recorded");
         ArrayResize(record_keys, n);
         ArrayResize(record_json, n);
         return;
        }
      record_keys[n] = key;
      record_json[n] = json;
      return;
     }
   record_keys[record_next] = key;           // the oldest goes
   record_json[record_next] = json;
   record_next = (record_next + 1) % MTGW_RECORD_MAX;
  }

string Methods5::OrderKey(JsonDoc &doc, const int p)
  {
   string name = Has(doc, p, "order_key") ? "order_key" : "client_id";
   string key = PStr(doc, p, name, false);
   if(code == 0 && Has(doc, p, name) && (StringLen(key) < 1 || StringLen(key) > MTGW_KEY_MAX))
      Fail(E_PARAMS, name + ": expected 1 to " + IntegerToString(MTGW_KEY_MAX) + " characters");
   return key;
  }

void Methods5::Send(JsonDoc &doc, const int p, JsonWriter &w)
  {
   string key = OrderKey(doc, p);
   if(code != 0)
      return;
   MqlTradeRequest r;
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
   MqlTradeResult res;
   ZeroMemory(res);
   ResetLastError();
   // a broker rejection is a result with its retcode, not an error; false without a retcode
   // failed the terminal's own check of the request (ERR_TRADE_SEND_FAILED): nothing was sent
   if(!OrderSend(r, res) && res.retcode == 0)
     {
      Fail(E_INTERNAL, "OrderSend failed (error " + IntegerToString(GetLastError()) + "): nothing was sent");
      return;
     }
   int dg = r.symbol == "" ? 8 : SymbolDigits(r.symbol);
   JsonWriter out;
   out.BeginObj();
   out.KInt("retcode", (long)res.retcode);
   out.KInt("deal", (long)res.deal);
   out.KInt("order", (long)res.order);
   out.KDbl("volume", res.volume);
   out.KDbl("price", res.price, dg);
   out.KDbl("bid", res.bid, dg);
   out.KDbl("ask", res.ask, dg);
   out.KStr("comment", res.comment);
   out.KInt("request_id", (long)res.request_id);
   out.KInt("retcode_external", (long)res.retcode_external);
   out.Key("request");                         // the request executed: the daemon checks it
   EncodeRequest(out, r);
   out.EndObj();
   // A number JSON cannot carry is written 0 (the JSON writer's rule); the order executed
   // all the same, so the answer is what is recorded: an error here beside a record of
   // success would have trade_results and the answer disagree.
   if(out.bad)
      Print("MT Gateway: order_send's result has a non-finite '", out.bad_field, "' (order ",
            IntegerToString((long)res.order), "): answered and recorded as 0");
   // recorded first: an answer lost on the way is still known to trade_results
   if(key != "")
      RecordPut(key, out.out);
   w.Raw(out.out);
  }

void Methods5::Results(JsonDoc &doc, const int p, JsonWriter &w)
  {
   string name = Has(doc, p, "client_ids") && !Has(doc, p, "order_keys") ? "client_ids" : "order_keys";
   int keys = p < 0 ? -1 : doc.Get(p, name);
   if(keys < 0 || doc.Type(keys) == J_NULL)
     {
      Fail(E_PARAMS, name + ": missing");
      return;
     }
   if(doc.Type(keys) != J_ARR)
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

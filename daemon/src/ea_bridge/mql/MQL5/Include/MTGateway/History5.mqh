//+------------------------------------------------------------------+
//| History5.mqh: is the history a request needs on this computer,   |
//| and if not, have the terminal fetch it without the EA waiting.   |
//|                                                                  |
//| In an EA, CopyTicks "can wait for the result for 45 seconds"     |
//| while the tick database synchronizes, and a copy from a series   |
//| that is not built waits too; a waiting EA answers nothing, pings |
//| included. In an indicator the same calls return at once and set |
//| the loading going. So a request whose history is not local is   |
//| held: the EA asks its helper indicator (Indicators\MTGateway\    |
//| Helper) to load it, and answers once it is there, or -32008 when |
//| the wait bound passes (the loading goes on; the caller retries). |
//| Local means: bars whose series is synchronized and reaches back  |
//| far enough; ticks from a time the helper synchronized from (the  |
//| terminal variable MTGW.ticks.<symbol>, gone when the terminal    |
//| closes) or that the EA itself has streamed since it started.     |
//| A tick copy starts at the first tick on disk the helper found    |
//| from there (MTGW.t0.<symbol>), never before it: the helper's    |
//| "no older ticks" is a judgment of time, and a copy reaching     |
//| before what is on disk would wait for the synchronization. The  |
//| answer says it started later than asked only when the server's  |
//| M1 bars show ticks in between that are not on disk, or cannot    |
//| show it (loading; a start older than the terminal's bar limit)   |
//| (MTGW.tb.<symbol>): most starts precede their first tick. A      |
//| symbol that leaves Market Watch receives no quotes meanwhile, so |
//| its return forgets both (Forget): the hole must be loaded again. |
//| Nor does any symbol while the terminal has lost its connection  |
//| to the trade server: when it comes back, every symbol is        |
//| forgotten and the tick helpers judging from before are released |
//| (Watch; Events5 restarts its streams on `reconnections`).       |
//| Each such hole is kept as an interval of server time (TickHole: |
//| after the last tick the terminal had, up to the server's time   |
//| at the return, and after an outage up to the symbol's first     |
//| quote after it, should its quotes resume later than the         |
//| connection): a range reaching into one is local only once a     |
//| helper has judged that interval itself, every ticked minute of |
//| it and a copy across it that is not waiting for a              |
//| synchronization (MTGW.hf./MTGW.ht.<symbol>), not by the samples |
//| that judge the rest of a range.                                 |
//| Each helper runs on a timeframe other than the one it loads: an  |
//| indicator cannot have its own symbol and timeframe loaded.       |
//+------------------------------------------------------------------+
#ifndef MTGW_HISTORY5_MQH
#define MTGW_HISTORY5_MQH

#include <MTGateway\Ids.mqh>

#define MTGW_HELPERS_MAX      64       // helper indicators loading at once
#define MTGW_HELPER_IDLE_US   30000000 // a loading helper nothing asked about for 30 s is released

struct HelperRef
  {
   string            symbol;
   int               mode;
   int               period;
   long              from_msc;
   int               handle;
   ulong             used_us;
   long              hole_from;   // the hole it judges too (TickHole), 0 and 0: none
   long              hole_to;
  };

struct StreamStart
  {
   string            symbol;
   long              from_msc;
  };

// Ticks of `symbol` after `after_msc` and up to `to_msc` may never have reached the terminal (a
// lost trade server connection, an absence from Market Watch); one interval per symbol, holes
// that come before the last is judged widen it.
struct TickHole
  {
   string            symbol;
   long              after_msc;     // the last tick the terminal had before it (0: none known)
   long              to_msc;        // server time it was over by (0: not over yet)
   long              outage_quote;  // the symbol's quote when the last outage was first seen (0: none)
   long              live_after;    // the hole ends at the first quote newer than this (0: its end is final)
  };

class CHistory5
  {
public:
   HelperRef         helpers[];
   StreamStart       streams[];
   TickHole          holes[];
   long              chart;
   bool              helper_missing;   // the terminal could not create the helper (iCustom failed)
   bool              broker_down;      // the terminal was seen without its trade server connection
   int               reconnections;    // ...and seen getting it back, this many times
   long              down_seen_msc;    // server time the outage was first seen (0: connected)

                     CHistory5(void);

   // Notices the terminal losing and regaining its trade server connection; on its return,
   // nothing from before it is local any more (see Reconnected); and, after it, each
   // symbol's first quote, where its hole ends (LiveQuotes). Cheap: the EA calls it before
   // anything that copies ticks.
   void              Watch(void);

   // The EA streams `symbol` from `from_msc` on: those ticks are in the terminal.
   void              NoteStream(const string symbol, const long from_msc);

   // `symbol` left Market Watch and came back: the ticks of its absence never reached the
   // terminal, so nothing before its return is known to be on disk any more.
   void              Forget(const string symbol);

   // ...and the ticks after `after_msc` (the last one the EA saw before it left) up to now are
   // a hole: a range reaching into it waits for a helper's judgment of it (Claimed).
   void              Returned(const string symbol, const long after_msc);

   // The quote `symbol` showed when the last outage was first seen (0: none known): a quote
   // newer than it came after the connection returned.
   long              OutageQuote(const string symbol);

   // The timeframe a helper runs on to load `period`: never `period` itself.
   ENUM_TIMEFRAMES   HelperPeriod(const ENUM_TIMEFRAMES period) const;

   // Ticks of `symbol` from `from_msc` to `to_msc` (0: to now) are on disk (a copy returns
   // without waiting).
   bool              TicksLocal(const string symbol, const long from_msc, const long to_msc);

   // Where a copy of local ticks of `symbol` from `from_msc` starts: at the first tick on disk
   // the helper found from there on when that is later (a copy from before it could wait for
   // a synchronization; it would find nothing on disk before it either way).
   long              TicksStart(const string symbol, const long from_msc);

   // Where that copy starts (TicksStart) when ticks the trade server had from `from_msc` on
   // are not on disk before it, or may be (the helper read the server's M1 bars, or found
   // none to read: MTGW.tb.<symbol>); 0 when it starts where asked, or when no tick happened
   // between (the usual: a start just before the next tick, as a whole minute's is), so the
   // copy misses none.
   long              TicksFloor(const string symbol, const long from_msc);

   // The series `symbol`/`period` is built and reaches back to `from_time` (0: any), or to the
   // start of the server's history, or to the terminal's bar limit.
   bool              BarsLocal(const string symbol, const ENUM_TIMEFRAMES period, const long from_time, const long need_bars);

   // Have the helper load it (idempotent); false when the helper cannot be created.
   bool              Request(const string symbol, const int mode, const ENUM_TIMEFRAMES period, const long from_msc);

   // Release the loading helpers whose history arrived or that nothing asked about lately. A
   // ticks helper whose copies start a minute or more after its start keeps looking for older
   // ticks while it is asked about (Request).
   void              Sweep(void);

   void              ReleaseAll(void);

private:
   void              Outage(void);
   void              Reconnected(void);
   void              LiveQuotes(void);
   bool              Claimed(const string symbol, const long from_msc, const long to_msc);
   int               Hole(const string symbol);
   void              AddHole(const string symbol, const long after_msc, const long to_msc);
   bool              HoleJudged(const int h);
   void              Drop(const int i);
  };

CHistory5::CHistory5(void)
  {
   chart = 0;
   helper_missing = false;
   broker_down = false;
   reconnections = 0;
   down_seen_msc = 0;
  }

void CHistory5::Watch(void)
  {
   if(TerminalInfoInteger(TERMINAL_CONNECTED) == 0)
     {
      if(!broker_down)
         Outage();
      broker_down = true;
      return;
     }
   if(broker_down)
     {
      broker_down = false;
      Reconnected();
     }
   LiveQuotes();
  }

// The connection to the trade server is lost (first seen now): no quote reaches the terminal
// until it is back, so each Market Watch symbol's ticks after its current quote are a hole
// from here on (open until Reconnected closes it).
void CHistory5::Outage(void)
  {
   down_seen_msc = (long)TimeTradeServer() * 1000;
   for(int k = SymbolsTotal(true) - 1; k >= 0; k--)
     {
      string name = SymbolName(k, true);
      MqlTick t;
      long quote = SymbolInfoTick(name, t) ? t.time_msc : 0;
      AddHole(name, quote > 0 ? quote : down_seen_msc, 0);
      holes[Hole(name)].outage_quote = quote;
     }
  }

// The connection to the trade server is back. No quotes reached the terminal meanwhile, so
// the ticks of the outage are a hole in every symbol's tick database: nothing before now is
// known to be on disk (a copy reaching into the hole would wait for its synchronization, up
// to 45 s, answering nothing meanwhile), and a tick helper's judgment of a synchronization
// started before the hole is no judgment of it. The next request starts a new helper.
void CHistory5::Reconnected(void)
  {
   reconnections++;
   // every hole still open ends now: the server's time bounds the ticks the terminal missed,
   // unless the symbol's quotes have not come back with the connection (its quote is still
   // the one from before the outage): whether a terminal flags its connection only once
   // quotes flow again is not documented, and ticks of the seconds between are neither
   // received nor in a hole ending now. So such a hole ends at the symbol's first quote
   // after the return (LiveQuotes); until that comes, at now, so a range up to now is
   // loaded meanwhile without waiting for a quote that a quiet market may not send.
   long now = (long)TimeTradeServer() * 1000;
   for(int k = SymbolsTotal(true) - 1; k >= 0; k--)
      if(Hole(SymbolName(k, true)) < 0)          // in Market Watch since the outage began
         AddHole(SymbolName(k, true), down_seen_msc > 1000 ? down_seen_msc - 1000 : 0, 0);
   for(int h = 0; h < ArraySize(holes); h++)
      if(holes[h].to_msc == 0)
        {
         MqlTick t;
         long quote = SymbolInfoTick(holes[h].symbol, t) ? t.time_msc : 0;
         holes[h].to_msc = quote > now ? quote : now;
         holes[h].live_after = quote > 0 && quote <= holes[h].outage_quote ? holes[h].outage_quote : 0;
        }
   down_seen_msc = 0;
   for(int k = SymbolsTotal(true) - 1; k >= 0; k--)
      Forget(SymbolName(k, true));
   for(int i = 0; i < ArraySize(streams); i++)
      Forget(streams[i].symbol);
   for(int i = ArraySize(helpers) - 1; i >= 0; i--)
      if(helpers[i].mode == MTGW_HELPER_TICKS)
        {
         Forget(helpers[i].symbol);
         Drop(i);
        }
  }

// A symbol whose quotes had not come back with the connection (Reconnected) has its first
// quote since: no quote arrives without its stream, so the ticks before it were missed and
// its hole ends there, later than the return it ended at meanwhile. A helper's judgment of
// the shorter hole covers it no more: a range reaching into it waits for a new one.
void CHistory5::LiveQuotes(void)
  {
   for(int h = 0; h < ArraySize(holes); h++)
      if(holes[h].live_after > 0 && holes[h].to_msc > 0)
        {
         MqlTick t;
         if(!SymbolInfoTick(holes[h].symbol, t) || t.time_msc <= holes[h].live_after)
            continue;
         if(t.time_msc > holes[h].to_msc)
            holes[h].to_msc = t.time_msc;
         holes[h].live_after = 0;
        }
  }

void CHistory5::NoteStream(const string symbol, const long from_msc)
  {
   for(int i = 0; i < ArraySize(streams); i++)
      if(streams[i].symbol == symbol)
        {
         if(streams[i].from_msc == 0 || from_msc < streams[i].from_msc)
            streams[i].from_msc = from_msc;
         return;
        }
   int n = ArraySize(streams);
   ArrayResize(streams, n + 1);
   streams[n].symbol = symbol;
   streams[n].from_msc = from_msc;
  }

void CHistory5::Forget(const string symbol)
  {
   GlobalVariableDel(MTGW_TICKS_VAR + symbol);
   GlobalVariableDel(MTGW_FLOOR_VAR + symbol);
   GlobalVariableDel(MTGW_MISSED_VAR + symbol);
   for(int i = 0; i < ArraySize(streams); i++)
      if(streams[i].symbol == symbol)
         streams[i].from_msc = 0;
  }

ENUM_TIMEFRAMES CHistory5::HelperPeriod(const ENUM_TIMEFRAMES period) const
  {
   return period == PERIOD_MN1 ? PERIOD_W1 : PERIOD_MN1;
  }

void CHistory5::Returned(const string symbol, const long after_msc)
  {
   Forget(symbol);
   long now = (long)TimeTradeServer() * 1000;
   MqlTick t;
   AddHole(symbol, after_msc, SymbolInfoTick(symbol, t) && t.time_msc > now ? t.time_msc : now);
  }

long CHistory5::OutageQuote(const string symbol)
  {
   int h = Hole(symbol);
   return h < 0 ? 0 : holes[h].outage_quote;
  }

int CHistory5::Hole(const string symbol)
  {
   for(int h = 0; h < ArraySize(holes); h++)
      if(holes[h].symbol == symbol)
         return h;
   return -1;
  }

// A hole of `symbol` from `after_msc` to `to_msc` (0: open); one the symbol has already, not
// yet judged, widens to take it in (the helper judges one interval per symbol).
void CHistory5::AddHole(const string symbol, const long after_msc, const long to_msc)
  {
   int h = Hole(symbol);
   if(h < 0)
     {
      h = ArraySize(holes);
      ArrayResize(holes, h + 1);
      holes[h].symbol = symbol;
      holes[h].after_msc = after_msc;
      holes[h].to_msc = to_msc;
      holes[h].outage_quote = 0;
      holes[h].live_after = 0;
      return;
     }
   if(after_msc < holes[h].after_msc)
      holes[h].after_msc = after_msc;
   if(holes[h].to_msc != 0 && (to_msc == 0 || to_msc > holes[h].to_msc))
      holes[h].to_msc = to_msc;
  }

// A helper judged an interval covering hole `h` (its MTGW.hf./MTGW.ht. variables): every ticked
// minute of it has its ticks on disk, and a copy across it waits for no synchronization. A
// helper judging an earlier interval (one released before this hole opened, still finishing)
// covers no later one.
bool CHistory5::HoleJudged(const int h)
  {
   string from_var = MTGW_HOLE_FROM_VAR + holes[h].symbol, to_var = MTGW_HOLE_TO_VAR + holes[h].symbol;
   return holes[h].to_msc > 0 && GlobalVariableCheck(from_var) && GlobalVariableCheck(to_var) &&
          GlobalVariableGet(from_var) <= (double)holes[h].after_msc &&
          GlobalVariableGet(to_var) >= (double)holes[h].to_msc;
  }

bool CHistory5::TicksLocal(const string symbol, const long from_msc, const long to_msc)
  {
   Watch();
   return Claimed(symbol, from_msc, to_msc);
  }

// TicksLocal without looking at the connection first.
bool CHistory5::Claimed(const string symbol, const long from_msc, const long to_msc)
  {
   int h = Hole(symbol);
   if(h >= 0 && (holes[h].to_msc == 0 || holes[h].to_msc >= from_msc) &&
      (to_msc == 0 || holes[h].after_msc < to_msc))
     {
      if(!HoleJudged(h))
         return false;                    // the range reaches into a hole no helper judged
      // judged: it is loaded, and forgotten once its end is known (one waiting for the
      // symbol's first quote after an outage may grow yet: LiveQuotes)
      if(holes[h].live_after == 0)
        {
         int last = ArraySize(holes) - 1;
         if(h != last)
           {
            holes[h].symbol = holes[last].symbol;
            holes[h].after_msc = holes[last].after_msc;
            holes[h].to_msc = holes[last].to_msc;
            holes[h].outage_quote = holes[last].outage_quote;
            holes[h].live_after = holes[last].live_after;
           }
         ArrayResize(holes, last);
        }
     }
   string name = MTGW_TICKS_VAR + symbol;
   if(GlobalVariableCheck(name))
     {
      double synced = GlobalVariableGet(name);
      if(synced > 0.0 && (double)from_msc >= synced)
         return true;
     }
   for(int i = 0; i < ArraySize(streams); i++)
      if(streams[i].symbol == symbol && streams[i].from_msc > 0 && from_msc >= streams[i].from_msc)
         return true;
   return false;
  }

long CHistory5::TicksStart(const string symbol, const long from_msc)
  {
   string name = MTGW_FLOOR_VAR + symbol;
   if(!GlobalVariableCheck(name))
      return from_msc;
   long first = (long)GlobalVariableGet(name);
   return first > from_msc ? first : from_msc;
  }

long CHistory5::TicksFloor(const string symbol, const long from_msc)
  {
   long start = TicksStart(symbol, from_msc);
   string missed = MTGW_MISSED_VAR + symbol;
   if(start <= from_msc || !GlobalVariableCheck(missed))
      return 0;
   return GlobalVariableGet(missed) > (double)from_msc ? start : 0;
  }

bool CHistory5::BarsLocal(const string symbol, const ENUM_TIMEFRAMES period, const long from_time, const long need_bars)
  {
   if(!SeriesInfoInteger(symbol, period, SERIES_SYNCHRONIZED))
      return false;
   int bars = Bars(symbol, period);
   long first = SeriesInfoInteger(symbol, period, SERIES_FIRSTDATE);
   long server_first = SeriesInfoInteger(symbol, PERIOD_M1, SERIES_SERVER_FIRSTDATE);
   if(first <= server_first + PeriodSeconds(period) || bars >= TerminalInfoInteger(TERMINAL_MAXBARS))
      return true;                        // everything there is
   if(from_time > 0 && first > from_time)
      return false;
   return need_bars <= 0 || bars >= need_bars;
  }

bool CHistory5::Request(const string symbol, const int mode, const ENUM_TIMEFRAMES period, const long from_msc)
  {
   ulong now = GetMicrosecondCount();
   // a ticks helper judges the symbol's hole too when the range reaches into it
   long hole_from = 0, hole_to = 0;
   int h = mode == MTGW_HELPER_TICKS ? Hole(symbol) : -1;
   if(h >= 0 && (holes[h].to_msc == 0 || holes[h].to_msc >= from_msc))
     {
      hole_from = holes[h].after_msc;
      hole_to = holes[h].to_msc > 0 ? holes[h].to_msc : (long)TimeTradeServer() * 1000;
     }
   for(int i = 0; i < ArraySize(helpers); i++)
      if(helpers[i].symbol == symbol && helpers[i].mode == mode && helpers[i].period == (int)period &&
         helpers[i].from_msc <= from_msc && helpers[i].hole_from <= hole_from && helpers[i].hole_to >= hole_to)
        {
         helpers[i].used_us = now;
         return true;
        }
   if(ArraySize(helpers) >= MTGW_HELPERS_MAX)
      return true;                        // enough loading already; the request waits its bound
   // the helper loads from the start of the minute: requests a few seconds apart share it
   long from = from_msc - from_msc % 60000;
   ResetLastError();
   int handle = iCustom(symbol, HelperPeriod(period), MTGW_HELPER_NAME, mode, chart, from, (int)period,
                        hole_from, hole_to);
   if(handle == INVALID_HANDLE)
     {
      if(!helper_missing)
         Print("MT Gateway: the helper indicator ", MTGW_HELPER_NAME, " cannot be created (error ",
               IntegerToString(GetLastError()), "): history that is not on this computer cannot be loaded");
      helper_missing = true;
      return false;
     }
   helper_missing = false;
   int n = ArraySize(helpers);
   ArrayResize(helpers, n + 1);
   helpers[n].symbol = symbol;
   helpers[n].mode = mode;
   helpers[n].period = (int)period;
   helpers[n].from_msc = from;
   helpers[n].handle = handle;
   helpers[n].used_us = now;
   helpers[n].hole_from = hole_from;
   helpers[n].hole_to = hole_to;
   return true;
  }

void CHistory5::Sweep(void)
  {
   Watch();
   ulong now = GetMicrosecondCount();
   for(int i = ArraySize(helpers) - 1; i >= 0; i--)
     {
      string s = helpers[i].symbol;
      long from = helpers[i].from_msc;
      bool loaded = helpers[i].mode == MTGW_HELPER_TICKS
                    ? Claimed(s, from, 0) && TicksStart(s, from) - from < MTGW_FLOOR_WATCH_MS
                    : BarsLocal(s, (ENUM_TIMEFRAMES)helpers[i].period, from / 1000, 0);
      if(loaded || now - helpers[i].used_us >= MTGW_HELPER_IDLE_US)
         Drop(i);
     }
  }

// Release helper `i` and take it off the list (the last one takes its place).
void CHistory5::Drop(const int i)
  {
   IndicatorRelease(helpers[i].handle);
   int last = ArraySize(helpers) - 1;
   if(i != last)
     {
      // field by field: no structure holding a string is assigned whole
      helpers[i].symbol = helpers[last].symbol;
      helpers[i].mode = helpers[last].mode;
      helpers[i].period = helpers[last].period;
      helpers[i].from_msc = helpers[last].from_msc;
      helpers[i].handle = helpers[last].handle;
      helpers[i].used_us = helpers[last].used_us;
      helpers[i].hole_from = helpers[last].hole_from;
      helpers[i].hole_to = helpers[last].hole_to;
     }
   ArrayResize(helpers, last);
  }

void CHistory5::ReleaseAll(void)
  {
   for(int i = 0; i < ArraySize(helpers); i++)
      IndicatorRelease(helpers[i].handle);
   ArrayResize(helpers, 0);
  }

#endif

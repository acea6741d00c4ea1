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
//| before what is on disk would wait for the synchronization. A    |
//| symbol that leaves Market Watch receives no quotes meanwhile, so |
//| its return forgets both (Forget): the hole must be loaded again. |
//| Nor does any symbol while the terminal has lost its connection  |
//| to the trade server: when it comes back, every symbol is        |
//| forgotten and the tick helpers judging from before are released |
//| (Watch; Events5 restarts its streams on `reconnections`).       |
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
  };

struct StreamStart
  {
   string            symbol;
   long              from_msc;
  };

class CHistory5
  {
public:
   HelperRef         helpers[];
   StreamStart       streams[];
   long              chart;
   bool              helper_missing;   // the terminal could not create the helper (iCustom failed)
   bool              broker_down;      // the terminal was seen without its trade server connection
   int               reconnections;    // ...and seen getting it back, this many times

                     CHistory5(void);

   // Notices the terminal losing and regaining its trade server connection; on its return,
   // nothing from before it is local any more (see Reconnected). Cheap: the EA calls it
   // before anything that copies ticks.
   void              Watch(void);

   // The EA streams `symbol` from `from_msc` on: those ticks are in the terminal.
   void              NoteStream(const string symbol, const long from_msc);

   // `symbol` left Market Watch and came back: the ticks of its absence never reached the
   // terminal, so nothing before its return is known to be on disk any more.
   void              Forget(const string symbol);

   // The timeframe a helper runs on to load `period`: never `period` itself.
   ENUM_TIMEFRAMES   HelperPeriod(const ENUM_TIMEFRAMES period) const;

   // Ticks of `symbol` from `from_msc` on are on disk (a copy returns without waiting).
   bool              TicksLocal(const string symbol, const long from_msc);

   // Where a copy of local ticks of `symbol` from `from_msc` starts: at the first tick on disk
   // the helper found from there on when that is later (a copy from before it could wait for
   // a synchronization; it would find nothing on disk before it either way).
   long              TicksStart(const string symbol, const long from_msc);

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
   void              Reconnected(void);
   bool              Claimed(const string symbol, const long from_msc);
   void              Drop(const int i);
  };

CHistory5::CHistory5(void)
  {
   chart = 0;
   helper_missing = false;
   broker_down = false;
   reconnections = 0;
  }

void CHistory5::Watch(void)
  {
   if(TerminalInfoInteger(TERMINAL_CONNECTED) == 0)
     {
      broker_down = true;
      return;
     }
   if(broker_down)
     {
      broker_down = false;
      Reconnected();
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
   for(int i = 0; i < ArraySize(streams); i++)
      if(streams[i].symbol == symbol)
         streams[i].from_msc = 0;
  }

ENUM_TIMEFRAMES CHistory5::HelperPeriod(const ENUM_TIMEFRAMES period) const
  {
   return period == PERIOD_MN1 ? PERIOD_W1 : PERIOD_MN1;
  }

bool CHistory5::TicksLocal(const string symbol, const long from_msc)
  {
   Watch();
   return Claimed(symbol, from_msc);
  }

// TicksLocal without looking at the connection first.
bool CHistory5::Claimed(const string symbol, const long from_msc)
  {
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
   for(int i = 0; i < ArraySize(helpers); i++)
      if(helpers[i].symbol == symbol && helpers[i].mode == mode && helpers[i].period == (int)period &&
         helpers[i].from_msc <= from_msc)
        {
         helpers[i].used_us = now;
         return true;
        }
   if(ArraySize(helpers) >= MTGW_HELPERS_MAX)
      return true;                        // enough loading already; the request waits its bound
   // the helper loads from the start of the minute: requests a few seconds apart share it
   long from = from_msc - from_msc % 60000;
   ResetLastError();
   int h = iCustom(symbol, HelperPeriod(period), MTGW_HELPER_NAME, mode, chart, from, (int)period);
   if(h == INVALID_HANDLE)
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
   helpers[n].handle = h;
   helpers[n].used_us = now;
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
                    ? Claimed(s, from) && TicksStart(s, from) - from < MTGW_FLOOR_WATCH_MS
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

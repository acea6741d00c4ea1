//+------------------------------------------------------------------+
//| Helper.mq5: what the MT Gateway EA asks of an indicator, because |
//| in an indicator the terminal never makes a program wait.         |
//| The EA creates it with iCustom; never attach it to a chart.      |
//|  - Mode 0 (tick spy): on each tick of its symbol a chart event   |
//|    wakes the EA, so a tick of a symbol other than the chart's    |
//|    reaches the gateway at once, not at the EA's next timer pass. |
//|  - Mode 1 (tick history): starts the synchronization of the tick |
//|    database from FromMsc (CopyTicks returns at once here, where  |
//|    in the EA it could wait 45 s) and, once the ticks are there,  |
//|    records FromMsc in the terminal variable MTGW.ticks.<symbol>  |
//|    and the first tick on disk from there in MTGW.t0.<symbol>:    |
//|    the EA copies from that tick, never from before what is on   |
//|    disk. When it found no tick on disk for a minute or more after|
//|    FromMsc it keeps looking while the EA keeps it, and lowers    |
//|    MTGW.t0.<symbol> when older ticks arrive after all. Whether   |
//|    the trade server had ticks before that first tick which are   |
//|    not on disk, its M1 bars say: MTGW.tb.<symbol> (NoteMissed).  |
//|    A hole the EA recorded (HoleFromMsc..HoleToMsc: a lost         |
//|    connection, an absence from Market Watch) is judged whole,     |
//|    never sampled:                                                 |
//|    every ticked minute of it, and a copy across it that is not    |
//|    waiting for a synchronization; then MTGW.hf./MTGW.ht.<symbol>  |
//|    say which interval was judged.                                 |
//|  - Mode 2 (bars): has its symbol's bars on Timeframe built back  |
//|    to FromMsc (CopyTime forces the build and the download, at    |
//|    once here), the way the reference's CheckLoadHistory does.    |
//| The EA creates every helper on a timeframe other than the one it |
//| loads (MN1, or W1 for MN1 itself): "don't ask for load of its own|
//| data if it is an indicator" (the reference's CheckLoadHistory),  |
//| and a helper on MN1 costs the terminal a few bars where one on M1|
//| would have it keep the symbol's whole M1 series. OnCalculate     |
//| comes on each tick of the symbol whatever the timeframe.         |
//| A loading helper looks on its timer only, not on each tick: all  |
//| indicators of a symbol run on one thread, which also processes   |
//| the symbol's ticks and its history synchronization.             |
//| Per-instance state lives in the inputs and the terminal, not in  |
//| global variables of its own; the terminal variables a helper     |
//| kept for itself are deleted when it is done or released.        |
//+------------------------------------------------------------------+
#property copyright "MT Gateway"
#property version   "1.20"
#property description "Helper of the MT Gateway EA (created by the EA; never attach it yourself)."
#property indicator_chart_window
#property indicator_buffers 0
#property indicator_plots   0

#include <MTGateway\Ids.mqh>

input int  Mode = MTGW_HELPER_SPY;  // 0 tick spy, 1 tick history, 2 bars
input long WakeChart = 0;           // the EA's chart
input long FromMsc = 0;             // modes 1 and 2: load back to this time (ms since 1970)
input int  Timeframe = 0;           // mode 2: the timeframe to load (ENUM_TIMEFRAMES)
input long HoleFromMsc = 0;         // mode 1: a hole the EA recorded, after this time...
input long HoleToMsc = 0;           // ...up to this one (0: none)

void Load(void);
void LoadTicks(void);
void Done(void);
void ForgetSettle(void);
void NoteMissed(const long first_ms, const long from_ms);
long FirstOnDisk(void);
bool TicksThere(long &first_ms);
bool HoleThere(const long first_ms, const bool settled);
bool HoleJudged(void);
bool WindowThere(const long from_s, const long to_s, const long first_ms, const bool settled, const bool every);

int OnInit(void)
  {
   if(Mode != MTGW_HELPER_SPY)
     {
      if(!EventSetMillisecondTimer(MTGW_HELPER_POLL_MS))
         Print("MT Gateway helper: cannot start its timer (error ", IntegerToString(GetLastError()), ")");
      Load();
     }
   return INIT_SUCCEEDED;
  }

void OnDeinit(const int reason)
  {
   EventKillTimer();
   if(Mode == MTGW_HELPER_TICKS)
      ForgetSettle();
  }

void OnTimer(void)
  {
   Load();
  }

int OnCalculate(const int rates_total, const int prev_calculated, const int begin, const double &price[])
  {
   if(Mode == MTGW_HELPER_SPY)
      EventChartCustom(WakeChart, MTGW_EVENT_TICK, 0, 0.0, _Symbol);
   return rates_total;
  }

// One loading step; once the history is there, tell the EA and stop looking.
void Load(void)
  {
   if(Mode == MTGW_HELPER_TICKS)
     {
      LoadTicks();
      return;
     }
   if(Mode == MTGW_HELPER_BARS)
     {
      ENUM_TIMEFRAMES period = (ENUM_TIMEFRAMES)Timeframe;
      datetime times[];
      if(SeriesInfoInteger(_Symbol, period, SERIES_SYNCHRONIZED))
        {
         long first = SeriesInfoInteger(_Symbol, period, SERIES_FIRSTDATE);
         long server_first = SeriesInfoInteger(_Symbol, PERIOD_M1, SERIES_SERVER_FIRSTDATE);
         int bars = Bars(_Symbol, period);
         if(first * 1000 <= FromMsc || first <= server_first + PeriodSeconds(period) ||
            bars >= TerminalInfoInteger(TERMINAL_MAXBARS))
           {
            Done();
            return;
           }
         CopyTime(_Symbol, period, bars, 100, times);   // the next part further back
         return;
        }
      CopyTime(_Symbol, period, 0, 1, times);           // forces the build
     }
  }

// A terminal variable's value, 0 when there is none.
double VarValue(const string name)
  {
   return GlobalVariableCheck(name) ? GlobalVariableGet(name) : 0.0;
  }

// Mode 1's step: judge the range (TicksThere) and record what is on disk. MTGW.ticks.<symbol>
// is the earliest start judged loaded; MTGW.t0.<symbol> the first tick on disk from there on,
// where the EA's copies start. Minutes before that first tick are taken for "older than the
// server keeps" once the copy says the synchronization is done, or by a time rule
// (FirstSettled): a synchronization slower than it would otherwise have the EA's own copy wait
// for the rest (45 s at most, every call waiting behind it). Starting the copies at a tick on disk makes any such misjudgment an answer without the
// ticks still to come, never a wait; and while the EA keeps asking from before that tick, this
// helper keeps looking and lowers it when older ticks arrive after all.
void LoadTicks(void)
  {
   string synced = MTGW_TICKS_VAR + _Symbol, first_var = MTGW_FLOOR_VAR + _Symbol;
   double from = (double)FromMsc;
   double known = VarValue(synced), disk_first = VarValue(first_var);
   bool covered = known > 0.0 && known <= from && HoleJudged();
   bool watching = covered && disk_first - from >= (double)MTGW_FLOOR_WATCH_MS;
   if(covered && !watching)
     {
      Done();                                // loaded, by this helper or another
      return;
     }
   if(watching)
     {
      long now_first = FirstOnDisk();
      if(now_first == 0 || (double)now_first >= disk_first)
         return;                             // nothing older on disk yet
     }
   long first_ms = 0;
   if(!TicksThere(first_ms))
      return;
   if(!covered)
     {
      if(!GlobalVariableCheck(synced))
         GlobalVariableTemp(synced);         // gone when the terminal closes, like the sync
      GlobalVariableSet(synced, from);
      if(first_ms <= 0)
        {
         GlobalVariableDel(first_var);
         GlobalVariableDel(MTGW_MISSED_VAR + _Symbol);
        }
     }
   if(HoleToMsc > 0 && !HoleJudged())
     {
      string hole_from = MTGW_HOLE_FROM_VAR + _Symbol, hole_to = MTGW_HOLE_TO_VAR + _Symbol;
      GlobalVariableTemp(hole_from);
      GlobalVariableTemp(hole_to);
      GlobalVariableSet(hole_from, (double)HoleFromMsc);
      GlobalVariableSet(hole_to, (double)HoleToMsc);
     }
   if(first_ms > 0 && (!covered || (double)first_ms < disk_first))
     {
      if(!GlobalVariableCheck(first_var))
         GlobalVariableTemp(first_var);
      GlobalVariableSet(first_var, (double)first_ms);
      NoteMissed(first_ms, covered ? (long)known : FromMsc);
     }
   if(first_ms > 0 && (double)first_ms - from >= (double)MTGW_FLOOR_WATCH_MS)
      EventChartCustom(WakeChart, MTGW_EVENT_LOADED, FromMsc, 0.0, _Symbol);   // and keep looking
   else
      Done();
  }

// MTGW.tb.<symbol>: the trade server had ticks after `from_ms` (MTGW.ticks.<symbol>) up to this
// time that are not on disk (`first_ms`, MTGW.t0.<symbol>, is the first tick on disk from
// `from_ms` on). The server's M1 bars say which minutes had ticks: the end of the last such
// minute before the minute of `first_ms`. When that is not after `from_ms`, no variable: no tick
// happened between `from_ms` and the first one on disk (as after a start on a whole minute,
// where the first tick on disk is that minute's first), and the EA's copy starting at
// `first_ms` misses none. When the bars cannot tell, the start of that minute (the bars judge
// no minute later than the one before it): the EA then says its copy started later than asked,
// as when the bars show ticks missing. They cannot while they load (this copy starts that), nor
// when the terminal's M1 series starts after that minute though the server's starts before it:
// the terminal keeps bars back to its limit only ("Max bars in chart", TERMINAL_MAXBARS), and
// no bar there is no minute without ticks.
void NoteMissed(const long first_ms, const long from_ms)
  {
   string name = MTGW_MISSED_VAR + _Symbol;
   long minute_s = first_ms / 1000 - (first_ms / 1000) % 60;
   long end_ms = minute_s * 1000;
   if(end_ms > from_ms)
     {
      MqlRates before[];
      int n = CopyRates(_Symbol, PERIOD_M1, (datetime)(minute_s - 1), 1, before);
      if(n >= 1)
         end_ms = before[0].tick_volume > 0 ? ((long)before[0].time + 60) * 1000 : 0;
      else
         if(n == 0 && SeriesInfoInteger(_Symbol, PERIOD_M1, SERIES_SERVER_FIRSTDATE) >= minute_s)
            end_ms = 0;                      // the server has no bar before it either
     }
   if(end_ms <= from_ms)
     {
      GlobalVariableDel(name);
      return;
     }
   if(!GlobalVariableCheck(name))
      GlobalVariableTemp(name);
   GlobalVariableSet(name, (double)end_ms);
  }

// The first tick on disk from FromMsc on (0: none).
long FirstOnDisk(void)
  {
   MqlTick t[];
   return CopyTicks(_Symbol, t, COPY_TICKS_ALL, (ulong)FromMsc, 1) >= 1 ? t[0].time_msc : 0;
  }

// The names of the terminal variables FirstSettled keeps for this helper.
string SettleId(void)
  {
   return _Symbol + "." + IntegerToString(FromMsc / 60000);   // one per helper
  }

void ForgetSettle(void)
  {
   GlobalVariableDel(MTGW_FIRST_VAR + SettleId());
   GlobalVariableDel(MTGW_FIRST_SINCE_VAR + SettleId());
  }

// The first tick on disk from FromMsc on (0: none), and whether the synchronization has
// brought everything from FromMsc on, so the trade server keeps no older ticks than that (its
// tick history can be shorter than its bars'). The copy itself says so first: "If the tick
// history is synchronized, the error code is equal to zero" (the reference's CopyTicks
// example). Failing that, a guess of time: the first tick unchanged for MTGW_HELPER_SETTLE_MS,
// and MTGW_HELPER_SETTLE_DAY_MS more per day between FromMsc and that tick (a longer span is
// more to download, and may land in one piece), up to MTGW_HELPER_SETTLE_MAX_MS. A wrong
// judgment costs the answer the ticks still to come, never a wait (LoadTicks).
bool FirstSettled(long &first)
  {
   ResetLastError();
   first = FirstOnDisk();
   if(first > 0 && GetLastError() == 0)
      return true;
   string seen = MTGW_FIRST_VAR + SettleId(), since = MTGW_FIRST_SINCE_VAR + SettleId();
   uint now = GetTickCount();
   if(!GlobalVariableCheck(seen) || GlobalVariableGet(seen) != (double)first || !GlobalVariableCheck(since))
     {
      GlobalVariableTemp(seen);
      GlobalVariableTemp(since);
      GlobalVariableSet(seen, (double)first);
      GlobalVariableSet(since, (double)now);
      return false;
     }
   long span_ms = (first > 0 ? first : (long)TimeTradeServer() * 1000) - FromMsc;
   long settle_ms = MTGW_HELPER_SETTLE_MS + span_ms / 86400000 * MTGW_HELPER_SETTLE_DAY_MS;
   if(settle_ms > MTGW_HELPER_SETTLE_MAX_MS)
      settle_ms = MTGW_HELPER_SETTLE_MAX_MS;
   return (long)(now - (uint)GlobalVariableGet(since)) >= settle_ms;
  }

// Whether the tick database holds the ticks from FromMsc on. In an indicator CopyTicks
// "immediately returns all available ticks ... and launches synchronization of the tick
// database if available data is not enough", and whether its error code says so there too is
// not documented, so the answer is judged from the data: the M1 bars (built and synchronized from the trade server)
// say which minutes had ticks, and each of those minutes sampled across the range (the first
// and last few, and up to MTGW_HELPER_SAMPLES in between) must have a tick on disk. Minutes
// before the first tick on disk count only until that first tick has stayed the same long
// enough (FirstSettled: the server has no older ticks); a gap after it (a symbol's absence
// from Market Watch) is never taken for loaded. A range whose minutes had no tick is there.
// `first_ms`: the first tick on disk from FromMsc on (0: none, or not looked at).
bool TicksThere(long &first_ms)
  {
   long now_s = (long)TimeTradeServer();
   long from_s = FromMsc / 1000;
   from_s -= from_s % 60;
   first_ms = 0;
   if(now_s <= from_s)
      return true;
   bool settled = FirstSettled(first_ms);
   if(!HoleThere(first_ms, settled))
      return false;
   // a long range is judged by its first and its last day (its bars are not all copied)
   if(now_s - from_s <= 2 * MTGW_HELPER_WINDOW_S)
      return WindowThere(from_s, now_s, first_ms, settled, false);
   return WindowThere(from_s, from_s + MTGW_HELPER_WINDOW_S, first_ms, settled, false) &&
          WindowThere(now_s - MTGW_HELPER_WINDOW_S, now_s, first_ms, settled, false);
  }

// A judgment of the EA's hole (HoleFromMsc..HoleToMsc) is on record: MTGW.hf./MTGW.ht.<symbol>
// cover it (this helper's, or another's). No hole: nothing to judge.
bool HoleJudged(void)
  {
   if(HoleToMsc <= 0)
      return true;
   string hole_from = MTGW_HOLE_FROM_VAR + _Symbol, hole_to = MTGW_HOLE_TO_VAR + _Symbol;
   return GlobalVariableCheck(hole_from) && GlobalVariableCheck(hole_to) &&
          GlobalVariableGet(hole_from) <= (double)HoleFromMsc && GlobalVariableGet(hole_to) >= (double)HoleToMsc;
  }

// The ticks of the EA's hole, within the range, are on disk. The ticks of a lost connection or
// of an absence from Market Watch can be a few seconds inside minutes whose other ticks are
// there, which a sample of minutes does not see: so a copy across the hole must not be waiting
// for a synchronization ("If the tick history is synchronized, the error code is equal to
// zero", the reference's CopyTicks example), and every ticked minute of it must have a tick on
// disk, none left out.
bool HoleThere(const long first_ms, const bool settled)
  {
   if(HoleToMsc <= 0 || HoleJudged())
      return true;
   long from_ms = HoleFromMsc > FromMsc ? HoleFromMsc : FromMsc;
   if(from_ms > HoleToMsc)
      return true;
   MqlTick across[];
   ResetLastError();
   if(CopyTicksRange(_Symbol, across, COPY_TICKS_ALL, (ulong)from_ms, (ulong)HoleToMsc) < 0 || GetLastError() != 0)
      return false;                          // the copy launched (or waits for) the synchronization
   long from_s = from_ms / 1000;
   return WindowThere(from_s - from_s % 60, HoleToMsc / 1000, first_ms, settled, true);
  }

// The sampled ticked minutes of [from_s, to_s] (`every`: all of them) have their ticks on disk
// (see TicksThere).
bool WindowThere(const long from_s, const long to_s, const long first_ms, const bool settled, const bool every)
  {
   MqlRates bars[];
   ResetLastError();
   int n = CopyRates(_Symbol, PERIOD_M1, (datetime)from_s, (datetime)to_s, bars);
   if(n < 0)
     {
      // No copy reaches further back than the terminal's bar limit ("If data outside
      // TERMINAL_MAXBARS ... is requested, the function will also return -1", CopyRates): once
      // the M1 series holds that many bars and still starts after from_s, the minutes before
      // it have no bars to sample, and are taken for there once the first tick from FromMsc
      // is (settled), as the minutes before that tick are; the series' own minutes are sampled
      // as any. Where no bar of the series comes before the first tick on disk, NoteMissed
      // cannot tell what the server had before that tick, and the EA's answer says where its
      // copy started.
      long held_s = SeriesInfoInteger(_Symbol, PERIOD_M1, SERIES_FIRSTDATE);
      if(!settled || held_s <= from_s || Bars(_Symbol, PERIOD_M1) < TerminalInfoInteger(TERMINAL_MAXBARS))
         return false;                       // the bars are loading (this copy started it)
      return WindowThere(held_s, to_s, first_ms, settled, every);
     }
   if(!SeriesInfoInteger(_Symbol, PERIOD_M1, SERIES_SYNCHRONIZED))
      return false;                          // the bars are loading (this copy started it)
   long series_first = SeriesInfoInteger(_Symbol, PERIOD_M1, SERIES_FIRSTDATE);
   if((n == 0 || (long)bars[0].time > from_s + 60) && series_first > from_s &&
      series_first > SeriesInfoInteger(_Symbol, PERIOD_M1, SERIES_SERVER_FIRSTDATE))
      return false;                          // the M1 series does not reach back here yet
   int ticked[];
   int k = 0;
   ArrayResize(ticked, n);
   for(int i = 0; i < n; i++)
      if(bars[i].tick_volume > 0)
         ticked[k++] = i;
   int step = k > MTGW_HELPER_SAMPLES && !every ? k / MTGW_HELPER_SAMPLES : 1;
   for(int j = 0; j < k; j++)
     {
      if(j >= MTGW_HELPER_EDGE && j < k - MTGW_HELPER_EDGE && j % step != 0)
         continue;
      long minute_ms = (long)bars[ticked[j]].time * 1000;
      if(first_ms > 0 && minute_ms + 60000 <= first_ms && settled)
         continue;                           // before the server's tick history
      long start_ms = minute_ms < FromMsc ? FromMsc : minute_ms;
      MqlTick first[];
      ResetLastError();
      int got = CopyTicks(_Symbol, first, COPY_TICKS_ALL, (ulong)start_ms, 1);
      if(got < 1 || first[0].time_msc >= minute_ms + 60000)
        {
         // the minute of FromMsc may have had its ticks before FromMsc only
         if(j == 0 && minute_ms < FromMsc && got >= 1)
            continue;
         return false;
        }
     }
   return true;
  }

void Done(void)
  {
   EventKillTimer();
   if(Mode == MTGW_HELPER_TICKS)
      ForgetSettle();
   EventChartCustom(WakeChart, MTGW_EVENT_LOADED, FromMsc, 0.0, _Symbol);
  }

//+------------------------------------------------------------------+
//| Helper.mq5: what the MT Gateway EA asks of an indicator, because |
//| in an indicator the terminal never makes a program wait.         |
//| The EA creates it with iCustom; never attach it to a chart.      |
//|  - Mode 0 (tick spy): on each tick of its symbol a chart event   |
//|    wakes the EA, so a tick of a symbol other than the chart's    |
//|    reaches the gateway at once, not at the EA's next timer pass. |
//|  - Mode 1 (tick history): starts the synchronization of the tick |
//|    database from FromMsc (CopyTicks returns at once here, where  |
//|    in the EA it could wait 45 s) and, once it is complete,       |
//|    records FromMsc in the terminal variable MTGW.ticks.<symbol>. |
//|  - Mode 2 (bars): has its symbol's bars on its timeframe built   |
//|    back to FromMsc (CopyTime forces the build and the download,  |
//|    at once here), the way the reference's CheckLoadHistory does. |
//| Per-instance state lives in the inputs and the terminal, not in  |
//| global variables of its own.                                     |
//+------------------------------------------------------------------+
#property copyright "MT Gateway"
#property version   "1.00"
#property description "Helper of the MT Gateway EA (created by the EA; never attach it yourself)."
#property indicator_chart_window
#property indicator_buffers 0
#property indicator_plots   0

#include <MTGateway\Ids.mqh>

input int  Mode = MTGW_HELPER_SPY;  // 0 tick spy, 1 tick history, 2 bars
input long WakeChart = 0;           // the EA's chart
input long FromMsc = 0;             // modes 1 and 2: load back to this time (ms since 1970)

void Load(void);
void Done(void);

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
  }

void OnTimer(void)
  {
   Load();
  }

int OnCalculate(const int rates_total, const int prev_calculated, const int begin, const double &price[])
  {
   if(Mode == MTGW_HELPER_SPY)
      EventChartCustom(WakeChart, MTGW_EVENT_TICK, 0, 0.0, _Symbol);
   else
      Load();
   return rates_total;
  }

// One loading step; once the history is there, tell the EA and stop looking.
void Load(void)
  {
   if(Mode == MTGW_HELPER_TICKS)
     {
      MqlTick ticks[];
      ResetLastError();
      // in an indicator this returns at once and starts the synchronization; ERR_HISTORY_TIMEOUT
      // means the database does not reach FromMsc yet
      int n = CopyTicks(_Symbol, ticks, COPY_TICKS_ALL, (ulong)FromMsc, 1);
      if(n < 0 || GetLastError() == ERR_HISTORY_TIMEOUT)
         return;
      string name = MTGW_TICKS_VAR + _Symbol;
      if(!GlobalVariableCheck(name))
         GlobalVariableTemp(name);           // gone when the terminal closes, like the sync
      if(GlobalVariableGet(name) == 0.0 || GlobalVariableGet(name) > (double)FromMsc)
         GlobalVariableSet(name, (double)FromMsc);
      Done();
      return;
     }
   if(Mode == MTGW_HELPER_BARS)
     {
      datetime times[];
      if(SeriesInfoInteger(_Symbol, _Period, SERIES_SYNCHRONIZED))
        {
         long first = SeriesInfoInteger(_Symbol, _Period, SERIES_FIRSTDATE);
         long server_first = SeriesInfoInteger(_Symbol, PERIOD_M1, SERIES_SERVER_FIRSTDATE);
         int bars = Bars(_Symbol, _Period);
         if(first * 1000 <= FromMsc || first <= server_first + PeriodSeconds(_Period) ||
            bars >= TerminalInfoInteger(TERMINAL_MAXBARS))
           {
            Done();
            return;
           }
         CopyTime(_Symbol, _Period, bars, 100, times);  // the next part further back
         return;
        }
      CopyTime(_Symbol, _Period, 0, 1, times);          // forces the build
     }
  }

void Done(void)
  {
   EventKillTimer();
   EventChartCustom(WakeChart, MTGW_EVENT_LOADED, FromMsc, 0.0, _Symbol);
  }

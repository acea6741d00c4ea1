//+------------------------------------------------------------------+
//| MTGateway.mq5: connects this terminal to the MT Gateway daemon   |
//| (mtgateway) on this machine, so bots can use it over JSON-RPC.   |
//| Protocol: docs/protocol.md. Setup: docs/terminal.md.             |
//|                                                                  |
//| Attach it to one chart per terminal, with Algo Trading enabled,  |
//| and 127.0.0.1 added under Tools > Options > Expert Advisors.     |
//| The auth token is an input; the terminal shows inputs in plain   |
//| text in its settings dialog, and the token never goes on the     |
//| wire (the EA proves it holds it with an HMAC).                   |
//| Indicators\MTGateway\Helper loads history for it without making  |
//| it wait, and wakes it on ticks of other symbols. The EA carries  |
//| it as a resource: compiling the EA builds it into MTGateway.ex5, |
//| so the EA never runs without it, nor with another version of it.|
//|                                                                  |
//| When it runs: on its timer (connect, heartbeats, Market Watch,   |
//| the account, and the socket, waiting in it until just before the |
//| next pass, so a call is answered as it arrives); on each tick of |
//| the chart's symbol (OnTick); on each tick of another Market Watch|
//| symbol (a chart event from the helper); on each trade            |
//| transaction. Each wake-up answers what came and sends what is    |
//| new, then returns. Events that come while the timer pass waits in|
//| the socket are handled when it returns, at most one timer period |
//| later; between the wait's slices the pass itself sends the new   |
//| ticks and trade events. Where the system clock ends each slice   |
//| (15.6 ms), that makes a tick up to a period late: TickFirst turns|
//| the wait off while ticks flow and no call is coming.             |
//+------------------------------------------------------------------+
#property copyright "MT Gateway"
#property version   "1.00"
#property description "Connects this terminal to the local MT Gateway daemon (JSON-RPC for bots)."

#include <MTGateway\Session.mqh>
#include <MTGateway\Events5.mqh>

// "Inclusion of indicators as resources simplifies the distribution of applications"
// (mql5.com/en/docs/runtime/resources); iCustom creates it as MTGW_HELPER_NAME
#resource "\\Indicators\\MTGateway\\Helper.ex5"

#define MTGW_TIMER_TRIES 5          // EventSetMillisecondTimer can fail while the terminal starts
#define MTGW_QUIET_US    500000     // no tick for this long: Market Watch is quiet

input string AuthToken = "";              // Auth token from the console (mtgw_...)
input string GatewayHost = "127.0.0.1";   // Gateway address (allow it in the terminal options)
input int    GatewayPort = 8711;          // Gateway bridge port
input int    TimerMs = 10;                // Timer period, ms (the terminal delivers ~10-16 ms at best)
input int    SocketWaitMs = 9;            // Wait in the socket each pass, at least this long, ms (until just before the next pass; 0 = never)
input int    MaxRows = 20000;             // Most rows in one history answer (the caller pages on)
input int    HistoryWaitMs = 4000;        // How long a history call waits for the terminal to load it, ms
input bool   TickWake = true;             // Send ticks as they arrive (false: on the timer only)
input bool   TickFirst = false;           // Ticks before calls: wait in the socket only while calls come one after another

CGatewaySession Session;
CEvents5        Events;
ulong           LastTickWake = 0;        // when a tick last woke the EA

int OnInit()
  {
   // "functions for working with sockets" are not executed in the Strategy Tester
   if(MQLInfoInteger(MQL_TESTER))
     {
      Print("MT Gateway: not available in the Strategy Tester (it needs sockets, which the tester does not run)");
      return INIT_FAILED;
     }
   if(TimerMs < 1 || SocketWaitMs < 0 || GatewayPort < 1 || GatewayPort > 65535 || MaxRows < 1 || HistoryWaitMs < 0)
     {
      Print("MT Gateway: invalid inputs (TimerMs >= 1, SocketWaitMs >= 0, GatewayPort 1..65535, MaxRows >= 1, HistoryWaitMs >= 0)");
      return INIT_PARAMETERS_INCORRECT;
     }
   Session.Configure(AuthToken, GatewayHost, GatewayPort, SocketWaitMs);
   Session.methods.max_rows = MaxRows;
   Session.history_wait_ms = HistoryWaitMs;
   Session.methods.history.chart = ChartID();
   Events.wake = TickWake;
   for(int attempt = 1; !EventSetMillisecondTimer(TimerMs); attempt++)
     {
      int err = GetLastError();
      if(attempt >= MTGW_TIMER_TRIES)
        {
         Print("MT Gateway: cannot start the timer (error ", IntegerToString(err), ") after ", IntegerToString(attempt), " tries");
         return INIT_FAILED;
        }
      Print("MT Gateway: the timer did not start (error ", IntegerToString(err), "); trying again");
      Sleep(200);
     }
   return INIT_SUCCEEDED;
  }

void OnDeinit(const int reason)
  {
   EventKillTimer();
   Session.Close("EA removed (deinit reason " + IntegerToString(reason) + ")");
   Session.methods.history.ReleaseAll();
   Session.methods.ReleaseBooks();
   Events.ReleaseSpies();
   Comment("");
  }

// A tick woke the EA: answer what came, send what is new, return.
void Wake()
  {
   LastTickWake = GetMicrosecondCount();
   Events.LearnPositions();
   Session.Drain();
   Events.Flush(Session);
  }

void OnTimer()
  {
   ulong start = GetMicrosecondCount();
   Events.LearnPositions();               // before Service can answer an order_send
   Session.TimerPass(start);
   Session.Service();
   Events.Poll(Session);
   // Wait in the socket until just before the next pass, answering at once what comes; the
   // ticks and trade events that came meanwhile go out between the wait's slices. TickFirst:
   // not while ticks flow (a tick's event is not handled while the EA waits) unless calls are
   // coming one after another.
   bool ticking = TickWake && LastTickWake != 0 && start - LastTickWake <= MTGW_QUIET_US;
   if(TickFirst && ticking && !Session.Conversing())
      return;
   while(Session.WaitOnce(start) != MTGW_WAIT_DONE)
     {
      Session.ServeHeld();
      Events.Flush(Session);
     }
  }

// A tick of the chart's symbol (the terminal does not queue another while one waits).
void OnTick()
  {
   if(TickWake)
      Wake();
  }

void OnChartEvent(const int id, const long &lparam, const double &dparam, const string &sparam)
  {
   if(id == CHARTEVENT_CUSTOM + MTGW_EVENT_TICK && TickWake)
      Wake();
   else
      if(id == CHARTEVENT_CUSTOM + MTGW_EVENT_LOADED)
         Session.ServeHeld();                 // a held call's history just arrived
  }

void OnTradeTransaction(const MqlTradeTransaction &trans, const MqlTradeRequest &request, const MqlTradeResult &result)
  {
   Events.OnTransaction(trans);
  }

void OnBookEvent(const string &symbol)
  {
   Events.OnBook(Session, symbol);
  }

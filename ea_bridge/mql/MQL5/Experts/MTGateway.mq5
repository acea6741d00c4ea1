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
//| it wait; compile it too.                                         |
//+------------------------------------------------------------------+
#property copyright "MT Gateway"
#property version   "1.00"
#property description "Connects this terminal to the local MT Gateway daemon (JSON-RPC for bots)."

#include <MTGateway\Session.mqh>
#include <MTGateway\Events5.mqh>

#define MTGW_TIMER_TRIES 5          // EventSetMillisecondTimer can fail while the terminal starts

input string AuthToken = "";              // Auth token from the console (mtgw_...)
input string GatewayHost = "127.0.0.1";   // Gateway address (allow it in the terminal options)
input int    GatewayPort = 8711;          // Gateway bridge port
input int    TimerMs = 10;                // Timer period, ms (the terminal delivers ~10-16 ms at best)
input int    SocketWaitMs = 9;            // Wait inside the socket per pass, ms (0 = poll only)
input int    MaxRows = 20000;             // Most rows in one history answer (the caller pages on)
input int    HistoryWaitMs = 4000;        // How long a history call waits for the terminal to load it, ms

CGatewaySession Session;
CEvents5        Events;

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
   Comment("");
  }

void OnTimer()
  {
   ulong start = GetMicrosecondCount();
   Session.Service();
   Events.Poll(Session);
   Session.WaitRest(start);
  }

void OnTradeTransaction(const MqlTradeTransaction &trans, const MqlTradeRequest &request, const MqlTradeResult &result)
  {
   Events.OnTransaction(trans);
  }

void OnBookEvent(const string &symbol)
  {
   Events.OnBook(Session, symbol);
  }

//+------------------------------------------------------------------+
//| MTGateway.mq4: connects this MetaTrader 4 terminal to the MT     |
//| Gateway daemon (mtgateway) on this machine, so bots can use it   |
//| over JSON-RPC. Protocol: docs/protocol.md. Setup and what MT4    |
//| supports: docs/terminal.md ("MetaTrader 4").                     |
//|                                                                  |
//| MQL4 has no sockets: the EA calls Windows Sockets (ws2_32.dll),  |
//| so "Allow DLL imports" must be ticked for it (Tools > Options >  |
//| Expert Advisors, or the EA's Common tab). It imports two system  |
//| DLLs, both part of Windows: ws2_32.dll (sockets; it connects     |
//| only to the address in GatewayHost, 127.0.0.1 by default) and    |
//| advapi32.dll (RtlGenRandom, random bytes for the handshake).     |
//| Attach it to one chart per terminal, with AutoTrading enabled.   |
//| The auth token is an input; the token never goes on the wire     |
//| (the EA proves it holds it with an HMAC).                        |
//+------------------------------------------------------------------+
#property copyright "MT Gateway"
#property version   "1.20"
#property description "Connects this terminal to the local MT Gateway daemon (JSON-RPC for bots). Needs DLL imports (Windows' ws2_32.dll and advapi32.dll)."
#property strict

#include <MTGateway\Session4.mqh>
#include <MTGateway\Events4.mqh>

#define MTGW_TIMER_TRIES 5          // EventSetMillisecondTimer can fail while the terminal starts

input string AuthToken = "";              // Auth token from the console (mtgw_...)
input string GatewayHost = "127.0.0.1";   // Gateway address (an IPv4 address)
input int    GatewayPort = 8711;          // Gateway bridge port
input int    TimerMs = 10;                // Timer period, ms (the terminal delivers ~10-16 ms at best)
input int    SocketWaitMs = 9;            // Wait in the socket each pass, at least this long, ms (until just before the next pass; 0 = poll only)
input int    MaxRows = 20000;             // Most rows in one history answer (the caller pages on)
input int    HistoryWaitMs = 4000;        // How long a history call waits for the terminal to load it, ms

CGatewaySession4 Session;
CEvents4         Events;

int OnInit()
  {
   // DLL calls are refused in the Strategy Tester unless allowed there, and the EA is no use in it
   if(IsTesting())
     {
      Print("MT Gateway: not available in the Strategy Tester (it connects to a live daemon)");
      return INIT_FAILED;
     }
   // calling an import without permission stops the EA with a critical error: say it first
   if(!TerminalInfoInteger(TERMINAL_DLLS_ALLOWED) || !MQLInfoInteger(MQL_DLLS_ALLOWED))
     {
      Session.Show("stopped: DLL imports are not allowed. Tick \"Allow DLL imports\" in the EA's Common tab (and in Tools > Options > Expert Advisors): the EA needs ws2_32.dll, Windows' socket library, because MQL4 has no sockets");
      return INIT_FAILED;
     }
   if(TimerMs < 1 || SocketWaitMs < 0 || GatewayPort < 1 || GatewayPort > 65535 || MaxRows < 1 || HistoryWaitMs < 0)
     {
      Print("MT Gateway: invalid inputs (TimerMs >= 1, SocketWaitMs >= 0, GatewayPort 1..65535, MaxRows >= 1, HistoryWaitMs >= 0)");
      return INIT_PARAMETERS_INCORRECT;
     }
   uchar addr[];
   if(!ParseIPv4(GatewayHost, addr))
     {
      Print("MT Gateway: GatewayHost must be an IPv4 address such as 127.0.0.1 (MT4 connects without name lookup)");
      return INIT_PARAMETERS_INCORRECT;
     }
   Session.Configure(AuthToken, GatewayHost, GatewayPort, SocketWaitMs);
   Session.methods.max_rows = MaxRows;
   Session.history_wait_ms = HistoryWaitMs;
   Events.Trades();                         // learn the tickets already there (if logged in)
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
   Session.net.Cleanup();
   // after a failed start the terminal runs OnDeinit(REASON_INITFAILED) at once: the chart
   // keeps the reason OnInit wrote there (the DLL hint)
   if(reason != REASON_INITFAILED)
      Comment("");
  }

// A quote of the chart's symbol (the terminal does not queue another while one waits): what
// came is answered and what is new goes out now, not at the next timer pass.
void OnTick()
  {
   Session.methods.WatchClock();            // a quote came: the server's clock (Methods4.mqh)
   Events.Trades();
   Session.Drain();
   Events.Poll(Session);
  }

void OnTimer()
  {
   ulong start = GetMicrosecondCount();
   Session.methods.WatchClock();
   Events.Trades();                         // before anything is served: see Events4.mqh
   Session.TimerPass(start);
   Session.Service();
   Events.Poll(Session);
   // wait in select() until just before the next pass, answering at once what comes; the
   // quotes that change meanwhile go out between the wait's slices, and after what came (a
   // trade call, perhaps) the ticket list is compared again, so each call's change is its own
   // event and not merged with the next calls' of the same pass
   int got;
   while((got = Session.WaitOnce(start)) != MTGW_WAIT_DONE)
     {
      if(got == MTGW_WAIT_DATA)
         Events.Trades();
      Events.Poll(Session);
     }
  }

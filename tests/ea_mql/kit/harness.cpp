// harness.cpp: runs the MQL5 EA compiled as C++ the way a terminal runs an Expert Advisor:
// OnInit, then OnTimer at the period the EA set (one thread, events never overlap; a pass that
// overruns the period is followed by the next at once, as timer events do not queue), trade
// transactions delivered to OnTradeTransaction after the handler that caused them returns, and
// OnDeinit on SIGTERM/SIGINT. Inputs come from the environment:
//   MTGW_FIXTURE (required), MTGW_TOKEN, MTGW_HOST, MTGW_PORT, MTGW_TIMER_MS, MTGW_WAIT_MS,
//   MTGW_MAX_ROWS.
#include "mql5_shim.h"
#include "mql5_terminal.h"
#include MQL_SOURCE

static void _on_signal(int) { _stopped = 1; }

static void _deliver_transactions() {
  while (!_term.transactions.empty()) {
    std::vector<MqlTradeTransaction> batch; batch.swap(_term.transactions);
    MqlTradeRequest request; MqlTradeResult result;
    for (auto& t : batch) OnTradeTransaction(t, request, result);
  }
}

int main() {
  signal(SIGTERM, _on_signal); signal(SIGINT, _on_signal); signal(SIGPIPE, SIG_IGN);
  const char* fixture = getenv("MTGW_FIXTURE");
  if (!fixture) { fprintf(stderr, "MTGW_FIXTURE is required\n"); return 2; }
  FakeTerminalLoad(fixture);
  if (const char* v = getenv("MTGW_TOKEN")) AuthToken = _S(v);
  if (const char* v = getenv("MTGW_HOST")) GatewayHost = _S(v);
  if (const char* v = getenv("MTGW_PORT")) GatewayPort = atoi(v);
  if (const char* v = getenv("MTGW_TIMER_MS")) TimerMs = atoi(v);
  if (const char* v = getenv("MTGW_WAIT_MS")) SocketWaitMs = atoi(v);
  if (const char* v = getenv("MTGW_MAX_ROWS")) MaxRows = atoi(v);
  int init = OnInit();
  if (init != INIT_SUCCEEDED) { fprintf(stdout, "INIT FAILED %d\n", init); return 1; }
  while (!_stopped && _timer_ms > 0) {
    uint start = GetTickCount();
    OnTimer();
    _deliver_transactions();
    FakeTerminalAdvance();
    int left = _timer_ms - (int)(GetTickCount() - start);
    if (left > 0) Sleep(left);
  }
  OnDeinit(0);
  fprintf(stdout, "EXIT\n"); fflush(stdout);
  return 0;
}

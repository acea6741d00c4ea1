// harness.cpp (MQL4): runs an MQL4 Expert Advisor compiled as C++ the way MetaTrader 4 runs it.
//
// One thread, one event queue (mql_runtime.h's rules): Timer events on the Windows clock's
// ticks (mql_clock.h), NewTick when a quote of the chart's symbol arrives (for an EA that has
// OnTick). OnInit runs once at start, OnDeinit on SIGTERM or the `remove` command;
// the terminal stops a program that has not returned 3 s after being told to (the same
// IsStopped rule as MetaTrader 5; docs.mql4.com/check/isstopped), and so does the harness.
// MetaTrader 4 has no OnTradeTransaction or OnBookEvent, and this EA uses no indicators, so
// the harness delivers timers and ticks only. The EA's preprocessed source comes from
// MQL_PROGRAMS (eakit4.py), inside namespace mqlp_expert; inputs from the environment
// (MQL_INPUT_<name>, and MTGW_TOKEN, MTGW_HOST, MTGW_PORT, MTGW_TIMER_MS, MTGW_WAIT_MS,
// MTGW_MAX_ROWS); the fixture from MTGW_FIXTURE. Control commands on stdin: mql4_terminal.h's,
// and `params name=value ...`, `remove`.
#include "mql_lang.h"
#include "mql_clock.h"
#include "fixture.h"
#include "mql_runtime.h"
#include "mql4_lang.h"
#include "mql4_terminal.h"
#include "mql4_winsock.h"
// Handlers a program may leave out (its own declaration hides these in qualified lookup).
struct _Missing {};
namespace mqlfb { inline _Missing OnTick() { return {}; } }
#define MQL_HAS(ns, handler, ...) (!std::is_same_v<decltype(ns::handler(__VA_ARGS__)), _Missing>)
#include MQL_PROGRAMS

#define EA mqlp_expert
static const char* const _EA_NAME = MQL_EXPERT_NAME;

static void _on_signal(int) { _stopped = 1; alarm(3); }
static void _on_alarm(int) {
  static const char msg[] = "KILLED: the program did not stop within 3 s of being told to\n";
  ssize_t w = write(1, msg, sizeof msg - 1); (void)w; _exit(3);
}

static bool _inputs_from_env() {
  struct { const char* env; const char* input; } legacy[] = {{"MTGW_TOKEN", "AuthToken"}, {"MTGW_HOST", "GatewayHost"},
    {"MTGW_PORT", "GatewayPort"}, {"MTGW_TIMER_MS", "TimerMs"}, {"MTGW_WAIT_MS", "SocketWaitMs"}, {"MTGW_MAX_ROWS", "MaxRows"}};
  for (auto& l : legacy) if (const char* v = getenv(l.env)) _set_input(_EA_NAME, l.input, _text_arg(v));
  extern char** environ;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e; if (kv.rfind("MQL_INPUT_", 0) != 0) continue;
    size_t eq = kv.find('='); std::string name = kv.substr(10, eq - 10);
    if (!_set_input(_EA_NAME, name, _text_arg(kv.substr(eq + 1)))) { fprintf(stderr, "no input named %s\n", name.c_str()); return false; }
  }
  return true;
}

static _EventQueue _queue;

int main() {
  signal(SIGTERM, _on_signal); signal(SIGINT, _on_signal); signal(SIGPIPE, SIG_IGN); signal(SIGALRM, _on_alarm);
  const char* fixture = getenv("MTGW_FIXTURE");
  if (!fixture) { fprintf(stderr, "MTGW_FIXTURE is required\n"); return 2; }
  FakeTerminalLoad(fixture);
  if (!_inputs_from_env()) return 2;
  _register_terminal_controls();
  _register_clock_controls();
  _on_tick_arrived = [](const std::string& symbol) {
    if constexpr (MQL_HAS(EA, OnTick)) if (symbol == _symbol_now._utf8()) _queue.post(_EV_TICK, []() { EA::OnTick(); });
  };
  _controls()["params"] = [](const std::vector<std::string>& w) {
    EA::OnDeinit(REASON_PARAMETERS);
    for (size_t k = 1; k < w.size(); ++k) {
      size_t eq = w[k].find('='); if (eq == std::string::npos) return std::string("usage: params name=value ...");
      if (!_set_input(_EA_NAME, w[k].substr(0, eq), _text_arg(w[k].substr(eq + 1)))) return "no input " + w[k].substr(0, eq);
    }
    int rc = EA::OnInit();
    if (rc != INIT_SUCCEEDED) { printf("INIT FAILED %d\n", rc); fflush(stdout); _stopped = 1; }
    return std::string();
  };
  _controls()["net"] = [](const std::vector<std::string>& w) {
    if (w.size() == 2 && w[1] == "stats") { printf("KIT: socket_woken %ld\n", ws2_32::woken); return std::string(); }
    if (w.size() != 2 || w[1] != "fail_answer") return std::string("usage: net fail_answer | net stats");
    ws2_32::fail_next_answer = true; return std::string(); };
  _controls()["remove"] = [](const std::vector<std::string>&) { _stopped = 1; alarm(3); return std::string(); };
  int init = EA::OnInit();
  if (init != INIT_SUCCEEDED) { printf("INIT FAILED %d\n", init); fflush(stdout); EA::OnDeinit(REASON_INITFAILED); return 1; }
  while (!_stopped) {
    _market_advance();
    int64_t now = _mono_ns();
    int64_t next = INT64_MAX;
    if (_timer_ms > 0) {
      int64_t fire = _tick_ceil(_timer_due_ns);
      if (now >= fire) {
        _queue.post(_EV_TIMER, []() { EA::OnTimer(); });
        _timer_due_ns += (int64_t)_timer_ms * 1000000;
        if (_timer_due_ns < now) _timer_due_ns = now + (int64_t)_timer_ms * 1000000;  // missed periods do not queue
        fire = _tick_ceil(_timer_due_ns);
      }
      next = std::min(next, fire);
    }
    _control_poll();
    if (_stopped) break;
    if (_queue.run_one()) continue;
    next = std::min(next, _market_next_ns());
    pollfd in{_stdin_open ? 0 : -1, POLLIN, 0};
    _poll_until(&in, 1, next == INT64_MAX ? _mono_ns() + (int64_t)1000000000 : next);
  }
  EA::OnDeinit(REASON_REMOVE);
  printf("KIT: handled timer=%ld tick=%ld\n", _queue.handled[_EV_TIMER], _queue.handled[_EV_TICK]);
  printf("KIT: slept without waiting %lld ms\n", (long long)(_slept_ns / 1000000));
  printf("EXIT sockets_open=%d winsock_refs=%d\n", _open_sockets(), ws2_32::refs); fflush(stdout);
  return 0;
}

// harness.cpp: runs an MQL5 Expert Advisor compiled as C++ the way a terminal runs it.
//
// One thread, one event queue (mql_runtime.h's rules): Timer events on the Windows clock's
// ticks (mql_clock.h), NewTick when a tick of the chart symbol arrives, ChartEvent from
// EventChartCustom, BookEvent for subscribed books, TradeTransaction after the handler whose
// trade raised it; indicators (mql5_programs.h) run between the EA's events. OnInit runs once
// at start (possibly before the terminal has logged in), OnDeinit on SIGTERM or the `remove`
// command; the terminal kills a program that has not returned 3 s after being told to stop
// (mql5.com/en/docs/check/isstopped), and so does the harness. At exit it prints how many
// events of each kind the EA handled ("KIT: handled timer=... tick=... chart=... other=...").
//
// The programs come from MQL_PROGRAMS, a file eakit.py writes: each program's preprocessed
// source inside its own namespace, the Expert Advisor's as mqlp_expert. Inputs come from the
// environment: MQL_INPUT_<name>=<value> (and, for the MT Gateway EA's tests, MTGW_TOKEN,
// MTGW_HOST, MTGW_PORT, MTGW_TIMER_MS, MTGW_WAIT_MS, MTGW_MAX_ROWS); the fixture from
// MTGW_FIXTURE (required). Control commands on stdin: mql_runtime.h, mql5_terminal.h, and here
// `chart_change [symbol] [period]`, `params name=value ...`, `account <login>`, `remove`.
#include "mql_lang.h"
#include "mql_clock.h"
#include "fixture.h"
#include "mql_runtime.h"
#include "mql5_lang.h"
#include "mql5_terminal.h"
#include "mql5_net.h"
#include "mql5_programs.h"
#include MQL_PROGRAMS

#define EA mqlp_expert
static const char* const _EA_NAME = MQL_EXPERT_NAME;

static void _on_signal(int) { _stopped = 1; alarm(3); }
static void _on_alarm(int) {
  static const char msg[] = "KILLED: the program did not stop within 3 s of being told to\n";
  ssize_t w = write(1, msg, sizeof msg - 1); (void)w; _exit(3);
}

static int _ea_init() { return _init_result([]() { return EA::OnInit(); }); }
static void _ea_deinit(int reason) { EA::OnDeinit(reason); }

static _EventQueue _queue;

static void _bind_events() {
  _on_tick_arrived = [](const std::string& symbol) {
    if constexpr (MQL_HAS(EA, OnTick)) if (symbol == _symbol_now._utf8()) _queue.post(_EV_TICK, []() { EA::OnTick(); });
    _indicators_tick(symbol);
    FakeSymbol* s = _sym8(symbol);
    // broadcast: any program's subscription raises it in every program with OnBookEvent
    if constexpr (MQL_HAS(EA, OnBookEvent, string())) if (s && s->book_subscriptions + s->other_book_subscriptions > 0 && s->p.n["ticks_bookdepth"] > 0) {
      string sym = _S(symbol); _queue.post(_EV_OTHER, [sym]() { EA::OnBookEvent(sym); });
    }
  };
  _tx_sink = [](const MqlTradeTransaction& t, const MqlTradeRequest& rq, const MqlTradeResult& rs) {
    if constexpr (MQL_HAS(EA, OnTradeTransaction, t, rq, rs)) _queue.post(_EV_OTHER, [t, rq, rs]() { EA::OnTradeTransaction(t, rq, rs); });
  };
  _chart_event_sink = [](int id, long l, double d, const string& s) {
    if constexpr (MQL_HAS(EA, OnChartEvent, 0, l, d, s)) return _queue.post(_EV_CHART, [id, l, d, s]() { EA::OnChartEvent(id, l, d, s); });
    return false;
  };
  _ind_set_timer = _ind_timer;
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

// Re-initialisation in place: globals keep their values (mql5.com/en/docs/runtime/event_fire).
static std::string _reinit(int reason) {
  _ea_deinit(reason);
  int rc = _ea_init();
  if (rc != INIT_SUCCEEDED) { printf("INIT FAILED %d\n", rc); fflush(stdout); _ea_deinit(REASON_INITFAILED); _stopped = 1; }
  return "";
}

static void _bind_controls() {
  _register_terminal_controls();
  _register_net_controls();
  _register_clock_controls();
  _controls()["chart_change"] = [](const std::vector<std::string>& w) {
    if (w.size() > 1) { if (!_sym8(w[1])) return std::string("unknown symbol"); _symbol_now = _S(w[1]); }
    if (w.size() > 2) _period_now = (ENUM_TIMEFRAMES)atoi(w[2].c_str());
    return _reinit(REASON_CHARTCHANGE);
  };
  _controls()["params"] = [](const std::vector<std::string>& w) {
    _ea_deinit(REASON_PARAMETERS);
    for (size_t k = 1; k < w.size(); ++k) {
      size_t eq = w[k].find('='); if (eq == std::string::npos) return std::string("usage: params name=value ...");
      if (!_set_input(_EA_NAME, w[k].substr(0, eq), _text_arg(w[k].substr(eq + 1)))) return "no input " + w[k].substr(0, eq);
    }
    int rc = _ea_init();
    if (rc != INIT_SUCCEEDED) { printf("INIT FAILED %d\n", rc); fflush(stdout); _stopped = 1; }
    return std::string();
  };
  _controls()["remove"] = [](const std::vector<std::string>&) { _stopped = 1; alarm(3); return std::string(); };
  // The user logs in to another account: "REASON_ACCOUNT ... Another account has been
  // activated" (mql5.com/en/docs/constants/namedconstants/uninit): the EA is re-initialised,
  // its globals kept, and the trade state is the new account's (none here).
  _controls()["account"] = [](const std::vector<std::string>& w) {
    if (w.size() != 2 || atol(w[1].c_str()) <= 0) return std::string("usage: account <login>");
    _term.account.n["login"] = (double)atol(w[1].c_str());
    _term.positions.clear(); _term.orders.clear(); _term.history_orders.clear(); _term.deals.clear();
    _term.selected_order = nullptr; _term.selected_position = nullptr;
    _term.history_sel_orders.clear(); _term.history_sel_deals.clear();
    _term.trade_state_at_ns = _mono_ns() + _term.trade_state_ns;
    return _reinit(REASON_ACCOUNT);
  };
  _controls()["indicators"] = [](const std::vector<std::string>&) {
    for (auto& i : _indicators()) {
      std::string args; for (auto& a : i.args) args += " " + (a.k == _Arg::STR ? a.s : a.k == _Arg::DBL ? std::to_string(a.d) : std::to_string(a.i));
      printf("KIT: indicator %d %s %s %d%s\n", i.handle, i.program->name.c_str(), i.symbol.c_str(), (int)i.period, args.c_str());
    }
    return std::string(); };
}

int main() {
  signal(SIGTERM, _on_signal); signal(SIGINT, _on_signal); signal(SIGPIPE, SIG_IGN); signal(SIGALRM, _on_alarm);
  const char* fixture = getenv("MTGW_FIXTURE");
  if (!fixture) { fprintf(stderr, "MTGW_FIXTURE is required\n"); return 2; }
  FakeTerminalLoad(fixture);
  _expert_program = _EA_NAME;
  if (!_inputs_from_env()) return 2;
  _bind_events();
  _bind_controls();
  int init = _ea_init();
  if (init != INIT_SUCCEEDED) { printf("INIT FAILED %d\n", init); fflush(stdout); _ea_deinit(REASON_INITFAILED); return 1; }
  while (!_stopped) {
    _market_advance();
    int64_t next = _indicators_run();
    int64_t now = _mono_ns();
    if (_timer_ms > 0) {
      int64_t fire = _tick_ceil(_timer_due_ns);
      if (now >= fire) {
        if constexpr (MQL_HAS(EA, OnTimer)) _queue.post(_EV_TIMER, []() {
          EA::OnTimer();
          if (_market_anchor_ns == INT64_MAX) _market_anchor_ns = _mono_ns();  // live ticks start now
        });
        _timer_due_ns += (int64_t)_timer_ms * 1000000;
        if (_timer_due_ns < now) _timer_due_ns = now + (int64_t)_timer_ms * 1000000;  // missed periods do not queue
        fire = _tick_ceil(_timer_due_ns);
      }
      next = std::min(next, fire);
    }
    _control_poll();
    if (_stopped) break;
    // a step of the terminal's own lands once the EA has handled the previous step's events
    if (!_terminal_steps().empty() && _queue.pending_other == 0) {
      auto step = _terminal_steps().front(); _terminal_steps().pop_front(); step();
    }
    if (_queue.run_one()) continue;
    if (_indicators_pending() || (!_terminal_steps().empty() && _queue.pending_other == 0)) continue;
    next = std::min(next, _market_next_ns());
    if (!_terminal_steps().empty()) next = std::min(next, _mono_ns() + 1000000);
    pollfd in{_stdin_open ? 0 : -1, POLLIN, 0};
    _poll_until(&in, 1, next == INT64_MAX ? _mono_ns() + (int64_t)1000000000 : next);
  }
  _ea_deinit(REASON_REMOVE);
  while (!_indicators().empty()) { _Ind& i = _indicators().front(); i.refs = 1; IndicatorRelease(i.handle); }
  printf("KIT: handled timer=%ld tick=%ld chart=%ld other=%ld dropped=%ld\n", _queue.handled[_EV_TIMER],
         _queue.handled[_EV_TICK], _queue.handled[_EV_CHART], _queue.handled[_EV_OTHER], _queue.dropped);
  printf("KIT: slept without waiting %lld ms\n", (long long)(_slept_ns / 1000000));
  printf("EXIT sockets_open=%d\n", _open_sockets()); fflush(stdout);
  return 0;
}

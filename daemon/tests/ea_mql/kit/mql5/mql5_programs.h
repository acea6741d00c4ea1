// mql5_programs.h: the MQL5 programs in one terminal: the Expert Advisor on its chart, and the
// custom indicators it creates with iCustom.
//
// "All indicators calculated on one symbol ... work in the same thread" and their calculations
// never block an EA (mql5.com/en/docs/runtime/running). An indicator instance here is created
// by iCustom (a handle at once; its OnInit runs next, as the terminal starts it on the symbol's
// thread), gets OnCalculate when a tick of its symbol arrives and OnTimer from its own timer,
// and is removed by IndicatorRelease when nothing holds it. The kit runs indicators between the
// EA's events, in the EA's process. A program can carry an indicator as a resource
// (`#resource "\\Indicators\\X.ex5"`, which mqlpp turns into an _mql_resource record) and
// create it as iCustom(..., "::Indicators\\X.ex5", ...): "Inclusion of indicators as resources
// simplifies the distribution of applications" (mql5.com/en/docs/runtime/resources). Created by
// file name, an indicator needs its compiled .ex5 on the terminal: fixture `indicators_on_disk`
// lists the ones there (default: all), the others fail with 4802 (ERR_INDICATOR_CANNOT_CREATE),
// as does every iCustom under `indicators_fail: true` (a terminal that cannot create one). While one runs, _symbol_now, _period_now and _last_error are its
// own, and copies do not wait (CopyTicks "immediately returns all the ticks available" in an
// indicator). What the one thread per symbol means for the symbol's history synchronization is
// modelled in mql5_terminal.h (the symbol's thread): an indicator's handlers delay it. That the
// same thread also delays the symbol's other indicators (the EA's tick spy) is not modelled. Instances of one program share its globals here, so an indicator keeps its
// per-instance state in its inputs (iCustom's arguments) and in the terminal (global
// variables), not in global variables of its own.
#pragma once
#include <set>

// Handlers a program may leave out: the harness asks which exist (a program's own declaration
// hides these in qualified lookup; absent, these answer with _Missing).
struct _Missing {};
namespace mqlfb {
inline _Missing OnInit() { return {}; }
inline _Missing OnDeinit(const int) { return {}; }
inline _Missing OnTimer() { return {}; }
inline _Missing OnTick() { return {}; }
inline _Missing OnTrade() { return {}; }
inline _Missing OnTradeTransaction(const MqlTradeTransaction&, const MqlTradeRequest&, const MqlTradeResult&) { return {}; }
inline _Missing OnChartEvent(const int, const long&, const double&, const string&) { return {}; }
inline _Missing OnBookEvent(const string&) { return {}; }
inline _Missing OnCalculate(const int, const int, const int, const MqlArray<double>&) { return {}; }
}  // namespace mqlfb
#define MQL_HAS(ns, handler, ...) (!std::is_same_v<decltype(ns::handler(__VA_ARGS__)), _Missing>)
// OnInit's answer, INIT_SUCCEEDED when the program has none.
template <class F> int _init_result(F&& f) {
  if constexpr (std::is_same_v<decltype(f()), _Missing>) { f(); return INIT_SUCCEEDED; } else return f();
}

struct _IndProgram {
  std::string name;
  std::function<int()> on_init; std::function<void(int)> on_deinit;
  std::function<int(int, int, int, const MqlArray<double>&)> on_calculate; std::function<void()> on_timer;
};
inline std::vector<_IndProgram>& _ind_programs() { static std::vector<_IndProgram> v; return v; }
inline bool _register_indicator(_IndProgram p) { _ind_programs().push_back(std::move(p)); return true; }
// What MQL_PROGRAMS writes for each indicator program compiled into namespace `ns`.
#define MQL_BIND_INDICATOR(ns, label) _register_indicator(_IndProgram{label, \
  []() { return _init_result([]() { return ns::OnInit(); }); }, \
  [](int reason) { ns::OnDeinit(reason); }, \
  [](int total, int prev, int begin, const MqlArray<double>& price) -> int { return ns::OnCalculate(total, prev, begin, price); }, \
  []() { ns::OnTimer(); }})

struct _Ind {
  int handle = 0; const _IndProgram* program = nullptr; std::string symbol; ENUM_TIMEFRAMES period = PERIOD_CURRENT;
  std::vector<_Arg> args; int refs = 1; bool started = false; bool dirty = true; int calculated = -1;
  int timer_ms = 0; int64_t timer_due = 0;
};
inline std::vector<_Ind>& _indicators() { static std::vector<_Ind> v; return v; }
// What each program carries (#resource), by program name; the Expert Advisor's name (the harness).
inline std::map<std::string, std::set<std::string>>& _resources() { static std::map<std::string, std::set<std::string>> m; return m; }
inline bool _mql_resource(const char* program, const char* name) { _resources()[program].insert(name); return true; }
inline std::string _expert_program;
inline int _next_ind_handle = 10;
inline _Ind* _ind(int handle) { for (auto& i : _indicators()) if (i.handle == handle) return &i; return nullptr; }
inline _Ind* _running_ind = nullptr;

enum _IndHandler { _IND_INIT = 0, _IND_CALCULATE = 1, _IND_TIMER = 2 };
// Run `fn` as the indicator instance: its symbol, period, inputs and last error; the time it
// takes is its symbol thread's (mql5_terminal.h _symbol_thread_spent).
inline void _run_as(_Ind& ind, const std::function<void()>& fn, _IndHandler kind = _IND_INIT) {
  string sym = _symbol_now; ENUM_TIMEFRAMES per = _period_now; int err = _last_error; bool was = _term.in_indicator; _Ind* prev = _running_ind;
  int calls = _term.indicator_calls; std::string on = ind.symbol;
  _symbol_now = _S(ind.symbol); _period_now = ind.period; _last_error = 0; _term.in_indicator = true; _running_ind = &ind; _term.indicator_calls = 0;
  _set_inputs_in_order(ind.program->name, ind.args);
  int64_t began = _mono_ns();
  fn();
  _symbol_thread_spent(on, kind, _term.indicator_calls, _mono_ns() - began);
  _symbol_now = sym; _period_now = per; _last_error = err; _term.in_indicator = was; _running_ind = prev; _term.indicator_calls = calls;
}
inline bool _ind_timer(int ms) {
  if (!_running_ind) return false;
  _running_ind->timer_ms = ms > 0 ? ms : 0; _running_ind->timer_due = ms > 0 ? _mono_ns() + (int64_t)ms * 1000000 : 0; return true;
}

inline int _icustom(const string& symbol, ENUM_TIMEFRAMES period, const string& name, std::vector<_Arg> args) {
  std::string sym = symbol._utf8().empty() ? _symbol_now._utf8() : symbol._utf8();
  if (!_sym8(sym)) { _last_error = ERR_INDICATOR_UNKNOWN_SYMBOL; return INVALID_HANDLE; }
  if (period == PERIOD_CURRENT) period = _period_now;
  // "::Indicators\<label>.ex5": a resource of the calling program; otherwise a file on disk
  std::string wanted = name._utf8(), label = wanted;
  bool carried = wanted.rfind("::", 0) == 0;
  if (carried) {
    std::string res = wanted.substr(2), caller = _running_ind ? _running_ind->program->name : _expert_program;
    bool declared = _resources()[caller].count(res) > 0;
    label = res.rfind("Indicators\\", 0) == 0 && res.size() > 15 && res.substr(res.size() - 4) == ".ex5" ? res.substr(11, res.size() - 15) : "";
    if (!declared) label = "";
  }
  const _IndProgram* prog = nullptr; for (auto& p : _ind_programs()) if (p.name == label) prog = &p;
  const FJ& fx = _term.fixture; const FJ* disk = fx.get("indicators_on_disk");
  bool on_disk = disk == nullptr; if (disk) for (auto& d : disk->a) on_disk = on_disk || d.s == label;
  if (!prog || (!carried && !on_disk) || fx.bool_or("indicators_fail", false)) { _last_error = ERR_INDICATOR_CANNOT_CREATE; return INVALID_HANDLE; }
  // the same indicator with the same parameters is one instance, counted
  for (auto& i : _indicators()) {
    bool same = i.program == prog && i.symbol == sym && i.period == period && i.args.size() == args.size();
    for (size_t k = 0; same && k < args.size(); ++k) same = i.args[k].k == args[k].k && i.args[k].i == args[k].i && i.args[k].d == args[k].d && i.args[k].s == args[k].s;
    if (same) { ++i.refs; return i.handle; }
  }
  _Ind i; i.handle = _next_ind_handle++; i.program = prog; i.symbol = sym; i.period = period; i.args = std::move(args);
  _indicators().push_back(i); return i.handle;
}
template <class... A> int iCustom(const string& symbol, ENUM_TIMEFRAMES period, const string& name, const A&... params) {
  return _icustom(symbol, period, name, std::vector<_Arg>{_arg(params)...});
}
inline bool IndicatorRelease(int handle) {
  auto& v = _indicators();
  for (size_t k = 0; k < v.size(); ++k) if (v[k].handle == handle) {
    if (--v[k].refs > 0) return true;
    _Ind gone = v[k]; v.erase(v.begin() + (long)k);
    if (gone.started && gone.program->on_deinit) _run_as(gone, [&]() { gone.program->on_deinit(REASON_REMOVE); });
    return true;
  }
  _last_error = ERR_INDICATOR_WRONG_HANDLE; return false;
}
inline int BarsCalculated(int handle) { _Ind* i = _ind(handle); if (!i) { _last_error = ERR_INDICATOR_WRONG_HANDLE; return -1; } return i->calculated; }

// One round of indicator work: start new instances, calculate those whose symbol ticked, fire
// due timers. Returns when the next indicator timer is due (INT64_MAX when none is).
inline int64_t _indicators_run() {
  int64_t next = INT64_MAX;
  for (size_t k = 0; k < _indicators().size(); ++k) {
    int h = _indicators()[k].handle;
    auto with = [&](const std::function<void(_Ind&)>& fn, _IndHandler kind) { _Ind* i = _ind(h); if (i) _run_as(*i, [&]() { fn(*i); }, kind); };
    _Ind* i = _ind(h); if (!i) continue;
    if (!i->started) {
      i->started = true; int rc = 0;
      if (FakeSymbol* s = _sym8(i->symbol)) _series_start(*s, i->period);  // an indicator needs its series: the terminal builds it
      with([&](_Ind& x) { if (x.program->on_init) rc = x.program->on_init(); }, _IND_INIT);
      if (rc != INIT_SUCCEEDED) { _Ind* j = _ind(h); if (j) j->calculated = -1; continue; }
    }
    i = _ind(h);
    if (i && i->dirty) {
      i->dirty = false;
      with([&](_Ind& x) {
        FakeSymbol* s = _sym8(x.symbol); int total = s ? Bars(_S(x.symbol), x.period) : 0;
        MqlArray<double> price; price._v.assign((size_t)std::max(total, 0), 0.0);
        x.calculated = x.program->on_calculate ? x.program->on_calculate(total, std::max(x.calculated, 0), 0, price) : total; }, _IND_CALCULATE);
    }
    i = _ind(h);
    if (i && i->timer_ms > 0) {
      if (_mono_ns() >= _tick_ceil(i->timer_due)) {
        i->timer_due = _mono_ns() + (int64_t)i->timer_ms * 1000000;
        with([&](_Ind& x) { if (x.program->on_timer) x.program->on_timer(); }, _IND_TIMER);
      }
      i = _ind(h); if (i && i->timer_ms > 0) next = std::min(next, _tick_ceil(i->timer_due));
    }
  }
  return next;
}
inline void _indicators_tick(const std::string& symbol) { for (auto& i : _indicators()) if (i.symbol == symbol) i.dirty = true; }
inline bool _indicators_pending() { for (auto& i : _indicators()) if (!i.started || i.dirty) return true; return false; }

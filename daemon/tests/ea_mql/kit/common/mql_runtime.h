// mql_runtime.h: how a terminal runs MQL programs, as MQL4 and MQL5 share it.
//
// - Each program has one event queue, handled one event at a time on the program's thread.
//   "If a queue already has a NewTick event, or this event is currently being processed, then
//   the new NewTick event is not placed in the queue ... Similarly, if ChartEvent is already
//   enqueued, or this event is being processed, no new event of this kind is enqueued. The timer
//   events are handled the same way" (mql5.com/en/docs/runtime/event_fire). Other events (trade
//   transactions, book events) queue; a full queue drops what comes next.
// - Inputs are constants to the program (assigning one is error 189); the terminal sets them
//   before OnInit, and again before the OnInit that follows a change of inputs. mqlpp.py turns
//   `input T name = v;` into a `const T &` bound to a slot here.
// - The terminal's global variables (GlobalVariable*) are shared by every program.
// - Custom chart events (EventChartCustom) reach the programs on that chart.
// - The control channel: a test writes commands on the harness's stdin to act as the user or
//   the broker ("login", "chart_change", "close 5001", ...); each is answered "KIT: ok <line>"
//   (or "KIT: error <why>") on stdout once applied.
#pragma once
#include <deque>
#include <fcntl.h>
#include <unistd.h>

// ---- the event queue ------------------------------------------------------------------------
enum _EvKind { _EV_TIMER = 0, _EV_TICK = 1, _EV_CHART = 2, _EV_OTHER = 3 };
inline long _timer_passes = 0;  // OnTimer calls begun so far (what a test counts the EA's passes by)
struct _Event { _EvKind kind; std::function<void()> run; };
struct _EventQueue {
  std::deque<_Event> q; bool queued[3] = {false, false, false}; int running = -1;
  size_t cap = 1024; long dropped = 0; long pending_other = 0; long handled[4] = {0, 0, 0, 0};
  // Returns false when the rules above keep the event out.
  bool post(_EvKind k, std::function<void()> f) {
    if (k != _EV_OTHER && (queued[k] || running == k)) return false;
    if (q.size() >= cap) { ++dropped; return false; }
    q.push_back(_Event{k, std::move(f)});
    if (k != _EV_OTHER) queued[k] = true; else ++pending_other;
    return true;
  }
  bool empty() const { return q.empty(); }
  // Handle the oldest event; false when there was none.
  bool run_one() {
    if (q.empty()) return false;
    _Event e = std::move(q.front()); q.pop_front();
    if (e.kind != _EV_OTHER) queued[e.kind] = false; else --pending_other;
    if (e.kind == _EV_TIMER) ++_timer_passes;
    running = e.kind; e.run(); running = -1; ++handled[e.kind];
    return true;
  }
};

// ---- inputs ---------------------------------------------------------------------------------
struct _Arg { enum K { INT, DBL, STR } k = INT; long i = 0; double d = 0; std::string s; };
inline _Arg _arg(int v) { _Arg a; a.i = v; return a; }
inline _Arg _arg(long v) { _Arg a; a.i = v; return a; }
inline _Arg _arg(ulong v) { _Arg a; a.i = (long)v; return a; }
inline _Arg _arg(uint v) { _Arg a; a.i = v; return a; }
inline _Arg _arg(bool v) { _Arg a; a.i = v; return a; }
inline _Arg _arg(double v) { _Arg a; a.k = _Arg::DBL; a.d = v; return a; }
inline _Arg _arg(const datetime& v) { _Arg a; a.i = v._v; return a; }
inline _Arg _arg(const string& v) { _Arg a; a.k = _Arg::STR; a.s = v._utf8(); return a; }
template <class E, class = std::enable_if_t<std::is_enum_v<E>>> _Arg _arg(E v) { _Arg a; a.i = (long)v; return a; }

struct _InputSlot { std::string program, name; std::function<void(const _Arg&)> set; std::function<void()> reset; };
inline std::vector<_InputSlot>& _inputs() { static std::vector<_InputSlot> v; return v; }
template <class T> T _from_arg(const _Arg& a) {
  if constexpr (std::is_same_v<T, string>) return _S(a.k == _Arg::STR ? a.s : std::to_string(a.k == _Arg::DBL ? (long)a.d : a.i));
  else if constexpr (std::is_same_v<T, datetime>) return datetime(a.k == _Arg::STR ? strtol(a.s.c_str(), nullptr, 10) : a.i);
  else if constexpr (std::is_same_v<T, bool>) return a.k == _Arg::STR ? (a.s == "true" || a.s == "1") : a.i != 0;
  else if constexpr (std::is_floating_point_v<T>) return (T)(a.k == _Arg::STR ? strtod(a.s.c_str(), nullptr) : a.k == _Arg::DBL ? a.d : (double)a.i);
  else return (T)(a.k == _Arg::STR ? strtol(a.s.c_str(), nullptr, 10) : a.k == _Arg::DBL ? (long)a.d : a.i);
}
// The slot behind one `input` declaration: the program reads it through a const reference (an
// MQL4 `extern` variable through a plain one: the program may change it).
template <class T> T& _mql_input(const char* program, const char* name, T dflt) {
  T* slot = new T(dflt);  // lives as long as the program
  _inputs().push_back(_InputSlot{program, name, [slot](const _Arg& a) { *slot = _from_arg<T>(a); }, [slot, dflt]() { *slot = dflt; }});
  return *slot;
}
inline bool _set_input(const std::string& program, const std::string& name, const _Arg& value) {
  for (auto& in : _inputs()) if (in.program == program && in.name == name) { in.set(value); return true; }
  return false;
}
// An indicator's inputs from iCustom's arguments, in declaration order (the rest keep defaults).
inline void _set_inputs_in_order(const std::string& program, const std::vector<_Arg>& args) {
  size_t k = 0;
  for (auto& in : _inputs()) if (in.program == program) { if (k < args.size()) in.set(args[k]); else in.reset(); ++k; }
}
inline _Arg _text_arg(const std::string& s) { _Arg a; a.k = _Arg::STR; a.s = s; return a; }

// ---- the terminal's global variables ----------------------------------------------------------
inline std::map<std::string, double>& _gvars() { static std::map<std::string, double> m; return m; }
inline bool GlobalVariableCheck(const string& name) { return _gvars().count(name._utf8()) > 0; }
inline double GlobalVariableGet(const string& name) {
  auto it = _gvars().find(name._utf8()); if (it == _gvars().end()) { _last_error = _ERR_GLOBAL_NOT_FOUND; return 0; }
  return it->second;
}
inline datetime GlobalVariableSet(const string& name, double value) {
  if (name._u.size() > 63) { _last_error = _ERR_PARAMETER; return datetime(0); }
  _gvars()[name._utf8()] = value; return datetime((long)time(nullptr) + (long)(_slept_ns / 1000000000));  // the program's clock (mql_clock.h)
}
// A temporary variable: it lives until the terminal closes (here: the process).
inline bool GlobalVariableTemp(const string& name) {
  if (name._u.size() > 63) { _last_error = _ERR_PARAMETER; return false; }
  _gvars().emplace(name._utf8(), 0.0); return true;
}
inline bool GlobalVariableDel(const string& name) { return _gvars().erase(name._utf8()) > 0; }
inline int GlobalVariablesTotal() { return (int)_gvars().size(); }

// ---- charts and custom events ----------------------------------------------------------------
inline long _chart_id = 133000000000000001L;
inline long ChartID() { return _chart_id; }
// Set by the harness: delivers a chart event to the programs on the chart (the EA).
inline std::function<bool(int, long, double, const string&)> _chart_event_sink;
inline bool EventChartCustom(long chart_id, ushort custom_event_id, long lparam, double dparam, const string& sparam) {
  if (chart_id != 0 && chart_id != _chart_id) { _last_error = _ERR_PARAMETER; return false; }  // no other chart here
  if (_chart_event_sink) _chart_event_sink(CHARTEVENT_CUSTOM + custom_event_id, lparam, dparam, sparam);
  return true;  // queued, or dropped by the queue's rule: the sender cannot tell
}

// ---- the control channel ---------------------------------------------------------------------
using _ControlFn = std::function<std::string(const std::vector<std::string>&)>;  // "" = ok, else why not
inline std::map<std::string, _ControlFn>& _controls() { static std::map<std::string, _ControlFn> m; return m; }
inline std::string _stdin_buf;
inline bool _stdin_open = true;
inline std::vector<std::string> _split_words(const std::string& line) {
  std::vector<std::string> w; size_t i = 0;
  while (i < line.size()) { while (i < line.size() && line[i] == ' ') ++i; size_t j = i; while (j < line.size() && line[j] != ' ') ++j; if (j > i) w.push_back(line.substr(i, j - i)); i = j; }
  return w;
}
// Take in whatever waits on stdin (never blocks).
inline void _control_read() {
  if (!_stdin_open) return;
  static bool nb = (fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK), true); (void)nb;
  char b[4096];
  while (true) {
    ssize_t r = read(0, b, sizeof b);
    if (r > 0) { _stdin_buf.append(b, (size_t)r); continue; }
    if (r == 0) _stdin_open = false;
    break;
  }
}
// Apply every complete command line waiting on stdin (never blocks). `only`: apply the lines
// at the head that are that command, and stop at the first other one (kept, in order, for the
// event loop): what a program blocked inside a call may see happen meanwhile (mql5_net.h).
inline void _control_poll(const char* only = nullptr) {
  _control_read();
  size_t nl;
  while ((nl = _stdin_buf.find('\n')) != std::string::npos) {
    std::string line = _stdin_buf.substr(0, nl);
    auto words = _split_words(line);
    if (only && !words.empty() && words[0] != only) return;
    _stdin_buf.erase(0, nl + 1);
    if (words.empty()) continue;
    auto it = _controls().find(words[0]);
    std::string why = it == _controls().end() ? "unknown command" : it->second(words);
    if (why.empty()) printf("KIT: ok %s\n", line.c_str()); else printf("KIT: error %s: %s\n", line.c_str(), why.c_str());
    fflush(stdout);
  }
}

// `advance <ms>`: the program's clocks move <ms> ahead at once, as they do over a Sleep before
// the network (mql_clock.h): GetTickCount, GetMicrosecondCount, the server time, the timers, the
// live ticks and a synchronization in progress all see that much time gone by, and what fell
// due meanwhile is due now (a timer's missed periods do not queue, as in the terminal). A test
// moves the terminal's modelled durations on (a 25 s tick synchronization, the settle time an
// indicator waits out) instead of waiting them out on the wall clock. To the program's peers
// the jump is silence of that length: a test keeps each jump inside the session's heartbeat.
inline void _register_clock_controls() {
  _controls()["advance"] = [](const std::vector<std::string>& w) {
    long ms = w.size() == 2 ? strtol(w[1].c_str(), nullptr, 10) : 0;
    if (ms <= 0) return std::string("usage: advance <ms>");
    _slept_ns += (int64_t)ms * 1000000;
    return std::string(); };
}

// ---- steps the terminal takes on its own --------------------------------------------------------
// A broker action (a stop loss, a close from the terminal's window) changes the account in
// steps, and the program sees each step's transaction before the next step lands: the harness
// runs one step only once the program has handled the events the previous one raised.
inline std::deque<std::function<void()>>& _terminal_steps() { static std::deque<std::function<void()>> d; return d; }

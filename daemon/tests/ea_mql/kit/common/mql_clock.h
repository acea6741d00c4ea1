// mql_clock.h: time as a program inside a Windows terminal sees it (MQL4 and MQL5 alike).
//
// Windows' system clock ticks 64 times a second unless a process raises it (15.625 ms), and the
// terminal does not: timer events come "no more than once every 10-16 milliseconds, which is due
// to hardware limitations" (MQL5 Book, "Timer events"), and GetTickCount is "limited by the
// restrictions of the system timer" (its reference page). So here:
// - GetTickCount steps by the clock tick;
// - a timer fires on the first clock tick at or after it is due;
// - a wait with a timeout (Sleep, and the socket timeouts) ends on a clock tick;
// - GetMicrosecondCount reads the performance counter, in microseconds;
// - data arriving on a socket wakes a waiting read at once (the kernel signals readiness).
// MQLSHIM_CLOCK_MS sets the tick (default 15.625; 1 for a raised clock). Whether a socket
// timeout ends on a tick is not documented: MQLSHIM_FINE_TIMEOUTS=1 lets it end between ticks.
//
// Until the program first reaches for the network (SocketCreate; MQL4's WSAStartup) nothing
// outside it can tell when one of its Sleeps ends, so the kit does not wait them out: it moves
// the program's clock to the Sleep's end at once (_slept_ns). Every clock the program reads
// moves with it (GetMicrosecondCount, GetTickCount, the terminal's server time, timers: all are
// _mono_ns), so the program sees what the Sleep would have shown it, the ticks and timer events
// that came due meanwhile included; only the test waiting on it is spared the wall-clock time
// (the MQL5 EA's first nonce waits for 64 stirs over a second of its clock). From the first
// network call on, a Sleep is waited out: the peer's clock is the wall clock.
// MQLSHIM_REAL_SLEEP=1 waits out every Sleep.
#pragma once
#include <poll.h>
#include <thread>

inline int64_t _slept_ns = 0;          // program time slept without waiting (see above)
inline bool _network_reached = false;  // set by the program's first network call
inline int64_t _mono_ns() {
  return (int64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count() + _slept_ns;
}
inline const int64_t _start_ns = _mono_ns();
inline double _clock_q_ms() { static const double q = _envf("MQLSHIM_CLOCK_MS", 15.625); return q > 0 ? q : 1.0; }
inline int64_t _q_ns() { return (int64_t)(_clock_q_ms() * 1e6); }
// The first clock tick at or after t (ticks counted from the program's start).
inline int64_t _tick_ceil(int64_t t) {
  int64_t rel = t - _start_ns; if (rel <= 0) return _start_ns;
  int64_t q = _q_ns(); return _start_ns + (rel + q - 1) / q * q;
}
inline int64_t _tick_floor(int64_t t) { int64_t q = _q_ns(); int64_t rel = t - _start_ns; return _start_ns + (rel < 0 ? 0 : rel / q * q); }

// GetTickCount counts from the machine's start (here: an hour before the program's).
inline uint GetTickCount() { return (uint)(3600000 + (_tick_floor(_mono_ns()) - _start_ns) / 1000000); }
#ifndef MQL_LANG_MQL4   // MQL5's (mql5.com/en/docs/common/gettickcount64); MQL4 has none
inline ulong GetTickCount64() { return (ulong)GetTickCount(); }
#endif
inline long _usec_reads = 0;  // GetMicrosecondCount calls so far (a test counts the EA's samples)
inline ulong GetMicrosecondCount() { ++_usec_reads; return (ulong)((_mono_ns() - _start_ns) / 1000); }

inline volatile sig_atomic_t _stopped = 0;
inline bool IsStopped() { return _stopped != 0; }

inline void _sleep_until_ns(int64_t t) {
  while (true) { int64_t now = _mono_ns(); if (now >= t) return; std::this_thread::sleep_for(std::chrono::nanoseconds(t - now)); }
}
inline bool _real_sleep() { static const bool r = _env("MQLSHIM_REAL_SLEEP", 0) != 0; return r; }
// The first network call: from here on the program's Sleeps are waited out (see above).
inline void _reach_network() {
  if (_network_reached) return;
  _network_reached = true;
  printf("KIT: network reached, %lld ms slept without waiting\n", (long long)(_slept_ns / 1000000)); fflush(stdout);
}
// Sleep ends on a clock tick, and "checks the stop flag every 0.1 s" (its reference page).
inline void Sleep(int ms) {
  int64_t end = _tick_ceil(_mono_ns() + (int64_t)ms * 1000000);
  if (!_network_reached && !_real_sleep()) {   // nothing outside can tell: no wait (see above)
    int64_t now = _mono_ns();
    if (!IsStopped() && end > now) _slept_ns += end - now;
    return;
  }
  while (!IsStopped()) { int64_t now = _mono_ns(); if (now >= end) return; _sleep_until_ns(std::min(end, now + 100000000)); }
}
// When a wait of `ms` started now ends if nothing wakes it.
inline int64_t _wait_deadline_ns(uint ms, bool fine) {
  int64_t t = _mono_ns() + (int64_t)ms * 1000000;
  return fine ? t : _tick_ceil(t);
}
inline bool _fine_timeouts() { static const bool f = _env("MQLSHIM_FINE_TIMEOUTS", 0) != 0; return f; }
// poll() until `deadline` (ns on the monotonic clock); the return of poll.
inline int _poll_until(pollfd* fds, nfds_t n, int64_t deadline) {
  while (true) {
    int64_t left = deadline - _mono_ns(); if (left < 0) left = 0;
    timespec ts{(time_t)(left / 1000000000), (long)(left % 1000000000)};
    int r = ppoll(fds, n, &ts, nullptr);
    if (r < 0 && errno == EINTR) { if (IsStopped()) return 0; continue; }
    return r;
  }
}

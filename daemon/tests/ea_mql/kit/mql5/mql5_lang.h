// mql5_lang.h: what MQL5 means differently from MQL4, and MQL5's program-level constants.
// Values are MQL5's own: a wire integer the EA converts with a cast must land on the same
// constant here as in the terminal (ENUM_TIMEFRAMES, ENUM_COPY_TICKS, ...).
#pragma once

// "__MQL5__ macro is defined when compiling *.mq5 file" (mql5.com/en/docs/basis/preprosessor/
// conditional_compilation): an #ifdef of the sources reads it here as there.
#define __MQL5__

// StringSubstr: MQL5 documents length -1 as "to the end of the string"; MQL4 reads every
// length <= 0 that way. Code shared by both must never pass 0 (or another negative), so the kit
// stops the EA when it does, as an array overrun would.
inline string StringSubstr(const string& s, int start, int len = -1) {
  if (len == 0 || len < -1) _fatal("StringSubstr with length <= 0 other than -1 (MQL4 reads it as 'to the end'): guard the call");
  if (start < 0 || start >= (int)s._u.size()) return string();
  return string(s._u.substr((size_t)start, len < 0 ? std::u16string::npos : (size_t)len));
}

enum ENUM_INIT_RETCODE { INIT_SUCCEEDED = 0, INIT_FAILED = 1, INIT_PARAMETERS_INCORRECT = 2, INIT_AGENT_NOT_SUITABLE = 3 };
// OnDeinit's reason (mql5.com/en/docs/constants/namedconstants/uninit)
#define REASON_PROGRAM 0
#define REASON_REMOVE 1
#define REASON_RECOMPILE 2
#define REASON_CHARTCHANGE 3
#define REASON_CHARTCLOSE 4
#define REASON_PARAMETERS 5
#define REASON_ACCOUNT 6
#define REASON_TEMPLATE 7
#define REASON_INITFAILED 8
#define REASON_CLOSE 9

enum ENUM_TIMEFRAMES { PERIOD_CURRENT = 0, PERIOD_M1 = 1, PERIOD_M2 = 2, PERIOD_M3 = 3, PERIOD_M4 = 4, PERIOD_M5 = 5,
  PERIOD_M6 = 6, PERIOD_M10 = 10, PERIOD_M12 = 12, PERIOD_M15 = 15, PERIOD_M20 = 20, PERIOD_M30 = 30,
  PERIOD_H1 = 16385, PERIOD_H2 = 16386, PERIOD_H3 = 16387, PERIOD_H4 = 16388, PERIOD_H6 = 16390, PERIOD_H8 = 16392,
  PERIOD_H12 = 16396, PERIOD_D1 = 16408, PERIOD_W1 = 32769, PERIOD_MN1 = 49153 };
inline int PeriodSeconds(ENUM_TIMEFRAMES tf = PERIOD_CURRENT);
// EnumToString(ENUM_TIMEFRAMES): its values lie past what the kit reads of g++'s names
// (mql_lang.h), so they are named here.
inline string _mql_enum_name(ENUM_TIMEFRAMES v) {
  static const std::pair<ENUM_TIMEFRAMES, const char*> names[] = {
    {PERIOD_CURRENT, "PERIOD_CURRENT"}, {PERIOD_M1, "PERIOD_M1"}, {PERIOD_M2, "PERIOD_M2"}, {PERIOD_M3, "PERIOD_M3"},
    {PERIOD_M4, "PERIOD_M4"}, {PERIOD_M5, "PERIOD_M5"}, {PERIOD_M6, "PERIOD_M6"}, {PERIOD_M10, "PERIOD_M10"},
    {PERIOD_M12, "PERIOD_M12"}, {PERIOD_M15, "PERIOD_M15"}, {PERIOD_M20, "PERIOD_M20"}, {PERIOD_M30, "PERIOD_M30"},
    {PERIOD_H1, "PERIOD_H1"}, {PERIOD_H2, "PERIOD_H2"}, {PERIOD_H3, "PERIOD_H3"}, {PERIOD_H4, "PERIOD_H4"},
    {PERIOD_H6, "PERIOD_H6"}, {PERIOD_H8, "PERIOD_H8"}, {PERIOD_H12, "PERIOD_H12"}, {PERIOD_D1, "PERIOD_D1"},
    {PERIOD_W1, "PERIOD_W1"}, {PERIOD_MN1, "PERIOD_MN1"}};
  for (const auto& n : names) if (n.first == v) return _S(n.second);
  return _mql_enum_unknown("ENUM_TIMEFRAMES", (long)(int)v);
}

enum ENUM_PROGRAM_TYPE { PROGRAM_SCRIPT, PROGRAM_EXPERT, PROGRAM_INDICATOR, PROGRAM_SERVICE };
// (by name only: the EA never sends these values anywhere)
enum ENUM_MQL_INFO_INTEGER { MQL_PROGRAM_TYPE, MQL_DLLS_ALLOWED, MQL_TRADE_ALLOWED, MQL_SIGNALS_ALLOWED, MQL_DEBUG,
  MQL_PROFILER, MQL_TESTER, MQL_FORWARD, MQL_OPTIMIZATION, MQL_VISUAL_MODE, MQL_FRAME_MODE, MQL_LICENSE_TYPE };
enum ENUM_MQL_INFO_STRING { MQL_PROGRAM_NAME = 0, MQL_PROGRAM_PATH = 1 };

// Predefined variables of the running program (the runtime swaps them per program): read-only
// to it (the terminal sets them; the kit writes _symbol_now and _period_now).
inline string _symbol_now = "EURUSD"_s;
inline ENUM_TIMEFRAMES _period_now = PERIOD_H1;
inline const string& _Symbol = _symbol_now;
inline const ENUM_TIMEFRAMES& _Period = _period_now;
inline string Symbol() { return _symbol_now; }
inline ENUM_TIMEFRAMES Period() { return _period_now; }

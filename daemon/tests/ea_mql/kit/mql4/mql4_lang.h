// mql4_lang.h: what MQL4 (build 600+, `#property strict`) means differently from MQL5, and
// MQL4's program-level constants (docs.mql4.com). Values are MQL4's own: a period here is
// minutes (PERIOD_H1 = 60, not MQL5's 16385), so an EA that passes the wire's MT5 timeframe on
// without translating gets the wrong bars, as it would in MetaTrader 4.
#pragma once

// "__MQL4__ macro is defined when compiling *.mq4 file" (mql5.com/en/docs/basis/preprosessor/
// conditional_compilation): an #ifdef of the sources reads it here as there.
#define __MQL4__

// StringSubstr: "length=-1 ... If the parameter value is equal or less than 0, the string is
// extracted till the string end" (docs.mql4.com/strings/stringsubstr). Code shared with MQL5,
// where only -1 means that, must never pass 0: the MQL5 kit stops on it; this kit does what
// MetaTrader 4 does.
inline string StringSubstr(const string& s, int start, int len = -1) {
  if (start < 0 || start >= (int)s._u.size()) return string();
  return string(s._u.substr((size_t)start, len <= 0 ? std::u16string::npos : (size_t)len));
}

// StringTrimLeft/Right: "string StringTrimLeft(const string text)" returns "A copy of the cut
// string" (docs.mql4.com/strings/stringtrimleft): the argument is not changed, so MQL5's
// in-place call, StringTrimLeft(s), trims nothing in MetaTrader 4. The result must be used.
[[nodiscard]] inline string StringTrimLeft(const string& s) {
  size_t n = 0; while (n < s._u.size() && _is_space16(s._u[n])) ++n; return string(s._u.substr(n));
}
[[nodiscard]] inline string StringTrimRight(const string& s) {
  size_t n = s._u.size(); while (n > 0 && _is_space16(s._u[n - 1])) --n; return string(s._u.substr(0, n));
}

// MQL4's older names of conversions and string functions, each its page's (docs.mql4.com/
// convert, docs.mql4.com/strings): the same as the newer functions but where the page says
// otherwise (StringSetChar returns a changed copy).
inline string CharToStr(uchar char_code) { return CharToString(char_code); }
inline string DoubleToStr(double value, int digits) { return DoubleToString(value, digits); }
inline double StrToDouble(const string& value) { return StringToDouble(value); }
inline int StrToInteger(const string& value) { return (int)StringToInteger(value); }
inline datetime StrToTime(const string& value) { return StringToTime(value); }
inline string TimeToStr(datetime value, int mode = TIME_DATE | TIME_MINUTES) { return TimeToString(value, mode); }
inline ushort StringGetChar(const string& string_value, int pos) { return StringGetCharacter(string_value, pos); }
inline string StringSetChar(const string& string_var, int pos, ushort value) {
  string out = string_var; StringSetCharacter(out, pos, value); return out;
}
// TimeDay ... TimeYear: one field of a time (docs.mql4.com/dateandtime).
inline MqlDateTime _time_fields(datetime date) { MqlDateTime s; _time_to_struct(date, s); return s; }
inline int TimeDay(datetime date) { return _time_fields(date).day; }
inline int TimeDayOfWeek(datetime date) { return _time_fields(date).day_of_week; }
inline int TimeDayOfYear(datetime date) { return _time_fields(date).day_of_year; }
inline int TimeHour(datetime date) { return _time_fields(date).hour; }
inline int TimeMinute(datetime date) { return _time_fields(date).min; }
inline int TimeMonth(datetime date) { return _time_fields(date).mon; }
inline int TimeSeconds(datetime date) { return _time_fields(date).sec; }
inline int TimeYear(datetime date) { return _time_fields(date).year; }

// OnInit's answer (docs.mql4.com/basis/function/events: the same ENUM_INIT_RETCODE as MQL5)
enum ENUM_INIT_RETCODE { INIT_SUCCEEDED = 0, INIT_FAILED = 1, INIT_PARAMETERS_INCORRECT = 2, INIT_AGENT_NOT_SUITABLE = 3 };
// OnDeinit's reason (docs.mql4.com/constants/namedconstants/uninit)
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

// ENUM_TIMEFRAMES (docs.mql4.com/constants/chartconstants/enum_timeframes): minutes.
enum ENUM_TIMEFRAMES { PERIOD_CURRENT = 0, PERIOD_M1 = 1, PERIOD_M5 = 5, PERIOD_M15 = 15, PERIOD_M30 = 30,
  PERIOD_H1 = 60, PERIOD_H4 = 240, PERIOD_D1 = 1440, PERIOD_W1 = 10080, PERIOD_MN1 = 43200 };
inline int PeriodSeconds(ENUM_TIMEFRAMES tf = PERIOD_CURRENT);
// EnumToString(ENUM_TIMEFRAMES): its values lie past what the kit reads of g++'s names
// (mql_lang.h), so they are named here.
inline string _mql_enum_name(ENUM_TIMEFRAMES v) {
  static const std::pair<ENUM_TIMEFRAMES, const char*> names[] = {
    {PERIOD_CURRENT, "PERIOD_CURRENT"}, {PERIOD_M1, "PERIOD_M1"}, {PERIOD_M5, "PERIOD_M5"}, {PERIOD_M15, "PERIOD_M15"},
    {PERIOD_M30, "PERIOD_M30"}, {PERIOD_H1, "PERIOD_H1"}, {PERIOD_H4, "PERIOD_H4"}, {PERIOD_D1, "PERIOD_D1"},
    {PERIOD_W1, "PERIOD_W1"}, {PERIOD_MN1, "PERIOD_MN1"}};
  for (const auto& n : names) if (n.first == v) return _S(n.second);
  return _mql_enum_unknown("ENUM_TIMEFRAMES", (long)(int)v);
}

// MQLInfoInteger (docs.mql4.com/constants/environment_state/mql4_programm_info)
enum ENUM_MQL_INFO_INTEGER { MQL_PROGRAM_TYPE, MQL_DLLS_ALLOWED, MQL_TRADE_ALLOWED, MQL_SIGNALS_ALLOWED, MQL_DEBUG,
  MQL_PROFILER, MQL_TESTER, MQL_OPTIMIZATION, MQL_VISUAL_MODE, MQL_FRAME_MODE, MQL_LICENSE_TYPE };
enum ENUM_MQL_INFO_STRING { MQL_PROGRAM_NAME = 0, MQL_PROGRAM_PATH = 1 };
enum ENUM_PROGRAM_TYPE { PROGRAM_SCRIPT, PROGRAM_EXPERT, PROGRAM_INDICATOR };

// Web colours: the EA passes clrNONE as every trade function's arrow colour.
#define clrNONE ((color)0xFFFFFFFF)
#define CLR_NONE clrNONE

// Trade operations and selection (docs.mql4.com/constants/tradingconstants/orderproperties)
#define OP_BUY 0
#define OP_SELL 1
#define OP_BUYLIMIT 2
#define OP_SELLLIMIT 3
#define OP_BUYSTOP 4
#define OP_SELLSTOP 5
#define SELECT_BY_POS 0
#define SELECT_BY_TICKET 1
#define MODE_TRADES 0
#define MODE_HISTORY 1

// MarketInfo identifiers (docs.mql4.com/constants/environment_state/marketinfoconstants)
#define MODE_LOW 1
#define MODE_HIGH 2
#define MODE_TIME 5
#define MODE_BID 9
#define MODE_ASK 10
#define MODE_POINT 11
#define MODE_DIGITS 12
#define MODE_SPREAD 13
#define MODE_STOPLEVEL 14
#define MODE_LOTSIZE 15
#define MODE_TICKVALUE 16
#define MODE_TICKSIZE 17
#define MODE_SWAPLONG 18
#define MODE_SWAPSHORT 19
#define MODE_STARTING 20
#define MODE_EXPIRATION 21
#define MODE_TRADEALLOWED 22
#define MODE_MINLOT 23
#define MODE_LOTSTEP 24
#define MODE_MAXLOT 25
#define MODE_SWAPTYPE 26
#define MODE_PROFITCALCMODE 27
#define MODE_MARGINCALCMODE 28
#define MODE_MARGININIT 29
#define MODE_MARGINMAINTENANCE 30
#define MODE_MARGINHEDGED 31
#define MODE_MARGINREQUIRED 32
#define MODE_FREEZELEVEL 33
#define MODE_CLOSEBY_ALLOWED 34

// Runtime and trade server errors (docs.mql4.com/constants/errorswarnings/errorcodes)
#define ERR_NO_RESULT 1
#define ERR_COMMON_ERROR 2
#define ERR_INVALID_TRADE_PARAMETERS 3
#define ERR_NO_CONNECTION 6
#define ERR_TRADE_TIMEOUT 128
#define ERR_INVALID_PRICE 129
#define ERR_INVALID_STOPS 130
#define ERR_INVALID_TRADE_VOLUME 131
#define ERR_MARKET_CLOSED 132
#define ERR_NOT_ENOUGH_MONEY 134
#define ERR_REQUOTE 138
#define ERR_DLL_CALLS_NOT_ALLOWED 4017
#define ERR_HISTORY_WILL_UPDATED 4066
#define ERR_UNKNOWN_SYMBOL 4106
#define ERR_INVALID_TICKET 4108
#define ERR_TRADE_NOT_ALLOWED 4109
#define ERR_NO_ORDER_SELECTED 4105

// Predefined variables of the running program: read-only to it (the terminal sets them; the
// kit writes _symbol_now and _period_now).
inline string _symbol_now = "EURUSD"_s;
inline ENUM_TIMEFRAMES _period_now = PERIOD_H1;
inline const string& _Symbol = _symbol_now;
inline const ENUM_TIMEFRAMES& _Period = _period_now;
inline string Symbol() { return _symbol_now; }
inline ENUM_TIMEFRAMES Period() { return _period_now; }

// mql_lang.h: the MQL language as MQL4 (build 600+) and MQL5 share it, in C++17, so an EA's own
// sources (after mqlpp.py) compile with g++ and run against the real daemon. Only what means the
// same in both languages is here; what differs lives in the language's own header
// (mql5/mql5_lang.h; an MQL4 model adds mql4/mql4_lang.h beside it).
//
// Fidelity choices, each one a way an EA could be wrong in MetaTrader:
// - string is UTF-16 like MQL, and number + string does not compile (MetaEditor warns; we refuse);
// - datetime is its own type: an int converts silently, a long only through a cast (MetaEditor
//   warns "possible loss of data due to type conversion from 'long' to 'datetime'");
// - arrays are bounds-checked and abort with "array out of range" (MQL stops the program);
// - StringToCharArray with count -1 copies the terminating 0, as MQL does;
// - UTF-16 -> UTF-8 writes U+FFFD for a lone surrogate (Windows' WideCharToMultiByte does);
// - StringToUpper is Unicode-aware (Cyrillic, Greek, Latin-1), not ASCII only;
// - only the SHA-256 of CryptEncode exists (no HMAC), as in MQL.
// The kit headers are included as system headers (-isystem): the EA is held to -Wconversion,
// -Wsign-conversion, -Wshadow and -Wsign-compare (MetaEditor's warnings: mqlwarn.py), the
// kit's own internals are not.
#pragma once
#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <chrono>
#include <clocale>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <cwctype>
#include <functional>
#include <initializer_list>
#include <map>
#include <openssl/sha.h>
#include <string>
#include <type_traits>
#include <vector>

// ---- types and keywords ---------------------------------------------------------------------
typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
static_assert(sizeof(ulong) == 8 && sizeof(long) == 8, "MQL long/ulong are 64-bit");
typedef unsigned int color;
#define WHOLE_ARRAY (-1)
#define INVALID_HANDLE (-1)
#define EMPTY_VALUE DBL_MAX
#define CP_ACP 0
#define CP_UTF8 65001
#define CHARTEVENT_CUSTOM 1000
#define CHARTEVENT_CUSTOM_LAST 66534
// The runtime errors the shared functions set, by each language's own table: the names and
// numbers differ (mql5.com/en/docs/constants/errorswarnings/errorcodes; docs.mql4.com/constants/
// errorswarnings/errorcodes, where a missing global variable is ERR_GLOBAL_VARIABLE_NOT_FOUND
// 4058 and an internal error 4024). MQL4's reference contradicts itself once: its
// GlobalVariableSetOnCondition page names MQL5's ERR_GLOBALVARIABLE_NOT_FOUND (4501); the kit
// follows the error table, and docs/terminal.md says so. The kit's shared code sets the _ERR_
// names.
#ifndef MQL_LANG_MQL4
#define ERR_SUCCESS 0
#define ERR_INTERNAL_ERROR 4001
#define ERR_WRONG_INTERNAL_PARAMETER 4002
#define ERR_INVALID_PARAMETER 4003
#define ERR_NOT_ENOUGH_MEMORY 4004
#define ERR_FUNCTION_NOT_ALLOWED 4014
#define ERR_GLOBALVARIABLE_NOT_FOUND 4501
#define _ERR_INTERNAL ERR_INTERNAL_ERROR
#define _ERR_PARAMETER ERR_INVALID_PARAMETER
#define _ERR_GLOBAL_NOT_FOUND ERR_GLOBALVARIABLE_NOT_FOUND
#else
#define ERR_NO_ERROR 0
#define ERR_INTERNAL_ERROR 4024
#define ERR_INVALID_FUNCTION_PARAMVALUE 4051
#define ERR_GLOBAL_VARIABLE_NOT_FOUND 4058
#define _ERR_INTERNAL ERR_INTERNAL_ERROR
#define _ERR_PARAMETER ERR_INVALID_FUNCTION_PARAMVALUE
#define _ERR_GLOBAL_NOT_FOUND ERR_GLOBAL_VARIABLE_NOT_FOUND
#endif
enum ENUM_CRYPT_METHOD { CRYPT_BASE64, CRYPT_AES128, CRYPT_AES256, CRYPT_DES, CRYPT_HASH_SHA1,
                         CRYPT_HASH_SHA256, CRYPT_HASH_MD5, CRYPT_ARCH_ZIP };

// _LastError is per program: the runtime swaps it when it runs another program (an indicator).
// The program reads it; only the terminal's functions write it ("the value of the last error
// ... can be reset by ResetLastError", mql5.com/en/docs/predefined/_lasterror): to MQL code it
// is a read-only name, as every predefined variable is, and the kit's own writes go to
// _last_error. Everything of the kit an MQL program could otherwise reach is named with a
// leading '_' (members included), a name the language gate refuses in MQL code.
inline int _last_error = 0;
inline const int& _LastError = _last_error;
inline int GetLastError() { return _last_error; }
inline void ResetLastError() { _last_error = 0; }
inline void SetUserError(ushort e) { _last_error = 65536 + e; }
[[noreturn]] inline void _fatal(const char* what) { fprintf(stderr, "critical error: %s\n", what); fflush(stderr); abort(); }

// ---- datetime: seconds since 1970, its own type ---------------------------------------------
class datetime {
 public:
  long _v = 0;
  constexpr datetime() {}
  constexpr datetime(int s) : _v(s) {}                   // literal constants: silent in MQL
  explicit constexpr datetime(long s) : _v(s) {}         // long -> datetime needs a cast
  explicit constexpr datetime(ulong s) : _v((long)s) {}
  explicit constexpr datetime(double s) : _v((long)s) {}
  constexpr operator long() const { return _v; }         // datetime -> long is silent in MQL
  constexpr datetime operator+(int s) const { return datetime((long)(_v + s)); }
  constexpr datetime operator-(int s) const { return datetime((long)(_v - s)); }
  datetime& operator+=(int s) { _v += s; return *this; }
  datetime& operator-=(int s) { _v -= s; return *this; }
};

// ---- string: UTF-16 like MQL ----------------------------------------------------------------
inline std::u16string _utf8_to_u16(const std::string& s) {
  std::u16string out; size_t i = 0;
  while (i < s.size()) {
    uint32_t c = (uchar)s[i], n = 0;
    if (c < 0x80) n = 0; else if ((c >> 5) == 6) { c &= 0x1F; n = 1; }
    else if ((c >> 4) == 14) { c &= 0x0F; n = 2; } else { c &= 0x07; n = 3; }
    for (uint32_t k = 0; k < n && i + 1 + k < s.size(); ++k) c = (c << 6) | ((uchar)s[i + 1 + k] & 0x3F);
    i += 1 + n;
    if (c >= 0x10000) { c -= 0x10000; out += (char16_t)(0xD800 + (c >> 10)); out += (char16_t)(0xDC00 + (c & 0x3FF)); }
    else out += (char16_t)c;
  }
  return out;
}
inline void _put_utf8(std::string& out, uint32_t c) {
  if (c < 0x80) out += (char)c;
  else if (c < 0x800) { out += (char)(0xC0 | (c >> 6)); out += (char)(0x80 | (c & 0x3F)); }
  else if (c < 0x10000) { out += (char)(0xE0 | (c >> 12)); out += (char)(0x80 | ((c >> 6) & 0x3F)); out += (char)(0x80 | (c & 0x3F)); }
  else { out += (char)(0xF0 | (c >> 18)); out += (char)(0x80 | ((c >> 12) & 0x3F)); out += (char)(0x80 | ((c >> 6) & 0x3F)); out += (char)(0x80 | (c & 0x3F)); }
}
// A lone surrogate (a high one not followed by a low one, or a stray low one) becomes U+FFFD,
// as Windows' UTF-16 -> UTF-8 conversion writes it.
inline std::string _u16_to_utf8(const std::u16string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    uint32_t c = s[i];
    if (c >= 0xD800 && c < 0xDC00) {
      if (i + 1 < s.size() && s[i + 1] >= 0xDC00 && s[i + 1] < 0xE000) { c = 0x10000 + ((c - 0xD800) << 10) + (s[++i] - 0xDC00u); }
      else c = 0xFFFD;
    } else if (c >= 0xDC00 && c < 0xE000) c = 0xFFFD;
    _put_utf8(out, c);
  }
  return out;
}

// Strings compare by their characters' codes, all six relations ("<, >, <=, >=, ==, !=":
// mql5.com/en/docs/basis/operations/relation, strings included).
class mqlstring {
 public:
  std::u16string _u;
  mqlstring() {}
  mqlstring(const mqlstring&) = default;
  mqlstring& operator=(const mqlstring&) = default;
  explicit mqlstring(const std::u16string& s) : _u(s) {}
  std::string _utf8() const { return _u16_to_utf8(_u); }
  mqlstring operator+(const mqlstring& o) const { return mqlstring(_u + o._u); }
  mqlstring& operator+=(const mqlstring& o) { _u += o._u; return *this; }
  bool operator==(const mqlstring& o) const { return _u == o._u; }
  bool operator!=(const mqlstring& o) const { return _u != o._u; }
  bool operator<(const mqlstring& o) const { return _u < o._u; }
  bool operator>(const mqlstring& o) const { return _u > o._u; }
  bool operator<=(const mqlstring& o) const { return _u <= o._u; }
  bool operator>=(const mqlstring& o) const { return _u >= o._u; }
  template <class N, class = std::enable_if_t<std::is_arithmetic_v<N>>> mqlstring operator+(N) const = delete;
  template <class N, class = std::enable_if_t<std::is_arithmetic_v<N>>> mqlstring& operator+=(N) = delete;
};
typedef mqlstring string;
inline string operator""_s(const char* p, size_t n) { return string(_utf8_to_u16(std::string(p, n))); }
inline string _S(const std::string& s) { return string(_utf8_to_u16(s)); }

// ---- arrays ---------------------------------------------------------------------------------
// mqlpp.py writes `T a[N]` as `MqlArray<T> a{_MqlFixed, N}`, `T a[] = {x, y}` as
// `MqlArray<T> a = _mql_list<T>{x, y}` and `T a[N] = {x}` as `MqlArray<T> a = _mql_list<T, N>{x}`
// (the rest zero, as MQL leaves them): only its rewrite of a declaration reaches these
// constructors. MQL has no array value a `{...}` could stand for elsewhere: `Sum({1, 2})` and
// `a = {3, 4}` compile no more here than there.
struct _MqlFixedTag {};
inline constexpr _MqlFixedTag _MqlFixed{};
template <class T, int N = -1> struct _mql_list {
  std::initializer_list<T> _items;
  _mql_list(std::initializer_list<T> items) : _items(items) {}
};
template <class T> class MqlArray {
 public:
  std::vector<T> _v; bool _fixed = false;
  MqlArray() {}
  MqlArray(_MqlFixedTag, int n) : _v((size_t)n), _fixed(true) {}
  template <int N> MqlArray(_mql_list<T, N> il) : _v(il._items), _fixed(N >= 0) {
    if (N >= 0 && il._items.size() > (size_t)N) _fatal("more initializers than the array's size");
    if (N >= 0) _v.resize((size_t)N);
  }
  T& operator[](int i) { _chk(i); return _v[(size_t)i]; }
  const T& operator[](int i) const { _chk(i); return _v[(size_t)i]; }
  void _chk(int i) const {
    if (i < 0 || i >= (int)_v.size()) { fprintf(stderr, "critical error: array out of range (%d of %zu)\n", i, _v.size()); fflush(stderr); abort(); }
  }
};
template <class T> int ArraySize(const MqlArray<T>& a) { return (int)a._v.size(); }
template <class T> int ArrayResize(MqlArray<T>& a, int n, int reserve = 0) {
  if (a._fixed || n < 0) return -1;
  if (reserve > 0 && a._v.capacity() < (size_t)(n + reserve)) a._v.reserve((size_t)(n + reserve));
  a._v.resize((size_t)n); return n;
}
template <class T> void ArrayFree(MqlArray<T>& a) { if (!a._fixed) a._v.clear(); }
template <class T> int ArrayCopy(MqlArray<T>& dst, const MqlArray<T>& src, int dst_start = 0, int src_start = 0, int count = WHOLE_ARRAY) {
  if (&dst == &src) _fatal("ArrayCopy of an array onto itself is not modelled");
  if (src_start < 0 || src_start > (int)src._v.size() || dst_start < 0) return 0;
  int avail = (int)src._v.size() - src_start;
  if (count < 0 || count > avail) count = avail;
  if ((int)dst._v.size() < dst_start + count) { if (dst._fixed) count = (int)dst._v.size() - dst_start; else dst._v.resize((size_t)(dst_start + count)); }
  for (int i = 0; i < count; ++i) dst._v[(size_t)(dst_start + i)] = src._v[(size_t)(src_start + i)];
  return count;
}
// ArrayInitialize has one overload per element type the reference lists, in MQL4 and MQL5
// alike: "int ArrayInitialize(char array[], char value)" and the same for short, int, long,
// float, double, bool and uint (docs.mql4.com/array/arrayinitialize, mql5.com/en/docs/array/
// arrayinitialize); no uchar, ushort, ulong, string or structure form. An array of another
// type does not compile here (ArrayFill lists uchar among its types: use that). The overloads
// are spelled out, as the page does, so the reference check reads each one.
template <class T> int _array_initialize(MqlArray<T>& a, T x) { std::fill(a._v.begin(), a._v.end(), x); return (int)a._v.size(); }
inline int ArrayInitialize(MqlArray<char>& array, char value) { return _array_initialize(array, value); }
inline int ArrayInitialize(MqlArray<short>& array, short value) { return _array_initialize(array, value); }
inline int ArrayInitialize(MqlArray<int>& array, int value) { return _array_initialize(array, value); }
inline int ArrayInitialize(MqlArray<long>& array, long value) { return _array_initialize(array, value); }
inline int ArrayInitialize(MqlArray<float>& array, float value) { return _array_initialize(array, value); }
inline int ArrayInitialize(MqlArray<double>& array, double value) { return _array_initialize(array, value); }
inline int ArrayInitialize(MqlArray<bool>& array, bool value) { return _array_initialize(array, value); }
inline int ArrayInitialize(MqlArray<uint>& array, uint value) { return _array_initialize(array, value); }
template <class T, class V> void ArrayFill(MqlArray<T>& a, int start, int count, V x) {
  if (start < 0 || count < 0) _fatal("ArrayFill: negative start or count");
  if ((size_t)(start + count) > a._v.size()) { if (a._fixed) _fatal("ArrayFill past a fixed array"); a._v.resize((size_t)(start + count)); }
  for (int i = 0; i < count; ++i) a._v[(size_t)(start + i)] = (T)x;
}
// ZeroMemory "resets a variable passed to it by reference ... For simple types and their arrays,
// as well as for structures/classes consisting of such types, this is a simple reset. For
// objects containing strings and dynamic arrays, ZeroMemory() is called for each element"
// (mql5.com/en/docs/common/zeromemory); and compile error 226: "ZeroMemory() is not allowed for
// objects with protected members or inheritance". Here a structure is reset by value-initializing
// it, which zeroes exactly a C++ aggregate: no non-public member, no virtual method, no
// constructor of its own (whose values would not be zeros, so the kit refuses that too). C++17
// admits a public base in an aggregate; a base with members of its own breaks the standard
// layout, and the language gate refuses the call on an object of a derived class whatever its
// base holds (its rule zero-memory).
template <class T> struct _mql_array_of { using type = void; };
template <class T> struct _mql_array_of<MqlArray<T>> { using type = T; };
template <class T> constexpr bool _zeroable() {
  return std::is_scalar_v<T> || std::is_same_v<T, string> || std::is_same_v<T, datetime> ||
         (std::is_aggregate_v<T> && std::is_standard_layout_v<T>);
}
template <class T> void ZeroMemory(T& x) {
  using E = typename _mql_array_of<T>::type;   // an array: each element ("For any arrays ...")
  if constexpr (!std::is_void_v<E>) {
    static_assert(_zeroable<E>(), "ZeroMemory of objects with non-public members, virtual methods, a constructor or a base class (MQL compile error 226)");
    std::fill(x._v.begin(), x._v.end(), E{});
  } else {
    static_assert(_zeroable<T>(), "ZeroMemory of an object with non-public members, virtual methods, a constructor or a base class (MQL compile error 226)");
    x = T{};
  }
}

// ---- strings and conversions ----------------------------------------------------------------
inline int StringLen(const string& s) { return (int)s._u.size(); }
inline int StringFind(const string& s, const string& sub, int start = 0) {
  size_t p = s._u.find(sub._u, (size_t)(start < 0 ? 0 : start)); return p == std::u16string::npos ? -1 : (int)p;
}
inline ushort StringGetCharacter(const string& s, int pos) { return pos >= 0 && pos < (int)s._u.size() ? s._u[(size_t)pos] : 0; }
inline string ShortToString(ushort c) { return string(std::u16string(1, (char16_t)c)); }
inline string IntegerToString(long v, int len = 0, ushort fill = ' ') {
  std::u16string d = _utf8_to_u16(std::to_string(v));
  while ((int)d.size() < len) d.insert(d.begin(), (char16_t)fill);
  return string(d);
}
inline string DoubleToString(double v, int digits = 8) {
  char b[512]; snprintf(b, sizeof b, "%.*f", digits < 0 ? 8 : std::min(digits, 16), v); return _S(b);
}
inline long StringToInteger(const string& s) { return strtol(s._utf8().c_str(), nullptr, 10); }
inline double StringToDouble(const string& s) { return strtod(s._utf8().c_str(), nullptr); }
inline bool _is_space16(char16_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
// StringTrimLeft/Right trim in place in MQL5; MQL4 returns a trimmed copy and leaves its
// argument alone (mql4/mql4_lang.h), so the MQL4 kit (-DMQL_LANG_MQL4) leaves these out.
#ifndef MQL_LANG_MQL4
inline int StringTrimLeft(string& s) { size_t n = 0; while (n < s._u.size() && _is_space16(s._u[n])) ++n; s._u.erase(0, n); return (int)n; }
inline int StringTrimRight(string& s) { int n = 0; while (!s._u.empty() && _is_space16(s._u.back())) { s._u.pop_back(); ++n; } return n; }
#endif
inline bool _locale_set = (setlocale(LC_CTYPE, "C.UTF-8") != nullptr) || true;
inline bool StringToUpper(string& s) {
  for (auto& c : s._u) if (c < 0xD800 || c >= 0xE000) c = (char16_t)std::towupper((wint_t)c);
  return true;
}
inline bool StringToLower(string& s) {
  for (auto& c : s._u) if (c < 0xD800 || c >= 0xE000) c = (char16_t)std::towlower((wint_t)c);
  return true;
}
inline int StringSplit(const string& s, ushort sep, MqlArray<string>& out) {
  out._v.clear(); if (s._u.empty()) return 0;
  size_t start = 0;
  for (size_t i = 0; i <= s._u.size(); ++i)
    if (i == s._u.size() || s._u[i] == sep) { out._v.push_back(string(s._u.substr(start, i - start))); start = i + 1; }
  return (int)out._v.size();
}
inline int StringToCharArray(const string& s, MqlArray<uchar>& a, int start = 0, int count = -1, uint cp = CP_ACP) {
  std::string b = cp == CP_UTF8 ? s._utf8() : std::string(s._u.begin(), s._u.end());
  if (count < 0) { b.push_back('\0'); count = (int)b.size(); }
  count = std::min(count, (int)b.size());
  if ((int)a._v.size() < start + count) a._v.resize((size_t)(start + count));
  for (int i = 0; i < count; ++i) a._v[(size_t)(start + i)] = (uchar)b[(size_t)i];
  return count;
}
inline string CharArrayToString(const MqlArray<uchar>& a, int start = 0, int count = -1, uint cp = CP_ACP) {
  if (start < 0 || start > (int)a._v.size()) _fatal("CharArrayToString start out of range");
  int n = (int)a._v.size() - start; if (count >= 0 && count < n) n = count;
  std::string b; for (int i = 0; i < n && a._v[(size_t)(start + i)] != 0; ++i) b.push_back((char)a._v[(size_t)(start + i)]);
  return cp == CP_UTF8 ? _S(b) : string(std::u16string(b.begin(), b.end()));
}
inline bool MathIsValidNumber(double x) { return std::isfinite(x); }
// NormalizeDouble: "Rounding floating point number to a specified accuracy", digits 0..8
// (docs.mql4.com/convert/normalizedouble, mql5.com/en/docs/convert/normalizedouble): the
// double nearest to the decimal, so a price is normalized exactly when it equals its own
// NormalizeDouble (what MT4's trade server checks: mql4/mql4_terminal.h).
inline double NormalizeDouble(double value, int digits) {
  if (digits < 0) digits = 0;
  if (digits > 8) digits = 8;
  double p = std::pow(10.0, digits);
  return std::round(value * p) / p;
}
inline double MathFloor(double x) { return std::floor(x); }
inline double MathCeil(double x) { return std::ceil(x); }
inline double MathAbs(double x) { return std::fabs(x); }
inline double MathRound(double x) { return std::round(x); }
inline double MathMax(double a, double b) { return a > b ? a : b; }
inline double MathMin(double a, double b) { return a < b ? a : b; }

inline std::string _format_time(long t) {
  time_t tt = (time_t)t; struct tm g; gmtime_r(&tt, &g); char b[32];
  snprintf(b, sizeof b, "%04d.%02d.%02d %02d:%02d:%02d", g.tm_year + 1900, g.tm_mon + 1, g.tm_mday, g.tm_hour, g.tm_min, g.tm_sec);
  return b;
}

// Print: every argument must be a string, bool, integer or datetime (doubles need
// DoubleToString: MQL's Print would format them with its own precision).
inline std::string _p(const string& s) { return s._utf8(); }
inline std::string _p(bool b) { return b ? "true" : "false"; }
inline std::string _p(const datetime& t) { return _format_time(t._v); }
template <class N, class = std::enable_if_t<std::is_integral_v<N>>> std::string _p(N n) { return std::to_string(n); }
inline FILE* _log_out() { return stdout; }
template <class... A> void Print(const A&... a) { std::string s; ((s += _p(a)), ...); fprintf(_log_out(), "%s\n", s.c_str()); fflush(_log_out()); }
// Comment writes on the chart; here it is a line the tests read.
inline std::string _chart_comment;
inline void Comment(const string& s) { _chart_comment = s._utf8(); fprintf(_log_out(), "CHART: %s\n", _chart_comment.c_str()); fflush(_log_out()); }

// ---- crypto: SHA-256 only --------------------------------------------------------------------
inline int CryptEncode(ENUM_CRYPT_METHOD m, const MqlArray<uchar>& data, const MqlArray<uchar>& key, MqlArray<uchar>& out) {
  (void)key;  // the key is ignored for hashes: passing one does not make an HMAC
  if (m != CRYPT_HASH_SHA256) { _last_error = _ERR_PARAMETER; return 0; }
  out._v.assign(32, 0); SHA256(data._v.data(), data._v.size(), out._v.data()); return 32;
}

// ---- environment helpers for the kit itself ---------------------------------------------------
inline int _env(const char* k, int d) { const char* v = getenv(k); return v ? atoi(v) : d; }
inline double _envf(const char* k, double d) { const char* v = getenv(k); return v ? atof(v) : d; }

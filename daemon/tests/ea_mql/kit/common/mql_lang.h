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
// The rest of the string functions (strings/), each as its page says.
inline int StringReplace(string& str, const string& find, const string& replacement) {
  if (find._u.empty()) return -1;   // "In case of error returns -1"
  int n = 0; size_t at = 0;
  while ((at = str._u.find(find._u, at)) != std::u16string::npos) { str._u.replace(at, find._u.size(), replacement._u); at += replacement._u.size(); ++n; }
  return n;
}
// "-1 (minus one), if string1<string2; 0 (zero), if string1=string2; 1 (one), if
// string1>string2", by the characters' codes; without case_sensitive, as their upper case.
inline int StringCompare(const string& string1, const string& string2, bool case_sensitive = true) {
  std::u16string a = string1._u, b = string2._u;
  if (!case_sensitive) {
    for (auto& c : a) c = (char16_t)std::towupper((wint_t)c);
    for (auto& c : b) c = (char16_t)std::towupper((wint_t)c);
  }
  return a < b ? -1 : a == b ? 0 : 1;
}
inline bool StringFill(string& str, ushort character) { std::fill(str._u.begin(), str._u.end(), (char16_t)character); return true; }
inline bool StringInit(string& str, int new_len = 0, ushort character = 0) {
  if (new_len < 0) return false;
  // a string of new_len characters; of character 0 an empty one with that room ("If new_len=0,
  // it deallocates the string buffer")
  str._u.assign((size_t)new_len, (char16_t)character);
  if (character == 0) { str._u.clear(); str._u.reserve((size_t)new_len); }
  return true;
}
// "If the value of pos is equal to the string length, the character is added at the end".
inline bool StringSetCharacter(string& string_var, int pos, ushort character) {
  if (pos < 0 || pos > (int)string_var._u.size()) return false;
  if (pos == (int)string_var._u.size()) string_var._u += (char16_t)character; else string_var._u[(size_t)pos] = (char16_t)character;
  return true;
}
inline bool StringAdd(string& string_var, const string& add_substring) { string_var._u += add_substring._u; return true; }
inline int StringBufferLen(const string& string_var) { return (int)string_var._u.capacity(); }
#ifndef MQL_LANG_MQL4
inline bool StringSetLength(string& string_var, uint new_length) { string_var._u.resize(new_length); return true; }
inline bool StringReserve(string& string_var, uint new_capacity) { string_var._u.reserve(new_capacity); return true; }
#endif
// CharToString: "Converting a symbol code into a one-character string" (a code of the Latin-1
// page).
inline string CharToString(uchar char_code) { return string(std::u16string(1, (char16_t)char_code)); }

// ---- date and time (dateandtime/, convert/timetostring, convert/stringtotime) ---------------
#define TIME_DATE 1
#define TIME_MINUTES 2
#define TIME_SECONDS 4
struct MqlDateTime { int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0, day_of_week = 0, day_of_year = 0; };
inline void _time_to_struct(datetime dt, MqlDateTime& s) {
  time_t tt = (time_t)dt._v; struct tm g; gmtime_r(&tt, &g);
  s.year = g.tm_year + 1900; s.mon = g.tm_mon + 1; s.day = g.tm_mday; s.hour = g.tm_hour; s.min = g.tm_min; s.sec = g.tm_sec;
  s.day_of_week = g.tm_wday; s.day_of_year = g.tm_yday;   // "day_of_year: (January 1st is assigned the number value of zero)"
}
#ifndef MQL_LANG_MQL4
inline bool TimeToStruct(datetime dt, MqlDateTime& dt_struct) { _time_to_struct(dt, dt_struct); return true; }
#endif
#ifdef MQL_LANG_MQL4
inline void TimeToStruct(datetime dt, MqlDateTime& dt_struct) { _time_to_struct(dt, dt_struct); }
#endif
inline datetime StructToTime(MqlDateTime& dt_struct) {
  struct tm g = {}; g.tm_year = dt_struct.year - 1900; g.tm_mon = dt_struct.mon - 1; g.tm_mday = dt_struct.day;
  g.tm_hour = dt_struct.hour; g.tm_min = dt_struct.min; g.tm_sec = dt_struct.sec;
  return datetime((long)timegm(&g));
}
// TimeToString: "yyyy.mm.dd hh:mi" by default; TIME_DATE "yyyy.mm.dd", TIME_MINUTES "hh:mi",
// TIME_SECONDS "hh:mi:ss", combined with '|'.
inline string TimeToString(datetime value, int mode = TIME_DATE | TIME_MINUTES) {
  MqlDateTime s; _time_to_struct(value, s); char b[64]; std::string out;
  if (mode & TIME_DATE) { snprintf(b, sizeof b, "%04d.%02d.%02d", s.year, s.mon, s.day); out += b; }
  if (mode & (TIME_MINUTES | TIME_SECONDS)) {
    if (!out.empty()) out += " ";
    if (mode & TIME_SECONDS) snprintf(b, sizeof b, "%02d:%02d:%02d", s.hour, s.min, s.sec); else snprintf(b, sizeof b, "%02d:%02d", s.hour, s.min);
    out += b;
  }
  return _S(out);
}
// StringToTime: "yyyy.mm.dd [hh:mi[:ss]]" (the date constants' form); the kit reads no other.
inline datetime StringToTime(const string& value) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  std::string v = value._utf8();
  int n = sscanf(v.c_str(), "%d.%d.%d %d:%d:%d", &y, &mo, &d, &h, &mi, &se);
  if (n < 3) { _last_error = _ERR_PARAMETER; return datetime(0); }
  MqlDateTime s; s.year = y; s.mon = mo; s.day = d; s.hour = h; s.min = mi; s.sec = se;
  return StructToTime(s);
}

// ---- more array functions (array/) ------------------------------------------------------------
template <class T> bool ArrayIsDynamic(const MqlArray<T>& array) { return !array._fixed; }
template <class T> int ArrayRange(const MqlArray<T>& array, int rank_index) { return rank_index == 0 ? (int)array._v.size() : 0; }
// ArrayMaximum/ArrayMinimum: the index of the largest/smallest element from start, count of them
// ("WHOLE_ARRAY" the rest); -1 when there is none.
template <class T> int _array_extreme(const MqlArray<T>& a, int start, int count, bool most) {
  int n = (int)a._v.size(); if (start < 0 || start >= n) return -1;
  int end = count < 0 || start + count > n ? n : start + count, best = start;
  for (int i = start + 1; i < end; ++i) if (most ? a._v[(size_t)best] < a._v[(size_t)i] : a._v[(size_t)i] < a._v[(size_t)best]) best = i;
  return best;
}
template <class T> int ArrayMaximum(const MqlArray<T>& array, int start = 0, int count = WHOLE_ARRAY) { return _array_extreme(array, start, count, true); }
template <class T> int ArrayMinimum(const MqlArray<T>& array, int start = 0, int count = WHOLE_ARRAY) { return _array_extreme(array, start, count, false); }
#ifndef MQL_LANG_MQL4
// ArraySort: "Sorts the values in the first dimension of a multidimensional numeric array in
// the ascending order".
template <class T> bool ArraySort(MqlArray<T>& array) {
  static_assert(std::is_arithmetic_v<T>, "ArraySort sorts numeric arrays");
  std::stable_sort(array._v.begin(), array._v.end()); return true;
}
template <class T> bool ArrayReverse(MqlArray<T>& array, uint start = 0, uint count = WHOLE_ARRAY) {
  size_t n = array._v.size(); if (start > n) return false;
  size_t end = count == (uint)WHOLE_ARRAY || start + count > n ? n : start + count;
  std::reverse(array._v.begin() + (long)start, array._v.begin() + (long)end); return true;
}
template <class T> bool ArrayRemove(MqlArray<T>& array, uint start, uint count = WHOLE_ARRAY) {
  if (array._fixed || start > array._v.size()) return false;
  size_t end = count == (uint)WHOLE_ARRAY || start + count > array._v.size() ? array._v.size() : start + count;
  array._v.erase(array._v.begin() + (long)start, array._v.begin() + (long)end); return true;
}
template <class T> bool ArrayInsert(MqlArray<T>& dst_array, const MqlArray<T>& src_array, uint dst_start, uint src_start = 0, uint count = WHOLE_ARRAY) {
  if (dst_array._fixed || dst_start > dst_array._v.size() || src_start > src_array._v.size() || &dst_array == &src_array) return false;
  size_t end = count == (uint)WHOLE_ARRAY || src_start + count > src_array._v.size() ? src_array._v.size() : src_start + count;
  dst_array._v.insert(dst_array._v.begin() + (long)dst_start, src_array._v.begin() + (long)src_start, src_array._v.begin() + (long)end); return true;
}
template <class T> bool ArraySwap(MqlArray<T>& array1, MqlArray<T>& array2) {
  if (array1._fixed || array2._fixed) return false;
  array1._v.swap(array2._v); return true;
}
#endif
#ifdef MQL_LANG_MQL4
#define MODE_ASCEND 1
#define MODE_DESCEND 2
// MQL4's ArraySort(array, count=WHOLE_ARRAY, start=0, direction=MODE_ASCEND).
template <class T> bool ArraySort(MqlArray<T>& array, int count = WHOLE_ARRAY, int start = 0, int direction = MODE_ASCEND) {
  static_assert(std::is_arithmetic_v<T>, "ArraySort sorts numeric arrays");
  int n = (int)array._v.size(); if (start < 0 || start > n) return false;
  int end = count < 0 || start + count > n ? n : start + count;
  std::stable_sort(array._v.begin() + start, array._v.begin() + end);
  if (direction == MODE_DESCEND) std::reverse(array._v.begin() + start, array._v.begin() + end);
  return true;
}
#endif
// ArrayCompare: "-1, if array1[] less than array2[]; 0, if array1[] and array2[] are equal; 1,
// if array1[] more than array2[]", element by element over count of each.
template <class T> int ArrayCompare(const MqlArray<T>& array1, const MqlArray<T>& array2, int start1 = 0, int start2 = 0, int count = WHOLE_ARRAY) {
  int n1 = (int)array1._v.size() - start1, n2 = (int)array2._v.size() - start2;
  if (count >= 0) { n1 = std::min(n1, count); n2 = std::min(n2, count); }
  for (int i = 0; i < std::min(n1, n2); ++i) {
    const T& a = array1._v[(size_t)(start1 + i)]; const T& b = array2._v[(size_t)(start2 + i)];
    if (a < b) return -1;
    if (b < a) return 1;
  }
  return n1 < n2 ? -1 : n1 > n2 ? 1 : 0;
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
// "Functions fmax(), fmin(), MathMax(), MathMin() can work with integer types without
// typecasting them to the type of double. If parameters of different types are passed into a
// function, the parameter of the smaller type is automatically cast to the larger type. The
// type of the return value corresponds to the larger type" (mql5.com/en/docs/math/mathmax): two
// integers give the larger integer type, as in MQL, not a double.
template <class A, class B, class = std::enable_if_t<std::is_integral_v<A> && std::is_integral_v<B>>>
std::common_type_t<A, B> MathMax(A a, B b) { return a > b ? (std::common_type_t<A, B>)a : (std::common_type_t<A, B>)b; }
template <class A, class B, class = std::enable_if_t<std::is_integral_v<A> && std::is_integral_v<B>>>
std::common_type_t<A, B> MathMin(A a, B b) { return a < b ? (std::common_type_t<A, B>)a : (std::common_type_t<A, B>)b; }

// ---- the rest of the math functions (mql5.com/en/docs/math, docs.mql4.com/math) -------------
// Each is the C library's function of the same meaning, under the page's prototype.
inline double MathSqrt(double value) { return std::sqrt(value); }
inline double MathPow(double base, double exponent) { return std::pow(base, exponent); }
inline double MathExp(double value) { return std::exp(value); }
inline double MathLog(double val) { return std::log(val); }
inline double MathLog10(double val) { return std::log10(val); }
inline double MathMod(double value, double value2) { return std::fmod(value, value2); }
inline double MathSin(double value) { return std::sin(value); }
inline double MathCos(double value) { return std::cos(value); }
inline double MathTan(double rad) { return std::tan(rad); }
inline double MathArcsin(double val) { return std::asin(val); }
inline double MathArccos(double val) { return std::acos(val); }
inline double MathArctan(double value) { return std::atan(value); }
#ifndef MQL_LANG_MQL4
inline double MathArctan2(double y, double x) { return std::atan2(y, x); }
inline double MathSinh(double value) { return std::sinh(value); }
inline double MathCosh(double value) { return std::cosh(value); }
inline double MathTanh(double value) { return std::tanh(value); }
inline double MathArcsinh(double value) { return std::asinh(value); }
inline double MathArccosh(double value) { return std::acosh(value); }
inline double MathArctanh(double value) { return std::atanh(value); }
inline double MathExpm1(double value) { return std::expm1(value); }
inline double MathLog1p(double value) { return std::log1p(value); }
// MathSwap: "Change the order of bytes in the ushort/uint/ulong type value" (math/mathswap)
inline ushort MathSwap(ushort value) { return (ushort)((value >> 8) | (value << 8)); }
inline uint MathSwap(uint value) { return __builtin_bswap32(value); }
inline ulong MathSwap(ulong value) { return __builtin_bswap64(value); }
#endif
// MathRand/MathSrand and the predefined _RandomSeed, as MetaQuotes' MQL5 Book writes the
// generator ("Random number generation"): each MathRand() sets _RandomSeed = _RandomSeed *
// 214013 + 2531011 and returns (_RandomSeed >> 16) & 0x7FFF, 0 to 32767; MathSrand(seed) sets
// the state. A program that never seeds it gets a state of the run's start, as a terminal's.
inline uint _random_seed = (uint)std::chrono::steady_clock::now().time_since_epoch().count();
inline const uint& _RandomSeed = _random_seed;
inline int MathRand() { _random_seed = _random_seed * 214013u + 2531011u; return (int)((_random_seed >> 16) & 0x7FFF); }
inline void MathSrand(int seed) { _random_seed = (uint)seed; }

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
// ---- PrintFormat and StringFormat (common/printformat, convert/stringformat) ------------------
// "%[flags][width][.precision][{h | l | ll | I32 | I64}]type", type one of c C d i o u x X e E f
// g G a A s S; width and precision may be '*' (taken from the next argument). "The number,
// order and type of parameters must exactly match the set of qualifiers, otherwise the print
// result is undefined": where MetaTrader prints something undefined the kit stops the program
// with the format and the argument, as it does on an array overrun. An integer without I64 or
// ll is printed as a 32-bit one, as MetaTrader reads it; an enumeration, a bool, a color and a
// datetime are integers.
struct _FmtArg {
  enum Kind { INT, REAL, TEXT } kind = INT;
  long long i = 0; double d = 0; std::u16string s;
};
inline _FmtArg _fmt_arg(const string& s) { _FmtArg a; a.kind = _FmtArg::TEXT; a.s = s._u; return a; }
inline _FmtArg _fmt_arg(const datetime& t) { _FmtArg a; a.i = t._v; return a; }
inline _FmtArg _fmt_arg(double x) { _FmtArg a; a.kind = _FmtArg::REAL; a.d = x; return a; }
inline _FmtArg _fmt_arg(float x) { return _fmt_arg((double)x); }
template <class N, class = std::enable_if_t<std::is_integral_v<N> || std::is_enum_v<N>>>
_FmtArg _fmt_arg(N n) { _FmtArg a; a.i = (long long)n; return a; }
inline string _mql_format(const string& format, const std::vector<_FmtArg>& args) {
  const std::u16string& f = format._u;
  std::u16string out;
  size_t next = 0;
  auto take = [&](const char* want) -> const _FmtArg& {
    if (next >= args.size()) { std::string m = "StringFormat/PrintFormat: '" + format._utf8() + "' wants more arguments than " + std::to_string(args.size()); _fatal(m.c_str()); }
    const _FmtArg& a = args[next++];
    if ((want[0] == 'i' && a.kind != _FmtArg::INT) || (want[0] == 'r' && a.kind != _FmtArg::REAL) || (want[0] == 's' && a.kind != _FmtArg::TEXT)) {
      std::string m = "StringFormat/PrintFormat: argument " + std::to_string(next) + " of '" + format._utf8() + "' does not match its specification (undefined in MQL)"; _fatal(m.c_str());
    }
    return a;
  };
  for (size_t k = 0; k < f.size(); ++k) {
    if (f[k] != u'%') { out += f[k]; continue; }
    if (k + 1 < f.size() && f[k + 1] == u'%') { out += u'%'; ++k; continue; }
    std::string flags, width, precision; bool wide = false; size_t j = k + 1;
    while (j < f.size() && f[j] != 0 && f[j] < 128 && std::strchr("-+0 #", (int)f[j])) flags += (char)f[j++];
    if (j < f.size() && f[j] == u'*') { width = std::to_string(take("i").i); ++j; }
    else while (j < f.size() && f[j] >= u'0' && f[j] <= u'9') width += (char)f[j++];
    bool has_precision = false;
    if (j < f.size() && f[j] == u'.') {
      has_precision = true; ++j;
      if (j < f.size() && f[j] == u'*') { precision = std::to_string(take("i").i); ++j; }
      else while (j < f.size() && f[j] >= u'0' && f[j] <= u'9') precision += (char)f[j++];
    }
    std::u16string rest = f.substr(j, 3);
    if (rest.rfind(u"I64", 0) == 0) { wide = true; j += 3; } else if (rest.rfind(u"I32", 0) == 0) j += 3;
    else if (rest.rfind(u"ll", 0) == 0) { wide = true; j += 2; } else if (j < f.size() && (f[j] == u'l' || f[j] == u'h')) ++j;
    if (j >= f.size()) _fatal("StringFormat/PrintFormat: a format specification without its type");
    char type = (char)f[j];
    std::string spec = "%" + flags + width + (has_precision ? "." + precision : "");
    char b[512];
    switch (type) {
      case 'd': case 'i': { const _FmtArg& a = take("i");
        if (wide) snprintf(b, sizeof b, (spec + "lld").c_str(), a.i); else snprintf(b, sizeof b, (spec + "d").c_str(), (int)a.i);
        out += _utf8_to_u16(b); break; }
      case 'o': case 'u': case 'x': case 'X': { const _FmtArg& a = take("i");
        if (wide) snprintf(b, sizeof b, (spec + "ll" + type).c_str(), (unsigned long long)a.i); else snprintf(b, sizeof b, (spec + type).c_str(), (unsigned)a.i);
        out += _utf8_to_u16(b); break; }
      case 'e': case 'E': case 'f': case 'g': case 'G': case 'a': case 'A': { const _FmtArg& a = take("r");
        snprintf(b, sizeof b, (spec + type).c_str(), a.d); out += _utf8_to_u16(b); break; }
      case 'c': case 'C': { const _FmtArg& a = take("i"); std::u16string c(1, (char16_t)a.i);
        int w = width.empty() ? 0 : std::stoi(width); std::u16string pad((size_t)std::max(0, w - 1), u' ');
        out += flags.find('-') != std::string::npos ? c + pad : pad + c; break; }
      case 's': case 'S': { const _FmtArg& a = take("s"); std::u16string s = a.s;
        if (has_precision && !precision.empty() && (size_t)std::stoi(precision) < s.size()) s.resize((size_t)std::stoi(precision));
        int w = width.empty() ? 0 : std::stoi(width);
        std::u16string pad((size_t)std::max(0, w - (int)s.size()), flags.find('0') != std::string::npos ? u'0' : u' ');
        out += flags.find('-') != std::string::npos ? s + pad : pad + s; break; }
      default: { std::string m = "StringFormat/PrintFormat: unknown type '" + std::string(1, type) + "' in '" + format._utf8() + "'"; _fatal(m.c_str()); }
    }
    k = j;
  }
  if (next != args.size()) { std::string m = "StringFormat/PrintFormat: '" + format._utf8() + "' takes " + std::to_string(next) + " arguments, given " + std::to_string(args.size()); _fatal(m.c_str()); }
  return string(out);
}
template <class... A> string StringFormat(const string& format, const A&... a) {
  static_assert(sizeof...(A) + 1 <= 64, "StringFormat: \"Any values of simple types separated by commas. Total number of parameters can't exceed 64\"");
  return _mql_format(format, std::vector<_FmtArg>{_fmt_arg(a)...});
}
template <class... A> void PrintFormat(const string& format, const A&... a) {
  static_assert(sizeof...(A) + 1 <= 64, "PrintFormat: at most 64 parameters");
  std::string s = _mql_format(format, std::vector<_FmtArg>{_fmt_arg(a)...})._utf8();
  fprintf(_log_out(), "%s\n", s.c_str()); fflush(_log_out());
}

// ---- EnumToString (convert/enumtostring) ------------------------------------------------------
// "Converting an enumeration value of any type to a text form": the value's name, or, for a
// value no name has, "ENUM_ORDER_TYPE::-1" (the page's own example). A program's enumeration
// is named by the function mqlpp.py writes after it (found by argument-dependent lookup); the
// kit's are read from g++'s own name of each value from -1 to 254 (every enumeration of the
// kit's lies there but ENUM_TIMEFRAMES, which each language's header names itself; test_gate_
// controls.py holds that).
inline string _mql_enum_unknown(const char* type, long value) { return _S(std::string(type) + "::" + std::to_string(value)); }
inline std::string _mql_unqualified(std::string name) {
  size_t at = name.rfind("::");
  return at == std::string::npos ? name : name.substr(at + 2);
}
template <class E, E V> const char* _mql_enumerator() { return __PRETTY_FUNCTION__; }
template <class E> const char* _mql_enum_type() { return __PRETTY_FUNCTION__; }
// g++'s "[with E = ENUM_X; E V = ORDER_TYPE_BUY]", or "... E V = (ENUM_X)9]" for a value no name has
inline std::string _mql_pretty_value(const char* pretty, const char* key) {
  std::string s = pretty; size_t at = s.find(key);
  if (at == std::string::npos) return "";
  size_t end = s.find_first_of(";]", at + std::strlen(key));
  return s.substr(at + std::strlen(key), end - at - std::strlen(key));
}
template <class E, int... I> string _mql_enum_scan(E v, std::integer_sequence<int, I...>) {
  static const char* const names[] = {_mql_enumerator<E, (E)(I - 1)>()...};
  long x = (long)(int)v;   // an MQL enumeration is an int, whatever values it names
  std::string name = x >= -1 && x < (long)sizeof...(I) - 1 ? _mql_pretty_value(names[x + 1], "E V = ") : "";
  if (!name.empty() && name[0] != '(') return _S(_mql_unqualified(name));
  return _mql_enum_unknown(_mql_unqualified(_mql_pretty_value(_mql_enum_type<E>(), "E = ")).c_str(), x);
}
template <class E> string _mql_enum_name(E v) { return _mql_enum_scan(v, std::make_integer_sequence<int, 256>{}); }
template <class E, class = std::enable_if_t<std::is_enum_v<E>>> string EnumToString(E value) { return _mql_enum_name(value); }
// WRONG_VALUE: "The constant can be implicitly cast to any enumeration type" (-1; constants/
// namedconstants/otherconstants), as EnumToString's own example assigns it.
struct _MqlWrongValue {
  template <class E, class = std::enable_if_t<std::is_enum_v<E>>> constexpr operator E() const { return (E)-1; }
  constexpr operator int() const { return -1; }
};
inline constexpr _MqlWrongValue WRONG_VALUE{};

// ---- typename (MQL5 Book, "Template header": "the built-in operator typename, which returns
// a string with the type name of the passed argument") -----------------------------------------
// mqlpp.py writes typename(TYPE) as _MQL_TYPENAME_T(TYPE) and typename(expression) as
// _MQL_TYPENAME_E(expression), as the gate's reader read it. A built-in type is named as MQL
// names it; color is the kit's uint, so it reads "uint". A class, structure or enumeration
// reads its name (what MetaEditor may add to it the reference does not say); an array its
// element type's and "[]".
template <class T> struct _mql_array_elem { using type = void; };
template <class T> struct _mql_array_elem<MqlArray<T>> { using type = T; };
template <class T> const char* _mql_type_pretty() { return __PRETTY_FUNCTION__; }
template <class T> string _mql_type_name() {
  using U = std::remove_cv_t<std::remove_reference_t<T>>;
  if constexpr (std::is_same_v<U, bool>) return "bool"_s;
  else if constexpr (std::is_same_v<U, char>) return "char"_s;
  else if constexpr (std::is_same_v<U, uchar>) return "uchar"_s;
  else if constexpr (std::is_same_v<U, short>) return "short"_s;
  else if constexpr (std::is_same_v<U, ushort>) return "ushort"_s;
  else if constexpr (std::is_same_v<U, int>) return "int"_s;
  else if constexpr (std::is_same_v<U, uint>) return "uint"_s;
  else if constexpr (std::is_same_v<U, long>) return "long"_s;
  else if constexpr (std::is_same_v<U, ulong>) return "ulong"_s;
  else if constexpr (std::is_same_v<U, float>) return "float"_s;
  else if constexpr (std::is_same_v<U, double>) return "double"_s;
  else if constexpr (std::is_same_v<U, string>) return "string"_s;
  else if constexpr (std::is_same_v<U, datetime>) return "datetime"_s;
  else if constexpr (std::is_same_v<U, void>) return "void"_s;
  else if constexpr (!std::is_void_v<typename _mql_array_elem<U>::type>) return _mql_type_name<typename _mql_array_elem<U>::type>() + "[]"_s;
  else {
    std::string name = _mql_pretty_value(_mql_type_pretty<U>(), "T = ");
    for (size_t at; (at = name.find("mqlp_")) != std::string::npos;) {   // the kit's program namespace
      size_t end = name.find("::", at); if (end == std::string::npos) break;
      name.erase(at, end + 2 - at);
    }
    return _S(name);
  }
}
#define _MQL_TYPENAME_T(...) _mql_type_name<__VA_ARGS__>()
#define _MQL_TYPENAME_E(...) _mql_type_name<decltype(__VA_ARGS__)>()

// ---- one simple structure assigned to another of a different type ----------------------------
// "Data of the simple structures type can be assigned to each other only if all the members of
// both structures are of numeric types ... The member-wise casting is not performed, a simple
// copying is done. If the structures are of different sizes, the number of bytes of the smaller
// size is copied" (basis/types/casting; basis/types/double's example copies a double's bits
// into a long so). mqlpp.py writes such an assignment, as the gate's reader found it, as
// _mql_struct_copy(a, b). The layout is C++'s (MQL packs a structure's members; the kit's
// compiler aligns them), the same for members of one size.
template <class A, class B> A& _mql_struct_copy(A& to, const B& from) {
  static_assert(std::is_class_v<A> && std::is_class_v<B> && std::is_trivially_copyable_v<A> && std::is_trivially_copyable_v<B>,
                "one structure assigned to another of a different type: both must be simple structures, all their members numbers");
  std::memcpy((void*)&to, (const void*)&from, std::min(sizeof(A), sizeof(B)));
  return to;
}

// ---- resource variables ('#resource "path" as int Data[]': runtime/resources) --------------------
// mqlpp.py writes the file's bytes; "if the size of the resource file is not a multiple of the
// array element size, the rest of the data is cut".
template <class T> MqlArray<T> _mql_resource_array(const char* bytes, size_t n) {
  MqlArray<T> a; a._v.resize(n / sizeof(T));
  if (!a._v.empty()) std::memcpy((void*)a._v.data(), bytes, a._v.size() * sizeof(T));
  return a;
}

// ---- the reference's other names of its functions ------------------------------------------
// "Instead of MathSqrt() you can use sqrt()" (each function page's note; the list is
// kit/lang/<lang>.words.toml's aliases, made from the reference by kit/mqlref.py): an alias is
// its function under another name. The C library has functions of the same names and other
// meanings (rand() is not MQL's generator, printf takes no MQL string), so the rewriting
// (mqlpp.py) writes each alias the program calls as _mql_<alias>, which calls the function the
// page names with the same arguments; daemon/tests/ea_mql/test_gate_controls.py holds this list to the
// words'.
#define _MQL_ALIAS(alias, of) \
  template <class... A> auto _mql_##alias(const A&... a) -> decltype(of(a...)) { return of(a...); }
_MQL_ALIAS(acos, MathArccos)
_MQL_ALIAS(asin, MathArcsin)
_MQL_ALIAS(atan, MathArctan)
_MQL_ALIAS(ceil, MathCeil)
_MQL_ALIAS(cos, MathCos)
_MQL_ALIAS(exp, MathExp)
_MQL_ALIAS(fabs, MathAbs)
_MQL_ALIAS(floor, MathFloor)
_MQL_ALIAS(fmax, MathMax)
_MQL_ALIAS(fmin, MathMin)
_MQL_ALIAS(fmod, MathMod)
_MQL_ALIAS(log, MathLog)
_MQL_ALIAS(log10, MathLog10)
_MQL_ALIAS(pow, MathPow)
_MQL_ALIAS(printf, PrintFormat)
_MQL_ALIAS(rand, MathRand)
_MQL_ALIAS(round, MathRound)
_MQL_ALIAS(sin, MathSin)
_MQL_ALIAS(sqrt, MathSqrt)
_MQL_ALIAS(srand, MathSrand)
_MQL_ALIAS(tan, MathTan)
#ifndef MQL_LANG_MQL4
_MQL_ALIAS(acosh, MathArccosh)
_MQL_ALIAS(asinh, MathArcsinh)
_MQL_ALIAS(atan2, MathArctan2)
_MQL_ALIAS(atanh, MathArctanh)
_MQL_ALIAS(cosh, MathCosh)
_MQL_ALIAS(sinh, MathSinh)
_MQL_ALIAS(tanh, MathTanh)
#endif

// StringConcatenate: "Any values of simple types separated by commas" joined (MQL5 into its
// first parameter, returning the length; MQL4 returning the string). The kit converts them as
// it does Print's (a real needs DoubleToString).
#ifndef MQL_LANG_MQL4
template <class... A> int StringConcatenate(string& string_var, const A&... a) {
  std::string s; ((s += _p(a)), ...); string_var = _S(s); return StringLen(string_var);
}
#endif
#ifdef MQL_LANG_MQL4
template <class... A> string StringConcatenate(const A&... a) { std::string s; ((s += _p(a)), ...); return _S(s); }
#endif
// Alert: "Displays a message in a separate window" and writes it to the Experts log; here it
// is a line the tests read, like Print's.
template <class... A> void Alert(const A&... a) { std::string s; ((s += _p(a)), ...); fprintf(_log_out(), "ALERT: %s\n", s.c_str()); fflush(_log_out()); }
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

// mql5_shim.h: the MQL5 language and runtime functions the MT Gateway EA uses, in C++17 on
// POSIX sockets and OpenSSL, so the real EA sources (after mqlpp.py) compile with g++ -Werror
// and run against the real daemon. The terminal's data (account, symbols, ticks, trading) is
// in mql5_terminal.h, driven by a fixture.
//
// Fidelity choices, each one a way the EA could be wrong in MetaTrader:
// - string is UTF-16 like MQL5, and number + string does not compile (MQL5 warns; we refuse);
// - arrays are bounds-checked and abort with "array out of range" (MQL5 stops the EA);
// - StringToCharArray with count -1 copies the terminating 0, as MQL5 does;
// - SocketRead's timeout 0 means 120 s; SocketIsReadable may "speculatively" report 1;
//   partial versus exact reads and chunking are switches (MQLSHIM_* environment variables);
// - only the SHA-256 of CryptEncode exists (no HMAC), as in MQL5.
#pragma once
#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <initializer_list>
#include <map>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/sha.h>
#include <poll.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <thread>
#include <type_traits>
#include <unistd.h>
#include <vector>

// ---- types and keywords ---------------------------------------------------------------------
typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
static_assert(sizeof(ulong) == 8 && sizeof(long) == 8, "MQL5 long/ulong are 64-bit");
typedef long long datetime;
typedef unsigned int color;
#define input
#define sinput
#define WHOLE_ARRAY (-1)
#define INVALID_HANDLE (-1)
#define CP_ACP 0
#define CP_UTF8 65001
#define INIT_SUCCEEDED 0
#define INIT_FAILED 1
#define INIT_PARAMETERS_INCORRECT 2
#define SOCKET_DEFAULT 0
#define ERR_NETSOCKET_INVALIDHANDLE 5270
#define ERR_NETSOCKET_TOO_MANY_OPENED 5271
#define ERR_NETSOCKET_CANNOT_CONNECT 5272
#define ERR_NETSOCKET_IO_ERROR 5273
enum ENUM_CRYPT_METHOD { CRYPT_BASE64, CRYPT_AES128, CRYPT_AES256, CRYPT_DES, CRYPT_HASH_SHA1,
                         CRYPT_HASH_SHA256, CRYPT_HASH_MD5, CRYPT_ARCH_ZIP };

inline int _LastError = 0;
inline int GetLastError() { return _LastError; }
inline void ResetLastError() { _LastError = 0; }
inline void _fatal(const char* what) { fprintf(stderr, "critical error: %s\n", what); fflush(stderr); abort(); }

// ---- string: UTF-16 like MQL5 ---------------------------------------------------------------
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
inline std::string _u16_to_utf8(const std::u16string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    uint32_t c = s[i];
    if (c >= 0xD800 && c < 0xDC00 && i + 1 < s.size()) c = 0x10000 + ((c - 0xD800) << 10) + (s[++i] - 0xDC00);
    if (c < 0x80) out += (char)c;
    else if (c < 0x800) { out += (char)(0xC0 | (c >> 6)); out += (char)(0x80 | (c & 0x3F)); }
    else if (c < 0x10000) { out += (char)(0xE0 | (c >> 12)); out += (char)(0x80 | ((c >> 6) & 0x3F)); out += (char)(0x80 | (c & 0x3F)); }
    else { out += (char)(0xF0 | (c >> 18)); out += (char)(0x80 | ((c >> 12) & 0x3F)); out += (char)(0x80 | ((c >> 6) & 0x3F)); out += (char)(0x80 | (c & 0x3F)); }
  }
  return out;
}

class mqlstring {
 public:
  std::u16string u;
  mqlstring() {}
  mqlstring(const mqlstring&) = default;
  mqlstring& operator=(const mqlstring&) = default;
  explicit mqlstring(const std::u16string& s) : u(s) {}
  std::string utf8() const { return _u16_to_utf8(u); }
  mqlstring operator+(const mqlstring& o) const { return mqlstring(u + o.u); }
  mqlstring& operator+=(const mqlstring& o) { u += o.u; return *this; }
  bool operator==(const mqlstring& o) const { return u == o.u; }
  bool operator!=(const mqlstring& o) const { return u != o.u; }
  bool operator<(const mqlstring& o) const { return u < o.u; }
  template <class N, class = std::enable_if_t<std::is_arithmetic_v<N>>> mqlstring operator+(N) const = delete;
  template <class N, class = std::enable_if_t<std::is_arithmetic_v<N>>> mqlstring& operator+=(N) = delete;
};
typedef mqlstring string;
inline string operator""_s(const char* p, size_t n) { return string(_utf8_to_u16(std::string(p, n))); }
inline string _S(const std::string& s) { return string(_utf8_to_u16(s)); }

// ---- arrays ---------------------------------------------------------------------------------
struct MqlFixedTag {};
inline constexpr MqlFixedTag MqlFixed{};
template <class T> class MqlArray {
 public:
  std::vector<T> v; bool fixed = false;
  MqlArray() {}
  MqlArray(MqlFixedTag, int n) : v(n), fixed(true) {}
  MqlArray(std::initializer_list<T> il) : v(il) {}
  T& operator[](int i) { _chk(i); return v[i]; }
  const T& operator[](int i) const { _chk(i); return v[i]; }
  void _chk(int i) const {
    if (i < 0 || i >= (int)v.size()) { fprintf(stderr, "critical error: array out of range (%d of %zu)\n", i, v.size()); fflush(stderr); abort(); }
  }
};
template <class T> int ArraySize(const MqlArray<T>& a) { return (int)a.v.size(); }
template <class T> int ArrayResize(MqlArray<T>& a, int n, int reserve = 0) {
  if (a.fixed || n < 0) return -1;
  if (reserve > 0 && a.v.capacity() < (size_t)(n + reserve)) a.v.reserve(n + reserve);
  a.v.resize(n); return n;
}
template <class T> void ArrayFree(MqlArray<T>& a) { if (!a.fixed) a.v.clear(); }
template <class T> int ArrayCopy(MqlArray<T>& dst, const MqlArray<T>& src, int dst_start = 0, int src_start = 0, int count = WHOLE_ARRAY) {
  if (&dst == &src) _fatal("ArrayCopy of an array onto itself is not modelled");
  if (src_start < 0 || src_start > (int)src.v.size() || dst_start < 0) return 0;
  int avail = (int)src.v.size() - src_start;
  if (count < 0 || count > avail) count = avail;
  if ((int)dst.v.size() < dst_start + count) { if (dst.fixed) count = (int)dst.v.size() - dst_start; else dst.v.resize(dst_start + count); }
  for (int i = 0; i < count; ++i) dst.v[dst_start + i] = src.v[src_start + i];
  return count;
}
template <class T, class V> void ArrayInitialize(MqlArray<T>& a, V x) { std::fill(a.v.begin(), a.v.end(), (T)x); }
template <class T> void ZeroMemory(T& x) { x = T{}; }

// ---- strings and conversions ----------------------------------------------------------------
inline int StringLen(const string& s) { return (int)s.u.size(); }
inline string StringSubstr(const string& s, int start, int len = -1) {
  if (start < 0 || start >= (int)s.u.size() || len == 0) return string();
  return string(s.u.substr(start, len < 0 ? std::u16string::npos : (size_t)len));
}
inline int StringFind(const string& s, const string& sub, int start = 0) {
  size_t p = s.u.find(sub.u, start < 0 ? 0 : start); return p == std::u16string::npos ? -1 : (int)p;
}
inline ushort StringGetCharacter(const string& s, int pos) { return pos >= 0 && pos < (int)s.u.size() ? s.u[pos] : 0; }
inline string ShortToString(ushort c) { return string(std::u16string(1, (char16_t)c)); }
inline string IntegerToString(long v, int len = 0, ushort fill = ' ') {
  std::u16string d = _utf8_to_u16(std::to_string(v));
  while ((int)d.size() < len) d.insert(d.begin(), (char16_t)fill);
  return string(d);
}
inline string DoubleToString(double v, int digits = 8) {
  char b[512]; snprintf(b, sizeof b, "%.*f", digits < 0 ? 8 : std::min(digits, 16), v); return _S(b);
}
inline long StringToInteger(const string& s) { return strtol(s.utf8().c_str(), nullptr, 10); }
inline double StringToDouble(const string& s) { return strtod(s.utf8().c_str(), nullptr); }
inline int StringTrimLeft(string& s) { size_t n = 0; while (n < s.u.size() && (s.u[n] == ' ' || s.u[n] == '\t' || s.u[n] == '\r' || s.u[n] == '\n')) ++n; s.u.erase(0, n); return (int)n; }
inline int StringTrimRight(string& s) { size_t n = 0; while (!s.u.empty() && (s.u.back() == ' ' || s.u.back() == '\t' || s.u.back() == '\r' || s.u.back() == '\n')) { s.u.pop_back(); ++n; } return (int)n; }
inline bool StringToUpper(string& s) { for (auto& c : s.u) if (c >= 'a' && c <= 'z') c = (char16_t)(c - 32); return true; }
inline int StringSplit(const string& s, ushort sep, MqlArray<string>& out) {
  out.v.clear(); if (s.u.empty()) return 0;
  size_t start = 0;
  for (size_t i = 0; i <= s.u.size(); ++i)
    if (i == s.u.size() || s.u[i] == sep) { out.v.push_back(string(s.u.substr(start, i - start))); start = i + 1; }
  return (int)out.v.size();
}
inline int StringToCharArray(const string& s, MqlArray<uchar>& a, int start = 0, int count = -1, uint cp = CP_ACP) {
  std::string b = cp == CP_UTF8 ? s.utf8() : std::string(s.u.begin(), s.u.end());
  if (count < 0) { b.push_back('\0'); count = (int)b.size(); }
  count = std::min(count, (int)b.size());
  if ((int)a.v.size() < start + count) a.v.resize(start + count);
  for (int i = 0; i < count; ++i) a.v[start + i] = (uchar)b[i];
  return count;
}
inline string CharArrayToString(const MqlArray<uchar>& a, int start = 0, int count = -1, uint cp = CP_ACP) {
  if (start < 0 || start > (int)a.v.size()) _fatal("CharArrayToString start out of range");
  int n = (int)a.v.size() - start; if (count >= 0 && count < n) n = count;
  std::string b; for (int i = 0; i < n && a.v[start + i] != 0; ++i) b.push_back((char)a.v[start + i]);
  return cp == CP_UTF8 ? _S(b) : string(std::u16string(b.begin(), b.end()));
}
inline bool MathIsValidNumber(double x) { return std::isfinite(x); }
inline double MathFloor(double x) { return std::floor(x); }
inline double MathAbs(double x) { return std::fabs(x); }
inline double MathRound(double x) { return std::round(x); }

// Print: every argument must be a string, bool or integer (doubles need DoubleToString, as
// MQL5's Print would format them with its own precision).
inline std::string _p(const string& s) { return s.utf8(); }
inline std::string _p(bool b) { return b ? "true" : "false"; }
template <class N, class = std::enable_if_t<std::is_integral_v<N>>> std::string _p(N n) { return std::to_string(n); }
inline FILE* _log_out() { return stdout; }
template <class... A> void Print(const A&... a) { std::string s; ((s += _p(a)), ...); fprintf(_log_out(), "%s\n", s.c_str()); fflush(_log_out()); }
// Comment writes on the chart; here it is a line the tests read.
inline std::string _chart_comment;
inline void Comment(const string& s) { _chart_comment = s.utf8(); fprintf(_log_out(), "CHART: %s\n", _chart_comment.c_str()); fflush(_log_out()); }

// ---- time -----------------------------------------------------------------------------------
inline uint GetTickCount() { using namespace std::chrono; return (uint)duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count(); }
inline ulong GetMicrosecondCount() { using namespace std::chrono; return (ulong)duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count(); }
inline void Sleep(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
inline volatile sig_atomic_t _stopped = 0;
inline bool IsStopped() { return _stopped != 0; }
inline int _timer_ms = 0;
inline bool EventSetMillisecondTimer(int ms) { _timer_ms = ms; return ms > 0; }
inline void EventKillTimer() { _timer_ms = 0; }

// ---- crypto: SHA-256 only, as in MQL5 ---------------------------------------------------------
inline int CryptEncode(ENUM_CRYPT_METHOD m, const MqlArray<uchar>& data, const MqlArray<uchar>& key, MqlArray<uchar>& out) {
  (void)key;  // MQL5 ignores the key for hashes: passing one does not make an HMAC
  if (m != CRYPT_HASH_SHA256) { _LastError = 4003; return 0; }
  out.v.assign(32, 0); SHA256(data.v.data(), data.v.size(), out.v.data()); return 32;
}

// ---- sockets over POSIX, with MQL5's documented quirks as switches ----------------------------
//   MQLSHIM_SPECULATIVE_READABLE=1  SocketIsReadable() reports 1 on an empty buffer (MQL5 book)
//   MQLSHIM_READ_EXACT=1            SocketRead waits for all buffer_maxlen bytes (else what is there)
//   MQLSHIM_CHUNK=n                 SocketRead never returns more than n bytes (fragmentation)
inline int _env(const char* k, int d) { const char* v = getenv(k); return v ? atoi(v) : d; }
inline int SocketCreate(uint flags = SOCKET_DEFAULT) {
  (void)flags; int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) _LastError = ERR_NETSOCKET_TOO_MANY_OPENED;
  return fd < 0 ? INVALID_HANDLE : fd;
}
inline bool SocketClose(int s) { if (::close(s) != 0) { _LastError = ERR_NETSOCKET_INVALIDHANDLE; return false; } return true; }
inline bool SocketConnect(int s, const string& server, uint port, uint timeout_ms) {
  sockaddr_in a{}; a.sin_family = AF_INET; a.sin_port = htons((uint16_t)port);
  std::string host = server.utf8(); if (host == "localhost") host = "127.0.0.1";
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) { _LastError = ERR_NETSOCKET_CANNOT_CONNECT; return false; }
  int fl = fcntl(s, F_GETFL); fcntl(s, F_SETFL, fl | O_NONBLOCK);
  int r = connect(s, (sockaddr*)&a, sizeof a);
  if (r < 0 && errno == EINPROGRESS) {
    pollfd p{s, POLLOUT, 0}; r = poll(&p, 1, (int)timeout_ms) == 1 ? 0 : -1;
    int e = 0; socklen_t l = sizeof e; if (r == 0) { getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l); if (e) r = -1; }
  }
  fcntl(s, F_SETFL, fl); int one = 1; setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (r != 0) _LastError = ERR_NETSOCKET_CANNOT_CONNECT;
  return r == 0;
}
inline bool SocketIsConnected(int s) {
  pollfd p{s, POLLIN, 0};
  if (poll(&p, 1, 0) == 1) {
    if (p.revents & (POLLHUP | POLLERR)) return false;
    char c; ssize_t r = recv(s, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return false;
  }
  return true;
}
inline uint SocketIsReadable(int s) {
  int n = 0; if (ioctl(s, FIONREAD, &n) < 0) { _LastError = ERR_NETSOCKET_IO_ERROR; return 0; }
  if (n == 0 && _env("MQLSHIM_SPECULATIVE_READABLE", 0)) return 1;
  return (uint)n;
}
inline bool SocketTimeouts(int s, uint send_ms, uint recv_ms) {
  timeval a{(time_t)(send_ms / 1000), (suseconds_t)(send_ms % 1000) * 1000}, b{(time_t)(recv_ms / 1000), (suseconds_t)(recv_ms % 1000) * 1000};
  return setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &a, sizeof a) == 0 && setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &b, sizeof b) == 0;
}
inline int SocketRead(int s, MqlArray<uchar>& buf, uint maxlen, uint timeout_ms) {
  if (timeout_ms == 0) timeout_ms = 120000;
  int chunk = _env("MQLSHIM_CHUNK", 0); if (chunk > 0 && (int)maxlen > chunk) maxlen = chunk;
  bool exact = _env("MQLSHIM_READ_EXACT", 0) != 0;
  std::vector<uchar> got; uint deadline = GetTickCount() + timeout_ms;
  while (got.size() < maxlen) {
    int left = (int)(deadline - GetTickCount()); if (left <= 0) break;
    pollfd p{s, POLLIN, 0}; if (poll(&p, 1, left) != 1) break;
    uchar tmp[65536]; ssize_t r = recv(s, tmp, std::min<size_t>(sizeof tmp, maxlen - got.size()), 0);
    if (r <= 0) { _LastError = ERR_NETSOCKET_IO_ERROR; if (got.empty()) return -1; break; }
    got.insert(got.end(), tmp, tmp + r);
    if (!exact) break;
  }
  // An exact read that timed out part-way returns -1, and what it had read is lost: the EA must
  // never ask for more bytes than it knows are coming.
  if (got.empty() || (exact && got.size() < maxlen)) { _LastError = ERR_NETSOCKET_IO_ERROR; return -1; }
  buf.v.assign(got.begin(), got.end());
  return (int)got.size();
}
inline int SocketSend(int s, const MqlArray<uchar>& buf, uint len) {
  size_t done = 0; len = std::min<uint>(len, (uint)buf.v.size());
  while (done < len) { ssize_t r = send(s, buf.v.data() + done, len - done, MSG_NOSIGNAL); if (r <= 0) { _LastError = ERR_NETSOCKET_IO_ERROR; return -1; } done += r; }
  return (int)done;
}

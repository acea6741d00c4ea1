// mql4_winsock.h: the part of Windows Sockets (ws2_32.dll) an MQL4 program imports, over POSIX
// sockets, as a 32-bit MetaTrader 4 process sees it (learn.microsoft.com/windows/win32/api/winsock2).
//
// How MQL4 calls a DLL (docs.mql4.com/basis/preprosessor/import, /runtime/imports):
// - only with "Allow DLL imports" (fixture `dlls_allowed`); without it the call stops the
//   program: "DLL calls are not allowed" (error 4017), the EA is removed;
// - an array parameter passes a pointer to the array's first element: the DLL writes as many
//   bytes as the length argument says, so a length beyond the array's size would overwrite the
//   terminal's memory; here it stops the program (the real outcome is undefined);
// - strings go as wchar_t* (Unicode since build 600), so no ANSI function is imported here.
// What Windows does that POSIX does not, and the kit models:
// - SOCKET is a 32-bit handle in a 32-bit process, a kernel handle (multiple of 4), never a
//   small fd number, and INVALID_SOCKET reads as -1 in an MQL int;
// - a non-blocking connect "returns SOCKET_ERROR, and WSAGetLastError returns WSAEWOULDBLOCK"
//   (connect); "success is reported in the writefds set and failure is reported in the
//   exceptfds set" of select; a refused loopback connect is retried by the stack for about 2 s
//   before it fails (libuv PR #2896), and succeeds if the port opens meanwhile;
// - fd_set is {u_int fd_count; SOCKET fd_array[64]}, timeval {long tv_sec; long tv_usec} (32-bit
//   longs); select ignores nfds and rewrites each set to the ready sockets; a timeout ends on a
//   clock tick (mql_clock.h);
// - recv returns 0 on an orderly close, SOCKET_ERROR with WSAEWOULDBLOCK when a non-blocking
//   socket has nothing, WSAECONNRESET when the peer reset;
// - ioctlsocket(FIONBIO) switches blocking mode, FIONREAD tells the bytes waiting;
// - Winsock is reference counted: WSAStartup takes a reference, WSACleanup gives one back; the
//   terminal holds its own, so a program that cleans up more than it started would tear down
//   the terminal's networking (the kit stops it).
// Switches the EA must survive: MQLSHIM_CHUNK=n (recv returns at most n bytes),
// MQLSHIM_SEND_CHUNK=n (send writes at most n bytes), MQLSHIM_SNDBUF=n (the send buffer is n
// bytes, not Linux's autotuned megabytes: see mql5_net.h). A select that waits for a connected
// socket to take more prints `KIT: send waiting` and applies `advance` meanwhile. Control `net fail_answer`: the connection
// breaks (WSAECONNRESET, the peer sees it closed) under the next send that carries an
// order_send answer, so a test can lose an answer after the order was executed.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>

inline bool _dlls_allowed();  // the fixture's switch (mql4_terminal.h)
inline int _open_sockets();

namespace ws2_32 {
constexpr int WSAEINTR = 10004, WSAEFAULT = 10014, WSAEINVAL = 10022, WSAEWOULDBLOCK = 10035, WSAENOTSOCK = 10038,
              WSAEAFNOSUPPORT = 10047, WSAECONNRESET = 10054, WSAENOTCONN = 10057, WSAETIMEDOUT = 10060,
              WSAECONNREFUSED = 10061, WSANOTINITIALISED = 10093;
constexpr uint WIN_FIONBIO = 0x8004667E, WIN_FIONREAD = 0x4004667F;  // (POSIX defines FIONREAD as a macro)
struct Sock { int fd = -1; bool nonblocking = false; bool connecting = false; bool connected = false;
              sockaddr_in peer{}; int64_t connect_started = 0; bool refused = false; };
inline std::map<int, Sock>& socks() { static std::map<int, Sock> m; return m; }
inline int next_handle = 0x1A4;
inline int last_error = 0;
inline bool fail_next_answer = false;
inline int refs = 0;  // the program's own WSAStartup references

inline void need_dll(const char* fn) {
  if (_dlls_allowed()) return;
  fprintf(stdout, "critical error: cannot call '%s' from ws2_32.dll: DLL calls are not allowed (4017); the expert is removed\n", fn);
  fflush(stdout); _exit(4);
}
inline void need_room(const char* fn, int len, size_t have) {
  if (len < 0 || (size_t)len > have) {
    fprintf(stderr, "critical error: %s with length %d on an array of %zu: the DLL would write past the array\n", fn, len, have);
    fflush(stderr); abort();
  }
}
inline Sock* find(int s) { auto it = socks().find(s); if (it == socks().end()) { last_error = WSAENOTSOCK; return nullptr; } return &it->second; }
inline int fail(int e) { last_error = e; return -1; }

inline int WSAStartup(ushort version, MqlArray<uchar>& data) {
  ::_reach_network();
  need_dll("WSAStartup"); need_room("WSAStartup", 400, data._v.size());  // sizeof(WSADATA), 32-bit
  if ((version & 0xFF) < 2) return WSAEINVAL;
  ++refs; return 0;
}
inline int WSACleanup() {
  need_dll("WSACleanup");
  if (refs <= 0) { fprintf(stderr, "critical error: WSACleanup without a WSAStartup of the program's own: it would end the terminal's Winsock\n"); fflush(stderr); abort(); }
  --refs; return 0;
}
inline int WSAGetLastError() { need_dll("WSAGetLastError"); return last_error; }
inline int stream_socket() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int sndbuf = _env("MQLSHIM_SNDBUF", 0); if (fd >= 0 && sndbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  return fd;
}
inline int socket(int af, int type, int protocol) {
  need_dll("socket");
  if (af != AF_INET) return fail(WSAEAFNOSUPPORT);
  if (type != SOCK_STREAM || (protocol != 0 && protocol != IPPROTO_TCP)) return fail(WSAEINVAL);
  int fd = stream_socket(); if (fd < 0) return fail(10024);  // WSAEMFILE
  int h = next_handle; next_handle += 4; socks()[h] = Sock{fd}; return h;
}
inline int closesocket(int s) { need_dll("closesocket"); Sock* k = find(s); if (!k) return -1; ::close(k->fd); socks().erase(s); return 0; }
inline int ioctlsocket(int s, uint cmd, uint& arg) {
  need_dll("ioctlsocket"); Sock* k = find(s); if (!k) return -1;
  if (cmd == WIN_FIONBIO) { k->nonblocking = arg != 0; return 0; }
  if (cmd == WIN_FIONREAD) { int n = 0; if (::ioctl(k->fd, FIONREAD, &n) < 0) return fail(WSAENOTCONN); arg = (uint)n; return 0; }
  return fail(WSAEINVAL);
}
inline int setsockopt(int s, int level, int optname, MqlArray<int>& optval, int optlen) {
  need_dll("setsockopt"); need_room("setsockopt", optlen, optval._v.size() * 4); Sock* k = find(s); if (!k) return -1;
  if (level == IPPROTO_TCP && optname == 1 && optlen >= 4) { int v = optval[0]; ::setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v); return 0; }
  return fail(WSAEINVAL);
}
// Starts (or restarts, after a refusal within the stack's retry window) the POSIX connect.
inline bool start_connect(Sock& k) {
  int fl = fcntl(k.fd, F_GETFL); fcntl(k.fd, F_SETFL, fl | O_NONBLOCK);
  int r = ::connect(k.fd, (sockaddr*)&k.peer, sizeof k.peer);
  if (r == 0) { k.connecting = false; k.connected = true; }
  else if (errno == EINPROGRESS) k.connecting = true;
  else { k.connecting = true; k.refused = true; }
  int one = 1; ::setsockopt(k.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return true;
}
// Where a connecting socket stands: 1 connected, -1 failed (past the retry window), 0 pending.
inline int connect_state(Sock& k) {
  if (k.connected) return 1;
  if (!k.connecting) return -1;
  if (!k.refused) {
    pollfd p{k.fd, POLLOUT, 0};
    if (poll(&p, 1, 0) == 1) {
      int err = 0; socklen_t l = sizeof err; getsockopt(k.fd, SOL_SOCKET, SO_ERROR, &err, &l);
      if (err == 0) { k.connecting = false; k.connected = true; return 1; }
      k.refused = true;
    } else return 0;
  }
  int64_t now = _mono_ns();
  if (now - k.connect_started >= (int64_t)2000000000) { k.connecting = false; return -1; }
  // Windows retries the SYN: try again on a fresh socket (the port may have opened)
  int fd = stream_socket(); if (fd < 0) return 0;
  ::close(k.fd); k.fd = fd; k.refused = false; start_connect(k);
  return k.connected ? 1 : 0;
}
inline int connect(int s, MqlArray<uchar>& name, int namelen) {
  need_dll("connect"); need_room("connect", namelen, name._v.size()); Sock* k = find(s); if (!k) return -1;
  if (namelen < 16) return fail(WSAEFAULT);
  if (name[0] != AF_INET || name[1] != 0) return fail(WSAEAFNOSUPPORT);  // sin_family, little-endian
  k->peer = sockaddr_in{}; k->peer.sin_family = AF_INET;
  memcpy(&k->peer.sin_port, &name._v[2], 2); memcpy(&k->peer.sin_addr, &name._v[4], 4);
  k->connect_started = _mono_ns(); k->refused = false; start_connect(*k);
  if (k->nonblocking) { if (k->connected) return 0; return fail(WSAEWOULDBLOCK); }
  while (true) {  // a blocking connect waits for the outcome
    int st = connect_state(*k); if (st == 1) return 0; if (st == -1) return fail(WSAECONNREFUSED);
    pollfd p{k->fd, POLLOUT, 0}; _poll_until(&p, 1, _mono_ns() + 100000000);
  }
}
// fd_set as MQL4 passes it: int[65] = {count, handles...}.
inline std::vector<int> set_of(MqlArray<int>& set, const char* which) {
  need_room(which, 65 * 4, set._v.size() * 4);
  std::vector<int> out; int n = set[0]; if (n < 0 || n > 64) n = 0;
  for (int i = 0; i < n; ++i) out.push_back(set[1 + i]);
  return out;
}
inline void set_put(MqlArray<int>& set, const std::vector<int>& ready) {
  for (size_t i = 0; i < 65; ++i) set._v[i] = 0;
  set._v[0] = (int)ready.size(); for (size_t i = 0; i < ready.size(); ++i) set._v[1 + i] = ready[i];
}
// Selects that waited for a readable socket and were woken by its data (control `net stats`):
// a call that finds the EA inside select() is answered as it arrives.
inline long woken = 0;
inline int select(int nfds, MqlArray<int>& readfds, MqlArray<int>& writefds, MqlArray<int>& exceptfds, MqlArray<int>& timeout) {
  (void)nfds;  // "Ignored. The nfds parameter is included only for compatibility with Berkeley sockets."
  need_dll("select"); need_room("select timeout", 8, timeout._v.size() * 4);
  std::vector<int> r = set_of(readfds, "select readfds"), w = set_of(writefds, "select writefds"), x = set_of(exceptfds, "select exceptfds");
  for (auto* v : {&r, &w, &x}) for (int h : *v) if (!find(h)) return fail(WSAENOTSOCK);
  if (r.empty() && w.empty() && x.empty()) return fail(WSAEINVAL);  // Windows refuses three empty sets
  int ms = timeout[0] * 1000 + timeout[1] / 1000;
  int64_t deadline = ms <= 0 ? _mono_ns() : _wait_deadline_ns((uint)ms, _fine_timeouts());
  bool waited = false;
  // a wait for a socket to take more (a send waiting for the peer to read) says so, and applies
  // the `advance` lines that come meanwhile, as mql5_net.h's SocketSend does
  bool watch = !w.empty() && ms > 0 && find(w[0])->connected;
  while (true) {
    std::vector<int> rr, ww, xx;
    for (int h : r) { Sock* k = find(h); pollfd p{k->fd, POLLIN, 0}; if (k->connected && poll(&p, 1, 0) == 1) rr.push_back(h); }
    for (int h : w) { Sock* k = find(h); int st = connect_state(*k); if (st == 1) { pollfd p{k->fd, POLLOUT, 0}; if (poll(&p, 1, 0) == 1) ww.push_back(h); } }
    for (int h : x) { Sock* k = find(h); if (k->connecting || k->refused) { if (connect_state(*k) == -1) xx.push_back(h); } }
    int n = (int)(rr.size() + ww.size() + xx.size());
    if (n > 0 && !rr.empty() && waited) ++woken;
    if (n > 0 || _mono_ns() >= deadline || IsStopped()) { set_put(readfds, rr); set_put(writefds, ww); set_put(exceptfds, xx); return n; }
    if (!waited && watch) { printf("KIT: send waiting\n"); fflush(stdout); }
    waited = true;
    std::vector<pollfd> ps;
    for (int h : r) ps.push_back(pollfd{find(h)->fd, POLLIN, 0});
    for (int h : w) ps.push_back(pollfd{find(h)->fd, POLLOUT, 0});
    if (watch && _stdin_open) ps.push_back(pollfd{0, POLLIN, 0});
    int64_t step = _mono_ns() + 100000000;  // re-check pending connects at least every 100 ms
    _poll_until(ps.data(), ps.size(), std::min(deadline, step));
    if (watch && _stdin_open && ps.back().revents) { _control_poll("advance"); watch = _stdin_buf.find('\n') == std::string::npos; }
  }
}
inline int send(int s, MqlArray<uchar>& buf, int len, int flags) {
  need_dll("send"); need_room("send", len, buf._v.size()); Sock* k = find(s); if (!k) return -1;
  (void)flags;
  if (!k->connected) return fail(WSAENOTCONN);
  size_t n = (size_t)len; int chunk = _env("MQLSHIM_SEND_CHUNK", 0); if (chunk > 0 && n > (size_t)chunk) n = (size_t)chunk;
  if (fail_next_answer && std::string(buf._v.begin(), buf._v.begin() + len).find("\"retcode\"") != std::string::npos) {
    fail_next_answer = false; ::shutdown(k->fd, SHUT_RDWR); k->connected = false; return fail(WSAECONNRESET);
  }
  ssize_t r = ::send(k->fd, buf._v.data(), n, MSG_NOSIGNAL | (k->nonblocking ? MSG_DONTWAIT : 0));
  if (r < 0) return fail(errno == EAGAIN || errno == EWOULDBLOCK ? WSAEWOULDBLOCK : WSAECONNRESET);
  return (int)r;
}
inline int recv(int s, MqlArray<uchar>& buf, int len, int flags) {
  need_dll("recv"); need_room("recv", len, buf._v.size()); Sock* k = find(s); if (!k) return -1;
  (void)flags;
  if (!k->connected) return fail(WSAENOTCONN);
  size_t n = (size_t)len; int chunk = _env("MQLSHIM_CHUNK", 0); if (chunk > 0 && n > (size_t)chunk) n = (size_t)chunk;
  while (true) {
    ssize_t r = ::recv(k->fd, buf._v.data(), n, MSG_DONTWAIT);
    if (r >= 0) return (int)r;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(WSAECONNRESET);
    if (k->nonblocking) return fail(WSAEWOULDBLOCK);
    pollfd p{k->fd, POLLIN, 0}; _poll_until(&p, 1, _mono_ns() + 100000000);
    if (IsStopped()) return fail(WSAEINTR);
  }
}
}  // namespace ws2_32
inline int _open_sockets() { return (int)ws2_32::socks().size(); }

// advapi32.dll's RtlGenRandom, exported as SystemFunction036 (learn.microsoft.com/windows/win32/
// api/ntsecapi/nf-ntsecapi-rtlgenrandom): fills `len` bytes of the buffer with random bytes
// and returns a BOOLEAN. The EA's nonce mixes them in (docs/protocol.md sec. 4). The same
// rules as ws2_32: only with "Allow DLL imports", and never past the array.
namespace advapi32 {
inline char SystemFunction036(MqlArray<uchar>& buf, uint len) {
  if (!_dlls_allowed()) {
    fprintf(stdout, "critical error: cannot call 'SystemFunction036' from advapi32.dll: DLL calls are not allowed (4017); the expert is removed\n");
    fflush(stdout); _exit(4);
  }
  ws2_32::need_room("SystemFunction036", (int)len, buf._v.size());
  size_t done = 0;
  while (done < len) {
    ssize_t n = getrandom(buf._v.data() + done, len - done, 0);
    if (n < 0) { if (errno == EINTR) continue; return 0; }
    done += (size_t)n;
  }
  return 1;
}
}  // namespace advapi32

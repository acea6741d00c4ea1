// mql5_net.h: MQL5's socket functions over POSIX sockets, with what the reference, the MQL5
// Book and MetaQuotes' own code say of them (mql5.com/en/docs/network; Book §7.5;
// Include/MQL5Book/ws/wstransport.mqh):
// - at most 128 sockets per program (SocketCreate: error 5271); none in an indicator (4014) nor
//   in the Strategy Tester, where "functions for working with sockets" are not executed;
// - SocketConnect only to an address in Tools > Options > Expert Advisors' list (fixture
//   `allowed_hosts`); the error for an unlisted one is not documented: 4014 here, as WebRequest
//   gives (the release checklist records the real one). A refused loopback connect is not
//   refused at once on Windows: the SYN is retried for about 2 s (libuv PR #2896), so the call
//   waits for its timeout (or those 2 s), and succeeds if the port opens meanwhile;
// - SocketRead APPENDS to the array ("size is increased by the number of read bytes"), waits
//   until data comes or the timeout ends (on a clock tick: mql_clock.h), returns what is there,
//   and returns -1 with error 5273 when the peer closed, WITH the bytes read before the close
//   appended ("even if we got -1 ... buffer may contain valid data": wstransport.mqh);
// - SocketSend returns "the number of bytes written", which can be fewer than asked;
// - SocketTimeouts sets the socket's own timeouts ("default: none, so operations wait
//   forever", Book §7.5.7): a SocketSend blocks until every byte is taken or the send timeout
//   passes, and then returns what was taken (Linux's SO_SNDTIMEO; -1 if nothing was), the
//   connection left open. The wait is on the program's clock (mql_clock.h), which in a terminal
//   is the system's, the one that times the socket: an `advance` sent while the program is
//   blocked in a send moves it on there too, so a test need not wait out a 5 s timeout. The
//   kit prints `KIT: send waiting` when a send first waits for the peer to read.
// - SocketIsReadable "speculatively returns 1" on an empty buffer, "as a rule, the first time a
//   function is called on a socket" (Book, network_socket_state);
// - SocketIsConnected reports what the last read, send or readability check learnt: a peer's
//   close is seen by the next of those, not at once (wstransport.mqh: "can be disconnected
//   already but still having data"); SocketIsReadable reports a close behind an empty buffer
//   as an error (5273, Book).
// Switches for the behaviours the reference leaves open (the EA must survive each):
//   MQLSHIM_SPECULATIVE_READABLE=always  every empty-buffer SocketIsReadable says 1
//   MQLSHIM_READ_EXACT=1    SocketRead waits for all buffer_maxlen bytes (else what is there)
//   MQLSHIM_CHUNK=n         SocketRead returns at most n bytes (fragmentation)
//   MQLSHIM_SEND_CHUNK=n    SocketSend writes at most n bytes per call
//   MQLSHIM_SNDBUF=n        the socket's send buffer is n bytes (SO_SNDBUF), not Linux's
//                           autotuned one (megabytes on loopback, where a send waits until a
//                           third of it is free): a peer reading a little at a time lets a
//                           waiting send go on a little at a time, as a small buffer does
//   MQLSHIM_CONNECTED=early SocketIsConnected is false as soon as the peer's FIN arrived
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define SOCKET_DEFAULT 0
#define ERR_NETSOCKET_INVALIDHANDLE 5270
#define ERR_NETSOCKET_TOO_MANY_OPENED 5271
#define ERR_NETSOCKET_CANNOT_CONNECT 5272
#define ERR_NETSOCKET_IO_ERROR 5273
#define ERR_NETSOCKET_HANDSHAKE_FAILED 5274
#define ERR_NETSOCKET_NO_CERTIFICATE 5275

struct _Sock { int fd; bool alive = false; bool read_once = false; uint send_timeout_ms = 0; };
// `net fail_send <n>` (control command): the n-th SocketSend from now fails as a broken
// connection does (-1, 5273), to show what the EA does with what it had still to send;
// `net fail_send_with <text>`: the next SocketSend whose bytes contain <text> fails so (an
// answer lost on its way, whatever the EA sends before it).
inline int _fail_send_in = 0;
// SocketReads that waited on an empty socket and were woken by data (control `net stats`).
inline long _socket_woken = 0;
inline std::string _fail_send_with;
inline std::map<int, _Sock>& _socks() { static std::map<int, _Sock> m; return m; }
inline int _next_socket_handle = 1;
inline const int _MAX_SOCKETS = 128;
inline bool _sockets_refused();  // tester or indicator (mql5_terminal.h / the harness)
inline bool _host_allowed(const std::string& host);
inline _Sock* _sock(int h) { auto it = _socks().find(h); if (it == _socks().end()) { _last_error = ERR_NETSOCKET_INVALIDHANDLE; return nullptr; } return &it->second; }
inline int _open_sockets() { return (int)_socks().size(); }

inline int _stream_socket() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int sndbuf = _env("MQLSHIM_SNDBUF", 0); if (fd >= 0 && sndbuf > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  return fd;
}
inline int SocketCreate(uint flags = SOCKET_DEFAULT) {
  (void)flags;
  ::_reach_network();
  if (_sockets_refused()) { _last_error = ERR_FUNCTION_NOT_ALLOWED; return INVALID_HANDLE; }
  if (_open_sockets() >= _MAX_SOCKETS) { _last_error = ERR_NETSOCKET_TOO_MANY_OPENED; return INVALID_HANDLE; }
  int fd = _stream_socket();
  if (fd < 0) { _last_error = ERR_NETSOCKET_TOO_MANY_OPENED; return INVALID_HANDLE; }
  int h = _next_socket_handle++; _socks()[h] = _Sock{fd}; return h;
}
inline bool SocketClose(const int s) {
  _Sock* k = _sock(s); if (!k) return false;
  ::close(k->fd); _socks().erase(s); return true;
}
inline bool SocketConnect(int s, const string& server, uint port, uint timeout_receive_ms) {
  _Sock* k = _sock(s); if (!k) return false;
  static bool first = true;  // what the program had done when it first reached for the network
  if (first) {
    first = false;
    printf("KIT: first SocketConnect after %ld timer passes, %lld ms, %ld microsecond-clock reads\n",
           _timer_passes, (long long)((_mono_ns() - _start_ns) / 1000000), _usec_reads); fflush(stdout);
  }
  std::string host = server._utf8();
  if (!_host_allowed(host)) { _last_error = ERR_FUNCTION_NOT_ALLOWED; return false; }
  sockaddr_in a{}; a.sin_family = AF_INET; a.sin_port = htons((uint16_t)port);
  std::string ip = host == "localhost" ? "127.0.0.1" : host;
  if (inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) { _last_error = ERR_NETSOCKET_CANNOT_CONNECT; return false; }
  int64_t deadline = std::min(_wait_deadline_ns(timeout_receive_ms, false), _mono_ns() + (int64_t)2000000000);
  while (true) {
    int fl = fcntl(k->fd, F_GETFL); fcntl(k->fd, F_SETFL, fl | O_NONBLOCK);
    int r = connect(k->fd, (sockaddr*)&a, sizeof a);
    int err = r == 0 ? 0 : errno;
    if (r < 0 && err == EINPROGRESS) {
      pollfd p{k->fd, POLLOUT, 0};
      if (_poll_until(&p, 1, deadline) == 1) { socklen_t l = sizeof err; getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &l); }
      else err = ETIMEDOUT;
    }
    fcntl(k->fd, F_SETFL, fl);
    if (err == 0) {
      int one = 1; setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      k->alive = true; return true;
    }
    if (err != ECONNREFUSED || _mono_ns() >= deadline || IsStopped()) break;
    // Windows retries the SYN after a refusal: wait a little, on a fresh socket, and try again
    int fd = _stream_socket(); if (fd < 0) break;
    ::close(k->fd); k->fd = fd;
    pollfd none{-1, 0, 0}; _poll_until(&none, 0, std::min(deadline, _mono_ns() + (int64_t)100000000));
  }
  _sleep_until_ns(deadline);  // the call returns when the attempt gives up, not at the refusal
  _last_error = ERR_NETSOCKET_CANNOT_CONNECT; return false;
}
inline bool SocketIsConnected(const int s) {
  _Sock* k = _sock(s); if (!k) return false;
  if (k->alive && getenv("MQLSHIM_CONNECTED") && std::string(getenv("MQLSHIM_CONNECTED")) == "early") {
    pollfd p{k->fd, POLLIN | POLLRDHUP, 0};
    if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) return false;
  }
  return k->alive;
}
// "When executing this function, an error may occur, meaning that the connection established
// through SocketConnect was broken (in _last_error we will get code 5273)" (Book): a close
// waiting behind an empty buffer is reported here.
inline uint SocketIsReadable(const int s) {
  _Sock* k = _sock(s); if (!k) return 0;
  int n = 0; if (ioctl(k->fd, FIONREAD, &n) < 0) { _last_error = ERR_NETSOCKET_IO_ERROR; k->alive = false; return 0; }
  if (n == 0 && k->alive) {
    // One look, not two: bytes that land between an empty FIONREAD and a poll would make the
    // poll's "readable" look like the peer's close. A peek tells the two apart.
    char c; ssize_t r = recv(k->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      _last_error = ERR_NETSOCKET_IO_ERROR; k->alive = false; return 0;
    }
    if (r > 0 && ioctl(k->fd, FIONREAD, &n) < 0) { _last_error = ERR_NETSOCKET_IO_ERROR; k->alive = false; return 0; }
  }
  if (n == 0 && k->alive) {
    const char* mode = getenv("MQLSHIM_SPECULATIVE_READABLE");
    bool always = mode && std::string(mode) == "always", never = mode && std::string(mode) == "0";
    if (always || (!never && !k->read_once)) return 1;
  }
  return (uint)n;
}
inline bool SocketIsWritable(const int s) { _Sock* k = _sock(s); return k && k->alive; }
inline bool SocketTimeouts(int s, uint timeout_send_ms, uint timeout_receive_ms) {
  _Sock* k = _sock(s); if (!k) return false;
  k->send_timeout_ms = timeout_send_ms;  // SocketSend waits it out on the program's clock
  timeval b{(time_t)(timeout_receive_ms / 1000), (suseconds_t)(timeout_receive_ms % 1000) * 1000};
  return setsockopt(k->fd, SOL_SOCKET, SO_RCVTIMEO, &b, sizeof b) == 0;
}
inline int SocketRead(int s, MqlArray<uchar>& buffer, uint buffer_maxlen, uint timeout_ms) {
  _Sock* k = _sock(s); if (!k) return -1;
  k->read_once = true;
  if (!k->alive) { _last_error = ERR_NETSOCKET_IO_ERROR; return -1; }
  if (timeout_ms == 0) timeout_ms = 120000;  // "0 means 120 s" (Book)
  int chunk = _env("MQLSHIM_CHUNK", 0); if (chunk > 0 && (int)buffer_maxlen > chunk) buffer_maxlen = (uint)chunk;
  bool exact = _env("MQLSHIM_READ_EXACT", 0) != 0;
  int64_t deadline = _wait_deadline_ns(timeout_ms, _fine_timeouts());
  std::vector<uchar> got; bool closed = false;
  bool empty = false;  // nothing there yet: data that comes wakes this read (a call finds the EA waiting)
  { int ready = 0; pollfd p{k->fd, POLLIN, 0}; empty = ioctl(k->fd, FIONREAD, &ready) == 0 && ready == 0 && poll(&p, 1, 0) == 0; }
  while (got.size() < buffer_maxlen) {
    pollfd p{k->fd, POLLIN, 0};
    if (_poll_until(&p, 1, got.empty() || exact ? deadline : _mono_ns()) != 1) break;
    uchar tmp[65536];
    ssize_t r = recv(k->fd, tmp, std::min<size_t>(sizeof tmp, buffer_maxlen - got.size()), MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (r <= 0) { closed = true; break; }
    got.insert(got.end(), tmp, tmp + r);
    if (!exact) break;
  }
  if (!got.empty() && !closed) {
    // a close already waiting right behind the data is reported by this same call: -1, with
    // the data appended
    char c; if (recv(k->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0) closed = true;
  }
  buffer._v.insert(buffer._v.end(), got.begin(), got.end());
  if (empty && !got.empty()) ++_socket_woken;
  if (closed) { k->alive = false; _last_error = ERR_NETSOCKET_IO_ERROR; return -1; }
  if (got.empty() || (exact && got.size() < buffer_maxlen)) { _last_error = ERR_NETSOCKET_IO_ERROR; return -1; }
  return (int)got.size();
}
inline int SocketSend(int s, const MqlArray<uchar>& buffer, uint buffer_len) {
  _Sock* k = _sock(s); if (!k) return -1;
  if (!k->alive) { _last_error = ERR_NETSOCKET_IO_ERROR; return -1; }
  if (_fail_send_in > 0 && --_fail_send_in == 0) { k->alive = false; _last_error = ERR_NETSOCKET_IO_ERROR; return -1; }
  size_t len = std::min<size_t>(buffer_len, buffer._v.size());
  if (!_fail_send_with.empty() && std::search(buffer._v.begin(), buffer._v.begin() + (long)len, _fail_send_with.begin(),
                                              _fail_send_with.end()) != buffer._v.begin() + (long)len) {
    _fail_send_with.clear(); k->alive = false; _last_error = ERR_NETSOCKET_IO_ERROR; return -1;
  }
  int chunk = _env("MQLSHIM_SEND_CHUNK", 0); if (chunk > 0 && len > (size_t)chunk) len = (size_t)chunk;
  // blocking, with the send timeout (0: none) on the program's clock (see the top)
  int64_t deadline = k->send_timeout_ms == 0 ? INT64_MAX : _wait_deadline_ns(k->send_timeout_ms, _fine_timeouts());
  size_t done = 0; bool waited = false;
  while (done < len) {
    ssize_t r = send(k->fd, buffer._v.data() + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r > 0) { done += (size_t)r; continue; }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { k->alive = false; _last_error = ERR_NETSOCKET_IO_ERROR; return -1; }
    if (!waited) { printf("KIT: send waiting, %zu of %zu bytes taken\n", done, len); fflush(stdout); }
    waited = true;
    bool watch = true;  // stdin, until a command other than `advance` heads it (left for the event loop)
    while (true) {  // until the peer reads, the timeout passes or an `advance` moves the clock past it
      if (_mono_ns() >= deadline || IsStopped()) break;
      pollfd p[2] = {{k->fd, POLLOUT, 0}, {watch && _stdin_open ? 0 : -1, POLLIN, 0}};
      _poll_until(p, 2, std::min(deadline, _mono_ns() + (int64_t)100000000));
      if (p[1].revents) { _control_poll("advance"); watch = _stdin_buf.find('\n') == std::string::npos; }
      if (p[0].revents) break;
    }
    if (!(_mono_ns() < deadline && !IsStopped())) break;
  }
  if (done == 0 && len > 0) { _last_error = ERR_NETSOCKET_IO_ERROR; return -1; }  // timed out: left open
  return (int)done;
}

inline void _register_net_controls() {
  _controls()["net"] = [](const std::vector<std::string>& w) {
    if (w.size() == 2 && w[1] == "stats") { printf("KIT: socket_woken %ld\n", _socket_woken); return std::string(); }
    if (w.size() == 3 && w[1] == "fail_send_with") { _fail_send_with = w[2]; return std::string(); }
    if (w.size() != 3 || w[1] != "fail_send" || atoi(w[2].c_str()) < 1) return std::string("usage: net fail_send <n> | net fail_send_with <text>");
    _fail_send_in = atoi(w[2].c_str()); return std::string();
  };
}

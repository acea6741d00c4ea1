//+------------------------------------------------------------------+
//| Winsock4.mqh: a TCP client for MQL4 over ws2_32.dll imports.     |
//| MQL4 has no Socket* functions (MQL5 added them), so the EA calls |
//| Windows Sockets itself; this needs "Allow DLL imports".          |
//| MetaTrader 4 is a 32-bit program: SOCKET is a 32-bit handle      |
//| (INVALID_SOCKET reads as -1 in an int), fd_set is {u_int count;  |
//| SOCKET fds[64]}, timeval is two 32-bit longs, and an array passed|
//| to a DLL is passed as a pointer to its first element, so every   |
//| buffer is sized before the call. The socket is non-blocking      |
//| (FIONBIO); waits go through select(), so no call blocks the EA's |
//| thread longer than the wait it asks for. No WSAStartup is needed |
//| in the terminal's process (the terminal started Winsock), but the|
//| EA takes its own reference and gives it back on close, as        |
//| Microsoft requires of every user of the DLL.                     |
//| Only literal IPv4 addresses: no name lookup (gethostbyname hands |
//| back pointers MQL4 cannot follow).                               |
//+------------------------------------------------------------------+
#ifndef MTGW_WINSOCK4_MQH
#define MTGW_WINSOCK4_MQH

#import "ws2_32.dll"
int WSAStartup(ushort version, uchar &data[]);
int WSACleanup(void);
int WSAGetLastError(void);
int socket(int af, int type, int protocol);
int closesocket(int s);
int connect(int s, uchar &name[], int namelen);
int ioctlsocket(int s, uint cmd, uint &argp);
int setsockopt(int s, int level, int optname, int &optval[], int optlen);
int send(int s, uchar &buf[], int len, int flags);
int recv(int s, uchar &buf[], int len, int flags);
int select(int nfds, int &readfds[], int &writefds[], int &exceptfds[], int &timeout[]);
#import

// RtlGenRandom (exported as SystemFunction036): the operating system's random bytes, for the
// nonce the gateway's proof must answer (docs/protocol.md sec. 4). MQL4 has no such source of
// its own, and the EA already needs "Allow DLL imports".
#import "advapi32.dll"
char SystemFunction036(uchar &buffer[], uint length);
#import

// `n` random bytes from the operating system into `out`; false when the call fails.
bool SystemRandom(uchar &out[], const int n)
  {
   ArrayResize(out, n);
   return SystemFunction036(out, (uint)n) != 0;
  }

#define WS_AF_INET        2
#define WS_SOCK_STREAM    1
#define WS_IPPROTO_TCP    6
#define WS_TCP_NODELAY    1
#define WS_FIONBIO        ((uint)0x8004667E)   // above INT_MAX: typed uint explicitly for ioctlsocket's cmd
#define WS_FIONREAD       ((uint)0x4004667F)
#define WSAEWOULDBLOCK    10035
#define WS_FD_SETSIZE     64
#define WS_WSADATA_BYTES  400    // sizeof(WSADATA) in a 32-bit process

// Parses "a.b.c.d" (and "localhost") into four bytes; false for anything else.
bool ParseIPv4(const string host, uchar &addr[])
  {
   string h = host == "localhost" ? "127.0.0.1" : host;
   string parts[];
   if(StringSplit(h, '.', parts) != 4)
      return false;
   ArrayResize(addr, 4);
   for(int i = 0; i < 4; i++)
     {
      int n = StringLen(parts[i]);
      if(n < 1 || n > 3)
         return false;
      for(int k = 0; k < n; k++)
        {
         ushort c = StringGetCharacter(parts[i], k);
         if(c < '0' || c > '9')
            return false;
        }
      long v = StringToInteger(parts[i]);
      if(v > 255)
         return false;
      addr[i] = (uchar)v;
     }
   return true;
  }

//+------------------------------------------------------------------+
//| One non-blocking TCP connection.                                 |
//+------------------------------------------------------------------+
class CWinsock
  {
public:
   int               sock;        // -1 when closed
   bool              started;     // our WSAStartup reference is held
   bool              open;        // connected and not yet seen closed
   int               error;       // the last Winsock error (WSAGetLastError)

                     CWinsock(void);

   bool              Startup(void);
   void              Cleanup(void);

   // Connects to host:port, waiting at most wait_ms. A refused loopback connect is not refused
   // at once on Windows (the SYN is retried for about 2 s): it reads as a timeout here.
   bool              Connect(const string host, const int port, const int wait_ms);

   void              Close(void);

   // Bytes waiting to be read (FIONREAD), 0 when none or closed.
   int               Available(void);

   // Waits at most wait_ms for the socket to become readable; true when it is (data or close).
   bool              WaitReadable(const int wait_ms);

   // Reads at most `want` bytes, appending them to out. Returns the count, 0 when nothing is
   // there now, -1 when the peer closed or the connection broke (open becomes false).
   int               Read(uchar &out[], const int want);

   // Writes all n bytes of data, waiting for room at most timeout_ms in total; false when the
   // connection broke, the peer had not taken them all by then, or the EA is being removed.
   bool              SendAll(const uchar &data[], const int n, const int timeout_ms);

private:
   // An fd_set holding one socket (or none for -1): {count, socket, 0...}.
   void              SetOf(int &set[], const int s);

   int               Select(int &r[], int &w[], int &x[], const int wait_ms);
  };

CWinsock::CWinsock(void)
  {
   sock = -1;
   started = false;
   open = false;
   error = 0;
  }

bool CWinsock::Startup(void)
  {
   if(started)
      return true;
   uchar data[];
   ArrayResize(data, WS_WSADATA_BYTES);
   int rc = WSAStartup(0x0202, data);
   if(rc != 0)
     {
      error = rc;
      return false;
     }
   started = true;
   return true;
  }

void CWinsock::Cleanup(void)
  {
   Close();
   if(started)
      WSACleanup();
   started = false;
  }

bool CWinsock::Connect(const string host, const int port, const int wait_ms)
  {
   Close();
   error = 0;
   uchar addr[];
   if(!ParseIPv4(host, addr))
     {
      error = -1;
      return false;
     }
   if(!Startup())
      return false;
   sock = socket(WS_AF_INET, WS_SOCK_STREAM, WS_IPPROTO_TCP);
   if(sock == -1)
     {
      error = WSAGetLastError();
      return false;
     }
   uint on = 1;
   if(ioctlsocket(sock, WS_FIONBIO, on) != 0)
     {
      error = WSAGetLastError();
      Close();
      return false;
     }
   int nodelay[1];
   nodelay[0] = 1;
   setsockopt(sock, WS_IPPROTO_TCP, WS_TCP_NODELAY, nodelay, 4);   // a failure only costs latency
   uchar sa[];
   ArrayResize(sa, 16);
   ArrayFill(sa, 0, 16, 0);            // ArrayInitialize has no uchar[] form in the reference
   sa[0] = (uchar)WS_AF_INET;          // sin_family, little-endian
   sa[2] = (uchar)((port >> 8) & 0xFF); // sin_port, network order
   sa[3] = (uchar)(port & 0xFF);
   for(int i = 0; i < 4; i++)
      sa[4 + i] = addr[i];
   if(connect(sock, sa, 16) == 0)
     {
      open = true;
      return true;
     }
   error = WSAGetLastError();
   if(error != WSAEWOULDBLOCK)
     {
      Close();
      return false;
     }
   // "success is reported in the writefds set and failure is reported in the exceptfds set"
   int r[], w[], x[];
   SetOf(r, -1);
   SetOf(w, sock);
   SetOf(x, sock);
   int ready = Select(r, w, x, wait_ms);
   if(ready > 0 && w[0] == 1)
     {
      open = true;
      error = 0;
      return true;
     }
   error = ready < 0 ? WSAGetLastError() : (x[0] == 1 ? 10061 : 10060);   // WSAECONNREFUSED / WSAETIMEDOUT
   Close();
   return false;
  }

void CWinsock::Close(void)
  {
   if(sock != -1)
      closesocket(sock);
   sock = -1;
   open = false;
  }

int CWinsock::Available(void)
  {
   if(sock == -1)
      return 0;
   uint n = 0;
   if(ioctlsocket(sock, WS_FIONREAD, n) != 0)
     {
      error = WSAGetLastError();
      open = false;
      return 0;
     }
   return (int)n;
  }

bool CWinsock::WaitReadable(const int wait_ms)
  {
   if(sock == -1)
      return false;
   int r[], w[], x[];
   SetOf(r, sock);
   SetOf(w, -1);
   SetOf(x, -1);
   int ready = Select(r, w, x, wait_ms);
   return ready > 0 && r[0] == 1;
  }

int CWinsock::Read(uchar &out[], const int want)
  {
   if(sock == -1 || want <= 0)
      return -1;
   uchar buf[];
   ArrayResize(buf, want);
   int got = recv(sock, buf, want, 0);
   if(got > 0)
     {
      int at = ArraySize(out);
      ArrayResize(out, at + got, 65536);
      ArrayCopy(out, buf, at, 0, got);
      return got;
     }
   if(got == 0)
     {
      open = false;                         // orderly close by the peer
      return -1;
     }
   error = WSAGetLastError();
   if(error == WSAEWOULDBLOCK)
      return 0;
   open = false;
   return -1;
  }

bool CWinsock::SendAll(const uchar &data[], const int n, const int timeout_ms)
  {
   if(sock == -1)
      return false;
   uchar rest[];
   ArrayCopy(rest, data, 0, 0, n);
   int left = n;
   ulong start = GetMicrosecondCount();
   while(left > 0)
     {
      int sent = send(sock, rest, left, 0);
      if(sent > 0)
        {
         left -= sent;
         if(left > 0)
           {
            uchar tail[];
            ArrayCopy(tail, rest, 0, sent, left);
            ArrayFree(rest);
            ArrayCopy(rest, tail, 0, 0, left);
           }
         continue;
        }
      error = WSAGetLastError();
      long waited_ms = (long)((GetMicrosecondCount() - start) / 1000);
      // one deadline for the whole frame (a gateway taking a little within every wait cannot
      // stretch it), and none at all once the EA is being removed
      if(error != WSAEWOULDBLOCK || waited_ms >= timeout_ms || IsStopped())
        {
         open = false;
         return false;
        }
      int r[], w[], x[];
      SetOf(r, -1);
      SetOf(w, sock);
      SetOf(x, -1);
      Select(r, w, x, (int)(timeout_ms - waited_ms));
     }
   return true;
  }

void CWinsock::SetOf(int &set[], const int s)
  {
   ArrayResize(set, WS_FD_SETSIZE + 1);
   ArrayInitialize(set, 0);
   if(s != -1)
     {
      set[0] = 1;
      set[1] = s;
     }
  }

int CWinsock::Select(int &r[], int &w[], int &x[], const int wait_ms)
  {
   int tv[2];
   int ms = wait_ms < 0 ? 0 : wait_ms;
   tv[0] = ms / 1000;
   tv[1] = (ms % 1000) * 1000;
   return select(0, r, w, x, tv);
  }

#endif

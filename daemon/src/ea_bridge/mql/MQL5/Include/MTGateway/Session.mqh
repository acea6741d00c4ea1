//+------------------------------------------------------------------+
//| Session.mqh: one connection to the gateway and its life:         |
//| connect, hello/challenge/auth/welcome, requests, events, pings,  |
//| bye, reconnect with backoff (docs/protocol.md sections 1-8).     |
//|                                                                  |
//| Reading follows two facts about MQL5 sockets: SocketIsReadable   |
//| may report 1 byte on an empty buffer, and whether SocketRead     |
//| returns a partial read is not documented. So the session never   |
//| asks for more bytes than the frame in hand still needs, keeps its|
//| own receive buffer, drains in a bounded loop, and then waits     |
//| inside SocketRead until just before the next timer pass, in      |
//| slices, which is what makes any call, the first after a quiet    |
//| spell too, cost the round trip instead of a wait for the timer.  |
//| A read that returns                                              |
//| -1 may still have appended bytes (the peer's last frame before   |
//| its close): they are handled before the drop. A send writes what |
//| it can ("returns the number of bytes written"): the rest follows |
//| until the frame is out, within the socket's 5 s send timeout.    |
//| Times come from GetMicrosecondCount: GetTickCount moves in steps |
//| of the system clock (10-16 ms).                                  |
//+------------------------------------------------------------------+
#ifndef MTGW_SESSION_MQH
#define MTGW_SESSION_MQH

#include <MTGateway\Bytes.mqh>
#include <MTGateway\Crypto.mqh>
#include <MTGateway\Json.mqh>
#include <MTGateway\Methods5.mqh>

#define MTGW_EA_VERSION        "1.3.0"   // 1.2: the order record keyed by order_key; 1.3: mutual handshake
#define MTGW_PROTOCOL          2
#define MTGW_HANDSHAKE_MAX     16384
#define MTGW_CONNECT_MS        200    // a refused loopback connect waits this long on Windows
#define MTGW_SEND_TIMEOUT_MS   5000   // a gateway that stops reading cannot hold the EA longer
#define MTGW_READ_TIMEOUT_MS   0      // the socket's own; every SocketRead passes its wait
#define MTGW_BACKOFF_MIN_MS    250
#define MTGW_BACKOFF_MAX_MS    5000
#define MTGW_DRAIN_READS       256
#define MTGW_BODY_WAIT_MS      1000
#define MTGW_HELD_MAX          32     // calls held while their history loads
#define MTGW_CONVERSE_US       50000  // a request this recent: calls are coming one after another
#define MTGW_WAIT_SLICE_MS     2      // one wait in the socket; between two the EA sends what is new
#define MTGW_WAIT_DATA         1      // WaitOnce: something came and was handled
#define MTGW_WAIT_SLICE        0      // WaitOnce: a slice passed with nothing; the budget goes on
#define MTGW_WAIT_DONE         -1     // WaitOnce: the pass's budget is spent (or the session ended)

#define ST_IDLE       0   // not connected; next attempt at next_attempt
#define ST_HELLO      1   // hello sent, waiting for the challenge (and the daemon's proof)
#define ST_AUTH       2   // auth sent, waiting for welcome or refuse
#define ST_READY      3   // session live
#define ST_STOPPED    4   // a refusal retrying cannot fix: wait for the user

#define MTGW_SENT      0
#define MTGW_TOO_LARGE 1
#define MTGW_NOT_SENT  2

// How the message of a device_not_approved refusal begins when the token's owner denied this
// machine rather than it awaiting approval (docs/protocol.md section 5): the word stays.
#define MTGW_DENIED_PREFIX "The token's owner denied this machine"

// Whether a refusal says the token's owner denied this machine: no code is coming.
bool RefusalIsDenial(const string reason, const string message)
  {
   return reason == "device_not_approved" && StringFind(message, MTGW_DENIED_PREFIX) == 0;
  }

// What the user reads for each refusal word (docs/protocol.md section 5); the refusal's
// message tells a denied machine from one awaiting approval.
string RefusalText(const string reason, const string message = "")
  {
   if(RefusalIsDenial(reason, message))
      return "this machine was denied by the token's owner: no code is coming";
   if(reason == "missing_token")
      return "auth token missing: paste it into the EA inputs";
   if(reason == "malformed_token")
      return "auth token malformed: copy it again from the console";
   if(reason == "invalid_token")
      return "invalid auth token";
   if(reason == "token_expired")
      return "token expired";
   if(reason == "token_revoked")
      return "token revoked";
   if(reason == "device_not_approved")
      return "device verification pending: check your e-mail";
   if(reason == "terminal_mismatch")
      return "this token belongs to another terminal";
   if(reason == "scope")
      return "the token does not allow this";
   if(reason == "already_connected")
      return "another EA is already connected for this account";
   if(reason == "unsupported_version")
      return "EA version not supported by the gateway: update the EA";
   if(reason == "handshake_timeout")
      return "gateway handshake timed out";
   if(reason == "protocol_error")
      return "protocol error";
   if(reason == "shutting_down")
      return "gateway is shutting down";
   if(reason == "daemon_unproven")
      return "the process on the gateway's port did not prove it holds this token: nothing was sent";
   return reason;
  }

// Refusals marked "no" in docs/protocol.md section 5: the user has to change something.
bool RefusalIsFatal(const string reason)
  {
   return reason == "missing_token" || reason == "malformed_token" || reason == "invalid_token" ||
          reason == "token_expired" || reason == "token_revoked" || reason == "terminal_mismatch" ||
          reason == "scope" || reason == "unsupported_version";
  }

// What the user should do next, added to the chart for the refusals that need them.
string RefusalAdvice(const string reason, const string message = "")
  {
   if(RefusalIsDenial(reason, message))
      return "The owner can allow it again on the console's Devices page; the EA retries by itself.";
   if(reason == "missing_token" || reason == "malformed_token" || reason == "invalid_token")
      return "Paste the token from the console into the EA's AuthToken input.";
   if(reason == "token_expired" || reason == "token_revoked")
      return "Issue a new token in the console and paste it into the EA's inputs.";
   if(reason == "device_not_approved")
      return "Open the approval link the console e-mailed you; the EA retries by itself.";
   if(reason == "terminal_mismatch")
      return "Use the token issued for this account and server.";
   if(reason == "already_connected")
      return "Remove the EA from the other chart or terminal; retrying.";
   if(reason == "unsupported_version")
      return "Install the EA that ships with your gateway (mtgateway ea install).";
   return "";
  }

//+------------------------------------------------------------------+
//| The connection and its state machine.                            |
//+------------------------------------------------------------------+
class CGatewaySession
  {
public:
   string            host;
   int               port;
   string            token;
   int               wait_budget_ms;
   int               state;
   int               sock;
   string            reason;           // last refusal or drop reason word
   string            status;           // what the chart shows
   string            owner_message;    // the owner's message from the console (show_message)
   long              sessions;         // welcomes received since the EA started
   long              seq;              // last event seq sent on this connection
   ulong             next_attempt;     // GetMicrosecondCount() times
   int               backoff_ms;
   ulong             last_rx;
   ulong             last_ping;
   int               history_wait_ms;  // how long a call waits for its history to load
   ulong             last_req;         // when the last request came (0: none yet)
   ulong             last_pass;        // when the last timer pass started
   ulong             periods[];        // the last intervals between timer passes, microseconds
   int               period_at;
   string            held_json[];      // calls held while their history loads, as received
   ulong             held_since[];
   int               hb_interval_ms;
   int               hb_timeout_ms;
   long              max_frame;
   uchar             client_key[];     // the token's keys (docs/protocol.md sec. 4)
   uchar             stored_key[];
   uchar             server_key[];
   string            hint;
   string            ea_nonce;         // this connection's nonce, which the daemon's proof answers
   EntropyPool       pool;
   uchar             rx[];
   int               rx_start;
   int               rx_end;
   Methods5          methods;

                     CGatewaySession(void);

   // Checks the token locally first: a missing or malformed token never reaches the wire.
   bool              Configure(const string token_in, const string host_in, const int port_in, const int wait_ms);

   bool              Ready(void) const;

   // One pass: connect when due, drain what arrived, enforce heartbeats.
   void              Service(void);

   // Requests are coming (one in the last MTGW_CONVERSE_US): a caller that waits for each
   // answer sends the next one at once (what TickFirst still waits in the socket for).
   bool              Conversing(void) const;

   // A timer pass starts: learn how often the terminal really runs the timer (10-16 ms
   // whatever was asked: the system clock's tick), the shortest of the last 8 intervals.
   void              TimerPass(const ulong now_us);

   // How long a pass may wait in the socket: until just before the next timer event is due,
   // so a caller never finds the EA between passes (at least SocketWaitMs; 0 turns waiting
   // off). A millisecond short of it: a wait's timeout ends on
   // the system clock's tick, and one that reached past the timer's tick would end a whole
   // tick later, making the next pass late and the measured period longer.
   long              BudgetUs(void) const;

   // One wait inside the socket within this timer pass's budget, answering what comes:
   // MTGW_WAIT_DATA when something came, MTGW_WAIT_SLICE when a slice passed with nothing
   // (the caller sends what is new, then waits again), MTGW_WAIT_DONE when the budget is
   // spent or the session ended. The EA waits in the socket whether calls are coming or not,
   // so the first call after a quiet spell is answered as it arrives, not at the next pass;
   // in slices of MTGW_WAIT_SLICE_MS, so the ticks and trade events that come meanwhile go
   // out between two (a slice ends on the system clock's tick where timeouts do: then the
   // events wait at most the rest of this pass, less than one timer period).
   int               WaitOnce(const ulong pass_start_us);

   // An event frame: MTGW_SENT, MTGW_TOO_LARGE (never sendable: nothing sent), or
   // MTGW_NOT_SENT (no live session, or it just dropped: send it on the next one).
   int               SendEvent(const string name, const string payload_json);

   // Orderly close within OnDeinit's 2.5 s: say bye, close the socket.
   void              Close(const string why);

   //--- internals -----------------------------------------------------------------------------

   void              Show(const string text);

   // The chart's comment: the status, and under it the owner's last message.
   string            ChartText(void);

   // show_message (docs/protocol.md): the owner's message, sent from the console, on the
   // chart under the status until the next one; answered {}.
   void              ShowMessage(JsonDoc &doc, const int p, JsonWriter &w, int &code, string &message);

   bool              Stop(const string why, const string detail);
   void              CloseSocket(void);

   // The connection ended; retry after the current backoff (doubling to 5 s).
   // A refusal or a bye before the peer proved it holds the token (state ST_HELLO) may come
   // from whatever squats on the port: a refusal the user must act on is retried at the
   // slowest pace instead of stopping the EA for good on a stranger's word.
   void              Unconfirmed(const string why, const string text);

   void              Drop(const string why, const string text);
   void              Connect(void);

   // One frame, written whole within MTGW_SEND_TIMEOUT_MS: a short write sends the rest
   // (SocketSend "returns the number of bytes written"), each further SocketSend given only
   // what is left of the budget. MTGW_TOO_LARGE: above the frame limit, nothing sent;
   // MTGW_NOT_SENT: the connection is gone (dropped here, as when the budget ran out).
   int               SendFrame(const string json);

   int               Buffered(void) const;

   // Bytes still needed to complete the frame in hand (its header first).
   int               Needed(void) const;

   // One SocketRead of at most `want` bytes into the receive buffer; -1 on timeout or drop.
   // A read that ends with the peer's close returns -1 and may still have appended the bytes
   // that came before it (a refuse or bye): those are handled before the drop.
   int               ReadSome(const int want, const int timeout_ms);

   // Bounded: at most MTGW_DRAIN_READS reads, stopping when the socket reports nothing.
   void              Drain(void);

   // Cut complete frames from the buffer and handle each.
   void              ProcessFrames(void);

   void              ProtocolError(const string detail);
   void              Handle(const string json);

   // Run the request and answer it; false when its history is still loading (held: nothing
   // sent). `expired`: the wait bound passed, so a still-loading history answers -32008.
   bool              Answer(JsonDoc &doc, const int id_node, const int m_node, const int p_node, const bool expired);

   void              SendError(const long id, const int code, const string message);

   // Held calls whose history arrived are answered; those held past HistoryWaitMs answer
   // -32008 (the loading goes on: the caller asks again).
   void              ServeHeld(void);

   void              Heartbeat(void);
  };

CGatewaySession::CGatewaySession(void)
  {
   state = ST_IDLE;
   sock = INVALID_HANDLE;
   reason = "";
   status = "";
   owner_message = "";
   sessions = 0;
   seq = 0;
   next_attempt = 0;
   backoff_ms = MTGW_BACKOFF_MIN_MS;
   hb_interval_ms = 5000;
   hb_timeout_ms = 15000;
   max_frame = MTGW_HANDSHAKE_MAX;
   rx_start = 0;
   rx_end = 0;
   wait_budget_ms = 0;
   history_wait_ms = 4000;
   last_req = 0;
   last_pass = 0;
   period_at = 0;
   port = 8711;
  }

bool CGatewaySession::Configure(const string token_in, const string host_in, const int port_in, const int wait_ms)
  {
   token = token_in;
   StringTrimLeft(token);
   StringTrimRight(token);
   host = host_in;
   port = port_in;
   wait_budget_ms = wait_ms;
   if(token == "")
      return Stop("missing_token", "");
   if(StringFind(token, "mtgw_") != 0 || StringLen(token) < 20)
      return Stop("malformed_token", "");
   if(!TokenKeys(token, client_key, stored_key, server_key))
      return Stop("internal", "CryptEncode SHA-256 failed (error " + IntegerToString(GetLastError()) + ")");
   hint = TokenHint(token);
   Show("connecting to " + host + ":" + IntegerToString(port));
   return true;
  }

bool CGatewaySession::Ready(void) const
  {
   return state == ST_READY;
  }

void CGatewaySession::Service(void)
  {
   pool.Stir();  // the nonce's entropy: this pass's timing jitter
   if(state == ST_STOPPED)
      return;
   if(state == ST_IDLE)
     {
      if(GetMicrosecondCount() < next_attempt)
         return;
      // no hello before the nonce's pool has its stirs (about a second, before the first)
      if(!pool.Gather())
         return;
      Connect();
      if(state == ST_IDLE)
         return;
     }
   Drain();
   ServeHeld();
   methods.history.Sweep();
   Heartbeat();
  }

bool CGatewaySession::Conversing(void) const
  {
   return state == ST_READY && last_req != 0 && GetMicrosecondCount() - last_req < MTGW_CONVERSE_US;
  }

void CGatewaySession::TimerPass(const ulong now_us)
  {
   if(last_pass != 0)
     {
      if(ArraySize(periods) < 8)
         ArrayResize(periods, 8);
      periods[period_at] = now_us - last_pass;
      period_at = (period_at + 1) % 8;
     }
   last_pass = now_us;
  }

long CGatewaySession::BudgetUs(void) const
  {
   if(wait_budget_ms <= 0)
      return 0;
   ulong shortest = 0;
   for(int i = 0; i < ArraySize(periods); i++)
      if(periods[i] > 0 && (shortest == 0 || periods[i] < shortest))
         shortest = periods[i];
   long budget = (long)wait_budget_ms * 1000;
   if(shortest > (ulong)budget + 1000 && shortest < 100000)
      budget = (long)shortest - 1000;
   return budget;
  }

int CGatewaySession::WaitOnce(const ulong pass_start_us)
  {
   if(state == ST_IDLE || state == ST_STOPPED || IsStopped())
      return MTGW_WAIT_DONE;
   long left_us = BudgetUs() - (long)(GetMicrosecondCount() - pass_start_us);
   int timeout = (int)(left_us / 1000);
   if(timeout < 1)
      return MTGW_WAIT_DONE;
   if(timeout > MTGW_WAIT_SLICE_MS)
      timeout = MTGW_WAIT_SLICE_MS;
   if(Buffered() >= 4 && timeout < MTGW_BODY_WAIT_MS)
      timeout = MTGW_BODY_WAIT_MS;         // the body of a frame whose header came is in transit
   if(ReadSome(Needed(), timeout) < 0)
      return sock == INVALID_HANDLE ? MTGW_WAIT_DONE : MTGW_WAIT_SLICE;   // a drop, or nothing came
   ProcessFrames();
   Drain();
   return MTGW_WAIT_DATA;
  }

int CGatewaySession::SendEvent(const string name, const string payload_json)
  {
   if(state != ST_READY)
      return MTGW_NOT_SENT;
   int sent = SendFrame("{\"t\":\"evt\",\"seq\":" + IntegerToString(seq + 1) + ",\"m\":" + JsonWriter::Quote(name) +
                        ",\"p\":" + payload_json + "}");
   if(sent == MTGW_SENT)
      seq++;
   else
      if(sent == MTGW_TOO_LARGE)
         Print("MT Gateway: a '", name, "' event is larger than the gateway's frame limit and was left out");
   return sent;
  }

void CGatewaySession::Close(const string why)
  {
   if(sock != INVALID_HANDLE && (state == ST_READY || state == ST_HELLO || state == ST_AUTH))
      SendFrame("{\"t\":\"bye\",\"reason\":\"shutting_down\",\"message\":" + JsonWriter::Quote(why) + "}");
   CloseSocket();
   state = ST_IDLE;
  }

void CGatewaySession::Show(const string text)
  {
   if(text == status)
      return;
   status = text;
   Print("MT Gateway: ", text);
   Comment(ChartText());
  }

string CGatewaySession::ChartText(void)
  {
   string text = "MT Gateway: " + status;
   if(owner_message != "")
      text += "\nMessage from the owner: " + owner_message;
   return text;
  }

void CGatewaySession::ShowMessage(JsonDoc &doc, const int p, JsonWriter &w, int &code, string &message)
  {
   int node = doc.Get(p, "text");
   if(doc.Type(node) != J_STR || doc.Str(node) == "")
     {
      code = E_PARAMS;
      message = "text: expected a non-empty string";
      return;
     }
   owner_message = doc.Str(node);
   Print("MT Gateway: message from the owner: ", owner_message);
   Comment(ChartText());
   w.BeginObj();
   w.EndObj();
  }

bool CGatewaySession::Stop(const string why, const string detail)
  {
   reason = why;
   state = ST_STOPPED;
   CloseSocket();
   string text = why == "internal" ? detail : RefusalText(why);
   string advice = RefusalAdvice(why);
   Show("stopped: " + text + (advice != "" ? ". " + advice : ""));
   return false;
  }

void CGatewaySession::CloseSocket(void)
  {
   if(sock != INVALID_HANDLE)
      SocketClose(sock);
   sock = INVALID_HANDLE;
   rx_start = 0;
   rx_end = 0;
   ArrayResize(held_json, 0);             // the daemon fails what it sent on a lost session
   ArrayResize(held_since, 0);
  }

void CGatewaySession::Unconfirmed(const string why, const string text)
  {
   if(RefusalIsFatal(why))
      backoff_ms = MTGW_BACKOFF_MAX_MS;
   Drop(why, text);
  }

void CGatewaySession::Drop(const string why, const string text)
  {
   reason = why;
   CloseSocket();
   state = ST_IDLE;
   next_attempt = GetMicrosecondCount() + (ulong)backoff_ms * 1000;
   Show(text + "; retrying in " + DoubleToString(backoff_ms / 1000.0, 2) + " s");
   backoff_ms = backoff_ms * 2 > MTGW_BACKOFF_MAX_MS ? MTGW_BACKOFF_MAX_MS : backoff_ms * 2;
  }

void CGatewaySession::Connect(void)
  {
   long login = AccountInfoInteger(ACCOUNT_LOGIN);
   if(login == 0)
     {
      Show("waiting for the terminal to log in to a trade account");
      next_attempt = GetMicrosecondCount() + 1000000;
      return;
     }
   ResetLastError();
   sock = SocketCreate();
   if(sock == INVALID_HANDLE)
     {
      Drop("socket", "cannot create a socket (error " + IntegerToString(GetLastError()) + ")");
      return;
     }
   if(!SocketConnect(sock, host, (uint)port, MTGW_CONNECT_MS))
     {
      int err = GetLastError();
      string text = "gateway not reachable at " + host + ":" + IntegerToString(port) + " (error " + IntegerToString(err) + ")";
      if(err == 4014)
         text = "sockets to " + host + " are not allowed: add " + host + " under Tools > Options > Expert Advisors";
      Drop("unreachable", text + ". Is mtgateway running?");
      return;
     }
   // a gateway that stops reading must not hold the EA inside SocketSend for ever
   if(!SocketTimeouts(sock, MTGW_SEND_TIMEOUT_MS, MTGW_READ_TIMEOUT_MS))
      Print("MT Gateway: SocketTimeouts failed (error ", IntegerToString(GetLastError()), ")");
   rx_start = 0;
   rx_end = 0;
   seq = 0;
   max_frame = MTGW_HANDSHAKE_MAX;
   last_rx = GetMicrosecondCount();
   JsonWriter w;
   w.BeginObj();
   w.KStr("t", "hello");
   w.KInt("v", MTGW_PROTOCOL);
   w.KStr("platform", "MT5");
   w.KInt("build", TerminalInfoInteger(TERMINAL_BUILD));
   w.KStr("ea_version", MTGW_EA_VERSION);
   w.KInt("login", login);
   w.KStr("server", AccountInfoString(ACCOUNT_SERVER));
   w.KStr("company", AccountInfoString(ACCOUNT_COMPANY));
   w.KStr("terminal_name", TerminalInfoString(TERMINAL_NAME));
   w.KStr("token_hint", hint);
   ea_nonce = pool.Nonce();
   w.KStr("ea_nonce", ea_nonce);
   w.EndObj();
   state = ST_HELLO;
   if(SendFrame(w.out) == MTGW_SENT)
      Show("connected to " + host + ":" + IntegerToString(port) + ", authenticating");
  }

int CGatewaySession::SendFrame(const string json)
  {
   if(sock == INVALID_HANDLE)
      return MTGW_NOT_SENT;
   uchar frame[];
   int n = BuildFrame(json, frame);
   if(n - 4 > max_frame)
      return MTGW_TOO_LARGE;
   // Each SocketSend may wait its socket's whole send timeout and return a short count (Linux
   // does, once the timeout passes with part of the data taken): a loop giving every further
   // send a fresh timeout is held for as long as the gateway reads a little within each one.
   // So the frame has one budget, and each further send waits at most what is left of it.
   ulong start = GetMicrosecondCount();
   int sent = SocketSend(sock, frame, (uint)n);
   bool shortened = false;   // the socket's send timeout is below MTGW_SEND_TIMEOUT_MS
   bool late = false;        // the budget ran out with the frame part sent
   while(sent > 0 && sent < n)
     {
      long left_ms = MTGW_SEND_TIMEOUT_MS - (long)((GetMicrosecondCount() - start) / 1000);
      // 0 would mean no timeout at all; a socket whose timeout cannot be shortened is dropped
      if(left_ms < 1 || !SocketTimeouts(sock, (uint)left_ms, MTGW_READ_TIMEOUT_MS))
        {
         late = true;
         break;
        }
      shortened = true;
      uchar rest[];
      ArrayCopy(rest, frame, 0, sent, n - sent);
      int more = SocketSend(sock, rest, (uint)(n - sent));
      sent = more > 0 ? sent + more : -1;
     }
   if(sent != n)
     {
      if(late)
         Drop("io", "connection to the gateway lost while sending (it took " + IntegerToString(sent) + " of " +
              IntegerToString(n) + " bytes in " + IntegerToString(MTGW_SEND_TIMEOUT_MS / 1000) + " s)");
      else
         Drop("io", "connection to the gateway lost while sending (error " + IntegerToString(GetLastError()) + ")");
      return MTGW_NOT_SENT;
     }
   // the frame went out; a timeout left short only makes the next frames stricter
   if(shortened && !SocketTimeouts(sock, MTGW_SEND_TIMEOUT_MS, MTGW_READ_TIMEOUT_MS))
      Print("MT Gateway: SocketTimeouts failed (error ", IntegerToString(GetLastError()), ")");
   return MTGW_SENT;
  }

int CGatewaySession::Buffered(void) const
  {
   return rx_end - rx_start;
  }

int CGatewaySession::Needed(void) const
  {
   int have = rx_end - rx_start;
   if(have < 4)
      return 4 - have;
   long body = ReadBE32(rx, rx_start);
   long need = body + 4 - have;
   if(need < 1)
      return 1;
   return need > 65536 ? 65536 : (int)need;
  }

int CGatewaySession::ReadSome(const int want, const int timeout_ms)
  {
   if(sock == INVALID_HANDLE || want <= 0)
      return -1;
   uchar tmp[];
   ResetLastError();
   int got = SocketRead(sock, tmp, (uint)want, (uint)(timeout_ms < 1 ? 1 : timeout_ms));
   int have = ArraySize(tmp);
   if(have > 0)
     {
      if(rx_start > 0 && rx_start == rx_end)
        {
         rx_start = 0;
         rx_end = 0;
        }
      if(ArraySize(rx) < rx_end + have)
         ArrayResize(rx, rx_end + have, 65536);
      ArrayCopy(rx, tmp, rx_end, 0, have);
      rx_end += have;
      last_rx = GetMicrosecondCount();
     }
   if(got <= 0)
     {
      if(!SocketIsConnected(sock))
        {
         if(have > 0)
            ProcessFrames();               // the last words before the close
         if(sock != INVALID_HANDLE && state != ST_STOPPED)
            Drop("eof", "gateway closed the connection");
        }
      return -1;
     }
   return got;
  }

void CGatewaySession::Drain(void)
  {
   for(int k = 0; k < MTGW_DRAIN_READS && sock != INVALID_HANDLE; k++)
     {
      uint avail = SocketIsReadable(sock);
      if(avail == 0)
        {
         if(!SocketIsConnected(sock))
            Drop("eof", "gateway closed the connection");
         return;
        }
      int want = Needed();
      if((uint)want > avail)
         want = (int)avail;
      if(ReadSome(want, 1) < 0)
         return;                           // readability was speculative (or the peer left)
      ProcessFrames();
     }
  }

void CGatewaySession::ProcessFrames(void)
  {
   while(sock != INVALID_HANDLE && rx_end - rx_start >= 4)
     {
      long n = ReadBE32(rx, rx_start);
      long limit = state == ST_READY ? max_frame : MTGW_HANDSHAKE_MAX;
      if(n <= 0 || n > limit)
        {
         ProtocolError("frame length " + IntegerToString(n) + " outside 1.." + IntegerToString(limit));
         return;
        }
      if(rx_end - rx_start < n + 4)
         return;
      string json = CharArrayToString(rx, rx_start + 4, (int)n, CP_UTF8);
      rx_start += (int)n + 4;
      if(rx_start == rx_end)
        {
         rx_start = 0;
         rx_end = 0;
        }
      else
         if(rx_start > 1048576)
           {
            // compact: move the unread tail to the front
            int tail = rx_end - rx_start;
            for(int i = 0; i < tail; i++)
               rx[i] = rx[rx_start + i];
            rx_start = 0;
            rx_end = tail;
           }
      Handle(json);
     }
  }

void CGatewaySession::ProtocolError(const string detail)
  {
   Print("MT Gateway: protocol error: ", detail);
   if(sock != INVALID_HANDLE)
      SendFrame("{\"t\":\"bye\",\"reason\":\"protocol_error\",\"message\":" + JsonWriter::Quote(detail) + "}");
   Drop("protocol_error", "protocol error (" + detail + ")");
  }

void CGatewaySession::Handle(const string json)
  {
   JsonDoc doc;
   if(!doc.Parse(json) || doc.Type(0) != J_OBJ)
     {
      ProtocolError("bad JSON from the gateway: " + doc.error);
      return;
     }
   string t = doc.Str(doc.Get(0, "t"));
   if(t == "ping")
     {
      SendFrame("{\"t\":\"pong\",\"ts\":" + IntegerToString(doc.Int(doc.Get(0, "ts"))) + "}");
      return;
     }
   if(t == "pong")
      return;
   if(t == "bye")
     {
      string why = doc.Str(doc.Get(0, "reason"));
      if(RefusalIsFatal(why) && state != ST_HELLO)
         Stop(why, "");
      else
         Unconfirmed(why, "gateway closed the session: " + RefusalText(why));
      return;
     }
   if(state == ST_HELLO && t == "challenge")
     {
      string nonce = doc.Str(doc.Get(0, "nonce"));
      if(!IsHex64(nonce))
        {
         ProtocolError("challenge nonce is not 64 hex characters");
         return;
        }
      long login = AccountInfoInteger(ACCOUNT_LOGIN);
      string server = AccountInfoString(ACCOUNT_SERVER);
      // Nothing is sent, and nothing obeyed, before the peer proves it holds the token's
      // record: whatever listens on the port while the gateway is down gets no further.
      string expected = DaemonProof(server_key, ea_nonce, nonce, login, server);
      if(expected == "" || !SameText(expected, doc.Str(doc.Get(0, "proof"))))
        {
         Print("MT Gateway: the process on ", host, ":", IntegerToString(port),
               " is not the gateway holding this token (its proof is wrong); nothing was sent");
         Drop("daemon_unproven", RefusalText("daemon_unproven"));
         return;
        }
      state = ST_AUTH;
      SendFrame("{\"t\":\"auth\",\"proof\":\"" +
                EaProof(client_key, stored_key, ea_nonce, nonce, login, server) + "\"}");
      return;
     }
   if(state == ST_AUTH && t == "welcome")
     {
      hb_interval_ms = (int)(doc.Num(doc.Get(0, "heartbeat_interval_s")) * 1000.0);
      hb_timeout_ms = (int)(doc.Num(doc.Get(0, "heartbeat_timeout_s")) * 1000.0);
      max_frame = doc.Int(doc.Get(0, "max_frame_bytes"));
      if(hb_interval_ms <= 0 || hb_timeout_ms <= hb_interval_ms || max_frame < MTGW_HANDSHAKE_MAX)
        {
         ProtocolError("welcome carries unusable settings");
         return;
        }
      state = ST_READY;
      sessions++;
      backoff_ms = MTGW_BACKOFF_MIN_MS;
      last_ping = GetMicrosecondCount();
      Show("connected, session " + doc.Str(doc.Get(0, "session_id")));
      return;
     }
   if((state == ST_HELLO || state == ST_AUTH) && t == "refuse")
     {
      string why = doc.Str(doc.Get(0, "reason"));
      string said = doc.Str(doc.Get(0, "message"));
      Print("MT Gateway: refused (", why, "): ", said);
      string advice = RefusalAdvice(why, said);
      if(RefusalIsFatal(why) && state == ST_AUTH)
         Stop(why, "");
      else
         Unconfirmed(why, "refused: " + RefusalText(why, said) + (advice != "" ? ". " + advice : ""));
      return;
     }
   if(state == ST_READY && t == "req")
     {
      int id_node = doc.Get(0, "id");
      int m_node = doc.Get(0, "m");
      int p_node = doc.Get(0, "p");
      if(doc.Type(id_node) != J_INT || doc.Type(m_node) != J_STR || (p_node >= 0 && doc.Type(p_node) != J_OBJ))
        {
         ProtocolError("malformed request");
         return;
        }
      last_req = GetMicrosecondCount();
      if(!Answer(doc, id_node, m_node, p_node, false))
        {
         int n = ArraySize(held_json);
         if(n >= MTGW_HELD_MAX)
            SendError(doc.Int(id_node), E_HISTORY, "too many history requests are loading; ask again shortly");
         else
           {
            ArrayResize(held_json, n + 1);
            ArrayResize(held_since, n + 1);
            held_json[n] = json;
            held_since[n] = GetMicrosecondCount();
           }
        }
      return;
     }
   ProtocolError("unexpected '" + t + "' frame");
  }

bool CGatewaySession::Answer(JsonDoc &doc, const int id_node, const int m_node, const int p_node, const bool expired)
  {
   long id = doc.Int(id_node);
   JsonWriter w;
   int code = 0;
   string message = "";
   methods.max_answer_bytes = max_frame - 256;
   string method = doc.Str(m_node);
   if(method == "show_message")
      ShowMessage(doc, p_node, w, code, message);
   else
      methods.Call(method, doc, p_node, w, code, message);
   if(code == E_DEFER)
     {
      if(!expired)
         return false;
      code = E_HISTORY;
     }
   if(code == 0 && w.bad)
     {
      code = E_INTERNAL;
      message = "non-finite number in '" + w.bad_field + "' refused (the protocol allows finite numbers only)";
     }
   if(code != 0)
     {
      SendError(id, code, message);
      return true;
     }
   if(SendFrame("{\"t\":\"res\",\"id\":" + IntegerToString(id) + ",\"r\":" + w.out + "}") == MTGW_TOO_LARGE)
      SendError(id, E_INTERNAL, "answer too large for one frame (over " + IntegerToString(max_frame) +
                " bytes); ask for fewer rows");
   return true;
  }

void CGatewaySession::SendError(const long id, const int code, const string message)
  {
   SendFrame("{\"t\":\"res\",\"id\":" + IntegerToString(id) + ",\"e\":{\"code\":" + IntegerToString(code) +
             ",\"message\":" + JsonWriter::Quote(message) + "}}");
  }

void CGatewaySession::ServeHeld(void)
  {
   for(int i = 0; i < ArraySize(held_json) && state == ST_READY; i++)
     {
      JsonDoc doc;
      if(!doc.Parse(held_json[i]))
         continue;                         // parsed once already: cannot happen
      bool expired = GetMicrosecondCount() - held_since[i] >= (ulong)history_wait_ms * 1000;
      if(!Answer(doc, doc.Get(0, "id"), doc.Get(0, "m"), doc.Get(0, "p"), expired))
         continue;
      int last = ArraySize(held_json) - 1;
      for(int k = i; k < last; k++)
        {
         held_json[k] = held_json[k + 1];
         held_since[k] = held_since[k + 1];
        }
      ArrayResize(held_json, last);
      ArrayResize(held_since, last);
      i--;
     }
  }

void CGatewaySession::Heartbeat(void)
  {
   if(sock == INVALID_HANDLE)
      return;
   ulong now = GetMicrosecondCount();
   if(state == ST_HELLO || state == ST_AUTH)
     {
      if(now - last_rx > 10000000)
         Drop("handshake_timeout", RefusalText("handshake_timeout"));
      return;
     }
   if(state != ST_READY)
      return;
   if(now - last_rx >= (ulong)hb_timeout_ms * 1000)
     {
      // What came while this program was busy (a CopyTicks that stalled for seconds) is
      // no silence: read it before judging the gateway dead.
      Drain();
      if(sock == INVALID_HANDLE || state != ST_READY)
         return;
      now = GetMicrosecondCount();
     }
   if(now - last_rx >= (ulong)hb_timeout_ms * 1000)
     {
      Drop("heartbeat_timeout", "no word from the gateway for " + IntegerToString(hb_timeout_ms) + " ms");
      return;
     }
   if(now - last_ping >= (ulong)hb_interval_ms * 1000)
     {
      last_ping = now;
      SendFrame("{\"t\":\"ping\",\"ts\":" + IntegerToString((long)(now / 1000)) + "}");
     }
  }

#endif

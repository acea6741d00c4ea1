//+------------------------------------------------------------------+
//| Crypto.mqh: SHA-256 through CryptEncode and HMAC-SHA256 built on |
//| it (RFC 2104), because MQL5 offers the hash but no HMAC; the     |
//| token's keys and both handshake proofs (docs/protocol.md sec. 4),|
//| and the entropy pool the EA's nonce comes from. The token itself |
//| never leaves the terminal.                                       |
//+------------------------------------------------------------------+
#ifndef MTGW_CRYPTO_MQH
#define MTGW_CRYPTO_MQH

#include <MTGateway\Bytes.mqh>

// SHA-256 of `data` into `digest` (32 bytes). The key argument of CryptEncode is ignored for
// hashes, so an empty key is passed. Returns false when the terminal refuses.
bool Sha256(const uchar &data[], uchar &digest[])
  {
   uchar nokey[];
   ArrayResize(digest, 0);
   int n = CryptEncode(CRYPT_HASH_SHA256, data, nokey, digest);
   return n == 32;
  }

// HMAC-SHA256(key, msg): block 64 bytes, ipad 0x36, opad 0x5c; a key longer than the block is
// hashed first. Our key is always 32 bytes, the long-key path is kept correct all the same.
bool HmacSha256(const uchar &key[], const uchar &msg[], uchar &mac[])
  {
   uchar k[];
   ArrayResize(k, 64);
   ArrayFill(k, 0, 64, 0);          // ArrayInitialize has no documented uchar[] form
   if(ArraySize(key) > 64)
     {
      uchar hashed[];
      if(!Sha256(key, hashed))
         return false;
      ArrayCopy(k, hashed, 0, 0, 32);
     }
   else
      if(ArraySize(key) > 0)
         ArrayCopy(k, key, 0, 0, ArraySize(key));
   uchar inner[];
   int n = ArraySize(msg);
   ArrayResize(inner, 64 + n);
   for(int i = 0; i < 64; i++)
      inner[i] = (uchar)(k[i] ^ 0x36);
   if(n > 0)
      ArrayCopy(inner, msg, 64, 0, n);
   uchar inner_hash[];
   if(!Sha256(inner, inner_hash))
      return false;
   uchar outer[];
   ArrayResize(outer, 96);
   for(int i = 0; i < 64; i++)
      outer[i] = (uchar)(k[i] ^ 0x5c);
   ArrayCopy(outer, inner_hash, 64, 0, 32);
   return Sha256(outer, mac);
  }

// The token's keys (docs/protocol.md sec. 4): K = SHA-256(token), client_key = HMAC(K,
// "mtgw-client-key-v1"), stored_key = SHA-256(client_key), server_key = HMAC(K,
// "mtgw-server-key-v1"). The daemon holds stored_key and server_key only.
bool TokenKeys(const string token, uchar &client_key[], uchar &stored_key[], uchar &server_key[])
  {
   uchar raw[], k[], label[];
   Utf8Bytes(token, raw);
   if(!Sha256(raw, k))
      return false;
   Utf8Bytes("mtgw-client-key-v1", label);
   if(!HmacSha256(k, label, client_key) || !Sha256(client_key, stored_key))
      return false;
   Utf8Bytes("mtgw-server-key-v1", label);
   return HmacSha256(k, label, server_key);
  }

// The hello's token_hint: first 32 hex chars of SHA-256("mtgw-token-hint-v1" LF token).
string TokenHint(const string token)
  {
   uchar raw[], digest[];
   Utf8Bytes("mtgw-token-hint-v1\n" + token, raw);
   if(!Sha256(raw, digest))
      return "";
   return StringSubstr(HexLower(digest), 0, 32);
  }

// M(role) = "mtgw-ea-auth-v2" LF role LF ea_nonce LF daemon_nonce LF login LF server.
void ProofMessage(const string role, const string ea_nonce, const string daemon_nonce,
                  const long login, const string server, uchar &msg[])
  {
   Utf8Bytes("mtgw-ea-auth-v2\n" + role + "\n" + ea_nonce + "\n" + daemon_nonce + "\n" +
             IntegerToString(login) + "\n" + server, msg);
  }

// The daemon's proof, which the challenge must carry: hex HMAC(server_key, M("daemon")).
string DaemonProof(const uchar &server_key[], const string ea_nonce, const string daemon_nonce,
                   const long login, const string server)
  {
   uchar msg[], mac[];
   ProofMessage("daemon", ea_nonce, daemon_nonce, login, server, msg);
   if(!HmacSha256(server_key, msg, mac))
      return "";
   return HexLower(mac);
  }

// The EA's proof, the auth frame's: hex of client_key XOR HMAC(stored_key, M("ea")). The
// daemon recovers client_key and checks SHA-256(client_key) == stored_key.
string EaProof(const uchar &client_key[], const uchar &stored_key[], const string ea_nonce,
               const string daemon_nonce, const long login, const string server)
  {
   uchar msg[], signature[];
   ProofMessage("ea", ea_nonce, daemon_nonce, login, server, msg);
   if(!HmacSha256(stored_key, msg, signature) || ArraySize(client_key) != 32)
      return "";
   uchar proof[];
   ArrayResize(proof, 32);
   for(int i = 0; i < 32; i++)
      proof[i] = (uchar)(client_key[i] ^ signature[i]);
   return HexLower(proof);
  }

// Whether two strings are equal, in time that depends on their length only (a proof compared
// byte by byte with an early exit would tell a fake daemon how many bytes it got right).
bool SameText(const string a, const string b)
  {
   int n = StringLen(a);
   if(n != StringLen(b) || n == 0)
      return false;
   int diff = 0;
   for(int i = 0; i < n; i++)
      diff |= (StringGetCharacter(a, i) ^ StringGetCharacter(b, i));
   return diff == 0;
  }

// Whether `text` is 64 lowercase hex characters (a nonce or a proof).
bool IsHex64(const string text)
  {
   if(StringLen(text) != 64)
      return false;
   for(int i = 0; i < 64; i++)
     {
      ushort c = StringGetCharacter(text, i);
      if(!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
         return false;
     }
   return true;
  }

//+------------------------------------------------------------------+
//| The EA's nonce. MQL has no random source of cryptographic        |
//| quality (MathRand is a 15-bit generator), and a guessable nonce  |
//| would let a process that asked the real daemon for a proof, while|
//| the daemon was up, replay it when it takes the port. So a 32-byte|
//| pool is stirred with SHA-256 at every timer pass by what the     |
//| terminal cannot predict for an outsider: the microsecond clock's |
//| jitter (several readings a pass, each after a hash), the tick    |
//| counter, the clocks, the quote. Only the jitter is secret from a |
//| local observer, a few bits a stir, so the pool is Ready() for a  |
//| first nonce after MTGW_POOL_MIN_STIRS stirs spread over          |
//| MTGW_POOL_MIN_SPAN_US; Gather() gets it there, a system clock    |
//| tick between stirs (docs/protocol.md sec. 4 counts the bits).    |
//| Each nonce is SHA-256 of the pool under its own label, and taking|
//| one stirs the pool again. An EA with a better source (MQL4's     |
//| RtlGenRandom) mixes it in with Seed().                           |
//+------------------------------------------------------------------+
#define MTGW_POOL_MIN_STIRS    64        // stirs mixed in before the first nonce
#define MTGW_POOL_MIN_SPAN_US  1000000   // from the first of them to the nonce, at least
#define MTGW_POOL_READINGS     4         // microsecond-clock readings mixed in per stir

class EntropyPool
  {
private:
   uchar             state[];
   ulong             stirs;
   ulong             first_us;

   void              Mix(const string sample);

public:
                     EntropyPool(void);

   // One sample of what changes between stirs; called at every timer pass. The microsecond
   // clock is read MTGW_POOL_READINGS times, each reading after a SHA-256, so how long the
   // hashing took on this machine, at this moment, goes in beside when the pass came.
   void              Stir(void);

   // Whether a first nonce may be taken: MTGW_POOL_MIN_STIRS stirs, the first of them at
   // least MTGW_POOL_MIN_SPAN_US ago (their timing jitter is the pool's secret).
   bool              Ready(void) const;

   // Stirs until Ready(), one system clock tick apart: Sleep(1) ends on the clock's next tick
   // (15.6 ms on Windows), so each stir reads the microsecond clock at a wake-up whose exact
   // moment the scheduler decides. About a second, once: later nonces find the pool ready.
   // False when the program is being stopped.
   bool              Gather(void);

   // Bytes from a better source, when the EA has one.
   void              Seed(const uchar &bytes[]);

   // A fresh 64-hex-character nonce.
   string            Nonce(void);
  };

void EntropyPool::Mix(const string sample)
  {
   uchar raw[], joined[], digest[];
   Utf8Bytes(sample, raw);
   int n = ArraySize(state);
   ArrayResize(joined, n + ArraySize(raw));
   if(n > 0)
      ArrayCopy(joined, state, 0, 0, n);
   ArrayCopy(joined, raw, n, 0, ArraySize(raw));
   if(Sha256(joined, digest))
      ArrayCopy(state, digest, 0, 0, 32);
  }

EntropyPool::EntropyPool(void)
  {
   stirs = 0;
   first_us = 0;
   ArrayResize(state, 32);
   ArrayFill(state, 0, 32, 0);
  }

void EntropyPool::Stir(void)
  {
   stirs++;
   if(stirs == 1)
      first_us = GetMicrosecondCount();
   MqlTick q;
   string quote = SymbolInfoTick(_Symbol, q) ? IntegerToString((long)q.time) + DoubleToString(q.bid, 8) + DoubleToString(q.ask, 8) : "";
   Mix(IntegerToString((long)GetMicrosecondCount()) + "|" + IntegerToString((long)GetTickCount()) + "|" +
       IntegerToString((long)TimeLocal()) + "|" + IntegerToString((long)TimeCurrent()) + "|" +
       IntegerToString((long)stirs) + "|" + quote);
   for(int i = 1; i < MTGW_POOL_READINGS; i++)
      Mix(IntegerToString((long)GetMicrosecondCount()));
  }

bool EntropyPool::Ready(void) const
  {
   return stirs >= MTGW_POOL_MIN_STIRS && GetMicrosecondCount() - first_us >= MTGW_POOL_MIN_SPAN_US;
  }

bool EntropyPool::Gather(void)
  {
   while(!Ready())
     {
      if(IsStopped())
         return false;
      Sleep(1);
      Stir();
     }
   return true;
  }

void EntropyPool::Seed(const uchar &bytes[])
  {
   Mix(HexLower(bytes));
  }

string EntropyPool::Nonce(void)
  {
   Stir();
   uchar raw[], joined[], digest[];
   Utf8Bytes("mtgw-ea-nonce-v1", raw);
   ArrayResize(joined, 32 + ArraySize(raw));
   ArrayCopy(joined, state, 0, 0, 32);
   ArrayCopy(joined, raw, 32, 0, ArraySize(raw));
   if(!Sha256(joined, digest))
      return "";
   Stir();
   return HexLower(digest);
  }

#endif

//+------------------------------------------------------------------+
//| Crypto.mqh: SHA-256 through CryptEncode and HMAC-SHA256 built on |
//| it (RFC 2104), because MQL5 offers the hash but no HMAC. The     |
//| token itself never leaves the terminal (docs/protocol.md sec. 4).|
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

// key = SHA-256(token as UTF-8): what the daemon keeps, and the HMAC key.
bool TokenKey(const string token, uchar &key[])
  {
   uchar raw[];
   Utf8Bytes(token, raw);
   return Sha256(raw, key);
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

// The auth frame's mac: HMAC-SHA256(key, "mtgw-ea-auth-v1" LF nonce LF login LF server).
string AuthMac(const uchar &key[], const string nonce, const long login, const string server)
  {
   uchar msg[], mac[];
   Utf8Bytes("mtgw-ea-auth-v1\n" + nonce + "\n" + IntegerToString(login) + "\n" + server, msg);
   if(!HmacSha256(key, msg, mac))
      return "";
   return HexLower(mac);
  }

#endif

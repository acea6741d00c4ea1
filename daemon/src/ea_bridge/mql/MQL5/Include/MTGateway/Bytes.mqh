//+------------------------------------------------------------------+
//| Bytes.mqh: UTF-8 without the terminating NUL, big-endian lengths,|
//| frames (docs/protocol.md section 2) and lowercase hex.           |
//+------------------------------------------------------------------+
#ifndef MTGW_BYTES_MQH
#define MTGW_BYTES_MQH

// UTF-8 bytes of a string. StringToCharArray with count -1 copies the terminating 0 as well,
// so the array is cut back to the text's own bytes (an empty string gives 0 bytes).
int Utf8Bytes(const string text, uchar &out[])
  {
   ArrayResize(out, 0);
   if(StringLen(text) == 0)
      return 0;
   int n = StringToCharArray(text, out, 0, -1, CP_UTF8);
   if(n > 0 && out[n - 1] == 0)
      n--;
   ArrayResize(out, n);
   return n;
  }

// The 4-byte big-endian unsigned length at offset `at`.
long ReadBE32(const uchar &data[], const int at)
  {
   return ((long)data[at] << 24) | ((long)data[at + 1] << 16) | ((long)data[at + 2] << 8) | (long)data[at + 3];
  }

void WriteBE32(uchar &data[], const int at, const long value)
  {
   data[at] = (uchar)((value >> 24) & 0xFF);
   data[at + 1] = (uchar)((value >> 16) & 0xFF);
   data[at + 2] = (uchar)((value >> 8) & 0xFF);
   data[at + 3] = (uchar)(value & 0xFF);
  }

// One frame: the 4-byte length, then the UTF-8 JSON. Returns the frame's size in bytes.
int BuildFrame(const string json, uchar &frame[])
  {
   uchar body[];
   int n = Utf8Bytes(json, body);
   ArrayResize(frame, n + 4);
   WriteBE32(frame, 0, n);
   if(n > 0)
      ArrayCopy(frame, body, 4, 0, n);
   return n + 4;
  }

string HexLower(const uchar &data[])
  {
   string digits = "0123456789abcdef";
   string out = "";
   for(int i = 0; i < ArraySize(data); i++)
     {
      out += StringSubstr(digits, (data[i] >> 4) & 0xF, 1);
      out += StringSubstr(digits, data[i] & 0xF, 1);
     }
   return out;
  }

#endif

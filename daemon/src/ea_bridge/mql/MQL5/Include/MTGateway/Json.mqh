//+------------------------------------------------------------------+
//| Json.mqh: the EA's own JSON reader and writer.                   |
//| Why not JAson: it writes "" as null, does not escape keys, and   |
//| its pointer API does not compile under the Linux test kit. This  |
//| one keeps nodes in an array (no pointers), keeps integers and    |
//| floats apart (the protocol's `int` is not 1.0), and refuses NaN  |
//| and Inf, which the daemon treats as a protocol error.            |
//+------------------------------------------------------------------+
#ifndef MTGW_JSON_MQH
#define MTGW_JSON_MQH

#define J_NULL  0
#define J_BOOL  1
#define J_INT   2
#define J_DBL   3
#define J_STR   4
#define J_ARR   5
#define J_OBJ   6

#define JSON_MAX_DEPTH 32

struct JNode
  {
   int               type;
   string            key;      // the member name inside an object
   string            s;        // J_STR
   long              i;        // J_INT, J_BOOL (0/1)
   double            d;        // J_DBL (and J_INT as a double)
   int               first;    // first child (arrays, objects), -1 if none
   int               next;     // next sibling, -1 if last
   int               count;    // children
  };

//+------------------------------------------------------------------+
//| A parsed document: node 0 is the root.                           |
//+------------------------------------------------------------------+
class JsonDoc
  {
public:
   JNode             nodes[];
   int               used;
   string            error;
   string            text;
   int               pos;
   int               len;

                     JsonDoc(void);

   bool              Parse(const string json);
   int               Type(const int node) const;
   int               Count(const int node) const;

   // The member `key` of object `node`, or -1.
   int               Get(const int node, const string key) const;

   // The i-th element of an array (or member of an object), or -1.
   int               At(const int node, const int index) const;

   string            Str(const int node) const;
   long              Int(const int node) const;
   double            Num(const int node) const;
   bool              IsNumber(const int node) const;

private:
   bool              Fail(const string why);
   int               NewNode(const int type);
   void              SkipWs(void);
   int               ParseValue(const int depth);
   int               ParseNumber(void);
   int               HexValue(const ushort c) const;

   // A string literal starting at the quote under `pos`; unescaped runs are copied whole.
   bool              ParseString(string &out);

   int               ParseArray(const int depth);
   int               ParseObject(const int depth);
  };

JsonDoc::JsonDoc(void)
  {
   used = 0;
   error = "";
   pos = 0;
   len = 0;
  }

bool JsonDoc::Parse(const string json)
  {
   used = 0;
   error = "";
   text = json;
   pos = 0;
   len = StringLen(json);
   if(ArraySize(nodes) < 16)
      ArrayResize(nodes, 16);
   int root = ParseValue(0);
   if(root < 0)
      return false;
   SkipWs();
   if(pos != len)
      return Fail("trailing characters");
   return true;
  }

int JsonDoc::Type(const int node) const
  {
   return node < 0 ? -1 : nodes[node].type;
  }

int JsonDoc::Count(const int node) const
  {
   return node < 0 ? 0 : nodes[node].count;
  }

int JsonDoc::Get(const int node, const string key) const
  {
   if(node < 0 || nodes[node].type != J_OBJ)
      return -1;
   for(int c = nodes[node].first; c >= 0; c = nodes[c].next)
      if(nodes[c].key == key)
         return c;
   return -1;
  }

int JsonDoc::At(const int node, const int index) const
  {
   if(node < 0)
      return -1;
   int k = 0;
   for(int c = nodes[node].first; c >= 0; c = nodes[c].next, k++)
      if(k == index)
         return c;
   return -1;
  }

string JsonDoc::Str(const int node) const
  {
   return node < 0 ? "" : nodes[node].s;
  }

long JsonDoc::Int(const int node) const
  {
   return node < 0 ? 0 : nodes[node].i;
  }

double JsonDoc::Num(const int node) const
  {
   return node < 0 ? 0.0 : nodes[node].d;
  }

bool JsonDoc::IsNumber(const int node) const
  {
   return Type(node) == J_INT || Type(node) == J_DBL;
  }

bool JsonDoc::Fail(const string why)
  {
   if(error == "")
      error = why + " at character " + IntegerToString(pos);
   return false;
  }

int JsonDoc::NewNode(const int type)
  {
   if(used >= ArraySize(nodes))
      ArrayResize(nodes, used * 2);
   nodes[used].type = type;
   nodes[used].key = "";
   nodes[used].s = "";
   nodes[used].i = 0;
   nodes[used].d = 0.0;
   nodes[used].first = -1;
   nodes[used].next = -1;
   nodes[used].count = 0;
   used++;
   return used - 1;
  }

void JsonDoc::SkipWs(void)
  {
   while(pos < len)
     {
      ushort c = StringGetCharacter(text, pos);
      if(c != ' ' && c != '\t' && c != '\n' && c != '\r')
         break;
      pos++;
     }
  }

int JsonDoc::ParseValue(const int depth)
  {
   if(depth > JSON_MAX_DEPTH)
     {
      Fail("nesting too deep");
      return -1;
     }
   SkipWs();
   if(pos >= len)
     {
      Fail("unexpected end");
      return -1;
     }
   ushort c = StringGetCharacter(text, pos);
   if(c == '{')
      return ParseObject(depth);
   if(c == '[')
      return ParseArray(depth);
   if(c == '"')
     {
      string s;
      if(!ParseString(s))
         return -1;
      int n = NewNode(J_STR);
      nodes[n].s = s;
      return n;
     }
   if(c == 't' && StringSubstr(text, pos, 4) == "true")
     {
      pos += 4;
      int n = NewNode(J_BOOL);
      nodes[n].i = 1;
      return n;
     }
   if(c == 'f' && StringSubstr(text, pos, 5) == "false")
     {
      pos += 5;
      return NewNode(J_BOOL);
     }
   if(c == 'n' && StringSubstr(text, pos, 4) == "null")
     {
      pos += 4;
      return NewNode(J_NULL);
     }
   if(c == '-' || (c >= '0' && c <= '9'))
      return ParseNumber();
   Fail("unexpected character");
   return -1;
  }

int JsonDoc::ParseNumber(void)
  {
   int start = pos;
   bool is_float = false;
   if(StringGetCharacter(text, pos) == '-')
      pos++;
   int digits = 0;
   while(pos < len)
     {
      ushort c = StringGetCharacter(text, pos);
      if(c >= '0' && c <= '9')
         digits++;
      else
         if(c == '.' || c == 'e' || c == 'E' || c == '+' || (c == '-' && pos > start))
            is_float = true;
         else
            break;
      pos++;
     }
   if(digits == 0)
     {
      Fail("bad number");
      return -1;
     }
   string lit = StringSubstr(text, start, pos - start);
   int n = NewNode(is_float ? J_DBL : J_INT);
   if(is_float)
     {
      nodes[n].d = StringToDouble(lit);
      nodes[n].i = (long)nodes[n].d;
     }
   else
     {
      if(digits > 18)
        {
         Fail("integer out of range");
         return -1;
        }
      nodes[n].i = StringToInteger(lit);
      nodes[n].d = (double)nodes[n].i;
     }
   return n;
  }

int JsonDoc::HexValue(const ushort c) const
  {
   if(c >= '0' && c <= '9')
      return c - '0';
   if(c >= 'a' && c <= 'f')
      return c - 'a' + 10;
   if(c >= 'A' && c <= 'F')
      return c - 'A' + 10;
   return -1;
  }

bool JsonDoc::ParseString(string &out)
  {
   out = "";
   pos++;
   int run = pos;
   while(pos < len)
     {
      ushort c = StringGetCharacter(text, pos);
      if(c == '"')
        {
         if(pos > run)                     // never a length of 0: MQL4 reads it as "to the end"
            out += StringSubstr(text, run, pos - run);
         pos++;
         return true;
        }
      if(c < 0x20)
         return Fail("control character in string");
      if(c != '\\')
        {
         pos++;
         continue;
        }
      if(pos > run)
         out += StringSubstr(text, run, pos - run);
      if(pos + 1 >= len)
         return Fail("bad escape");
      ushort e = StringGetCharacter(text, pos + 1);
      pos += 2;
      if(e == '"' || e == '\\' || e == '/')
         out += ShortToString(e);
      else
         if(e == 'n')
            out += "\n";
         else
            if(e == 't')
               out += "\t";
            else
               if(e == 'r')
                  out += "\r";
               else
                  if(e == 'b')
                     out += ShortToString(8);
                  else
                     if(e == 'f')
                        out += ShortToString(12);
                     else
                        if(e == 'u')
                          {
                           if(pos + 4 > len)
                              return Fail("bad \\u escape");
                           int v = 0;
                           for(int k = 0; k < 4; k++)
                             {
                              int h = HexValue(StringGetCharacter(text, pos + k));
                              if(h < 0)
                                 return Fail("bad \\u escape");
                              v = v * 16 + h;
                             }
                           pos += 4;
                           // MQL strings are UTF-16: a surrogate pair is two units, kept as sent
                           out += ShortToString((ushort)v);
                          }
                        else
                           return Fail("bad escape");
      run = pos;
     }
   return Fail("unterminated string");
  }

int JsonDoc::ParseArray(const int depth)
  {
   int node = NewNode(J_ARR);
   pos++;
   SkipWs();
   if(pos < len && StringGetCharacter(text, pos) == ']')
     {
      pos++;
      return node;
     }
   int last = -1;
   while(true)
     {
      int child = ParseValue(depth + 1);
      if(child < 0)
         return -1;
      if(last < 0)
         nodes[node].first = child;
      else
         nodes[last].next = child;
      last = child;
      nodes[node].count++;
      SkipWs();
      if(pos >= len)
        {
         Fail("unterminated array");
         return -1;
        }
      ushort c = StringGetCharacter(text, pos);
      pos++;
      if(c == ']')
         return node;
      if(c != ',')
        {
         Fail("expected ',' or ']'");
         return -1;
        }
     }
   return -1;
  }

int JsonDoc::ParseObject(const int depth)
  {
   int node = NewNode(J_OBJ);
   pos++;
   SkipWs();
   if(pos < len && StringGetCharacter(text, pos) == '}')
     {
      pos++;
      return node;
     }
   int last = -1;
   while(true)
     {
      SkipWs();
      if(pos >= len || StringGetCharacter(text, pos) != '"')
        {
         Fail("expected a member name");
         return -1;
        }
      string key;
      if(!ParseString(key))
         return -1;
      SkipWs();
      if(pos >= len || StringGetCharacter(text, pos) != ':')
        {
         Fail("expected ':'");
         return -1;
        }
      pos++;
      int child = ParseValue(depth + 1);
      if(child < 0)
         return -1;
      nodes[child].key = key;
      if(last < 0)
         nodes[node].first = child;
      else
         nodes[last].next = child;
      last = child;
      nodes[node].count++;
      SkipWs();
      if(pos >= len)
        {
         Fail("unterminated object");
         return -1;
        }
      ushort c = StringGetCharacter(text, pos);
      pos++;
      if(c == '}')
         return node;
      if(c != ',')
        {
         Fail("expected ',' or '}'");
         return -1;
        }
     }
   return -1;
  }

//+------------------------------------------------------------------+
//| A streaming writer. Commas are placed by a stack of "first item" |
//| flags; a non-finite number marks the output bad instead of being|
//| written, and the caller answers an error rather than send it.    |
//+------------------------------------------------------------------+
class JsonWriter
  {
public:
   string            out;
   bool              bad;
   string            bad_field;
   int               depth;
   int               first[];      // 1 while the current container has no item yet
   string            last_key;

                     JsonWriter(void);

   void              Reset(void);
   void              BeginObj(void);
   void              EndObj(void);
   void              BeginArr(void);
   void              EndArr(void);
   void              Key(const string name);
   void              Str(const string v);
   void              Int(const long v);
   void              Bool(const bool v);
   void              Null(void);
   void              Raw(const string json);

   // A float, always written with a decimal point so it stays a float on the other side.
   void              Dbl(const double v, const int digits = 8);

   // Shortcuts for object members.
   void              KStr(const string k, const string v);
   void              KInt(const string k, const long v);
   void              KBool(const string k, const bool v);
   void              KDbl(const string k, const double v, const int digits = 8);
   string            FormatDouble(const double v, const int digits);
   static string     Quote(const string v);

private:
   void              Sep(void);
   void              Push(void);
   void              Pop(void);
  };

JsonWriter::JsonWriter(void)
  {
   Reset();
  }

void JsonWriter::Reset(void)
  {
   out = "";
   bad = false;
   bad_field = "";
   depth = 0;
   last_key = "";
   ArrayResize(first, JSON_MAX_DEPTH + 1);
   first[0] = 1;
  }

void JsonWriter::BeginObj(void)
  {
   Sep(); out += "{"; Push();
  }

void JsonWriter::EndObj(void)
  {
   out += "}";
   Pop();
  }

void JsonWriter::BeginArr(void)
  {
   Sep();
   out += "[";
   Push();
  }

void JsonWriter::EndArr(void)
  {
   out += "]";
   Pop();
  }

void JsonWriter::Key(const string name)
  {
   Sep();
   out += Quote(name);
   out += ":";
   last_key = name;
   first[depth] = 1;       // the value that follows takes no comma
  }

void JsonWriter::Str(const string v)
  {
   Sep();
   out += Quote(v);
  }

void JsonWriter::Int(const long v)
  {
   Sep();
   out += IntegerToString(v);
  }

void JsonWriter::Bool(const bool v)
  {
   Sep();
   out += v ? "true" : "false";
  }

void JsonWriter::Null(void)
  {
   Sep();
   out += "null";
  }

void JsonWriter::Raw(const string json)
  {
   Sep();
   out += json;
  }

void JsonWriter::Dbl(const double v, const int digits)
  {
   Sep();
   out += FormatDouble(v, digits);
  }

void JsonWriter::KStr(const string k, const string v)
  {
   Key(k);
   Str(v);
  }

void JsonWriter::KInt(const string k, const long v)
  {
   Key(k);
   Int(v);
  }

void JsonWriter::KBool(const string k, const bool v)
  {
   Key(k);
   Bool(v);
  }

void JsonWriter::KDbl(const string k, const double v, const int digits)
  {
   Key(k);
   Dbl(v, digits);
  }

string JsonWriter::FormatDouble(const double v, const int digits)
  {
   if(!MathIsValidNumber(v))
     {
      if(!bad)
         bad_field = last_key;
      bad = true;
      return "0.0";
     }
   int d = digits < 1 ? 1 : (digits > 12 ? 12 : digits);
   string s = DoubleToString(v, d);
   // trim trailing zeros but keep one digit after the point: 1.15210000 -> 1.1521
   int n = StringLen(s);
   int dot = StringFind(s, ".");
   if(dot < 0)
      return s + ".0";
   while(n > dot + 2 && StringGetCharacter(s, n - 1) == '0')
      n--;
   return StringSubstr(s, 0, n);
  }

string JsonWriter::Quote(const string v)
  {
   string r = "\"";
   int n = StringLen(v);
   int run = 0;
   for(int i = 0; i < n; i++)
     {
      ushort c = StringGetCharacter(v, i);
      if(c >= 0x20 && c != '"' && c != '\\')
         continue;
      if(i > run)                          // never a length of 0 (see ParseString)
         r += StringSubstr(v, run, i - run);
      run = i + 1;
      if(c == '"')
         r += "\\\"";
      else
         if(c == '\\')
            r += "\\\\";
         else
            if(c == '\n')
               r += "\\n";
            else
               if(c == '\r')
                  r += "\\r";
               else
                  if(c == '\t')
                     r += "\\t";
                  else
                     r += "\\u00" + StringSubstr("0123456789abcdef", c >> 4, 1) + StringSubstr("0123456789abcdef", c & 0xF, 1);
     }
   if(n > run)
      r += StringSubstr(v, run, n - run);
   return r + "\"";
  }

void JsonWriter::Sep(void)
  {
   if(first[depth] == 0)
      out += ",";
   first[depth] = 0;
  }

void JsonWriter::Push(void)
  {
   if(depth < JSON_MAX_DEPTH)
      depth++;
   first[depth] = 1;
  }

void JsonWriter::Pop(void)
  {
   if(depth > 0)
      depth--;
   first[depth] = 0;
  }

#endif

// fixture.h: a minimal JSON reader for the fake terminal's fixture (MTGW_FIXTURE), which tests
// write from the Python emulator's own answers (daemon/tests/ea_mql/eakit.py write_fixture).
#pragma once
#include <fstream>
#include <sstream>

struct FJ {
  enum K { NUL, BOOL, NUM, STR, ARR, OBJ } k = NUL;
  bool b = false; double n = 0; bool is_int = false; std::string s;
  std::vector<FJ> a; std::vector<std::pair<std::string, FJ>> o;
  const FJ* get(const std::string& key) const { for (auto& kv : o) if (kv.first == key) return &kv.second; return nullptr; }
  double num() const { return k == BOOL ? (b ? 1 : 0) : n; }
  // A member's value, or `d` when the member is absent.
  double num_or(const std::string& key, double d) const { const FJ* v = get(key); return v ? v->num() : d; }
  bool bool_or(const std::string& key, bool d) const { const FJ* v = get(key); return v ? (v->k == BOOL ? v->b : v->n != 0) : d; }
  std::string str_or(const std::string& key, const std::string& d) const { const FJ* v = get(key); return v && v->k == STR ? v->s : d; }
};
struct FJParser {
  const std::string& t; size_t i = 0;
  explicit FJParser(const std::string& text) : t(text) {}
  void ws() { while (i < t.size() && isspace((unsigned char)t[i])) ++i; }
  FJ value() {
    ws(); FJ v; if (i >= t.size()) _fatal("fixture: unexpected end");
    char c = t[i];
    if (c == '{') { v.k = FJ::OBJ; ++i; ws(); if (t[i] == '}') { ++i; return v; }
      for (;;) { ws(); std::string key = str(); ws(); ++i; v.o.emplace_back(key, value()); ws(); if (t[i++] == '}') break; } return v; }
    if (c == '[') { v.k = FJ::ARR; ++i; ws(); if (t[i] == ']') { ++i; return v; }
      for (;;) { v.a.push_back(value()); ws(); if (t[i++] == ']') break; } return v; }
    if (c == '"') { v.k = FJ::STR; v.s = str(); return v; }
    if (t.compare(i, 4, "true") == 0) { v.k = FJ::BOOL; v.b = true; i += 4; return v; }
    if (t.compare(i, 5, "false") == 0) { v.k = FJ::BOOL; i += 5; return v; }
    if (t.compare(i, 4, "null") == 0) { i += 4; return v; }
    if (t.compare(i, 3, "NaN") == 0) { v.k = FJ::NUM; v.n = NAN; i += 3; return v; }  // Python's json writes it
    if (t.compare(i, 8, "Infinity") == 0) { v.k = FJ::NUM; v.n = INFINITY; i += 8; return v; }
    size_t st = i; while (i < t.size() && strchr("+-0123456789.eE", t[i])) ++i;
    std::string lit = t.substr(st, i - st); v.k = FJ::NUM; v.n = strtod(lit.c_str(), nullptr);
    v.is_int = lit.find_first_of(".eE") == std::string::npos; return v;
  }
  std::string str() {
    std::string out; std::u16string units; ++i;  // \u escapes gather as UTF-16 (pairs stay pairs)
    auto flush = [&]() { if (!units.empty()) { out += _u16_to_utf8(units); units.clear(); } };
    while (t[i] != '"') {
      if (t[i] == '\\' && t[i + 1] == 'u') { units += (char16_t)strtoul(t.substr(i + 2, 4).c_str(), nullptr, 16); i += 6; continue; }
      flush();
      if (t[i] == '\\') { ++i; char e = t[i++];
        if (e == 'n') out += '\n'; else if (e == 't') out += '\t'; else if (e == 'r') out += '\r'; else out += e; }
      else out += t[i++];
    }
    flush(); ++i; return out;
  }
};
inline FJ FixtureRead(const char* path) {
  std::ifstream f(path); if (!f) _fatal("fixture: cannot open MTGW_FIXTURE");
  std::stringstream ss; ss << f.rdbuf(); std::string text = ss.str();
  FJParser p(text); return p.value();
}

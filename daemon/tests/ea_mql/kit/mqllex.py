r"""mqllex: MQL source as tokens, the way MetaEditor's reader cuts it.

Comments are dropped; a preprocessor line (``#`` first on its line, ``\`` continuing it) is one
token whose ``parts`` are its own tokens; strings, character literals, numbers, names and
operators are told apart. What C++ would read and MQL has no form for is kept visible, so the
language gate (``mqlgate.py``) can refuse it rather than let g++ accept it:

* a character no MQL identifier or operation uses (``$``, a letter outside a-z and A-Z) is a
  token of its own (an identifier is "figures 0-9, the Latin uppercase and lowercase letters
  a-z and A-Z ... the underscore character", https://www.mql5.com/en/docs/basis/syntax/
  identifiers);
* a C++14 digit separator stays inside its number (``1'000``), not read as a character literal;
* a string or character literal with a C++ prefix (``R"(...)"``, ``u8"..."``, ``L'x'``) is one
  literal whose text starts with the prefix;
* the C++ digraphs (``<% %> <: :> %:``) are operators of their own;
* MQL's date and color constants, ``D'2024.01.02 03:04'`` and ``C'128,0,255'``, are one token
  each (kinds ``dt`` and ``clr``: https://www.mql5.com/en/docs/basis/types/integer/datetime,
  .../integer/color).

A token that came out of a macro (``mqlpre.py``) carries the macro's name in ``via``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = ["DIGRAPHS", "LexError", "Token", "tokenize"]


@dataclass(frozen=True)
class Token:
    """One token: ``kind`` is id, num, str, chr, dt, clr, op or pp (a whole preprocessor line,
    whose tokens are ``parts``); ``via`` names the macro a token was substituted from."""

    kind: str
    text: str
    line: int
    parts: tuple[Token, ...] = field(default=())
    raw: str = ""      # a preprocessor line's text after '#', continuations joined
    via: str = ""


DIGRAPHS = ("%:%:", "<%", "%>", "<:", ":>", "%:")
OPS = sorted(["->", "::", "++", "--", "<<=", ">>=", "<<", ">>", "<=", ">=", "==", "!=", "&&",
              "||", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "...", ".*", "->*",
              "##", *DIGRAPHS], key=len, reverse=True)
OP = re.compile("|".join(re.escape(o) for o in OPS))
NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[A-Za-z0-9_]*")
SEPARATED = re.compile(r"(?:'[A-Za-z0-9_]+)+")     # C++14 digit groups after a number
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: C++ string and character literal prefixes (MQL has none).
PREFIXES = frozenset({"R", "u8", "u", "U", "L", "u8R", "uR", "UR", "LR"})


class LexError(Exception):
    """A string, character literal or comment that never ends: where, and what."""

    def __init__(self, line: int, why: str) -> None:
        super().__init__(f"{line}: {why}")
        self.line = line
        self.why = why


def _raw_string(text: str, i: int, line: int) -> int:
    """The end of a C++ raw string whose ``"`` is at ``i`` (``"delim( ... )delim"``)."""
    open_ = text.find("(", i)
    if open_ < 0 or "\n" in text[i:open_]:
        raise LexError(line, "a raw string literal has no '('")
    close = text.find(")" + text[i + 1:open_] + '"', open_)
    if close < 0:
        raise LexError(line, "a literal never ends")
    return close + len(text[i + 1:open_]) + 2


def _quoted(text: str, i: int, line: int) -> int:
    """The end of the string or character literal whose quote is at ``i``."""
    c, n, j = text[i], len(text), i + 1
    while j < n and text[j] != c:
        if text[j] == "\n":
            kind = "string" if c == '"' else "character"
            raise LexError(line, f"a {kind} literal is not closed on its line")
        j += 2 if text[j] == "\\" else 1
    if j >= n:
        raise LexError(line, "a literal never ends")
    return j + 1


def _directive(text: str, i: int, line: int) -> tuple[Token, int, int]:
    """The preprocessor line starting at ``i``: its token, where it ends, its last line."""
    n, first = len(text), line
    body: list[str] = []
    while True:   # the directive runs to the end of the line, '\' continues it
        j = text.find("\n", i)
        j = n if j < 0 else j
        piece = text[i:j]
        if piece.rstrip().endswith("\\") and j < n:
            body.append(piece.rstrip()[:-1])
            i, line = j + 1, line + 1
            continue
        body.append(piece)
        break
    raw = "\n".join(body)[1:]
    parts = tuple(Token(t.kind, t.text, t.line + first - 1) for t in tokenize(raw))
    return Token("pp", "#" + (parts[0].text if parts else ""), first, parts, raw), j, line


def tokenize(text: str) -> list[Token]:
    """The tokens of one MQL file; comments are dropped, preprocessor lines kept whole."""
    return list(_tokens(text))


@lru_cache(maxsize=256)
def _tokens(text: str) -> tuple[Token, ...]:
    """:func:`tokenize`, once per text (a file is read by every program that includes it)."""
    out: list[Token] = []
    i, n, line = 0, len(text), 1
    at_line_start = True
    while i < n:
        c = text[i]
        if c == "\n":
            line, i, at_line_start = line + 1, i + 1, True
            continue
        if c in " \t\r\f\v":
            i += 1
            continue
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise LexError(line, "a /* comment never ends")
            line += text.count("\n", i, j)
            i = j + 2
            continue
        if c == "#" and at_line_start:
            tok, i, line = _directive(text, i, line)
            out.append(tok)
            continue
        at_line_start = False
        m = WORD.match(text, i)
        if m and m.group() in ("D", "C") and m.end() < n and text[m.end()] == "'":
            end = _quoted(text, m.end(), line)
            out.append(Token("dt" if m.group() == "D" else "clr", text[i:end], line))
            i = end
            continue
        if m and m.group() in PREFIXES and m.end() < n and text[m.end()] in "\"'":
            quote = m.end()
            end = (_raw_string(text, quote, line) if m.group().endswith("R") and
                   text[quote] == '"' else _quoted(text, quote, line))
            out.append(Token("str" if text[quote] == '"' else "chr", text[i:end], line))
            line += text.count("\n", i, end)
            i = end
            continue
        if c in "\"'":
            end = _quoted(text, i, line)
            out.append(Token("str" if c == '"' else "chr", text[i:end], line))
            i = end
            continue
        if m:
            out.append(Token("id", m.group(), line))
            i = m.end()
            continue
        m = NUMBER.match(text, i)
        if m and m.end() > i:
            end = m.end()
            sep = SEPARATED.match(text, end)
            if sep:
                end = sep.end()
            out.append(Token("num", text[i:end], line))
            i = end
            continue
        m = OP.match(text, i)
        op = m.group() if m else c
        out.append(Token("op", op, line))
        i += len(op)
    return tuple(out)

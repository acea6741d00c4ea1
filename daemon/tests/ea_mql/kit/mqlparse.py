"""mqlparse: the shape of MQL code the gate's rules need, read from its tokens.

Not a compiler: enough structure to say where a token stands. Every ``{`` opens a
:class:`Scope` of one kind (a class or structure body, an enumeration, a function body, a
statement block inside a function, an initializer list, a namespace); every function declarator
at global, namespace or class scope is a :class:`Function` with its :class:`Param` list (and
one inside a function body too, where MQL forbids it); :func:`declarations` lists every name the
code declares, and as what.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

try:
    from .mqllex import Token
except ImportError:          # run as a script (mqlpp.py), its folder on sys.path
    from mqllex import Token  # type: ignore[no-redef]

__all__ = ["BUILTIN_TYPES", "NOT_A_TYPE", "QUALIFIERS", "Declared", "Function", "Param",
           "Parsed", "Scope", "declarations", "skip_brackets", "template_end"]

QUALIFIERS = frozenset({"const", "static", "virtual", "input", "sinput", "extern", "public",
                        "private", "protected", "typedef"})
NOT_A_TYPE = frozenset({"return", "case", "else", "new", "delete", "sizeof", "do", "goto",
                        "throw", "if", "while", "for", "switch", "break", "continue", "default",
                        "operator", "this", "true", "false", "template", "typename", "enum",
                        "class", "struct", "interface", "union", "namespace", "dynamic_cast"})
BUILTIN_TYPES = frozenset({"bool", "char", "uchar", "short", "ushort", "int", "uint", "long",
                           "ulong", "float", "double", "string", "color", "datetime", "void"})
DECL_END = frozenset({";", ",", "=", "[", "(", ")"})
TYPE_WORDS = frozenset({"class", "struct", "interface", "union"})
PAIRS = {"(": ")", "[": "]", "{": "}"}


def skip_brackets(code: list[Token], i: int) -> int:
    """The index after the bracket group opening at ``i``."""
    want = [PAIRS[code[i].text]]
    i += 1
    while i < len(code) and want:
        t = code[i]
        if t.kind == "op" and t.text in PAIRS:
            want.append(PAIRS[t.text])
        elif t.kind == "op" and t.text == want[-1]:
            want.pop()
        i += 1
    return i


def _typeish(t: Token) -> bool:
    return t.kind == "id" and t.text not in NOT_A_TYPE and t.text not in QUALIFIERS


@dataclass(frozen=True)
class Scope:
    """A ``{ }`` and what it is: ``kind`` global, namespace, class (``tag`` class, struct,
    interface or union; ``name`` the type's), enum, function (``name`` the function's,
    ``owner`` its class), block or init."""

    kind: str
    open: int
    close: int
    parent: int
    tag: str = ""
    name: str = ""
    owner: str = ""


@dataclass(frozen=True)
class Param:
    """One parameter of a function declarator, as its tokens say."""

    tokens: tuple[Token, ...]

    @property
    def name(self) -> Token | None:
        before = self.tokens[:self._cut()]
        words = [t for t in before if t.kind == "id" and t.text not in QUALIFIERS]
        return words[-1] if len(words) >= 2 else None

    @property
    def type(self) -> Token | None:
        words = [t for t in self.tokens[:self._cut()] if t.kind == "id" and
                 t.text not in QUALIFIERS]
        return words[0] if words else None

    @property
    def ref(self) -> bool:
        return any(t.text == "&" for t in self.tokens[:self._cut()])

    @property
    def array(self) -> bool:
        return any(t.text == "[" for t in self.tokens[:self._cut()])

    @property
    def default(self) -> Token | None:
        cut = self._cut()
        return self.tokens[cut] if cut < len(self.tokens) else None

    def _cut(self) -> int:
        return next((k for k, t in enumerate(self.tokens) if t.text == "="), len(self.tokens))


@dataclass(frozen=True)
class Function:
    """A function declarator: its name, the class it belongs to (``owner``, from ``Cls::`` or
    the class body it is declared in), where it stands and its parameters."""

    name: Token
    owner: str
    scope: int                  # index of the scope it is declared in
    start: int                  # its statement's first token
    open: int                   # its parameter list's '('
    close: int                  # ... and ')'
    params: tuple[Param, ...]
    body: bool                  # defined here (a '{' follows)


@dataclass
class Parsed:
    """One file's code with its scopes, statements and function declarators."""

    code: list[Token]
    scopes: list[Scope] = field(default_factory=list)
    scope_of: list[int] = field(default_factory=list)   # innermost scope of each token
    starts: list[int] = field(default_factory=list)     # each token's statement start
    functions: list[Function] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._scan()
        self._functions()

    # -- scopes and statements ------------------------------------------------------------

    def _scan(self) -> None:
        code = self.code
        self.scopes = [Scope("global", -1, len(code), -1)]
        self.scope_of = [0] * len(code)
        self.starts = [0] * len(code)
        stack = [0]
        start = 0
        parens = 0
        for i, t in enumerate(code):
            if parens == 0 and t.kind == "op" and t.text == "{":
                self.starts[i] = start
                scope = self._classify(i, start, stack[-1])
                self.scopes.append(scope)
                self.scope_of[i] = stack[-1]
                stack.append(len(self.scopes) - 1)
                start = i + 1
                continue
            if parens == 0 and t.kind == "op" and t.text == "}":
                if len(stack) > 1:
                    opened = self.scopes[stack[-1]]
                    self.scopes[stack[-1]] = Scope(opened.kind, opened.open, i, opened.parent,
                                                   opened.tag, opened.name, opened.owner)
                    stack.pop()
                self.scope_of[i] = stack[-1]
                self.starts[i] = i
                start = i + 1
                continue
            self.scope_of[i] = stack[-1]
            self.starts[i] = start
            if t.kind == "op" and t.text in ("(", "["):
                parens += 1
            elif t.kind == "op" and t.text in (")", "]"):
                parens = max(0, parens - 1)
            elif parens == 0 and t.text == ";":
                start = i + 1
            elif parens == 0 and t.text == ":" and i > 0 and code[i - 1].text in (
                    "public", "private", "protected") and self.scopes[stack[-1]].kind == "class":
                start = i + 1

    def _classify(self, i: int, start: int, parent: int) -> Scope:
        code = self.code
        head = code[start:i]
        outer = self.scopes[parent]
        prev = code[i - 1] if i > 0 else None
        if outer.kind == "init" or prev is not None and prev.text in ("=", ",", "return"):
            return Scope("init", i, -1, parent)
        words = [t.text for t in head]
        k = 0
        if words[:1] == ["template"] and len(head) > 1 and head[1].text == "<":
            while k < len(head) and head[k].text != ">":
                k += 1
            k += 1
        if k < len(head) and head[k].text in TYPE_WORDS:
            name = head[k + 1].text if k + 1 < len(head) and head[k + 1].kind == "id" else ""
            return Scope("class", i, -1, parent, head[k].text, name)
        if "enum" in words:
            return Scope("enum", i, -1, parent)
        if words[:1] == ["namespace"]:
            return Scope("namespace", i, -1, parent, "", words[1] if len(words) > 1 else "")
        if outer.kind in ("global", "namespace", "class"):
            open_ = next((k for k, t in enumerate(head) if t.text == "("), -1)
            if open_ > 0:
                name_at = open_ - 1
                owner = outer.name if outer.kind == "class" else ""
                if name_at >= 2 and head[name_at - 1].text == "::":
                    owner = head[name_at - 2].text
                elif name_at >= 3 and head[name_at - 1].text == "~" \
                        and head[name_at - 2].text == "::":
                    owner = head[name_at - 3].text
                return Scope("function", i, -1, parent, "", head[name_at].text, owner)
        return Scope("block", i, -1, parent)

    def kind_at(self, i: int) -> str:
        return self.scopes[self.scope_of[i]].kind

    def enclosing(self, i: int, kind: str) -> Scope | None:
        """The innermost scope of ``kind`` around token ``i``."""
        s = self.scope_of[i]
        while s >= 0:
            if self.scopes[s].kind == kind:
                return self.scopes[s]
            s = self.scopes[s].parent
        return None

    # -- function declarators -------------------------------------------------------------

    def _functions(self) -> None:
        code = self.code
        seen: set[int] = set()
        for i, t in enumerate(code):
            if t.text != "(" or t.kind != "op" or i == 0:
                continue
            start = self.starts[i]
            if start in seen or any(c.text in ("(", "=") and c.kind == "op"
                                    for c in code[start:i]):
                continue
            kind = self.kind_at(i)
            name_at = i - 1
            name = code[name_at]
            if name.kind != "id" or name.text in NOT_A_TYPE:
                continue
            before = code[start:name_at]
            if before and before[-1].text in (".", "->"):
                continue                      # a method call
            if before and before[-1].text == "~":
                before = before[:-1]
            typed = [b for b in before if b.kind == "id" and b.text not in QUALIFIERS]
            scope = self.scopes[self.scope_of[i]]
            owner = scope.name if scope.kind == "class" else ""
            if len(before) >= 2 and before[-1].text == "::":
                owner = before[-2].text
                typed = [b for b in before[:-2] if b.kind == "id" and b.text not in QUALIFIERS]
            constructor = owner and name.text == owner
            if not typed and not constructor:
                continue
            close = skip_brackets(code, i) - 1
            params = _split_params(code[i + 1:close])
            if kind in ("function", "block") and not _declares(params):
                continue                      # an object built with arguments, or a call
            seen.add(start)
            after = code[close + 1] if close + 1 < len(code) else None
            body = after is not None and (after.text in ("{", ":") or after.text == "const"
                                          and close + 2 < len(code)
                                          and code[close + 2].text == "{")
            self.functions.append(Function(name, owner, self.scope_of[i], start, i, close,
                                           tuple(params), body))


def _split_params(tokens: list[Token]) -> list[Param]:
    if not tokens or [t.text for t in tokens] == ["void"]:
        return []
    out: list[list[Token]] = [[]]
    depth = 0
    for t in tokens:
        if t.kind == "op" and t.text in "([{<":
            depth += 1
        elif t.kind == "op" and t.text in ")]}>":
            depth -= 1
        if t.text == "," and depth == 0:
            out.append([])
            continue
        out[-1].append(t)
    return [Param(tuple(p)) for p in out]


def _declares(params: list[Param]) -> bool:
    """Whether a parenthesized list inside a function body declares parameters (``int x``,
    ``const T &y``, ``T z[]``) rather than passing values (``a[i]``, ``x * y``)."""
    for p in params:
        toks = p.tokens[:p._cut()]
        if not toks:
            continue
        if toks[0].text == "const" or toks[0].text in BUILTIN_TYPES:
            return True
        k = 1
        if k < len(toks) and toks[k].text == "&":
            k += 1
        if toks[0].kind == "id" and k < len(toks) and toks[k].kind == "id" and (
                k + 1 == len(toks) or [t.text for t in toks[k + 1:]] == ["[", "]"]):
            return True
    return False


# ---- what the code declares --------------------------------------------------------------


@dataclass(frozen=True)
class Declared:
    """A name the source declares, and as what."""

    token: Token
    what: str


def template_end(code: list[Token], i: int) -> int:
    """The index after the template argument list opening with '<' at ``i``, or ``i`` when
    what follows is no list of types (``a < b && c > d`` is a comparison)."""
    depth, k = 0, i
    while k < len(code):
        t = code[k]
        if t.text == "<":
            depth += 1
        elif t.text in (">", ">>"):
            depth -= 1 if t.text == ">" else 2
            if depth <= 0:
                return k + 1
        elif not (t.kind in ("id", "num") or t.text in (",", "::", "*", "&")):
            return i
        k += 1
    return i


def declarations(code: list[Token]) -> Iterator[Declared]:
    """Every name ``code`` declares: variables, parameters, members, functions, types, labels,
    enum values, template parameters (macros are read from the preprocessor lines)."""
    n = len(code)
    for i, t in enumerate(code):
        nxt = code[i + 1] if i + 1 < n else None
        prev = code[i - 1] if i > 0 else None
        if t.kind != "id":
            continue
        if t.text == "template" and nxt is not None and nxt.text == "<":
            end = template_end(code, i + 1)
            for k in range(i + 2, max(i + 2, end - 1)):
                if code[k].text in ("typename", "class") and code[k + 1].kind == "id":
                    yield Declared(code[k + 1], "template parameter")
            continue
        # class / struct / interface / union / enum NAME
        if t.text in (*TYPE_WORDS, "enum") and nxt is not None and nxt.kind == "id" \
                and not (prev is not None and prev.text in ("<", ",") and t.text == "class"):
            yield Declared(nxt, "type")
            if t.text == "enum":
                yield from _enum_values(code, i)
            continue
        # a label: NAME ':' at the start of a statement
        if nxt is not None and nxt.text == ":" and prev is not None \
                and prev.text in (";", "{", "}") and t.text not in (
                    "public", "private", "protected", "default", "case"):
            yield Declared(t, "label")
            continue
        # TYPE [<args>] [const] [&|*] NAME followed by ; , = [ ( )
        if not _typeish(t):
            continue
        j = i + 1
        if j < n and code[j].text == "<":
            j = template_end(code, j)
        if j < n and code[j].text == "const":
            j += 1
        if j < n and code[j].text in ("&", "*"):
            j += 1
        if j >= n or code[j].kind != "id" or j + 1 >= n or code[j + 1].text not in DECL_END:
            continue
        if prev is not None and (prev.text in (".", "::", "->") or prev.kind == "num"):
            continue
        if code[j].text == "operator":
            continue                  # an operation a class overloads: no name declared
        name = code[j]
        at = i - 2 if prev is not None and prev.text == "const" else i - 1
        opener = code[at] if at >= 0 else None
        in_for = opener is not None and opener.text == "(" and at > 0 and code[at - 1].text == "for"
        what = ("function" if code[j + 1].text == "(" else
                "parameter" if opener is not None and opener.text in ("(", ",") and not in_for
                else "variable")
        yield Declared(name, what)
        if what != "variable":
            continue
        yield from _more_declarators(code, j)


def _enum_values(code: list[Token], i: int) -> Iterator[Declared]:
    n = len(code)
    j = i + 2
    while j < n and code[j].text not in ("{", ";"):
        j += 1
    if j >= n or code[j].text != "{":
        return
    end = skip_brackets(code, j) - 1
    k, expect, depth = j + 1, True, 0
    while k < end:
        tk = code[k]
        if tk.text in "([{":
            depth += 1
        elif tk.text in ")]}":
            depth -= 1
        elif depth == 0 and tk.text == ",":
            expect = True
        elif expect and tk.kind == "id":
            yield Declared(tk, "enum value")
            expect = False
        else:
            expect = False
        k += 1


def _more_declarators(code: list[Token], j: int) -> Iterator[Declared]:
    """The rest of a declaration list: ', [&|*] NAME' at this depth until ';' or a closer."""
    n = len(code)
    k = j + 1
    while k < n:
        tk = code[k].text
        if tk in ("(", "[", "{"):
            k = skip_brackets(code, k)
            continue
        if tk in (";", ")", "}", "]"):
            break
        if tk == ",":
            m = k + 1
            if m < n and code[m].text in ("&", "*"):
                m += 1
            if m < n and code[m].kind == "id" and m + 1 < n and code[m + 1].text in DECL_END:
                yield Declared(code[m], "variable")
                k = m + 1
                continue
            break           # a ',' followed by a type starts the next parameter
        k += 1

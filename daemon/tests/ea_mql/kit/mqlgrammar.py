"""mqlgrammar: MQL read by its grammar, and every name it uses resolved, so what is not MQL is
refused by construction.

The gate's other rules (``mqlgate.py``) each refuse one kind of thing; this module refuses
whatever is not one of MQL's forms, so the next variant of a C++ form the rules never named is
refused without a new rule. Two checks, one pass over a program as the compiler reads it (its
includes followed, every macro expanded: ``mqlpre.py``):

* **the grammar**: a recursive-descent reader of MQL's declarations, statements and
  expressions, from the reference's *Language Basics* (https://www.mql5.com/en/docs/basis,
  https://docs.mql4.com/basis): classes, structures, unions, interfaces and enumerations;
  variables with their declarators (a reference only among parameters, an array's size a
  positive integer constant, an initializer of an expression or of braces); functions,
  methods, constructors and the operations the reference lets a class overload; function
  templates with type parameters; MQL5's ``input group "Name"``; the statements (``if``,
  ``switch`` with constant ``case`` labels, the loops, ``break``, ``continue``, ``return``,
  ``delete``) and the operations of *Operations and Expressions*, the ``typename(x)``
  operator among them. A token the grammar has no place for is a fault at that
  token, and the reader goes on after the statement. So GNU extensions (case ranges, ``?:``
  without its middle, statement expressions, compound literals), C++ forms MQL lacks
  (bit-fields, attributes, ref-qualifiers, conversion operators, variadic and non-type template
  parameters, brace initializers outside declarations, declarations in conditions, under a
  ``case`` or in a function body's function declaration) and what the reference does not settle
  (number suffixes, octal-looking numbers, adjacent strings, functional casts, default member
  initializers) are all refused, each where it stands.
* **the names**: every identifier in the code must be declared by the program (in scope: a local
  before its use, a member of the class whose method it is in, a global anywhere) or be a word
  of the language's reference (its reserved words, the terminal's functions, its constants,
  types and predefined variables: ``lang/<lang>.toml``, ``lang/<lang>.words.toml``); a name
  after ``.`` a member of one of the program's classes or of the reference's structures. So the
  C and C++ libraries' names (``exit``, ``errno``), the kit's own (``mqlstring``,
  ``FakeTerminalLoad``) and a function of the other language (``GetTickCount64`` in MQL4) are
  refused alike.

* **what the names say**, kind by kind (the gate's ``KIND_RULES``, each with MetaEditor's
  number and words): an array as a whole on either side of an assignment (120), a constant
  index outside a fixed array (218), a string, dynamic array or class object in a union (409),
  a variable named like a predefined variable (warning 64), a variable of one built-in type
  passed to a reference parameter of another (201). The reader knows each name's type, whether
  it is an array and of what fixed size, and each free function's parameters.

Besides its faults, the reader hands ``mqlpp.py`` what it found where (:class:`Facts`): the
program's input variables, array declarators and interfaces, its ``typename`` operators,
enumerations, structure copies and ``input group`` lines, so the rewriting is done by scope,
not by a line's look.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

try:
    from .mqllex import Token
except ImportError:          # run as a script (mqlpp.py), its folder on sys.path
    from mqllex import Token  # type: ignore[no-redef]

__all__ = ["ArrayFact", "EnumFact", "Facts", "GFault", "Words", "parse"]

BUILTIN = frozenset({"bool", "char", "uchar", "short", "ushort", "int", "uint", "long", "ulong",
                     "float", "double", "string", "color", "datetime", "void"})
#: MQL5's matrix and vector types (basis/types/matrix_vector): types of the grammar; the kit
#: models none of them, so g++ refuses their use.
MQL5_TYPES = frozenset({"vector", "vectorf", "vectorc", "vectorcf", "matrix", "matrixf",
                        "matrixc", "matrixcf", "complex"})
#: The operations a class may overload (basis/function/operationoverload): "binary +,-,/,*,%,
#: <<,>>,==,!=,<,>,<=,>=,=,+=,-=,/=,*=,%=,&=,|=,^=,<<=,>>=,&&,||,&,|,^; unary +,-,++,--,!,~;
#: assignment operator =; indexing operator []".
OVERLOADABLE = frozenset({"+", "-", "/", "*", "%", "<<", ">>", "==", "!=", "<", ">", "<=", ">=",
                          "=", "+=", "-=", "/=", "*=", "%=", "&=", "|=", "^=", "<<=", ">>=",
                          "&&", "||", "&", "|", "^", "++", "--", "!", "~"})
ASSIGN = frozenset({"=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "|=", "^="})
#: Binary operations by precedence, loosest first (basis/operations/rules).
BINARY: tuple[frozenset[str], ...] = (
    frozenset({"||"}), frozenset({"&&"}), frozenset({"|"}), frozenset({"^"}), frozenset({"&"}),
    frozenset({"==", "!="}), frozenset({"<", "<=", ">", ">="}), frozenset({"<<", ">>"}),
    frozenset({"+", "-"}), frozenset({"*", "/", "%"}))
PRECEDENCE = {op: level for level, ops in enumerate(BINARY) for op in ops}
QUALIFIERS = frozenset({"const", "static", "input", "sinput", "extern", "virtual"})
#: Numbers as the reference writes them: decimal and hexadecimal integers, reals with a point
#: and an exponent (basis/types/integer/integerconstants, basis/types/double). No suffix, no
#: octal (a leading 0 means nothing documented), no hexadecimal real.
NUMBER = re.compile(r"(?:0[xX][0-9A-Fa-f]+|0|[1-9]\d*|\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?"
                    r"\d+)?|\d+[eE][+-]?\d+)")
DATE = re.compile(r"(?:(\d{4})\.(\d{1,2})\.(\d{1,2})|(\d{1,2})\.(\d{1,2})\.(\d{4}))"
                  r"(?:\s+(\d{1,2})(?::(\d{1,2})(?::(\d{1,2}))?)?)?")
COLOR = re.compile(r"\s*(0[xX][0-9A-Fa-f]+|\d+)\s*,\s*(0[xX][0-9A-Fa-f]+|\d+)\s*,\s*"
                   r"(0[xX][0-9A-Fa-f]+|\d+)\s*")


@dataclass(frozen=True)
class Words:
    """The language's reference words: free names (functions, constants, types, predefined
    variables, predefined macros), the reference's types, the fields of its structures, its
    predefined variables (read-only to a program) and its functions."""

    lang: str
    free: frozenset[str]
    types: frozenset[str]
    members: frozenset[str]
    predefined: frozenset[str]
    functions: frozenset[str]
    page: str


@dataclass(frozen=True)
class GFault:
    """A fault at a token: the rule (``grammar``, ``undeclared``, ``array-size``,
    ``constant-initializer``, ``read-only``, ``zero-memory``, ``kit-macro-declaration``), why,
    and the file the token is in."""

    token: Token
    file: str
    rule: str
    why: str


@dataclass(frozen=True)
class ArrayFact:
    """An array declarator: its size's tokens (empty: unsized) and whether it has a braced
    initializer starting on its own line (None: no initializer)."""

    size: str
    init_here: bool | None


@dataclass(frozen=True)
class EnumFact:
    """An enumeration the program declares: its name, its values in order, and whether a class
    or structure holds it (the kit's EnumToString reads its names from what ``mqlpp.py``
    writes after it: ``kit/common/mql_lang.h``)."""

    name: str
    values: tuple[str, ...]
    member: bool


@dataclass
class Facts:
    """Where the program declares what ``mqlpp.py`` rewrites, by (file, line, name): its input
    variables (``input``/``sinput``, MQL4's ``extern``; the value: the qualifier), its array
    declarators, and its interfaces (the line of each ``interface`` word; each method
    declaration's first and last lines); and, by (file, line), what the kit gives MQL's meaning
    to where it stands: each ``typename(...)`` (in order on its line: "type" when it names a
    type, "expr" when it takes an expression), each enumeration (at the line of its closing
    ';'), each assignment of one structure to a structure of another type (its two names),
    and each ``input group`` line."""

    inputs: dict[tuple[str, int, str], str] = field(default_factory=dict)
    arrays: dict[tuple[str, int, str], ArrayFact] = field(default_factory=dict)
    interfaces: set[tuple[str, int]] = field(default_factory=set)
    abstract: set[tuple[str, int, int]] = field(default_factory=set)
    typenames: dict[tuple[str, int], list[str]] = field(default_factory=dict)
    enums: dict[tuple[str, int], list[EnumFact]] = field(default_factory=dict)
    struct_copies: dict[tuple[str, int], list[tuple[str, str]]] = field(default_factory=dict)
    groups: set[tuple[str, int]] = field(default_factory=set)

    def update(self, other: Facts) -> None:
        """Take ``other``'s facts too (another program's of the same tree)."""
        self.inputs.update(other.inputs)
        self.arrays.update(other.arrays)
        self.interfaces |= other.interfaces
        self.abstract |= other.abstract
        self.typenames.update(other.typenames)
        self.enums.update(other.enums)
        self.struct_copies.update(other.struct_copies)
        self.groups |= other.groups


@dataclass
class TypeInfo:
    """A type the program declares: its kind, base, members (name -> the member's type, "" for a
    method), whether a data member is protected or private, whether it is a template."""

    name: str
    kind: str
    base: str = ""
    members: dict[str, str] = field(default_factory=dict)
    hidden_data: bool = False
    template: bool = False
    arrays: dict[str, int | None] = field(default_factory=dict)   # array members: fixed size
    methods: dict[str, list[list[_Param]]] = field(default_factory=dict)  # overloads


class Bad(Exception):
    """The grammar has no place for ``token``."""

    def __init__(self, token: Token, why: str, rule: str = "grammar") -> None:
        super().__init__(why)
        self.token = token
        self.why = why
        self.rule = rule


@dataclass
class _Use:
    token: Token
    kind: str                 # free, member, qualified, type
    cls: str = ""             # the class whose method the use is in
    qualifier: str = ""       # X of X::name ("::" for ::name)
    at: int = 0


@dataclass
class _Scope:
    names: dict[str, str] = field(default_factory=dict)   # name -> type ("" unknown)
    types: set[str] = field(default_factory=set)          # template parameters
    arrays: dict[str, int | None] = field(default_factory=dict)   # array -> fixed size or None


@dataclass(frozen=True)
class _Param:
    """A parameter as a call is judged against it: its type, whether it is a reference, and
    whether it is an array."""

    type: str
    ref: bool
    array: bool


EOF_TOKEN = Token("eof", "<end of file>", 0)
LITERAL_KINDS = frozenset({"str", "chr", "dt", "clr"})


class Parser:
    """One program's tokens (each with its file and whether an ``#import`` block holds it)."""

    def __init__(self, tokens: list[Token], files: list[str], imported: list[bool],
                 words: Words, *, resolve: bool = True) -> None:
        self.t = tokens
        self.n = len(tokens)
        self.files = files
        self.imported = imported
        self.w = words
        self.resolve_names = resolve
        self.i = 0
        self.faults: list[GFault] = []
        self.types: dict[str, TypeInfo] = {}
        self.globals: dict[str, str] = {}
        self.namespaces: dict[str, TypeInfo] = {}
        self.templates: set[str] = set()          # template functions
        self.scopes: list[_Scope] = []
        self.cls = ""                             # the class of the method being read
        self.uses: list[_Use] = []
        self.zero: list[tuple[Token, str, int]] = []       # ZeroMemory(x): (x, its type, index)
        self.writes: list[tuple[Token, int]] = []          # bare names assigned
        self.constants: list[tuple[Token, int]] = []       # names in a constant initializer
        self.const_depth = 0                               # > 0: reading one
        self.in_switch = 0
        self.facts = Facts()
        self.global_arrays: dict[str, int | None] = {}            # global array -> fixed size
        self.calls: list[tuple[Token, list[tuple[Token, str] | None], int, str]] = []
        self.signatures: dict[str, list[list[_Param]]] = {}         # free function -> overloads

    # ---- tokens -------------------------------------------------------------------------------

    def peek(self, k: int = 0) -> Token:
        j = self.i + k
        return self.t[j] if j < self.n else EOF_TOKEN

    def text(self, k: int = 0) -> str:
        j = self.i + k
        return self.t[j].text if j < self.n else EOF_TOKEN.text

    def at(self, *texts: str) -> bool:
        tok = self.t[self.i] if self.i < self.n else EOF_TOKEN
        return tok.text in texts and tok.kind not in LITERAL_KINDS

    def take(self) -> Token:
        tok = self.t[self.i] if self.i < self.n else EOF_TOKEN
        self.i += 1
        return tok

    def eat(self, text: str) -> bool:
        tok = self.t[self.i] if self.i < self.n else EOF_TOKEN
        if tok.text == text and tok.kind not in LITERAL_KINDS:
            self.i += 1
            return True
        return False

    def expect(self, text: str, what: str = "") -> Token:
        if not self.at(text):
            raise Bad(self.peek(), f"'{text}' expected{what}, not '{self.text()}'")
        return self.take()

    def name(self, what: str = "a name") -> Token:
        tok = self.peek()
        if tok.kind != "id" or tok.text in KEYWORDS:
            raise Bad(tok, f"{what} expected, not '{tok.text}'")
        self.i += 1
        return tok

    def file_of(self, tok: Token) -> str:
        for k in range(min(self.i, len(self.t) - 1), -1, -1):
            if self.t[k] is tok:
                return self.files[k]
        return self.files[min(self.i, len(self.files) - 1)] if self.files else ""

    def fault(self, tok: Token, rule: str, why: str, at: int = -1) -> None:
        where = self.files[at] if 0 <= at < len(self.files) else self.file_of(tok)
        self.faults.append(GFault(tok, where, rule, why))

    # ---- scopes and names ---------------------------------------------------------------------

    def is_type(self, name: str) -> bool:
        return (name in BUILTIN or name in self.types or name in self.w.types
                or (self.w.lang == "mql5" and name in MQL5_TYPES)
                or any(s.types and name in s.types for s in self.scopes))

    def declare(self, tok: Token, kind: str, where: str, cls: TypeInfo | None = None,
                array: bool = False, size: int | None = None) -> None:
        """``tok`` declared of type ``kind`` at ``where`` (global, member, local, param), an
        array of fixed ``size`` (None: dynamic) when ``array``."""
        if where == "member" and cls is not None:
            cls.members[tok.text] = kind
            if array:
                cls.arrays[tok.text] = size
        elif where in ("local", "param") and self.scopes:
            self.scopes[-1].names[tok.text] = kind
            if array:
                self.scopes[-1].arrays[tok.text] = size
            else:
                self.scopes[-1].arrays.pop(tok.text, None)
        else:
            self.globals.setdefault(tok.text, kind)
            if array:
                self.global_arrays.setdefault(tok.text, size)

    def predefined_name(self, tok: Token, what: str) -> None:
        """A variable or parameter named like one of the language's predefined variables, which
        the terminal declares for every program: MetaEditor's warning 64 "This variable
        declaration hides predefined variable" (the compiler warnings' table), and a program
        the build takes has none."""
        if tok.text in self.w.predefined:
            self.fault(tok, "predefined-name", f"'{tok.text}' is a predefined variable of "
                       f"{self.w.lang.upper()}, declared again as a {what}: warning 64 \"This "
                       "variable declaration hides predefined variable\"")

    def array_of(self, name: str, at_cls: str) -> tuple[bool, int | None]:
        """Whether the bare ``name`` resolves to an array in a method of ``at_cls`` (a local,
        a member of the class or its bases, a global), and its fixed size (None: dynamic)."""
        for s in reversed(self.scopes):
            if name in s.names:
                return (name in s.arrays, s.arrays.get(name))
        seen: set[str] = set()
        cls = at_cls
        while cls and cls not in seen:
            seen.add(cls)
            info = self.types.get(cls)
            if info is None:
                break
            if name in info.members:
                return (name in info.arrays, info.arrays.get(name))
            cls = info.base
        if name in self.globals:
            return (name in self.global_arrays, self.global_arrays.get(name))
        return (False, None)

    def member_array(self, owner_type: str, name: str) -> tuple[bool, int | None]:
        """Whether member ``name`` of the program's type ``owner_type`` (or its bases) is an
        array, and its fixed size."""
        seen: set[str] = set()
        cls = owner_type
        while cls and cls not in seen:
            seen.add(cls)
            info = self.types.get(cls)
            if info is None:
                break
            if name in info.members:
                return (name in info.arrays, info.arrays.get(name))
            cls = info.base
        return (False, None)

    def operand_array(self, start: int, end: int) -> tuple[Token | None, int | None]:
        """When tokens ``start`` to ``end`` are a whole array (a bare name, or a chain of
        members ``a.b.c`` whose last is an array, no index after it): its last name and its
        fixed size; else (None, None)."""
        toks = self.t[start:end]
        if not toks or len(toks) % 2 == 0 or any(
                (k % 2 == 0 and (tok.kind != "id" or tok.text in KEYWORDS)) or
                (k % 2 == 1 and tok.text != ".") for k, tok in enumerate(toks)):
            return None, None
        if len(toks) == 1:
            array, size = self.array_of(toks[0].text, self.cls)
            return (toks[0], size) if array else (None, None)
        owner = self.type_of(toks[0].text, self.cls) or ""
        for k in range(2, len(toks) - 1, 2):
            owner = self.member_of(owner, toks[k].text) or ""
        array, size = self.member_array(owner, toks[-1].text)
        return (toks[-1], size) if array else (None, None)

    def local(self, name: str) -> str | None:
        for s in reversed(self.scopes):
            if name in s.names:
                return s.names[name]
        return None

    def use(self, tok: Token, kind: str = "free", qualifier: str = "") -> None:
        if kind == "free" and self.local(tok.text) is not None:
            if self.const_depth:
                self.constants.append((tok, self.i - 1))
            return
        self.uses.append(_Use(tok, kind, self.cls, qualifier, self.i - 1))
        if self.const_depth and kind == "free":
            self.constants.append((tok, self.i - 1))

    def member_of(self, cls: str, name: str) -> str | None:
        seen = set()
        while cls and cls not in seen:
            seen.add(cls)
            info = self.types.get(cls) or self.namespaces.get(cls)
            if info is None:
                return None
            if name in info.members:
                return info.members[name]
            cls = info.base
        return None

    def type_of(self, name: str, at_cls: str) -> str | None:
        """The declared type of a name as it resolves in a method of ``at_cls``."""
        found = self.local(name)
        if found is not None:
            return found
        if at_cls:
            found = self.member_of(at_cls, name)
            if found is not None:
                return found
        return self.globals.get(name)

    # ---- recovery -----------------------------------------------------------------------------

    def guarded(self, read: Callable[[], None]) -> None:
        start, scopes, cls, const, switch = (self.i, len(self.scopes), self.cls,
                                             self.const_depth, self.in_switch)
        try:
            read()
        except Bad as bad:
            self.fault(bad.token, bad.rule, bad.why)
            del self.scopes[scopes:]
            self.cls, self.const_depth, self.in_switch = cls, const, switch
            self.recover(start)

    def recover(self, start: int) -> None:
        """Skip the statement or declaration that began at ``start``: to after its ';', or
        after its body's '}', or up to the '}' that closes the scope around it."""
        i = start
        while i < len(self.t):
            tok = self.t[i]
            if tok.kind == "op" and tok.text in ("(", "[", "{"):
                i = _skip(self.t, i)
                if tok.text == "{":
                    self.i = max(i, start + 1)
                    return
                continue
            if tok.kind == "op" and tok.text == ";":
                self.i = i + 1
                return
            if tok.kind == "op" and tok.text == "}":
                self.i = max(i, start + 1) if i > start else i + 1
                return
            i += 1
        self.i = len(self.t)

    # ---- the program --------------------------------------------------------------------------

    def program(self) -> None:
        while self.i < len(self.t):
            self.guarded(self.global_declaration)
        if self.resolve_names:
            self.resolve()

    def global_declaration(self) -> None:
        if self.eat(";"):
            return
        if self.at("namespace") and self.w.lang == "mql5":
            self.namespace()
            return
        if self.at("template"):
            self.template()
            return
        if self.at("class", "struct", "union", "interface"):
            self.class_declaration()
            return
        if self.at("enum"):
            self.enum_declaration("global", None)
            return
        if self.at("input") and self.text(1) == "group" and self.w.lang == "mql5":
            # "input group "Name"": the inputs below it form a group of the program's
            # properties window (basis/variables/inputvariables); nothing for the program
            word = self.take()
            self.take()
            if self.peek().kind != "str":
                raise Bad(self.peek(), "'input group' takes the group's name in quotes")
            self.take()
            self.facts.groups.add((self.file_of(word), word.line))
            return
        if self.at("typedef"):
            self.typedef()
            return
        self.declaration("global", None)

    def namespace(self) -> None:
        self.take()
        name = self.name("a namespace's name")
        info = self.namespaces.setdefault(name.text, TypeInfo(name.text, "namespace"))
        self.expect("{")
        outer = dict(self.globals)
        while not self.at("}"):
            if self.i >= len(self.t):
                raise Bad(EOF_TOKEN, "the namespace is never closed")
            self.guarded(self.global_declaration)
        self.take()
        for key, kind in self.globals.items():
            if key not in outer:
                info.members[key] = kind

    def template(self) -> None:
        self.take()
        self.expect("<", " after 'template'")
        scope = _Scope()
        while True:
            if not self.at("typename"):
                raise Bad(self.peek(), "a template parameter is 'typename NAME' (no value "
                          "parameters, no parameter packs, no 'class')")
            self.take()
            if self.at("..."):
                raise Bad(self.peek(), "a template parameter pack: MQL's templates take types")
            scope.types.add(self.name("a template parameter's name").text)
            if self.eat(">"):
                break
            self.expect(",", " between template parameters")
        self.scopes.append(scope)
        try:
            if self.at("class", "struct"):
                info = self.class_declaration()
                if info is not None:
                    info.template = True
            else:
                self.declaration("global", None, template=True)
        finally:
            self.scopes.remove(scope)

    def typedef(self) -> None:
        # "typedef type (*name)(parameters);": a function pointer type (basis/types/typedef)
        self.take()
        self.type_name()
        self.expect("(", " (MQL's typedef declares a function pointer type)")
        self.expect("*", " (MQL's typedef declares a function pointer type)")
        name = self.name("the pointer type's name")
        self.expect(")")
        self.parameters(declare=False)
        self.expect(";")
        self.types[name.text] = TypeInfo(name.text, "typedef")

    # ---- classes and enumerations ---------------------------------------------------------

    def class_declaration(self) -> TypeInfo | None:
        word = self.take()
        name = self.name(f"the {word.text}'s name")
        if self.at(";"):
            if word.text != "class":
                raise Bad(word, f"a forward declaration of a {word.text}: MQL declares classes "
                          "ahead ('class NAME;'), not structures, unions or interfaces")
            self.take()
            self.types.setdefault(name.text, TypeInfo(name.text, "class"))
            return None
        info = TypeInfo(name.text, word.text)
        self.types[name.text] = info
        if word.text == "interface":
            self.facts.interfaces.add((self.file_of(word), word.line))
        self.eat("final")
        if self.eat(":"):
            self.eat("public") or self.eat("protected") or self.eat("private")
            base = self.name("a base class")
            if not self.is_type(base.text):
                self.use(base, "type")
            info.base = base.text
            if self.at("<"):
                self.template_arguments()
        self.expect("{", f" to open the {word.text}'s body")
        access = "private" if word.text == "class" else "public"
        while not self.at("}"):
            if self.i >= len(self.t):
                raise Bad(EOF_TOKEN, f"the {word.text} {name.text} is never closed")
            if self.at("public", "protected", "private") and self.text(1) == ":":
                access = self.take().text
                self.take()
                continue
            start = self.i

            def member(access: str = access) -> None:
                self.member(info, access)
            self.guarded(member)
            if self.i == start:
                self.i += 1
        self.take()
        self.expect(";", f" after the {word.text}'s body")
        return info

    def member(self, info: TypeInfo, access: str) -> None:
        if self.eat(";"):
            return
        if info.kind == "interface":
            self.interface_method(info)
            return
        if self.at("enum"):
            self.enum_declaration("member", info)
            return
        if self.at("class", "struct", "union", "interface"):
            self.class_declaration()
            return
        if self.at("template"):
            raise Bad(self.peek(), "a template member: MQL's class templates and function "
                      "templates are declared at global scope")
        # constructor / destructor
        if (self.text() == info.name and self.text(1) == "(") or (
                self.text() == "~" and self.text(1) == info.name):
            self.eat("~")
            self.take()
            self.parameters(declare=False)
            self.function_tail(in_class=True, ctor=True)
            return
        self.declaration("member", info, access=access)

    def interface_method(self, info: TypeInfo) -> None:
        first = self.peek()
        self.type_name()
        name = self.name("a method's name")
        if not self.at("("):
            raise Bad(self.peek(), "an interface holds methods only")
        self.parameters(declare=False)
        self.eat("const")
        end = self.expect(";", " (an interface's methods have no body)")
        info.members[name.text] = ""
        self.facts.abstract.add((self.file_of(first), first.line, end.line))

    def enum_declaration(self, where: str, cls: TypeInfo | None) -> None:
        """``enum NAME { ... }`` and the ';' after it; the enumeration is a fact at that ';'s
        line (the kit names its values for EnumToString there)."""
        self.take()
        name = self.name("the enumeration's name")
        values: list[str] = []
        self.types[name.text] = TypeInfo(name.text, "enum")
        if self.at(":"):
            raise Bad(self.peek(), "an enumeration's underlying type: MQL's enumerations are "
                      "'enum name { ... }'")
        self.expect("{", " to open the enumeration")
        while not self.at("}"):
            value = self.name("an enumeration value")
            if self.eat("="):
                self.const_depth += 1
                try:
                    self.assignment()
                finally:
                    self.const_depth -= 1
            self.declare(value, name.text, where, cls)
            values.append(value.text)
            if not self.eat(","):
                break
        self.expect("}", " to close the enumeration")
        end = self.expect(";", " after the enumeration")
        self.facts.enums.setdefault((self.file_of(end), end.line), []).append(
            EnumFact(name.text, tuple(values), where == "member"))

    # ---- types --------------------------------------------------------------------------------

    def type_name(self) -> str:
        tok = self.peek()
        if tok.kind != "id" or tok.text in KEYWORDS - BUILTIN - MQL5_TYPES:
            raise Bad(tok, f"a type expected, not '{tok.text}'")
        if not self.is_type(tok.text):
            raise Bad(tok, _undeclared(tok.text, self.w, "type"), "undeclared")
        self.i += 1
        if self.at("<") and (tok.text in self.types and self.types[tok.text].template):
            self.template_arguments()
        return tok.text

    def template_arguments(self) -> None:
        self.expect("<")
        while True:
            self.type_name()
            if self.eat(">"):
                return
            self.expect(",", " between template arguments")

    def starts_type(self, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == "id" and self.is_type(tok.text)

    # ---- declarations ---------------------------------------------------------------------------

    def declaration(self, where: str, cls: TypeInfo | None, *, access: str = "public",
                    template: bool = False) -> None:
        """A declaration at global scope, in a class, or a local one (``where``)."""
        start = self.peek()
        quals: list[Token] = []
        while self.at(*QUALIFIERS):
            quals.append(self.take())
        words = {q.text for q in quals}
        # a constructor or destructor defined after its class: NAME::NAME( or NAME::~NAME(
        if where == "global" and not quals and self.text(1) == "::" and self.text() in self.types \
                and (self.text(2) == self.text() or self.text(2) == "~"):
            self.out_of_class_constructor()
            return
        if words & {"input", "sinput"} and where != "global":
            raise Bad(quals[0], f"'{quals[0].text}' declares a program input, at global scope "
                      "only (basis/variables/inputvariables)")
        if "extern" in words and where != "global":
            raise Bad(quals[0], "'extern' at global scope only")
        if "virtual" in words and where != "member":
            raise Bad(quals[0], "'virtual' declares a method")
        if not self.starts_type():
            tok = self.peek()
            if tok.kind == "id" and tok.text not in KEYWORDS:
                raise Bad(tok, _undeclared(tok.text, self.w, "type"), "undeclared")
            raise Bad(tok, f"a declaration expected, not '{tok.text}'")
        kind = self.type_name()
        if self.at("const"):
            raise Bad(self.peek(), "'const' after the type: MQL writes it first")
        pointer = self.eat("*")
        ref = self.at("&")
        if ref:
            self.take()
        if self.at("operator"):
            self.operator(where, cls)
            return
        name = self.name("a name")
        if self.at("::") and where == "global":
            self.out_of_class_method(name)
            return
        if self.at("("):
            if where == "local" and not self.object_with_arguments():
                raise Bad(name, "a function declared inside a function: compile error 325 "
                          "\"The function can be declared only in the global scope\"")
            if where == "local":
                self.declare(name, kind, where, cls)
                self.arguments()
                self.declarators_rest(kind, where, cls, quals, start)
                return
            if where == "global" and not self.parameters_ahead():
                self.declare(name, kind, where, cls)       # an object built with arguments
                self.arguments()
                self.declarators_rest(kind, where, cls, quals, start)
                return
            if ref:
                raise Bad(name, "a function returning a reference: \"A reference cannot be "
                          "declared in this place\" (compile error 229)")
            self.declare(name, "", where, cls)
            if template:
                self.templates.add(name.text)
            params = self.function(name, where, cls)
            if where == "global" and not template:
                self.signatures.setdefault(name.text, []).append(params)
            elif where == "member" and cls is not None:
                cls.methods.setdefault(name.text, []).append(params)
            return
        if ref:
            raise Bad(name, "a reference outside a parameter list: \"A reference cannot be "
                      "declared in this place\" (compile error 229)")
        del pointer
        if where == "member" and cls is not None and access != "public" and "static" not in words:
            cls.hidden_data = True
        self.declarator_tail(name, kind, where, cls, quals)
        self.declarators_rest(kind, where, cls, quals, start)

    def declarators_rest(self, kind: str, where: str, cls: TypeInfo | None, quals: list[Token],
                         start: Token) -> None:
        while self.eat(","):
            if self.at("&"):
                raise Bad(self.peek(), "a reference outside a parameter list (compile error 229)")
            self.eat("*")
            name = self.name("a declarator")
            if self.at("("):
                if where != "local" or not self.object_with_arguments():
                    raise Bad(name, "a function declared in a list of variables")
                self.declare(name, kind, where, cls)
                self.arguments()
                continue
            self.declarator_tail(name, kind, where, cls, quals)
        self.expect(";", " after the declaration")

    def declarator_tail(self, name: Token, kind: str, where: str, cls: TypeInfo | None,
                        quals: list[Token]) -> None:
        """After a variable's name: its array sizes, its initializer."""
        words = {q.text for q in quals}
        at = self.i - 1
        file = self.files[at] if at < len(self.files) else ""
        size: list[Token] = []
        array = False
        while self.at("["):
            bracket = self.take()
            array = True
            if bracket.via or name.via:
                self.fault(name, "kit-macro-declaration", "an array declared through a macro "
                           f"({name.via or bracket.via}): the kit rewrites the declarators it "
                           "reads in the source", at)
            dim = self.array_size(where)
            size = size or dim
            self.expect("]")
        self.declare(name, kind, where, cls, array, _constant(size) if size else None)
        if where != "member":
            self.predefined_name(name, "variable")
        elif cls is not None and cls.kind == "union":
            self.union_member(name, kind, array and not size)
        init_here: bool | None = None
        if words & {"input", "sinput"} or ("extern" in words and self.w.lang == "mql4"):
            if name.via:
                self.fault(name, "kit-macro-declaration", "an input declared through a macro "
                           f"({name.via}): the kit rewrites the declarations it reads in the "
                           "source", at)
            self.facts.inputs[(file, name.line, name.text)] = (
                "input" if "input" in words else "sinput" if "sinput" in words else "extern")
        if self.at("="):
            if where == "member":
                raise Bad(self.peek(), "a member initialized in its class: MQL initializes "
                          "members in constructors (not settled by the reference)")
            self.take()
            constant = where == "global" or "static" in words
            if self.at("{"):
                init_here = self.peek().line == name.line
                self.const_depth += constant
                try:
                    self.brace_initializer()
                finally:
                    self.const_depth -= constant
            else:
                if array:
                    raise Bad(self.peek(), "an array is initialized by '{...}'")
                self.const_depth += constant
                try:
                    self.assignment()
                finally:
                    self.const_depth -= constant
        elif self.at("{"):
            raise Bad(self.peek(), "a brace initializer without '=' (C++'s 'int k{5}'): MQL "
                      "writes 'int k = 5'")
        elif self.at(":"):
            raise Bad(self.peek(), "a bit-field: MQL has none")
        if array:
            self.facts.arrays[(file, name.line, name.text)] = ArrayFact(
                " ".join(t.text for t in size), init_here)

    def array_size(self, where: str) -> list[Token]:
        """An array dimension's size: empty (a dynamic array, or a parameter), or a positive
        integer constant ("the size of an array ... must be a constant": basis/variables)."""
        toks: list[Token] = []
        depth = 0
        while not (self.at("]") and depth == 0):
            if self.i >= len(self.t):
                raise Bad(EOF_TOKEN, "the array's '[' is never closed")
            tok = self.take()
            depth += {"(": 1, ")": -1}.get(tok.text, 0) if tok.kind == "op" else 0
            toks.append(tok)
        if not toks:
            return toks
        if where == "param":
            raise Bad(toks[0], "an array parameter's size: parameters take any size, '[]'")
        value = _constant(toks)
        if value is None:
            raise Bad(toks[0], "an array's size must be an integer constant (a number, or a "
                      "macro of one), not a variable or a call: \"array size ... must be a "
                      "constant\"", "array-size")
        if value <= 0:
            raise Bad(toks[0], f"an array of size {value}: a fixed array has one element at "
                      "least (a dynamic array is '[]')", "array-size")
        return toks

    def brace_initializer(self) -> None:
        self.expect("{")
        while not self.at("}"):
            if self.at("{"):
                self.brace_initializer()
            elif self.at("."):
                raise Bad(self.peek(), "a designated initializer: MQL's initializing sequences "
                          "are positional")
            else:
                self.assignment()
            if not self.eat(","):
                break
        self.expect("}", " to close the initializer")

    def object_with_arguments(self) -> bool:
        """At '(' after a local declarator: arguments of an object's constructor (True), or a
        parameter list (a function declaration)."""
        return not self.parameters_ahead()

    def parameters_ahead(self) -> bool:
        """Whether the parenthesized list at '(' declares parameters (empty, 'void', or starting
        with a type or 'const')."""
        nxt = self.peek(1)
        if nxt.text in (")", "void", "const") and nxt.kind in ("op", "id"):
            return nxt.text != "void" or self.text(2) == ")" or nxt.text == "const"
        return nxt.kind == "id" and self.is_type(nxt.text) and self.peek(2).kind == "id" \
            or (nxt.kind == "id" and self.is_type(nxt.text) and self.text(2) in ("&", "*", "<"))

    # ---- functions ----------------------------------------------------------------------------

    def parameters(self, declare: bool = True) -> list[_Param]:
        """A parameter list (its names declared in the innermost scope when ``declare``); its
        parameters as a call is judged against them."""
        self.expect("(")
        if self.at("void") and self.text(1) == ")":
            self.take()
        scope = self.scopes[-1] if declare and self.scopes else None
        found: list[_Param] = []
        while not self.at(")"):
            if self.at("..."):
                if not self.imported[min(self.i, len(self.imported) - 1)]:
                    raise Bad(self.peek(), "'...' in a parameter list: MQL's own functions take "
                              "a fixed list (only an imported DLL function may be variadic)")
                self.take()
                break
            self.eat("const")
            kind = self.type_name()
            if self.at("*"):
                self.take()
            is_ref = self.eat("&")
            pname: Token | None = None
            if self.peek().kind == "id" and self.peek().text not in KEYWORDS:
                pname = self.take()
            elif self.peek().kind == "id":
                raise Bad(self.peek(), f"a parameter's name expected, not the reserved word "
                          f"'{self.text()}'")
            array = False
            while self.at("["):
                self.take()
                array = True
                self.array_size("param")
                self.expect("]")
            if pname is not None and array:
                self.facts.arrays[(self.file_of(pname), pname.line, pname.text)] = \
                    ArrayFact("", None)
            if self.eat("="):
                self.const_depth += 1
                try:
                    self.assignment()
                finally:
                    self.const_depth -= 1
            if pname is not None and scope is not None:
                scope.names[pname.text] = kind
                if array:
                    scope.arrays[pname.text] = None
                self.predefined_name(pname, "parameter")
            found.append(_Param(kind, is_ref, array))
            if not self.eat(","):
                break
        self.expect(")", " to close the parameter list")
        return found

    def function_tail(self, in_class: bool, ctor: bool = False) -> bool:
        """After a parameter list: ``const``, ``override``/``final``, ``= 0``, then ';' or a
        body; True when a body follows (left to read)."""
        if not ctor:
            self.eat("const")
        while self.at("override", "final"):
            self.take()
        if self.at("&", "&&", "noexcept", "throw", "->", "["):
            raise Bad(self.peek(), f"'{self.text()}' after a parameter list: MQL has no "
                      "ref-qualifiers, exception specifications, trailing return types or "
                      "attributes")
        if in_class and self.at("=") and self.text(1) == "0":
            self.take()
            self.take()
            self.expect(";")
            return False
        if self.eat(";"):
            return False
        if ctor and self.at(":"):
            return True
        if not self.at("{"):
            raise Bad(self.peek(), f"';' or a body expected after the parameter list, not "
                      f"'{self.text()}'")
        return True

    def function(self, name: Token, where: str, cls: TypeInfo | None) -> list[_Param]:
        self.scopes.append(_Scope())
        try:
            params = self.parameters()
            if self.function_tail(in_class=where == "member"):
                outer = self.cls
                self.cls = cls.name if cls is not None else ""
                try:
                    self.body()
                finally:
                    self.cls = outer
        finally:
            self.scopes.pop()
        return params

    def union_member(self, name: Token, kind: str, dynamic: bool) -> None:
        """A union's data member of a type a union cannot hold: "The following types cannot be
        the union members: dynamic arrays, strings, pointers to objects and functions, class
        objects, structure objects having constructors or destructors ..." (basis/types/
        classes; MQL5's compile error 409 "Cannot be used as a union member")."""
        info = self.types.get(kind)
        what = ("a string" if kind == "string" else "a dynamic array" if dynamic else
                f"a {info.kind} object ({kind})" if info is not None and info.kind in (
                    "class", "interface") else "")
        if what:
            number = ("compile error 409 \"Cannot be used as a union member\"; "
                      if self.w.lang == "mql5" else "")
            self.fault(name, "union-member", f"{what} in a union: {number}\"The following types "
                       "cannot be the union members: dynamic arrays, strings, pointers to "
                       "objects and functions, class objects ...\"")

    def operator(self, where: str, cls: TypeInfo | None, owner: str = "") -> None:
        word = self.take()
        op = self.peek()
        text = op.text
        if op.kind == "op" and text == "[":
            self.take()
            self.expect("]")
            text = "[]"
        elif op.kind == "op" and text in OVERLOADABLE:
            self.take()
        else:
            raise Bad(op, f"'operator {op.text}': the operations a class may overload are "
                      "binary + - / * % << >> == != < > <= >= = += -= /= *= %= &= |= ^= <<= >>= "
                      "&& || & | ^, unary + - ++ -- ! ~, and indexing [] (basis/function/"
                      "operationoverload)")
        if where not in ("member", "global") or (where == "global" and not owner):
            raise Bad(word, "an operation is overloaded by a class's method")
        if cls is not None:
            cls.members["operator" + text] = ""
        self.scopes.append(_Scope())
        try:
            self.parameters()
            if self.function_tail(in_class=where == "member"):
                outer = self.cls
                self.cls = owner or (cls.name if cls is not None else "")
                try:
                    self.body()
                finally:
                    self.cls = outer
        finally:
            self.scopes.pop()

    def out_of_class_method(self, owner: Token) -> None:
        self.take()                                        # '::'
        if owner.text not in self.types:
            raise Bad(owner, _undeclared(owner.text, self.w, "type"), "undeclared")
        if self.at("operator"):
            self.operator("global", None, owner=owner.text)
            return
        name = self.name("a method's name")
        if self.member_of(owner.text, name.text) is None:
            raise Bad(name, f"{owner.text} declares no member {name.text}", "undeclared")
        if not self.at("("):
            # a static member's definition ("has to be explicitly initialized ... in global
            # scope": basis/oop/staticmembers)
            while self.at("["):
                self.take()
                self.array_size("global")
                self.expect("]")
            if self.eat("="):
                self.const_depth += 1
                try:
                    if self.at("{"):
                        self.brace_initializer()
                    else:
                        self.assignment()
                finally:
                    self.const_depth -= 1
            self.expect(";", " after a static member's definition")
            return
        self.scopes.append(_Scope())
        try:
            self.parameters()
            if self.function_tail(in_class=False):
                outer = self.cls
                self.cls = owner.text
                try:
                    self.body()
                finally:
                    self.cls = outer
        finally:
            self.scopes.pop()

    def out_of_class_constructor(self) -> None:
        owner = self.take()
        self.take()                                        # '::'
        self.eat("~")
        if self.text() != owner.text:
            raise Bad(self.peek(), f"{owner.text}'s constructor or destructor expected")
        self.take()
        self.scopes.append(_Scope())
        outer = self.cls
        self.cls = owner.text
        try:
            self.parameters()
            if self.function_tail(in_class=False, ctor=True):
                if self.eat(":"):
                    while True:
                        member = self.name("a member or base to initialize")
                        self.use(member, "free")
                        self.arguments()
                        if not self.eat(","):
                            break
                self.body()
        finally:
            self.cls = outer
            self.scopes.pop()

    # ---- statements ---------------------------------------------------------------------------

    def body(self) -> None:
        self.expect("{")
        self.scopes.append(_Scope())
        switch = self.in_switch
        self.in_switch = 0
        try:
            while not self.at("}"):
                if self.i >= len(self.t):
                    raise Bad(EOF_TOKEN, "a body is never closed")
                self.guarded(self.statement)
            self.take()
        finally:
            self.in_switch = switch
            self.scopes.pop()

    def block(self) -> None:
        self.body()

    def statement(self) -> None:
        tok = self.peek()
        if tok.kind == "op":
            if tok.text == "{":
                self.block()
                return
            if tok.text == ";":
                self.take()
                return
        word = tok.text if tok.kind == "id" else ""
        if word == "if":
            self.take()
            self.condition("if")
            self.sub_statement()
            if self.eat("else"):
                self.sub_statement()
            return
        if word == "while":
            self.take()
            self.condition("while")
            self.sub_statement()
            return
        if word == "do":
            self.take()
            self.sub_statement()
            self.expect("while", " after a do statement")
            self.condition("while")
            self.expect(";")
            return
        if word == "for":
            self.for_statement()
            return
        if word == "switch":
            self.switch_statement()
            return
        if word in ("case", "default"):
            if not self.in_switch:
                raise Bad(tok, f"'{word}' outside a switch")
            self.take()
            if word == "case":
                self.case_label()
            self.expect(":", f" after the {word} label")
            return
        if word in ("break", "continue"):
            self.take()
            self.expect(";")
            return
        if word == "return":
            self.take()
            if not self.at(";"):
                if self.at("{"):
                    raise Bad(self.peek(), "a braced list returned: MQL returns an expression")
                self.expression()
            self.expect(";", " after the return value")
            return
        if word == "delete":
            self.take()
            self.expression()
            self.expect(";")
            return
        if word in ("goto", "try", "throw", "asm"):
            raise Bad(tok, f"'{word}': not a statement of MQL")
        if self.declaration_ahead():
            if self.in_switch == 1:
                raise Bad(tok, "a declaration directly under a case label: MQL takes it only "
                          "inside braces ('case 1: { int x = 0; ... }')")
            self.declaration("local", None)
            return
        if tok.kind == "id" and tok.text not in KEYWORDS and self.text(1) == ":":
            raise Bad(tok, "a label: MQL has no goto, and no labels")
        self.expression()
        self.expect(";", " after the expression")

    def sub_statement(self) -> None:
        """The statement an if, else or loop controls (a declaration there is its own scope)."""
        switch = self.in_switch
        self.in_switch = 0
        self.scopes.append(_Scope())
        try:
            if self.declaration_ahead():
                raise Bad(self.peek(), "a declaration as the statement an if or a loop "
                          "controls: put it in braces")
            self.statement()
        finally:
            self.scopes.pop()
            self.in_switch = switch

    def declaration_ahead(self) -> bool:
        tok = self.peek()
        if tok.kind != "id":
            return False
        if tok.text in QUALIFIERS:
            return True
        if not self.is_type(tok.text):
            nxt = self.peek(1)
            if tok.text not in KEYWORDS and nxt.kind == "id" and nxt.text not in KEYWORDS \
                    and self.text(2) in (";", "=", ",", "[", "("):
                raise Bad(tok, _undeclared(tok.text, self.w, "type"), "undeclared")
            return False
        nxt = self.peek(1)
        if nxt.text in ("::", "(", ".", "["):
            return False
        return True

    def condition(self, word: str) -> None:
        self.expect("(", f" after '{word}'")
        if self.declaration_ahead():
            raise Bad(self.peek(), f"a declaration inside '{word} ( )': its parentheses hold an "
                      "expression only")
        self.expression()
        self.expect(")", f" to close the {word} condition (one expression: no declaration, no "
                    "init-statement)")

    def for_statement(self) -> None:
        self.take()
        self.expect("(", " after 'for'")
        self.scopes.append(_Scope())
        try:
            if not self.at(";"):
                if self.declaration_ahead():
                    if self.at("static", "const", "input", "sinput", "extern"):
                        raise Bad(self.peek(), f"'{self.text()}' in a for statement's first "
                                  "clause")
                    kind = self.type_name()
                    while True:
                        if self.at("&"):
                            raise Bad(self.peek(), "a reference outside a parameter list "
                                      "(compile error 229)")
                        name = self.name("a loop variable")
                        self.declarator_tail(name, kind, "local", None, [])
                        if not self.eat(","):
                            break
                else:
                    self.expression()
            self.expect(";", " after the for statement's first clause")
            if not self.at(";"):
                if self.declaration_ahead():
                    raise Bad(self.peek(), "a declaration in a for statement's condition: it "
                              "holds an expression only")
                self.expression()
            self.expect(";", " after the for statement's condition")
            if not self.at(")"):
                self.expression()
            self.expect(")", " to close the for statement")
            self.sub_statement()
        finally:
            self.scopes.pop()

    def switch_statement(self) -> None:
        self.take()
        self.condition("switch")
        self.expect("{", " to open the switch body")
        self.scopes.append(_Scope())
        outer = self.in_switch
        self.in_switch = 1
        try:
            while not self.at("}"):
                if self.i >= len(self.t):
                    raise Bad(EOF_TOKEN, "a switch body is never closed")
                self.guarded(self.statement)
            self.take()
        finally:
            self.in_switch = outer
            self.scopes.pop()

    def case_label(self) -> None:
        """``case`` takes one constant ("case constant: operators", basis/operators/switch): an
        integer or character constant, or a constant expression of them."""
        self.const_depth += 1
        try:
            self.conditional()
        finally:
            self.const_depth -= 1
        if self.at("..."):
            raise Bad(self.peek(), "a case range ('case 1 ... 3'): a GNU extension; MQL's case "
                      "takes one constant")

    # ---- expressions --------------------------------------------------------------------------

    def expression(self) -> None:
        self.assignment()
        while self.eat(","):
            self.assignment()

    def assignment(self) -> None:
        start = self.i
        self.conditional()
        if self.peek().kind == "op" and self.text() in ASSIGN:
            end = self.i
            self.lvalue(start)
            op = self.take()
            if self.at("{"):
                raise Bad(self.peek(), "a braced list assigned: in MQL '{...}' initializes a "
                          "declaration only")
            right = self.i
            self.assignment()
            self.assigned(start, end, op, right, self.i)

    def assigned(self, start: int, end: int, op: Token, right: int, stop: int) -> None:
        """An assignment's two sides (tokens ``start``-``end`` and ``right``-``stop``): an array
        on either side as a whole is refused (MQL copies arrays with ArrayCopy; the kit's array
        would copy); one structure given to another of a different type is a fact for the kit,
        which copies it as MQL does."""
        left, _ = self.operand_array(start, end)
        source, _ = self.operand_array(right, stop)
        whole = left or source
        if whole is not None:
            self.fault(whole, "array-assignment", f"the array '{whole.text}' as an operand of "
                       f"'{op.text}': compile error 120 \"Invalid access to an array\" (an array "
                       "is copied with ArrayCopy, element by element)", start)
            return
        if op.text != "=" or end - start != 1 or stop - right != 1:
            return
        a, b = self.t[start], self.t[right]
        if a.kind != "id" or b.kind != "id" or a.line != b.line:
            return
        ta, tb = self.type_of(a.text, self.cls) or "", self.type_of(b.text, self.cls) or ""
        if ta and tb and ta != tb and self.simple_structure(ta) and self.simple_structure(tb) \
                and not self.derived(ta, tb) and not self.derived(tb, ta) \
                and self.member_of(ta, "operator=") is None:   # its own '=' decides
            self.facts.struct_copies.setdefault((self.files[start], a.line), []).append(
                (a.text, b.text))

    def simple_structure(self, name: str) -> bool:
        """A structure type: the program's (``struct``) or one of the reference's (``Mql...``);
        whether its members are all numbers the kit checks when it copies."""
        info = self.types.get(name)
        return (info.kind == "struct" and not info.template) if info is not None else (
            name in self.w.types and name.startswith("Mql"))

    def derived(self, name: str, base: str) -> bool:
        """Whether the program's type ``name`` derives from ``base``."""
        seen: set[str] = set()
        while name and name not in seen:
            seen.add(name)
            info = self.types.get(name)
            if info is None:
                return False
            if info.base == base:
                return True
            name = info.base
        return False

    def lvalue(self, start: int) -> None:
        """The target of an assignment or ++/--, when it is one bare name: a predefined
        variable is read-only to the program."""
        if self.i == start + 1 and self.t[start].kind == "id":
            self.writes.append((self.t[start], start))

    def conditional(self) -> None:
        self.binary(0)
        if self.at("?"):
            self.take()
            if self.at(":"):
                raise Bad(self.peek(), "'?:' without its middle operand: a GNU extension; MQL's "
                          "'?' takes three operands")
            self.expression()
            self.expect(":", " in the conditional operation")
            self.assignment_no_comma()

    def assignment_no_comma(self) -> None:
        self.assignment()

    def binary(self, level: int) -> None:
        """Operands joined by binary operations of precedence ``level`` or tighter, each
        operation left to right (precedence climbing over :data:`BINARY`)."""
        self.unary()
        while True:
            tok = self.peek()
            tighter = PRECEDENCE.get(tok.text) if tok.kind == "op" else None
            if tighter is None or tighter < level:
                return
            self.take()
            self.binary(tighter + 1)

    def unary(self) -> None:
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("!", "~", "-", "+"):
            self.take()
            self.unary()
            return
        if tok.kind == "op" and tok.text in ("++", "--"):
            self.take()
            start = self.i
            self.unary()
            self.lvalue(start)
            return
        if tok.kind == "op" and tok.text in ("&", "*", "&&"):
            raise Bad(tok, f"'{tok.text}' before an operand: MQL takes no address and "
                      "dereferences none (GetPointer, and '.' through an object pointer)")
        if tok.kind == "op" and tok.text == "(" and self.cast_ahead():
            self.take()
            self.type_name()
            self.eat("*")
            self.expect(")", " to close the cast")
            if self.at("{"):
                raise Bad(self.peek(), "a compound literal ('(T){...}'): a GNU extension; MQL "
                          "initializes a declared variable")
            self.unary()
            return
        self.postfix()

    def cast_ahead(self) -> bool:
        k = 1
        tok = self.peek(k)
        if tok.kind != "id" or not self.is_type(tok.text):
            return False
        k += 1
        if self.text(k) == "*":
            k += 1
        return self.text(k) == ")" and self.peek(k).kind == "op"

    def postfix(self) -> None:
        start = self.i
        head = self.primary()
        zero = head is not None and head.text == "ZeroMemory"
        while True:
            tok = self.peek()
            if tok.kind != "op":
                return
            if tok.text == "(":
                arg_at = self.i + 1
                ranges = self.arguments()
                if zero and self.t[arg_at].kind == "id" and self.t[arg_at + 1].text == ")":
                    arg = self.t[arg_at]
                    self.zero.append((arg, self.type_of(arg.text, self.cls) or "", arg_at))
                if head is not None and start == arg_at - 2:
                    self.call(head, ranges)
                elif arg_at - 2 > start and self.t[arg_at - 3].text == ".":
                    owner = self.chain_type(start, arg_at - 3)
                    if owner:
                        self.call(self.t[arg_at - 2], ranges, owner)
                zero = False
            elif tok.text == "[":
                array, size = self.operand_array(start, self.i)
                self.take()
                first = self.i
                self.expression()
                self.index(array, size, first, self.i)
                self.expect("]")
            elif tok.text == ".":
                self.take()
                member = self.name("a member's name after '.'")
                self.use(member, "member")
            elif tok.text in ("++", "--"):
                if self.i == start + 1:
                    self.lvalue(start)
                self.take()
            elif tok.text in ("->", ".*", "->*"):
                raise Bad(tok, f"'{tok.text}' is not an MQL operation: members are reached with "
                          "'.'")
            else:
                return

    def index(self, array: Token | None, size: int | None, first: int, stop: int) -> None:
        """An index of a fixed-size array: a constant one outside the array's size is refused
        as MetaEditor refuses it (the kit checks indexes only when the program runs)."""
        if array is None or size is None:
            return
        value = _constant(self.t[first:stop])
        if value is not None and not 0 <= value < size:
            self.fault(self.t[first], "array-index", f"index {value} of '{array.text}', an array "
                       f"of {size}: compile error 218 \"Index out of array range\"", first)

    def chain_type(self, start: int, end: int) -> str:
        """The program's type of the name chain ``a.b.c`` at tokens ``start`` to ``end`` (""
        when it is no such chain or a type is not known)."""
        toks = self.t[start:end]
        if not toks or len(toks) % 2 == 0 or any(
                (k % 2 == 0 and tok.kind != "id") or (k % 2 == 1 and tok.text != ".")
                for k, tok in enumerate(toks)):
            return ""
        owner = self.type_of(toks[0].text, self.cls) or ""
        for k in range(2, len(toks), 2):
            owner = self.member_of(owner, toks[k].text) or ""
        return owner if owner in self.types else ""

    def call(self, head: Token, ranges: list[tuple[int, int]], owner: str = "") -> None:
        """A call of a free function or a method (``owner``: the object's type) by name: each
        argument that is one variable of a built-in type, kept to judge against the function's
        reference parameters once every function is known (:meth:`check_calls`)."""
        if not owner and self.local(head.text) is not None:
            return
        if not owner and self.cls and self.member_of(self.cls, head.text) is not None:
            owner = self.cls
        args: list[tuple[Token, str] | None] = []
        for a, b in ranges:
            tok = self.t[a] if b - a == 1 else None
            kind = self.type_of(tok.text, self.cls) if tok is not None and tok.kind == "id" \
                else None
            array, _ = self.array_of(tok.text, self.cls) if tok is not None else (False, None)
            args.append((tok, kind) if tok is not None and kind in BUILTIN and not array
                        else None)
        if any(args):
            self.calls.append((head, args, self.i - 1, owner))

    def methods_of(self, owner: str, name: str) -> list[list[_Param]]:
        """The overloads of method ``name`` the program's type ``owner`` (or its nearest base
        declaring it) has."""
        seen: set[str] = set()
        while owner and owner not in seen:
            seen.add(owner)
            info = self.types.get(owner)
            if info is None:
                return []
            if name in info.methods:
                return info.methods[name]
            owner = info.base
        return []

    def check_calls(self) -> None:
        """A variable of one built-in type passed where every overload of the function takes a
        reference to another: "Variable of the same type to pass by reference expected"
        (compile error 201; C++ would bind a const reference to a converted temporary)."""
        for head, args, at, owner in self.calls:
            found = self.methods_of(owner, head.text) if owner else \
                self.signatures.get(head.text, [])
            overloads = [p for p in found if len(p) >= len(args)]
            if not overloads:
                continue
            bad: list[tuple[Token, str, str]] = []
            for params in overloads:
                miss = next(((arg[0], arg[1], p.type) for arg, p in zip(args, params,
                                                                        strict=False)
                             if arg is not None and p.ref and not p.array and p.type in BUILTIN
                             and p.type != arg[1]), None)
                if miss is None:
                    break
                bad.append(miss)
            else:
                tok, have, want = bad[0]
                self.fault(tok, "reference-type", f"'{tok.text}' ({have}) passed to {head.text}'s "
                           f"reference parameter of type {want}: compile error 201 \"Variable of "
                           "the same type to pass by reference expected\"", at)

    def arguments(self) -> list[tuple[int, int]]:
        """An argument list; where each argument's tokens start and end."""
        self.expect("(")
        ranges: list[tuple[int, int]] = []
        while not self.at(")"):
            if self.at("{"):
                raise Bad(self.peek(), "a braced list as an argument: in MQL '{...}' "
                          "initializes a declaration only")
            first = self.i
            self.assignment()
            ranges.append((first, self.i))
            if not self.eat(","):
                break
        self.expect(")", " to close the argument list")
        return ranges

    def primary(self) -> Token | None:
        tok = self.peek()
        if tok.kind == "num":
            self.take()
            if not NUMBER.fullmatch(tok.text):
                raise Bad(tok, "not a number as MQL writes one (decimal or 0x hexadecimal "
                          "integers, reals with '.' and 'e'): no suffix, no octal, no "
                          "hexadecimal real", "number-form")
            return None
        if tok.kind == "str":
            self.take()
            if self.peek().kind == "str":
                raise Bad(self.peek(), "adjacent string constants: the reference joins strings "
                          "with '+' (StringConcatenate); not settled for literals")
            return None
        if tok.kind == "chr":
            self.take()
            return None
        if tok.kind == "dt":
            self.take()
            why = datetime_fault(tok.text)
            if why:
                raise Bad(tok, why, "literal")
            return None
        if tok.kind == "clr":
            self.take()
            why = color_fault(tok.text)
            if why:
                raise Bad(tok, why, "literal")
            return None
        if tok.kind == "op":
            if tok.text == "(":
                self.take()
                if self.at("{"):
                    raise Bad(self.peek(), "a statement expression ('({ ... })'): a GNU "
                              "extension")
                self.expression()
                self.expect(")")
                return None
            if tok.text == "::":
                self.take()
                name = self.name("a global name after '::'")
                self.use(name, "qualified", "::")
                return name
            if tok.text == "[":
                raise Bad(tok, "a C++ lambda or attribute: MQL has none")
            raise Bad(tok, f"an operand expected, not '{tok.text}'")
        if tok.kind != "id":
            raise Bad(tok, f"an operand expected, not '{tok.text}'")
        word = tok.text
        if word in ("true", "false", "NULL", "this"):
            self.take()
            return None
        if word == "sizeof":
            self.take()
            self.expect("(", " after sizeof")
            if self.starts_type() and self.text(1) == ")":
                self.type_name()
            else:
                self.expression()
            self.expect(")")
            return None
        if word == "new":
            self.take()
            kind = self.peek()
            self.type_name()
            if kind.text in BUILTIN or kind.text in MQL5_TYPES:
                raise Bad(kind, "'new' of a built-in type: \"The new operator can be applied "
                          "only to class objects\" (basis/operators/newoperator)")
            if self.at("("):
                self.arguments()
            if self.at("["):
                raise Bad(self.peek(), "'new' of an array: MQL creates one object")
            return None
        if word == "typename":
            self.typename_operator()
            return None
        if word == "dynamic_cast":
            self.take()
            self.expect("<")
            self.type_name()
            self.expect("*", " (dynamic_cast converts object pointers)")
            self.expect(">")
            self.expect("(")
            self.expression()
            self.expect(")")
            return None
        if word in KEYWORDS:
            raise Bad(tok, f"an operand expected, not the reserved word '{word}'")
        self.take()
        if self.at("::"):
            self.take()
            if self.at("~"):
                raise Bad(self.peek(), "a destructor called by name")
            member = self.name(f"a member of {word} after '::'")
            if word in self.types or word in self.namespaces:
                self.uses.append(_Use(member, "qualified", self.cls, word, self.i - 1))
            else:
                self.use(tok, "free")
                self.uses.append(_Use(member, "qualified", self.cls, word, self.i - 1))
            return member
        if self.is_type(word) and word not in self.globals:
            if self.at("("):
                raise Bad(tok, f"'{word}(...)': a functional cast or a temporary object; MQL "
                          f"casts with '({word})' (functional casts are not settled by the "
                          "reference)")
            raise Bad(tok, f"the type '{word}' where an operand belongs")
        if word in self.templates and self.at("<"):
            self.template_arguments()
        self.use(tok, "free")
        return tok

    def typename_operator(self) -> None:
        """``typename(x)``: "the built-in operator typename, which returns a string with the
        type name of the passed argument" (MQL5 Book, Template header; the reference's
        math/mathswap example writes ``typename(T)``): a type, or an expression."""
        tok = self.take()
        self.expect("(", " after the typename operator")
        back = self.i
        form = "expr"
        if self.starts_type() and not (self.local(self.text()) is not None
                                       or self.text() in self.globals):
            try:
                self.type_name()
                form = "type" if self.at(")") else "expr"
            except Bad:
                form = "expr"
            if form == "expr":
                self.i = back
        if form == "expr":
            self.expression()
        self.expect(")", " to close the typename operator")
        self.facts.typenames.setdefault((self.file_of(tok), tok.line), []).append(form)

    # ---- names --------------------------------------------------------------------------------

    def resolve(self) -> None:
        members = {m for info in (*self.types.values(), *self.namespaces.values())
                   for m in info.members}
        for u in self.uses:
            name = u.token.text
            if u.kind == "member":
                if name in members or name in self.w.members:
                    continue
                self.fault(u.token, "undeclared", f"'{name}' after '.': a member of none of the "
                           f"program's classes or structures, nor of {self.w.lang.upper()}'s "
                           "structures", u.at)
                continue
            if u.kind == "qualified":
                if u.qualifier == "::":
                    if name in self.globals or name in self.w.free:
                        continue
                elif self.member_of(u.qualifier, name) is not None:
                    continue
                elif u.qualifier in self.types and self.types[u.qualifier].kind == "enum" \
                        and self.globals.get(name) == u.qualifier:
                    continue
                owner = "the global scope" if u.qualifier == "::" else u.qualifier
                self.fault(u.token, "undeclared", f"'{name}' is not declared in {owner}", u.at)
                continue
            if u.kind == "type":
                if self.is_type(name):
                    continue
                self.fault(u.token, "undeclared", _undeclared(name, self.w, "type"), u.at)
                continue
            if (u.cls and self.member_of(u.cls, name) is not None) or name in self.globals \
                    or name in self.w.free or name in self.types or name in self.namespaces:
                continue
            self.fault(u.token, "undeclared", _undeclared(name, self.w, "name"), u.at)
        self.check_writes()
        self.check_constants()
        self.check_zero()
        self.check_calls()

    def program_name(self, name: str, cls: str) -> bool:
        return name in self.globals or bool(cls and self.member_of(cls, name) is not None)

    def check_writes(self) -> None:
        for tok, at in self.writes:
            if tok.text in self.w.predefined and self.local(tok.text) is None \
                    and tok.text not in self.globals:
                self.fault(tok, "read-only", f"{tok.text} is a predefined variable: the program "
                           "reads it (the terminal sets it; ResetLastError, SetUserError)", at)

    def check_constants(self) -> None:
        seen: set[int] = set()
        for tok, at in self.constants:
            if at in seen:
                continue
            seen.add(at)
            name = tok.text
            nxt = self.t[at + 1].text if at + 1 < len(self.t) else ""
            kind = self.globals.get(name)
            enum_value = kind is not None and self.types.get(kind, TypeInfo("", "")).kind == "enum"
            if enum_value or (name not in self.globals and name in self.w.free
                              and name not in self.w.functions and name not in self.w.predefined
                              and nxt != "("):
                continue
            if name in self.w.functions and nxt == "(" and name not in self.globals:
                what = "a call"
            elif nxt == "(":
                what = "a call"
            else:
                what = "a variable"
            self.fault(tok, "constant-initializer", f"a global or static variable (or a case "
                       f"label, a default value) given {what} ({name}): \"Global and static "
                       "variables can be initialized only by a constant of the corresponding "
                       "type or a constant expression\"", at)

    def check_zero(self) -> None:
        for tok, kind, at in self.zero:
            info = self.types.get(kind)
            if info is None or info.kind not in ("class", "struct", "union"):
                continue
            if info.base or info.hidden_data:
                why = "inheritance" if info.base else "protected or private members"
                self.fault(tok, "zero-memory", f"ZeroMemory of a {info.kind} with {why} "
                           f"({kind}): compile error 226 \"ZeroMemory() is not allowed for "
                           "objects with protected members or inheritance\"", at)


KEYWORDS = frozenset({
    *BUILTIN, "enum", "struct", "class", "union", "interface", "const", "private", "protected",
    "public", "virtual", "extern", "input", "sinput", "static", "break", "dynamic_cast",
    "return", "case", "else", "sizeof", "continue", "for", "switch", "default", "if", "while",
    "delete", "new", "do", "operator", "false", "this", "template", "true", "typename",
    "typedef", "namespace", "NULL", "override", "final"})


def _skip(t: list[Token], i: int) -> int:
    pairs = {"(": ")", "[": "]", "{": "}"}
    want = [pairs[t[i].text]]
    i += 1
    while i < len(t) and want:
        tok = t[i]
        if tok.kind == "op" and tok.text in pairs:
            want.append(pairs[tok.text])
        elif tok.kind == "op" and tok.text == want[-1]:
            want.pop()
        i += 1
    return i


def _constant(toks: list[Token]) -> int | None:
    """The value of an integer constant expression of numbers and + - * / % << >> ( ), or
    None."""
    text = ""
    for tok in toks:
        if tok.kind == "num" and re.fullmatch(r"0[xX][0-9A-Fa-f]+|0|[1-9]\d*", tok.text):
            text += str(int(tok.text, 0))
        elif tok.kind == "op" and tok.text in ("+", "-", "*", "/", "%", "<<", ">>", "(", ")"):
            text += {"/": "//"}.get(tok.text, tok.text)
        else:
            return None
    try:
        value = eval(text, {"__builtins__": {}}, {})  # noqa: S307 - digits and operators only
    except (SyntaxError, ZeroDivisionError, ValueError):
        return None
    return value if isinstance(value, int) else None


def _undeclared(name: str, w: Words, what: str) -> str:
    kind = "a type" if what == "type" else "a name"
    return (f"'{name}' is {kind} neither the program declares (before this, in scope) nor "
            f"{w.lang.upper()}'s reference has (its functions, constants, types and predefined "
            "variables)")


def datetime_fault(text: str) -> str:
    """Why a ``D'...'`` constant is not one the kit gives its value, or ""."""
    body = text[2:-1].strip()
    if not body or re.fullmatch(r"\d{1,2}(?::\d{1,2}){0,2}", body):
        return (f"{text}: a date constant without a date means the compilation date "
                "(MetaEditor warns); the kit gives no compilation date")
    m = DATE.fullmatch(body)
    if m is None:
        return f"{text}: not a date constant as basis/types/integer/datetime writes them"
    return ""


def datetime_value(text: str) -> int:
    """The seconds since 1970 of a ``D'...'`` constant (basis/types/integer/datetime: "yyyy.mm.dd
    [hh[:mm[:ss]]]" or "dd.mm.yyyy [...]")."""
    import calendar
    m = DATE.fullmatch(text[2:-1].strip())
    assert m is not None
    year, month, day = ((m.group(1), m.group(2), m.group(3)) if m.group(1)
                        else (m.group(6), m.group(5), m.group(4)))
    hms = [int(x or 0) for x in (m.group(7), m.group(8), m.group(9))]
    return calendar.timegm((int(year), int(month), int(day), *hms, 0, 0, 0))


def color_fault(text: str) -> str:
    m = COLOR.fullmatch(text[2:-1])
    if m is None or any(int(g, 0) > 255 for g in m.groups()):
        return f"{text}: a color constant is C'red,green,blue', each 0 to 255"
    return ""


def color_value(text: str) -> int:
    """A ``C'r,g,b'`` constant's value: "the first byte is ignored, the remaining 3 bytes contain
    the RGB-components", blue highest (0x00BBGGRR)."""
    m = COLOR.fullmatch(text[2:-1])
    assert m is not None
    r, g, b = (int(x, 0) for x in m.groups())
    return r | g << 8 | b << 16


def parse(tokens: list[Token], files: list[str], imported: list[bool], words: Words, *,
          resolve: bool = True) -> tuple[list[GFault], Facts]:
    """The faults of one program's tokens, and its facts; ``resolve`` False: the grammar only
    (a file read alone, whose names may be its includer's)."""
    parser = Parser(tokens, files, imported, words, resolve=resolve)
    parser.program()
    return parser.faults, parser.facts

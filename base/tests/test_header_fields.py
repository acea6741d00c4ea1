"""How the two llhttp edges read a header block's fields: the assembly's names and values
(``mtgateway_base.httpassembly``, the daemon's ``/rpc`` and the console's device calls) and
the console's device call's headers (``door/edge.py``), each by one regular expression over
the whole block, held here to the plain reading of RFC 9110 section 5.5: a field's value is
its line after the colon, without the spaces and tabs around it.

The expressions once matched a value lazily (``[^\\r\\n]*?`` then the trailing whitespace);
they now take the longest run that ends in neither a space nor a tab, for speed
(``docs/history/performance-notes.md``, "Held polls on a grid"). This pins that the bytes read
did not change with them.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mtgateway_base.httpassembly import EdgeRequest, RequestAssembly
from mtgateway_console.door.edge import _FIELDS

#: Token characters (RFC 9110 section 5.6.2), a field name's.
_TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: What a value's bytes are drawn from: visible ASCII, spaces and tabs (inside too).
_VALUE = st.text(st.sampled_from([chr(c) for c in range(0x21, 0x7F)] + [" ", "\t"]),
                 max_size=40)
_WHITESPACE = st.text(st.sampled_from([" ", "\t"]), max_size=3)
_FIELD = st.tuples(st.text(st.sampled_from(_TOKEN), min_size=1, max_size=12), _WHITESPACE,
                   _VALUE, _WHITESPACE)


def _block(fields: list[tuple[str, str, str, str]]) -> str:
    lines = [f"{name}:{before}{value}{after}" for name, before, value, after in fields]
    return "POST /v1/keys HTTP/1.1\r\n" + "".join(f"{line}\r\n" for line in lines) + "\r\n"


def _plainly(block: str) -> list[tuple[str, str]]:
    """The fields of ``block`` as RFC 9110 reads them, a line at a time."""
    fields = []
    for line in block.split("\r\n")[1:]:
        if line:
            name, _, value = line.partition(":")
            fields.append((name, value.strip(" \t")))
    return fields


@given(st.lists(_FIELD, max_size=8))
def test_the_console_reads_each_field_as_the_rfc_does(
        fields: list[tuple[str, str, str, str]]) -> None:
    block = _block(fields)
    assert _FIELDS.findall(block) == _plainly(block)


@given(st.lists(_FIELD, max_size=8))
def test_the_assembly_reads_each_field_as_the_rfc_does(
        fields: list[tuple[str, str, str, str]]) -> None:
    # framing fields of their own making would change how the block is judged: left out
    fields = [f for f in fields if f[0].lower() not in (
        "host", "content-length", "transfer-encoding", "upgrade", "expect", "connection")]
    block = _block([*fields, ("Host", "", "127.0.0.1", ""),
                    ("Content-Length", " ", "0", "")])
    [request] = RequestAssembly(1024, lambda _: True).feed(block.encode())
    assert isinstance(request, EdgeRequest)
    assert request.headers == [(name.lower().encode(), value.encode())
                               for name, value in _plainly(block)]


def test_a_value_of_whitespace_alone_is_empty_and_inner_whitespace_stays() -> None:
    block = "POST /v1/keys HTTP/1.1\r\nA: \t \r\nB:\r\nC: x \t y\t \r\nD:\tz\r\n\r\n"
    assert _FIELDS.findall(block) == [("A", ""), ("B", ""), ("C", "x \t y"), ("D", "z")]

"""Strict JSON for requests: duplicates and non-finite numbers are refused."""

from __future__ import annotations

import pytest

from gateway.strictjson import MAX_DEPTH, DuplicateKey, TooDeep, loads_strict
from mtgateway_base.edge import host_allowed


@pytest.mark.parametrize("body", [
    b'{"jsonrpc":"2.0","id":1,"method":"ping"}',
    b'{ "jsonrpc" : "2.0", "id": 1, "method": "ping", "params": {"note": "a\\":b"} }',
    b'[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}]',
])
def test_valid_bodies_parse(body: bytes) -> None:
    """Compact, spaced and batch bodies without duplicates parse."""
    assert loads_strict(body)


@pytest.mark.parametrize("body, fragment", [
    (b'{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}', "duplicate key 'id'"),
    (b'{"jsonrpc":"2.0","id":1,"method":"order_send","params":{"request":{"volume":0.1,'
     b'"volume":100}}}', "duplicate key 'volume'"),
    (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":[NaN]}', None),
    (b'{"jsonrpc":"2.0","id":1,"method":"ping","params":[1e999]}', None),
    (b'{"jsonrpc":"2.0"', None),
    # whitespace between a key and its colon hid the duplicate from a count of '":'
    (b'{"jsonrpc":"2.0","id":1,"method":"order_send","params":{"request":{"volume":0.01,'
     b'"volume" :0.05}}}', "duplicate key 'volume'"),
    (b'{"a":1,"a"\t:2}', "duplicate key 'a'"),
    (b'{"a":1,"a"\r\n:2}', "duplicate key 'a'"),
    # a '":' inside a string value must not let a real duplicate balance the count
    (b'{"x":"\\":","a":1,"a" :2}', "duplicate key 'a'"),
])
def test_ambiguous_or_invalid_bodies_are_refused(body: bytes, fragment: str | None) -> None:
    """Duplicate keys (at any depth), NaN, overflow and broken JSON raise ValueError."""
    with pytest.raises(ValueError, match=fragment):
        loads_strict(body)


def test_duplicate_is_its_own_error() -> None:
    """A duplicate key is a ValueError of its own type (the dispatcher can name it)."""
    with pytest.raises(DuplicateKey):
        loads_strict(b'[{"k":1},{"k":2,"k" :3}]')


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100, 990, 1023])
@pytest.mark.parametrize("opener, closer", [(b"[", b"]"), (b'{"a":', b"}")])
def test_deep_nesting_is_refused(depth: int, opener: bytes, closer: bytes) -> None:
    """Nesting past MAX_DEPTH raises TooDeep, never RecursionError (orjson parses up to 1024
    levels, and Python code walking 1000 levels of it used to recurse out)."""
    with pytest.raises(TooDeep):
        loads_strict(opener * depth + b"1" + closer * depth)


def test_nesting_at_the_limit_parses() -> None:
    """Exactly MAX_DEPTH levels parse; many shallow brackets are not depth."""
    assert loads_strict(b"[" * MAX_DEPTH + b"1" + b"]" * MAX_DEPTH)
    assert loads_strict(b"[" + b",".join([b'{"a":[1]}'] * 200) + b"]")
    assert loads_strict(b'"' + b"[" * 100 + b'"') == "[" * 100


@pytest.mark.parametrize("values, allowed", [
    (["127.0.0.1:8710"], True),
    (["127.0.0.1"], True),
    (["localhost:8710"], True),
    (["LOCALHOST"], True),
    (["[::1]:8710"], True),
    (["127.0.0.2:80"], True),
    (["evil.example:8710"], False),
    (["127.0.0.1.evil.example"], False),
    (["localhost:notaport"], False),
    (["[::1"], False),
    (["[::1]x"], False),
    ([], False),
    (["127.0.0.1", "127.0.0.1"], False),
    (["0.0.0.0:8710"], False),
])
def test_host_allowlist(values: list[str], allowed: bool) -> None:
    """Only one Host header naming loopback (any port) passes the DNS-rebinding guard."""
    assert host_allowed(values, ()) is allowed


def test_configured_extra_host() -> None:
    """A name added in allowed_hosts is accepted."""
    assert host_allowed(["gateway.lan:8710"], ("gateway.lan",))


@pytest.mark.parametrize("target, allowed", [
    ("/rpc", True),
    ("*", True),
    ("http://127.0.0.1:8710/rpc", True),
    ("http://localhost/rpc?x=1", True),
    ("https://[::1]/x#f", True),
    ("http://gateway.lan/rpc", True),
    ("http://evil.example/rpc", False),
    ("HTTP://EVIL.EXAMPLE:8710/rpc", False),
    ("http://127.0.0.1@evil.example/rpc", False),  # userinfo: the host is after the @
    ("http://evil.example?@127.0.0.1/", False),
    ("http:///rpc", False),
])
def test_an_absolute_form_target_is_held_to_the_host_rule(target: str, allowed: bool) -> None:
    """Round-4 T4-F11: the authority of an absolute-form target (RFC 9112 §3.2.2: it wins
    over Host) must pass the rule as well as the Host header."""
    assert host_allowed(["127.0.0.1:8710"], ("gateway.lan",), target) is allowed
    assert host_allowed(["evil.example"], ("gateway.lan",), target) is False


def test_an_allowed_host_is_remembered_a_refused_one_never_and_the_memory_is_bounded() -> None:
    """The Host rule answers every request of both processes, nearly always for one name:
    an allowed name is remembered (with the configured names it was judged against), a
    refused one is worked out each time and never remembered, and a client naming a new
    allowed name on every request grows the memory no further than its bound."""
    from mtgateway_base import edge

    edge._ALLOWED.clear()
    assert host_allowed(["127.0.0.1:8710"], ()) and host_allowed(["127.0.0.1:8710"], ())
    assert edge._ALLOWED == {("127.0.0.1:8710", ())}
    assert not host_allowed(["evil.example"], ()) and not host_allowed(["evil.example"], ())
    assert host_allowed(["gateway.lan"], ("gateway.lan",))
    assert not host_allowed(["gateway.lan"], ())  # remembered with its configured names only
    assert ("evil.example", ()) not in edge._ALLOWED and ("gateway.lan", ()) not in edge._ALLOWED
    for port in range(1, 500):
        assert host_allowed([f"127.0.0.1:{port}"], ())
    assert 0 < len(edge._ALLOWED) <= edge._ALLOWED_MAX
    assert host_allowed(["127.0.0.1:8710"], ()) and not host_allowed(["evil.example"], ())

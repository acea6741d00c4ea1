"""Strict JSON for requests: duplicates and non-finite numbers are refused."""

from __future__ import annotations

import pytest

from gateway.middleware import host_allowed
from gateway.rpc import loads_strict


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
])
def test_ambiguous_or_invalid_bodies_are_refused(body: bytes, fragment: str | None) -> None:
    """Duplicate keys (at any depth), NaN, overflow and broken JSON raise ValueError."""
    with pytest.raises(ValueError, match=fragment):
        loads_strict(body)


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

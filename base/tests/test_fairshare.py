"""How a peer counts (``mtgateway_base/fairshare.py``): an address as itself, an IPv6 one as
its /64, both processes alike."""

from __future__ import annotations

import pytest

from mtgateway_base.fairshare import address_key


@pytest.mark.parametrize(("address", "counted"), [
    ("192.0.2.7", "192.0.2.7"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("::ffff:192.0.2.7", "192.0.2.7"),
    ("::1", "::1"),
    ("fe80::1%eth0", "fe80::/64"),
    ("?", "?"),
])
def test_an_address_counts_as_itself_an_ipv6_one_as_its_64(address: str, counted: str) -> None:
    assert address_key(address) == counted

"""Alert webhooks reach public addresses only (``mtgateway_console/destinations.py``): the
address check, the name check, the connection-time resolver, and the sender refusing a
loopback receiver unless the console allows private networks."""

from __future__ import annotations

import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from mtgateway_console.delivery import AlertSender
from mtgateway_console.destinations import (
    PublicOnlyResolver,
    address_problem,
    destination_problem,
)
from mtgateway_console.service import Authority

pytestmark = pytest.mark.network_edge


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.20", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "::1", "fe80::1", "fc00::5", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    "224.0.0.251", "240.0.0.1"])
def test_addresses_inside_a_network_are_refused(address: str) -> None:
    assert address_problem(address).endswith("is not a public address")


@pytest.mark.parametrize("address", ["8.8.8.8", "203.0.114.7", "2606:4700::1111",
                                     "::ffff:1.1.1.1", "64:ff9b::808:808", "2002:808:808::1",
                                     "2001:0:4136:e378:8000:63bf:f7f7:f7f7"])
def test_public_addresses_pass(address: str) -> None:
    """Public, also an IPv6 form carrying a public IPv4 address (NAT64, 6to4, Teredo)."""
    assert address_problem(address) == ""


@pytest.mark.parametrize("address", [
    "::127.0.0.1", "::10.0.0.1",  # IPv4-compatible (::/96)
    "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::10.1.2.3",  # NAT64 (64:ff9b::/96)
    "64:ff9b:1::a00:1", "64:ff9b:1:a00:1::",  # local-use NAT64 (64:ff9b:1::/48)
    "2002:7f00:1::", "2002:a9fe:a9fe::", "2002:c0a8:101::1",  # 6to4 (2002::/16)
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo (2001::/32): client 127.0.0.1
    "2001:0:7f00:1:8000:63bf:f7f7:f7f7",  # Teredo: server 127.0.0.1
    "::ffff:0:7f00:1", "::ffff:0:a00:1",  # IPv4-translated (SIIT, ::ffff:0:0:0/96)
])
def test_ipv6_that_embeds_an_inner_ipv4_address_is_judged_by_it(address: str) -> None:
    """Review round 5, T5-F3: IPv6 forms that carry an IPv4 address were judged as IPv6
    (Python calls most of them global), so ``64:ff9b::a9fe:a9fe`` reached the metadata
    service through a NAT64 gateway. Each is judged by the IPv4 address it carries."""
    assert "is not a public address" in address_problem(address)


@pytest.mark.parametrize("address", ["fec0::1", "fec0:0:0:1::5", "feff::1"])
def test_site_local_ipv6_is_not_public(address: str) -> None:
    """Site-local IPv6 (``fec0::/10``, deprecated by RFC 3879 but still routed inside some
    networks) is refused as a private range is, though Python does not call it private."""
    assert address_problem(address).endswith("is not a public address")


class _Answers(AbstractResolver):
    """A resolver answering fixed addresses (DNS is not ours to set in a test)."""

    def __init__(self, *addresses: str) -> None:
        self._addresses = addresses

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [{"hostname": host, "host": a, "port": port, "family": socket.AF_INET6,
                 "proto": 0, "flags": socket.AI_NUMERICHOST} for a in self._addresses]

    async def close(self) -> None:
        return None


async def test_the_resolver_judges_each_aaaa_answer_by_the_ipv4_it_embeds() -> None:
    """A name whose AAAA records are NAT64 or 6to4 forms of private addresses reaches none of
    them at connection time; a public one among them is kept."""
    inner = _Answers("64:ff9b::a9fe:a9fe", "2002:7f00:1::", "::10.0.0.1")
    with pytest.raises(OSError, match="no public address"):
        await PublicOnlyResolver(inner).resolve("rebound.example", 443)
    mixed = _Answers("64:ff9b::a00:1", "64:ff9b::808:808")
    assert [r["host"] for r in await PublicOnlyResolver(mixed).resolve("x.example", 443)] \
        == ["64:ff9b::808:808"]


async def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    """``localhost`` resolves to loopback: refused, naming the address and the setting."""
    problem = await destination_problem("localhost", 80)
    assert "is not a public address" in problem
    assert "[console] webhook_private_networks allows it" in problem
    assert "not posted" in await destination_problem("127.0.0.1", 8080)
    assert await destination_problem("203.0.114.7", 443) == ""


async def test_the_resolver_drops_what_is_not_public_when_it_connects() -> None:
    """The connection-time half: a name with loopback addresses only resolves to nothing
    usable, so a name that changed its answer after the pre-check still reaches no private
    address."""
    plain = await ThreadedResolver().resolve("localhost", 80)
    assert plain and all(address_problem(r["host"]) for r in plain)  # the premise
    resolver = PublicOnlyResolver()
    try:
        with pytest.raises(OSError, match="no public address"):
            await resolver.resolve("localhost", 80)
    finally:
        await resolver.close()


def _no_authority() -> Authority:
    raise AssertionError("the check needs no authority")


async def test_the_sender_refuses_a_loopback_receiver_unless_allowed() -> None:
    """The sender's own check, which each webhook attempt makes first: a receiver on
    loopback is refused by default, naming the setting, and allowed with ``private_networks``
    (the console's ``[console] webhook_private_networks``)."""
    url = "http://127.0.0.1:8080/hooks/x"
    problem = await AlertSender(_no_authority).destination_problem(url)
    assert problem == ("127.0.0.1 is not a public address; not posted "
                       "([console] webhook_private_networks allows it)")
    assert await AlertSender(_no_authority, private_networks=True).destination_problem(url) == ""
    assert await AlertSender(_no_authority).destination_problem("https://[::1]/x") != ""

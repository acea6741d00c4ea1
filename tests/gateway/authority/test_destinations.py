"""Alert webhooks reach public addresses only (``gateway/authority/destinations.py``): the
address check, the name check, the connection-time resolver, and the sender refusing a
loopback receiver unless the console allows private networks."""

from __future__ import annotations

import pytest
from aiohttp.resolver import ThreadedResolver

from gateway.authority.delivery import AlertSender
from gateway.authority.destinations import (
    PublicOnlyResolver,
    address_problem,
    destination_problem,
)
from gateway.authority.service import Authority

pytestmark = pytest.mark.network_edge


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.20", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "::1", "fe80::1", "fc00::5", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    "224.0.0.251", "240.0.0.1"])
def test_addresses_inside_a_network_are_refused(address: str) -> None:
    assert address_problem(address).endswith("is not a public address")


@pytest.mark.parametrize("address", ["8.8.8.8", "203.0.114.7", "2606:4700::1111",
                                     "::ffff:1.1.1.1"])
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(address) == ""


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

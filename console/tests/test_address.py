"""Where the console is (``mtgateway_console/address.py``): the address mailed links name, and
the ``Host`` values its hello may be signed for. The end-to-end halves (a ``/forgot`` naming
another port, a relay on another port) are ``console/tests/e2e/test_console_links.py``."""

from __future__ import annotations

import pytest

from mtgateway_console.address import ConsoleAddress, check_public_url


@pytest.mark.parametrize("url", ["ftp://console.example.com", "https://", "console.example.com",
                                 "https://user@console.example.com", "https://x.example/?a=1",
                                 "https://x.example/#top", "https://x.example:port"])
def test_a_public_url_that_is_no_console_address_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        check_public_url(url)


def test_links_name_the_public_url_else_the_bound_address_else_nothing() -> None:
    assert check_public_url(" https://console.example.com/ ") == "https://console.example.com"
    unbound = ConsoleAddress()
    assert unbound.base is None and unbound.hint("/devices") == "the console"
    unbound.serving("http", "::1", 8720)
    assert unbound.link("/reset/x") == "http://[::1]:8720/reset/x"
    public = ConsoleAddress("https://console.example.com")
    public.serving("http", "127.0.0.1", 8720)
    assert public.hint("/settings") == "the console at https://console.example.com/settings"


@pytest.mark.parametrize(("host", "signed"), [
    ("127.0.0.1:8720", True),
    ("127.0.0.1:9999", False),  # a relay on another loopback port
    ("127.0.0.2:8720", False),  # another loopback address may be another process's
    ("localhost:8720", False),  # may resolve to ::1, where another process may listen
    ("[::1]:8720", False),
    ("127.0.0.1", False),
])
def test_the_hello_is_signed_only_for_the_address_the_console_is_bound_to(
        host: str, signed: bool) -> None:
    address = ConsoleAddress()
    address.serving("http", "127.0.0.1", 8720)
    assert address.signs_for(host) is signed


def test_the_configured_names_are_signed_for_too() -> None:
    address = ConsoleAddress("https://console.example.com", ("proxy.example.net",))
    address.serving("http", "0.0.0.0", 8720)
    for host in ("console.example.com", "console.example.com:443", "proxy.example.net:8443",
                 "127.0.0.1:8720"):  # every interface: the IPv4 loopback on its port is it
        assert address.signs_for(host), host
    for host in ("console.example.com:8443", "evil.example", "[::1]:8720", "localhost:8720"):
        assert not address.signs_for(host), host

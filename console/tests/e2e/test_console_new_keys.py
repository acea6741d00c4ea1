"""Round-4 T4-F13: proofs from throw-away device keys are bounded before the console checks
their signature or writes anything, so a flood of them cannot saturate it; devices the
authority knows are never slowed, also after a restart.

A real console on loopback with the owner throttle's clock injected (the key gate reads it):
the flood is sent with the clock still, so what is let through is the gate's burst, exactly.
``python -m bench.proofflood`` measures the same flood against a console process in real time
(figures in docs/security.md).
"""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mtgateway.credential import token_hint
from mtgateway_base.wire.proofs import device_info, device_proof_headers
from mtgateway_base.wire.records import b64url_encode
from mtgateway_console.config import ConsoleConfig, ConsoleFile
from mtgateway_console.console import AUTHORITY, create_console_app, start_console
from mtgateway_console.keygate import ALL_PEERS, PER_PEER
from tests.e2e.consolekit import (
    OWNER,
    PASSWORD,
    Console,
    CountingClock,
    boxed,
    issue_token,
    pending_lookup,
)
from tests.e2e.world import served_port

pytestmark = pytest.mark.network_edge

STATUS = "/v1/device/status"


async def _status(console: Console, key: Ed25519PrivateKey) -> tuple[int, str, dict[str, str]]:
    status, body, headers = await console.device("GET", STATUS, key=key)
    return status, body.get("error", {}).get("reason", ""), headers


async def test_a_flood_of_fresh_keys_is_bounded_and_known_devices_go_on(
        console: Console) -> None:
    """The clock still: of 40 proofs under fresh keys from one address, the gate's burst is
    checked (200) and the rest answered 429 `too_many_new_devices` with `Retry-After`, before
    any signature check; the daemon whose device the authority knows (it asked an owner's
    approval) is answered 200 throughout; a second later the peer's rate lets more in."""
    token = (await issue_token(console))["token"]
    await pending_lookup(console, token)  # console.key: a device row now (pending approval)
    assert (await _status(console, console.key))[0] == 200  # its row found: known from now on
    burst = int(min(PER_PEER.burst, ALL_PEERS.burst)) - 2  # two were spent just above
    answers = [await _status(console, Ed25519PrivateKey.generate()) for _ in range(40)]
    assert [a[0] for a in answers] == [200] * burst + [429] * (40 - burst)
    refused = answers[-1]
    assert refused[1] == "too_many_new_devices" and int(refused[2]["Retry-After"]) >= 1
    for _ in range(20):  # the known device, during the flood
        assert (await _status(console, console.key))[0] == 200
    console.throttle_clock.now += 1.0  # a second: the peer's rate (5/s) lets five more in
    later = [(await _status(console, Ed25519PrivateKey.generate()))[0] for _ in range(8)]
    assert later == [200] * int(PER_PEER.per_s) + [429] * (8 - int(PER_PEER.per_s))


async def test_a_restarted_console_still_knows_its_devices(tmp_path: Path) -> None:
    """A device known before a restart is known after it (read at start), so a flood right
    after the restart, which exhausts the gate, does not slow it."""
    clock = CountingClock()
    config = ConsoleFile(data_dir=str(tmp_path), console=ConsoleConfig(port=0))
    first = create_console_app(config, throttle_clock=clock)
    daemon = Ed25519PrivateKey.generate()

    async def call(port: int, key: Ed25519PrivateKey, path: str, body: bytes = b"") -> int:
        method = "POST" if body else "GET"
        headers = {**device_proof_headers(key, method, path, body, time.time()),
                   "Content-Type": "application/json"}
        async with aiohttp.ClientSession() as session, session.request(
                method, f"http://127.0.0.1:{port}{path}", data=body or None,
                headers=headers) as response:
            return response.status

    async with served_port(await start_console(first, "127.0.0.1", 0)) as port:
        await first[AUTHORITY].owners.create(OWNER, PASSWORD)
        issued = await first[AUTHORITY].tokens.issue(OWNER, 5012345, "MTG-Demo")
        body = {"token_hint": token_hint(issued.token),
                **boxed(device_info(daemon).device_id)}
        body["box_key"] = b64url_encode(body["box_key"])
        assert await call(port, daemon, "/v1/records/lookup", orjson.dumps(body)) == 200
    again = create_console_app(config, throttle_clock=clock)
    async with served_port(await start_console(again, "127.0.0.1", 0)) as port:
        flood = [await call(port, Ed25519PrivateKey.generate(), STATUS) for _ in range(30)]
        assert flood.count(429) >= 30 - int(ALL_PEERS.burst)
        assert await call(port, daemon, STATUS) == 200

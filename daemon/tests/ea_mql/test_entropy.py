"""The MQL5 EA's first nonce comes from a pool with enough in it (review E-1): the EA used to
send its first hello on its first timer pass, its nonce drawn from one or two readings of a
microsecond clock that counts from the program's start (10-14 bits of jitter). Now no hello
goes out before the pool has its stirs: 64 of them, over at least a second, four clock readings
each. The kit's clock is the program's own (kit/common/mql_clock.h), and the kit reports what
the EA had done when it first reached for the network. Before that first network call the kit
does not wait a Sleep out but moves every clock the program reads by its length
(test_kit_clock.py), so the second is the program's and the assertions read its clock, as a
terminal would show it."""

from __future__ import annotations

import re
from pathlib import Path

from daemon.tests.ea_mql.conftest import TOKEN, make_fixture
from daemon.tests.ea_mql.eakit import WAIT_S, CompiledEA
from ea_bridge import Bridge
from tests.bridgekit import RecordingListener
from tests.e2e.fixtures import TERMINAL

FIRST = re.compile(r"KIT: first SocketConnect after (\d+) timer passes, (\d+) ms, "
                   r"(\d+) microsecond-clock reads")


async def test_no_hello_goes_out_before_the_pool_has_its_stirs(
        bridge: tuple[Bridge, RecordingListener], ea_binary: Path, tmp_path: Path) -> None:
    b, _ = bridge
    path, _ = make_fixture(tmp_path)
    async with CompiledEA(ea_binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        first = [m for line in ea.lines if (m := FIRST.match(line))]
        assert len(first) == 1, ea.lines[-20:]
        _, ms, reads = (int(x) for x in first[0].groups())
        # a second of the program's own clock, and 64 stirs of 4 readings each (the old EA
        # connected on its first pass: about 16 ms and a handful of readings)
        assert ms >= 1000, first[0].group()
        assert reads >= 64 * 4, first[0].group()

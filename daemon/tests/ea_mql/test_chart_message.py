"""Issue 46 item 5: the owner's message from the console on the chart, by both compiled EAs
(MQL5 and MQL4): the bridge's ``show_message`` call (docs/protocol.md) puts it under the EA's
status with ``Comment``, answers ``{}``, and refuses a message that is not text with the
parameter named; a later status change keeps the message on the chart."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.tests.ea_mql.conftest import TOKEN, make_fixture
from daemon.tests.ea_mql.eakit import CompiledEA
from daemon.tests.ea_mql.eakit4 import build_ea4
from daemon.tests.ea_mql.mt4kit import fixture4
from ea_bridge import Bridge, EAError
from tests.bridgekit import RecordingListener
from tests.e2e.fixtures import TERMINAL, WAIT_S


@pytest.fixture(scope="session")
def ea4_binary() -> Path:
    return build_ea4()


@pytest.mark.parametrize("platform", ["MT5", "MT4"])
async def test_the_owners_message_is_shown_on_the_chart(
        platform: str, request: pytest.FixtureRequest,
        bridge: tuple[Bridge, RecordingListener], tmp_path: Path) -> None:
    b, _ = bridge
    binary: Path = request.getfixturevalue("ea4_binary" if platform == "MT4" else "ea_binary")
    path = fixture4(tmp_path)[0] if platform == "MT4" else make_fixture(tmp_path)[0]
    async with CompiledEA(binary, path, token=TOKEN, port=b.port) as ea:
        await b.wait_for_terminal(TERMINAL, WAIT_S)
        answer = await b.call(TERMINAL, "show_message",
                              {"id": "ins_1", "text": "Desk: flat by 16:00"}, WAIT_S)
        assert answer == {}
        shown = "Message from the owner: Desk: flat by 16:00"

        def on_chart(lines: list[str]) -> bool:
            """The comment's second line (the kit logs each line of it): under the status."""
            return any(line == shown and lines[i - 1].startswith("CHART: MT Gateway: ")
                       for i, line in enumerate(lines) if i > 0)

        await ea.wait_for(on_chart)
        for bad in ({"text": ""}, {"text": 7}, {}):
            with pytest.raises(EAError) as refused:
                await b.call(TERMINAL, "show_message", bad, WAIT_S)
            assert refused.value.code == -32602 and "text" in refused.value.message
        assert await b.call(TERMINAL, "ping", {}, WAIT_S) == {}  # the session goes on

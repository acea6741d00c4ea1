"""A paper deposit on ``mtgateway demo`` whose broker clock is UTC+2 and replays a day four days
back (``--tz-offset 2 --start-time``), as the eighth usability review ran it (u10, u11): the
real daemon measures the trade server's clock and reports its offset with the deals, and the
console's ``/live`` at its default 1d range lists the deposit at the UTC time it was made
(not two hours or four days off) and leaves it out of the change.

A real process, as a user runs it; the waits follow the console's stored reports (the live
page's stream, ``paperkit.OwnerApi``), never a sleep. The replayed day's weekday does not
matter: nothing here trades.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from mtgateway.aio import AsyncClient
from tests.e2e.fixtures import running_demo
from tests.e2e.paperkit import OwnerApi, switched

#: How far back the demo's terminal replays: the review's four days.
BEHIND_S = 4 * 86_400


async def test_a_paper_deposit_on_a_replayed_utc_plus_2_clock_reads_in_utc(
        tmp_path: Path) -> None:
    """The deposit's history row reads the UTC second it was made (between the request and
    its answer); the default range lists it and the change leaves its 2,500 out."""
    state_file = tmp_path / "demo.json"
    replayed = datetime.fromtimestamp((int(time.time()) - BEHIND_S) // 3600 * 3600, UTC)
    async with running_demo(state_file, "--tz-offset", "2", "--start-time",
                            replayed.strftime("%Y-%m-%dT%H:%M:%SZ")), \
            aiohttp.ClientSession() as http, AsyncClient() as client:
        state = json.loads(state_file.read_text(encoding="utf-8"))
        assert await client.initialize(state_file=state_file), client.last_error()
        owner = OwnerApi(http, state)
        try:
            await owner.sign_in()
            login = state["login"]
            status, answer = await owner.call("POST", "/users/", {
                "name": "Demo paper", "broker": "MT Gateway", "login": login,
                "server": state["server"], "paper_trade_enabled": True, "max_lot_size": 1,
                "risk_pct": 1})
            assert status == 201, answer
            await switched(client, owner, paper=True)
            await owner.until("GET", f"/accounts/{login}/margin?book=paper", None,
                              lambda a: a["book"] == "paper")
            before = int(time.time())
            await owner.until("POST", f"/accounts/{login}/deposit",
                              {"amount": 2500, "comment": "u10 top-up", "operation_id": "u10"},
                              lambda a: a["operation"]["state"] == "applied")
            after = time.time()
            history = await owner.until("POST", f"/trades/history/{login}", {}, lambda a: any(
                t["comment"] == "u10 top-up" for t in a["trades"]))
            [deposit] = [t for t in history["trades"] if t["comment"] == "u10 top-up"]

            page = (await owner.pages.get("/live")).text
            row = re.search(rf'<tr class="trade" data-ticket="{deposit["order"]}"[^>]*>\s*'
                            r'<td data-label="Closed"[^>]*>([^<]+)</td>', page)
            assert row is not None, "the deposit is not in the default range's history"
            shown = datetime.strptime(row.group(1), "%Y-%m-%d %H:%M:%S UTC").replace(
                tzinfo=UTC).timestamp()
            assert before - 1 <= shown <= after + 1, (row.group(1), before, after)
            change = re.search(r'data-change="(-?[0-9.]+)"', page)
            assert change is not None and abs(float(change.group(1))) < 50, change
        finally:
            await owner.close()

"""The reporter kit's wait for what the console shows (``until_reported``).

A test reads a console page, and if the state it waits for is not there yet, waits for the
daemon's next accepted report and reads again. The report that brings the state can land
while the read is in flight; the kit must then read again at once, not wait for the one after
it (the periodic re-report, an hour away here). A real reporter reports to a real embedded
authority (SQLite in ``tmp_path``).
"""

from __future__ import annotations

from pathlib import Path

from gateway.auth.reporter import TerminalReporter
from tests.reporterkit import embedded, next_report, reporting, until_reported


async def test_a_report_accepted_during_a_read_wakes_the_next_read(tmp_path: Path) -> None:
    e = await embedded(tmp_path)
    reporter = TerminalReporter(e.link, e.device, interval_s=3600)
    try:
        async with reporting(reporter, e.token, e.token_id):
            reads: list[int] = []

            async def read() -> str:
                reads.append(reporter.sent)
                if len(reads) == 1:
                    # the report that brings the state is accepted after the page rendered
                    await next_report(reporter)
                    return "before"
                return "after"

            seen = await until_reported(reporter, read, lambda page: page == "after",
                                        budget_s=5.0)
            assert seen == "after"
            assert reads == [1, 2]
    finally:
        await e.authority.close()

"""`mtgateway audit` prints and exports the trail of a running daemon (real process, real
journal written by trades over the daemon's sockets), filtered by time, token and client_id."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from tests.e2e.clocks import WEDNESDAY_MS, SteppedClock
from tests.e2e.commands import audit
from tests.e2e.fixtures import LOGIN, SERVER, TERMINAL, WAIT_S, Daemon, connected_terminal

BUY: dict[str, Any] = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY",
                       "symbol": "EURUSD", "volume": 0.1}


async def test_audit_prints_filters_and_exports(daemon: Daemon, tmp_path: Path) -> None:
    """Three orders under two tokens: the command lists each token's and each order's lines,
    a time window, JSON lines; the export is a new 0600 file and never overwrites one."""
    clock = SteppedClock(WEDNESDAY_MS)
    async with connected_terminal(daemon, symbols=("EURUSD",), utc_clock_ms=clock):
        await daemon.call("order_send", {"request": {**BUY, "client_id": "a-1"}})
        await daemon.call("order_send", {"request": {**BUY, "client_id": "a-2"}})
    await daemon.bridge.wait_for_terminal_down(TERMINAL, WAIT_S)
    other = await daemon.issue()  # the terminal's EA now connects with another token
    settings = EmulatorSettings(login=LOGIN, server=SERVER, symbols=("EURUSD",))
    terminal = EmulatedTerminal(other.token, port=daemon.bridge.port, settings=settings,
                                utc_clock_ms=clock)
    task = asyncio.create_task(terminal.run())
    try:
        await daemon.bridge.wait_for_terminal(TERMINAL, WAIT_S)
        sent = await daemon.call("order_send", {"request": {**BUY, "client_id": "b-1"}},
                                 token=other.token)
        assert sent["result"]["retcode"] == 10009
    finally:
        await terminal.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    # The daemon keeps running (and its journal open) while the command reads the file.
    config = tmp_path / "audit.toml"
    config.write_text(f'data_dir = "{tmp_path.as_posix()}"\n', encoding="utf-8")

    code, out, err = await audit(config)
    assert code == 0, err
    header, *lines = out.splitlines()
    assert header.split()[:3] == ["TIME", "(UTC)", "EVENT"]
    assert len(lines) == 9  # request, sent, outcome of each order
    assert [line.split()[2] for line in lines[:3]] == ["request", "sent", "outcome"]
    assert "a-1" in lines[0] and ["buy", "EURUSD", "0.1"] == lines[0].split()[6:9]
    assert lines[2].split()[13].isdigit()  # the ticket

    code, out, _ = await audit(config, "--token", other.token_id, "--jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert {r["client_id"] for r in rows} == {"b-1"} and len(rows) == 3
    assert rows[-1]["state"] == "ACCEPTED" and rows[-1]["ticket"] > 0
    assert other.token not in out  # a record id, never the token

    code, out, _ = await audit(config, "--client-id", "a-2", "--jsonl")
    assert [json.loads(line)["event"] for line in out.splitlines()] == [
        "request", "sent", "outcome"]
    first_at = rows[0]["at"]
    code, out, _ = await audit(config, "--since", str(first_at), "--jsonl")
    assert {json.loads(line)["client_id"] for line in out.splitlines()} == {"b-1"}
    code, out, _ = await audit(config, "--until", "2000-01-01T00:00:00Z")
    assert (code, out) == (0, "")

    export = tmp_path / "trail.jsonl"
    code, _, err = await audit(config, "--export", str(export))
    assert code == 0 and "9 audit lines written" in err
    assert len(export.read_text(encoding="utf-8").splitlines()) == 9
    if os.name == "posix":
        assert stat.S_IMODE(export.stat().st_mode) == 0o600
    code, _, err = await audit(config, "--export", str(export))
    assert code == 1 and "exists" in err
    assert len(export.read_text(encoding="utf-8").splitlines()) == 9


async def test_audit_without_a_journal_is_a_clear_error(tmp_path: Path) -> None:
    """A data dir the daemon never used: exit 1 with one line, and no file is created."""
    config = tmp_path / "audit.toml"
    config.write_text(f'data_dir = "{tmp_path.as_posix()}"\n', encoding="utf-8")
    code, out, err = await audit(config)
    assert code == 1 and "no order journal" in err and out == ""
    assert not (tmp_path / "orders.sqlite3").exists()


async def test_the_table_has_a_header_side_price_and_stops(daemon: Daemon,
                                                           tmp_path: Path) -> None:
    """m5 (review round 4): the table has a header and each line the side, the price (the
    fill, once the terminal answered), SL and TP; --jsonl carries them too."""
    async with connected_terminal(daemon, symbols=("EURUSD",),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)):
        bid = (await daemon.call("symbol_info_tick", ["EURUSD"]))["result"]["bid"]
        sl, tp = round(bid - 0.005, 5), round(bid + 0.005, 5)
        sent = await daemon.call("order_send", {"request": {
            **BUY, "type": "ORDER_TYPE_SELL", "client_id": "s-1", "sl": tp, "tp": sl}})
        assert sent["result"]["retcode"] == 10009, sent
    config = tmp_path / "audit.toml"
    config.write_text(f'data_dir = "{tmp_path.as_posix()}"\n', encoding="utf-8")
    code, out, err = await audit(config)
    assert code == 0, err
    header, request, _, outcome = out.splitlines()
    assert header.split() == ["TIME", "(UTC)", "EVENT", "STATE", "CLIENT", "ID", "TOKEN",
                              "SIDE", "SYMBOL", "VOLUME", "PRICE", "SL", "TP", "RETCODE",
                              "TICKET", "TERMINAL"]
    filled = sent["result"]["price"]
    assert outcome.split()[6:14] == ["sell", "EURUSD", "0.1", f"{filled:.10g}", f"{tp:.10g}",
                                     f"{sl:.10g}", "10009", str(sent["result"]["order"])]
    assert request.split()[9:12] == ["-", f"{tp:.10g}", f"{sl:.10g}"]  # no price asked
    code, out, _ = await audit(config, "--jsonl")
    last = json.loads(out.splitlines()[-1])
    assert (last["price"], last["sl"], last["tp"]) == (filled, tp, sl)


async def test_a_reader_that_stops_early_ends_the_command_quietly(daemon: Daemon,
                                                                  tmp_path: Path) -> None:
    """m4 (review round 4): `mtgateway audit | head -1` printed a BrokenPipeError traceback
    and exited 1 about half the time. Here the reader is gone before the first line (the
    pipe's read end is closed), so every run meets the closed pipe: exit 0, nothing on
    stderr, for the table and for JSON lines."""
    async with connected_terminal(daemon, symbols=("EURUSD",),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)):
        await daemon.call("order_send", {"request": {**BUY, "client_id": "p-1"}})
    config = tmp_path / "audit.toml"
    config.write_text(f'data_dir = "{tmp_path.as_posix()}"\n', encoding="utf-8")
    for extra in ((), ("--jsonl",)):
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "gateway", "audit", "-c", str(config), *extra,
                stdout=write_end, stderr=asyncio.subprocess.PIPE)
        finally:
            os.close(write_end)
        async with asyncio.timeout(WAIT_S * 3):
            _, err = await proc.communicate()
        assert (proc.returncode, err.decode()) == (0, ""), extra

"""The demo feeds what its printout and the README point at, with no restart.

- The README's quick-start line starts a demo that writes ``demo.json`` where it was started,
  which every example reads with ``--state-file demo.json`` (``examples/curl.sh`` by default);
  and ``curl.sh`` also takes the ``$TOKEN`` the demo tells you to export (it refused without a
  state file: the demo had to be restarted with ``--state-file``).
- The demo prints what an operator needs to reach its console: its data directory, its mail
  sink, and a config file for the operator's commands; ``mtgateway owner reset-2fa -c`` with
  that file restores the demo's owner and mails them through the demo's mailbox (it answered
  "no owner has the address" and made an empty authority in the default data directory).

A real ``mtgateway demo`` process on free ports, run from a directory of the test's own; the
examples and the operator's command as processes; the console's pages over HTTP with the
owner's authenticator codes computed at the real clock (the demo's console runs on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mtgateway_console import totp
from tests.e2e.commands import ROOT
from tests.e2e.consolekit import Browser
from tests.e2e.factorkit import secret_of
from tests.e2e.fixtures import WAIT_S, demo_env

pytestmark = [pytest.mark.not_on_windows("posix-signals"), pytest.mark.not_on_windows("shell")]


def _readme_demo_args() -> list[str]:
    """The options the README's quick-start line gives ``mtgateway demo``."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [line] = [line for line in readme.splitlines()
              if "pip install" in line and ".venv/bin/mtgateway demo" in line]
    return shlex.split(line.split("mtgateway demo", 1)[1])


@contextlib.asynccontextmanager
async def _demo(cwd: Path, *args: str) -> AsyncIterator[str]:
    """``mtgateway demo ARGS --http-port 0 --bridge-port 0`` started in ``cwd``, until it
    runs; what it printed. Stopped with SIGTERM, as an owner stops it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "demo", *args, "--http-port", "0",
        "--bridge-port", "0", cwd=cwd, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env=demo_env(cwd / "demo.json"))
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(WAIT_S * 2):
            output = b""
            while b"Running." not in output:
                line = await proc.stdout.readline()
                assert line, output.decode()
                output += line
        yield output.decode()
    finally:
        proc.terminate()
        try:
            async with asyncio.timeout(WAIT_S):
                await proc.communicate()
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _run(cwd: Path, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """``argv`` in ``cwd`` with no ``MTGATEWAY_*`` or ``TOKEN`` variable but ``env``'s; its exit
    code and output."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("MTGATEWAY_") and k != "TOKEN"}
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env={**base, **(env or {})}, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    async with asyncio.timeout(WAIT_S * 3):
        out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def _answers(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


async def test_the_quick_starts_demo_feeds_every_example(tmp_path: Path) -> None:
    """The README's demo line writes demo.json in the directory it runs in and says which
    examples read it; `examples/curl.sh` run there with no argument answers from it; run
    elsewhere, with only the `$TOKEN` the demo says to export (and the daemon's address), it
    answers too."""
    args = _readme_demo_args()
    assert args[:2] == ["--state-file", "demo.json"], args
    here = tmp_path / "here"
    here.mkdir()
    async with _demo(here, *args) as printed:
        state = json.loads((here / "demo.json").read_text(encoding="utf-8"))
        assert "examples/curl.sh --state-file demo.json" in printed
        assert "examples/mt5_script.py --state-file demo.json" in printed
        code, out = await _run(here, "bash", str(ROOT / "examples" / "curl.sh"))
        assert code == 0, out
        health, account, *_ = _answers(out)
        assert health["status"] == "ok" and account["result"]["login"] == state["login"]

        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        base = state["rpc_url"].removesuffix("/rpc")
        code, out = await _run(elsewhere, "bash", str(ROOT / "examples" / "curl.sh"),
                               env={"TOKEN": state["token"], "MTGATEWAY_URL": base})
        assert code == 0, out
        assert _answers(out)[1]["result"]["login"] == state["login"]
        code, out = await _run(elsewhere, "bash", str(ROOT / "examples" / "curl.sh"))
        assert code == 2 and "$TOKEN" in out and "demo.json" in out, out


async def test_the_operators_reset_reaches_the_demos_console(tmp_path: Path) -> None:
    """The demo prints its console's data directory, its mail sink and a config for the
    operator's commands; after the owner turned two-step sign-in on in the console, `owner
    reset-2fa -c` with that config turns it off and the notice lands in the demo's mailbox;
    nothing is made in the default data directory."""
    home = tmp_path / "home"
    home.mkdir()
    async with _demo(tmp_path, "--state-file", "demo.json") as printed:
        state = json.loads((tmp_path / "demo.json").read_text(encoding="utf-8"))
        config = Path(state["console_config"])
        assert f"-c {config}" in printed and "data dir" in printed and "SMTP" in printed
        owner, password = state["owner_email"], state["owner_password"]
        browser = Browser(state["console_url"].rstrip("/"))
        try:
            signed = await browser.sign_in(owner, password)
            assert signed.status == 303, signed.text
            started = await browser.submit("/settings", "/settings/2fa/start",
                                           {"owner_password": password})
            assert started.status == 200, started.text
            key = secret_of(started.text)
            done = await browser.submit("/settings", "/settings/2fa/confirm",
                                        {"code": totp.totp(key, time.time())})
            assert done.status == 200 and "Two-step sign-in is on" in done.text, done.text
        finally:
            await browser.close()
        code, out = await _run(tmp_path, sys.executable, "-m", "gateway", "owner",
                               "reset-2fa", "-c", str(config), "--email", owner,
                               env={"HOME": str(home), "XDG_DATA_HOME": str(home / "data")})
        assert code == 0, out
        assert "the owner was mailed" in out, out
        mail_url = state["mail_url"]
        mail_url += ("&" if "?" in mail_url else "?") + "format=text"
        async with aiohttp.ClientSession() as http, http.get(mail_url) as answer:
            mailbox = await answer.text()
        assert "the operator turned two-step sign-in off" in mailbox, mailbox
    assert not any(home.rglob("authority*")), list(home.rglob("*"))

"""Issue 23 item 4: docs/terminal.md step 1 works on a fresh install, as written.

Its shell block is run line by line in an empty home directory (no config, no data), through
a real shell, with the installed ``mtgateway`` first on PATH: the owner is created, the token
is issued (printed once), and the daemon the last line starts accepts that token. The block
used to begin with ``token create``, which a fresh install refuses ("there is no owner yet").
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.not_on_windows("shell")


def _step_one() -> list[str]:
    text = (ROOT / "docs" / "terminal.md").read_text(encoding="utf-8")
    section = text.split("## 1. ", 1)[1].split("\n## 2. ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "step 1 has a sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_terminal_step_one_runs_on_a_fresh_install(tmp_path: Path) -> None:
    """Every line of the block succeeds in an empty home; the token is printed; the daemon the
    last line starts (on free ports) accepts it."""
    lines = _step_one()
    assert lines[-1].startswith("mtgateway run &"), lines
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTGATEWAY_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / ".config"),
               XDG_DATA_HOME=str(tmp_path / ".local" / "share"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    outputs = []
    for line in lines[:-1]:
        done = subprocess.run(["sh", "-c", line], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
        assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
        outputs.append(done.stdout)
    token = re.search(r"mtgw_[A-Za-z0-9]{20,}", outputs[-1])
    assert token is not None, outputs[-1]
    # The last line's daemon, on free ports instead of 8710/8711 (the machine may be running
    # one): a per-user config file, found as the docs say, sets only the ports, so the daemon
    # uses the same default data directory the lines above wrote to.
    config = tmp_path / ".config" / "mtgateway" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[server]\nport = 0\n[bridge]\nport = 0\n", encoding="utf-8")
    config.chmod(0o600)
    # exec: the shell becomes the daemon, so the stop below reaches it
    daemon = subprocess.Popen(["sh", "-c", "exec " + lines[-1].split("&", 1)[0].strip()], env=env,
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert daemon.stderr is not None
        seen = b""
        while (port := re.search(rb"HTTP on 127\.0\.0\.1:(\d+)", seen)) is None:
            line = daemon.stderr.readline()
            assert line, seen.decode()
            seen += line
        request = urllib.request.Request(
            f"http://127.0.0.1:{int(port.group(1))}/rpc", method="POST",
            data=b'{"jsonrpc":"2.0","id":1,"method":"account_info"}',
            headers={"Authorization": f"Bearer {token.group(0)}",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = json.loads(answer.read())
        # the token is accepted; no terminal is connected yet (steps 2-5 attach the EA)
        assert body["error"]["code"] == -32001, body
    finally:
        daemon.terminate()
        daemon.communicate(timeout=60)  # reaps it and closes its pipe

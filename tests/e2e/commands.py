"""Our commands run as processes, as a user runs them: ``python -m gateway ARGS`` with the
owner's secrets and ``MTGATEWAY_CONFIG`` left out of the environment (:func:`cli`), ``mtgateway
audit`` (:func:`audit`), any command from the repository's root (:func:`run`, the examples' and
the demo's tests), a device's config file for remote mode (:func:`device_config`), and reading
a child's output until a line appears (:func:`read_until`).

Several test modules run the same commands the same way, so they live here.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from gateway.config import CONFIG_ENV
from tests.e2e.conftest import WAIT_S

ROOT = Path(__file__).resolve().parents[2]


async def cli(*args: str | Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``python -m gateway ARGS``: exit code, stdout, stderr."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("MTGATEWAY_OWNER_EMAIL", "MTGATEWAY_OWNER_PASSWORD", CONFIG_ENV)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", *map(str, args), env={**base, **(env or {})},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), WAIT_S * 3)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def device_config(tmp_path: Path, url: str, key_b64: str) -> Path:
    """``device.toml`` in ``tmp_path``: remote mode against ``url`` pinning ``key_b64``, the
    device key kept in a file."""
    path = tmp_path / "device.toml"
    path.write_text(f'data_dir = "{(tmp_path / "device").as_posix()}"\n[authority]\n'
                    f'mode = "remote"\nurl = "{url}"\npublic_key = "{key_b64}"\n'
                    '[device]\nkey_storage = "file"\nname = "cli-box"\n', encoding="utf-8")
    return path


async def audit(config: Path, *argv: str) -> tuple[int, str, str]:
    """``mtgateway audit -c CONFIG ARGV``: exit code, stdout, stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "audit", "-c", str(config), *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(WAIT_S * 3):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def run(*argv: str) -> tuple[int, str]:
    """``argv`` from the repository's root, this interpreter's directory first on ``PATH``:
    exit code and output (stderr into stdout)."""
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                    f"{os.environ.get('PATH', '')}"})
    async with asyncio.timeout(WAIT_S * 3):
        out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def read_until(stream: asyncio.StreamReader, pattern: bytes) -> bytes:
    """Lines of ``stream`` until one holds ``pattern``: all of them (an assertion if it ends)."""
    seen = b""
    async with asyncio.timeout(WAIT_S * 2):
        while pattern not in seen:
            line = await stream.readline()
            assert line, seen.decode()
            seen += line
    return seen

"""wrk, the C load generator: found on PATH or installed from Debian, driven with a Lua script.

Why wrk: the aiohttp client costs ~65 us per request more than wrk and caps near 20k req/s at
32-way concurrency whatever the server does (on aiohttp's minimal POST server, 2 vCPUs: p50
152 us against wrk's 89, 19.6k req/s against wrk's 31.6k), so
throughput and the headline latency ratios are measured with wrk. The Lua ``done`` hook prints
the exact percentiles from wrk's HdrHistogram (microseconds) instead of the rounded table of
``--latency``.

Installation policy: use ``wrk`` from PATH; if absent, ``apt-get install -y wrk`` only when
running as root and not in ``--quick`` mode; otherwise the wrk parts are skipped and the JSON
says why. CI (``--quick``) never fails for a missing wrk.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["find_wrk", "run_wrk"]

_LUA = """
wrk.method = "POST"
wrk.body = [[%(body)s]]
wrk.headers["Content-Type"] = "application/json"
%(auth)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %%d %%d %%.1f %%.1f %%.1f %%.1f %%d %%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, latency.max, e.connect + e.read + e.write + e.timeout, e.status))
end
"""
#: With a run shorter than wrk's shortest (a whole second): the line each wrk thread's set-up
#: writes to stderr (unbuffered). wrk ignores SIGINT until its threads are made, then stops
#: on it, prints its summary and calls ``done``; so the bench starts the run's clock when
#: this line comes and interrupts wrk when the run has lasted its time (an interrupt that
#: came too early would be ignored: the run would last its whole second, never lose its
#: summary).
_SETUP_LINE = "BENCH-SETUP"
_LUA_SETUP = f"""
setup = function(thread)
  io.stderr:write("{_SETUP_LINE}\\n")
end
"""


def find_wrk(*, allow_install: bool) -> tuple[str | None, str]:
    """The wrk executable (or None) and a note saying how it was found or why not."""
    path = shutil.which("wrk")
    if path:
        return path, f"found {path}"
    if not allow_install:
        return None, "wrk not found: skipped (install it with apt-get install wrk)"
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None, "wrk not found: skipped (not root or no apt-get; apt-get install wrk)"
    for cmd in (["apt-get", "install", "-y", "wrk"], ["apt-get", "update"],
                ["apt-get", "install", "-y", "wrk"]):
        subprocess.run(cmd, check=False, capture_output=True, timeout=600)  # noqa: S603
        path = shutil.which("wrk")
        if path:
            return path, f"installed {path} with apt-get"
    return None, "wrk not found: skipped (apt-get install wrk failed)"


async def run_wrk(wrk: str, url: str, body: bytes, *, connections: int, duration_s: float,
                  token: str | None = None) -> dict[str, Any]:
    """One wrk run (one thread) POSTing ``body``; requests/s and latency in microseconds.

    ``duration_s`` under a second (``--quick``'s, which only proves the harness): wrk runs
    for its shortest run, a second, and is interrupted once it has run ``duration_s``; its
    summary then covers exactly the time it ran. A run of whole seconds is wrk's own.

    Raises:
        RuntimeError: wrk failed or its summary line is missing.
    """
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    script = _LUA % {"body": body.decode(), "auth": auth}
    interrupt = duration_s < 1
    if interrupt:
        script += _LUA_SETUP
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False, encoding="utf-8") as fh:
        fh.write(script)
        script_path = Path(fh.name)
    try:
        proc = await asyncio.create_subprocess_exec(
            wrk, "-t1", f"-c{connections}", f"-d{max(1, round(duration_s))}s", "--timeout", "5s",
            "-s", str(script_path), url,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        if interrupt:
            await _interrupt_after(proc, duration_s)
        out, err = await proc.communicate()
    finally:
        os.unlink(script_path)
    for line in out.decode().splitlines():
        if line.startswith("BENCH "):
            requests, dur_us, p50, p99, mean, mx, sock_err, status_err = line.split()[1:]
            return {"connections": connections, "requests": int(requests),
                    "rps": int(requests) / (int(dur_us) / 1e6), "p50_us": float(p50),
                    "p99_us": float(p99), "mean_us": float(mean), "max_us": float(mx),
                    "socket_errors": int(sock_err), "non_2xx": int(status_err)}
    raise RuntimeError(f"wrk gave no summary: {out.decode()[-500:]} {err.decode()[-500:]}")


async def _interrupt_after(proc: asyncio.subprocess.Process, duration_s: float) -> None:
    """Once wrk's thread is set up, let it run ``duration_s``, then SIGINT it (it stops,
    prints its summary and exits; see :data:`_SETUP_LINE`)."""
    assert proc.stderr is not None  # noqa: S101 - piped above
    line = await proc.stderr.readline()
    if line.decode().strip() != _SETUP_LINE:
        return  # wrk failed before its thread started: communicate() reports it
    await asyncio.sleep(max(0.0, duration_s))
    with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
        proc.send_signal(signal.SIGINT)

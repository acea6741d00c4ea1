"""An agent host for the tests: drives an MCP server over stdio as Claude Desktop or Cursor does.

An agent server (an MCP server through which a language model trades) is run as its users
run it: the host spawns its command, and the two speak JSON-RPC 2.0 over the process's stdin
and stdout, one message a line (the MCP specification's stdio transport,
modelcontextprotocol.io/specification/2025-06-18/basic/transports). The host sends
``initialize``, then ``notifications/initialized``, lists the tools (``tools/list``, every
page) and calls them (``tools/call``). What a server writes to stderr (banners, logs) goes to
a file. The host is written here rather than taken from the ``mcp`` package so that the test
environment needs none of the servers' requirements: the servers run in their own.

Waits are on the reader thread's queue, bounded by ``timeout_s``; a server that exits or
stops answering fails the test with its stderr.
"""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

__all__ = ["McpServer", "ToolAnswer"]

#: The protocol version the host asks for; servers answer the one they speak.
PROTOCOL_VERSION = "2025-06-18"
_EOF = object()


@dataclass(frozen=True)
class ToolAnswer:
    """One ``tools/call`` answer: its text content, that text read as JSON when it is JSON,
    and whether the server flagged it an error."""

    text: str
    data: Any
    is_error: bool


def _data(parts: list[str], structured: Any) -> Any:
    """A tool answer's value: its text read as JSON; a list answered one element a part (as
    the ``mcp`` package's servers answer a list) as the list; else the structured content
    (``{"result": value}`` for a value that is not an object); None for plain text."""
    try:
        return json.loads("\n".join(parts)) if parts else None
    except ValueError:
        pass
    try:
        return [json.loads(part) for part in parts]
    except ValueError:
        pass
    if isinstance(structured, dict):
        return structured.get("result", structured) if list(structured) == ["result"] \
            else structured
    return None


class McpServer:
    """One MCP server process, spoken to over its stdin and stdout."""

    def __init__(self, argv: Sequence[str | Path], *, env: Mapping[str, str], cwd: Path,
                 timeout_s: float) -> None:
        self._stderr_path = cwd / f"{Path(str(argv[0])).name}.stderr"
        self._stderr = self._stderr_path.open("wb")
        self._proc = subprocess.Popen([str(a) for a in argv], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._stderr, cwd=cwd,
                                      env=dict(env))
        self._timeout_s = timeout_s
        self._ids = itertools.count(1)
        self._inbox: queue.Queue[Any] = queue.Queue()
        self._noise: list[str] = []
        assert self._proc.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self._proc.stdout,),
                                        daemon=True)
        self._reader.start()
        self.tools: set[str] = set()
        self.info: dict[str, Any] = {}

    def __enter__(self) -> McpServer:
        answer = self.request("initialize", {
            "protocolVersion": PROTOCOL_VERSION, "capabilities": {},
            "clientInfo": {"name": "mtgateway-tests", "version": "1"}})
        self.info = answer.get("serverInfo", {})
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        cursor: str | None = None
        while True:
            page = self.request("tools/list", {"cursor": cursor} if cursor else {})
            self.tools |= {tool["name"] for tool in page["tools"]}
            cursor = page.get("nextCursor")
            if not cursor:
                return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _read(self, stdout: IO[bytes]) -> None:
        for line in stdout:
            try:
                self._inbox.put(json.loads(line))
            except ValueError:
                self._noise.append(line.decode(errors="replace"))
        self._inbox.put(_EOF)

    def _send(self, message: dict[str, Any]) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(message).encode() + b"\n")
        self._proc.stdin.flush()

    def stderr(self) -> str:
        """What the server wrote to stderr so far."""
        if not self._stderr.closed:
            self._stderr.flush()
        return self._stderr_path.read_text(encoding="utf-8", errors="replace")

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Send a request and wait for its answer, answering what the server asks meanwhile
        (``ping``; anything else is refused, as a host without that capability does).

        Raises:
            AssertionError: an error answer, the server's exit, or no answer in time (with
                the server's stderr).
        """
        ident = next(self._ids)
        self._send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
        while True:
            try:
                message = self._inbox.get(timeout=self._timeout_s)
            except queue.Empty:
                raise AssertionError(f"{method}: no answer in {self._timeout_s} s\n"
                                     f"{self.stderr()[-3000:]}") from None
            if message is _EOF:
                raise AssertionError(f"{method}: the server exited "
                                     f"({self._proc.poll()})\n{self.stderr()[-3000:]}")
            if "method" in message:  # the server's own request or notification
                if "id" in message:
                    self._send({"jsonrpc": "2.0", "id": message["id"], "result": {}}
                               if message["method"] == "ping" else
                               {"jsonrpc": "2.0", "id": message["id"],
                                "error": {"code": -32601, "message": "not offered"}})
                continue
            if message.get("id") != ident:
                continue
            assert "error" not in message, (method, message["error"])
            result: dict[str, Any] = message["result"]
            return result

    def call(self, tool: str, **arguments: Any) -> ToolAnswer:
        """Call ``tool`` with ``arguments``; its answer (a tool's failure is an answer too:
        check ``is_error``)."""
        assert tool in self.tools, (tool, sorted(self.tools))
        result = self.request("tools/call", {"name": tool, "arguments": arguments})
        parts = [part.get("text", "") for part in result.get("content", ())]
        text = "\n".join(parts)
        return ToolAnswer(text, _data(parts, result.get("structuredContent")),
                          bool(result.get("isError")))

    def close(self) -> int:
        """End the session as a host does (close stdin, wait), then the process if it has
        not exited; its exit code."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        try:
            code = self._proc.wait(timeout=self._timeout_s)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = self._proc.wait()
        self._reader.join(timeout=self._timeout_s)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._stderr.close()
        return code

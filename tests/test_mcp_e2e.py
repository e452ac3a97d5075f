"""`lamforge mcp` as MCP clients really meet it (issue #16): the command launched as a subprocess and
reached over stdio, and served over streamable HTTP, each driven by the official `mcp` client. The
in-process test (test_mcp_server.py) covers the tools' behaviour; these cover the transports."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import anyio
import pytest


def _text(result) -> str:
    return "".join(c.text for c in result.content)


async def _drive(server) -> tuple[set[str], str, str]:
    from mcp import Client

    async with Client(server) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        screen = _text(await client.call_tool("start_task", {"family": "bold_text", "seed": 1}))
        bad = _text(await client.call_tool("click", {"control": 9999}))
        return names, screen, bad


def _assert_a_real_episode(names: set[str], screen: str, bad: str) -> None:
    assert {"start_task", "observe", "do_task", "click", "set_text"} <= names
    assert "Episode started" in screen and "Paragraph" in screen  # the real Office document on screen
    assert "error:" in bad  # the application refused an unknown control and said so


def test_stdio_the_command_an_mcp_client_launches(tiny_model_dir):
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=sys.executable,
                                   args=["-m", "lamforge.cli", "mcp", "--env", "office", "--model", str(tiny_model_dir)])
    _assert_a_real_episode(*anyio.run(_drive, params))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"lamforge mcp --transport http exited with {proc.returncode}: {proc.stderr.read()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail(f"lamforge mcp --transport http did not listen on port {port} within {timeout:.0f} s")


def test_streamable_http_served_on_loopback(tiny_model_dir):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "lamforge.cli", "mcp", "--env", "office", "--model",
                             str(tiny_model_dir), "--transport", "http", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_port(port, proc)
        _assert_a_real_episode(*anyio.run(_drive, f"http://127.0.0.1:{port}/mcp"))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

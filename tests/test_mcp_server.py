"""`lamforge mcp` (issue #16): an environment's actions as MCP tools and the LAM as one do_task tool,
tested through the official `mcp` client on the real Office environment."""

from __future__ import annotations

import re

import anyio
import pytest

from lamforge.serving.mcp_server import McpSession, build_server


def _label(screen: str, kind: str, name: str) -> int:
    found = re.search(rf"\[(\d+)\] {kind} {re.escape(name)}\b", screen)
    assert found, screen
    return int(found.group(1))


def _text(result) -> str:
    return "".join(c.text for c in result.content)


@pytest.fixture
def session(tiny_model_dir):
    s = McpSession("office", model=str(tiny_model_dir), max_steps=3)
    yield s
    s.close()


def test_a_client_drives_the_office_actions_and_hands_a_request_to_the_lam(session):
    from mcp import Client

    async def main():
        async with Client(build_server(session)) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert {"start_task", "observe", "do_task", "click", "set_text", "drag_select"} <= names
            click = next(t for t in (await client.list_tools()).tools if t.name == "click")
            assert click.input_schema["required"] == ["control"]  # the action's own schema

            early = await client.call_tool("click", {"control": 1})
            assert early.is_error and "start_task first" in _text(early)

            screen = _text(await client.call_tool("start_task", {"family": "bold_text", "seed": 3}))
            assert "Episode started" in screen and "Paragraph" in screen
            after = _text(await client.call_tool("click", {"control": _label(screen, "TabItem", "Insert")}))
            assert after.startswith("ok") and "tab Insert" in after  # the application switched tabs
            bad = await client.call_tool("click", {"control": 9999})
            assert not bad.is_error and "error:" in _text(bad)  # the application refused: said, not raised
            unknown = await client.call_tool("teleport", {})
            assert unknown.is_error and "unknown tool" in _text(unknown)

            done = _text(await client.call_tool("do_task", {"request": "Make the title bold."}))
            assert '"steps"' in done and '"checked": false' in done  # the LAM ran a whole episode

    anyio.run(main)

"""``lamforge app`` and ``lamforge mcp``: the agent service with its page, and the MCP server (the work
is in :mod:`lamforge.serving.agent_service` and :mod:`lamforge.serving.mcp_server`).

    lamforge app --port 8765 --model office/lam4        # open http://127.0.0.1:8765/
    lamforge mcp --env office --model office/lam4       # stdio, for an MCP client to launch
"""

from __future__ import annotations

from pathlib import Path

import typer


def app_command(
    model: str = typer.Option("smollm2-135m", help="Model the agent runs unless a request names another."),
    port: int = typer.Option(8765, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Address to bind; anything but loopback needs --token."),
    token: str | None = typer.Option(None, help="Bearer token every /v1 request must carry."),
    db: Path | None = typer.Option(None, help="SQLite file of runs (default ~/.cache/lamforge/app/runs.sqlite)."),
) -> None:
    """Watch and steer the agent in a browser: requests, live steps, confirmations, earlier runs."""
    from lamforge.serving.agent_service import serve_app

    serve_app(host=host, port=port, model=model, db=db, token=token)


def mcp_command(
    env: str = typer.Option("office", help="Environment whose actions become MCP tools."),
    model: str = typer.Option("smollm2-135m", help="The LAM that do_task hands requests to."),
    transport: str = typer.Option("stdio", help="stdio (what MCP clients launch) or http (streamable HTTP at /mcp)."),
    port: int = typer.Option(8766, help="Port for --transport http (loopback only)."),
) -> None:
    """Serve an environment's actions, and the LAM as one do_task tool, over MCP."""
    from lamforge.serving.mcp_server import serve_mcp

    serve_mcp(env, model=model, transport=transport, port=port)

"""An MCP server for an environment and its agent: a client (Claude Desktop, an IDE, another agent) can
drive the environment's actions itself, or hand a whole request to the forged LAM.

    lamforge mcp --env office --model office/lam4                     # stdio (what MCP clients launch)
    lamforge mcp --env office --transport http --port 8766            # streamable HTTP at /mcp

Tools:
- ``start_task(request, template?)``: a fresh episode of the environment on a free request (or
  ``family`` and ``seed`` for a sampled task, which has a check); answers the first screen;
- ``observe()``: the current screen;
- one tool per action of the environment (``click``, ``set_text``, ...), with the action's own
  schema (``ActionSpec.tool_schema``): it runs on the current episode and answers the next screen,
  the error if the application refused it, and whether the task is done;
- ``do_task(request, template?)``: the LAM does the whole request in a fresh episode and answers its
  steps and outcome.
Blocking work (the environment, the model) runs in a worker thread, one call at a time.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from lamforge.core.errors import LamforgeError

SESSION_TOOLS = {
    "start_task": ("Start a fresh episode on a request (or a sampled task family) and show its first screen.",
                   {"request": {"type": "string", "description": "What the user wants done."},
                    "template": {"type": "string", "description": "Document or site to start from (optional)."},
                    "family": {"type": "string", "description": "A task family to sample instead of a request."},
                    "seed": {"type": "integer", "description": "Seed of the sampled task."}}, []),
    "observe": ("Show the current screen of the episode.", {}, []),
    "do_task": ("Hand the whole request to the LAM: it plans, acts and checks in a fresh episode, and "
                "answers its steps and outcome.",
                {"request": {"type": "string", "description": "What the user wants done."},
                 "template": {"type": "string", "description": "Document or site to start from (optional)."}},
                ["request"]),
}


class McpSession:
    """The environment episode the action tools act on, and the LAM for ``do_task``."""

    def __init__(self, env_name: str, *, model: str = "smollm2-135m", make_agent=None, max_steps: int = 10):
        from lamforge.agents.factory import make_agent as factory
        from lamforge.envs import action_set_of, spec

        self.env_name, self.model, self.max_steps = spec(env_name).short_name, model, max_steps
        self.make_agent = make_agent or factory
        self.action_set = action_set_of(env_name)
        self.env = None
        self.last_obs = None
        self.done = False
        self.lock = threading.Lock()

    # --- tools -----------------------------------------------------------------------------------
    def tool_list(self) -> list[dict[str, Any]]:
        out = [{"name": n, "description": d, "input_schema": {"type": "object", "properties": p, "required": r,
                                                              "additionalProperties": False}}
               for n, (d, p, r) in SESSION_TOOLS.items()]
        for s in self.action_set:
            fn = s.tool_schema()["function"]
            out.append({"name": fn["name"], "description": fn["description"], "input_schema": fn["parameters"]})
        return out

    def call(self, name: str, arguments: dict[str, Any]) -> str:
        """The tool's answer as text; a LamforgeError is the caller's mistake, said in words."""
        with self.lock:
            if name == "start_task":
                return self._start(arguments)
            if name == "observe":
                if self.env is None:
                    raise LamforgeError("no episode yet: call start_task first")
                return self._screen(self.last_obs)
            if name == "do_task":
                return self._do_task(arguments)
            if name in self.action_set:
                return self._act(name, arguments)
            raise LamforgeError(f"unknown tool {name!r}; tools: {', '.join(t['name'] for t in self.tool_list())}")

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
            self.env = None

    # --- the episode -------------------------------------------------------------------------------
    def _task(self, arguments: dict[str, Any]):
        from lamforge.envs.tasks import task_for

        request = str(arguments.get("request") or "").strip()
        if not arguments.get("family") and (not request or len(request) > 2000):
            raise LamforgeError("give a request of 1 to 2000 characters (or a task family)")
        return task_for(self.env_name, family=arguments.get("family") or None, seed=int(arguments.get("seed") or 0),
                        request=request, template=arguments.get("template") or None)

    def _start(self, arguments: dict[str, Any]) -> str:
        from lamforge.envs import make

        task = self._task(arguments)
        self.close()
        self.env = make(self.env_name, max_steps=self.max_steps)
        self.last_obs, _ = self.env.reset(options={"task": task})
        self.done = False
        return f"Episode started: {task.request}\n" + self._screen(self.last_obs)

    def _act(self, name: str, arguments: dict[str, Any]) -> str:
        from lamforge.core.schemas import Status

        if self.env is None:
            raise LamforgeError("no episode yet: call start_task first")
        if self.done:
            raise LamforgeError("the episode has ended: call start_task for a new one")
        action = self.action_set.from_tool_call(name, dict(arguments or {}), status=Status.CONTINUE)
        obs, _, terminated, truncated, info = self.env.step(action)
        self.last_obs, self.done = obs, terminated or truncated
        lines = [f"error: {info['error']}" if info.get("error") else "ok"]
        if self.done:
            lines.append("the episode has ended" + (f" (task done: {info.get('success')})" if "success" in info else ""))
        return "\n".join(lines) + "\n" + self._screen(obs)

    def _screen(self, obs) -> str:
        return obs.render() if hasattr(obs, "render") else str(obs)

    def _do_task(self, arguments: dict[str, Any]) -> str:
        from lamforge.agents.runner import run_episode
        from lamforge.envs import make

        task = self._task({"request": arguments.get("request"), "template": arguments.get("template")})
        env = make(self.env_name, max_steps=self.max_steps)
        try:
            traj = run_episode(env, self.make_agent(self.model, env), task)
        finally:
            env.close()
        steps = [f"{s.index + 1}. {s.action.call_text() if s.action.function else '(no action)'} "
                 f"[{s.action.status.value}]" + (f" error: {s.error}" if s.error else "") for s in traj.steps]
        return json.dumps({"request": task.request, "steps": steps, "finished": traj.outcome.reason,
                           "checked": False, "note": "a free request has no success check: read the steps"},
                          indent=1)


def build_server(session: McpSession):
    """The MCP server (``mcp`` 2.x low-level ``Server``) around ``session``."""
    import anyio
    from mcp import types
    from mcp.server.lowlevel import Server

    async def list_tools(ctx, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[types.Tool(**t) for t in session.tool_list()])

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        try:
            text = await anyio.to_thread.run_sync(session.call, params.name, dict(params.arguments or {}))
            return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=False)
        except LamforgeError as e:  # a bad call: said to the client, the server goes on
            return types.CallToolResult(content=[types.TextContent(type="text", text=str(e))], is_error=True)

    return Server(f"lamforge-{session.env_name}", on_list_tools=list_tools, on_call_tool=call_tool,
                  instructions=f"Drive the {session.env_name} environment: start_task, then its actions; "
                               "or do_task to let the LAM do a request.")


def serve_mcp(env: str, *, model: str, transport: str = "stdio", host: str = "127.0.0.1", port: int = 8766) -> None:
    import anyio

    session = McpSession(env, model=model)
    server = build_server(session)
    try:
        if transport == "stdio":
            from mcp.server.stdio import stdio_server

            async def main() -> None:
                async with stdio_server() as (read, write):
                    await server.run(read, write, server.create_initialization_options())

            anyio.run(main)
        elif transport == "http":
            import uvicorn

            if host not in ("127.0.0.1", "localhost", "::1"):
                raise LamforgeError("the MCP server binds to loopback only: it drives your environment")
            uvicorn.run(server.streamable_http_app(host=host), host=host, port=port, log_level="warning")
        else:
            raise LamforgeError(f"--transport is stdio or http, not {transport!r}")
    finally:
        session.close()

"""Catalog entries from an MCP server through the ``mcp`` 2.x client.

    session = McpSession("http://127.0.0.1:9000/mcp", loop)            # Streamable HTTP
    session = McpSession(StdioServerParameters(command="my-server"), loop)   # a subprocess
    session = McpSession(server_object, loop)                         # in-process (tests)
    tools = session.tools()        # -> [Tool]; each call goes through the open session
    session.close()

The session lives in one task on the catalog's background loop (anyio needs a context to be left by
the task that entered it); calls from other threads are submitted to that loop. A tool's
``input_schema`` becomes the parameters; an ``is_error`` result becomes ToolFailed; structured
content is returned as is, text content as JSON when it parses, else as text.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from lamforge.core.actions import ActionSpec
from lamforge.core.errors import (
    CatalogError,
    DependencyNotInstalled,
    ToolBadOutput,
    ToolFailed,
)
from lamforge.tools.catalog import Tool
from lamforge.tools.schema import identifier, params_from_schema


class McpSession:
    def __init__(self, server: Any, loop, timeout: float = 10.0):
        try:
            from mcp import Client
        except ImportError:
            raise DependencyNotInstalled("MCP servers need the mcp client: pip install 'mcp>=2,<3'") from None
        self.loop, self.where = loop, f"MCP server {server if isinstance(server, str) else type(server).__name__}"
        self._client = None
        self._stop: asyncio.Event | None = None

        async def hold(started: asyncio.Future) -> None:
            self._stop = asyncio.Event()
            try:
                async with Client(server, read_timeout_seconds=timeout) as client:
                    self._client = client
                    started.set_result(True)
                    await self._stop.wait()
            except BaseException as e:
                if not started.done():
                    started.set_exception(e)
                else:
                    raise

        async def start() -> None:
            started = asyncio.get_running_loop().create_future()
            self._task = asyncio.ensure_future(hold(started))
            await started

        try:
            loop.run(start(), timeout=timeout + 5)
        except Exception as e:  # noqa: BLE001 - any connection failure is the user's to fix
            raise CatalogError(f"{self.where}: cannot connect ({type(e).__name__}: {e})") from None

    def tools(self, prefix: str = "") -> list[Tool]:
        try:
            listed = self.loop.run(self._client.list_tools(), timeout=30).tools
        except Exception as e:  # noqa: BLE001
            raise CatalogError(f"{self.where}: list_tools failed ({type(e).__name__}: {e})") from None
        out = []
        for t in listed:
            where = f"{self.where}: tool {t.name!r}"
            schema = t.input_schema
            if not isinstance(schema, dict):
                raise CatalogError(f"{where}: input_schema must be a JSON object, got {schema!r}")
            params = params_from_schema(schema, where)
            names = {identifier(p.name): p.name for p in params}
            params = [p.model_copy(update={"name": identifier(p.name)}) for p in params]
            description = (t.description or t.title or t.name).strip()
            summary, _, body = description.partition("\n")
            spec = ActionSpec(name=identifier(prefix + t.name), description=summary.strip(), kind="api",
                              params=params, doc=body.strip())
            output = t.output_schema if isinstance(t.output_schema, dict) else None
            out.append(Tool(spec, self._caller(t.name, output), source=f"mcp:{t.name}", arg_names=names))
        return out

    def _caller(self, name: str, output_schema: dict | None):
        async def call(**kwargs: Any) -> Any:
            try:
                result = await self._client.call_tool(name, kwargs)
            except RuntimeError as e:
                # the mcp client checks structured content against the tool's output schema itself
                # and raises a plain RuntimeError: that is garbage output, not a failing tool
                if "output schema" in str(e) or "structured content" in str(e):
                    raise ToolBadOutput(f"{name}: {e}".split("\n")[0]) from None
                raise
            text = "\n".join(getattr(c, "text", "") for c in result.content or [] if getattr(c, "type", "") == "text")
            if result.is_error:
                raise ToolFailed(f"{name}: {text or 'the MCP server reported an error'}")
            if result.structured_content is not None:
                data = result.structured_content
                if output_schema:  # checked on the wire form, before unwrapping
                    from lamforge.tools.catalog import _json_result

                    _json_result(name, data, output_schema)
                # FastMCP-style servers wrap a plain return value as {"result": value}
                return data["result"] if isinstance(data, dict) and set(data) == {"result"} else data
            if text:
                try:
                    return json.loads(text)
                except ValueError:
                    return text
            if result.content:
                raise ToolBadOutput(f"{name}: the MCP server returned only non-text content "
                                    f"({', '.join(sorted({getattr(c, 'type', '?') for c in result.content}))})")
            return None

        return call

    def close(self) -> None:
        if self._stop is not None:
            self.loop.loop.call_soon_threadsafe(self._stop.set)
            async def finished() -> None:
                await asyncio.wait_for(self._task, 5)

            try:
                self.loop.run(finished(), timeout=10)
            except Exception:  # noqa: BLE001, S110 - closing a broken session must not hide the caller's error
                pass
            self._stop = None

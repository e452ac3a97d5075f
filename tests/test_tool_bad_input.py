"""Bad input at the tool boundary that tests/test_tools_catalog.py, tests/test_tools_calling.py and
tests/test_service_env.py do not cover yet (issue #7): more malformed OpenAPI and MCP schemas, an
OpenAPI server that is slow or gone, a hallucinated parameter that must never reach the server, a
tool that calls sys.exit() or returns data JSON cannot carry, an MCP tool whose output breaks its
declared schema, and an MCP server process killed in the middle of a session."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import signal
import socket
import sys
import textwrap
import threading
import time

import httpx
import pytest

from lamforge.core.errors import (
    CatalogError,
    ToolBadOutput,
    ToolFailed,
    ToolTimeout,
    UnknownParameter,
)
from lamforge.tools import Catalog


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- OpenAPI ---------------------------------------------------------------------------------------

def _doc(paths: dict, **extra) -> dict:
    return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths, **extra}


def _get(**op) -> dict:
    return {"get": {"operationId": "op", **op}}


def _json_body(schema) -> dict:
    return {"requestBody": {"content": {"application/json": {"schema": schema}}}}


@pytest.mark.parametrize("doc, message", [
    (_doc({"/orders/{id}": _get()}), "path parameter.*id.*not declared"),
    (_doc({"/a": _get(parameters=[{"name": "x", "in": "query", "schema": "int"}])}), "'schema' must be a mapping"),
    (_doc({"/a": _get(parameters={"x": {"in": "query"}})}), "'parameters' must be a list"),
    (_doc({"/a": {"post": {"requestBody": {"content": {"application/xml": {}}}}}}), "only JSON request bodies"),
    (_doc({"/a": {"post": {"requestBody": {"content": "json"}}}}), "needs a 'content' mapping"),
    (_doc({"/a": _get(), "/b": _get()}), "'op' is used twice"),
    (_doc({"/a": _get(parameters=[{"name": "x", "in": "query"}, {"name": "x", "in": "query"}])}), "x appear twice"),
    # a body property and a query parameter the model could not tell apart
    (_doc({"/a": {"post": {"operationId": "op", "parameters": [{"name": "qty", "in": "query"}],
                           **_json_body({"type": "object", "properties": {"qty": {"type": "integer"}}})}}}),
     "qty appear twice"),
    (_doc({"/a": {"post": _json_body({"type": "object", "properties": {"a": {"type": "string"}},
                                      "required": "a"})}}), "'required' must be a list"),
    (["not", "a", "document"], "file path, a URL or a dict"),
])
def test_more_malformed_openapi_documents_give_clear_errors(doc, message):
    with Catalog() as c, pytest.raises(CatalogError, match=message):
        c.add_openapi(doc, base_url="http://127.0.0.1:9")
    assert len(c) == 0  # nothing half-added


def test_missing_or_unreachable_openapi_document(tmp_path):
    with pytest.raises(CatalogError, match="no such OpenAPI file"):
        Catalog().add_openapi(tmp_path / "nope.yaml")
    with pytest.raises(CatalogError, match="cannot fetch"):
        Catalog().add_openapi(f"http://127.0.0.1:{_free_port()}/openapi.json")


@pytest.fixture(scope="module")
def slow_shop():
    """A real FastAPI app on loopback that counts the requests it gets."""
    import uvicorn
    from fastapi import FastAPI

    app, hits = FastAPI(), []

    @app.get("/orders/{order_id}")
    def get_order(order_id: int, verbose: bool = False):
        hits.append(order_id)
        return {"id": order_id, "verbose": verbose}

    @app.get("/slow")
    async def slow():
        await asyncio.sleep(3)
        return {"late": True}

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{base}/orders/1", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not come up") from None
            time.sleep(0.05)
    yield base, hits
    server.should_exit = True
    thread.join(timeout=10)


SHOP = _doc({
    "/orders/{order_id}": {
        # the path-level parameter says string; the operation's own one (same name and location) wins
        "parameters": [{"name": "verbose", "in": "query", "schema": {"type": "string"}}],
        "get": {"operationId": "get_order", "parameters": [
            {"name": "order_id", "in": "path", "required": True, "schema": {"type": "integer"}},
            {"name": "verbose", "in": "query", "schema": {"type": "boolean"}}]}},
    "/slow": {"get": {"operationId": "slow"}},
})


def test_openapi_tool_slow_gone_or_hallucinated(slow_shop):
    base, hits = slow_shop
    with Catalog(timeout=15) as c:  # generous for the normal calls on a loaded machine
        c.add_openapi(SHOP, base_url=base)
        assert [(p.name, p.type) for p in c.get("get_order").params] == [("order_id", "integer"),
                                                                         ("verbose", "boolean")]
        assert c.call("get_order", {"order_id": 7, "verbose": True}) == {"id": 7, "verbose": True}
        t0 = time.monotonic()
        with pytest.raises(ToolTimeout, match="0.5 s"):
            c.call("slow", {}, timeout=0.5)
        assert time.monotonic() - t0 < 2.5
        before = len(hits)
        with pytest.raises(UnknownParameter, match="coupon"):
            c.call("get_order", {"order_id": 8, "coupon": "FREE"})
        assert len(hits) == before  # a hallucinated parameter never reaches the server
        assert c.call("get_order", {"order_id": 9}) == {"id": 9, "verbose": False}  # still usable
    with Catalog(timeout=5) as gone:
        gone.add_openapi(SHOP, base_url=f"http://127.0.0.1:{_free_port()}")
        with pytest.raises(ToolFailed, match="ConnectError"):
            gone.call("get_order", {"order_id": 1})


# --- Python tools ----------------------------------------------------------------------------------

def quits(x: int) -> int:
    """Calls sys.exit, as a careless script might."""
    sys.exit(3)


async def aquits(x: int) -> int:
    """The same from a coroutine (asyncio would re-raise it out of the catalog's loop)."""
    raise SystemExit(4)


async def fine(x: int) -> int:
    """Answers."""
    return x + 1


def nan(x: int) -> float:
    """Not a JSON number."""
    return math.nan


def cyclic(x: int) -> dict:
    """A dict that contains itself."""
    d: dict = {}
    d["self"] = d
    return d


def raw_bytes(x: int) -> object:
    """Bytes."""
    return b"\x00\xff"


def test_python_tool_that_exits_or_returns_unserialisable_data():
    with Catalog([quits, aquits, fine, nan, cyclic, raw_bytes], timeout=2) as c:
        with pytest.raises(ToolFailed, match=r"quits called sys.exit\(3\)"):
            c.call("quits", {"x": 1})
        with pytest.raises(ToolFailed, match=r"aquits called sys.exit\(4\)"):
            c.call("aquits", {"x": 1})
        assert c.call("fine", {"x": 1}) == 2  # the shared loop survived
        for name, kind in (("nan", "float"), ("cyclic", "dict"), ("raw_bytes", "bytes")):
            with pytest.raises(ToolBadOutput, match=f"not JSON \\({kind}"):
                c.call(name, {"x": 1})


# --- MCP -----------------------------------------------------------------------------------------

def _lowlevel_server(tools, on_call=None):
    from mcp import types
    from mcp.server.lowlevel import Server

    logging.getLogger("mcp").setLevel(logging.CRITICAL)

    async def list_tools(ctx, params):
        return types.ListToolsResult(tools=tools)

    return Server("bad", on_list_tools=list_tools, on_call_tool=on_call)


def test_mcp_tool_output_that_breaks_its_schema_or_is_not_text():
    from mcp import types

    empty = {"type": "object", "properties": {}}
    out = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    tools = [types.Tool(name="count", description="d", input_schema=empty, output_schema=out),
             types.Tool(name="picture", description="d", input_schema=empty),
             types.Tool(name="plain", description="d", input_schema=empty)]

    async def call(ctx, params):
        if params.name == "count":
            return types.CallToolResult(content=[types.TextContent(type="text", text="{}")],
                                        structured_content={"n": "many"})
        if params.name == "picture":
            return types.CallToolResult(content=[types.ImageContent(type="image", data="aGk=",
                                                                    mime_type="image/png")])
        return types.CallToolResult(content=[types.TextContent(type="text", text='{"ok": 1}')])

    with Catalog(timeout=5) as c:
        c.add_mcp(_lowlevel_server(tools, call))
        with pytest.raises(ToolBadOutput, match="count.*'many' is not of type 'integer'"):
            c.call("count", {})
        with pytest.raises(ToolBadOutput, match="only non-text content"):
            c.call("picture", {})
        assert c.call("plain", {}) == {"ok": 1}


@pytest.mark.parametrize("names, props, message", [
    (["a", "a"], {}, "already in the catalog"),
    (["a"], {"order-id": {"type": "string"}, "order_id": {"type": "string"}}, "order_id appear twice"),
])
def test_malformed_mcp_tool_lists(names, props, message):
    from mcp import types

    tools = [types.Tool(name=n, description="d", input_schema={"type": "object", "properties": props})
             for n in names]
    with Catalog() as c, pytest.raises(CatalogError, match=message):
        c.add_mcp(_lowlevel_server(tools))


MCP_SERVER = textwrap.dedent('''
    import logging, os
    logging.disable(logging.CRITICAL)
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("proc")

    @server.tool()
    def pid() -> int:
        """The server's process id."""
        return os.getpid()

    server.run("stdio")
''')


def square(x: int) -> int:
    """x * x."""
    return x * x


def test_mcp_server_process_missing_or_killed_mid_session(tmp_path):
    from mcp import StdioServerParameters

    with Catalog(timeout=3) as c, pytest.raises(CatalogError, match="cannot connect"):
        c.add_mcp(StdioServerParameters(command=str(tmp_path / "no-such-server")))
    script = tmp_path / "server.py"
    script.write_text(MCP_SERVER)
    with Catalog([square], timeout=20) as c:
        c.add_mcp(StdioServerParameters(command=sys.executable, args=[str(script)]))
        pid = c.call("pid", {})
        assert isinstance(pid, int) and pid != os.getpid()
        os.kill(pid, signal.SIGKILL)  # the server process this test started
        t0 = time.monotonic()
        with pytest.raises((ToolFailed, ToolTimeout), match="pid"):
            c.call("pid", {})
        assert time.monotonic() - t0 < 20
        assert c.call("square", {"x": 3}) == 9  # the rest of the catalog still works

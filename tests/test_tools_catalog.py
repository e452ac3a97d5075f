"""The tool catalog (lamforge/tools): loaders from Python functions, OpenAPI documents served by a
real FastAPI app on loopback, and an in-memory MCP server; malformed schemas; tools that raise,
hang or return garbage; hallucinated functions and parameters; retrieval."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from typing import Literal

import httpx
import pytest
from pydantic import BaseModel

from lamforge.core.errors import (
    BadArguments,
    CatalogError,
    MissingArgument,
    ToolBadOutput,
    ToolFailed,
    ToolTimeout,
    UnknownFunction,
    UnknownParameter,
)
from lamforge.tools import Catalog
from lamforge.tools.python_fn import parse_docstring


class LineItem(BaseModel):
    sku: str
    qty: int = 1


def create_order(customer_id: int, items: list[LineItem], express: bool = False,
                 channel: Literal["web", "phone"] = "web") -> dict:
    """Create an order for a customer.

    The order starts in the 'new' state.

    Args:
        customer_id: Numeric id of the customer.
        items: What is ordered, one entry per product.
        express: Ship with the express carrier.
        channel: Where the order came from.
    """
    return {"customer": customer_id, "skus": [i.sku for i in items], "count": sum(i.qty for i in items),
            "express": express, "channel": channel}


def broken(x: int) -> int:
    """Always raises."""
    raise RuntimeError("database is locked")


def hangs(x: int) -> int:
    """Never answers in time."""
    time.sleep(2)
    return x


def garbage(x: int) -> object:
    """Returns something that is not JSON."""
    return object()


def wrong_shape(x: int) -> dict:
    """Declares a dict, returns a list."""
    return [x]


@pytest.fixture()
def catalog():
    with Catalog([create_order, broken, hangs, garbage, wrong_shape], timeout=0.5) as c:
        yield c


def test_python_function_becomes_an_action_spec(catalog):
    spec = catalog.get("create_order")
    assert spec.description == "Create an order for a customer."
    assert "'new' state" in spec.doc
    params = {p.name: p for p in spec.params}
    assert [p.name for p in spec.params] == ["customer_id", "items", "express", "channel"]
    assert params["customer_id"].type == "integer" and params["customer_id"].required
    assert params["customer_id"].description == "Numeric id of the customer."
    assert params["items"].type == "array" and params["items"].schema_extra["items"]["properties"]["sku"]
    assert params["channel"].enum == ["web", "phone"] and not params["channel"].required
    tool = catalog.to_openai_tools(["create_order"])[0]
    assert tool["function"]["parameters"]["required"] == ["customer_id", "items"]
    assert tool["function"]["parameters"]["properties"]["items"]["type"] == "array"
    assert "create_order" in catalog.to_action_set()


def test_call_validates_nested_arguments_into_the_declared_types(catalog):
    out = catalog.call("create_order", {"customer_id": "7", "items": [{"sku": "A", "qty": 2}, {"sku": "B"}]})
    assert out == {"customer": 7, "skus": ["A", "B"], "count": 3, "express": False, "channel": "web"}
    with pytest.raises(BadArguments, match=r"items.*\[0\]"):
        catalog.call("create_order", {"customer_id": 7, "items": [{"qty": 2}]})
    with pytest.raises(BadArguments, match="one of"):
        catalog.call("create_order", {"customer_id": 7, "items": [], "channel": "fax"})


def test_unknown_function_and_parameter_are_typed_and_counted_as_hallucinations(catalog):
    with pytest.raises(UnknownFunction, match="did you mean create_order"):
        catalog.call("create_ordr", {})
    with pytest.raises(UnknownParameter, match="coupon"):
        catalog.call("create_order", {"customer_id": 1, "items": [], "coupon": "X"})
    with pytest.raises(MissingArgument, match="items"):
        catalog.call("create_order", {"customer_id": 1})
    assert catalog.check_call("create_ordr", {}) == "function"
    assert catalog.check_call("create_order", {"customer_id": 1, "coupon": "X"}) == "parameter"
    assert catalog.check_call("create_order", {"customer_id": "not a number"}) is None


def test_tool_that_raises_hangs_or_returns_garbage(catalog):
    with pytest.raises(ToolFailed, match="RuntimeError: database is locked"):
        catalog.call("broken", {"x": 1})
    t0 = time.monotonic()
    with pytest.raises(ToolTimeout, match="0.5 s"):
        catalog.call("hangs", {"x": 1})
    assert time.monotonic() - t0 < 1.5
    with pytest.raises(ToolBadOutput, match="not JSON"):
        catalog.call("garbage", {"x": 1})
    with pytest.raises(ToolBadOutput, match="output schema"):
        catalog.call("wrong_shape", {"x": 1})


def test_bad_python_functions_are_refused():
    def star(*args):
        """Takes anything."""

    with pytest.raises(CatalogError, match=r"\*args"):
        Catalog([star])
    with pytest.raises(CatalogError, match="already in the catalog"):
        Catalog([create_order, create_order])


def test_docstring_styles():
    summary, _, params = parse_docstring(":param int city: The city.\n:param unit: Unit.")
    assert params == {"city": "The city.", "unit": "Unit."}
    summary, body, params = parse_docstring("Do it.\n\nMore.\n\nParameters:\n    a (int): first\n        continued")
    assert (summary, body, params) == ("Do it.", "More.", {"a": "first continued"})


# --- OpenAPI: a real FastAPI app on loopback describes itself ------------------------------------


class Ret(BaseModel):
    order_id: int
    reason: str = "changed mind"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def shop_url():
    import uvicorn
    from fastapi import FastAPI, HTTPException, Response

    app = FastAPI(title="shop")

    @app.get("/orders/{order_id}", operation_id="get_order", summary="Look up an order")
    def get_order(order_id: int, verbose: bool = False):
        if order_id == 404:
            raise HTTPException(404, "no such order")
        return {"id": order_id, "status": "shipped", "verbose": verbose}

    @app.post("/returns", operation_id="create_return", summary="Open a return for an order")
    def create_return(body: Ret):
        return {"return_id": 1, "order_id": body.order_id, "reason": body.reason}

    @app.get("/broken", operation_id="broken_json", summary="Says JSON, sends text")
    def broken_json():
        return Response("{not json", media_type="application/json")

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{base}/openapi.json", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise RuntimeError("shop server did not come up") from None
            time.sleep(0.05)
    yield base
    server.should_exit = True
    thread.join(timeout=10)


def test_openapi_from_a_live_server(shop_url):
    with Catalog() as c:
        names = [s.name for s in c.add_openapi(f"{shop_url}/openapi.json")]
        assert sorted(names) == ["broken_json", "create_return", "get_order"]
        assert c.get("get_order").description == "Look up an order"
        assert c.call("get_order", {"order_id": 4417, "verbose": True}) == {"id": 4417, "status": "shipped",
                                                                           "verbose": True}
        # the request body's $ref to components is inlined into parameters
        ret = c.get("create_return")
        assert [p.name for p in ret.params] == ["order_id", "reason"]
        assert c.call("create_return", {"order_id": 9}) == {"return_id": 1, "order_id": 9,
                                                            "reason": "changed mind"}
        with pytest.raises(ToolFailed, match="HTTP 404.*no such order"):
            c.call("get_order", {"order_id": 404})
        with pytest.raises(ToolBadOutput, match="said JSON"):
            c.call("broken_json", {})


def test_openapi_yaml_file(tmp_path, shop_url):
    spec = tmp_path / "shop.yaml"
    spec.write_text(f"""
openapi: 3.0.3
info: {{title: shop, version: "1"}}
servers: [{{url: "{shop_url}"}}]
paths:
  /orders/{{order_id}}:
    get:
      operationId: get-order
      summary: Look up an order
      description: Returns the order's status.
      parameters:
        - {{name: order_id, in: path, required: true, schema: {{type: integer}}, description: The order number.}}
""")
    with Catalog() as c:
        (spec_,) = c.add_openapi(spec)
        assert spec_.name == "get_order" and spec_.params[0].description == "The order number."
        assert c.call("get_order", {"order_id": 5})["status"] == "shipped"


@pytest.mark.parametrize("text, message", [
    ("openapi: [unclosed", "not valid JSON or YAML"),
    ("swagger: '2.0'\npaths: {}", "only OpenAPI 3"),
    ("openapi: 3.0.0\npaths: {}", "non-empty mapping"),
    ("openapi: 3.0.0\npaths:\n  /a:\n    get:\n      parameters: [{name: x}]", "'in'"),
    ("openapi: 3.0.0\npaths:\n  /a:\n    get:\n      parameters: [{name: x, in: query, schema: {type: blob}}]",
     "unknown type 'blob'"),
    (("openapi: 3.0.0\npaths:\n  /a:\n    post:\n      requestBody: {content: {application/json: {schema: "
      "{$ref: '#/components/schemas/Nope'}}}}"), "points at nothing"),
])
def test_malformed_openapi_gives_a_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(CatalogError, match=message) as e:
        Catalog().add_openapi(path)
    assert "bad.yaml" in str(e.value)


# --- MCP: an in-memory server through the mcp client ---------------------------------------------


@pytest.fixture()
def mcp_server():
    from mcp.server.mcpserver import MCPServer

    logging.getLogger("mcp").setLevel(logging.CRITICAL)
    server = MCPServer("shop")

    @server.tool()
    def refund(order_id: int, amount: float, note: str = "") -> dict:
        """Refund part of an order.

        Money goes back to the original payment method."""
        return {"order_id": order_id, "refunded": amount}

    @server.tool()
    def fails(x: str) -> str:
        """Raises inside the server."""
        raise ValueError("no")

    @server.tool()
    async def slow(x: str) -> str:
        """Answers after 3 s."""
        import asyncio

        await asyncio.sleep(3)
        return x

    return server


def test_mcp_server_tools(mcp_server):
    with Catalog(timeout=1.0) as c:
        names = [s.name for s in c.add_mcp(mcp_server)]
        assert names == ["refund", "fails", "slow"]
        spec = c.get("refund")
        assert spec.description == "Refund part of an order."
        assert [(p.name, p.type, p.required) for p in spec.params] == [
            ("order_id", "integer", True), ("amount", "number", True), ("note", "string", False)]
        assert c.call("refund", {"order_id": 3, "amount": 9.5}) == {"order_id": 3, "refunded": 9.5}
        with pytest.raises(ToolFailed, match="fails"):
            c.call("fails", {"x": "a"})
        with pytest.raises(ToolTimeout):
            c.call("slow", {"x": "a"})
        with pytest.raises(UnknownParameter):
            c.call("refund", {"order_id": 3, "amount": 1, "currency": "EUR"})
        assert c.call("refund", {"order_id": 4, "amount": 1}) == {"order_id": 4, "refunded": 1.0}  # still usable


@pytest.mark.parametrize("schema, message", [
    # the mcp library itself refuses a non-object input schema on the server side
    ({"type": "string"}, "list_tools failed.*invalid result"),
    ({"type": "object", "properties": ["a"]}, "'properties' must be an object"),
    ({"type": "object", "properties": {"a": {"type": "wat"}}}, "unknown type 'wat'"),
    ({"type": "object", "properties": {}, "required": ["a"]}, "not among the properties"),
])
def test_malformed_mcp_schema_gives_a_clear_error(schema, message):
    from mcp import types
    from mcp.server.lowlevel import Server

    async def list_tools(ctx, params):
        return types.ListToolsResult(tools=[types.Tool(name="bad", description="d", input_schema=schema)])

    server = Server("bad", on_list_tools=list_tools)
    with Catalog() as c, pytest.raises(CatalogError, match=message) as e:
        c.add_mcp(server)
    assert "MCP server" in str(e.value)


def test_unreachable_mcp_server():
    with Catalog(timeout=2) as c, pytest.raises(CatalogError, match="cannot connect"):
        c.add_mcp(f"http://127.0.0.1:{_free_port()}/mcp")


# --- retrieval ---------------------------------------------------------------------------------


def _doc_tools():
    def get_weather(city: str) -> dict:
        """Current weather and temperature forecast for a city."""
        return {}

    def convert_currency(amount: float, source: str, target: str) -> float:
        """Convert an amount of money from one currency to another at today's exchange rate."""
        return 0.0

    def send_email(to: str, subject: str, body: str) -> dict:
        """Send an e-mail message to a recipient."""
        return {}

    def book_flight(origin: str, destination: str, date: str) -> dict:
        """Book a plane ticket between two airports on a date."""
        return {}

    return [get_weather, convert_currency, send_email, book_flight]


@pytest.mark.parametrize("method", ["bm25", "embedding", "hybrid"])
def test_retriever_ranks_the_right_tool_first(method):
    c = Catalog(_doc_tools())
    assert c.search("convert 30 dollars to euros at the exchange rate", k=1, method=method)[0].name == "convert_currency"
    assert c.search("I need a plane ticket to Lisbon on Friday", k=1, method=method)[0].name == "book_flight"
    assert c.search("will it rain in Oslo tomorrow", k=1, method=method)[0].name == "get_weather"
    assert len(c.search("mail my boss", k=10, method=method)) == 4


def test_openai_tool_schema_is_plain_json(catalog):
    json.dumps(catalog.to_openai_tools())

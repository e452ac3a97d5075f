"""A catalog of callable functions: each entry IS an :class:`~lamforge.core.actions.ActionSpec`
(JSON-Schema parameters, documentation), paired with the code that runs it.

    from lamforge.tools import Catalog

    catalog = Catalog()
    catalog.add(get_weather)                       # a Python function: type hints + docstring
    catalog.add_openapi("shop.yaml", base_url="http://127.0.0.1:8000")   # OpenAPI 3, JSON or YAML
    catalog.add_mcp("http://127.0.0.1:9000/mcp")   # an MCP server (URL, StdioServerParameters, or
                                                   # an in-process server object in tests)
    spec = catalog.get("get_weather")              # the ActionSpec
    catalog.search("will it rain in Paris", k=5)   # retrieval over the docs (BM25 / MiniLM / hybrid)
    catalog.to_openai_tools(["get_weather"])       # OpenAI-style tool schemas
    actions = catalog.to_action_set(["get_weather"])  # an ActionSet for prompts and grammars
    catalog.call("get_weather", {"city": "Paris"}, timeout=5)   # -> JSON value, or a typed ActionError
    catalog.check_call("get_wether", {})           # -> "function" (a hallucinated function)
    catalog.close()                                # ends MCP sessions

Calls come back as JSON values or raise an ``ActionError`` the agent sees as ``last_action_error``:
``UnknownFunction``, ``UnknownParameter``/``MissingArgument``/``BadArguments``, ``ToolFailed`` (it
raised or its server said error), ``ToolTimeout``, ``ToolBadOutput`` (not JSON, or breaks its output
schema). A sync function that times out keeps running in its worker thread (Python cannot kill a
thread); its result is dropped. Give such tools their own process (MCP stdio) if that matters.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Literal

from lamforge.core.actions import ActionSet, ActionSpec
from lamforge.core.errors import (
    ActionError,
    BadArguments,
    CatalogError,
    ToolBadOutput,
    ToolFailed,
    ToolTimeout,
    UnknownFunction,
)
from lamforge.core.schemas import Action

Hallucination = Literal["function", "parameter"]


@dataclasses.dataclass
class Tool:
    """An entry's executable side. ``fn`` takes keyword arguments (sync or async);
    ``arg_names`` maps the identifiers the model writes to the names the tool expects."""

    spec: ActionSpec
    fn: Callable[..., Any] | None
    source: str = ""
    arg_names: dict[str, str] = dataclasses.field(default_factory=dict)
    output_schema: dict | None = None


class _Loop:
    """One background event loop for async tools and MCP sessions, so the catalog is usable from
    plain synchronous code (environments, agents)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="lamforge-tools", daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float | None = None):
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class Catalog:
    def __init__(self, tools: Iterable[Callable | ActionSpec] = (), *, timeout: float = 10.0):
        self.timeout = timeout
        self._tools: dict[str, Tool] = {}
        self._retrievers: dict[str, Any] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._loop: _Loop | None = None
        self._closers: list[Callable[[], None]] = []
        for t in tools:
            self.add(t)

    # --- building --------------------------------------------------------------------------------
    def add(self, item: Callable | ActionSpec | Tool, fn: Callable | None = None, *, source: str = "",
            replace: bool = False, **fields: Any) -> ActionSpec:
        """Add a Python function (its spec read from hints and docstring; ``fields`` override name,
        description...), an ActionSpec with its implementation ``fn`` (None: described only,
        calling it raises ToolFailed), or a ready :class:`Tool`."""
        if isinstance(item, Tool):
            tool = item
        elif isinstance(item, ActionSpec):
            tool = Tool(item, fn, source or "spec")
        elif callable(item):
            from lamforge.tools.python_fn import tool_from_function

            tool = tool_from_function(item, **fields)
        else:
            raise CatalogError(f"cannot add {item!r}: pass a function, an ActionSpec or a Tool")
        if tool.spec.targets_control:
            raise CatalogError(f"{tool.spec.name}: catalog tools take no control label")
        names = [p.name for p in tool.spec.params]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:  # e.g. OpenAPI "a-b" and "a_b", or a body property named like a query parameter
            raise CatalogError(f"{tool.spec.name} (from {tool.source or 'a spec'}): parameter name(s) "
                               f"{', '.join(twice)} appear twice; a call could not tell them apart")
        if tool.spec.name in self._tools and not replace:
            raise CatalogError(f"a tool named {tool.spec.name!r} is already in the catalog "
                               f"(from {self._tools[tool.spec.name].source}); pass replace=True to replace it")
        self._tools[tool.spec.name] = tool
        self._retrievers.clear()
        return tool.spec

    def add_openapi(self, source: str | dict, *, base_url: str | None = None, **kw: Any) -> list[ActionSpec]:
        """Every operation of an OpenAPI 3 document (file path, URL or dict), called over HTTP."""
        from lamforge.tools.openapi import tools_from_openapi

        return [self.add(t) for t in tools_from_openapi(source, base_url=base_url, **kw)]

    def add_mcp(self, server: Any, *, prefix: str = "") -> list[ActionSpec]:
        """Every tool of an MCP server: a URL (Streamable HTTP), ``mcp.StdioServerParameters``, or an
        in-process server object; the session stays open until :meth:`close`."""
        from lamforge.tools.mcp_tools import McpSession

        session = McpSession(server, self._event_loop(), timeout=self.timeout)
        self._closers.append(session.close)
        return [self.add(t) for t in session.tools(prefix=prefix)]

    # --- reading ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[ActionSpec]:
        return (t.spec for t in self._tools.values())

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def get(self, name: str) -> ActionSpec:
        return self.tool(name).spec

    def tool(self, name: str) -> Tool:
        if name not in self._tools:
            raise UnknownFunction(f"unknown function {name!r}" + _did_you_mean(name, self._tools))
        return self._tools[name]

    def search(self, query: str, k: int = 5, method: str = "hybrid") -> list[ActionSpec]:
        """The ``k`` entries whose documentation best matches ``query``."""
        return [spec for spec, _ in self.retriever(method).search(query, k)]

    def retriever(self, method: str = "hybrid"):
        """The retriever over the docs, built on first use and rebuilt after the catalog changes."""
        if method not in self._retrievers:
            from lamforge.tools.retriever import ToolRetriever

            self._retrievers[method] = ToolRetriever(list(self), method=method)
        return self._retrievers[method]

    def to_openai_tools(self, names: Iterable[str] | None = None) -> list[dict]:
        return [self.get(n).tool_schema() for n in (self.names if names is None else names)]

    def to_action_set(self, names: Iterable[str] | None = None) -> ActionSet:
        return ActionSet(self.get(n) for n in (self.names if names is None else names))

    # --- calling ---------------------------------------------------------------------------------
    def check_call(self, name: str | None, args: dict[str, Any]) -> Hallucination | None:
        """"function" or "parameter" when the call names something the catalog does not have
        (a hallucination), else None. Wrong values of real parameters are not hallucinations."""
        if name not in self._tools:
            return "function"
        known = {p.name for p in self._tools[name].spec.params}
        return "parameter" if set(args) - known else None

    def validate(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """The coerced keyword arguments, or UnknownFunction / UnknownParameter / BadArguments."""
        spec = self.tool(name).spec
        return spec.validate_args(Action(function=name, args=dict(args)))

    def execute(self, action: Action, timeout: float | None = None) -> Any:
        """Run an :class:`Action` naming a catalog function (what an environment's step does)."""
        if action.control_label is not None:
            raise BadArguments(f"{action.function} takes no control label")
        return self.call(action.function, action.args, timeout=timeout)

    def call(self, name: str, args: dict[str, Any], timeout: float | None = None) -> Any:
        """Validate, run with a timeout, and check the result is JSON (see the module doc)."""
        tool = self.tool(name)
        kwargs = self.validate(name, args)
        if tool.fn is None:
            raise ToolFailed(f"{name} is described in the catalog but has no implementation")
        kwargs = {tool.arg_names.get(k, k): v for k, v in kwargs.items()}
        limit = self.timeout if timeout is None else timeout
        try:
            if inspect.iscoroutinefunction(tool.fn):
                result = self._event_loop().run(_contained(name, tool.fn(**kwargs)), timeout=limit)
            else:
                result = self._thread_pool().submit(tool.fn, **kwargs).result(timeout=limit)
        except FutureTimeout:
            raise ToolTimeout(f"{name} did not answer within {limit:g} s") from None
        except ActionError:
            raise
        except SystemExit as e:  # a tool's sys.exit() must not end the agent's process
            raise ToolFailed(f"{name} called sys.exit({e.code!r})") from None
        except Exception as e:  # noqa: BLE001 - any failure of foreign code becomes the agent's error
            raise ToolFailed(f"{name} raised {type(e).__name__}: {e}") from None
        return _json_result(name, result, tool.output_schema)

    def close(self) -> None:
        for close in reversed(self._closers):
            close()
        self._closers.clear()
        if self._loop is not None:
            self._loop.close()
            self._loop = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _event_loop(self) -> _Loop:
        if self._loop is None:
            self._loop = _Loop()
        return self._loop

    def _thread_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lamforge-tool")
        return self._pool


async def _contained(name: str, coro) -> Any:
    """Await a tool on the shared loop. asyncio re-raises a task's SystemExit out of
    ``run_forever``, which would end the loop's thread: every later async or MCP call would then
    time out. It becomes the tool's failure instead."""
    try:
        return await coro
    except SystemExit as e:
        raise ToolFailed(f"{name} called sys.exit({e.code!r})") from None


def _json_result(name: str, result: Any, output_schema: dict | None) -> Any:
    """The result as plain JSON data: pydantic models and dataclasses are dumped; anything else that
    JSON cannot carry (a socket, NaN, bytes...) is garbage."""
    if hasattr(result, "model_dump"):
        result = result.model_dump(mode="json")
    elif dataclasses.is_dataclass(result) and not isinstance(result, type):
        result = dataclasses.asdict(result)
    try:
        result = json.loads(json.dumps(result, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise ToolBadOutput(f"{name} returned something that is not JSON ({type(result).__name__}: {e})") from None
    if output_schema:
        import jsonschema

        try:
            jsonschema.validate(result, output_schema)
        except jsonschema.ValidationError as e:
            raise ToolBadOutput(f"{name} returned a result that breaks its output schema: {e.message}") from None
        except jsonschema.SchemaError:
            pass  # a broken declared output schema is not the call's fault
    return result


def _did_you_mean(name: str | None, names: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(str(name), list(names), n=3)
    return f"; did you mean {', '.join(close)}?" if close else ""

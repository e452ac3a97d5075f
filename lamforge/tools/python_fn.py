"""Catalog entries from Python functions: parameters from type hints (through pydantic, so
``list[int]``, ``Literal[...]``, ``Optional``, pydantic models and TypedDicts become JSON Schema),
descriptions from the docstring (Google ``Args:`` or reST ``:param x:`` style).

    def get_weather(city: str, unit: Literal["c", "f"] = "c") -> dict:
        '''Current weather of a city.

        Args:
            city: City name, e.g. "Paris".
            unit: Temperature unit.
        '''
    tool = tool_from_function(get_weather)   # tool.spec.params -> city (required), unit (enum)
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from typing import Any

from lamforge.core.actions import ActionSpec
from lamforge.core.errors import CatalogError
from lamforge.tools.catalog import Tool
from lamforge.tools.schema import param_from_schema, resolve_refs

_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Params|Returns|Return|Raises|Yields|Examples?|Notes?)\s*:\s*$")


def parse_docstring(doc: str | None) -> tuple[str, str, dict[str, str]]:
    """(summary line, the rest of the prose, {parameter: description})."""
    doc = inspect.cleandoc(doc or "")
    params: dict[str, str] = {}
    prose: list[str] = []
    section, current = None, None
    for line in doc.splitlines():
        m = _SECTION.match(line)
        if m:
            section, current = m.group(1).lower(), None
            continue
        rest = re.match(r"^\s*:param\s+(?:\w+\s+)?(\w+)\s*:\s*(.*)$", line)
        if rest:
            current = rest.group(1)
            params[current] = rest.group(2).strip()
            continue
        if section in ("args", "arguments", "parameters", "params"):
            item = re.match(r"^\s{0,8}(\*{0,2}\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$", line)
            if item and not line.startswith(" " * 9):
                current = item.group(1).lstrip("*")
                params[current] = item.group(3).strip()
            elif current and line.strip():
                params[current] = f"{params[current]} {line.strip()}".strip()
            continue
        if section is None and not line.strip().startswith(":"):
            prose.append(line)
    text = "\n".join(prose).strip()
    summary, _, body = text.partition("\n\n")
    return " ".join(summary.split()), body.strip(), params


def _hint_schema(hint: Any, where: str) -> dict:
    from pydantic import TypeAdapter

    if hint is inspect.Parameter.empty or hint is Any:
        return {}
    try:
        schema = TypeAdapter(hint).json_schema()
    except Exception as e:  # noqa: BLE001 - pydantic raises several kinds for types it cannot describe
        raise CatalogError(f"{where}: type {hint!r} has no JSON Schema ({type(e).__name__}: {e})") from None
    return resolve_refs(schema, schema, where)


def tool_from_function(fn: Callable[..., Any], *, name: str | None = None, description: str | None = None,
                       doc: str | None = None) -> Tool:
    """A :class:`Tool` for ``fn``; ``name``/``description``/``doc`` override what the function says."""
    fname = name or getattr(fn, "__name__", None)
    if not fname or not str(fname).isidentifier():
        raise CatalogError(f"{fn!r}: a tool needs a name that is an identifier (pass name=...)")
    where = f"python function {fname}"
    try:
        sig = inspect.signature(fn)
        hints = typing.get_type_hints(fn)
    except (TypeError, ValueError, NameError) as e:
        raise CatalogError(f"{where}: cannot read its signature ({e})") from None
    summary, body, docs = parse_docstring(inspect.getdoc(fn))
    params, adapters = [], {}
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise CatalogError(f"{where}: *{p.name} / **{p.name} cannot be described to a model; "
                               "declare each parameter by name")
        if p.kind == p.POSITIONAL_ONLY:
            raise CatalogError(f"{where}: positional-only parameter {p.name!r}; tools are called by keyword")
        hint = hints.get(p.name, inspect.Parameter.empty)
        schema = _hint_schema(hint, f"{where}: parameter {p.name!r}")
        schema.pop("title", None)
        if docs.get(p.name):
            schema["description"] = docs[p.name]
        if p.default is not inspect.Parameter.empty and _jsonable(p.default):
            schema["default"] = p.default
        params.append(param_from_schema(p.name, schema, p.default is inspect.Parameter.empty, where))
        if hint is not inspect.Parameter.empty:
            adapters[p.name] = hint
    output = _hint_schema(hints["return"], f"{where}: return type") if "return" in hints else None
    spec = ActionSpec(name=fname, description=description or summary or fname.replace("_", " "),
                      kind="api", params=params, doc=body if doc is None else doc)
    return Tool(spec, _typed_call(fn, adapters), source=f"python:{getattr(fn, '__module__', '?')}.{fname}",
                output_schema=output if output and hints.get("return") not in (type(None), None) else None)


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, list, dict))


def _typed_call(fn: Callable[..., Any], hints: dict[str, Any]) -> Callable[..., Any]:
    """``fn`` called with each JSON argument validated into its annotated type (a dict becomes the
    pydantic model the function declared, a list of str stays a list of str...)."""
    from pydantic import TypeAdapter, ValidationError

    from lamforge.core.errors import BadArguments

    adapters = {k: TypeAdapter(h) for k, h in hints.items()}

    def convert(kwargs: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for k, v in kwargs.items():
            try:
                out[k] = adapters[k].validate_python(v) if k in adapters else v
            except ValidationError as e:
                raise BadArguments(f"argument {k!r}: {e.errors()[0]['msg']}") from None
        return out

    if inspect.iscoroutinefunction(fn):
        async def acall(**kwargs: Any) -> Any:
            return await fn(**convert(kwargs))

        return acall

    def call(**kwargs: Any) -> Any:
        return fn(**convert(kwargs))

    return call

"""Catalog entries from an OpenAPI 3 document (JSON or YAML; a file, a URL or a dict): one tool
per operation, called over HTTP with httpx.

    tools = tools_from_openapi("shop.yaml", base_url="http://127.0.0.1:8000")
    tools = tools_from_openapi("http://127.0.0.1:8000/openapi.json")   # base URL taken from it

Name: the ``operationId`` (made an identifier) or ``<method>_<path words>``. Parameters: path, query
and header parameters, then the JSON request body's properties (a body that is not an object
becomes one ``body`` parameter). Local ``$ref``s are inlined. The call: status >= 400 -> ToolFailed
with the body; a JSON content type with a body that is not JSON -> ToolBadOutput.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from lamforge.core.actions import ActionSpec, Param
from lamforge.core.errors import CatalogError, ToolBadOutput, ToolFailed
from lamforge.tools.catalog import Tool
from lamforge.tools.schema import (
    identifier,
    param_from_schema,
    params_from_schema,
    resolve_refs,
)

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def load_document(source: str | Path | dict) -> tuple[dict, str]:
    """The parsed document and a name for messages."""
    if isinstance(source, dict):
        return source, "OpenAPI document"
    if not isinstance(source, (str, Path)):
        raise CatalogError(f"an OpenAPI source is a file path, a URL or a dict, not {type(source).__name__}")
    text, where = None, str(source)
    if str(source).startswith(("http://", "https://")):
        import httpx

        try:
            response = httpx.get(str(source), timeout=10)
            response.raise_for_status()
        except httpx.HTTPError as e:
            raise CatalogError(f"{where}: cannot fetch the OpenAPI document ({e})") from None
        text = response.text
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise CatalogError(f"{where}: no such OpenAPI file")
        text = path.read_text(encoding="utf-8", errors="replace")
    try:
        import yaml

        doc = yaml.safe_load(text)  # YAML is a superset of JSON
    except yaml.YAMLError as e:
        raise CatalogError(f"{where}: not valid JSON or YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(doc, dict):
        raise CatalogError(f"{where}: an OpenAPI document is a mapping at the top, got {type(doc).__name__}")
    return doc, where


def tools_from_openapi(source: str | Path | dict, *, base_url: str | None = None, timeout: float = 10.0,
                       headers: dict[str, str] | None = None) -> list[Tool]:
    doc, where = load_document(source)
    version = str(doc.get("openapi", ""))
    if not version.startswith("3"):
        found = f"swagger {doc['swagger']}" if "swagger" in doc else repr(doc.get("openapi"))
        raise CatalogError(f"{where}: only OpenAPI 3 documents are supported ('openapi: 3.x'), found {found}")
    paths = doc.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise CatalogError(f"{where}: 'paths' must be a non-empty mapping of URL paths to operations")
    if base_url is None:
        servers = doc.get("servers") or []
        base_url = servers[0].get("url") if servers and isinstance(servers[0], dict) else None
        if (not base_url or base_url.startswith("/")) and str(source).startswith(("http://", "https://")):
            from urllib.parse import urljoin

            base_url = urljoin(str(source), base_url or "/")
    tools, seen = [], set()
    for path, item in paths.items():
        if not isinstance(item, dict):
            raise CatalogError(f"{where}: path {path!r} must map to operations, got {type(item).__name__}")
        shared = item.get("parameters", [])
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            op_where = f"{where}: {method.upper()} {path}"
            if not isinstance(op, dict):
                raise CatalogError(f"{op_where}: the operation must be a mapping")
            tool = _operation(doc, op_where, method, path, op, shared, base_url, timeout, headers or {})
            if tool.spec.name in seen:
                raise CatalogError(f"{op_where}: operation name {tool.spec.name!r} is used twice")
            seen.add(tool.spec.name)
            tools.append(tool)
    return tools


def _operation(doc, where, method, path, op, shared, base_url, timeout, headers) -> Tool:
    op_id = op.get("operationId") or f"{method}_{'_'.join(re.findall(r'[A-Za-z0-9]+', path))}"
    name = identifier(str(op_id))
    params: list[Param] = []
    locations: dict[str, tuple[str, str]] = {}  # identifier -> (in, original name)
    shared, own = resolve_refs(shared or [], doc, where), resolve_refs(op.get("parameters") or [], doc, where)
    if not isinstance(shared, list) or not isinstance(own, list):
        raise CatalogError(f"{where}: 'parameters' must be a list")
    for p in shared + own:
        if not isinstance(p, dict) or "name" not in p or p.get("in") not in ("path", "query", "header", "cookie"):
            raise CatalogError(f"{where}: each parameter needs 'name' and 'in' (path/query/header/cookie), got {p!r}")
    # an operation's parameter overrides the path item's one with the same name and location (OpenAPI 3)
    overridden = {(p["name"], p["in"]) for p in own}
    raw = [p for p in shared if (p["name"], p["in"]) not in overridden] + own
    declared = {p["name"] for p in raw if p["in"] == "path"}
    undeclared = [n for n in re.findall(r"\{([^{}]+)\}", path) if n not in declared]
    if undeclared:  # the call would send the literal "{id}" to the server
        raise CatalogError(f"{where}: path parameter(s) {', '.join(undeclared)} are not declared in 'parameters'")
    for p in raw:
        if p.get("schema") is not None and not isinstance(p["schema"], dict):
            raise CatalogError(f"{where}: parameter {p['name']!r}: 'schema' must be a mapping, got {p['schema']!r}")
        schema = dict(p.get("schema") or {"type": "string"})
        schema.setdefault("description", p.get("description", ""))
        pid = identifier(p["name"])
        params.append(param_from_schema(pid, schema, bool(p.get("required") or p["in"] == "path"), where))
        locations[pid] = (p["in"], p["name"])
    body = op.get("requestBody")
    if body is not None:
        body = resolve_refs(body, doc, where)
        content = body.get("content", {}) if isinstance(body, dict) else None
        if not isinstance(content, dict):
            raise CatalogError(f"{where}: requestBody needs a 'content' mapping")
        schema = (content.get("application/json") or {}).get("schema")
        if schema is None and content:
            raise CatalogError(f"{where}: only JSON request bodies are supported, got {sorted(content)}")
        if isinstance(schema, dict) and (schema.get("type") == "object" or "properties" in schema):
            for bp in params_from_schema(schema, where):
                pid = identifier(bp.name)
                params.append(bp.model_copy(update={"name": pid}))
                locations[pid] = ("body", bp.name)
        elif schema is not None:
            params.append(param_from_schema("body", schema, bool(body.get("required")), where))
            locations["body"] = ("body-whole", "body")
    summary = str(op.get("summary") or "").strip()
    detail = str(op.get("description") or "").strip()
    spec = ActionSpec(name=name, description=summary or detail.split("\n")[0] or name.replace("_", " "),
                      kind="api", params=params, doc=detail if summary else "")
    return Tool(spec, _http_call(method, path, base_url, locations, timeout, headers, name),
                source=f"openapi:{method.upper()} {path}")


def _http_call(method, path, base_url, locations, timeout, headers, name):
    def call(**kwargs: Any) -> Any:
        import httpx

        if not base_url:
            raise ToolFailed(f"{name}: the OpenAPI document names no server; pass base_url=")
        url_path, query, head, cookies, body = path, {}, dict(headers), {}, None
        for key, value in kwargs.items():
            where, original = locations[key]
            if where == "path":
                url_path = url_path.replace("{" + original + "}", str(value))
            elif where == "query":
                query[original] = value
            elif where == "header":
                head[original] = str(value)
            elif where == "cookie":
                cookies[original] = str(value)
            elif where == "body-whole":
                body = value
            else:
                body = (body or {}) | {original: value}
        try:
            r = httpx.request(method.upper(), base_url.rstrip("/") + url_path, params=query, headers=head,
                              cookies=cookies, json=body, timeout=timeout)
        except httpx.TimeoutException:
            raise ToolFailed(f"{name}: the server did not answer within {timeout:g} s") from None
        except httpx.HTTPError as e:
            raise ToolFailed(f"{name}: {type(e).__name__}: {e}") from None
        if r.status_code >= 400:
            raise ToolFailed(f"{name}: HTTP {r.status_code}: {r.text[:300]}")
        if not r.content:
            return None
        if "json" in r.headers.get("content-type", ""):
            try:
                return r.json()
            except json.JSONDecodeError:
                raise ToolBadOutput(f"{name}: the server said JSON but sent {r.text[:80]!r}") from None
        return r.text

    return call

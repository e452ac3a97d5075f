"""JSON Schema <-> :class:`~lamforge.core.actions.Param`: the one conversion every loader uses.

    params = params_from_schema({"type": "object", "properties": {...}, "required": [...]}, where="add")
    schema = normalize_schema(bfcl_schema)     # BFCL's "dict"/"float"/"tuple" -> JSON Schema names
    schema = resolve_refs(openapi_schema, doc) # inline local "#/..." references

Errors are :class:`~lamforge.core.errors.CatalogError` naming ``where`` (the tool) and the fault.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from lamforge.core.actions import ActionSpec, Param
from lamforge.core.errors import CatalogError

JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object")
# Spellings found in the wild (BFCL uses Python type names) mapped to JSON Schema's
ALIASES = {"dict": "object", "float": "number", "tuple": "array", "list": "array", "int": "integer",
           "str": "string", "bool": "boolean", "double": "number", "long": "integer"}
_DROP = ("type", "description", "enum", "title")


def identifier(name: str) -> str:
    """A Python identifier for a tool or parameter name (the call syntax writes ``name(arg=...)``)."""
    out = re.sub(r"\W", "_", name.strip())
    if not out:
        raise CatalogError(f"empty name {name!r}")
    return f"_{out}" if out[0].isdigit() else out


def normalize_schema(schema: Any) -> Any:
    """A copy of ``schema`` with type aliases mapped to JSON Schema names, recursively; "any" drops the type."""
    if isinstance(schema, list):
        return [normalize_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            value = ALIASES.get(value, value)
            if value == "any":
                continue
        elif key == "type" and isinstance(value, list):
            value = [ALIASES.get(v, v) for v in value]
        elif key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(value, dict):
            value = {k: normalize_schema(v) for k, v in value.items()}
        elif isinstance(value, (dict, list)) and key not in ("enum", "default", "required", "examples"):
            value = normalize_schema(value)
        out[key] = value
    return out


def resolve_refs(schema: Any, root: dict, where: str = "schema", _seen: tuple[str, ...] = ()) -> Any:
    """Inline local ``{"$ref": "#/a/b"}`` references of ``schema`` against ``root``; a cycle is
    cut to ``{"type": "object"}`` (the value stays a dict, its inner shape is not checked)."""
    if isinstance(schema, list):
        return [resolve_refs(s, root, where, _seen) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise CatalogError(f"{where}: only local references ('#/...') are supported, got {ref!r}")
        if ref in _seen:
            return {"type": "object"}
        target: Any = root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise CatalogError(f"{where}: reference {ref} points at nothing")
            target = target[part]
        merged = {**copy.deepcopy(target), **{k: v for k, v in schema.items() if k != "$ref"}}
        return resolve_refs(merged, root, where, _seen + (ref,))
    return {k: resolve_refs(v, root, where, _seen) for k, v in schema.items()
            if k not in ("$defs", "definitions")}


def _single_type(prop: dict, where: str) -> tuple[str, bool]:
    """The parameter type of a property and whether it is nullable."""
    t = prop.get("type")
    nullable = False
    if t is None:
        options = prop.get("anyOf") or prop.get("oneOf")
        if isinstance(options, list):
            kinds = [o for o in options if isinstance(o, dict) and o.get("type") != "null"]
            nullable = len(kinds) < len(options)
            if len(kinds) == 1 and isinstance(kinds[0].get("type"), str):
                return _single_type(kinds[0], where)[0], nullable
        return ("object" if "properties" in prop else "any"), nullable
    if isinstance(t, list):
        kinds = [x for x in t if x != "null"]
        nullable = len(kinds) < len(t)
        t = kinds[0] if len(kinds) == 1 else "any"
    if not isinstance(t, str):
        raise CatalogError(f"{where}: type must be a string or a list, got {t!r}")
    t = ALIASES.get(t, t)
    if t not in JSON_TYPES and t != "any":
        raise CatalogError(f"{where}: unknown type {t!r} (JSON Schema types: {', '.join(JSON_TYPES)})")
    return t, nullable


def param_from_schema(name: str, prop: Any, required: bool, where: str) -> Param:
    if not isinstance(prop, dict):
        raise CatalogError(f"{where}: parameter {name!r} must be described by an object, got {prop!r}")
    t, _ = _single_type(prop, f"{where}: parameter {name!r}")
    enum = prop.get("enum")
    if enum is not None and not isinstance(enum, list):
        raise CatalogError(f"{where}: parameter {name!r}: enum must be a list, got {enum!r}")
    extra = {k: v for k, v in prop.items() if k not in _DROP}
    options = prop.get("anyOf") or prop.get("oneOf")
    if "type" not in prop and t != "any" and isinstance(options, list):
        # Optional[X] (anyOf X | null): the parameter is an X; keep X's own keywords (items, ...)
        chosen = next(o for o in options if isinstance(o, dict) and o.get("type") not in (None, "null"))
        extra = {k: v for k, v in extra.items() if k not in ("anyOf", "oneOf")}
        extra.update({k: v for k, v in chosen.items() if k not in _DROP})
        enum = enum if enum is not None else chosen.get("enum")
    if t == "any":  # keep a union's alternatives so values are still validated
        extra = {k: v for k, v in prop.items() if k not in ("description", "title")}
    description = prop.get("description") or prop.get("title") or ""
    return Param(name=name, type=t, description=str(description), required=required, enum=enum,
                 schema_extra=extra or None)


def params_from_schema(schema: Any, where: str) -> list[Param]:
    """The parameters of an object schema (``properties`` + ``required``), in declared order,
    required ones first kept in place. Raises CatalogError for anything that is not such a schema."""
    if schema is None:
        return []
    if not isinstance(schema, dict):
        raise CatalogError(f"{where}: the parameter schema must be a JSON object, got {type(schema).__name__}")
    schema = normalize_schema(schema)
    t = schema.get("type", "object")
    if t != "object":
        raise CatalogError(f"{where}: the parameter schema must have type 'object', got {t!r}")
    props = schema.get("properties", {})
    if not isinstance(props, dict):
        raise CatalogError(f"{where}: 'properties' must be an object, got {type(props).__name__}")
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise CatalogError(f"{where}: 'required' must be a list of names, got {required!r}")
    missing = sorted(set(required) - set(props))
    if missing:
        raise CatalogError(f"{where}: required parameter(s) {missing} are not among the properties")
    return [param_from_schema(n, p, n in required, where) for n, p in props.items()]


def specs_from_functions(functions: list[dict]) -> tuple[list[ActionSpec], dict[str, tuple[str, dict[str, str]]]]:
    """ActionSpecs for function descriptions ``{"name", "description", "parameters"}`` (BFCL's and the
    function-calling corpus's form), with the map back from each identifier (``math.gcd`` is offered as
    ``math_gcd``) to the original name and argument names."""
    specs, names = [], {}
    for fn in functions:
        name = identifier(fn["name"])
        where = f"function {fn['name']}"
        params = params_from_schema(normalize_schema(fn.get("parameters") or {"type": "object"}), where)
        args = {identifier(p.name): p.name for p in params}
        params = [p.model_copy(update={"name": identifier(p.name)}) for p in params]
        specs.append(ActionSpec(name=name, description=fn.get("description", "") or name, kind="api",
                                params=params))
        names[name] = (fn["name"], args)
    return specs, names

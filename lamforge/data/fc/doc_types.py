"""Parameter types for the harvest (:mod:`lamforge.data.fc.apis`): the JSON-Schema of a parameter read
from a Python annotation, a default value, or the type text of a docstring (numpydoc ``Parameters``
sections, Google ``x (int):`` and reST ``:type x:`` lines).

Kept apart from the harvest because this is a parser of type notation alone: it knows nothing of
modules, signatures or which functions are worth describing, and its rules (``(M, N) array_like`` is a
matrix, ``integer or real`` a number) are read and tested on their own.
"""

from __future__ import annotations

import ast
import re
import types
import typing
from typing import Any

N, I, S, B = ({"type": t} for t in ("number", "integer", "string", "boolean"))
OBJ = {"type": "object"}
# a docstring type that names one of these cannot be written as JSON
_UNUSABLE = re.compile(r"dtype|data-type|callable|function|file|object|generator|class|buffer|bytes")


def parse_numpydoc(doc: str) -> dict[str, tuple[str, str]]:
    """{parameter: (type text, description)} from numpydoc "Parameters" sections."""
    out: dict[str, tuple[str, str]] = {}
    lines, section, current = (doc or "").splitlines(), None, []
    for i, line in enumerate(lines):
        if re.fullmatch(r"-{3,}", line.strip()):
            continue
        if line.strip() and i + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[i + 1].strip()):
            section, current = line.strip().lower(), []
            continue
        if section not in ("parameters", "other parameters"):
            continue
        if line.strip() and not line[0].isspace():
            head, _, typ = line.partition(":")
            current = [n.strip().lstrip("*") for n in head.split(",")]
            current = [n for n in current if n.isidentifier()]
            out.update({n: (typ.strip(), "") for n in current})
        elif current and line.strip() and not line.strip().startswith(".."):
            out.update({n: (out[n][0], f"{out[n][1]} {line.strip()}".strip()) for n in current})
    return out


def _from_value(v: Any) -> dict | None:
    if isinstance(v, bool):  # before int: bool is an int subclass
        return dict(B)
    if isinstance(v, int):
        return dict(I)
    if isinstance(v, float):
        return dict(N)
    if isinstance(v, str):
        return dict(S)
    if isinstance(v, (list, tuple)) and v and (item := _from_value(v[0])):
        return {"type": "array", "items": item}
    return None


def _from_hint(h: Any) -> dict | None:
    if isinstance(h, str):
        return _from_text(h)
    origin, args = typing.get_origin(h), typing.get_args(h)
    if origin is typing.Union or origin is types.UnionType:
        found = [s for a in args if a is not type(None) and (s := _from_hint(a))]
        if found and {s["type"] for s in found} == {"integer", "number"}:
            return dict(N)
        return found[0] if found else None
    if origin is typing.Literal and args and (first := _from_value(args[0])):
        return {**first, "enum": list(args)}
    if h in (bool, int, float, str):
        return _from_value(h())
    if origin in (list, tuple, set, frozenset) or (origin and getattr(origin, "__module__", "") == "collections.abc"
                                                   and origin.__name__ in ("Sequence", "Iterable", "Collection")):
        item = _from_hint(args[0]) if args else None
        return {"type": "array", "items": item} if item and item["type"] != "array" else None
    if h is dict or origin is dict:
        return dict(OBJ)
    return None


def _from_text(text: str) -> dict | None:
    """Schema of a docstring type: ``int, optional``, ``{'a', 'b'}``, ``(M, N) array_like``."""
    text = (text or "").strip()
    if m := re.match(r"^\{([^}]*)\}", text):
        try:
            values = [ast.literal_eval(v.strip()) for v in m.group(1).split(",")]
            first = _from_value(values[0]) if values else None
            return {**first, "enum": values} if first and first["type"] in ("string", "integer") else None
        except (ValueError, SyntaxError):  # {int, None} or {(M,), (M, K)}: alternatives, not values
            text = f"{m.group(1)}, {text[m.end():]}"
    shape = re.match(r"^\(([^)]*)\)\s*", text)
    text = text[shape.end():] if shape else text
    low = re.sub(r"default.*$|optional", "", text.lower())
    for alt in re.split(r"\s+or\s+|,|\|", low):
        alt = re.sub(r"^(np|numpy)\.|\s*\(.*$", "", alt.strip(" `~.:"))  # np.ndarray, array_like (N, M)
        if alt in ("", "none"):
            continue
        if _UNUSABLE.search(alt):
            return None
        if m := re.fullmatch(r"(?:1-d |2-d )?(array_like|array-like|ndarray|array|sequence|list|tuple|iterable)"
                             r"(?:\[(\w+)\]| of (.+?)s?)?", alt):
            item = _from_text(m.group(2) or m.group(3) or "float")
            if item and item["type"] == "array":  # a sequence of arrays: a matrix, for hstack & co.
                return {"type": "array", "items": {"type": "array", "items": item["items"]}} \
                    if item["items"]["type"] != "array" else None
            if not item:
                return None
            dims = [d for d in (shape.group(1).split(",") if shape else []) if d.strip() not in ("", "...")]
            return {"type": "array", "items": {"type": "array", "items": item} if len(dims) >= 2 else item}
        if m := re.fullmatch(r"(?:[\w-]+ )*(\w+)", alt):  # "non-negative int": the last word is the type
            word = m.group(1)
            for names, schema in (("int integer ints", I), ("float number scalar real numeric float_like", N),
                                  ("bool boolean", B), ("str string unicode", S), ("dict mapping", OBJ)):
                if word in names.split():  # "integer or real" is a number
                    return dict(N) if schema is I and re.search(r"\b(float|real|number)s?\b", low) else dict(schema)
    return None


def _doc_types(doc: str) -> dict[str, str]:
    """Parameter types written the Google (``x (int): ...``) or reST (``:type x: int``) way."""
    found = {m.group(1): m.group(2) for m in re.finditer(r"^\s*\*{0,2}(\w+)\s*\(([^)]*)\)\s*:", doc, re.M)}
    found.update({m.group(2): m.group(1) for m in re.finditer(r"^\s*:param\s+(\S+)\s+(\w+)\s*:", doc, re.M)})
    found.update({m.group(1): m.group(2) for m in re.finditer(r"^\s*:type\s+(\w+)\s*:\s*(.+)$", doc, re.M)})
    return found

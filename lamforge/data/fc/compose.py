"""Requests and their calls for the function-calling corpus, in BFCL's five shapes (none of BFCL's
text): one call of one offered function (``simple``), one call among several offered (``multiple``),
several calls of one function (``parallel``), several calls of several (``parallel_multiple``) and
no call when nothing offered fits (``irrelevance``).

    rng = random.Random(0)
    record = compose(rng, "parallel", pool, by_source)   # {"category", "request", "functions", "calls"}

A function is its JSON form (``{"name", "description", "parameters"}``). The request is worded from
the function's own documentation (its summary made an instruction, each stated argument by the words
of its description) in one of many forms (``lamforge/prompts/fc_requests.yaml``). Only the arguments
the request states are in the call: required ones always, optional ones when the request mentions
them, which is what BFCL's checker and a careful caller expect.
"""

from __future__ import annotations

import random
import re
from functools import cache
from importlib import resources
from typing import Any

import yaml

from lamforge.data.fc.values import Value, label, sample_value, words

CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")
MAX_CALLS = 4  # what the answer grammar allows (lamforge.tools.bfcl.MAX_CALLS): more could never be said
VERBS = set("""add adjust analyze append apply approve archive assign book build calculate cancel capitalize
center change check clean clear close combine compare compute concatenate convert copy count create decode
delete detect determine divide download encode estimate evaluate expand export extract fetch filter find fit
flatten format generate get group identify insert join list load locate look lookup make map match measure merge
move multiply normalize open order parse pay place plot post predict print quote rank read record reduce refund
register remove rename repeat replace reserve reset resolve retrieve reverse round run save scale schedule score
search select send set shift shorten show simulate solve sort split start stop strip subtract summarize swap
test track transform translate trim truncate unescape unquote update upload validate verify view wrap write
escape encode buy sell collapse draw raise cast pick choose tell take pad hash roll rotate flip stack tile sum
integrate differentiate interpolate approximate dedent indent fold unfold tokenize classify lookup ask notify
email invite issue grant revoke share subscribe unsubscribe enable disable approve reject mark flag pause resume
restore duplicate clone link unlink attach detach tag upgrade downgrade ship deliver return open quote""".split())
_RETURN_SYNONYMS = ("get", "find", "compute", "calculate", "determine")


@cache
def forms() -> dict[str, Any]:
    return yaml.safe_load(resources.files("lamforge.prompts").joinpath("fc_requests.yaml").read_text(encoding="utf-8"))


def instruction(rng: random.Random, fn: dict) -> str | None:
    """The function's summary as a lower-case instruction ("compute the greatest common divisor of
    the integers"), or None when the summary is too long or empty to make one."""
    text = re.split(r"(?<=[a-z0-9)])\.\s|\n", str(fn.get("description") or "").strip(), maxsplit=1)[0]
    text = re.sub(r"\s*\([^)]*\)", "", text).strip().rstrip(".:;")
    text = re.sub(r",?\s*(and|or)?\s*(return\s+)?false otherwise", "", text, flags=re.I)
    text = re.sub(r"\s+", " ", text)
    toks = text.split()
    if not toks or len(toks) > 18:
        return None
    first, rest = toks[0].lower(), toks[1:]
    if first in ("return", "returns"):
        if rest[:2] and " ".join(rest[:2]).lower() in ("true if", "true when", "whether the", "true iff"):
            rest = rest[2:] if rest[1].lower() != "the" else rest[1:]
            return "check whether " + " ".join(rest) if rest else None
        return f"{rng.choice(_RETURN_SYNONYMS)} {' '.join(rest)}".strip() if rest else None
    base = first
    for suffix in ("ies", "es", "s"):
        stem = first[: -len(suffix)] + ("y" if suffix == "ies" else "")
        if first.endswith(suffix) and stem in VERBS:
            base = stem
            break
    if base in VERBS:
        return " ".join([base, *rest])
    if first in ("a", "an", "the", "this", "it", "convenience", "alias", "internal", "deprecated", "same", "like"):
        return None if first in ("this", "it", "convenience", "alias", "internal", "deprecated", "same", "like") \
            else f"{rng.choice(('get', 'find', 'compute'))} {text[0].lower()}{text[1:]}"
    return f"{rng.choice(('get the', 'find the', 'compute the'))} {text[0].lower()}{text[1:]}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _props(fn: dict) -> tuple[dict, list[str]]:
    params = fn.get("parameters") or {}
    return params.get("properties") or {}, list(params.get("required") or [])


def usable(fn: dict) -> bool:
    """Whether a request can be written for ``fn``: no object-valued parameter to state."""
    props, required = _props(fn)
    return all(isinstance(p, dict) and p.get("type") != "object" for p in props.values()) \
        and all(r in props for r in required)


def state_args(rng: random.Random, fn: dict, *, skip: tuple[str, ...] = (),
               fixed: dict[str, Value] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Argument values for ``fn`` and the phrases that state them: every required parameter, and
    each optional one with probability 0.3 (at most 3)."""
    props, required = _props(fn)
    optional = [n for n in props if n not in required]
    rng.shuffle(optional)
    chosen = list(required) + [n for n in optional[:3] if rng.random() < 0.3]
    args, phrases = {}, []
    for name in chosen:
        if name in skip:
            continue
        schema = props[name]
        v = (fixed or {}).get(name) or sample_value(rng, schema, name)
        args[name] = v.value
        phrases.append(phrase(rng, name, schema, v))
    return args, phrases


def phrase(rng: random.Random, name: str, schema: dict, v: Value) -> str:
    words_ = label(name, schema)
    if isinstance(v.value, bool):
        return rng.choice(forms()["flag_on" if v.value else "flag_off"]).format(label=words_)
    text = v.text
    if schema.get("type") == "string" and not schema.get("enum") and " " in text and rng.random() < 0.5:
        text = f"'{text}'" if rng.random() < 0.5 else f'"{text}"'
    return rng.choice(forms()["arg_forms"]).format(label=words_, value=text)


def join(phrases: list[str]) -> str:
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def single_request(rng: random.Random, fn: dict) -> tuple[str, list[dict]] | None:
    action = instruction(rng, fn)
    if action is None:
        return None
    args, phrases = state_args(rng, fn)
    if phrases:
        text = rng.choice(forms()["single"]).format(Action=_cap(action), action=action, args=join(phrases))
    else:
        text = rng.choice(forms()["no_args"]).format(Action=_cap(action), action=action)
    return text, [{"name": fn["name"], "arguments": args}]


def parallel_request(rng: random.Random, fn: dict) -> tuple[str, list[dict]] | None:
    """Several calls of ``fn``: one parameter takes several values, or whole argument sets differ."""
    action = instruction(rng, fn)
    props, required = _props(fn)
    if action is None or not required:
        return None
    varying = [n for n in required if props[n].get("type") in ("string", "integer", "number")
               and not props[n].get("enum")]
    if varying and rng.random() < 0.6:
        name = rng.choice(varying)
        values, seen = [], set()
        for _ in range(12):
            v = sample_value(rng, props[name], name)
            if repr(v.value) not in seen:
                seen.add(repr(v.value))
                values.append(v)
            if len(values) >= rng.randint(2, 4):
                break
        if len(values) < 2:
            return None
        fixed_args, rest = state_args(rng, fn, skip=(name,))
        texts = [v.text for v in values]
        spoken = ", ".join(texts[:-1]) + " and " + texts[-1]
        text = rng.choice(forms()["parallel_values"]).format(
            Action=_cap(action), action=action, label=label(name, props[name]), values=spoken,
            rest=f" with {join(rest)}" if rest else "")
        calls = [{"name": fn["name"], "arguments": {**{name: v.value}, **fixed_args}} for v in values]
        order = list(props)
        return text, [{"name": c["name"], "arguments": {k: c["arguments"][k] for k in order if k in c["arguments"]}}
                      for c in calls]
    a1, p1 = state_args(rng, fn)
    a2, p2 = state_args(rng, fn)
    if a1 == a2 or not p1 or not p2:
        return None
    text = rng.choice(forms()["parallel_sets"]).format(Action=_cap(action), action=action, first=join(p1),
                                                       second=join(p2))
    return text, [{"name": fn["name"], "arguments": a1}, {"name": fn["name"], "arguments": a2}]


def _distinct(fn: dict, other: dict) -> bool:
    """Whether ``other`` is a fair distractor for ``fn``: another name, and a description that does
    not say nearly the same thing (two ways of computing a mean would make the data contradict itself)."""
    if other["name"] == fn["name"]:
        return False
    a = {w for w in words(str(fn.get("description", ""))) if len(w) > 3}
    b = {w for w in words(str(other.get("description", ""))) if len(w) > 3}
    return not a or not b or len(a & b) / len(a | b) < 0.4


def distractors(rng: random.Random, fn: dict, pool: list[dict], by_source: dict[str, list[dict]], k: int, *,
                near: float = 0.5, unrelated: bool = False) -> list[dict]:
    """``k`` other functions: near misses from ``fn``'s own source (as Gorilla's retrieval-aware
    training shows them) with probability ``near``, else any; ``unrelated`` keeps only other sources."""
    source = fn.get("_source", "")
    out: list[dict] = []
    for _ in range(k * 12):
        if len(out) >= k:
            break
        same = by_source.get(source, []) if (not unrelated and rng.random() < near) else pool
        cand = rng.choice(same) if same else rng.choice(pool)
        if unrelated and cand.get("_source") == source:
            continue
        if _distinct(fn, cand) and all(cand["name"] != o["name"] for o in out):
            out.append(cand)
    return out


def compose(rng: random.Random, category: str, pool: list[dict], by_source: dict[str, list[dict]],
            fn: dict | None = None) -> dict | None:
    """One corpus record of ``category`` about ``fn`` (drawn from ``pool`` when not given), with
    distractors from ``pool``; None when the function cannot make one (the caller draws again)."""
    fn = fn if fn is not None else rng.choice(pool)
    if category == "simple":
        made = single_request(rng, fn)
        offered = [fn]
    elif category == "multiple":
        made = single_request(rng, fn)
        offered = [fn, *distractors(rng, fn, pool, by_source, rng.randint(1, 4))]
    elif category == "parallel":
        made = parallel_request(rng, fn)
        offered = [fn]
    elif category == "parallel_multiple":
        others = distractors(rng, fn, pool, by_source, rng.randint(1, 2), near=0.3)
        parts, calls = [], []
        for f in [fn, *others]:
            one = parallel_request(rng, f) if rng.random() < 0.4 else single_request(rng, f)
            if one is None:
                return None
            parts.append(one[0])
            calls += one[1]
        text = parts[0]
        for part in parts[1:]:
            text += rng.choice(forms()["joiners"]) + (part if part.startswith("I ") else part[0].lower() + part[1:])
        if len(calls) > MAX_CALLS:
            return None
        made = (text, calls)
        offered = [fn, *others, *distractors(rng, fn, pool, by_source, rng.randint(0, 2))]
    elif category == "irrelevance":
        made = single_request(rng, fn)
        offered = distractors(rng, fn, pool, by_source, rng.randint(1, 3), unrelated=True)
        if made is not None:
            made = (made[0], [])
    else:
        raise ValueError(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}")
    if made is None or not offered:
        return None
    offered = list({f["name"]: f for f in offered}.values())
    rng.shuffle(offered)
    return {"category": category, "request": made[0], "calls": made[1],
            "functions": [{k: f[k] for k in ("name", "description", "parameters")} for f in offered],
            "source": sorted({f.get("_source", "") for f in offered})}

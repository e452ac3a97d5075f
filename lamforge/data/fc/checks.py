"""The three checks a corpus record passes before it is kept (APIGen's): format, execution, semantics.

    problem = format_problem(record)        # None, or why the answer text would not read back
    problem = semantic_problem(record)      # None, or the argument the request does not state
    results = execute(records, runnable)    # pure functions run in a child process; others are
                                            # checked against their schema (a mock made from it)
"""

from __future__ import annotations

from typing import Any

from lamforge.core.errors import LamforgeError
from lamforge.data.fc.values import grounded, label, words
from lamforge.tools.calling import format_calls, read_answer
from lamforge.tools.schema import identifier, specs_from_functions


def ident_calls(record: dict) -> list[tuple[str, dict[str, Any]]]:
    """The record's calls as offered to a model: identifiers for names (``math.gcd`` -> ``math_gcd``)."""
    return [(identifier(c["name"]), {identifier(k): v for k, v in c["arguments"].items()}) for c in record["calls"]]


def format_problem(record: dict) -> str | None:
    """The answer, written as the model is trained to write it, must parse back to the same calls,
    name only offered functions and parameters, and give every required parameter a well-typed value."""
    try:
        specs, _ = specs_from_functions(record["functions"])
    except LamforgeError as e:
        return f"unreadable function schema: {e}"
    calls = ident_calls(record)
    text = format_calls(calls, specs)
    answer = read_answer(text, specs)
    if answer.error or answer.hallucinations:
        return f"answer does not read back: {answer.error or answer.hallucinations}"
    by_name = {s.name: s for s in specs}
    for (name, args), (got_name, got_args) in zip(calls, answer.calls, strict=True):
        if name != got_name:
            return f"{name} read back as {got_name}"
        spec = by_name[name]
        for p in spec.params:
            if p.required and p.name not in args:
                return f"{name}: required {p.name} missing"
            if p.name in args:
                try:
                    value = p.coerce(got_args[p.name])
                except Exception as e:  # noqa: BLE001 - any rejection is a format failure
                    return f"{name}.{p.name}: {e}"
                if value != args[p.name] and not _same_number(value, args[p.name]):
                    return f"{name}.{p.name}: {args[p.name]!r} read back as {value!r}"
    return None


def _same_number(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(x == y or _same_number(x, y) for x, y in zip(a, b))
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and float(a) == float(b)


def semantic_problem(record: dict) -> str | None:
    """Every argument is stated in the request: values by their text, flags by their parameter's words."""
    request = record["request"]
    by_name = {f["name"]: f for f in record["functions"]}
    for call in record["calls"]:
        props = (by_name[call["name"]].get("parameters") or {}).get("properties") or {}
        for name, value in call["arguments"].items():
            if isinstance(value, bool):
                if not all(w in request.lower() for w in words(label(name, props.get(name, {})))):
                    return f"{call['name']}.{name}: the flag's words are not in the request"
            elif not grounded(value, request):
                return f"{call['name']}.{name}={value!r} is not stated in the request"
    return None


def execute(records: list[dict], runnable: dict[str, Any], timeout: float = 3.0) -> list[str | None]:
    """Per record, None when every call executed (pure harvested functions, in one child process) or
    is valid against its schema (the rest); else the first failure."""
    from lamforge.data.fc.sandbox import run_calls

    jobs, where = [], []
    for i, record in enumerate(records):
        for call in record["calls"]:
            fn = runnable.get(call["name"])
            if fn is not None and fn.pure:
                jobs.append((fn, call["arguments"]))
                where.append((i, call["name"]))
    results: list[str | None] = [None] * len(records)
    for (i, name), (ok, out) in zip(where, run_calls(jobs, timeout=timeout) if jobs else []):
        if not ok and results[i] is None:
            results[i] = f"{name} raised {out}"
    return results

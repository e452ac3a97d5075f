"""Tool calling: the prompt that shows the offered functions' documentation (retrieved or given),
the grammar of an answer, and reading the answer back.

    messages = tool_messages(specs, [{"role": "user", "content": "Weather in Paris?"}])
    grammar = calls_grammar(ActionSet(specs))              # lamforge.core.calls
    calls = read_answer('get_weather(city="Paris")', specs)  # -> ToolAnswer(calls=[...])

The same :func:`tool_messages` builds training rows (``training_row``), so a model learns on the
prompts it sees at inference, with the retrieved documentation in them (as Gorilla does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from lamforge.core.actions import ActionSpec
from lamforge.core.calls import NO_CALL, _literal, parse_calls
from lamforge.core.errors import ParseError


@cache
def _prompts() -> dict[str, str]:
    return yaml.safe_load(resources.files("lamforge.prompts").joinpath("tools.yaml").read_text(encoding="utf-8"))


def function_doc(spec: ActionSpec) -> str:
    """One function's documentation block: signature line, then a line per parameter."""
    lines = [f"- {spec.prompt_text()}"]
    for p in spec.params:
        extra = f" One of: {', '.join(_literal(v) for v in p.enum)}." if p.enum else ""
        if p.type == "array" and p.schema_extra and isinstance(p.schema_extra.get("items"), dict):
            extra += f" List of {p.schema_extra['items'].get('type', 'values')}."
        if p.description or extra:
            lines.append(f"    {p.name}: {p.description}{extra}".rstrip())
    return "\n".join(lines)


def tool_messages(specs: list[ActionSpec], turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages: the system prompt with the functions' docs, then the conversation ``turns``
    (a system turn in them is appended to ours)."""
    system = _prompts()["system"].format(functions="\n".join(function_doc(s) for s in specs))
    extra = [t["content"] for t in turns if t.get("role") == "system"]
    if extra:
        system += "\n" + "\n".join(extra)
    return [{"role": "system", "content": system}] + [t for t in turns if t.get("role") != "system"]


def format_calls(calls: list[tuple[str, dict[str, Any]]], specs: list[ActionSpec] | None = None) -> str:
    """The answer text for ``calls`` (arguments in declared order): what a model is trained to write."""
    if not calls:
        return NO_CALL
    order = {s.name: [p.name for p in s.params] for s in specs or []}
    lines = []
    for name, args in calls:
        keys = [k for k in order.get(name, []) if k in args] + [k for k in args if k not in order.get(name, [])]
        lines.append(f"{name}({', '.join(f'{k}={_value(args[k])}' for k in keys)})")
    return "\n".join(lines)


def _value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_literal(str(k))}: {_value(x)}" for k, x in v.items()) + "}"
    return _literal(v)


def training_row(specs: list[ActionSpec], turns: list[dict], calls: list[tuple[str, dict]]) -> list[dict]:
    """A chat row for SFT: the inference prompt plus the answer as the assistant turn."""
    return tool_messages(specs, turns) + [{"role": "assistant", "content": format_calls(calls, specs)}]


@dataclass
class ToolAnswer:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    error: str | None = None  # the answer could not be read as calls
    hallucinations: list[str] = field(default_factory=list)  # "function:x" / "parameter:f.y"

    @property
    def no_call(self) -> bool:
        return self.error is None and not self.calls


def read_answer(text: str, specs: list[ActionSpec]) -> ToolAnswer:
    """Parse an answer and note calls to functions or parameters the offered specs do not have.
    Positional arguments are given the declared parameter names in order."""
    by_name = {s.name: s for s in specs}
    try:
        actions = parse_calls(text)
    except ParseError as e:
        return ToolAnswer(error=str(e))
    answer = ToolAnswer()
    for a in actions:
        spec = by_name.get(a.function)
        args = dict(a.args)
        if spec is None:
            answer.hallucinations.append(f"function:{a.function}")
        else:
            names = [p.name for p in spec.params]
            positional = sorted((k for k in args if k.startswith("_") and k[1:].isdigit()), key=lambda k: int(k[1:]))
            for i, k in enumerate(positional):
                if i < len(names):
                    args[names[i]] = args.pop(k)
            answer.hallucinations += [f"parameter:{a.function}.{k}" for k in args if k not in names]
        answer.calls.append((a.function, args))
    return answer

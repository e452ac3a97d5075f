"""OpenAI ``tools`` for the chat server: the offered functions become the model's function list, and a
local model decodes its answer under the grammar of exactly those functions, so a call is always to an
offered function with well-typed arguments; the answer is returned as ``tool_calls``.

    client.chat.completions.create(model="lam", messages=[...], tools=[{"type": "function", ...}],
                                   tool_choice="auto" | "none" | "required" | {"type": "function", ...})

The prompt and the call syntax are the function-calling model's own (``lamforge/prompts/tools.yaml``,
:mod:`lamforge.tools.calling`), so a model forged with ``lamforge train-tool-calls`` reads them as
it was trained to.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from lamforge.core.errors import CatalogError, LamforgeError

MAX_CALLS = 4


class ToolChoiceError(LamforgeError):
    pass


def plain_turns(messages: list[dict[str, Any]], specs=None) -> list[dict[str, Any]]:
    """The conversation in the function-calling prompt's terms, and in any chat template's: an
    assistant turn that made calls becomes the calls' text (what the model would have written), a tool
    result a plain turn, and every turn has text content (small models' templates read ``content``)."""
    from lamforge.tools.calling import format_calls

    out = []
    for m in messages:
        if m.get("role") == "assistant" and m.get("tool_calls"):
            calls = []
            for c in m["tool_calls"]:
                fn = c.get("function") or {}
                try:
                    args = json.loads(fn.get("arguments") or "{}")
                except json.JSONDecodeError:
                    args = {}
                calls.append((str(fn.get("name", "")), args if isinstance(args, dict) else {}))
            out.append({"role": "assistant", "content": format_calls(calls, specs)})
        elif m.get("role") == "tool":
            out.append({"role": "user", "content": f"Result: {m.get('content') or ''}"})
        else:
            out.append({"role": m.get("role", "user"), "content": m.get("content") or ""})
    return out


def _chosen(tools: list[dict[str, Any]], tool_choice: Any) -> tuple[list[dict], bool]:
    """(the functions the model may call, whether it may answer without a call)."""
    functions = [t.get("function") or {} for t in tools if isinstance(t, dict) and t.get("type", "function") == "function"]
    if not functions:
        raise ToolChoiceError("tools must be a list of {'type': 'function', 'function': {...}}")
    if tool_choice in (None, "auto"):
        return functions, True
    if tool_choice == "required":
        return functions, False
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name")
        picked = [f for f in functions if f.get("name") == name]
        if not picked:
            raise ToolChoiceError(f"tool_choice names {name!r}, which is not among the tools offered")
        return picked, False
    raise ToolChoiceError(f"tool_choice must be 'auto', 'none', 'required' or a function, not {tool_choice!r}")


def answer_with_tools(backend, messages: list[dict[str, Any]], tools: list[dict[str, Any]], tool_choice: Any,
                      max_tokens: int) -> dict[str, Any]:
    """``{"message", "finish_reason", "prompt_tokens", "completion_tokens"}`` for an OpenAI response;
    None for "answer in words" (no call, or ``tool_choice="none"``): the caller chats as usual."""
    from lamforge.core.actions import ActionSet
    from lamforge.core.calls import calls_grammar
    from lamforge.tools.calling import read_answer, tool_messages
    from lamforge.tools.schema import specs_from_functions

    functions, may_skip = _chosen(tools, tool_choice)
    try:
        specs, names = specs_from_functions(functions)
    except CatalogError as e:
        raise ToolChoiceError(f"a tool's schema cannot be read: {e}") from None
    prompt = tool_messages(specs, plain_turns(messages, specs))
    if getattr(backend, "local", False):
        from lamforge.models.batch_decoding import generate_constrained_batch
        from lamforge.models.decoding import prompt_ids

        ids = prompt_ids(backend.tokenizer, prompt)
        grammar = calls_grammar(ActionSet(specs), max_calls=MAX_CALLS, allow_none=may_skip)
        text = generate_constrained_batch(backend.model, backend.tokenizer, [ids], [grammar], max_new_tokens=max_tokens)[0]
        prompt_tokens, completion_tokens = len(ids), len(backend.tokenizer(text, add_special_tokens=False)["input_ids"])
    else:  # a remote model: its free text, parsed (calls to functions not offered are dropped below)
        result = backend.chat(prompt, max_tokens=max_tokens)
        text, prompt_tokens, completion_tokens = result.text, result.prompt_tokens, result.completion_tokens
    parsed = read_answer(text, specs)
    offered = {s.name for s in specs}
    calls = [(n, a) for n, a in parsed.calls if n in offered]
    if not calls:
        return {"message": None, "finish_reason": "stop", "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens, "text": text}
    tool_calls = []
    for name, args in calls:
        original, arg_names = names.get(name, (name, {}))
        tool_calls.append({"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                           "function": {"name": original,
                                        "arguments": json.dumps({arg_names.get(k, k): v for k, v in args.items()})}})
    return {"message": {"role": "assistant", "content": None, "tool_calls": tool_calls},
            "finish_reason": "tool_calls", "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "text": text}

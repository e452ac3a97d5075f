"""The action as one line of text: what a model writes, what trainers learn, what the parser reads.

    click(control=12)
    set_text(control=37, text="Confirm with the team.") FINISH
    select_paragraph(index=3)
    FINISH

A line is a Python-style call with keyword arguments (control first), then an optional status word
(``FINISH``: the task is done once this action has run). ``FINISH`` / ``FAIL`` alone are pure status
updates; ``ask(question="...")`` asks the user (PENDING). An optional ``Thought: ...`` line may come
first.

The same :class:`ActionSet` gives (1) :func:`format_action` for training targets, (2) :func:`parse_action`
for free-form model output, (3) :func:`action_grammar`, an EBNF grammar admitting exactly the
well-typed actions on the controls of the current observation, for constrained decoding.
"""

from __future__ import annotations

import ast
import json
import re
from itertools import combinations

from lamforge.core.actions import ActionSet, ActionSpec, Param
from lamforge.core.errors import BadArguments, ParseError, UnknownFunction
from lamforge.core.schemas import Action, Observation, Status

_STATUS_SUFFIX = re.compile(r"\s+(FINISH|FAIL)\s*$")
ASK = "ask"


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def format_action(action: Action, action_set: ActionSet | None = None, with_thought: bool = False) -> str:
    """The canonical line for ``action`` (arguments in the spec's declared order)."""
    head = f"Thought: {action.thought}\n" if with_thought and action.thought else ""
    if action.status == Status.PENDING:
        return head + f"ask(question={_literal(action.args.get('question', action.thought))})"
    if action.function is None:
        return head + ("FAIL" if action.status == Status.FAIL else "FINISH")
    parts = [f"control={action.control_label}"] if action.control_label is not None else []
    order = [p.name for p in action_set.get(action.function).params] if action_set else list(action.args)
    parts += [f"{k}={_literal(action.args[k])}" for k in order if action.args.get(k) is not None]
    suffix = " FINISH" if action.status == Status.FINISH else " FAIL" if action.status == Status.FAIL else ""
    return head + f"{action.function}({', '.join(parts)}){suffix}"


def parse_action(text: str, action_set: ActionSet) -> Action:
    """Read a model's line back into an :class:`Action`; raises ParseError (shown to the model)."""
    thought = ""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if lines and lines[0].lower().startswith("thought:"):
        thought = lines.pop(0)[8:].strip()
    if not lines:
        raise ParseError("no action found: write one call such as click(control=3)")
    line = lines[0]
    if line in ("FINISH", "FAIL"):
        return Action(thought=thought, status=Status(line))
    status = Status.CONTINUE
    m = _STATUS_SUFFIX.search(line)
    if m:
        status, line = Status(m.group(1)), line[: m.start()]
    try:
        call = ast.parse(line, mode="eval").body
    except SyntaxError as e:
        raise ParseError(f"not a call: {line!r} ({e.msg})") from None
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise ParseError(f"not a call: {line!r}; write e.g. click(control=3)")
    name = call.func.id
    try:
        values = [_eval(a) for a in call.args]
        kwargs = {k.arg: _eval(k.value) for k in call.keywords if k.arg}
    except ValueError as e:
        raise ParseError(f"arguments must be plain values: {e}") from None
    if name == ASK:
        question = kwargs.get("question", values[0] if values else "")
        return Action(thought=thought, args={"question": str(question)}, status=Status.PENDING)
    if name not in action_set:
        raise UnknownFunction(f"unknown function {name!r}; available: {', '.join(action_set.specs)}")
    spec = action_set.get(name)
    names = [p.name for p in spec.all_params()]
    if len(values) > len(names):
        raise BadArguments(f"{name} takes at most {len(names)} arguments")
    kwargs = {**dict(zip(names, values)), **kwargs}
    label = kwargs.pop("control", None)
    if label is not None and not isinstance(label, int):
        raise BadArguments(f"control must be a label number, got {label!r}")
    return Action(thought=thought, function=name, control_label=label, args=kwargs, status=status)


def _eval(node: ast.AST):
    return ast.literal_eval(node)


# --- grammar for constrained decoding ------------------------------------------------------------

_VALUE_RULES = {
    "string": '"\\"" ([^"\\\\\\n] | "\\\\" ["\\\\n])* "\\""',
    "integer": '"-"? [0-9]+',
    "number": '"-"? [0-9]+ ("." [0-9]+)?',
    "boolean": '"true" | "false"',
}


def _param_value(spec: ActionSpec, p: Param) -> str:
    if p.enum:
        return " | ".join(_ebnf_str(_literal(v)) for v in p.enum)
    return f"v_{p.type}"


def _ebnf_str(s: str) -> str:
    return json.dumps(s)


def action_grammar(observation: Observation, action_set: ActionSet, *, allow_ask: bool = False,
                   thought: bool = False) -> str:
    """EBNF (xgrammar / GBNF dialect) for the actions valid on ``observation``: each function with
    a control may only name labels of controls it applies to; argument values are typed."""
    labels_by_type: dict[str, list[int]] = {}
    for c in observation.controls:
        labels_by_type.setdefault(c.type, []).append(c.label)
    rules, alternatives = {}, ['"FINISH"', '"FAIL"']
    for spec in action_set:
        args = []
        if spec.targets_control:
            types = spec.control_types or tuple(labels_by_type)
            labels = sorted({lb for t in types for lb in labels_by_type.get(t, [])})
            if not labels:
                continue  # nothing on screen this action could act on
            rules[f"c_{spec.name}"] = " | ".join(f'"{lb}"' for lb in labels)
            args.append(f'"control=" c_{spec.name}')
        required = [p for p in spec.params if p.required]
        optional = [p for p in spec.params if not p.required]
        subsets = [s for k in range(len(optional) + 1) for s in combinations(optional, k)]
        if not required and not spec.targets_control and optional:
            subsets = [s for s in subsets if s]  # an action needs at least one argument
        variants = []
        for subset in subsets:
            chosen = [p for p in spec.params if p in required or p in subset]
            pieces = args + [f'"{p.name}=" ({_param_value(spec, p)})' for p in chosen]
            variants.append(' ", " '.join(pieces) if pieces else '""')
        rules[f"a_{spec.name}"] = f'"{spec.name}(" ({" | ".join(variants)}) ")" status'
        alternatives.append(f"a_{spec.name}")
    if allow_ask:
        rules["a_ask"] = '"ask(question=" v_string ")"'
        alternatives.append("a_ask")
    head = '"Thought: " [^\\n]* "\\n" ' if thought else ""
    lines = [f"root ::= {head}({' | '.join(alternatives)})", 'status ::= "" | " FINISH"']
    lines += [f"{k} ::= {v}" for k, v in rules.items()]
    lines += [f"v_{t} ::= {r}" for t, r in _VALUE_RULES.items()]
    return "\n".join(lines)

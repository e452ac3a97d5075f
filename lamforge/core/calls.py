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
from typing import ClassVar

from lamforge.core.actions import ActionSet, ActionSpec, Param
from lamforge.core.errors import BadArguments, ParseError, UnknownControl, UnknownFunction
from lamforge.core.schemas import Action, Observation, Status

_STATUS_SUFFIX = re.compile(r"\s+(FINISH|FAIL)\s*$")
ASK = "ask"


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def format_action(action: Action, action_set: ActionSet | None = None, with_thought: bool = False,
                  observation: Observation | None = None) -> str:
    """The canonical line for ``action`` (arguments in the spec's declared order). With an action set
    that refers to controls by name, the control is named as ``observation`` (or the action) names it."""
    head = f"Thought: {action.thought}\n" if with_thought and action.thought else ""
    if action.status == Status.PENDING:
        return head + f"ask(question={_literal(action.args.get('question', action.thought))})"
    if action.function is None:
        return head + ("FAIL" if action.status == Status.FAIL else "FINISH")
    parts = [f"control={_control_ref(action, action_set, observation)}"] if (
        action.control_label is not None or action.control_name is not None) else []
    order = [p.name for p in action_set.get(action.function).params] if action_set else list(action.args)
    parts += [f"{k}={_literal(action.args[k])}" for k in order if action.args.get(k) is not None]
    suffix = " FINISH" if action.status == Status.FINISH else " FAIL" if action.status == Status.FAIL else ""
    return head + f"{action.function}({', '.join(parts)}){suffix}"


def _control_ref(action: Action, action_set: ActionSet | None, observation: Observation | None) -> str:
    if action_set is not None and action_set.refer_by_name:
        control = observation.control(action.control_label) if observation and action.control_label is not None else None
        name = control.name if control is not None else action.control_name
        if name:
            return _literal(name)
    return str(action.control_label)


def parse_action(text: str, action_set: ActionSet, observation: Observation | None = None) -> Action:
    """Read a model's line back into an :class:`Action`; raises ParseError (shown to the model).
    A control given by name (``control="Bold"``, where the action set refers by name) is resolved to
    its label on ``observation``; a name not on screen raises UnknownControl."""
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
    call = _parse_expr(line)
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise ParseError(f"not a call: {line!r}; write e.g. click(control=3)")
    name, values, kwargs = _call_parts(call)
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
    control_name = None
    if isinstance(label, str) and action_set.refer_by_name:
        control_name = label
        found = observation.find(label) if observation is not None else None
        if observation is not None and found is None:
            raise UnknownControl(f"no control named {label!r} on screen")
        label = found.label if found is not None else None
    elif label is not None and (not isinstance(label, int) or isinstance(label, bool)):
        what = "a control's name or label" if action_set.refer_by_name else "a label number"
        raise BadArguments(f"control must be {what}, got {label!r}")
    return Action(thought=thought, function=name, control_label=label, control_name=control_name, args=kwargs,
                  status=status)


NO_CALL = "NO_CALL"  # a tool-calling answer meaning "none of the offered functions fits the request"


def parse_calls(text: str) -> list[Action]:
    """Read a tool-calling answer: one call per line (``f(a=1)``; also ``[f(a=1), g(b=2)]`` on one
    line), or ``NO_CALL`` for none. Functions are NOT checked against a catalog here, so that a call
    to a function or parameter that does not exist can be counted as a hallucination by the caller
    (``lamforge.tools.Catalog.check_call``). Positional arguments come back under ``"_0"``, ``"_1"``...
    Raises ParseError for a line that is not a call."""
    calls: list[Action] = []
    for line in (ln.strip() for ln in text.strip().splitlines()):
        if not line or line.lower().startswith("thought:"):
            continue
        if line == NO_CALL:
            if calls:
                raise ParseError(f"{NO_CALL} after a call: answer with calls or with {NO_CALL} alone")
            return []
        node = _parse_expr(line)
        nodes = node.elts if isinstance(node, (ast.List, ast.Tuple)) else [node]
        for call in nodes:
            if not isinstance(call, ast.Call):
                raise ParseError(f"not a call: {ast.unparse(call)!r}; write e.g. get_weather(city=\"Paris\")")
            name, values, kwargs = _call_parts(call)
            args = {f"_{i}": v for i, v in enumerate(values)} | kwargs
            calls.append(Action(function=name, args=args))
    if not calls:
        raise ParseError(f"no call found: write one call per line, or {NO_CALL}")
    return calls


def _parse_expr(line: str) -> ast.expr:
    try:
        return ast.parse(line, mode="eval").body
    except SyntaxError as e:
        raise ParseError(f"not a call: {line!r} ({e.msg})") from None


def _call_parts(call: ast.Call) -> tuple[str, list, dict]:
    """Name, positional and keyword values of a call node; dotted names (``math.gcd``) are kept."""
    try:
        name = ast.unparse(call.func)
        values = [_eval(a) for a in call.args]
        kwargs = {k.arg: _eval(k.value) for k in call.keywords if k.arg}
    except ValueError as e:
        raise ParseError(f"arguments must be plain values: {e}") from None
    if not all(part.isidentifier() for part in name.split(".")):
        raise ParseError(f"not a function name: {name!r}")
    return name, values, kwargs


class _JsonNames(ast.NodeTransformer):
    # The grammar writes booleans the JSON way (true/false); models also write null
    _VALUES: ClassVar[dict[str, object]] = {"true": True, "false": False, "null": None}

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self._VALUES:
            return ast.copy_location(ast.Constant(self._VALUES[node.id]), node)
        return node


def _eval(node: ast.AST):
    return ast.literal_eval(_JsonNames().visit(node))


# --- grammar for constrained decoding ------------------------------------------------------------

_VALUE_RULES = {
    "string": '"\\"" ([^"\\\\\\n] | "\\\\" ["\\\\n])* "\\""',
    # bounded: a forged model once wrote item_id=2944444... for 80 digits (session 14), which spent
    # the token budget and crashed the database call; 18 digits hold any 64-bit integer
    "integer": '"-"? [0-9]{1,18}',
    "number": '"-"? [0-9]{1,18} ("." [0-9]{1,9})?',
    "boolean": '"true" | "false"',
    # JSON-ish structured values for catalog tools (lamforge.tools); Python and JSON read them alike
    "array": '"[" (v_any (", " v_any)*)? "]"',
    "object": '"{" (v_string ": " v_any (", " v_string ": " v_any)*)? "}"',
    "any": "v_string | v_number | v_boolean | v_array | v_object",
}
_SIMPLE = ("string", "integer", "number", "boolean")


def _schema_expr(schema: dict, depth: int = 0) -> str:
    """A grammar expression for a value of JSON Schema ``schema``: enums and typed array items are
    followed a few levels deep; anything else falls back to the generic value rules."""
    if schema.get("enum"):
        return " | ".join(_ebnf_str(_literal(v)) for v in schema["enum"])
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t in _SIMPLE:
        return f"v_{t}"
    if t == "array" and isinstance(schema.get("items"), dict) and depth < 3:
        item = _schema_expr(schema["items"], depth + 1)
        return f'"[" (({item}) (", " ({item}))*)? "]"'
    return f"v_{t}" if t in ("array", "object") else "v_any"


def _param_value(p: Param) -> str:
    if p.enum:
        return " | ".join(_ebnf_str(_literal(v)) for v in p.enum)
    if p.type in _SIMPLE:
        return f"v_{p.type}"
    return _schema_expr(p.json_schema())


def _ebnf_str(s: str) -> str:
    return json.dumps(s)


_CUT = "..."  # how a screen marks a text cut short (Office shows 100 characters of a paragraph)
_EDGE = ",.;:!?\"'()[]\u201c\u201d\u2018\u2019"  # punctuation a phrase may leave off its first or last word


def _phrase_rule(label: int, text: str | None, rules: dict[str, str]) -> str | None:
    """The rule of a quoted phrase of ``text``: whole words in order, the first one may drop its
    leading punctuation and the last its trailing one ("hire twenty staff" of "...twenty staff.").
    One rule per word (that word, then optionally the rest from the next one), so the grammar grows
    with the text's length, not with its number of phrases. None for no text or a text cut short."""
    if not text or not text.strip() or text.rstrip().endswith(_CUT):
        return None
    name = f"x_{label}"
    if name in rules:
        return name
    words, seps = re.findall(r"\S+", text), re.findall(r"\s+", text.strip())
    esc = lambda w: _ebnf_str(json.dumps(w, ensure_ascii=False)[1:-1])  # noqa: E731 - inside a quoted literal
    more = lambda j: f" ({esc(seps[j])} {name}_{j + 1})?" if j + 1 < len(words) else ""  # noqa: E731
    starts = []
    for j in reversed(range(len(words))):
        w = words[j]
        alts = [f"{esc(w)}{more(j)}"] + ([esc(w.rstrip(_EDGE))] if w.rstrip(_EDGE) not in ("", w) else [])
        rules[f"{name}_{j}"] = " | ".join(alts)
        starts.append(f"{name}_{j}")
        lead = w.lstrip(_EDGE)
        if lead not in ("", w):
            starts.append(f"{esc(lead)}{more(j)}")
            if lead.rstrip(_EDGE) not in ("", lead):
                starts.append(esc(lead.rstrip(_EDGE)))
    rules[name] = '"\\"" (' + " | ".join(reversed(starts)) + ') "\\""'
    return name


def _text_value(p: Param, labels: list[int], texts: dict[int, str], rules: dict[str, str]) -> str:
    """A ``text_of`` parameter's value: a phrase of one of ``labels``' texts (any string where one is
    cut short, or none is shown)."""
    phrases = [_phrase_rule(lb, texts.get(lb), rules) for lb in labels]
    if not phrases or None in phrases:
        return _param_value(p)
    return " | ".join(dict.fromkeys(phrases))


def _call_rule(spec: ActionSpec, rules: dict[str, str], labels_by_type: dict[str, list[int]],
               options: dict[int, list[str]] | None = None, names: dict[int, str] | None = None,
               texts: dict[int, str] | None = None) -> str | None:
    """Add the rules of one call ``name(arg=value, ...)`` (arguments in declared order, each optional
    one may be left out) and return its rule name; None when no control on screen fits it.
    The argument list is a chain of 2 rules per parameter ("nothing written yet" / "something
    written", for the commas), so its size grows linearly with the number of optional parameters.
    A first parameter marked ``from_control`` is bound to its control: each label is followed only
    by the options that control lists (``options``; a control that lists none takes any value).
    One marked ``text_of`` takes a phrase of the text (``texts``: label -> shown value) of its
    control, or, in an action on no control, of any shown control of those types.
    With ``names`` (label -> name), controls are written by their quoted name instead of the label."""
    ref = (lambda lb: _ebnf_str(_literal(names[lb]))) if names else (lambda lb: f'"{lb}"')
    head = None
    params, texts = spec.params, texts or {}
    values = {p.name: _text_value(p, sorted(lb for t in p.text_of for lb in labels_by_type.get(t, [])), texts, rules)
              for p in params if p.text_of and not spec.targets_control}
    if spec.targets_control:
        types = spec.control_types or tuple(labels_by_type)
        labels = sorted({lb for t in types for lb in labels_by_type.get(t, [])})
        if not labels:
            return None  # nothing on screen this action could act on
        if params and (params[0].from_control or params[0].text_of):
            p, opts = params[0], options or {}
            alts = []
            for lb in labels:
                if p.text_of:
                    value = _text_value(p, [lb], texts, rules)
                else:
                    value = " | ".join(_ebnf_str(_literal(o)) for o in opts[lb]) if opts.get(lb) else _param_value(p)
                alts.append(f'{ref(lb)} ", {p.name}=" ({value})')
            rules[f"c_{spec.name}"] = " | ".join(alts)
            params = params[1:]  # written with its control
        else:
            rules[f"c_{spec.name}"] = " | ".join(ref(lb) for lb in labels)
        head = f'"control=" c_{spec.name}'
    if head:
        args = f"{head} {_arg_chain(spec.name, params, rules, first_comma=True, values=values)}"
    else:
        args = _arg_chain(spec.name, params, rules, first_comma=False, values=values) if params else '""'
    rules[f"a_{spec.name}"] = f'"{spec.name}(" {args} ")"'
    return f"a_{spec.name}"


def _arg_chain(name: str, params: list[Param], rules: dict[str, str], *, first_comma: bool,
               values: dict[str, str] | None = None) -> str:
    """The rule for ``params`` in declared order; ``first_comma``: something was written before them
    (a control), so even the first one starts with ", ". ``values``: a parameter's value rule where
    the screen decides it (phrases), else its type's."""
    # an action with only optional arguments and no control needs at least one argument
    need_one = not first_comma and bool(params) and not any(p.required for p in params)
    base = f"p_{name}"
    rest, first = '""', (None if need_one else '""')
    for i in reversed(range(len(params))):
        p = params[i]
        piece = f'"{p.name}=" ({(values or {}).get(p.name) or _param_value(p)})'
        take_rest, take_first = f'", " {piece} {rest}', f"{piece} {rest}"
        if p.required:
            rest_rule, first_rule = take_rest, take_first
        else:
            rest_rule = f"({take_rest}) | {rest}"
            first_rule = f"({take_first}) | {first}" if first is not None else take_first
        rules[f"{base}_{i}r"], rules[f"{base}_{i}f"] = rest_rule, first_rule
        rest, first = f"{base}_{i}r", f"{base}_{i}f"
    return rest if first_comma else (first or '""')


def _value_lines() -> list[str]:
    return [f"v_{t} ::= {r}" for t, r in _VALUE_RULES.items()]


def action_grammar(observation: Observation, action_set: ActionSet, *, allow_ask: bool = False,
                   thought: bool = False, last: Action | None = None) -> str:
    """EBNF (xgrammar / GBNF dialect) for the actions valid on ``observation``: each function with
    a control may only name labels of controls it applies to; argument values are typed.
    ``last``: the action of the step before, if it ran without error. When its function is one of
    ``action_set.no_repeat`` and takes nothing but its control, that call is left out: repeated, it
    would undo itself (a model trained with experience memory pressed Bullets again after the list
    was made, and finished only then, in 11 of 60 held-out episodes in session 19)."""
    labels_by_type: dict[str, list[int]] = {}
    for c in observation.controls:
        labels_by_type.setdefault(c.type, []).append(c.label)
    options = {c.label: c.options for c in observation.controls if c.options}
    names = {c.label: c.name for c in observation.controls} if action_set.refer_by_name else None
    texts = {c.label: c.value for c in observation.controls if c.value}
    # only a bare call on the same control is left out (one with arguments may repeat with others), and
    # not where that label now names another control
    shown = {c.label: c.name for c in observation.controls}
    undo = last.function if (
        last is not None and last.function in action_set.no_repeat and not action_set.get(last.function).params
        and last.control_label in shown and last.control_name in (None, "", shown[last.control_label])) else None
    if undo is not None:
        without = {t: [lb for lb in lbs if lb != last.control_label] for t, lbs in labels_by_type.items()}
    rules: dict[str, str] = {}
    alternatives = ['"FINISH"', '"FAIL"']
    for spec in action_set:
        rule = _call_rule(spec, rules, without if spec.name == undo else labels_by_type, options, names, texts)
        if rule:
            alternatives.append(f"{rule} status")
    if allow_ask:
        rules["a_ask"] = '"ask(question=" v_string ")"'
        alternatives.append("a_ask")
    head = '"Thought: " [^\\n]* "\\n" ' if thought else ""
    lines = [f"root ::= {head}({' | '.join(alternatives)})", 'status ::= "" | " FINISH"']
    lines += [f"{k} ::= {v}" for k, v in rules.items()]
    return "\n".join(lines + _value_lines())


def calls_grammar(action_set: ActionSet, *, max_calls: int = 4, allow_none: bool = True) -> str:
    """EBNF for a tool-calling answer over functions that target no control: 1 to ``max_calls``
    calls, one per line, or ``NO_CALL`` (when ``allow_none``). Parsed by :func:`parse_calls`."""
    if max_calls < 1:
        raise ValueError("max_calls must be at least 1")
    rules: dict[str, str] = {}
    names = [r for spec in action_set if (r := _call_rule(spec, rules, {}))]
    if not names:
        raise ValueError("calls_grammar needs at least one function that takes no control label")
    rules["call"] = " | ".join(names)
    more = '""'
    for _ in range(max_calls - 1):  # nested optionals: at most max_calls lines
        more = f'("\\n" call {more})?' if more != '""' else '("\\n" call)?'
    root = f"call {more}" if max_calls > 1 else "call"
    root = f'"{NO_CALL}" | {root}' if allow_none else root
    lines = [f"root ::= {root}"] + [f"{k} ::= {v}" for k, v in rules.items()]
    return "\n".join(lines + _value_lines())

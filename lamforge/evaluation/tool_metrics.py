"""Tool-use metrics over trajectories (any environment whose actions are API calls):

* **call accuracy**: at each step of the reference, did the agent's call at that step name the same
  function with the same arguments? Free-text arguments the agent composes itself (an e-mail's
  subject and body, a return reason) are not compared: many texts are right.
* **function accuracy**: the same, on the function name alone.
* **hallucination rate**: share of the agent's calls that name a function or a parameter the catalog
  does not have (Gorilla's / BFCL's notion). Calls that did not even parse are read leniently, so
  ``refund_everything(order=1)`` written in free form still counts as a hallucinated function.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from lamforge.core.actions import ActionSet
from lamforge.core.schemas import Action, Step, Trajectory

FREE_TEXT = frozenset({"subject", "body", "reason", "notes", "message"})


def _lenient_call(text: str | None) -> tuple[str, set[str]] | None:
    """(function name, argument names) of the first call-looking line of ``text``, or None."""
    for line in (text or "").splitlines():
        line = line.strip().removesuffix("FINISH").removesuffix("FAIL").strip()
        try:
            node = ast.parse(line, mode="eval").body
        except SyntaxError:
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return node.func.id, {k.arg for k in node.keywords if k.arg}
    return None


def hallucination(step: Step, action_set: ActionSet) -> str | None:
    """"function" / "parameter" when the step's call names something the catalog lacks, else None
    (also None for steps with no call at all, e.g. FINISH alone)."""
    a = step.action
    if a.function is not None:
        name, args = a.function, set(a.args)
    else:
        parsed = _lenient_call(step.raw_output)
        if parsed is None or parsed[0] == "ask":
            return None
        name, args = parsed
    if name not in action_set:
        return "function"
    known = {p.name for p in action_set.get(name).all_params()}
    return "parameter" if args - known else None


def is_call(step: Step) -> bool:
    return step.action.function is not None or _lenient_call(step.raw_output) is not None


def _same_value(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) < 0.005
    return str(a).strip().lower() == str(b).strip().lower()


def same_call(agent: Action, reference: Action) -> bool:
    if agent.function != reference.function:
        return False
    keys = (set(agent.args) | set(reference.args)) - FREE_TEXT
    return all(k in agent.args and k in reference.args and _same_value(agent.args[k], reference.args[k])
               for k in keys)


def tool_metrics(trajectories: Iterable[Trajectory], references: dict[str, list[Action]],
                 action_set: ActionSet) -> dict[str, float | int | None]:
    """``references`` maps a task id to its reference calls (the family's solution)."""
    calls = halluc = halluc_fn = halluc_param = 0
    ref_steps = fn_hits = call_hits = 0
    for traj in trajectories:
        for step in traj.steps:
            if is_call(step):
                calls += 1
                kind = hallucination(step, action_set)
                halluc += kind is not None
                halluc_fn += kind == "function"
                halluc_param += kind == "parameter"
        ref = [a for a in references.get(traj.task.id, []) if a.function is not None]
        for i, r in enumerate(ref):
            ref_steps += 1
            if i < len(traj.steps):
                a = traj.steps[i].action
                fn_hits += a.function == r.function
                call_hits += same_call(a, r)
    return {"calls": calls, "hallucination_rate": halluc / calls if calls else None,
            "hallucinated_functions": halluc_fn, "hallucinated_parameters": halluc_param,
            "reference_steps": ref_steps, "function_acc": fn_hits / ref_steps if ref_steps else None,
            "call_acc": call_hits / ref_steps if ref_steps else None}

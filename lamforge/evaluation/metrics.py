"""The paper's metrics as pure functions: offline decisions, plans, and live runs.

    from lamforge.evaluation.metrics import offline_metrics, plan_metrics, online_metrics
    offline_metrics([(reference_traj, predicted_actions), ...])   # object/operation/status, SSR, TSR
    plan_metrics(predicted_steps, reference_steps)                # step precision/recall, plan success
    online_metrics(live_trajectories)                             # TSR, time, steps, latency

Rates are fractions in [0, 1] (the report shows them as percentages), or ``None`` when nothing was
there to count. Every function returns plain JSON-ready values.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lamforge.core.schemas import Action, Step, Trajectory

# --- offline decision metrics ---------------------------------------------------------------------


@dataclass(frozen=True)
class StepScore:
    """How one predicted action compares with one reference step.

    The acceptable actions of a step are the reference action and ``Step.alternatives``. Each
    component is judged on its own (the paper reports them separately), but an alternative only
    counts for a component together with the ones before it (object -> operation -> status ->
    arguments), so a step success always means one acceptable action matched on all three:

    * object: the predicted control label is the label of some acceptable action (``None`` matches
      ``None``: an action without a control is right where an acceptable one has none either);
    * operation: the same function as an acceptable action on the predicted control, or, when the
      object is wrong, as the reference;
    * status: the reference's status, or that of an alternative matched on object and operation;
      so FAIL or PENDING is wrong unless the reference (or such an alternative) has it;
    * arguments: equal to the arguments of the reference or of such an alternative (see
      :func:`args_equal`).
    """

    index: int
    object: bool
    operation: bool
    status: bool
    arguments: bool
    missing: bool = False  # the agent gave no action for this step

    @property
    def success(self) -> bool:
        """The paper's step success: object, operation and status all right."""
        return self.object and self.operation and self.status

    @property
    def success_with_args(self) -> bool:
        return self.success and self.arguments


def score_step(step: Step, predicted: Action | None) -> StepScore:
    """Score one prediction (``None`` = no prediction, all wrong) against one reference step."""
    if predicted is None:
        return StepScore(step.index, False, False, False, False, missing=True)
    ref = step.action
    acceptable = [ref, *step.alternatives]
    on_control = [a for a in acceptable if a.control_label == predicted.control_label]
    obj = bool(on_control)
    if obj:
        same_op = [a for a in on_control if a.function == predicted.function]
        operation = bool(same_op)
    else:
        same_op = []
        operation = predicted.function == ref.function
    # the reference always counts for status and arguments; alternatives only when they matched
    candidates = [ref, *(a for a in same_op if a is not ref)]
    status = any(predicted.status == a.status for a in candidates)
    arguments = any(args_equal(predicted.args, a.args) for a in candidates)
    return StepScore(step.index, obj, operation, status, arguments)


def score_trajectory(reference: Trajectory, predicted: list[Action]) -> list[StepScore]:
    """One score per reference step, in order. Predictions beyond the reference's last step are
    ignored here (:func:`offline_metrics` counts them as ``extra_steps``); missing ones are wrong."""
    return [score_step(step, predicted[i] if i < len(predicted) else None)
            for i, step in enumerate(reference.steps)]


def args_equal(predicted: dict[str, Any], reference: dict[str, Any]) -> bool:
    """Same keys, and equal values: strings after stripping and case-folding, numbers numerically
    (a numeric string counts as its number, since models often quote numbers), lists and dicts
    element by element. A missing or extra key is a mismatch."""
    if set(predicted) != set(reference):
        return False
    return all(_value_equal(predicted[k], reference[k]) for k in reference)


def _value_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    na, nb = _as_number(a), _as_number(b)
    if na is not None and nb is not None and (isinstance(a, int | float) or isinstance(b, int | float)):
        return math.isclose(na, nb, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().casefold() == b.strip().casefold()
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_value_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return args_equal(a, b)
    return a == b


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def offline_metrics(pairs: Iterable[tuple[Trajectory, list[Action]]]) -> dict[str, Any]:
    """Aggregate scores over ``(reference trajectory, predicted actions)`` pairs.

    Accuracies and ``step_success_rate`` are micro-averaged over all reference steps.
    ``task_success_rate`` is macro over tasks: a trajectory succeeds when every one of its steps is a
    step success; trajectories of the same task id are averaged first, then tasks. A reference with
    no steps contributes no steps and is left out of TSR (``counts.excluded_tasks`` counts task ids
    with no non-empty reference at all).
    """
    steps: list[StepScore] = []
    per_task: dict[str, list[bool]] = defaultdict(list)
    seen_tasks: set[str] = set()
    n_traj = extra = 0
    for reference, predicted in pairs:
        n_traj += 1
        seen_tasks.add(reference.task.id)
        extra += max(0, len(predicted) - len(reference.steps))
        if not reference.steps:
            continue
        scores = score_trajectory(reference, predicted)
        steps.extend(scores)
        per_task[reference.task.id].append(all(s.success for s in scores))
    task_rates = [sum(v) / len(v) for v in per_task.values()]
    return {
        "object_acc": _rate(sum(s.object for s in steps), len(steps)),
        "operation_acc": _rate(sum(s.operation for s in steps), len(steps)),
        "status_acc": _rate(sum(s.status for s in steps), len(steps)),
        "argument_acc": _rate(sum(s.arguments for s in steps), len(steps)),
        "step_success_rate": _rate(sum(s.success for s in steps), len(steps)),
        "step_success_with_args": _rate(sum(s.success_with_args for s in steps), len(steps)),
        "task_success_rate": _mean(task_rates),
        "counts": {
            "steps": len(steps),
            "trajectories": n_traj,
            "tasks": len(per_task),
            "excluded_tasks": len(seen_tasks - set(per_task)),
            "missing_steps": sum(s.missing for s in steps),
            "extra_steps": extra,
        },
    }


# --- planning metrics -----------------------------------------------------------------------------

MATCH_THRESHOLD = 0.5
"""Least token-set F1 for a predicted plan step to match a reference step."""

EXTRA_STEPS_ALLOWED = 2
"""A plan still succeeds with up to this many steps more than the reference."""

STOPWORDS = frozenset(
    "a an the to of in on at by for from with into onto and or then this that these those it its "
    "is are be your you my me i please step".split()
)

_NUMBERING = re.compile(
    r"^\s*(?:[-+\u2022]\s*)?(?:step\s*\d+\s*[.):-]?|\d+\s*[.):-](?=\s|$))\s*|^\s*[-+\u2022]\s+", re.IGNORECASE)
_MARKDOWN = re.compile(r"[*_`#>~]+")
_WORD = re.compile(r"[^\W_]+")


def normalise_step(text: str) -> frozenset[str]:
    """A plan step as a set of content words: lowercased, leading numbering / bullets ("1.",
    "2)", "Step 3:", "-") and markdown marks removed, split on punctuation, stopwords dropped."""
    text = _MARKDOWN.sub(" ", text)
    text = _NUMBERING.sub("", text, count=1)
    return frozenset(w for w in _WORD.findall(text.casefold()) if w not in STOPWORDS)


def step_similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Token-set F1 (Dice): ``2 |a & b| / (|a| + |b|)``; 0 when either side has no words."""
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def plan_metrics(predicted: list[str], reference: list[str]) -> dict[str, Any]:
    """Compare a predicted plan with the reference plan.

    Matching rule: blank steps are dropped; each step is normalised (:func:`normalise_step`); every
    (predicted, reference) pair gets the token-set F1 of the two word sets; pairs with similarity
    >= ``MATCH_THRESHOLD`` (0.5) are taken greedily, highest similarity first (ties: earlier
    predicted step, then earlier reference step), each step used at most once.

    ``step_precision`` = matched / predicted steps, ``step_recall`` = matched / reference steps
    (an empty side gives 1.0 when the other is empty too, else 0.0 precision / 1.0 recall).
    ``task_success``: every reference step matched and at most ``EXTRA_STEPS_ALLOWED`` (2) more
    predicted steps than reference steps. ``pairs`` lists the matches as (predicted index,
    reference index, similarity) over the non-blank steps.
    """
    pred = [normalise_step(s) for s in predicted if s.strip()]
    ref = [normalise_step(s) for s in reference if s.strip()]
    scored = sorted(((step_similarity(p, r), i, j) for i, p in enumerate(pred) for j, r in enumerate(ref)),
                    key=lambda t: (-t[0], t[1], t[2]))
    used_p: set[int] = set()
    used_r: set[int] = set()
    pairs: list[tuple[int, int, float]] = []
    for sim, i, j in scored:
        if sim < MATCH_THRESHOLD:
            break
        if i not in used_p and j not in used_r:
            used_p.add(i)
            used_r.add(j)
            pairs.append((i, j, round(sim, 4)))
    matched = len(pairs)
    precision = matched / len(pred) if pred else (1.0 if not ref else 0.0)
    recall = matched / len(ref) if ref else 1.0
    success = matched == len(ref) and len(pred) <= len(ref) + EXTRA_STEPS_ALLOWED
    return {"step_precision": precision, "step_recall": recall, "matched": matched,
            "task_success": success, "pairs": sorted(pairs)}


def planning_metrics(pairs: Iterable[tuple[list[str], list[str]]]) -> dict[str, Any]:
    """Macro averages over ``(predicted plan, reference plan)`` pairs: plan task success rate and
    mean step precision / recall."""
    rows = [plan_metrics(p, r) for p, r in pairs]
    return {
        "task_success_rate": _mean([float(r["task_success"]) for r in rows]),
        "step_precision": _mean([r["step_precision"] for r in rows]),
        "step_recall": _mean([r["step_recall"] for r in rows]),
        "counts": {"tasks": len(rows)},
    }


# --- online metrics ---------------------------------------------------------------------------------


def online_metrics(trajs: list[Trajectory]) -> dict[str, Any]:
    """Metrics of live runs. Success is the task's own check (``outcome.success``); a trajectory
    with no verdict counts as a failure. Latency statistics use the steps that recorded
    ``latency_s``; ``error_step_rate`` is the share of steps whose action was invalid or failed to
    run (``Step.error`` set)."""
    n = len(trajs)
    successes = [t for t in trajs if t.outcome.success]
    steps = [s for t in trajs for s in t.steps]
    latencies = [s.latency_s for s in steps if s.latency_s is not None]
    families: dict[str, list[bool]] = defaultdict(list)
    for t in trajs:
        families[t.task.family].append(bool(t.outcome.success))
    return {
        "task_success_rate": _rate(len(successes), n),
        "task_success_ci95": wilson_interval(len(successes), n),
        "mean_completion_s": _mean([t.seconds for t in trajs]),
        "mean_completion_s_success": _mean([t.seconds for t in successes]),
        "mean_steps": _mean([float(len(t.steps)) for t in trajs]),
        "mean_step_latency_s": _mean(latencies),
        "p95_step_latency_s": percentile(latencies, 95),
        "error_step_rate": _rate(sum(s.error is not None for s in steps), len(steps)),
        "per_family": {f: {"tasks": len(v), "success_rate": sum(v) / len(v)} for f, v in sorted(families.items())},
        "failure_reasons": dict(Counter(t.outcome.reason or "unknown" for t in trajs if not t.outcome.success)),
        "counts": {"tasks": n, "steps": len(steps), "timed_steps": len(latencies)},
    }


def wilson_interval(k: int, n: int, z: float = 1.96) -> list[float] | None:
    """The 95% Wilson score interval of a success rate k/n: unlike the normal approximation it stays
    inside [0, 1] and is honest at 0/n and n/n, where a small held-out set often lands."""
    if not n:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile with linear interpolation between closest ranks (NumPy's default)."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _rate(k: int, n: int) -> float | None:
    return k / n if n else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None

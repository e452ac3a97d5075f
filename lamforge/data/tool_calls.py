"""Self-instruct function-calling data from an API catalog, kept only when it passes three checks.

    lamforge collect tool-calls --env service --n 200 --out runs/service/tool_calls
    lamforge collect tool-calls --env service --n 50 --model smollm2-135m   # the model words the requests

For each candidate: pick a catalog function, fill its arguments with real values from the store's
database (an order that exists, a pending order for a cancellation, an e-mail address on file: the
environment's own source, ``EnvSpec.tool_calls``, e.g. :mod:`lamforge.envs.service.tool_calls`), and
word a request for it (a template of the function's description, or a model given the function's
documentation and the call). Then verify, as trajectories are (``lamforge.data.verify``):

1. format: the call is a well-typed call of a catalog function and its text line parses back to it;
2. execution: run in a fresh episode of the environment, it returns no error;
3. outcome: it did what the request asks: every argument value is stated in the request (the
   request grounds the call; a model's wording that drops or invents a value fails here), a write
   changed the database or outbox, a lookup's result names the entity asked for.

Each candidate is stored as a one-step trajectory (request -> call) with its checks and verdict in a
crash-safe store, so ``lamforge train --phase 2`` can learn from the ``pass`` ones.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from lamforge.core.schemas import Action, Outcome, Status, Step, Task, Trajectory
from lamforge.data.verify import format_ok


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def word_request(rng: random.Random, function: str, args: dict, backend=None, action_set=None,
                 wordings: dict[str, tuple[str, ...]] | None = None) -> str:
    """A request for the call: one of the environment's wordings of the function, or a model's."""
    if backend is None:
        import string

        values = {k: _fmt(v) for k, v in args.items()}
        fits = [t for t in (wordings or {}).get(function, ())
                if {f for _, f, _, _ in string.Formatter().parse(t) if f} <= set(values)]
        return rng.choice(fits).format(**values)
    spec = action_set.get(function)
    call = Action(function=function, args=args).call_text()
    from lamforge.core.prompts import prompt

    asked = prompt("data", "tool_call_request").format(name=spec.name, description=spec.description, call=call)
    return backend.chat([{"role": "user", "content": asked}], max_tokens=48, stop=["\n"]).text.strip()


def grounded(request: str, args: dict) -> bool:
    """Every argument value is stated in the request."""
    low = request.lower()
    return all(_fmt(v).lower() in low for v in args.values())


def outcome_ok(function: str, args: dict, result: str, before: tuple, after: tuple, request: str,
               reads: Iterable[str] = ()) -> bool:
    if not grounded(request, args):
        return False
    if function in reads:  # a lookup must answer about what was asked
        return all(_fmt(v).lower() in result.lower() for v in args.values())
    return before != after  # a write must change the database or the outbox


def generate(env_name: str, n: int, out: str | Path, *, seed: int = 0, backend=None,
             progress: Callable[[int, int], None] | None = None, resume: bool = False,
             exclude_templates: Iterable[str] = ()) -> dict:
    """``n`` candidate calls grounded in the environment's stores. Stores in ``exclude_templates``
    (the held-out split's) are never drawn from: their orders and customers are evaluation data."""
    from lamforge.core.errors import LamforgeError
    from lamforge.data.store import RecordStore
    from lamforge.envs import make
    from lamforge.envs.tasks import families

    from lamforge.envs import tool_call_source

    source = tool_call_source(env_name)
    fams = families(env_name)
    excluded = set(exclude_templates)
    templates = sorted({t for f in fams.values() for t in f.templates} - excluded)
    if not templates:
        raise LamforgeError(f"every store of {env_name} is held out ({sorted(excluded)}): nothing to generate from")
    rng = random.Random(seed)
    env = make(env_name)
    base = env.unwrapped
    kept = Counter()
    try:
        with RecordStore(Path(out), Trajectory, key_fn=lambda t: t.task.id) as store:
            if len(store) and not resume:
                raise LamforgeError(f"{out} already holds {len(store)} examples; pass --resume or choose another --out")
            for i in range(n):
                template = rng.choice(templates)
                function, args = source.candidate(rng, template)
                request = word_request(rng, function, args, backend, base.action_set, source.WORDINGS)
                task_id = f"toolcall-{seed}-{i}"
                if store.has(task_id):
                    continue
                # a free request: no family check; the three checks below judge the candidate
                task = Task(id=task_id, family="free_request", request=request, env_id=base.env_id,
                            template=template, params={"function": function, "args": args})
                obs, _ = env.reset(options={"task": task})
                before = source.fingerprint(base)
                action = Action(function=function, args=args, status=Status.FINISH)
                after_obs, *_rest, info = env.step(action)
                step = Step(index=0, observation=obs, action=action, error=info.get("error"))
                traj = Trajectory(id=task_id, task=task, agent="self-instruct", steps=[step])
                checks = {"format": format_ok(traj, base.action_set), "execution": step.error is None}
                checks["outcome"] = checks["execution"] and outcome_ok(function, args, after_obs.state, before,
                                                                        source.fingerprint(base), request, source.READS)
                verdict = "pass" if all(checks.values()) else "fail"
                traj.outcome = Outcome(success=verdict == "pass", verdict=verdict, terminated=True, checks=checks,
                                       reason="self-instruct candidate")
                store.append(traj)
                kept[verdict] += 1
                kept[f"{verdict}:{function}"] += 1
                if progress:
                    progress(i + 1, n)
    finally:
        env.close()
    return {"candidates": kept["pass"] + kept["fail"], "passed": kept["pass"], "failed": kept["fail"],
            "per_function_pass": {k.split(":", 1)[1]: v for k, v in sorted(kept.items()) if k.startswith("pass:")},
            "out": str(out)}

"""``lamforge bench miniwob``: the public MiniWoB++ protocol (BrowserGym / AgentLab): every core task
x 5 seeds, at most 10 steps, binary reward; the figure stands next to the published ones
(GPT-4o 63.8%, Claude-3.5-Sonnet 69.8% on the same 125 tasks x 5 seeds).

    lamforge bench miniwob --agent expert --json
    lamforge bench miniwob --model smollm2-135m --tasks click-test,enter-text --seeds 5 --json

Evaluation seeds are 0..4 (never used for demonstrations, which take seeds >= 1000). Episodes run in
worker processes, each with its own browser and agent. ``--agent expert`` is the scripted policy of
the task where there is one, else the SearchExpert (which knows only the page's reward).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from lamforge.core.errors import LamforgeError
from lamforge.core.workers import worker_map

_W: dict[str, Any] = {}
PUBLISHED = {"Claude-3.5-Sonnet": 0.698, "o1-mini": 0.678, "Llama-3.1-405B": 0.646, "GPT-4o": 0.638,
             "Llama-3.1-70B": 0.576, "GPT-4o-mini": 0.566}


def _init(agent: str, max_steps: int, budget: int, threads: int, planning: str = "dynamic") -> None:
    import torch

    torch.set_num_threads(threads)
    from lamforge.envs import make

    _W.update(env=make("miniwob", max_steps=max_steps), agent=agent, budget=budget, planning=planning)
    if agent != "expert":
        from lamforge.models import load_backend

        _W["backend"] = load_backend(agent)
        from lamforge.agents.factory import model_memory

        _W["memory"] = model_memory(agent)


def _agent_for(name: str):
    env, agent = _W["env"], _W["agent"]
    if agent == "expert":
        from lamforge.envs.web.miniwob.experts import SCRIPTED

        if name in SCRIPTED:
            from lamforge.agents.expert import ReferenceExpert

            return ReferenceExpert(), "scripted"
        from lamforge.agents.search_expert import SearchExpert

        return SearchExpert(env, budget=_W["budget"], depth=min(5, env.unwrapped.max_steps - 1)), "search"
    from lamforge.agents.react import ReactAgent

    return ReactAgent(_W["backend"], env.unwrapped.action_set, planning=_W["planning"], memory=_W.get("memory")), "model"


def _episode(job: tuple[str, int]) -> dict:
    from lamforge.agents.runner import run_episode
    from lamforge.envs.web.miniwob.tasks import eval_task

    name, seed = job
    agent, kind = _agent_for(name)
    t0 = time.perf_counter()
    try:
        traj = run_episode(_W["env"], agent, eval_task(name, seed))
        return {"task": name, "seed": seed, "success": traj.success, "steps": len(traj.steps),
                "seconds": round(time.perf_counter() - t0, 3), "agent": kind, "error": None}
    except LamforgeError:
        raise
    except Exception as e:  # noqa: BLE001 - a page that breaks the browser is a failed episode, not a failed benchmark
        return {"task": name, "seed": seed, "success": False, "steps": 0, "agent": kind,
                "seconds": round(time.perf_counter() - t0, 3), "error": f"{type(e).__name__}: {e}"[:300]}


def run_bench(agent: str, tasks: list[str], seeds: int, *, max_steps: int = 10, workers: int = 2,
              budget: int = 25, planning: str = "dynamic", log: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> dict:
    """Run ``agent`` ('expert' or a model name) on ``tasks`` x seeds 0..seeds-1; the summary."""
    from lamforge.envs.web.miniwob.site import core_tasks
    from lamforge.envs.web.miniwob.tasks import EVAL_SEEDS

    unknown = sorted(set(tasks) - set(core_tasks()))
    if unknown:
        raise LamforgeError(f"unknown MiniWoB++ task(s) {unknown}; `lamforge tasks --env miniwob` lists them")
    if not 0 < seeds <= len(EVAL_SEEDS):
        raise LamforgeError(f"--seeds must be 1..{len(EVAL_SEEDS)} (evaluation seeds 0..{len(EVAL_SEEDS) - 1})")
    jobs = [(name, seed) for name in tasks for seed in range(seeds)]
    t0 = time.perf_counter()
    # a plain `kill` of the benchmark must still stop its workers (and so their browsers)
    previous = signal.signal(signal.SIGTERM, _terminate) if threading.current_thread() is threading.main_thread() \
        else None
    rows: list[dict] = []
    try:
        with worker_map(_episode, jobs, workers=workers, initializer=_init,
                        initargs=(agent, max_steps, budget, max(1, 2 // workers), planning),
                        inline_initargs=(agent, max_steps, budget, 2, planning)) as results, \
                (open(log, "a", encoding="utf-8") if log else nullcontext()) as sink:
            for row in results:
                rows.append(row)
                if sink:  # one line per episode as it ends: progress to watch, a record if the run is cut
                    sink.write(json.dumps(row) + "\n")
                    sink.flush()
                if progress:
                    progress(len(rows), len(jobs))
    finally:
        if workers <= 1 and "env" in _W:  # the workers' browsers end with them; this process's, here
            _W.pop("env").close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return {**summarise(rows, agent, time.perf_counter() - t0, max_steps, seeds),
            **({"planning": planning} if agent != "expert" else {})}


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


def summarise(rows: list[dict], agent: str, seconds: float, max_steps: int, seeds: int) -> dict:
    per_task: dict[str, list[bool]] = {}
    kinds: dict[str, str] = {}
    for r in rows:
        per_task.setdefault(r["task"], []).append(bool(r["success"]))
        kinds[r["task"]] = r["agent"]
    rate = {k: round(sum(v) / len(v), 3) for k, v in sorted(per_task.items())}
    ok = sum(r["success"] for r in rows)
    summary = {"success_rate": round(ok / max(len(rows), 1), 4), "episodes": len(rows), "per_task": rate,
               "agent": agent, "tasks": len(per_task), "seeds": seeds, "max_steps": max_steps,
               "wall_seconds": round(seconds, 1), "errors": sum(1 for r in rows if r["error"]),
               "steps": sum(r["steps"] for r in rows)}
    if agent == "expert":
        for kind in ("scripted", "search"):
            mine = [r for r in rows if r["agent"] == kind]
            summary[f"{kind}_tasks"] = len({r["task"] for r in mine})
            summary[f"{kind}_success_rate"] = round(sum(r["success"] for r in mine) / max(len(mine), 1), 4)
        summary["task_expert"] = dict(sorted(kinds.items()))
    return summary

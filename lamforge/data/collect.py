"""Task-action data: run an expert (or any agent or model) on tasks, verify each trajectory, store it.

    lamforge collect trajectories --env office --n 2000 --expert reference --out runs/office/data

Episodes run in worker processes (each with its own environment and agent); the parent is the
single writer of a crash-safe :class:`~lamforge.data.store.RecordStore`, so ``kill -9`` at any
moment followed by ``--resume`` gives every task exactly once.
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from lamforge.agents.factory import make_agent
from lamforge.agents.runner import run_episode
from lamforge.core.errors import LamforgeError
from lamforge.core.schemas import Outcome, Task, Trajectory
from lamforge.core.workers import worker_map
from lamforge.data.store import RecordStore
from lamforge.data.verify import verify
from lamforge.envs import make

_WORKER: dict = {}


def _init(env_name: str, expert: str, max_steps: int, threads: int, temperature: float = 0.0) -> None:
    import torch

    torch.set_num_threads(threads)
    if (old := _WORKER.pop("env", None)) is not None:
        # an in-process collection (workers=1) after another one in the same process (the forge's
        # collection, then exploration): close the old env now; left to the garbage collector, a web
        # env's __del__ may run inside Playwright's event loop and deadlock on its sync API
        old.close()
    _WORKER["env"] = make(env_name, max_steps=max_steps)
    _WORKER["expert"] = expert
    _WORKER["temperature"] = temperature
    _WORKER["env_name"], _WORKER["max_steps"] = env_name, max_steps


def _run(task_json: str) -> str:
    env = _WORKER["env"]
    task = Task.model_validate_json(task_json)
    # each attempt samples with its own seed, derived from the task id, so a resumed run repeats it
    seed = zlib.crc32(task.id.encode())
    try:
        agent = make_agent(_WORKER["expert"], env, temperature=_WORKER.get("temperature", 0.0), seed=seed)
        traj = run_episode(env, agent, task)
        at = getattr(agent, "at", None)
        if at is not None and at < len(traj.steps):
            traj.meta["detour_step"] = at  # the mistake: trained with no loss (training.rows)
    except Exception as e:  # noqa: BLE001 - one broken episode must not end a collection of thousands
        # the task is stored as a failure with the reason (so --resume does not retry it forever),
        # and the worker gets a fresh environment in case the broken one holds bad state
        traj = Trajectory(id=f"{task.id}-crashed", task=task, agent=str(_WORKER["expert"]),
                          outcome=Outcome(success=False, reason=f"episode crashed: {type(e).__name__}: {e}"[:500]))
        try:
            env.close()
        finally:
            _WORKER["env"] = make(_WORKER["env_name"], max_steps=_WORKER["max_steps"])
    return verify(traj, env.unwrapped.action_set).model_dump_json()


def collect_trajectories(tasks: list[Task], out: str | Path, *, env_name: str = "office", expert: str = "reference",
                         workers: int = 2, max_steps: int = 20, resume: bool = False, temperature: float = 0.0,
                         progress: Callable[[int, int], None] | None = None) -> dict:
    """Run ``expert`` on each task not yet stored in ``out``; returns the summary figures."""
    out = Path(out)
    from lamforge.envs.tasks import family_of

    reserved = [t.id for t in tasks if not family_of(t).trainable(t)]
    if reserved:  # e.g. MiniWoB++ evaluation seeds: they must never become demonstrations
        raise LamforgeError(f"{len(reserved)} task(s) are reserved for evaluation and cannot be collected "
                            f"(first: {reserved[0]}); sample training tasks instead")
    with RecordStore(out, Trajectory, key_fn=lambda t: t.task.id) as store:
        if len(store) and not resume:
            raise LamforgeError(f"{out} already holds {len(store)} trajectories; pass --resume to continue "
                                "that collection, or choose another --out")
        todo = [t for t in tasks if not store.has(t.id)]
        skipped = len(tasks) - len(todo)
        t0 = time.perf_counter()
        done = 0
        jobs = [t.model_dump_json() for t in todo]
        # one-thread workers (forkserver) each with their own env; in this process, both threads
        with worker_map(_run, jobs, workers=workers, initializer=_init, chunksize=4,
                        initargs=(env_name, expert, max_steps, 1, temperature),
                        inline_initargs=(env_name, expert, max_steps, 2, temperature)) as results:
            for line in results:
                store.append(Trajectory.model_validate_json(line))
                done += 1
                if progress:
                    progress(done, len(todo))
        seconds = time.perf_counter() - t0
        verdicts = Counter(t.outcome.verdict for t in store)
        per_family: dict[str, list[bool]] = {}
        for t in store:
            per_family.setdefault(t.task.family, []).append(t.outcome.verdict == "pass")
    return {"passed": verdicts.get("pass", 0), "failed": verdicts.get("fail", 0),
            "unsure": verdicts.get("unsure", 0), "collected": done, "skipped_existing": skipped,
            "total": sum(verdicts.values()), "seconds": round(seconds, 2), "expert": expert,
            "pass_rate_per_family": {k: round(sum(v) / len(v), 3) for k, v in sorted(per_family.items())}}

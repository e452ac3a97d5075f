"""Online evaluation: run an agent live on tasks, several episodes at a time in worker processes.

    from functools import partial
    from lamforge.agents.expert import ReferenceExpert
    from lamforge.envs.tasks import sample_tasks
    from lamforge.evaluation.online import online_eval
    from lamforge.evaluation.metrics import online_metrics

    trajs = online_eval(ReferenceExpert, sample_tasks("office", 20), workers=2,
                        progress=lambda done, total, traj: print(done, total, traj.success))
    online_metrics(trajs)

``make_agent`` is called once in each worker process to build that worker's agent (each worker also
builds its own environment), so it must be picklable: a class, a top-level function, or a
``functools.partial`` of one -- not a lambda or a nested function. The workers start with the
``spawn`` method (safe with threads, CUDA and every OS; ``forkserver`` is accepted too), so a model
is loaded once per worker, not per task; as with any spawned process, a script that calls this with
``workers > 1`` needs the ``if __name__ == "__main__":`` guard. ``workers=1`` runs everything in
this process (no pickling; an agent that crashes the process then crashes the caller).

The result keeps the order of ``tasks``. A worker that dies mid-task (killed, out of memory, an
uncaught error in the agent) does not stall the run: its task comes back as a failed trajectory
with the steps it had logged and ``outcome.reason`` saying what happened, the task is not retried,
and a fresh worker takes over the remaining tasks. ``task_timeout_s`` does the same for a task that
runs too long.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from pathlib import Path

from lamforge.agents.base import Agent
from lamforge.agents.runner import read_log, run_episode
from lamforge.core.errors import TaskFileError
from lamforge.core.schemas import Outcome, Task, Trajectory
from lamforge.envs import make

Progress = Callable[[int, int, Trajectory], None]
"""Called in the calling process as each task ends: ``(tasks done, tasks in all, its trajectory)``."""


def online_eval(make_agent: Callable[[], Agent], tasks: Iterable[Task], env_name: str = "office",
                workers: int = 2, max_steps: int = 20, progress: Progress | None = None, *,
                task_timeout_s: float | None = None, start_method: str = "spawn") -> list[Trajectory]:
    """Run one episode per task and return the trajectories in the order of ``tasks``."""
    tasks = list(tasks)
    if not tasks:
        return []
    if workers <= 1:
        return _run_here(make_agent, tasks, env_name, max_steps, progress)
    try:
        pickle.dumps(make_agent)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        raise TypeError("make_agent must be picklable to reach the worker processes (a class, a top-level "
                        f"function or a functools.partial of one, not a lambda or nested function): {e}") from e
    with tempfile.TemporaryDirectory(prefix="lamforge-online-") as log_dir:
        pool = _Pool(make_agent, env_name, max_steps, Path(log_dir), multiprocessing.get_context(start_method))
        return pool.run(tasks, min(workers, len(tasks)), progress, task_timeout_s)


def _run_here(make_agent: Callable[[], Agent], tasks: list[Task], env_name: str, max_steps: int,
              progress: Progress | None) -> list[Trajectory]:
    env = make(env_name, max_steps=max_steps)
    try:
        agent = make_agent()
        out = []
        for task in tasks:
            out.append(run_episode(env, agent, task))
            if progress:
                progress(len(out), len(tasks), out[-1])
        return out
    finally:
        env.close()


def online_eval_lockstep(agents: list[Agent], lock, tasks: Iterable[Task], env_name: str = "office",
                         max_steps: int = 20, progress: Progress | None = None) -> list[Trajectory]:
    """One episode per task, ``len(agents)`` at a time: each agent plays in its own thread on its own
    environment and decodes through a slot of ``lock`` (``lamforge.models.lockstep.Lockstep``), which
    batches the actions of every episode waiting for one. Returns the trajectories in task order."""
    tasks = list(tasks)
    agents = agents[:len(tasks)]
    out: list[Trajectory | None] = [None] * len(tasks)
    queue = iter(enumerate(tasks))
    guard = threading.Lock()
    finished, errors = [0], []

    def work(agent: Agent) -> None:
        env = None
        try:
            env = make(env_name, max_steps=max_steps)
            while True:
                with guard:
                    job = next(queue, None)
                if job is None:
                    return
                i, task = job
                out[i] = run_episode(env, agent, task)
                with guard:
                    finished[0] += 1
                    if progress:
                        progress(finished[0], len(tasks), out[i])
        except BaseException as e:  # noqa: BLE001 - re-raised below, after the other threads end
            errors.append(e)
        finally:
            lock.leave()  # the others' batches stop waiting for this thread
            if env is not None:
                env.close()

    for _ in agents:
        lock.enter()  # every thread counts before any decodes, so the first batch holds them all
    threads = [threading.Thread(target=work, args=(a,), daemon=True) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return out


def threads_per_worker(workers: int) -> int:
    """Torch threads for each of ``workers`` processes: their share of the cores."""
    return max(1, (os.cpu_count() or 1) // workers)


def _worker_main(conn: Connection, make_agent: Callable[[], Agent], env_name: str, max_steps: int,
                 log_dir: Path, threads: int | None = None) -> None:
    """A worker process: build env and agent, then run the tasks the parent sends until ``None``."""
    if threads:
        # each worker gets its share of the cores: two workers with torch's default (every core each)
        # ran 60 episodes 3.9x slower on 2 cores (5.29 vs 1.37 s per episode, session 6 note on #20)
        import torch

        torch.set_num_threads(threads)
    env = make(env_name, max_steps=max_steps)
    agent = make_agent()
    conn.send(("ready", agent.name))
    try:
        while True:
            try:
                msg = conn.recv()
            except EOFError:  # the parent is gone
                break
            if msg is None:
                break
            index, task = msg
            # the step log is what the parent recovers if this process dies mid-episode
            traj = run_episode(env, agent, task, log=log_dir / f"{index}.jsonl")
            conn.send(("done", index, traj))
    finally:
        env.close()
        conn.close()


@dataclass
class _Worker:
    proc: BaseProcess
    conn: Connection
    ready: bool = False
    agent_name: str = "unknown"
    index: int | None = None  # the task it is running
    started: float = 0.0
    messages: list[tuple] = field(default_factory=list)


class _Pool:
    def __init__(self, make_agent: Callable[[], Agent], env_name: str, max_steps: int, log_dir: Path,
                 ctx: BaseContext):
        self.make_agent, self.env_name, self.max_steps = make_agent, env_name, max_steps
        self.log_dir, self.ctx = log_dir, ctx
        self.threads: int | None = None

    def _spawn(self) -> _Worker:
        parent_end, child_end = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker_main, daemon=True, name="lamforge-online-worker",
                                args=(child_end, self.make_agent, self.env_name, self.max_steps, self.log_dir,
                                      self.threads))
        proc.start()
        child_end.close()  # so the parent's end reads EOF once the worker is gone
        return _Worker(proc, parent_end)

    def run(self, tasks: list[Task], n_workers: int, progress: Progress | None,
            timeout_s: float | None) -> list[Trajectory]:
        results: list[Trajectory | None] = [None] * len(tasks)
        pending = deque(range(len(tasks)))
        self.threads = threads_per_worker(n_workers)
        workers = [self._spawn() for _ in range(n_workers)]
        done = 0

        def finish(index: int, traj: Trajectory) -> None:
            nonlocal done
            results[index] = traj
            done += 1
            if progress:
                progress(done, len(tasks), traj)

        try:
            while done < len(tasks):
                for w in workers:
                    if w.ready and w.index is None and pending:
                        w.index, w.started = pending.popleft(), time.monotonic()
                        w.conn.send((w.index, tasks[w.index]))
                if not workers:
                    raise RuntimeError("no online-eval worker could start; see the worker's traceback above")
                wait([w.conn for w in workers] + [w.proc.sentinel for w in workers], self._wait_s(workers, timeout_s))
                for w in list(workers):
                    alive = self._drain(w)
                    for msg in w.messages:
                        if msg[0] == "ready":
                            w.ready, w.agent_name = True, msg[1]
                        elif msg[0] == "done":
                            w.index = None
                            finish(msg[1], msg[2])
                    w.messages.clear()
                    reason = None
                    if not alive:
                        w.proc.join(5)
                        reason = f"worker process died (exit code {w.proc.exitcode})"
                    elif timeout_s is not None and w.index is not None and time.monotonic() - w.started > timeout_s:
                        w.proc.kill()
                        w.proc.join(5)
                        reason = f"timed out after {timeout_s:g} s (worker killed)"
                    if reason is None:
                        continue
                    workers.remove(w)
                    if w.index is not None:
                        finish(w.index, self._lost(tasks[w.index], w, reason))
                    # a worker that died before it was ready would die again: no replacement for it
                    if w.ready and pending:
                        workers.append(self._spawn())
        finally:
            self._stop(workers)
        return [t for t in results if t is not None]

    @staticmethod
    def _drain(w: _Worker) -> bool:
        """Read what the worker has sent; False once its end of the pipe is closed (it is gone)."""
        try:
            while w.conn.poll():
                w.messages.append(w.conn.recv())
        except (EOFError, OSError):
            return False
        return w.proc.is_alive()

    @staticmethod
    def _wait_s(workers: list[_Worker], timeout_s: float | None) -> float | None:
        if timeout_s is None:
            return None
        deadlines = [w.started + timeout_s - time.monotonic() for w in workers if w.index is not None]
        return max(0.0, min(deadlines)) + 0.05 if deadlines else None

    def _lost(self, task: Task, w: _Worker, reason: str) -> Trajectory:
        traj = None
        log = self.log_dir / f"{w.index}.jsonl"
        if log.is_file():
            try:
                traj = read_log(log)
            except TaskFileError:  # died before the log's first record was complete
                traj = None
        if traj is None:
            traj = Trajectory(id=f"{task.id}-lost", task=task, agent=w.agent_name)
        traj.outcome = Outcome(success=False, reason=reason)
        traj.seconds = time.monotonic() - w.started
        traj.meta["lost"] = True
        return traj

    @staticmethod
    def _stop(workers: list[_Worker]) -> None:
        for w in workers:
            try:
                w.conn.send(None)
            except (BrokenPipeError, EOFError, OSError):
                pass  # already gone
        for w in workers:
            w.proc.join(5)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(5)
            w.conn.close()

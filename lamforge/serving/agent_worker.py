"""The agent service's worker: the task spec a run is started from, and the single thread that plays each
run in a fresh environment, streaming its steps to the run store and waiting on the page for answers.

Kept apart from :mod:`lamforge.serving.agent_service` (the HTTP routes) because this side never speaks HTTP
to a client: it talks to the routes only through the :class:`~lamforge.serving.runs.RunStore` and each
run's stop flag and reply box, so it can be read (and driven) without the web layer.
"""

from __future__ import annotations

import queue
import shutil
import threading
from pathlib import Path
from typing import Any, Literal

from fastapi import HTTPException
from pydantic import BaseModel, Field, model_validator

from lamforge.core.errors import LamforgeError
from lamforge.serving.runs import RunStore

REPLY_TIMEOUT_S = 600.0  # a confirmation nobody answers is a "no"


class TaskSpec(BaseModel):
    env: str = Field("office", min_length=1, max_length=40)
    request: str | None = Field(None, min_length=1, max_length=2000)
    template: str | None = Field(None, max_length=80)
    family: str | None = Field(None, max_length=80)
    seed: int = Field(0, ge=0, le=10**9)
    agent: Literal["expert", "model"] | None = None
    model: str | None = Field(None, max_length=200)
    max_steps: int = Field(10, ge=1, le=40)

    @model_validator(mode="after")
    def _one_task(self) -> TaskSpec:
        if (self.request is None) == (self.family is None):
            raise ValueError("give either a free-text 'request' or a task 'family' (with 'seed')")
        if self.agent is None:
            self.agent = "model" if self.request is not None else "expert"
        if self.agent == "expert" and self.request is not None:
            raise ValueError("the expert plays a family's reference solution: a free request needs agent 'model'")
        return self


class _Stopped(Exception):
    pass


class _Live:
    """What the worker needs to talk to a running episode: its stop flag and its reply box."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.replies: queue.Queue[str] = queue.Queue()
        self.waiting: str | None = None  # "question" or "confirm" while the agent waits for a person


class AgentService:
    def __init__(self, store: RunStore, artifacts: Path, default_model: str = "smollm2-135m",
                 make_agent=None) -> None:
        from lamforge.agents.factory import make_agent as factory

        self.store, self.artifacts, self.default_model = store, Path(artifacts), default_model
        self.make_agent = make_agent or factory
        self.live: dict[str, _Live] = {}
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.worker = threading.Thread(target=self._work, name="lamforge-agent-worker", daemon=True)
        self.worker.start()

    # --- requests ------------------------------------------------------------------------------
    def submit(self, spec: TaskSpec) -> str:
        from lamforge.envs import spec as env_spec

        try:
            env_spec(spec.env)
        except LamforgeError as e:
            raise HTTPException(400, str(e)) from None
        if spec.family is not None:
            from lamforge.envs.tasks import families

            known = families(spec.env)
            if spec.family not in known:
                raise HTTPException(400, f"{spec.env} has no task family {spec.family!r}; known: {', '.join(sorted(known))}")
        if spec.agent == "model":
            self._check_model(spec.model or self.default_model)
        run_id = self.store.create(spec.model_dump())
        self.live[run_id] = _Live()
        self.queue.put(run_id)
        return run_id

    def _check_model(self, name: str) -> None:
        from lamforge.models import BASE_MODELS
        from lamforge.models.registry import resolve

        if name not in BASE_MODELS and name != self.default_model and resolve(name) is None:
            raise HTTPException(400, f"unknown model {name!r}: a base model ({', '.join(BASE_MODELS)}) or a forged "
                                     "one (`lamforge models` lists them)")

    def reply(self, run_id: str, answer: str) -> None:
        live = self.live.get(run_id)
        if live is None or live.waiting is None:
            raise HTTPException(409, f"run {run_id} is not waiting for an answer")
        live.replies.put(answer)

    def stop(self, run_id: str) -> None:
        live = self.live.get(run_id)
        if live is None:
            raise HTTPException(409, f"run {run_id} is not running")
        live.stop.set()
        live.replies.put("no")  # a run waiting for a confirmation stops at once

    def close(self) -> None:
        for live in self.live.values():
            live.stop.set()
            live.replies.put("no")
        self.queue.put(None)

    # --- the worker ----------------------------------------------------------------------------
    def _work(self) -> None:
        while (run_id := self.queue.get()) is not None:
            live = self.live.get(run_id)
            if live is None or live.stop.is_set():
                self.store.add_event(run_id, "verdict", {"status": "stopped", "reason": "stopped before it started"})
                self.store.finish(run_id, "stopped")
                self.live.pop(run_id, None)
                continue
            try:
                self._run(run_id, live)
            except Exception as e:  # noqa: BLE001  (one broken run must not stop the service)
                self.store.add_event(run_id, "error", {"message": f"{type(e).__name__}: {e}"})
                self.store.add_event(run_id, "verdict", {"status": "error", "reason": str(e)})
                self.store.finish(run_id, "error", error=f"{type(e).__name__}: {e}")
            finally:
                self.live.pop(run_id, None)

    def _run(self, run_id: str, live: _Live) -> None:
        from lamforge.agents.runner import run_episode
        from lamforge.envs import make
        from lamforge.envs.tasks import task_for

        spec = TaskSpec.model_validate(self.store.get(run_id)["spec"])
        folder = self.artifacts / run_id
        folder.mkdir(parents=True, exist_ok=True)
        self.store.set_status(run_id, "running")
        env = make(spec.env, max_steps=spec.max_steps)
        try:
            base = env.unwrapped
            task = task_for(spec.env, family=spec.family, seed=spec.seed, request=spec.request,
                            template=spec.template)
            model = spec.model or self.default_model
            self.store.add_event(run_id, "started", {"task": task.model_dump(mode="json"),
                                                    "agent": spec.agent if spec.agent == "expert" else model})
            agent = self.make_agent("reference" if spec.agent == "expert" else model, env, planning="start")
            shown_plan: list[str] = []

            def on_step(step) -> None:
                nonlocal shown_plan
                if step.plan and step.plan != shown_plan:
                    shown_plan = list(step.plan)
                    self.store.add_event(run_id, "plan", {"plan": shown_plan})
                self.store.add_event(run_id, "step", _step_event(step))
                if live.stop.is_set():
                    raise _Stopped()

            def ask(question: str) -> str:
                kind = "confirm" if question.rstrip().endswith("[y/N]") else "question"
                live.waiting = kind
                self.store.add_event(run_id, kind, {"text": question})
                try:
                    answer = live.replies.get(timeout=REPLY_TIMEOUT_S)
                except queue.Empty:
                    answer = "no"
                live.waiting = None
                self.store.add_event(run_id, "reply", {"answer": answer})
                if live.stop.is_set():
                    raise _Stopped()
                return answer

            from lamforge.core.safety import runtime_policy

            # a model's irreversible actions wait for a yes on the page (the expert plays a known solution)
            policy = runtime_policy(env, ask) if spec.agent == "model" else None
            try:
                traj = run_episode(env, agent, task, log=folder / "run.jsonl", ask=ask, on_step=on_step, policy=policy)
            except _Stopped:
                self._keep_artifacts(base, folder)
                self.store.add_event(run_id, "verdict", {"status": "stopped", "reason": "stopped by the user"})
                self.store.finish(run_id, "stopped")
                return
            self._keep_artifacts(base, folder)
            status = "succeeded" if traj.success else "failed"
            self.store.add_event(run_id, "verdict", {
                "status": status, "success": traj.success, "reason": traj.outcome.reason, "steps": len(traj.steps),
                "seconds": round(traj.seconds, 2), "checked": task.family != "free_request",
                "artifacts": sorted(p.name for p in folder.iterdir())})
            self.store.finish(run_id, status, traj.model_dump(mode="json"))
        finally:
            env.close()

    def _keep_artifacts(self, base: Any, folder: Path) -> None:
        """The saved document (and what it started from) or a screenshot, before the env's workspace goes."""
        from lamforge.core.search import judged_paths

        try:
            state = base.judge()
        except Exception:  # noqa: BLE001  (an env that cannot judge has no artifacts to keep)
            state = None
        files = [p for p in judged_paths(state) if p.is_file()] if state is not None else []
        if files:
            shutil.copyfile(files[0], folder / f"document{files[0].suffix}")
            template = getattr(state, "template_path", None)
            if isinstance(template, Path) and template.is_file():
                shutil.copyfile(template, folder / f"before{template.suffix}")
        if hasattr(base, "screenshot"):
            try:
                base.screenshot(str(folder / "screen.png"))
            except Exception:  # noqa: BLE001  (a closed page: no screenshot, the run still counts)
                pass


def _step_event(step) -> dict[str, Any]:
    a = step.action
    return {"index": step.index, "action": a.call_text() if a.function else None, "status": a.status.value,
            "thought": a.thought or None, "error": step.error, "state": step.observation.state,
            "latency_s": round(step.latency_s or 0.0, 3), "user_reply": step.user_reply,
            "screen": [{"label": c.label, "name": c.name, "type": c.type, "value": c.value}
                       for c in step.observation.controls[:80]]}

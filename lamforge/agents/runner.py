"""The episode loop: observe -> decide -> act -> observe, until FINISH, FAIL or the step limit.

Every step is appended to a JSON-lines log as it happens (and flushed), so a run killed mid-way
leaves a readable partial trajectory (:func:`read_log`).

PENDING (the agent asks a question) and CONFIRM (it asks before a sensitive action) go to the
``ask`` callback, a person at the terminal in the CLI; the answer is kept in the step record and
shown to the agent in the next observation.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from lamforge.agents.base import Agent
from lamforge.core.errors import TaskFileError
from lamforge.core.schemas import Action, Observation, Outcome, Status, Step, Task, Trajectory

Ask = Callable[[str], str]
OnStep = Callable[[Step], None]


def run_episode(env, agent: Agent, task: Task, *, log: str | Path | None = None, ask: Ask | None = None,
                on_step: OnStep | None = None, seed: int | None = None, policy=None) -> Trajectory:
    """One episode. ``policy`` (:class:`lamforge.core.safety.ConfirmPolicy`) is asked before each action
    the environment says cannot be undone (``action_risk``); a denied one does not run."""
    base = env.unwrapped
    obs, _ = env.reset(seed=seed, options={"task": task})
    # a web page may state the request itself (MiniWoB's utterance): the env's task then carries it
    task = getattr(base, "task", None) or task
    started = time.perf_counter()
    plan = agent.start(task, obs)
    traj = Trajectory(id=f"{task.id}-{uuid.uuid4().hex[:8]}", task=task, agent=agent.name, initial_plan=plan)
    if getattr(agent, "memory", None) is not None:  # what it recalled, nothing included
        traj.meta["recalled"] = agent.recalled
    writer = _LogWriter(log, traj) if log else None
    terminated = truncated = False
    info: dict = {}
    while not (terminated or truncated):
        t0 = time.perf_counter()
        decision = agent.act(obs, traj.steps)
        latency = time.perf_counter() - t0
        action, reply = decision.action, None
        if action.status in (Status.PENDING, Status.CONFIRM):
            action, reply = _ask_user(action, ask)
        if policy is not None and action.function is not None and (reason := base.action_risk(action)):
            approved, said = policy.review(action, reason, base.control_name(action.control_label))
            reply = said if reply is None else f"{reply}; {said}"
            if not approved:  # nothing runs; the agent sees the answer and goes on
                action = action.model_copy(update={"function": None, "control_label": None, "control_name": None,
                                                   "args": {}, "status": Status.CONTINUE})
        if decision.plan is not None:
            plan = decision.plan
        elif action.plan is not None:
            plan = action.plan
        next_obs, reward, terminated, truncated, info = env.step(action)
        if reply is not None and not (terminated or truncated):
            next_obs = next_obs.model_copy(update={"state": f"{next_obs.state}; user said: {reply}"})
        step = Step(index=len(traj.steps), observation=obs, action=action, plan=list(plan),
                    error=decision.error or info.get("error"), reward=reward, latency_s=latency,
                    raw_output=decision.raw_output, user_reply=reply)
        traj.steps.append(step)
        if writer:
            writer.step(step)
        if on_step:
            on_step(step)
        obs = next_obs
    traj.final_observation = obs
    traj.outcome = Outcome(success=bool(info.get("success")), terminated=terminated, truncated=truncated,
                           reason=_reason(traj.steps[-1].action, terminated, truncated))
    traj.seconds = time.perf_counter() - started
    traj.meta["steps_limit"] = getattr(base, "max_steps", None)
    if writer:
        writer.end(traj)
    return traj


def _ask_user(action: Action, ask: Ask | None) -> tuple[Action, str]:
    question = str(action.args.get("question") or action.thought or "Please confirm.")
    if action.status == Status.PENDING:
        reply = ask(question) if ask else "(no one is there to answer)"
        # a question is not an action on the application
        return action.model_copy(update={"function": None, "control_label": None, "status": Status.CONTINUE}), reply
    reply = ask(f"{question} Run {action.call_text()}? [y/N]") if ask else "no"
    approved = reply.strip().lower() in ("y", "yes")
    update = {"status": Status.CONTINUE} if approved else {"function": None, "control_label": None,
                                                           "status": Status.CONTINUE}
    return action.model_copy(update=update), reply


def _reason(last: Action, terminated: bool, truncated: bool) -> str:
    if truncated:
        return "step limit reached"
    return "agent finished" if last.status == Status.FINISH else "agent gave up"


class _LogWriter:
    def __init__(self, path: str | Path, traj: Trajectory):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.f = self.path.open("a", encoding="utf-8")
        head = traj.model_dump(mode="json", exclude={"steps", "outcome"})
        self._write({"type": "start", "trajectory": head})

    def _write(self, record: dict) -> None:
        self.f.write(json.dumps(record) + "\n")
        self.f.flush()

    def step(self, step: Step) -> None:
        self._write({"type": "step", "step": step.model_dump(mode="json")})

    def end(self, traj: Trajectory) -> None:
        final = traj.final_observation.model_dump(mode="json") if traj.final_observation else None
        self._write({"type": "end", "outcome": traj.outcome.model_dump(mode="json"), "seconds": traj.seconds,
                     "final_observation": final})
        self.f.close()


def read_log(path: str | Path) -> Trajectory:
    """Rebuild a trajectory from a run log; a log cut short (killed run) gives the steps so far with
    ``outcome.reason == "interrupted"``. A torn last line is ignored; any other bad line is an error
    naming the file and line."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    traj: Trajectory | None = None
    for n, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            if n == len(lines):
                break  # the process died while writing this line
            raise TaskFileError(path, n, f"not JSON: {e}") from None
        kind = record.get("type")
        if kind == "start":
            traj = Trajectory.model_validate({**record["trajectory"], "steps": []})
        elif traj is None:
            raise TaskFileError(path, n, "log does not start with a 'start' record")
        elif kind == "step":
            traj.steps.append(Step.model_validate(record["step"]))
        elif kind == "end":
            traj.outcome = Outcome.model_validate(record["outcome"])
            traj.seconds = record.get("seconds", 0.0)
            if record.get("final_observation"):
                traj.final_observation = Observation.model_validate(record["final_observation"])
            return traj
        else:
            raise TaskFileError(path, n, f"unknown record type {kind!r}")
    if traj is None:
        raise TaskFileError(path, None, "empty log")
    traj.outcome = Outcome(reason="interrupted")
    return traj



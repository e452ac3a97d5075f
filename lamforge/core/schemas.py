"""The shared records: one definition each, used by environments, the runtime log, the datasets
and the trainers alike.

Every record is a pydantic model, so it serialises to JSON (``model_dump_json``) and exports a JSON
Schema (``model_json_schema``); ``lamforge schema NAME`` prints it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Status(str, Enum):
    """What the agent says about the task after this action (the paper's / UFO's statuses)."""

    CONTINUE = "CONTINUE"
    FINISH = "FINISH"  # the task is complete once this action is done
    FAIL = "FAIL"  # the agent gives up
    PENDING = "PENDING"  # the agent asks the user a question (in ``Action.args['question']``)
    CONFIRM = "CONFIRM"  # the agent asks before a sensitive action; the action runs on "yes"


# How a task finds its family (its check and reward). The families live in ``lamforge.envs.tasks``,
# which sets this when it is imported; every environment imports it, and a judged state only comes
# from an environment, so it is set whenever a check can run. The core imports no stage.
_family_lookup: Callable[[Any], Any] | None = None


def use_family_lookup(lookup: Callable[[Any], Any]) -> None:
    global _family_lookup
    _family_lookup = lookup


class Task(BaseModel):
    """One concrete thing to do. The success check and reward live with the task's family
    (``lamforge.envs.tasks``), reached through :meth:`check` and :meth:`reward`; the agent never
    sees them."""

    model_config = ConfigDict(frozen=True)

    id: str
    family: str
    request: str = Field(description="The user's request in natural language.")
    env_id: str
    template: str | None = Field(default=None, description="Template the task starts from.")
    params: dict[str, Any] = Field(default_factory=dict)

    def _family(self) -> Any:
        if _family_lookup is None:
            from lamforge.core.errors import TaskNotFound

            raise TaskNotFound(f"task {self.id!r}: no task families are loaded (import lamforge.envs.tasks)")
        return _family_lookup(self)

    def check(self, state: Any) -> bool:
        return self._family().check(self, state)

    def reward(self, state: Any) -> float:
        return self._family().reward(self, state)


class Plan(BaseModel):
    """Ordered natural-language steps."""

    steps: list[str]

    def render(self) -> str:
        return "\n".join(f"{i}. {s}" for i, s in enumerate(self.steps, 1))


class TaskPlan(BaseModel):
    """A task-plan pair, the unit of phase-1 data (the paper's ``{"task_id", "task", "plan"}``)."""

    task_id: str
    task: str
    plan: list[str]
    source: str = ""
    family: str | None = None


class Control(BaseModel):
    """One labelled element of an observation, like a node of an accessibility tree."""

    label: int
    name: str
    type: str
    value: str | None = None
    options: list[str] | None = Field(default=None, description="A drop-down's options: the only values "
                                      "select_option's grammar offers for it (not rendered: the value lists them).")

    def render(self) -> str:
        """Compact, e.g. ``[10] ComboBox Highlight: Yellow|Green`` (a small model reads every token)."""
        value = f": {self.value}" if self.value not in (None, "") else ""
        return f"[{self.label}] {self.type} {self.name}{value}"


class Observation(BaseModel):
    request: str
    controls: list[Control]
    state: str = Field(description="Compact summary of the application state.")
    last_action_error: str | None = None

    def control(self, label: int) -> Control | None:
        return next((c for c in self.controls if c.label == label), None)

    def find(self, name: str) -> Control | None:
        return next((c for c in self.controls if c.name == name), None)

    def render(self) -> str:
        lines = [f"State: {self.state}"]
        if self.last_action_error:
            lines.append(f"Last action error: {self.last_action_error}")
        lines.append("Controls:")
        lines.extend(c.render() for c in self.controls)
        return "\n".join(lines)


class Action(BaseModel):
    """One model decision (the paper's output record)."""

    thought: str = ""
    function: str | None = Field(
        default=None, description="Action name; None for a pure status update (e.g. FINISH)."
    )
    control_label: int | None = None
    control_name: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    status: Status = Status.CONTINUE
    plan: list[str] | None = Field(default=None, description="Remaining steps, if re-planned.")

    def call_text(self) -> str:
        """The action as a call, e.g. ``click(control=12)``; what the executor runs."""
        if self.function is None:
            return f"<{self.status.value}>"
        parts = [f"control={self.control_label}"] if self.control_label is not None else []
        parts += [f"{k}={v!r}" for k, v in self.args.items()]
        return f"{self.function}({', '.join(parts)})"


class Step(BaseModel):
    """One thought-action-observation turn of a trajectory."""

    index: int
    observation: Observation
    action: Action
    plan: list[str] = Field(default_factory=list)
    error: str | None = Field(default=None, description="Error the action raised, if any.")
    reward: float = 0.0
    latency_s: float | None = Field(default=None, description="Time the agent took to decide.")
    raw_output: str | None = Field(default=None, description="Model text behind the action.")
    user_reply: str | None = Field(default=None, description="Answer to PENDING / CONFIRM.")
    alternatives: list[Action] = Field(
        default_factory=list, description="Other actions equally right at this step (offline metrics).")


Verdict = Literal["pass", "fail", "unsure"]


class Outcome(BaseModel):
    success: bool | None = None
    verdict: Verdict | None = None
    terminated: bool = False
    truncated: bool = False
    reason: str = ""
    checks: dict[str, bool] = Field(
        default_factory=dict, description="Verification stages: format, execution, outcome."
    )


class Trajectory(BaseModel):
    """A task, the steps taken on it, and how it ended. The runtime log, the datasets and the
    trainers all read and write this one format (one JSON object per line on disk)."""

    id: str
    task: Task
    agent: str
    steps: list[Step] = Field(default_factory=list)
    initial_plan: list[str] = Field(default_factory=list)
    outcome: Outcome = Field(default_factory=Outcome)
    final_observation: Observation | None = Field(
        default=None, description="The screen after the last action: what an agent that checks its work "
                                  "before saying FINISH sees (training rows use it).")
    started_at: float = Field(default_factory=time.time)
    seconds: float = 0.0
    meta: dict[str, Any] = Field(default_factory=dict)

    @property
    def success(self) -> bool:
        return bool(self.outcome.success)


SCHEMAS: dict[str, type[BaseModel]] = {
    m.__name__: m
    for m in (Task, Plan, TaskPlan, Control, Observation, Action, Step, Outcome, Trajectory)
}

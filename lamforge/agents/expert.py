"""The reference expert: replays a task family's reference solution, resolving each control name
to its label in the live observation (labels are never baked into the solution)."""

from __future__ import annotations

from lamforge.agents.base import Agent, Decision
from lamforge.core.schemas import Action, Observation, Status, Step, Task
from lamforge.envs.tasks import family_of


class ReferenceExpert(Agent):
    name = "expert"

    def __init__(self) -> None:
        self._todo: list[Action] = []
        self._plan: list[str] = []
        self._reactive = None
        self._task: Task | None = None

    def start(self, task: Task, observation: Observation) -> list[str]:
        family = family_of(task)
        self._reactive = family if family.reactive else None
        self._task = task
        if self._reactive is not None:  # the actions depend on the screen: asked step by step
            self._todo, self._plan = [], []
            return []
        self._todo = list(family.solution(task))
        self._plan = family.plan(task)
        return list(self._plan)

    def act(self, observation: Observation, history: list[Step]) -> Decision:
        if self._reactive is not None:
            action = self._reactive.next_action(self._task, observation, history)
            if action is None:
                return Decision(Action(thought="No scripted answer for this screen; giving up.", status=Status.FAIL))
            return Decision(action)
        if not self._todo:
            return Decision(Action(thought="Nothing left to do.", status=Status.FINISH))
        ref = self._todo.pop(0)
        done = len(self._plan) - len(self._todo) - 1
        remaining = self._plan[done + 1 :]
        thought = self._plan[done] if done < len(self._plan) else ""
        if ref.control_name is None:
            return Decision(ref.model_copy(update={"thought": thought, "plan": remaining}))
        control = observation.find(ref.control_name)
        if control is None:
            return Decision(Action(thought=f"'{ref.control_name}' is not on screen; giving up.", status=Status.FAIL))
        return Decision(ref.model_copy(update={"control_label": control.label, "thought": thought,
                                               "plan": remaining}))

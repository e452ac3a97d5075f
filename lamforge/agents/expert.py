"""The reference expert: replays a task family's reference solution, resolving each control name
to its label in the live observation (labels are never baked into the solution)."""

from __future__ import annotations

import zlib

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
        thought = self._plan[done] if done < len(self._plan) else ""
        # The plan stays as made: the runtime agent shows its plan unchanged until it replans, and
        # a training row sees each step's plan. The expert once set the plan to the steps left after
        # each action, so rows opened on a plan without its first step, then a shorter "New plan"
        # at every turn, which the agent at run time never shows.
        if ref.control_name is None:
            return Decision(ref.model_copy(update={"thought": thought}))
        control = observation.find(ref.control_name)
        if control is None:
            return Decision(Action(thought=f"'{ref.control_name}' is not on screen; giving up.", status=Status.FAIL))
        return Decision(ref.model_copy(update={"control_label": control.label, "thought": thought}))


class DetourExpert(ReferenceExpert):
    """The reference expert with one mistake and its repair: at step ``at`` it first plays the action
    that comes after the next one (skipping a step: Numbering before the paragraph is selected,
    OK before the text is typed), sees the result, then plays the rest of the solution from the
    skipped step on. Trained with no loss on the mistake, such episodes teach what to do after an
    error: a forged model that pressed Numbering without a selection pressed it again (session 9's
    held-out failures). ``at`` is drawn from the task id, so a resumed collection repeats it."""

    name = "detour"

    def __init__(self) -> None:
        super().__init__()
        self.at: int | None = None  # the step of the mistake; None when the task has no detour

    def start(self, task: Task, observation: Observation) -> list[str]:
        plan = super().start(task, observation)
        self.at = None
        if self._reactive is None and len(self._todo) >= 2:
            self.at = zlib.crc32(task.id.encode()) % (len(self._todo) - 1)
        return plan

    def act(self, observation: Observation, history: list[Step]) -> Decision:
        if self.at is not None and len(history) == self.at:
            ahead = self._todo[1]
            control = observation.find(ahead.control_name) if ahead.control_name is not None else None
            if ahead.control_name is None or control is not None:
                update = {"thought": "", "status": Status.CONTINUE}
                if control is not None:
                    update["control_label"] = control.label
                return Decision(ahead.model_copy(update=update))
            self.at = None  # the step ahead is not on this screen yet: no detour in this episode
        return super().act(observation, history)

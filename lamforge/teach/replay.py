"""Replaying a skill with new values, on the screen at hand.

    lamforge run --skill bold-phrase --param phrase="annual report" --template letter

Each step's control is found on the current screen by its description: the same name and type; else
a control of that type showing the text the step acts on (a paragraph holding the phrase) or showing
what it showed when recorded. A step whose control cannot be found, or whose action the application
refused, is handed to the model for that one step, with the step's note in front of it; the replay
then goes on with the next step. Irreversible steps ask first, as every run does
(``lamforge.core.safety``).
"""

from __future__ import annotations

from lamforge.agents.base import Agent, Decision
from lamforge.core.schemas import Action, Control, Observation, Status, Step, Task
from lamforge.teach.skill import Skill, SkillStep


SKILL = "(skill step)"  # raw output of a step the recording played, so a refusal of it is recognised


class SkillAgent(Agent):
    name = "skill"

    def __init__(self, skill: Skill, values: dict[str, str], fallback: Agent | None = None):
        self.skill, self.values = skill, {**skill.params, **values}
        self.fallback = fallback
        self.index = 0
        self.fallbacks = 0  # steps the model did instead of the recording

    def start(self, task: Task, observation: Observation) -> list[str]:
        self.index = 0
        if self.fallback is not None:
            self.fallback.start(task, observation)
        return [f"{s.action} {s.target.name if s.target and s.target.name else ''}".strip() for s in self.skill.steps]

    def act(self, observation: Observation, history: list[Step]) -> Decision:
        last = history[-1] if history else None
        if last is not None and last.error and last.raw_output == SKILL:  # the application refused a recorded step
            return self._hand_over(self.skill.steps[self.index - 1], observation, history, "refused")
        if self.index >= len(self.skill.steps):
            return Decision(Action(status=Status.FINISH, thought="the skill's steps are done"))
        step = self.skill.steps[self.index]
        self.index += 1
        args = {k: self.skill.fill(v, self.values) if isinstance(v, str) else v for k, v in step.args.items()}
        status = Status.FINISH if step.status == "FINISH" else Status.CONTINUE
        if step.target is None:  # an API action: nothing to find on screen
            return Decision(Action(function=step.action, args=args, status=status), raw_output=SKILL)
        control = self._ground(step, observation)
        if control is None:
            return self._hand_over(step, observation, history, "not found")
        options = control.options or ((control.value or "").split("|") if control.type == "ComboBox" else [])
        if "option" in args and options:  # "green" as the request says it -> "Green" as the list spells it
            args["option"] = next((o for o in options if o.lower() == str(args["option"]).lower()), args["option"])
        return Decision(Action(function=step.action, control_label=control.label, control_name=control.name,
                               args=args, status=status), raw_output=SKILL)

    def _ground(self, step: SkillStep, obs: Observation) -> Control | None:
        """The control the step meant, on this screen: a document item (paragraph, cell) holding the
        text the step acts on; else the control of that type and name; else one showing what it showed."""
        t = step.target
        typed = [c for c in obs.controls if t.type is None or c.type == t.type]
        if t.text and (shown := self.skill.fill(t.text, self.values)) != t.text:
            # a paragraph the request names by its opening words: the one that starts with the new words
            return next((c for c in typed if c.value and c.value.startswith(shown)), None)
        wanted = [self.skill.fill(v, self.values) for v in step.args.values() if isinstance(v, str) and len(v) > 1]
        for c in typed:
            if c.value and any(w in c.value for w in wanted):
                return c
        named = [c for c in typed if c.name == t.name]
        if named and not wanted:  # a button or tab: its name is what it is (a paragraph's is only its place)
            return named[0]
        if t.text:
            for c in typed:
                if c.value and c.value[:40] == t.text[:40]:
                    return c
        return named[0] if named else None

    def _hand_over(self, step: SkillStep, obs: Observation, history: list[Step], why: str) -> Decision:
        if self.fallback is None:
            return Decision(Action(status=Status.FAIL, thought=f"skill step {self.index} ({step.action}): control {why}"),
                            error=f"skill step {self.index}: control {why} and no model to fall back on")
        self.fallbacks += 1
        note = f"; the recorded step was {step.action} on {step.target.name if step.target else 'the app'}" + (
            f" ({step.note})" if step.note else "")
        hinted = obs.model_copy(update={"state": f"{obs.state}{note}"})
        decision = self.fallback.act(hinted, history)
        decision.action = decision.action.model_copy(update={"status": Status.CONTINUE}) \
            if self.index < len(self.skill.steps) and decision.action.status == Status.FINISH else decision.action
        return decision

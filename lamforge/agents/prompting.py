"""Prompt building from the template file (``lamforge/prompts/react.yaml``), shared by the agent
at run time and by the trainers, so a model is trained on exactly the prompts it will see.

An episode is one conversation: system (instructions and actions), then per step a user turn and the
assistant's action line. The first user turn shows the request, the plan and the whole screen; each
later turn shows the result of the last action and only what changed on screen (new or changed
controls in full, controls that went away or came back as label ranges). Each step's prompt therefore
extends the previous one, which the decoder's prefix cache turns into speed, and a whole trajectory
trains as one short row.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel

from lamforge.agents.memory import render as render_recalled
from lamforge.core.actions import ActionSet
from lamforge.core.calls import format_action
from lamforge.core.schemas import Control, Observation, Status, Step

def app_name(env_id: str) -> str:
    """How the prompts name the application (``EnvSpec.app_name``); "the application" for an unknown id."""
    from lamforge.core.errors import EnvironmentNotFound
    from lamforge.envs import spec

    try:
        return spec(env_id).app_name
    except EnvironmentNotFound:
        return "the application"


class PromptTemplates(BaseModel):
    """The typed schema of a prompt file."""

    system: str
    first: str
    recalled: str
    next: str
    plan_system: str
    plan_user: str


@cache
def load_prompts(name: str = "react") -> PromptTemplates:
    text = resources.files("lamforge.prompts").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return PromptTemplates.model_validate(yaml.safe_load(text))


def render_plan(plan: list[str]) -> str:
    return "\n".join(f"{i}. {p}" for i, p in enumerate(plan, 1)) if plan else "(none)"


def label_ranges(labels: list[int]) -> str:
    """[1, 2, 3, 7, 9, 10] -> '1-3, 7, 9-10'."""
    out, labels = [], sorted(labels)
    i = 0
    while i < len(labels):
        j = i
        while j + 1 < len(labels) and labels[j + 1] == labels[j] + 1:
            j += 1
        out.append(str(labels[i]) if i == j else f"{labels[i]}-{labels[j]}")
        i = j + 1
    return ", ".join(out)


class ScreenTracker:
    """Renders each observation as the change from what the conversation has shown so far."""

    def __init__(self) -> None:
        self.shown: dict[int, Control] = {}
        self.visible: set[int] = set()

    def full(self, obs: Observation) -> str:
        self.shown = {c.label: c for c in obs.controls}
        self.visible = set(self.shown)
        return "\n".join(c.render() for c in obs.controls)

    def changes(self, obs: Observation) -> str:
        now = {c.label: c for c in obs.controls}
        new = [c for c in obs.controls if c.label not in self.shown]
        changed = [c for c in obs.controls if c.label in self.shown and self.shown[c.label] != c]
        back = [lb for lb in now if lb in self.shown and self.shown[lb] == now[lb] and lb not in self.visible]
        gone = [lb for lb in self.visible if lb not in now]
        parts = []
        if gone:
            parts.append(f"Gone: {label_ranges(gone)}")
        if back:
            parts.append(f"Back: {label_ranges(back)}")
        if new:
            parts.append("New:\n" + "\n".join(c.render() for c in new))
        if changed:
            parts.append("Changed:\n" + "\n".join(c.render() for c in changed))
        self.shown.update(now)
        self.visible = set(now)
        return "".join("\n" + p for p in parts) if parts else "\nNo change."


def action_line(step: Step, action_set: ActionSet) -> str:
    """What the assistant said at this step: the action line, or its raw text if it did not parse."""
    a = step.action
    if a.function is None and a.status == Status.CONTINUE:
        return (step.raw_output or "").strip()[:120] or "(no action)"
    return format_action(a, action_set, observation=step.observation)


def episode_messages(env_id: str, action_set: ActionSet, request: str, steps: list[Step],
                     observation: Observation | None, plan: list[str],
                     prompts: PromptTemplates | None = None, recalled: dict | None = None) -> list[dict]:
    """The conversation up to now. With ``observation`` (the current screen) it ends on the user turn
    the model must answer; with ``observation=None`` it holds only the recorded steps, each followed
    by its assistant turn (a training row). ``recalled``: what the agent recalled from its memory
    (``lamforge.agents.memory``), shown after the request."""
    p = prompts or load_prompts()
    app = app_name(env_id)
    example = 'click(control="Bold")' if action_set.refer_by_name else "click(control=12)"
    messages = [{"role": "system", "content": p.system.format(app=app, actions=action_set.signatures(),
                                                              example=example)}]
    tracker = ScreenTracker()
    # the screens as the model sees them (the environment's control filter, lamforge.core.screen)
    screens = [action_set.view(s.observation, request) for s in steps]
    if observation is not None:
        screens.append(action_set.view(observation, request))
    plans = [s.plan for s in steps] + [plan]
    for i, obs in enumerate(screens):
        if i == 0:
            shown = request if not recalled else f"{request}\n{render_recalled(recalled, p.recalled)}"
            user = p.first.format(request=shown, plan=render_plan(plans[0] if steps else plan),
                                  state=obs.state, controls=tracker.full(obs))
        else:
            prev = steps[i - 1]
            result = f"error: {prev.error}" if prev.error else "ok"
            if prev.user_reply is not None:
                result += f"; the user said: {prev.user_reply}"
            user = p.next.format(result=result, state=obs.state, changes=tracker.changes(obs))
            if plans[i] != plans[i - 1] and plans[i]:
                user += "\nNew plan:\n" + render_plan(plans[i])
        messages.append({"role": "user", "content": user})
        if i < len(steps):
            messages.append({"role": "assistant", "content": action_line(steps[i], action_set)})
    return messages


def plan_messages(env_id: str, request: str, prompts: PromptTemplates | None = None) -> list[dict]:
    p = prompts or load_prompts()
    app = app_name(env_id)
    return [{"role": "system", "content": p.plan_system.format(app=app)},
            {"role": "user", "content": p.plan_user.format(request=request)}]


def parse_plan(text: str) -> list[str]:
    """Numbered or bulleted lines -> steps (numbering stripped)."""
    steps = []
    for line in text.splitlines():
        line = line.strip().lstrip("-*").strip()
        head, dot, rest = line.partition(".")
        if dot and head.isdigit():
            line = rest.strip()
        if line:
            steps.append(line)
    return steps[:12]

"""The scripted MiniWoB++ policies' registry and the helpers they share (what a policy reads: the
request and the labelled controls)."""

from __future__ import annotations

import re
from collections.abc import Callable

from lamforge.core.schemas import Action, Control, Observation

Policy = Callable[[str, Observation, list], "Action | None"]
SCRIPTED: dict[str, Policy] = {}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
ORDINAL = {"1st": 1, "2nd": 2, "3rd": 3, **{f"{i}th": i for i in range(4, 21)}}


def scripted_action(name: str, observation: Observation, history: list) -> Action | None:
    policy = SCRIPTED.get(name)
    return policy(observation.request, observation, history) if policy else None


def policy(*names: str):
    def register(fn: Policy) -> Policy:
        for n in names:
            SCRIPTED[n] = fn
        return fn
    return register


# --- helpers -------------------------------------------------------------------------------------

def click(c: Control | None) -> Action | None:
    return None if c is None else Action(function="click", control_label=c.label, control_name=c.name,
                                         thought=f"Click '{c.name}'.")


def fill(c: Control | None, text: str) -> Action | None:
    return None if c is None else Action(function="fill", control_label=c.label, control_name=c.name,
                                         args={"text": text}, thought=f"Type '{text}' into '{c.name}'.")


def choose(c: Control | None, option: str) -> Action | None:
    return None if c is None else Action(function="select_option", control_label=c.label, control_name=c.name,
                                         args={"option": option}, thought=f"Choose '{option}'.")


def type_text(text: str) -> Action:
    return Action(function="type_text", args={"text": text}, thought=f"Type '{text}'.")


def hover(c: Control | None) -> Action | None:
    return None if c is None else Action(function="hover", control_label=c.label, control_name=c.name,
                                         thought=f"Point at '{c.name}'.")


def key(k: str) -> Action:
    return Action(function="press_key", args={"key": k}, thought=f"Press {k}.")


def find(obs: Observation, name: str, types: tuple[str, ...] | None = None, nth: int = 0) -> Control | None:
    """The nth control called ``name`` (exact first, then case-insensitive)."""
    for norm in (lambda s: s, lambda s: s.strip().lower()):
        hits = [c for c in obs.controls if norm(c.name) == norm(name) and (types is None or c.type in types)]
        if len(hits) > nth:
            return hits[nth]
    return None


def of_type(obs: Observation, *types: str) -> list[Control]:
    return [c for c in obs.controls if c.type in types]


def quoted(text: str) -> list[str]:
    return re.findall(r'"([^"]*)"', text)


def submit(obs: Observation) -> Action | None:
    for name in ("Submit", "submit", "Login", "Search", "OK"):
        c = find(obs, name, ("button", "text", "link", "tab"))
        if c is not None:
            return click(c)
    return None


def done_actions(history: list) -> list[Action]:
    return [s.action for s in history if s.action.function is not None and not s.error]


def next_unfilled(obs: Observation, plan: list[tuple[Control | None, str]]) -> Action | None:
    """Fill each (field, text) whose value differs, in order; then submit."""
    for c, text in plan:
        if c is None:
            return None
        if (c.value or "") != text:
            return fill(c, text)
    return submit(obs)

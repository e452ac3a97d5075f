"""A person acts from the terminal: type ``click 12``, ``set_text 5 Hello``, ``finish``, ``fail``
or a JSON action object. The same loop, log and verdict as for a model."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable

from lamforge.agents.base import Agent, Decision
from lamforge.core.actions import ActionSet
from lamforge.core.schemas import Action, Observation, Status, Step

HELP = ("Type an action: FUNCTION [CONTROL] [ARG=VALUE ...], e.g. 'click 3', 'set_text 12 text=Hello', "
        "'select_text text=\"some words\"', or 'finish' / 'fail' / a JSON action.")


class HumanAgent(Agent):
    name = "human"

    def __init__(self, action_set: ActionSet, read: Callable[[str], str] = input,
                 write: Callable[[str], None] = print):
        self.action_set, self.read, self.write = action_set, read, write

    def act(self, observation: Observation, history: list[Step]) -> Decision:
        self.write(observation.render())
        self.write(HELP)
        while True:
            line = self.read("action> ").strip()
            try:
                return Decision(self.parse(line), raw_output=line)
            except ValueError as e:
                self.write(f"Could not read that: {e}")

    def parse(self, line: str) -> Action:
        if line.lower() in ("finish", "done"):
            return Action(status=Status.FINISH)
        if line.lower() in ("fail", "quit"):
            return Action(status=Status.FAIL)
        if line.startswith("{"):
            return Action.model_validate(json.loads(line))
        words = shlex.split(line)
        if not words:
            raise ValueError("empty line")
        name, rest = words[0], words[1:]
        spec = self.action_set.get(name) if name in self.action_set else None
        if spec is None:
            raise ValueError(f"unknown function {name!r}; known: {', '.join(self.action_set.specs)}")
        label = None
        if spec.targets_control:
            if not rest or not rest[0].isdigit():
                raise ValueError(f"{name} needs a control label first")
            label, rest = int(rest[0]), rest[1:]
        args = {}
        for i, word in enumerate(rest):
            key, eq, value = word.partition("=")
            if not eq:  # a bare value fills the next parameter
                key, value = spec.params[i].name if i < len(spec.params) else f"arg{i}", word
            args[key] = value
        return Action(function=name, control_label=label, args=args)

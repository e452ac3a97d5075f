"""The agent interface: ``start`` makes the initial plan, ``act`` picks the next action."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from lamforge.core.schemas import Action, Observation, Step, Task


@dataclass
class Decision:
    action: Action
    raw_output: str | None = None  # the model text behind the action, when there is one
    plan: list[str] | None = None  # the plan after this step, when the agent re-planned
    error: str | None = None  # the agent's own error (e.g. unparseable model output), for the record


class Agent(ABC):
    name: str = "agent"
    # what the agent recalled from its memory at the episode's start (lamforge.agents.memory); the
    # runner keeps it in the trajectory, so training rows show the model what it saw
    recalled: dict | None = None

    def start(self, task: Task, observation: Observation) -> list[str]:
        """Called once per episode; returns the initial plan (may be empty)."""
        return []

    @abstractmethod
    def act(self, observation: Observation, history: list[Step]) -> Decision:
        """The next action, given the current observation and the steps so far."""

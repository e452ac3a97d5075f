"""Shared schemas, the action definition and typed errors: the ground every stage stands on."""

from lamforge.core.actions import ActionSet, ActionSpec, Param
from lamforge.core.errors import ActionError, LamforgeError
from lamforge.core.schemas import (
    Action,
    Control,
    Observation,
    Outcome,
    Plan,
    Status,
    Step,
    Task,
    TaskPlan,
    Trajectory,
)

__all__ = [
    "Action", "ActionError", "ActionSet", "ActionSpec", "Control", "LamforgeError", "Observation",
    "Outcome", "Param", "Plan", "Status", "Step", "Task", "TaskPlan", "Trajectory",
]

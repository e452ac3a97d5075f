"""Task families: where a task's request generator, success check, reward and reference solution
live together (one object feeds data collection, training, evaluation and RL).

A family belongs to one environment; families are found through the environment registry, so
``Task.check`` works on a task read back from any dataset file.
"""

from __future__ import annotations

import importlib
import random
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from lamforge.core.errors import TaskNotFound
from lamforge.core.schemas import Action, Status, Task, use_family_lookup

_FAMILIES: dict[str, dict[str, "TaskFamily"]] = {}


class TaskFamily(ABC):
    """A parameterised kind of task: ``sample`` makes concrete tasks with varied wording."""

    name: ClassVar[str]
    env_id: ClassVar[str]
    description: ClassVar[str] = ""
    templates: ClassVar[tuple[str, ...]] = ()
    requests: ClassVar[tuple[str, ...]] = ()  # the family's request wordings, with {placeholders}

    def word(self, rng: random.Random, **values: Any) -> str:
        """One of the family's request wordings, filled in."""
        return rng.choice(self.requests).format(**values)

    def available(self) -> bool:
        """False where the family needs something not installed (e.g. LibreOffice for PDF)."""
        return True

    @abstractmethod
    def sample(self, rng: random.Random) -> Task:
        """A concrete task; the same ``rng`` state gives the same task."""

    @abstractmethod
    def check(self, task: Task, state: Any) -> bool:
        """True when the environment state (read from what the application saved) meets the task."""

    def reward(self, task: Task, state: Any) -> float:
        return 1.0 if self.check(task, state) else 0.0

    @abstractmethod
    def solution(self, task: Task) -> list[Action]:
        """Reference actions. GUI actions name their control (``control_name``); the expert
        resolves names to the labels of the live observation."""

    # A family whose right actions depend on what the screen shows (a web page generated from a
    # seed) sets ``reactive`` and answers next_action; the reference expert then asks it each step.
    reactive: ClassVar[bool] = False

    def next_action(self, task: Task, observation: Any, history: list[Any]) -> Action | None:
        """The reference action for this screen (reactive families); None: no scripted answer."""
        return None

    # True when the held-out tasks are an external benchmark's (never sampled by ``sample``), so
    # data collection draws no held-out split of its own
    heldout_external: ClassVar[bool] = False

    def trainable(self, task: Task) -> bool:
        """False for tasks reserved for evaluation (e.g. benchmark seeds); collection refuses them."""
        return True

    def plan(self, task: Task) -> list[str]:
        """Natural-language plan, derived from the reference solution."""
        return [describe(a) for a in self.solution(task)]

    def make_task(self, rng_or_id: random.Random | str, request: str, template: str | None,
                  **params: Any) -> Task:
        task_id = rng_or_id if isinstance(rng_or_id, str) else f"{self.name}-{rng_or_id.getrandbits(32):08x}"
        return Task(id=task_id, family=self.name, request=request, env_id=self.env_id,
                    template=template, params=params)


def describe(action: Action) -> str:
    """One plan step in words, e.g. ``Choose 'Yellow' in 'Highlight'``."""
    f, a, target = action.function, action.args, action.control_name
    if f == "click":
        return f"Click '{target}'"
    if f in ("set_text", "fill"):  # Office and web spell "type into a field" differently
        return f"Enter '{a.get('text')}' in '{target}'"
    if f == "select_option":
        return f"Choose '{a.get('option')}' in '{target}'"
    if f == "drag_select":
        return f"Select '{a.get('text')}' in '{target}'"
    if f == "type_keys":
        return f"Press {a.get('keys')}"
    if f is None:
        return f"Report {action.status.value}"
    args = ", ".join(f"{k}={v!r}" for k, v in a.items())
    return f"Call {f}({args})"


def register_families(env_id: str, families: list[TaskFamily]) -> None:
    _FAMILIES.setdefault(env_id, {}).update({f.name: f for f in families})


def families(env_id: str, *, available_only: bool = True) -> dict[str, TaskFamily]:
    from lamforge.envs.registry import spec

    module = spec(env_id).tasks_module
    importlib.import_module(module)  # registers the env's families on import
    found = _FAMILIES.get(spec(env_id).id, {})
    return {n: f for n, f in found.items() if f.available() or not available_only}


def family_of(task: Task) -> TaskFamily:
    if task.family == FreeRequest.name:
        return FreeRequest(task.env_id)
    found = families(task.env_id, available_only=False)
    if task.family not in found:
        raise TaskNotFound(
            f"task {task.id!r} names family {task.family!r}, which {task.env_id} does not have; "
            f"known: {', '.join(sorted(found))}"
        )
    return found[task.family]


def finish(actions: list[Action]) -> list[Action]:
    """The last reference action carries FINISH: the task is done once it has run."""
    actions[-1] = actions[-1].model_copy(update={"status": Status.FINISH})
    return actions


use_family_lookup(family_of)  # Task.check / Task.reward find the family through this


def sample_tasks(env_id: str, n: int, seed: int = 0, family: str | None = None) -> list[Task]:
    """``n`` tasks spread round-robin over the env's families (or one family)."""
    fams = families(env_id)
    names = [family] if family else sorted(fams)
    for name in names:
        if name not in fams:
            raise TaskNotFound(f"{env_id} has no task family {name!r}; known: {', '.join(sorted(fams))}")
    rng = random.Random(seed)
    return [fams[names[i % len(names)]].sample(rng) for i in range(n)]


class FreeRequest(TaskFamily):
    """A request typed by a person: no generator, no reference solution, and no success check
    (its outcome is 'unsure' unless a judge is configured)."""

    name = "free_request"
    description = "A free-text request with no automatic success check."

    def __init__(self, env_id: str):
        self.env_id = env_id  # type: ignore[misc]

    def available(self) -> bool:
        return False

    def sample(self, rng: random.Random) -> Task:
        raise TaskNotFound("free requests are typed by a person, not sampled")

    def check(self, task: Task, state: Any) -> bool:
        return False

    def solution(self, task: Task) -> list[Action]:
        return []


def task_for(env: str, *, family: str | None = None, seed: int = 0, request: str | None = None,
             template: str | None = None) -> Task:
    """A sampled task of ``family`` (its ``seed``-th draw) or, without one, the free ``request``: how the
    app, the MCP server and a person name a task."""
    if family:
        fams = families(env)
        if family not in fams:
            raise TaskNotFound(f"{env} has no task family {family!r}; known: {', '.join(sorted(fams))}")
        return fams[family].sample(random.Random(seed))
    return free_task(env, request or "", template)


def free_task(env_id: str, request: str, template: str | None = None) -> Task:
    from lamforge.envs.registry import spec

    fams = families(env_id)
    if template is None:
        template = next((f.templates[0] for f in fams.values() if f.templates), None)
    sid = spec(env_id).id
    return Task(id=f"free-{abs(hash(request)) % 10**8:08d}", family=FreeRequest.name, request=request,
                env_id=sid, template=template)

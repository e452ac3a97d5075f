"""One task family per core MiniWoB++ task, with the page's own (binary) reward as the check.

Seeds are split once and for all: **evaluation uses seeds 0..4** (the public protocol's 5 per
task, :func:`eval_task`), **demonstrations use seeds >= 1000** (:meth:`MiniWoBFamily.sample` draws
only those). ``trainable`` refuses evaluation seeds, so ``lamforge collect`` cannot record an
evaluation episode, and :func:`eval_task` refuses training seeds.
"""

from __future__ import annotations

import random
from typing import Any

from lamforge.core.errors import TaskNotFound
from lamforge.core.schemas import Action, Observation, Task
from lamforge.envs.tasks import TaskFamily, register_families
from lamforge.envs.web.miniwob.site import core_tasks
from lamforge.envs.web.site import WebState

ENV_ID = "lamforge/MiniWoB-v0"
EVAL_SEEDS = range(1000)  # the benchmark uses 0..4; everything below 1000 stays out of training
TRAIN_SEED_MIN = 1000


class MiniWoBFamily(TaskFamily):
    env_id = ENV_ID
    reactive = True
    heldout_external = True  # evaluation seeds 0..999 are never sampled

    def __init__(self, name: str):
        self.name = name  # type: ignore[misc]
        self.description = f"MiniWoB++ {name}"  # type: ignore[misc]

    def task(self, seed: int) -> Task:
        # the request is a placeholder until reset: the page generates the utterance from the seed
        return Task(id=f"{self.name}-s{seed}", family=self.name, env_id=ENV_ID,
                    request=f"(MiniWoB++ {self.name}, seed {seed}: the page states the request)",
                    params={"task": self.name, "seed": seed})

    def sample(self, rng: random.Random) -> Task:
        return self.task(rng.randrange(TRAIN_SEED_MIN, 2**31 - 1))

    def check(self, task: Task, state: WebState) -> bool:
        return bool(state.data.get("done")) and float(state.data.get("raw_reward") or 0) > 0

    def solution(self, task: Task) -> list[Action]:
        return []  # reactive: see next_action

    def next_action(self, task: Task, observation: Observation, history: list[Any]) -> Action | None:
        from lamforge.envs.web.miniwob.experts import scripted_action

        return scripted_action(self.name, observation, history)

    def trainable(self, task: Task) -> bool:
        return int(task.params.get("seed", -1)) >= TRAIN_SEED_MIN

    def plan(self, task: Task) -> list[str]:
        return []


def eval_task(name: str, seed: int) -> Task:
    """The benchmark task ``name`` at evaluation seed ``seed`` (0..999; the protocol uses 0..4)."""
    if seed not in EVAL_SEEDS:
        raise TaskNotFound(f"evaluation seeds are 0..{EVAL_SEEDS.stop - 1}; {seed} is a training seed")
    if name not in FAMILIES:
        raise TaskNotFound(f"no MiniWoB++ task {name!r}; `lamforge tasks --env miniwob` lists them")
    return FAMILIES[name].task(seed)


FAMILIES = {name: MiniWoBFamily(name) for name in core_tasks()}
register_families(ENV_ID, list(FAMILIES.values()))

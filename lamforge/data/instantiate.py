"""Instantiation: bind a generic task from the documentation ("Highlight text") to something the
environment can run: the task family it describes, a template document that fits it, and concrete
values (the family's generator fills them).

    lamforge collect plans --docs DIR --instantiate 200

The family is found by retrieval over each family's description, example requests and plan; the
template by retrieval over template descriptions among those the family accepts. A generic task
whose best family scores under ``min_score`` is dropped as not doable inside the application alone
(the paper's filter judge).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from lamforge.core.schemas import Task, TaskPlan
from lamforge.core.retrieval import Retriever
from lamforge.envs import registry as envs
from lamforge.envs.tasks import TaskFamily, families


@dataclass
class Binding:
    pair: TaskPlan
    family: str | None
    template: str | None
    score: float
    task: Task | None


def family_document(family: TaskFamily, rng: random.Random) -> str:
    examples = [family.sample(rng) for _ in range(3)]
    plan = family.plan(examples[0])
    return " ".join([family.name.replace("_", " "), family.description, *(t.request for t in examples), *plan])


class Instantiator:
    def __init__(self, env: str = "office", method: str = "hybrid", min_score: float = 0.3,
                 template_descriptions: dict[str, str] | None = None, seed: int = 0):
        self.fams = families(env)
        rng = random.Random(seed)
        self.names = sorted(self.fams)
        self.family_index = Retriever([family_document(self.fams[n], rng) for n in self.names], method)
        if template_descriptions is None:
            template_descriptions = envs.template_descriptions(env)
        if template_descriptions is None:  # an env without descriptions: its templates go by their names
            template_descriptions = {t: t.replace("_", " ") for f in self.fams.values() for t in f.templates}
        self.template_names = sorted(template_descriptions)
        self.template_index = Retriever([template_descriptions[n] for n in self.template_names], method)
        self.min_score = min_score

    def family_for(self, text: str) -> tuple[str, float]:
        (i, score), *_ = self.family_index.search(text, k=1)
        return self.names[i], score

    def bind(self, pair: TaskPlan, rng: random.Random) -> Binding:
        name, score = self.family_for(f"{pair.task} {' '.join(pair.plan)}")
        if score < self.min_score:
            return Binding(pair, None, None, score, None)
        family = self.fams[name]
        allowed = set(family.templates)
        scores = self.template_index.scores(pair.task)
        ranked = [self.template_names[i] for i in scores.argsort()[::-1] if self.template_names[i] in allowed]
        template = ranked[0] if ranked else None
        task = sample_on_template(family, rng, template)
        return Binding(pair, name, task.template, score, task)


def sample_on_template(family: TaskFamily, rng: random.Random, template: str | None, tries: int = 64) -> Task:
    """A task of ``family`` on ``template`` (families pick templates themselves, so resample)."""
    task = family.sample(rng)
    for _ in range(tries):
        if template is None or task.template == template:
            return task
        task = family.sample(rng)
    return task

"""Evolution of task-plan pairs: harder (composite) tasks and varied wording, as the paper grew 29k
extracted pairs to 77k. Rule-based by default; with a model backend, the model rewrites requests.

    lamforge collect plans --docs DIR --evolve 2

Rules: at most 20 words are added to a request (the paper's bound); a composite joins two tasks
("A, then b") and their plans; a rewording wraps the request in another way of asking.
"""

from __future__ import annotations

import random

from lamforge.core.schemas import TaskPlan

MAX_ADDED_WORDS = 20
WRAPPERS = ("Please {t}", "I need to {t}", "Can you {t}?", "Could you {t} for me?", "Help me {t}",
            "{T} as soon as possible.", "In this document, {t}")


def _clause(task: str) -> str:
    task = task.strip().rstrip(".?!")
    return task[:1].lower() + task[1:]


def reword(pair: TaskPlan, rng: random.Random, n: int) -> TaskPlan:
    clause = _clause(pair.task)
    text = rng.choice(WRAPPERS).format(t=clause, T=clause[:1].upper() + clause[1:])
    if not text.endswith(("?", ".")):
        text += "."
    return pair.model_copy(update={"task_id": f"{pair.task_id}~w{n}", "task": text,
                                   "source": f"evolved:reword:{pair.task_id}"})


def compose(a: TaskPlan, b: TaskPlan) -> TaskPlan | None:
    text = f"{a.task.strip().rstrip('.?!')}, then {_clause(b.task)}."
    if len(text.split()) - len(a.task.split()) > MAX_ADDED_WORDS:
        return None
    return TaskPlan(task_id=f"{a.task_id}+{b.task_id}", task=text, plan=a.plan + b.plan,
                    source=f"evolved:compose:{a.task_id}+{b.task_id}")


def llm_reword(pair: TaskPlan, backend, n: int, app: str = "a word processor") -> TaskPlan | None:
    from lamforge.core.prompts import prompt

    asked = prompt("data", "reword_request").format(app=app, task=pair.task,
                                                    max_words=len(pair.task.split()) + MAX_ADDED_WORDS)
    text = backend.chat([{"role": "user", "content": asked}], max_tokens=60).text.strip().split("\n")[0]
    if not text or len(text.split()) - len(pair.task.split()) > MAX_ADDED_WORDS:
        return None
    return pair.model_copy(update={"task_id": f"{pair.task_id}~llm{n}", "task": text,
                                   "source": f"evolved:llm:{pair.task_id}"})


def evolve(pairs: list[TaskPlan], rounds: int = 1, seed: int = 0, backend=None) -> list[TaskPlan]:
    """The original pairs plus, per round, one rewording of each and as many composites."""
    rng = random.Random(seed)
    out = list(pairs)
    for r in range(rounds):
        for p in pairs:
            new = llm_reword(p, backend, r) if backend is not None else reword(p, rng, r)
            if new is not None:
                out.append(new)
        for p in pairs:
            other = rng.choice(pairs)
            if other.task_id != p.task_id and (c := compose(p, other)) is not None:
                out.append(c.model_copy(update={"task_id": f"{c.task_id}~{r}"}))
    return out

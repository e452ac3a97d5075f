"""Experience memory: the verified trajectories of a run's training pool, recalled by request.

    lamforge run --env office --model office/lam2 --task add_comment --seed 3   # recalls from lam2's memory

At an episode's start the agent recalls the request it has seen done that reads most like this one
and shows how it was done in the first turn (``Done before: '...' -> click(...); ...``). Phases 2-3
train on rows that show each trajectory with the nearest *other* one, so the model learns to adapt a
remembered route to the screen at hand rather than to recall 31 routes from its weights alone: with
~10 demonstrations a family, the session-18 demo's LAM4 chose the wrong route in 23 of its 40 failed
held-out episodes.

The memory is a file in the model's folder (``memory.jsonl``, one recollection a line), so a forged
model carries it to every stage that loads it (evaluation, the app, the servers). It holds only
training-pool tasks: held-out and validation tasks are never collected into a run's data.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from lamforge.core.actions import ActionSet
from lamforge.core.calls import format_action
from lamforge.core.files import write_text_atomic
from lamforge.core.errors import LamforgeError
from lamforge.core.schemas import Trajectory

FILE = "memory.jsonl"
# quoted arguments say which text, not what to do: 'Make 'spring sale' bold' should find any "Make '...'
# bold" request, whatever its words
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|https?://\S+")


class MemoryFileError(LamforgeError):
    pass


def recollection_of(traj: Trajectory, action_set: ActionSet) -> dict:
    """What memory keeps of a trajectory: its request and its action lines, as the model writes them."""
    return {"task_id": traj.task.id, "request": traj.task.request,
            "actions": [format_action(s.action, action_set, observation=s.observation) for s in traj.steps]}


def _key(request: str) -> str:
    return _QUOTED.sub(" ", request)


class Memory:
    def __init__(self, items: list[dict]):
        if not items:
            raise MemoryFileError("a memory needs at least one recollection")
        self.items = items
        from lamforge.core.retrieval import Retriever

        self._index = Retriever([_key(i["request"]) for i in items], method="bm25")

    @classmethod
    def of(cls, trajectories: Iterable[Trajectory], action_set: ActionSet) -> Memory:
        return cls([recollection_of(t, action_set) for t in trajectories if t.outcome.success])

    def recall(self, request: str, exclude_task: str | None = None) -> dict | None:
        """The recollection whose request reads most like ``request`` (not the task ``exclude_task``:
        a training row must not be shown its own route), or None when no word is shared."""
        scores = self._index.scores(_key(request))
        for i in np.argsort(-scores, kind="stable"):  # best first, ties in memory order
            if scores[i] <= 0:
                return None
            if self.items[i]["task_id"] != exclude_task:
                return self.items[i]
        return None

    def annotate(self, trajectories: list[Trajectory], dropout: float = 0.0, seed: int = 0) -> list[Trajectory]:
        """Copies of ``trajectories`` that carry what the agent would have recalled (``meta["recalled"]``,
        which rows render); one that already records its recollection keeps it. A share ``dropout``
        recalls nothing, so the model also acts with nothing to go on."""
        rng = random.Random(seed)
        out = []
        for t in trajectories:
            if "recalled" in t.meta:
                out.append(t)
                continue
            recalled = None if rng.random() < dropout else self.recall(t.task.request, exclude_task=t.task.id)
            out.append(t.model_copy(update={"meta": {**t.meta, "recalled": recalled}}))
        return out

    def save(self, folder: Path) -> Path:
        return write_text_atomic(Path(folder) / FILE, "".join(json.dumps(i) + "\n" for i in self.items))

    @classmethod
    def load(cls, folder: Path) -> Memory | None:
        """The memory kept in a model's folder; None when it has none. A corrupt line is an error that
        names the file and the line, not a silently smaller memory."""
        path = Path(folder) / FILE
        if not path.is_file():
            return None
        items = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                if not isinstance(item.get("request"), str) or not isinstance(item.get("actions"), list):
                    raise ValueError("needs a request and a list of actions")
            except (ValueError, AttributeError) as e:
                raise MemoryFileError(f"{path}, line {n}: not a recollection ({e})") from None
            items.append({"task_id": str(item.get("task_id", "")), "request": item["request"],
                          "actions": [str(a) for a in item["actions"]]})
        return cls(items) if items else None


def turns(actions: list[str]) -> list[str]:
    """A remembered route as the turns the model writes: the status that ends the last action becomes
    a turn of its own, the way phase 2 rows end (``data.check_finish``: the last action, its screen,
    then a bare FINISH), so the route and the turns it guides line up one for one. (Shown as
    ``click(...) FINISH`` instead, validation success was the same, 70.0% on 30 tasks; the repeated
    toggles of session 19 came from elsewhere: ``ActionSet.no_repeat``.)"""
    out = []
    for line in actions:
        head, sep, status = line.rpartition(" ")
        if sep and status in ("FINISH", "FAIL") and head.strip():
            out += [head, status]
        else:
            out.append(line)
    return out


def render(recalled: dict, template: str) -> str:
    return template.format(request=recalled["request"], actions="; ".join(turns(recalled["actions"])))

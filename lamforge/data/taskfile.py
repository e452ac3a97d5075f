"""Task files and the task pool: a run's held-out and validation tasks are JSON-lines files of
:class:`~lamforge.core.schemas.Task`, and every stage draws its tasks through :func:`split_pool`.

    lamforge collect trajectories --env office --n 2000 --out runs/office/data   # writes them
"""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import ValidationError

from lamforge.core.errors import TaskFileError
from lamforge.core.files import write_text_atomic
from lamforge.core.schemas import Task


def read_tasks(path: str | Path) -> list[Task]:
    """Tasks from a JSON-lines file; a bad line is an error naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise TaskFileError(path, None, "no such task file")
    tasks = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            tasks.append(Task.model_validate_json(line))
        except ValidationError as e:
            first = e.errors()[0]
            raise TaskFileError(path, n, f"not a task: {first['msg']} at {'.'.join(map(str, first['loc']))}") from None
    return tasks


def write_tasks(tasks: list[Task], path: Path) -> None:
    write_text_atomic(path, "".join(t.model_dump_json() + "\n" for t in tasks))


def split_pool(env: str, n: int, seed: int, heldout_fraction: float = 0.2):
    """A deterministic task pool split into train / held-out (by template and instance, leak-free)."""
    from lamforge.data.splits import split_tasks
    from lamforge.envs.tasks import families, sample_tasks

    if any(f.heldout_external for f in families(env).values()):
        # the held-out tasks are an external benchmark's (MiniWoB++'s evaluation seeds), which the
        # families never sample: every sampled task is a training task
        return sample_tasks(env, n, seed=seed), [], {"heldout": "external: the benchmark's evaluation seeds"}
    size = max(60, math.ceil(n / 0.55))
    for _ in range(6):  # the leak rules drop part of train: grow the pool until n training tasks remain
        pool = sample_tasks(env, size, seed=seed)
        # whole templates can be held out only where the tasks have two or more (an API environment's
        # tasks may have none): otherwise the held-out split is by instance alone
        by = ("instance", "template") if len({t.template for t in pool if t.template}) >= 2 else ("instance",)
        split = split_tasks(pool, heldout_fraction=heldout_fraction, by=by, seed=seed)
        if len(split["train"]) >= n:
            break
        size = math.ceil(size * 1.3 * n / max(len(split["train"]), 1))
    return split["train"][:n], split["heldout"], split.stats

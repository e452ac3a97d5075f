"""Held-out splits that do not leak: whole templates held out, plus held-out task instances.

    from lamforge.data.splits import split_tasks, assert_no_leak

    split = split_tasks(tasks, heldout_fraction=0.2, seed=0)
    train, heldout = split["train"], split["heldout"]
    print(split.stats)          # how many were held out, and how many train tasks were dropped
    assert_no_leak(train, heldout, heldout_templates=split.stats["heldout_templates"])

Two kinds of held-out data, as evaluation needs both:

* ``"template"``: every task of some templates (documents), so the model is scored on documents
  it never saw. Templates are picked in a seeded order until about ``heldout_fraction`` of the
  tasks are theirs, at least one, never all.
* ``"instance"``: about ``heldout_fraction`` of the tasks of the remaining templates, stratified
  by family so every family is scored.

A train task that is the same task as a held-out one in disguise is then dropped from train (and
counted): the same id, the same ``(family, params)``, or a request that is a near-duplicate
(:func:`lamforge.data.dedup.is_near_duplicate`) of a held-out request. Near-duplicates are found
with the exact prefix-filter join, so no pair at or above the threshold slips through.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from lamforge.core.errors import LamforgeError
from lamforge.core.schemas import Task
from lamforge.data.dedup import DEFAULT_THRESHOLD, cross_duplicates

BY = ("instance", "template")


class DataLeak(LamforgeError, AssertionError):
    """Train data that overlaps held-out data; ``pairs`` lists (train id, held-out id, reason)."""

    def __init__(self, pairs: list[tuple[str, str, str]]):
        shown = "\n".join(f"  train {a} ~ heldout {b}: {why}" for a, b, why in pairs[:20])
        more = f"\n  ... and {len(pairs) - 20} more" if len(pairs) > 20 else ""
        super().__init__(f"{len(pairs)} train/held-out leaks:\n{shown}{more}")
        self.pairs = pairs


class Split(dict[str, list[Task]]):
    """``{"train": [...], "heldout": [...]}`` with the numbers behind it in ``stats``."""

    def __init__(self, train: list[Task], heldout: list[Task], stats: dict[str, Any]):
        super().__init__(train=train, heldout=heldout)
        self.stats = stats


def split_tasks(tasks: Sequence[Task], heldout_fraction: float = 0.2,
                by: Iterable[str] = BY, seed: int = 0,
                threshold: float = DEFAULT_THRESHOLD) -> Split:
    by = tuple(by)
    if not by or set(by) - set(BY):
        raise ValueError(f"by must name some of {BY}, got {by}")
    if not 0.0 <= heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction must be in [0, 1), got {heldout_fraction}")
    rng = random.Random(seed)
    first: dict[str, Task] = {}
    for t in tasks:
        first.setdefault(t.id, t)
    unique = list(first.values())
    held_templates: list[str] = []
    if "template" in by and heldout_fraction > 0:
        # with both rules, whole templates take about half of the held-out share, instances the rest
        share = heldout_fraction / 2 if "instance" in by else heldout_fraction
        held_templates = _pick_templates(unique, share, rng)
    held_set = set(held_templates)
    by_template = [t for t in unique if t.template in held_set]
    rest = [t for t in unique if t.template not in held_set]
    by_instance: list[Task] = []
    if "instance" in by and heldout_fraction > 0 and rest:
        # top up to heldout_fraction of all tasks, so the two rules together hold out that fraction
        needed = max(0.0, heldout_fraction * len(unique) - len(by_template))
        by_instance = _stratified_sample(rest, min(1.0, needed / len(rest)), rng)
    heldout_ids = {t.id for t in by_template} | {t.id for t in by_instance}
    heldout = [t for t in unique if t.id in heldout_ids]
    candidates = [t for t in rest if t.id not in heldout_ids]

    held_params = {_twin_key(t) for t in heldout}
    twins = {t.id for t in candidates if _twin_key(t) in held_params}
    near = _disguised(candidates, heldout, threshold)
    near_ids = {candidates[i].id for i in near} - twins
    train = [t for t in candidates if t.id not in twins and t.id not in near_ids]
    stats: dict[str, Any] = {
        "tasks": len(tasks),
        "duplicate_ids": len(tasks) - len(unique),
        "heldout_templates": held_templates,
        "heldout_by_template": len(by_template),
        "heldout_by_instance": len(by_instance),
        "train": len(train),
        "heldout": len(heldout),
        "dropped_same_params": len(twins),
        "dropped_near_duplicate": len(near_ids),
        "dropped_ids": sorted(twins | near_ids),
    }
    return Split(train, heldout, stats)


def assert_no_leak(train: Sequence[Task], heldout: Sequence[Task], threshold: float = DEFAULT_THRESHOLD,
                   heldout_templates: Iterable[str] = ()) -> None:
    """Raise :class:`DataLeak` naming every train task that repeats a held-out one: same id, same
    (family, params), a near-duplicate request, or a template that was held out whole."""
    pairs: list[tuple[str, str, str]] = []
    held_ids = {t.id for t in heldout}
    params = {_twin_key(t): t.id for t in heldout}
    templates = set(heldout_templates)
    for t in train:
        if t.id in held_ids:
            pairs.append((t.id, t.id, "same id"))
        if _twin_key(t) in params:
            pairs.append((t.id, params[_twin_key(t)], "same family and params"))
        if t.template is not None and t.template in templates:
            pairs.append((t.id, f"template {t.template}", "held-out template"))
    near = _disguised(train, heldout, threshold)
    for i, js in sorted(near.items()):
        pairs.extend((train[i].id, heldout[j].id, f"near-duplicate request {train[i].request!r}")
                     for j in js)
    if pairs:
        raise DataLeak(pairs)


def _pick_templates(tasks: list[Task], fraction: float, rng: random.Random) -> list[str]:
    sizes: dict[str, int] = defaultdict(int)
    for t in tasks:
        if t.template is not None:
            sizes[t.template] += 1
    if len(sizes) < 2:
        raise ValueError(f"holding out whole templates needs at least two, the tasks have "
                         f"{len(sizes)}; use by=('instance',)")
    order = sorted(sizes)
    rng.shuffle(order)
    target, chosen, count = fraction * len(tasks), [], 0
    for name in order:
        if len(chosen) == len(order) - 1:
            break  # keep at least one template for training
        if not chosen or abs(count + sizes[name] - target) < abs(count - target):
            chosen.append(name)
            count += sizes[name]
    return sorted(chosen)


def _stratified_sample(tasks: list[Task], fraction: float, rng: random.Random) -> list[Task]:
    """About ``fraction`` of ``tasks``, the same share of every family (largest remainders)."""
    groups: dict[str, list[Task]] = defaultdict(list)
    for t in tasks:
        groups[t.family].append(t)
    total = round(fraction * len(tasks))
    quotas = {f: fraction * len(g) for f, g in groups.items()}
    take = {f: math.floor(q) for f, q in quotas.items()}
    by_remainder = sorted(groups, key=lambda f: (-(quotas[f] - take[f]), rng.random()))
    for f in by_remainder[:max(0, total - sum(take.values()))]:
        take[f] += 1
    picked: list[Task] = []
    for f in sorted(groups):
        picked += rng.sample(groups[f], take[f])
    return picked


def _disguised(train: Sequence[Task], heldout: Sequence[Task], threshold: float) -> dict[int, list[int]]:
    """Train tasks whose request is a near-duplicate of a held-out request that may be the same task
    (:func:`_same_subject`). A family's wording with only another order number in it is another task: counted as
    a leak, every wording of a one-slot family ("Cancel order {order} and e-mail the customer") was
    held out by its first held-out instance, and the session-11 service forge trained on 3
    cancel_and_notify tasks (the present pool: 0) while 10 were held out."""
    near = cross_duplicates([t.request for t in train], [t.request for t in heldout], threshold)
    out = {}
    for i, js in near.items():
        same = [j for j in js if _same_subject(train[i], heldout[j])]
        if same:
            out[i] = same
    return out


def _same_subject(a: Task, b: Task) -> bool:
    """Whether two near-duplicate requests may be one task: no value both of them name (a parameter
    whose value appears in the request) differs. "Cancel order 4721 and e-mail the customer" and the
    same words about order 9107 are two tasks; where nothing named tells them apart, assume one."""
    ma, mb = _named(a), _named(b)
    return not any(k in mb and mb[k] != v for k, v in ma.items())


def _named(task: Task) -> dict[str, str]:
    request = task.request.casefold()
    out = {}
    for k, v in task.params.items():
        text = str(v).casefold() if isinstance(v, (str, int, float)) and not isinstance(v, bool) else ""
        # whole words only: order 25's request does not name item 2
        if text and re.search(rf"(?<!\w){re.escape(text)}(?!\w)", request):
            out[k] = text
    return out


def _twin_key(task: Task) -> tuple[str, str | None, str]:
    """The same task under another id: same family, template and parameters."""
    return task.family, task.template, json.dumps(task.params, sort_keys=True, default=str)

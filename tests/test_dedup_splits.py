"""De-duplication of requests, and held-out splits that leak nothing into train."""

from __future__ import annotations

import random
import time
from itertools import combinations

import pytest

from lamforge.core.schemas import Task
from lamforge.data.dedup import cross_duplicates, dedup, is_near_duplicate, near_duplicates, normalise
from lamforge.data.splits import DataLeak, assert_no_leak, split_tasks
from lamforge.envs.tasks import sample_tasks

BOLD = ["Make 'annual report' bold.", "Make 'annual report' bold!", "make  'Annual report' bold."]
DISTINCT = ["Make 'annual report' italic.", "Make 'budget' bold.", "Delete the second paragraph."]


@pytest.fixture(scope="module")
def tasks() -> list[Task]:
    return sample_tasks("office", 300)


def _variants(texts: list[str], n: int, seed: int = 0) -> list[str]:
    """Look-alike requests: real ones with up to three words swapped for other request words."""
    rng = random.Random(seed)
    vocab = sorted({w for t in texts for w in t.split()})
    out = []
    for _ in range(n):
        words = rng.choice(texts).split()
        for _ in range(rng.randint(0, 3)):
            words[rng.randrange(len(words))] = rng.choice(vocab)
        out.append(" ".join(words))
    return out


def test_normalise():
    assert {normalise(t) for t in BOLD} == {"make annual report bold"}
    assert normalise("  Tab\tand\nnew  line — “quoted” ") == "tab and new line quoted"


def test_exact_and_near_duplicates_found_distinct_kept():
    texts = [*BOLD, *DISTINCT, "Make the 'annual report' bold."]
    assert near_duplicates(texts) == [{0, 1, 2, 6}]
    assert dedup(texts) == [BOLD[0], *DISTINCT]
    assert is_near_duplicate(BOLD[0], "Make the 'annual report' bold.")
    assert not is_near_duplicate(BOLD[0], "Make 'annual reports' bold.")  # Jaccard 0.79
    assert not any(is_near_duplicate(a, b) for a, b in combinations([BOLD[0], *DISTINCT], 2))
    with pytest.raises(ValueError):
        is_near_duplicate("a", "b", threshold=0)


def test_dedup_takes_requests_of_tasks_and_keeps_the_first(tasks):
    twin = tasks[5].model_copy(update={"id": "twin", "request": tasks[5].request.upper()})
    kept = dedup([*tasks[:10], twin])
    assert twin not in kept and kept[0] == tasks[0]
    assert dedup(["x", "y"], key=str.upper) == ["x", "y"]


def test_groups_match_brute_force(tasks):
    texts = _variants([t.request for t in tasks], 400)
    groups = near_duplicates(texts)
    assert groups == near_duplicates(texts, exact=True)
    member = {i for g in groups for i in g if i != min(g)}
    for g in groups:  # every member is a near-duplicate of its group's leader
        assert all(is_near_duplicate(texts[min(g)], texts[i]) for i in g)
    kept = [i for i in range(len(texts)) if i not in member]
    assert not any(is_near_duplicate(texts[a], texts[b]) for a, b in combinations(kept, 2))


def test_cross_duplicates_match_brute_force(tasks):
    texts = _variants([t.request for t in tasks], 500, seed=1)
    queries, corpus = texts[:250], texts[250:]
    found = cross_duplicates(queries, corpus)
    expected = {i: [j for j, c in enumerate(corpus) if is_near_duplicate(q, c)] for i, q in enumerate(queries)}
    assert found == {i: js for i, js in expected.items() if js}


def test_speed_figure(tasks):
    """A printed figure, not a timed assertion."""
    texts = _variants([t.request for t in tasks], 20_000, seed=2)
    t0 = time.perf_counter()
    groups = near_duplicates(texts)
    seconds = time.perf_counter() - t0
    print(f"\nnear_duplicates: 20k look-alike requests in {seconds:.2f} s, "
          f"{sum(len(g) - 1 for g in groups)} duplicates in {len(groups)} groups")


def _leaky(tasks: list[Task]) -> list[Task]:
    """The real tasks plus disguised copies in other templates: near-duplicate requests with new
    ids and params, and (family, params) twins with new ids and wording."""
    rng = random.Random(7)
    templates = sorted({t.template for t in tasks if t.template})
    extra = []
    for n, t in enumerate(rng.sample(tasks, 90)):
        other = rng.choice([x for x in templates if x != t.template])
        if n % 3 == 0:
            request = t.request.upper().rstrip(".") + "!"
        elif n % 3 == 1:
            request = "Please " + t.request
        else:
            request = t.request.replace(" the ", " that ", 1)
        if not is_near_duplicate(request, t.request):
            continue  # too short a request for the change to stay near
        extra.append(t.model_copy(update={"id": f"near-{n}", "request": request, "template": other,
                                          "params": {**t.params, "variant": n}}))
    for n, t in enumerate(rng.sample(tasks, 30)):
        other = rng.choice([x for x in templates if x != t.template])
        extra.append(t.model_copy(update={"id": f"twin-{n}", "request": f"Task number {n}, worded anew.",
                                          "template": other}))
    mixed = [*tasks, *extra]
    rng.shuffle(mixed)
    return mixed


def test_split_leaks_nothing(tasks):
    everything = _leaky(tasks)
    split = split_tasks(everything, heldout_fraction=0.2, seed=0)
    train, heldout, stats = split["train"], split["heldout"], split.stats
    held_templates = set(stats["heldout_templates"])
    assert held_templates and stats["heldout_by_template"] and stats["heldout_by_instance"]
    assert stats["dropped_near_duplicate"] > 0 and stats["dropped_same_params"] > 0
    assert len(train) + len(heldout) + len(stats["dropped_ids"]) == len(everything)

    assert not {t.id for t in train} & {t.id for t in heldout}
    assert not {t.template for t in train} & held_templates
    assert all(t in heldout for t in everything if t.template in held_templates)
    params = {(t.family, t.template, repr(sorted(t.params.items()))) for t in heldout}
    assert not any((t.family, t.template, repr(sorted(t.params.items()))) in params for t in train)
    # a near-duplicate request may stay in train only when it names another value than the held-out one
    # (another table size, another order): then it is another task
    near = [(a, b) for a in train for b in heldout if is_near_duplicate(a.request, b.request)]
    assert all(any(k in b.params and str(b.params[k]) != str(v) and str(v) in a.request
                   for k, v in a.params.items()) for a, b in near), [(a.id, b.id) for a, b in near]
    assert not any(a.id.startswith("near-") or b.id.startswith("near-") for a, b in near)
    assert_no_leak(train, heldout, heldout_templates=held_templates)
    print(f"\nsplit of {len(everything)}: { {k: v for k, v in stats.items() if k != 'dropped_ids'} }")


def test_split_options(tasks):
    a, b = split_tasks(tasks, seed=3), split_tasks(tasks, seed=3)
    assert a == b and a.stats == b.stats
    assert 1 <= len(a.stats["heldout_templates"]) < len({t.template for t in tasks})
    only_instances = split_tasks(tasks, by=("instance",))
    assert only_instances.stats["heldout_templates"] == []
    assert only_instances.stats["heldout_by_instance"] == round(0.2 * len(tasks))
    held_families = {t.family for t in only_instances["heldout"]}
    assert held_families == {t.family for t in tasks}  # stratified: every family is scored
    only_templates = split_tasks(tasks, by=("template",))
    assert only_templates.stats["heldout_by_instance"] == 0
    assert split_tasks(tasks, heldout_fraction=0)["train"] == tasks
    with pytest.raises(ValueError):
        split_tasks(tasks, by=("family",))
    with pytest.raises(ValueError, match="at least two"):
        split_tasks([t for t in tasks if t.template == "letter"])


def test_assert_no_leak_lists_pairs(tasks):
    train, heldout = tasks[:10], [tasks[3], tasks[20].model_copy(update={"id": "x", "request": tasks[4].request + "!"})]
    with pytest.raises(AssertionError) as err:
        assert_no_leak(train, heldout, heldout_templates=[tasks[0].template])
    assert isinstance(err.value, DataLeak)
    reasons = {(a, b, why.split(" ")[0]) for a, b, why in err.value.pairs}
    assert (tasks[3].id, tasks[3].id, "same") in reasons
    assert (tasks[4].id, "x", "near-duplicate") in reasons
    assert tasks[0].id in str(err.value)


def test_a_one_slot_wording_about_another_order_is_another_task():
    """Session 11: "Cancel order {order} and let the customer know by e-mail" has one slot, so every
    instance of a wording was a near-duplicate of any held-out one, and the service forge trained on
    3 cancel_and_notify tasks while 10 were held out. A rewording about the same order is still a leak."""
    def task(i, order, request, template="a"):
        return Task(id=f"t{i}", family="cancel_and_notify", env_id="lamforge/Service-v0", template=template,
                    request=request, params={"order_id": order, "customer_id": 100 + i})
    held = task(0, 4721, "Cancel order 4721 and let the customer know by e-mail.")
    other = task(1, 9107, "Cancel order 9107 and let the customer know by e-mail.")
    same = task(2, 4721, "Please cancel order 4721 and let the customer know by e-mail.")
    assert_no_leak([other], [held])
    with pytest.raises(DataLeak, match="near-duplicate request"):
        assert_no_leak([same], [held])
    many = [task(i, 1000 + i, f"Cancel order {1000 + i} and let the customer know by e-mail.", t)
            for i, t in enumerate(["a", "b"] * 20)]
    split = split_tasks(many, heldout_fraction=0.2, by=("instance",), seed=0)
    assert split.stats["dropped_near_duplicate"] == 0 and len(split["train"]) == 40 - len(split["heldout"])

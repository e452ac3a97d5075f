"""``lamforge bench tool-retrieval``: the metrics on hand-made rankings, the held-out query sets (and
that they never hold a training task), and the command end to end on BM25."""

from __future__ import annotations

import json

import pytest

from lamforge.core.schemas import Trajectory
from lamforge.data.splits import DataLeak
from lamforge.evaluation.retrieval_bench import (
    Query,
    check_no_training,
    env_query,
    heldout_and_train,
    hit_at,
    recall_at,
    reciprocal_rank,
    run_bench,
    score,
    task_queries,
)

RANKING = ["x", "a", "y", "c", "b"]


def test_metrics_with_several_needed_functions():
    needed = ["a", "b", "c"]
    assert recall_at(RANKING, needed, 1) == 0.0
    assert recall_at(RANKING, needed, 2) == pytest.approx(1 / 3)
    assert recall_at(RANKING, needed, 4) == pytest.approx(2 / 3)
    assert recall_at(RANKING, needed, 5) == 1.0
    assert hit_at(RANKING, needed, 1) == 0.0 and hit_at(RANKING, needed, 2) == 1.0
    assert reciprocal_rank(RANKING, needed) == 0.5  # the first needed one ("a") is second
    assert reciprocal_rank(RANKING, ["b"]) == 0.2


def test_metrics_when_nothing_needed_is_found():
    assert recall_at(RANKING, ["z", "w"], 5) == 0.0
    assert hit_at(RANKING, ["z"], 5) == 0.0
    assert reciprocal_rank(RANKING, ["z"]) == 0.0


def test_k_larger_than_the_catalog_counts_the_whole_ranking():
    assert recall_at(RANKING, ["b", "c"], 100) == 1.0
    assert recall_at(RANKING, ["b", "z"], 100) == 0.5
    assert hit_at(RANKING, ["b"], 100) == 1.0


def test_score_is_a_macro_average_and_refuses_bad_input():
    queries = [Query("q1", ("a", "b", "c"), "t1"), Query("q2", ("x",), "t2")]
    got = score([RANKING, RANKING], queries, [1, 2])
    # q1: recall@1 0, recall@2 1/3, rr 1/2; q2: recall@1 1, recall@2 1, rr 1
    assert got["recall@1"] == 0.5
    assert got["recall@2"] == pytest.approx((1 / 3 + 1) / 2, abs=1e-4)
    assert got["hit@1"] == 0.5 and got["hit@2"] == 1.0
    assert got["mrr"] == 0.75
    with pytest.raises(ValueError):
        score([RANKING], queries, [1])
    with pytest.raises(ValueError):
        recall_at(RANKING, [], 1)


def test_task_queries_need_every_function_of_the_reference_solution():
    heldout, _, _ = heldout_and_train(None)
    queries = {q.task_id: q for q in task_queries(heldout)}
    task = next(t for t in heldout if t.family == "return_and_email_label")
    assert queries[task.id].needed == ("get_order", "create_return", "create_return_label", "get_customer",
                                       "send_email")
    assert queries[task.id].text == task.request
    assert len(queries) == len(heldout)


def test_query_sets_never_hold_a_training_task(tmp_path):
    heldout, train, templates = heldout_and_train(None)
    assert heldout and train
    queries = task_queries(heldout)
    train_ids, train_requests = {t.id for t in train}, {t.request for t in train}
    assert not {q.task_id for q in queries} & train_ids
    assert not {q.text for q in queries} & train_requests
    check_no_training(queries, heldout, train, templates)  # no near-duplicates either
    # the check can fail: a training task among the queries, or a query from outside the held-out set
    with pytest.raises(DataLeak):
        check_no_training(task_queries(heldout[:2]), heldout[:2], [*train, heldout[0]], templates)
    with pytest.raises(ValueError, match="outside the held-out set"):
        check_no_training(task_queries(train[:1]), heldout, train, templates)


def test_a_run_whose_stores_trained_on_a_held_out_task_is_refused(tmp_path):
    from lamforge.data.taskfile import write_tasks
    from lamforge.data.store import RecordStore

    heldout, _, _ = heldout_and_train(None)
    write_tasks(heldout[:3], tmp_path / "data" / "heldout_tasks.jsonl")
    # a self-instruct store that (wrongly) holds the second held-out task
    with RecordStore(tmp_path / "tool_calls", Trajectory) as store:
        store.append(Trajectory(id="leak", task=heldout[1], agent="expert"))
    got, train, _ = heldout_and_train(tmp_path)
    assert [t.id for t in got] == [t.id for t in heldout[:3]] and heldout[1].id in {t.id for t in train}
    with pytest.raises(DataLeak):
        run_bench(["bm25"], [1], run=tmp_path, sets=["tasks"])


@pytest.mark.parametrize("follow_results", [False, True])
def test_step_queries_are_the_queries_the_env_retrieves_with(follow_results):
    from lamforge.envs import make
    from lamforge.envs.service.env import retrieve
    from lamforge.envs.service.functions import SERVICE_ACTIONS
    from lamforge.envs.tasks import family_of

    heldout, _, _ = heldout_and_train(None)
    task = next(t for t in heldout if t.family == "return_and_email_label")
    specs = list(SERVICE_ACTIONS)
    env = make("service", follow_results=follow_results)
    try:
        obs, _ = env.reset(options={"task": task})
        queries, screens = [], []
        for action in family_of(task).solution(task):
            queries.append(env_query(env, obs))
            screens.append({c.name for c in obs.controls})
            found = {specs[i].name for i in retrieve(queries[-1], env.unwrapped.top_k) + env.unwrapped.pinned}
            assert found == screens[-1]
            obs, *_ = env.step(action)
        if follow_results:  # later steps' queries carry the real result's fields, and the screen moves
            assert all(q != task.request for q in queries[1:]) and len({frozenset(s) for s in screens}) > 1
        else:  # the request alone: one screen for the whole episode
            assert set(queries) == {task.request} and len({frozenset(s) for s in screens}) == 1
    finally:
        env.close()


def test_command_json_on_bm25(tmp_path):
    from typer.testing import CliRunner

    from lamforge.cli import app

    result = CliRunner().invoke(app, ["bench", "tool-retrieval", "--methods", "bm25", "--limit", "2", "--json",
                                      "--run", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    from lamforge.envs.service.functions import SERVICE_ACTIONS

    assert summary["catalog"] == len(SERVICE_ACTIONS) and summary["queries"] == 2
    m = summary["methods"]["bm25"]
    assert set(m) >= {"recall@1", "recall@5", "recall@10", "mrr"}
    assert 0 <= m["recall@1"] <= m["recall@5"] <= m["recall@10"] <= 1 and 0 < m["mrr"] <= 1
    steps = summary["steps_queries"]
    assert steps["queries"] >= 2 and 0 <= steps["methods"]["bm25"]["recall@10"] <= 1
    bad = CliRunner().invoke(app, ["bench", "tool-retrieval", "--methods", "tfidf", "--limit", "1"])
    assert bad.exit_code != 0 and "tfidf" in bad.output
    bad_k = CliRunner().invoke(app, ["bench", "tool-retrieval", "--k", "0", "--limit", "1"])
    assert bad_k.exit_code != 0

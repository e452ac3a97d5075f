"""The search expert solves shallow Office tasks from the request and the success check alone (never
the reference solution), fails cleanly when its budget is too small, and leaves the env and the
document on disk as it found them."""

from __future__ import annotations

import random

import pytest

from lamforge.agents.runner import run_episode
from lamforge.agents.search_expert import SearchExpert
from lamforge.core.search import Request
from lamforge.core.schemas import Status
from lamforge.envs import make
from lamforge.envs.office import document as D
from lamforge.envs.tasks import families

FAMILIES = families("office")


@pytest.fixture(scope="module")
def env():
    e = make("office")
    yield e
    e.close()


def _task(name: str, seed: int = 0):
    return FAMILIES[name].sample(random.Random(seed))


def test_request_gives_phrases_and_values():
    r = Request("Add a comment 'Please check this.' on 'paid leave...', link Alice's https://example.com/help. "
                "Save as draft_2.docx with a 2-by-3 table at 1.15.")
    assert r.phrases == ["Please check this", "paid leave"]
    assert r.values == ["Please check this.", "paid leave...", "https://example.com/help", "draft_2.docx",
                        "2", "3", "1.15"]
    assert r.match("Comment") == 1.0 and r.match("Link") == 1.0 and r.match("Bold") == 0.0
    assert 0 < r.match("Hyperlink") < 1  # a word inside another counts, less
    assert r.mentions("We offer paid leave to all.") == 1.0


@pytest.mark.parametrize("name", ["landscape_orientation", "track_changes", "bold_text"])
def test_solves_shallow_tasks_end_to_end(env, name):
    task = _task(name)
    agent = SearchExpert(env)
    traj = run_episode(env, agent, task)
    stats = agent.last_search
    assert stats.found and 0 < stats.expanded <= agent.budget and stats.steps == len(traj.steps)
    assert traj.success, [(s.action.call_text(), s.error) for s in traj.steps]
    assert traj.initial_plan and len(traj.initial_plan) == len(traj.steps)
    assert all(s.error is None for s in traj.steps)
    assert [s.action.status for s in traj.steps][-1] == Status.FINISH


def test_never_reads_the_reference_solution(env, monkeypatch):
    task = _task("set_margins", seed=1)
    family = type(FAMILIES[task.family])

    def forbidden(*args, **kwargs):
        raise AssertionError("the search expert read the reference solution")

    monkeypatch.setattr(family, "solution", forbidden)
    monkeypatch.setattr(family, "plan", forbidden)
    traj = run_episode(env, SearchExpert(env), task)
    assert traj.success


def test_tiny_budget_fails_cleanly(env):
    task = _task("bold_text", seed=1)
    obs, _ = env.reset(options={"task": task})
    agent = SearchExpert(env, budget=3)
    assert agent.start(task, obs) == []
    assert not agent.last_search.found and agent.last_search.expanded == 3
    assert agent.act(obs, []).action.status == Status.FAIL
    controls, state = env.unwrapped.app.observe()
    assert (controls, state) == (obs.controls, obs.state)

    traj = run_episode(env, SearchExpert(env, budget=3), task)
    assert not traj.success and len(traj.steps) == 1 and traj.outcome.reason == "agent gave up"


def test_search_leaves_env_and_document_as_found(env):
    task = _task("delete_paragraph")  # the search deletes and formats paragraphs on the way
    obs, _ = env.reset(options={"task": task})
    base = env.unwrapped
    judged = base.judge()
    files = sorted(judged.workspace.rglob("*"))
    agent = SearchExpert(env)
    agent.start(task, obs)
    assert agent.last_search.found and agent.last_search.expanded > 1
    controls, state = base.app.observe()
    assert (controls, state) == (obs.controls, obs.state)
    assert base.judge() == judged and not task.check(judged)
    assert D.body_text(D.load(judged.path)) == D.body_text(D.load(judged.template_path))
    assert sorted(judged.workspace.rglob("*")) == files
    assert base.steps_taken == 0

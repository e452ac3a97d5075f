"""The control filter: the model sees every fixed control and the k document items most relevant to
the request, best first; prompt, grammar and training rows all read the screen through it."""

from __future__ import annotations

import pytest

from lamforge.agents.expert import ReferenceExpert
from lamforge.agents.prompting import episode_messages
from lamforge.agents.runner import run_episode
from lamforge.core.calls import action_grammar
from lamforge.core.schemas import Control, Observation
from lamforge.core.screen import ScreenFilter, filter_screen
from lamforge.envs import make
from lamforge.envs.office.actions import OFFICE_ACTIONS
from lamforge.envs.tasks import sample_tasks
from lamforge.evaluation.filter_recall import filter_recall
from lamforge.training.phases import hides_target


def _screen(texts: list[str]) -> Observation:
    fixed = [Control(label=1, name="Home", type="TabItem"), Control(label=2, name="Bold", type="Button")]
    paras = [Control(label=10 + i, name=f"Paragraph {i + 1}", type="Paragraph", value=t) for i, t in enumerate(texts)]
    return Observation(request="", controls=fixed + paras, state="tab Home")


TEXTS = ["Team meeting schedule for the spring quarter.", "The table lists each meeting and its host.",
         "Please tell the office manager if you cannot attend.", "Lunch is served in the canteen at noon.",
         "Parking permits are issued by reception."]


def test_the_quoted_paragraph_comes_first_and_fixed_controls_stay():
    view = filter_screen(_screen(TEXTS), "Turn 'Please tell the office manager...' into a bullet.", ScreenFilter(k=2))
    names = [c.name for c in view.controls]
    assert names[:2] == ["Home", "Bold"]
    assert names[2] == "Paragraph 3" and len(names) == 4
    assert "3 document items not shown" in view.state


def test_small_documents_lose_nothing_and_no_filter_leaves_the_screen_alone():
    obs = _screen(TEXTS[:2])
    view = filter_screen(obs, "Bold 'each meeting and its host'", ScreenFilter(k=3))
    assert [c.name for c in view.controls] == ["Home", "Bold", "Paragraph 2", "Paragraph 1"]  # best first
    assert view.state == obs.state
    assert filter_screen(_screen(TEXTS), "anything", None).controls == _screen(TEXTS).controls


@pytest.mark.parametrize("request_text", ["", "the of and", "'''", "\u202e\u0000 <script>"])
def test_requests_with_nothing_to_rank_keep_document_order(request_text):
    view = filter_screen(_screen(TEXTS), request_text, ScreenFilter(k=2))
    assert [c.name for c in view.controls][2:] == ["Paragraph 1", "Paragraph 2"]


def test_environment_variable_switches_the_filter_off(monkeypatch):
    monkeypatch.setenv("LAMFORGE_SCREEN_TOP_K", "0")
    assert OFFICE_ACTIONS.screen_filter is None
    monkeypatch.setenv("LAMFORGE_SCREEN_TOP_K", "5")
    assert OFFICE_ACTIONS.screen_filter.k == 5


def test_prompt_and_grammar_offer_only_what_is_shown():
    env = make("office")
    task = next(t for t in sample_tasks("office", 60, seed=4) if t.template == "handbook")
    obs, _ = env.reset(options={"task": task})
    view = OFFICE_ACTIONS.view(obs, task.request)
    hidden = [c for c in obs.controls if view.control(c.label) is None]
    assert hidden, "the handbook has more paragraphs than the filter shows"
    prompt = episode_messages(task.env_id, OFFICE_ACTIONS, task.request, [], obs, [])[-1]["content"]
    grammar = action_grammar(view, OFFICE_ACTIONS)
    for c in hidden:
        assert c.render() not in prompt and f'"{c.name}"' not in grammar
    env.close()


def test_reference_routes_survive_the_filter_and_hidden_targets_are_dropped_from_training(monkeypatch):
    env = make("office")
    trajs = [run_episode(env, ReferenceExpert(), t) for t in sample_tasks("office", 60, seed=5)]
    env.close()
    assert all(t.success for t in trajs)
    kept = filter_recall(trajs, ScreenFilter(k=3))
    assert kept["recall"] == 1.0 and kept["trajectories_lost"] == 0
    # a step on a paragraph the request does not point at, with one item shown: hidden, so dropped
    monkeypatch.setenv("LAMFORGE_SCREEN_TOP_K", "1")
    para = next(t for t in trajs if t.task.family != "move_paragraph" and any(s.action.control_label is not None and s.observation.control(
        s.action.control_label).type == "Paragraph" for s in t.steps))
    step = next(s for s in para.steps if s.action.control_label is not None)
    target = step.observation.control(step.action.control_label)
    other = next(c for c in step.observation.controls if c.type == "Paragraph" and c.label != target.label
                 and len((c.value or "").split()) > 3)
    misled = para.model_copy(update={"task": para.task.model_copy(update={"request": f"Bold '{other.value}'"})})
    assert hides_target(misled, OFFICE_ACTIONS) and not hides_target(para, OFFICE_ACTIONS)

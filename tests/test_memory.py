"""Experience memory: a model recalls the most similar request it was trained on and sees how it was
done; training rows show the same line the agent will, never a task's own route."""

from __future__ import annotations

import shutil

import pytest

from lamforge.agents.expert import ReferenceExpert
from lamforge.agents.factory import make_agent
from lamforge.agents.memory import FILE, Memory, MemoryFileError
from lamforge.agents.prompting import episode_messages
from lamforge.agents.runner import run_episode
from lamforge.envs import action_set_of, make
from lamforge.envs.tasks import sample_tasks
from lamforge.training.rows import IGNORE, trajectory_row

ACTIONS = action_set_of("office")


@pytest.fixture(scope="module")
def done():
    """Verified reference trajectories of two families, several tasks each."""
    env = make("office")
    trajs = [run_episode(env, ReferenceExpert(), t) for family in ("italic_text", "add_comment", "page_break")
             for t in sample_tasks("office", 3, seed=7, family=family)]
    env.close()
    assert all(t.outcome.success for t in trajs)
    return trajs


def test_recall_finds_the_same_kind_of_request_whatever_its_quoted_words(done):
    memory = Memory.of(done, ACTIONS)
    recalled = memory.recall("Make 'an entirely new phrase' italic.")
    assert recalled is not None and recalled["task_id"].startswith("italic_text")
    assert any("ctrl+i" in a for a in recalled["actions"])
    # a training row is never shown its own route
    own = done[0]
    other = memory.recall(own.task.request, exclude_task=own.task.id)
    assert other is not None and other["task_id"] != own.task.id
    assert memory.recall("zzz qqq") is None  # nothing shared: nothing recalled


def test_rows_show_the_recollection_in_the_prompt_and_train_only_the_actions(done, tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    memory = Memory.of(done, ACTIONS)
    annotated = memory.annotate(done)
    recalled_ids = [t.meta["recalled"]["task_id"] for t in annotated if t.meta["recalled"]]
    assert len(recalled_ids) >= len(done) - 1 and all(r not in {t.task.id for t in done[:0]} for r in recalled_ids)
    assert all(t.meta["recalled"] is None or t.meta["recalled"]["task_id"] != t.task.id for t in annotated)
    plain, recalled = trajectory_row(tokenizer, done[0], ACTIONS), trajectory_row(tokenizer, annotated[0], ACTIONS)
    text = tokenizer.decode(recalled["input_ids"])
    assert "Done before: " in text and "Done before" not in tokenizer.decode(plain["input_ids"])
    # the same targets either way: the recollection is context, not something to say
    targets = lambda row: [t for t, label in zip(row["input_ids"], row["labels"]) if label != IGNORE]
    assert targets(plain) == targets(recalled)
    # dropout recalls nothing for a share of rows; a trajectory that recorded its recollection keeps it
    none = memory.annotate(done, dropout=1.0)
    assert all(t.meta["recalled"] is None for t in none)
    assert memory.annotate(none) == none


def test_the_recalled_route_reads_as_the_turns_a_row_trains(done, tiny_model_dir):
    """Rows end on the last action, its screen, then a bare FINISH (check_finish): the route shown
    must have the same turns, or the model repeats the last action where the route ends."""
    from transformers import AutoTokenizer

    from lamforge.agents.memory import render, turns

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    memory = Memory.of(done, ACTIONS)
    traj = memory.annotate(done)[0]
    recalled = traj.meta["recalled"]
    assert recalled["actions"][-1].endswith(" FINISH")  # memory keeps the lines as the expert wrote them
    shown = render(recalled, "{actions}").split("; ")
    assert shown[-1] == "FINISH" and not shown[-2].endswith("FINISH")
    assert len(shown) == len(recalled["actions"]) + 1
    # as many turns as a row of the remembered trajectory trains
    source = next(t for t in done if t.task.id == recalled["task_id"])
    assert len(trajectory_row(tokenizer, source, ACTIONS, check_finish=True)["action_spans"]) == len(shown)
    # quoted text that ends in a status word is an argument, not a status
    assert turns(['type_text(text="then FINISH")', "FINISH"]) == ['type_text(text="then FINISH")', "FINISH"]


def test_the_agent_recalls_from_the_memory_its_model_folder_keeps(done, tiny_model_dir, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    Memory.of(done, ACTIONS).save(folder)
    agent = make_agent(str(folder), "office")
    env = make("office", max_steps=2)
    task = sample_tasks("office", 1, seed=99, family="italic_text")[0]
    traj = run_episode(env, agent, task)
    env.close()
    assert traj.meta["recalled"]["task_id"].startswith("italic_text")
    messages = episode_messages(task.env_id, ACTIONS, task.request, traj.steps[:1], None, [],
                                recalled=traj.meta["recalled"])
    assert "Done before: " + traj.meta["recalled"]["request"] in messages[1]["content"]
    # without a memory file the agent recalls nothing and the runner records nothing
    bare = make_agent(str(tiny_model_dir), "office")
    assert bare.memory is None


def test_a_broken_memory_file_is_a_clear_error(done, tmp_path):
    assert Memory.load(tmp_path) is None
    Memory.of(done, ACTIONS).save(tmp_path)
    assert len(Memory.load(tmp_path).items) == len(done)
    with (tmp_path / FILE).open("a") as f:
        f.write('{"request": "cut off\n')
    with pytest.raises(MemoryFileError, match=f"line {len(done) + 1}"):
        Memory.load(tmp_path)
    with pytest.raises(MemoryFileError):
        Memory([])

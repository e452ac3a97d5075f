"""The run folder (issue #15): one object owns its layout, refuses to invent held-out tasks, and saves
models atomically."""

from __future__ import annotations

from pathlib import Path

import pytest

from lamforge.run import NoRun, Run, save_model


def test_the_layout_is_written_down_once(tmp_path):
    run = Run(tmp_path)
    assert run.split_file("heldout") == tmp_path / "data" / "heldout_tasks.jsonl"
    assert run.model("lam2") == tmp_path / "lam2" / "model" and run.plans == tmp_path / "plans.jsonl"
    assert Path(run) == tmp_path and str(run) == str(tmp_path) and run / "x" == tmp_path / "x"


def test_a_run_without_its_own_tasks_is_refused(tmp_path):
    with pytest.raises(NoRun, match="does not exist"):
        Run(tmp_path / "nope").heldout()
    with pytest.raises(NoRun, match="no held-out tasks of its own"):
        Run(tmp_path).heldout()
    with pytest.raises(NoRun, match="no validation tasks"):
        Run(tmp_path).tasks("validation")
    with pytest.raises(Exception, match="unknown split"):
        Run(tmp_path).tasks("train")


class _Saveable:
    """save_pretrained writes a file; ``fail`` makes it die half-way, as a killed process would."""

    def __init__(self, text: str, fail: bool = False):
        self.text, self.fail = text, fail

    def save_pretrained(self, folder: str) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "config.json").write_text(self.text)
        if self.fail:
            raise RuntimeError("killed while saving")


def test_a_model_save_that_dies_half_way_leaves_the_old_model(tmp_path):
    target = tmp_path / "lam2" / "model"
    save_model(target, _Saveable("old"))
    with pytest.raises(RuntimeError):
        save_model(target, _Saveable("new", fail=True))
    assert (target / "config.json").read_text() == "old"
    save_model(target, _Saveable("new"))
    assert (target / "config.json").read_text() == "new"
    copy = save_model(tmp_path / "lam4" / "model", copy_from=target)
    assert (copy / "config.json").read_text() == "new"


def test_exploration_never_draws_a_validation_task(tmp_path):
    """Phase 3 tops up with fresh training tasks from a pool of another size than the forge's, whose
    training part can hold the forge's validation tasks (where settings are chosen)."""
    from lamforge.data.taskfile import split_pool, write_tasks
    from lamforge.training.explore import exploration_tasks

    train, heldout, _ = split_pool("office", 40, 0)
    write_tasks(heldout, tmp_path / "data" / "heldout_tasks.jsonl")
    fresh, _ = exploration_tasks(tmp_path, "office", 30)  # nothing collected: every task is fresh
    write_tasks(fresh[:10], tmp_path / "data" / "validation_tasks.jsonl")
    again, _ = exploration_tasks(tmp_path, "office", 30)
    assert not {t.id for t in again} & {t.id for t in fresh[:10]}


def test_the_forge_draws_phase_3_s_fresh_tasks_with_the_others(tmp_path):
    """Exploration's fresh tasks are a slice of the forge's one draw: never collected, never validation
    or held-out tasks, and phase 3 explores exactly them."""
    from lamforge.data.taskfile import read_tasks
    from lamforge.forge.pipeline import collect
    from lamforge.training.explore import exploration_tasks
    from lamforge.training.phases import read_store

    run = Run(tmp_path)
    recipe = {"data": {"collect": 3, "validation": 2, "explore_tasks": 2, "explore_fresh": 1, "collect_workers": 1}}
    collect("office", recipe, run, None)
    explore = read_tasks(run.explore_tasks_file)
    assert len(explore) == 3
    others = {t.task.id for t in read_store(run.data)} | {t.id for t in run.tasks("validation")} | \
        {t.id for t in run.heldout()}
    assert not {t.id for t in explore} & others
    chosen, from_expert = exploration_tasks(run, "office", 2, fresh=1)
    assert [t.id for t in chosen] == [t.id for t in explore] and from_expert == 0

"""--budget sizing: the plan fits the budget, keeps the recipe's floor of held-out tasks, and charges
the offline pass only for the tasks it runs on."""

from __future__ import annotations

import pytest

from lamforge.evaluation.compare import evenly_spaced
from lamforge.forge.budget import BudgetError, Speed, estimate, eval_s_per_model, fit, measure, parse_budget
from lamforge.training.recipe import load_recipe

SPEED = Speed(train_tokens_per_s=380, row_tokens=770, step_s=0.6, start_s=6.0, collect_s=0.002, measured_s=70)


def test_plan_fits_the_budget_and_keeps_the_recipes_held_out_floor():
    recipe = load_recipe("quick", [])
    sized, stages = fit(recipe, SPEED, 40 * 60 - 70, 7)
    assert sum(stages.values()) <= 40 * 60 - 70
    assert sized["eval"]["tasks"] >= recipe["eval"]["min_tasks"] == 60
    slower = Speed(train_tokens_per_s=250, row_tokens=770, step_s=0.85, start_s=8.0, collect_s=0.003, measured_s=100)
    sized_slower, _ = fit(recipe, slower, 40 * 60 - 100, 7)
    # a slower machine gets less data, never fewer held-out tasks than the floor
    assert sized_slower["data"]["trajectories"] < sized["data"]["trajectories"]
    assert sized_slower["eval"]["tasks"] == 60
    # 4x slower: the floor does not fit; the forge's fallback (a smaller floor) still makes a plan
    slowest = Speed(train_tokens_per_s=100, row_tokens=770, step_s=1.8, start_s=18.0, collect_s=0.008, measured_s=250)
    with pytest.raises(BudgetError):
        fit(recipe, slowest, 40 * 60 - 250, 7)
    sized_slowest, stages = fit(recipe, slowest, 40 * 60 - 250, 7, min_eval_tasks=10)
    assert 10 <= sized_slowest["eval"]["tasks"] < 60 and sum(stages.values()) <= 40 * 60 - 250


def test_offline_pass_on_a_share_of_tasks_costs_less():
    recipe = load_recipe("quick", [])
    everything = {**recipe, "eval": {**recipe["eval"], "offline_tasks": None}}
    assert eval_s_per_model(recipe, SPEED, "lam4") < eval_s_per_model(everything, SPEED, "lam4")
    assert estimate(recipe, SPEED, 7)["evaluate"] < estimate(everything, SPEED, 7)["evaluate"]


def test_evaluation_is_charged_by_what_each_model_decodes():
    # the base model FINISHes at once, a trained model takes several steps, the expert decodes nothing
    recipe = load_recipe("quick", [])
    cost = {m: eval_s_per_model(recipe, SPEED, m) for m in ("expert", "base", "lam4")}
    assert cost["expert"] < 0.1 * cost["base"] < cost["lam4"]
    # the offline pass and the workers' start-up are paid once per model, the online episodes per task
    more = {**recipe, "eval": {**recipe["eval"], "tasks": 120}}
    assert eval_s_per_model(more, SPEED, "lam4") < 2 * cost["lam4"]
    assert estimate(recipe, SPEED, ["base", "lam4", "expert"])["evaluate"] == pytest.approx(sum(cost.values()))


def test_too_small_a_budget_is_a_clear_error():
    with pytest.raises(BudgetError, match="at least"):
        fit(load_recipe("quick", []), SPEED, 60, 7)
    assert parse_budget("40m") == 2400 and parse_budget("1.5h") == 5400
    with pytest.raises(Exception, match="budget"):
        parse_budget("forty minutes")


def test_evenly_spaced_subset_spreads_over_the_list():
    items = list(range(60))
    assert evenly_spaced(items, 20) == list(range(0, 60, 3))
    assert evenly_spaced(items, None) == items and evenly_spaced(items, 99) == items


def test_measuring_times_training_and_decoding_as_the_forge_runs_them(tiny_model_dir, tmp_path):
    # a real measurement on a tiny model: phase-2 steps, then episodes in the evaluation's worker processes
    recipe = load_recipe("quick", [])
    recipe["base_model"] = str(tiny_model_dir)
    speed = measure(recipe, "office", tmp_path, steps=1, episodes=4)
    assert speed.train_tokens_per_s > 0 and speed.row_tokens > 100 and speed.collect_s > 0
    assert 0 < speed.step_s < speed.measured_s and 0 <= speed.start_s < speed.measured_s
    assert not [p for p in tmp_path.iterdir() if p.name != "models"]  # its scratch folder is gone

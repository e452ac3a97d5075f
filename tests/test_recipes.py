"""Recipes (issue #15): one typed data/eval config with one default each, `extends:` for a longer recipe,
bad keys refused at load time, every shipped recipe buildable, and `lamforge recipe show`."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from typer.testing import CliRunner

from lamforge.cli import app
from lamforge.training.recipe import DataConfig, EvalConfig, RecipeError, build_all, load_recipe

SHIPPED = sorted(p.name.removesuffix(".yaml") for p in resources.files("lamforge.training.recipes").iterdir()
                 if p.name.endswith(".yaml"))


@pytest.mark.parametrize("name", SHIPPED)
def test_every_section_of_every_shipped_recipe_builds(name, tmp_path):
    built = build_all(load_recipe(name), str(tmp_path))
    assert isinstance(built["data"], DataConfig) and isinstance(built["eval"], EvalConfig)
    assert "phase1" in built and "phase2" in built


def test_cpu_extends_quick_and_states_only_what_differs():
    quick, cpu = load_recipe("quick"), load_recipe("cpu")
    assert cpu["budget"] == "2.5h" and "budget" not in quick
    assert cpu["data"]["trajectories"] > quick["data"]["trajectories"]
    assert cpu["phase2"] == quick["phase2"]  # a section it does not mention is the base's, key for key
    assert cpu["data"]["plan_dropout"] == quick["data"]["plan_dropout"]  # ... and so is a key it does not mention


def test_a_recipe_file_extends_a_sibling_and_overrides_key_by_key(tmp_path):
    (tmp_path / "base.yaml").write_text("data:\n  collect: 10\n  trajectories: 10\nphase2:\n  learning_rate: 1.0e-4\n")
    (tmp_path / "mine.yaml").write_text("extends: base.yaml\ndata:\n  trajectories: 5\n")
    rec = load_recipe(str(tmp_path / "mine.yaml"))
    assert rec["data"] == {"collect": 10, "trajectories": 5} and rec["phase2"]["learning_rate"] == 1e-4


def test_recipes_that_extend_each_other_in_a_circle_are_refused(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(RecipeError, match="circle"):
        load_recipe(str(tmp_path / "a.yaml"))


@pytest.mark.parametrize("bad, message", [
    (["data.trajectoris=5"], "no field"),          # a typo would otherwise silently use the default
    (["data.collect=many"], "must be int"),
    (["eval.tasks=1.5"], "must be int"),
    (["data.family_weights=uniform"], "must be one of even, steps"),
    (["phase9.learning_rate=1"], "unknown recipe section"),
])
def test_bad_keys_and_values_are_refused_when_the_recipe_loads(bad, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe("quick", bad)


def test_broken_yaml_is_a_recipe_error(tmp_path):
    (tmp_path / "broken.yaml").write_text("data: [unclosed\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(str(tmp_path / "broken.yaml"))
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(RecipeError, match="mapping"):
        load_recipe(str(tmp_path / "list.yaml"))


def test_one_default_per_setting():
    """The data/eval defaults live in the dataclasses, and the quick recipe says the same."""
    quick = load_recipe("quick")
    assert DataConfig.of({}).trajectories == DataConfig.of(quick).trajectories
    assert EvalConfig.of({}).tasks == EvalConfig.of(quick).tasks


def test_recipe_show_prints_the_resolved_recipe():
    result = CliRunner().invoke(app, ["recipe", "show", "cpu", "--set", "data.trajectories=123", "--json"])
    assert result.exit_code == 0, result.output
    assert "trajectories: 123" in result.output and "# phase 3: sampled attempts per task" in result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert figures["data"]["trajectories"] == 123 and figures["data"]["seed"] == 0 and figures["budget"] == "2.5h"
    assert figures["phase2"]["learning_rate"] == 5e-4
    bad = CliRunner().invoke(app, ["recipe", "show", "quick", "--set", "data.nope=1"])
    assert bad.exit_code != 0 and isinstance(bad.exception, RecipeError)

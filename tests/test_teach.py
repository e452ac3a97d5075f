"""Teach mode (issue #17, first part): a demonstration recorded through the terminal recorder becomes an
editable skill file, which replays with new values on other documents and is judged by the task's check."""

from __future__ import annotations

import random

import pytest
from typer.testing import CliRunner

from lamforge.agents.expert import ReferenceExpert
from lamforge.agents.runner import run_episode
from lamforge.cli import app
from lamforge.envs import make
from lamforge.envs.tasks import families
from lamforge.teach.replay import SkillAgent
from lamforge.teach.skill import SkillError, load_skill, skill_path


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMFORGE_HOME", str(tmp_path / "home"))


def _typed_lines(task) -> list[str]:
    """What a person types in the terminal to do ``task`` (the reference solution, as the human agent
    reads it): labels as that screen shows them."""
    env = make("office", max_steps=8)
    try:
        traj = run_episode(env, ReferenceExpert(), task)
    finally:
        env.close()
    lines = []
    for s in traj.steps:
        a = s.action
        words = [a.function] + ([str(a.control_label)] if a.control_label is not None else [])
        words += [f"{k}={v!r}" if isinstance(v, str) and " " in v else f"{k}={v}" for k, v in a.args.items()]
        lines.append(" ".join(words))
    return lines + ["finish"]


def _record(name: str, family: str, seed: int):
    task = families("office")[family].sample(random.Random(seed))
    result = CliRunner().invoke(app, ["teach", "record", "--env", "office", "--template", task.template, "--name",
                                      name, task.request, "--json"], input="\n".join(_typed_lines(task)) + "\n")
    assert result.exit_code == 0, result.output
    return task, load_skill(name)


def test_a_terminal_demonstration_becomes_a_skill_with_parameters():
    task, skill = _record("bold-phrase", "bold_text", 3)
    assert skill.params == {"phrase": task.params["phrase"]}
    assert "{phrase}" in skill.request and task.params["phrase"] not in skill.request
    first, bold = skill.steps
    assert first.action in ("select_text", "drag_select") and first.args == {"text": "{phrase}"}
    assert first.target is None or first.target.type == "Paragraph"  # an API action has no control
    assert bold.action == "click" and bold.target.name == "Bold" and bold.status == "FINISH"
    assert "bold-phrase" in CliRunner().invoke(app, ["skills", "list"]).output


@pytest.mark.parametrize("family", ["bold_text", "highlight_text", "add_comment"])
def test_a_skill_replays_with_new_values_on_other_documents(family):
    first, skill = _record(f"taught-{family}", family, 1)
    fam, ok, templates = families("office")[family], 0, set()
    for seed in range(20, 30):
        task = fam.sample(random.Random(seed))
        templates.add(task.template)
        values = {p: task.params[k] for p, k in zip(skill.params, _param_keys(skill, first))}
        env = make("office", max_steps=8)
        try:
            ok += run_episode(env, SkillAgent(skill, values), task).success  # the family's own check
        finally:
            env.close()
    assert len(templates) > 1 and ok >= 9, (family, ok)  # the goal is >= 90% on new values and documents


def _param_keys(skill, task) -> list[str]:
    """Which of the task's parameters each skill parameter stands for (by the value recorded)."""
    return [next(k for k, v in task.params.items() if str(v).lower() == value.lower()) for value in skill.params.values()]


def test_a_broken_skill_file_names_the_line(tmp_path):
    _record("bold-phrase", "bold_text", 3)
    path = skill_path("bold-phrase")
    text = path.read_text().replace("action: click", "acton: click")
    path.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "acton" in row)
    with pytest.raises(SkillError, match=rf"line {line - 1}|line {line}"):
        load_skill("bold-phrase")
    path.write_text("name: x\nsteps: [unclosed\n")
    with pytest.raises(SkillError, match="not valid YAML at line"):
        load_skill("bold-phrase")
    listed = CliRunner().invoke(app, ["skills", "list"]).output
    assert "broken" in listed


def test_run_skill_with_a_param_and_remove_it():
    _record("bold-phrase", "bold_text", 3)
    result = CliRunner().invoke(app, ["run", "--skill", "bold-phrase", "--param", "phrase=quarterly results", "--json"])
    assert result.exit_code == 0, result.output
    assert '"fallback_steps": 0' in result.output or '"fallback_steps": ' in result.output
    bad = CliRunner().invoke(app, ["run", "--skill", "bold-phrase", "--param", "colour=red"])
    assert bad.exit_code != 0 and "--param takes name=value" in str(bad.exception)
    assert CliRunner().invoke(app, ["skills", "rm", "bold-phrase"]).exit_code == 0
    assert not skill_path("bold-phrase").exists()

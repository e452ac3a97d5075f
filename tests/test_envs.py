"""Environment API: Gymnasium conformance, bad actions as last_action_error, real .docx files."""

from __future__ import annotations

import random
import zipfile

import docx
import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env

from lamforge.core.schemas import Action, Status, Task
from lamforge.envs import all_specs, make
from lamforge.envs.tasks import families


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: s.short_name)
def test_every_registered_env_passes_gymnasium_checker(spec):
    env = gymnasium.make(spec.id)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.fixture
def office():
    env = make("office").unwrapped
    yield env
    env.close()


def start(env, family="bold_text", seed=0):
    obs, _ = env.reset(options={"task": families("office")[family].sample(random.Random(seed))})
    return obs


def label(obs, name):
    return obs.find(name).label


def test_reset_is_deterministic_under_seed(office):
    a, _ = office.reset(seed=7)
    b, _ = office.reset(seed=7)
    assert a == b and a.request


def test_unknown_label_is_an_observation_error(office):
    start(office)
    obs, reward, terminated, truncated, info = office.step(Action(function="click", control_label=999))
    assert "no control has label 999" in obs.last_action_error
    assert not terminated and not truncated and reward == 0


def test_unknown_function_is_an_observation_error(office):
    start(office)
    obs, *_ = office.step(Action(function="fly_to_moon"))
    assert "unknown function 'fly_to_moon'" in obs.last_action_error


@pytest.mark.parametrize("action, message", [
    (Action(function="select_paragraph", args={"index": "two"}), "must be integer"),
    (Action(function="select_paragraph", args={}), "missing argument 'index'"),
    (Action(function="select_paragraph", args={"index": 1, "colour": "red"}), "has no argument"),
    (Action(function="insert_table", args={"rows": True, "columns": 2}), "got a boolean"),
    (Action(function="click"), "needs a control label"),
    (Action(function="select_text", args={"text": "no such words anywhere"}), "not in the document"),
])
def test_bad_arguments_come_back_as_errors(office, action, message):
    start(office)
    obs, _, terminated, _, _ = office.step(action)
    assert message in obs.last_action_error and not terminated


def test_acting_on_a_closed_dialog_is_reported(office):
    obs = start(office, "insert_table")
    obs, *_ = office.step(Action(function="click", control_label=label(obs, "Insert")))
    obs, *_ = office.step(Action(function="click", control_label=label(obs, "Table")))
    ok_label = label(obs, "OK")
    obs, *_ = office.step(Action(function="click", control_label=label(obs, "Cancel")))
    assert obs.last_action_error is None and "dialog: none" in obs.state
    obs, *_ = office.step(Action(function="click", control_label=ok_label))
    assert "dialog 'Insert Table', which is not open" in obs.last_action_error


def test_controls_behind_an_open_dialog_are_refused(office):
    obs = start(office)
    bold = label(obs, "Bold")
    obs, *_ = office.step(Action(function="click", control_label=label(obs, "Replace")))
    obs, *_ = office.step(Action(function="click", control_label=bold))
    assert "behind the open dialog" in obs.last_action_error


def test_formatting_with_nothing_selected_is_an_error_not_a_crash(office):
    obs = start(office)
    obs, *_ = office.step(Action(function="click", control_label=label(obs, "Bold")))
    assert "select text or a paragraph first" in obs.last_action_error


def test_bad_dialog_values_keep_the_dialog_open(office):
    obs = start(office, "insert_table")
    obs, *_ = office.step(Action(function="select_paragraph", args={"index": 2}))
    obs, *_ = office.step(Action(function="click", control_label=label(obs, "Insert")))
    obs, *_ = office.step(Action(function="click", control_label=label(obs, "Table")))
    obs, *_ = office.step(Action(function="set_text", control_label=label(obs, "Rows"), args={"text": "many"}))
    obs, *_ = office.step(Action(function="click", control_label=label(obs, "OK")))
    assert "'Rows' must be a whole number" in obs.last_action_error and "Insert Table" in obs.state


def test_unknown_option_lists_the_valid_ones(office):
    obs = start(office)
    obs, *_ = office.step(Action(function="select_option", control_label=label(obs, "Highlight"),
                                 args={"option": "Purple"}))
    assert "options: Yellow" in obs.last_action_error


def test_step_limit_truncates(office):
    office.max_steps = 3
    start(office)
    for _ in range(2):
        *_, terminated, truncated, _ = office.step(Action(function="type_keys", args={"keys": "escape"}))
        assert not truncated
    *_, terminated, truncated, info = office.step(Action(function="type_keys", args={"keys": "escape"}))
    assert truncated and not terminated and info["success"] is False


def test_step_after_episode_end_needs_reset(office):
    start(office)
    office.step(Action(status=Status.FAIL))
    with pytest.raises(gymnasium.error.ResetNeeded):
        office.step(Action(status=Status.FAIL))


def test_every_action_changes_the_real_file_on_disk(office):
    task = Task(id="t1", family="bold_text", request="Make 'Thank you for your order' bold.",
                env_id="lamforge/Office-v0", template="letter", params={"phrase": "Thank you for your order"})
    obs, _ = office.reset(options={"task": task})
    path = office.judge().path
    office.step(Action(function="select_text", args={"text": "Thank you for your order"}))
    office.step(Action(function="click", control_label=label(obs, "Bold")))
    reread = docx.Document(str(path))  # a fresh read of the saved file
    bold = [r.text for p in reread.paragraphs for r in p.runs if r.bold]
    assert bold == ["Thank you for your order"]
    assert zipfile.is_zipfile(path)


def test_labels_are_stable_across_steps(office):
    obs = start(office)
    bold = label(obs, "Bold")
    obs, *_ = office.step(Action(function="click", control_label=label(obs, "Insert")))
    obs, *_ = office.step(Action(function="click", control_label=label(obs, "Home")))
    assert label(obs, "Bold") == bold


def test_toggle_buttons_show_their_state_for_the_selection(office):
    obs = start(office)
    obs, *_ = office.step(Action(function="select_text", args={"text": obs.request.split("'")[1]}))
    assert obs.find("Bold").value is None
    obs, *_ = office.step(Action(function="click", control_label=label(obs, "Bold")))
    assert obs.find("Bold").value == "on"


def test_typing_into_a_prefilled_field_replaces_it_then_appends(office):
    obs = start(office, "save_as")
    obs, *_ = office.step(Action(function="click", control_label=label(obs, "File")))
    obs, *_ = office.step(Action(function="click", control_label=label(obs, "Save As")))
    assert obs.find("File name").value.endswith(".docx")
    obs, *_ = office.step(Action(function="type_keys", args={"keys": "final"}))
    obs, *_ = office.step(Action(function="type_keys", args={"keys": ".docx"}))
    assert obs.find("File name").value == "final.docx"
    obs, *_ = office.step(Action(function="type_keys", args={"keys": "enter"}))
    assert (office.judge().workspace / "final.docx").is_file()


@pytest.mark.parametrize("name", ["x" * 300, "bad\nname", "../escape", ".hidden"])
def test_save_as_a_name_the_file_system_cannot_take_is_an_action_error_and_the_document_stays(office, name):
    # found in a forge: a sampling model typed a 400-character file name and the OSError ended the run
    obs = start(office, "save_as")
    path = office.unwrapped.app.path
    obs, _, terminated, _, info = office.step(Action(function="save_as", args={"file_name": name}))
    assert obs.last_action_error and "file name" in obs.last_action_error and not terminated
    assert office.unwrapped.app.path == path and path.is_file()


def test_an_environment_never_closed_leaves_no_files_behind(tmp_path):
    # collection and evaluation threads drop environments without close(); their workspaces used to pile up
    import gc
    import os
    import subprocess
    import sys

    env = make("office", workdir=str(tmp_path))
    env.reset(seed=0)
    assert any(tmp_path.iterdir())
    del env
    gc.collect()
    assert not any(tmp_path.iterdir())
    # the per-process template cache goes at exit
    code = ("import tempfile, os; tempfile.tempdir = os.environ['T']; from lamforge.envs import make; "
            "make('office').reset(seed=0)")
    scratch = tmp_path / "proc"
    scratch.mkdir()
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "T": str(scratch)}, check=True)
    assert not any(scratch.iterdir())

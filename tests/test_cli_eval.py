"""``lamforge eval`` and ``lamforge bench tool-search`` evaluate a run's own held-out tasks or nothing:
a ``--run`` that does not exist, or has no ``data/heldout_tasks.jsonl``, stops at once with a clear
error, before any model loads (they used to draw a fresh pool and evaluate on it)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from lamforge.cli import app
from lamforge.evaluation.compare import compare_models
from lamforge.run import NoRun, Run


@pytest.fixture
def no_model_loads(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded")

    import lamforge.models

    monkeypatch.setattr(lamforge.models, "load_backend", refuse)
    monkeypatch.setattr("lamforge.evaluation.compare.make_model_agent", refuse)


def _runs(tmp_path):
    empty = tmp_path / "empty-run"
    (empty / "data").mkdir(parents=True)
    return {"missing": tmp_path / "nothing-here", "no held-out file": empty}


@pytest.mark.parametrize("case", ["missing", "no held-out file"])
@pytest.mark.parametrize("command", [["eval", "--models", "base,lam1,expert"],
                                     ["bench", "tool-search", "--model", "smollm2-135m"]])
def test_a_run_without_its_held_out_tasks_is_refused_before_any_model_loads(tmp_path, no_model_loads, case, command):
    run = _runs(tmp_path)[case]
    result = CliRunner().invoke(app, [*command, "--run", str(run)])
    assert isinstance(result.exception, NoRun), result.output
    message = str(result.exception)
    if case == "missing":
        assert f"no run at {run}" in message and "does not exist" in message
    else:
        assert "heldout_tasks.jsonl is missing" in message and str(run) in message


def test_the_command_line_says_so_and_exits_2(tmp_path):
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "lamforge.cli", "eval", "--run", str(tmp_path / "nope"),
                           "--models", "base"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no run at" in proc.stderr, proc.stderr
    assert time.perf_counter() - t0 < 60  # nothing was loaded or run


def test_compare_models_refuses_too(tmp_path, no_model_loads):
    """forge and any caller of compare_models get the same refusal (no fresh pool)."""
    with pytest.raises(NoRun):
        compare_models(["expert"], run=tmp_path / "nothing", progress=False)


def test_the_run_s_own_held_out_tasks_are_read(tmp_path):
    from lamforge.data.taskfile import write_tasks
    from lamforge.envs.tasks import sample_tasks

    tasks = sample_tasks("office", 5, seed=1)
    write_tasks(tasks, tmp_path / "data" / "heldout_tasks.jsonl")
    assert Run(tmp_path).heldout() == tasks and Run(tmp_path).heldout(2) == tasks[:2]


def test_validation_split_needs_its_own_file_and_ablation_rows_need_the_validation_split(tmp_path, no_model_loads):
    run = tmp_path / "run"
    (run / "data").mkdir(parents=True)
    (run / "data" / "heldout_tasks.jsonl").write_text("")
    result = CliRunner().invoke(app, ["eval", "--run", str(run), "--split", "validation", "--models", "lam2"])
    assert isinstance(result.exception, NoRun) and "validation_tasks.jsonl is missing" in str(result.exception)
    result = CliRunner().invoke(app, ["eval", "--run", str(run), "--models", "lam2",
                                      "--ablation", str(tmp_path / "a.jsonl")])
    assert result.exit_code == 2 and "validation" in result.output
    result = CliRunner().invoke(app, ["eval", "--run", str(run), "--split", "train", "--models", "lam2"])
    assert result.exit_code == 2


def test_validation_split_runs_online_only_and_records_an_ablation_row(tmp_path):
    """The expert on two validation tasks: the row lands in the ablation file with its interval and
    commands, and the report of the next evaluation shows the table; a torn line is skipped."""
    from lamforge.data.taskfile import write_tasks
    from lamforge.envs.tasks import sample_tasks
    from lamforge.evaluation.ablation import read_rows

    run = tmp_path / "run"
    (run / "data").mkdir(parents=True)
    write_tasks(sample_tasks("office", 2, seed=8, family="bold_text"), run / "data" / "validation_tasks.jsonl")
    ablation = run / "ablation.jsonl"
    ablation.write_text('{"row": "earlier", "tsr": 0.25, "tasks": 4}\n{"row": torn')
    result = CliRunner().invoke(app, ["eval", "--run", str(run), "--split", "validation", "--models", "expert",
                                      "--ablation", str(ablation), "--row", "the expert", "--workers", "1"])
    assert result.exit_code == 0, result.output
    rows = read_rows(ablation)
    assert [r["row"] for r in rows] == ["earlier", "the expert"]
    assert rows[1]["tsr"] == 1.0 and rows[1]["tasks"] == 2 and len(rows[1]["tsr_ci95"]) == 2
    assert "--split validation" in rows[1]["eval_command"]
    page = (run / "eval-validation" / "report.html").read_text()
    assert "table-ablation" in page and "earlier" in page

"""The HTML report: tables, files, escaping, and the page as headless Chromium renders it."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from lamforge.core.schemas import Action, Control, Observation, Outcome, Status, Step, Task, Trajectory
from lamforge.evaluation.report import order_models, write_report

CHROMIUM = Path("/usr/bin/chromium")


def _traj(model: str, i: int, family: str, success: bool, latency: float, docx: Path | None = None) -> Trajectory:
    task = Task(id=f"{family}-{i}", family=family, env_id="lamforge/Office-v0",
                request=f"Make paragraph {i} bold <script>alert('x')</script>")
    obs = Observation(request=task.request, state=f"file a.docx; tab Home; step of {model}",
                      controls=[Control(label=6, name="Bold", type="Button")],
                      last_action_error="control 99 is not on screen" if not success else None)
    steps = [Step(index=0, observation=obs, plan=["Click 'Bold'", "Finish"], latency_s=latency,
                  action=Action(thought="Select then bold", function="click", control_label=6)),
             Step(index=1, observation=obs, latency_s=latency * 2, error=None if success else "no selection",
                  action=Action(function="click", control_label=6, status=Status.FINISH))]
    return Trajectory(id=f"{task.id}-{model}", task=task, agent=model, steps=steps, seconds=1.0 + i,
                      initial_plan=["Click 'Bold'"], meta={"docx_path": str(docx)} if docx else {},
                      outcome=Outcome(success=success, reason="agent finished"))


def _offline(x: float) -> dict:
    return {"object_acc": x, "operation_acc": 0.9, "status_acc": 0.95, "argument_acc": 0.7,
            "step_success_rate": x - 0.05, "step_success_with_args": x - 0.1, "task_success_rate": x - 0.2,
            "counts": {"steps": 10}, "per_family": {"bold_text": {"step_success_rate": x}}}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    doc = out / "doc.docx"
    import docx

    d = docx.Document()
    d.add_heading("Quarterly report", 1)
    d.add_paragraph("The results are in. " * 30)
    d.save(str(doc))
    results = {
        "custom-7b": {"online": {"task_success_rate": 0.5, "mean_completion_s": 30.4, "mean_steps": 5.6,
                                 "mean_step_latency_s": 5.41, "p95_step_latency_s": 9.0, "error_step_rate": 0.1}},
        "lam2": {"offline": _offline(0.85), "planning": {"task_success_rate": 0.8, "step_precision": 0.55,
                                                         "step_recall": 0.56, "pairs": [[0, 0, 1.0]]}},
        "base": {"offline": _offline(0.4), "planning": {"task_success_rate": 0.0, "step_precision": None,
                                                        "step_recall": 0.005}},
        "expert": {"offline": _offline(1.0)},
    }
    trajs = {"lam2": [_traj("lam2", 1, "bold_text", True, 0.8, docx=doc), _traj("lam2", 2, "add_comment", False, 1.2)],
             "expert": [_traj("expert", 1, "bold_text", True, 1e-5), _traj("expert", 2, "add_comment", True, 2e-5)]}
    return write_report(results, trajs, out)


def test_model_order():
    names = ["gpt", "LAM2", "expert", "base", "lam1", "x"]
    assert order_models(names) == ["base", "lam1", "LAM2", "expert", "gpt", "x"]


def test_files_and_tables(report: Path):
    html = report.read_text(encoding="utf-8")
    assert report.name == "report.html"
    json_results = json.loads((report.parent / "results.json").read_text())
    assert json_results["lam2"]["offline"]["object_acc"] == 0.85
    rows = list(csv.DictReader((report.parent / "results.csv").open()))
    assert [r["model"] for r in rows] == ["base", "lam2", "expert", "custom-7b"]
    assert rows[1]["offline.object_acc"] == "0.85" and rows[3]["online.mean_steps"] == "5.6"
    # Table 3 rows in the paper's order, percentages like the paper's
    offline = html[html.index('id="table-offline"'):]
    offline = offline[:offline.index("</table>")]
    assert [offline.index(f'data-model="{m}"') for m in ("base", "lam2", "expert")] == sorted(
        offline.index(f'data-model="{m}"') for m in ("base", "lam2", "expert"))
    assert "<td class=num>85.0</td>" in offline and "custom-7b" not in offline
    assert "<td class=num>5.41</td>" in html and "&ndash;" in html  # a missing value
    # self-contained and escaped
    assert "<script>" not in html and "&lt;script&gt;alert(&#x27;x&#x27;)" in html
    assert "<link" not in html and 'src="http' not in html
    assert html.count('src="data:image/png;base64,') >= 5
    assert "<details" in html and "control 99 is not on screen" in html and "click(control=6)" in html
    if shutil.which("soffice") and shutil.which("pdftoppm"):
        assert "<img class=snap" in html
    else:
        assert "Document snapshots skipped" in html


def test_every_episode_is_saved_in_the_trajectory_format(report: Path):
    folder = report.parent / "trajectories"
    assert sorted(f.name for f in folder.iterdir()) == ["expert.jsonl", "lam2.jsonl"]
    back = [Trajectory.model_validate_json(line) for line in (folder / "lam2.jsonl").read_text().splitlines()]
    assert [(t.task.family, t.success, len(t.steps)) for t in back] == [("bold_text", True, 2), ("add_comment", False, 2)]
    assert back[1].steps[1].error == "no selection"


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path):
    dom = _chromium("--dump-dom", report.as_uri(), profile=tmp_path / "profile").stdout
    for model in ("base", "lam2", "expert", "custom-7b"):
        assert f'data-model="{model}"' in dom
    assert dom.count('<img class="plot"') >= 4 and 'src="data:image/png;base64,' in dom
    assert "Table 3 - Offline decisions" in dom
    shot = tmp_path / "report.png"
    _chromium(f"--screenshot={shot}", "--window-size=1200,2400", "--hide-scrollbars", report.as_uri(),
              profile=tmp_path / "profile")
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000

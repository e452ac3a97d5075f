"""Export of real trajectories to Parquet / Hugging Face datasets, and the datasheet."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from lamforge.agents.expert import ReferenceExpert
from lamforge.agents.runner import run_episode
from lamforge.core.schemas import Trajectory
from lamforge.data.export import datasheet, export_parquet, load_exported, write_datasheet
from lamforge.data.store import RecordStore
from lamforge.envs import make
from lamforge.envs.tasks import sample_tasks

COLUMNS = ["id", "task_id", "family", "template", "request", "env_id", "agent", "n_steps", "success",
           "verdict", "seconds", "trajectory_json"]


@pytest.fixture(scope="module")
def trajectories() -> list[Trajectory]:
    env = make("office")
    out = []
    for n, task in enumerate(sample_tasks("office", 12, seed=5)):
        traj = run_episode(env, ReferenceExpert(), task)
        traj.outcome.verdict = [None, "pass", "fail", "unsure"][n % 4]
        if n == 11:
            traj.outcome.success = None
        out.append(traj)
    return out


def split_of(traj: Trajectory) -> str:
    return "heldout" if traj.task.template in ("letter", "handbook") else "train"


def test_round_trip_through_parquet(trajectories, tmp_path):
    out = export_parquet(trajectories, tmp_path / "ds", split_of)
    files = sorted(p.name for p in (out / "data").glob("*.parquet"))
    expected_splits = sorted({split_of(t) for t in trajectories})
    assert files == [f"{s}-00000-of-00001.parquet" for s in expected_splits]

    table = pq.read_table(out / "data" / "train-00000-of-00001.parquet")
    assert table.column_names == COLUMNS
    first = table.slice(0, 1).to_pylist()[0]
    original = next(t for t in trajectories if t.id == first["id"])
    assert first["task_id"] == original.task.id and first["n_steps"] == len(original.steps)
    assert first["request"] == original.task.request and first["verdict"] == original.outcome.verdict

    back = load_exported(out, cache_dir=tmp_path / "hf-cache")
    assert sorted(back) == expected_splits
    for split, trajs in back.items():
        assert trajs == [t for t in trajectories if split_of(t) == split]


def test_reexport_drops_stale_splits(trajectories, tmp_path):
    export_parquet(trajectories, tmp_path, split_of)
    export_parquet(trajectories, tmp_path, lambda t: "test")
    assert list(load_exported(tmp_path, cache_dir=tmp_path / "hf-cache")) == ["test"]
    with pytest.raises(ValueError, match="split name"):
        export_parquet(trajectories, tmp_path, lambda t: "../escape")


def test_datasheet_counts_add_up(trajectories, tmp_path):
    sheet = datasheet(trajectories, split_of)
    total = len(trajectories)
    assert sheet["totals"]["trajectories"] == total
    assert sheet["totals"]["steps"] == sum(len(t.steps) for t in trajectories)
    for name in ("split", "family", "template", "verdict", "success"):
        assert sum(sheet[name].values()) == total, name
    assert sheet["verdict"] == {"fail": 3, "none": 3, "pass": 3, "unsure": 3}
    assert sheet["success"]["none"] == 1 and sheet["totals"]["succeeded"] == sheet["success"].get("true", 0)
    for split, per in sheet["by_split"].items():
        for name in ("family", "template", "verdict", "success"):
            assert sum(per[name].values()) == sheet["split"][split]
    for family, count in sheet["family"].items():
        assert sum(per["family"].get(family, 0) for per in sheet["by_split"].values()) == count

    md = write_datasheet(sheet, tmp_path)
    assert json.loads((tmp_path / "datasheet.json").read_text()) == sheet
    text = md.read_text()
    assert f"| verdict | total | {' | '.join(sheet['split'])} |" in text and "| pass | 3 |" in text
    assert f"{total} trajectories" in text


def test_export_straight_from_a_store(trajectories, tmp_path):
    with RecordStore(tmp_path / "store", Trajectory) as store:
        store.extend(trajectories)
    out = export_parquet(RecordStore(tmp_path / "store", Trajectory, readonly=True), tmp_path / "ds", split_of)
    back = load_exported(out, cache_dir=tmp_path / "hf-cache")
    assert sorted(t.id for ts in back.values() for t in ts) == sorted(t.id for t in trajectories)

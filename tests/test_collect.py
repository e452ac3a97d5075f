"""The data stage end to end: collection survives kill -9, held-out tasks never reach training,
bad task files name the file and line, plans come out of the manual."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lamforge.core.errors import TaskFileError
from lamforge.core.schemas import Trajectory
from lamforge.data.taskfile import read_tasks
from lamforge.data.dedup import is_near_duplicate
from lamforge.data.store import RecordStore

LAMFORGE = [sys.executable, "-m", "lamforge.cli"]


def collect(out: Path, n: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([*LAMFORGE, "collect", "trajectories", "--n", str(n), "--out", str(out),
                             "--workers", "2", "--json", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_kill_9_then_resume_loses_and_duplicates_nothing(tmp_path):
    out, n = tmp_path / "data", 300
    proc = collect(out, n)
    records = out / "records.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:  # kill once some, but not all, records are on disk
        if records.exists() and records.read_text().count("\n") >= 40:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    on_disk = records.read_text().count("\n")
    assert 0 < on_disk < n, "the kill should land mid-collection"
    resumed = collect(out, n, "--resume")
    stdout, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["total"] == n and summary["skipped_existing"] >= on_disk - 1
    keys = [json.loads(line)["task"]["id"] for line in records.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == n
    assert all(t.outcome.verdict == "pass" for t in RecordStore(out, Trajectory, readonly=True))


def test_collecting_into_a_used_folder_without_resume_is_refused(tmp_path):
    out = tmp_path / "data"
    first = collect(out, 5)
    assert first.wait(timeout=120) == 0
    again = collect(out, 5)
    _, stderr = again.communicate(timeout=120)
    assert again.returncode != 0 and "--resume" in stderr


def test_heldout_tasks_and_near_duplicates_never_reach_training(tmp_path):
    out = tmp_path / "data"
    proc = collect(out, 150)
    assert proc.wait(timeout=180) == 0
    heldout = read_tasks(out / "heldout_tasks.jsonl")
    train = [t.task for t in RecordStore(out, Trajectory, readonly=True)]
    split = json.loads((out / "split.json").read_text())
    assert heldout and train
    assert not {t.id for t in train} & {t.id for t in heldout}
    assert not {t.template for t in train} & set(split["heldout_templates"])
    for t in train:
        assert not any(is_near_duplicate(t.request, h.request) for h in heldout), t.request


def test_bad_task_file_names_file_and_line(tmp_path):
    good = '{"id": "a", "family": "bold_text", "request": "x", "env_id": "lamforge/Office-v0"}'
    path = tmp_path / "tasks.jsonl"
    path.write_text(good + "\n" + '{"id": "b", "family": "bold_text"}\n')
    with pytest.raises(TaskFileError, match=r"tasks.jsonl:2: not a task"):
        read_tasks(path)
    path.write_text(good + "\nnot json at all\n")
    with pytest.raises(TaskFileError, match=r"tasks.jsonl:2"):
        read_tasks(path)
    with pytest.raises(TaskFileError, match="no such task file"):
        read_tasks(tmp_path / "missing.jsonl")


def test_corrupt_store_is_reported_by_data_stats(tmp_path):
    import re
    import shutil

    out = tmp_path / "data"
    assert collect(out, 4).wait(timeout=120) == 0
    clean = (out / "records.jsonl").read_text().splitlines()

    def stats_of(lines: list[str], name: str) -> subprocess.CompletedProcess:
        folder = tmp_path / name
        shutil.copytree(out, folder)
        (folder / "records.jsonl").write_text("\n".join(lines) + "\n")
        return subprocess.run([*LAMFORGE, "data", "stats", str(folder), "--json"], capture_output=True, text=True,
                              timeout=60)

    number = re.search(r'"index":(\d)', clean[1])
    assert number is not None
    damaged = {
        "string": clean[1][:50] + "GARBAGE" + clean[1][50:],  # still valid JSON: only the checksum tells
        "number": clean[1][:number.start(1)] + str((int(number[1]) + 1) % 10) + clean[1][number.end(1):],
        "structure": clean[1].replace(",", " ", 1),
    }
    for name, line in damaged.items():
        proc = stats_of([clean[0], line, *clean[2:]], name)
        assert proc.returncode != 0 and "records.jsonl:2" in proc.stderr, (name, proc.stderr)
    # a torn last line is not damage: it is left out, and said so with its file and line
    proc = stats_of([*clean[:3], clean[3][: len(clean[3]) // 2]], "torn")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["trajectories"] == 3
    assert "records.jsonl:4" in proc.stderr


def test_collect_plans_from_the_manual(tmp_path):
    out = tmp_path / "plans.jsonl"
    proc = subprocess.run([*LAMFORGE, "collect", "plans", "--out", str(out), "--evolve", "1", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["extracted"] >= 40 and summary["kept"] > summary["extracted"]

"""The append-only record store: crash safety under a real SIGKILL, recovery, corruption, locking."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lamforge.core.errors import LamforgeError, TaskFileError
from lamforge.core.schemas import TaskPlan, Trajectory
from lamforge.data.store import RECORDS, TORN, RecordStore, StoreLocked, StoreReadOnly

ROOT = Path(__file__).resolve().parents[1]
N = 1500

# Records of 0.1 to 9 KB: a write longer than a page can really be cut short by SIGKILL.
CHILD = """
import sys
from lamforge.core.schemas import TaskPlan
from lamforge.data.store import RecordStore

def record(i):
    return TaskPlan(task_id=f"k{i}", task=f"request number {i}", plan=["x" * ((i * 37) % 9000)])

path, n = sys.argv[1], int(sys.argv[2])
with RecordStore(path, TaskPlan) as store:          # fsync after every append (the default)
    if len(sys.argv) > 3:                            # hold the lock until killed
        print("locked", flush=True)
        sys.stdin.read()
    for i in range(n):
        store.append(record(i))
"""


def record(i: int) -> TaskPlan:
    return TaskPlan(task_id=f"k{i}", task=f"request number {i}", plan=["x" * ((i * 37) % 9000)])


def child(path: Path, *extra: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(N), *extra], env=env, cwd=ROOT, **kw)


def lines_of(path: Path) -> list[bytes]:
    data = (path / RECORDS).read_bytes()
    assert data == b"" or data.endswith(b"\n"), "the file must end on a clean line"
    return data.splitlines()


def test_sigkill_at_three_moments_then_resume_gives_every_record_once(tmp_path):
    store_dir = tmp_path / "store"
    ends = [0]
    for i in range(N):
        ends.append(ends[-1] + len(record(i).model_dump_json()) + 1)
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    kills = []
    for fraction in (0.15, 0.45, 0.75):
        target = ends[int(N * fraction)]  # bytes on disk once that many records are written
        proc = child(store_dir)
        try:
            deadline = time.monotonic() + 30
            while proc.poll() is None and time.monotonic() < deadline:
                file = store_dir / RECORDS
                if file.exists() and file.stat().st_size >= target:
                    break
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.005))  # a random moment: maybe mid-write, maybe between
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
        assert proc.returncode == -signal.SIGKILL, f"the child ended on its own (seed {seed})"
        size = (store_dir / RECORDS).stat().st_size
        with RecordStore(store_dir, TaskPlan, readonly=True) as seen:
            # the records so far are exactly a prefix k0..k(m-1): nothing lost, nothing doubled
            assert seen.keys() == [f"k{i}" for i in range(len(seen))], f"seed {seed}"
            kills.append((len(seen), size - ends[len(seen)]))
    assert kills[0][0] < kills[1][0] < kills[2][0] < N, kills

    with RecordStore(store_dir, TaskPlan) as store:  # the resume: every key again
        added = sum(store.append(record(i)) for i in range(N))
        assert len(store) == N
    assert added == N - kills[-1][0]
    raw = lines_of(store_dir)
    keys = [TaskPlan.model_validate_json(line).task_id for line in raw]
    assert len(raw) == N and len(set(keys)) == N and set(keys) == {f"k{i}" for i in range(N)}
    torn = (store_dir / TORN).read_bytes() if (store_dir / TORN).exists() else b""
    print(f"\nkilled at {[k for k, _ in kills]} records (seed {seed}); torn bytes left by the kills: "
          f"{[t for _, t in kills]}; {len(torn)} bytes kept in {TORN}")


def test_torn_last_line_is_cut_and_kept(tmp_path):
    with RecordStore(tmp_path, TaskPlan) as store:
        store.extend(record(i) for i in range(3))
    partial = record(3).model_dump_json().encode()[:25]
    with (tmp_path / RECORDS).open("ab") as f:
        f.write(partial)
    with RecordStore(tmp_path, TaskPlan, readonly=True) as seen:
        assert len(seen) == 3  # a reader skips it and leaves the file alone
    assert (tmp_path / RECORDS).read_bytes().endswith(partial)
    with RecordStore(tmp_path, TaskPlan) as store:
        assert store.keys() == ["k0", "k1", "k2"]
        assert (tmp_path / TORN).read_bytes() == partial + b"\n"
        assert store.append(record(3))
    assert [TaskPlan.model_validate_json(x).task_id for x in lines_of(tmp_path)] == ["k0", "k1", "k2", "k3"]


@pytest.mark.parametrize("tail", [b"\x00" * 40 + b"\n", b'{"task_id": "k9", "ta\n'])
def test_complete_last_line_that_is_not_json_counts_as_torn(tmp_path, tail):
    with RecordStore(tmp_path, TaskPlan) as store:
        store.append(record(0))
    with (tmp_path / RECORDS).open("ab") as f:
        f.write(tail)
    with RecordStore(tmp_path, TaskPlan) as store:
        assert len(store) == 1 and store.append(record(1))
    assert len(lines_of(tmp_path)) == 2


def _write_lines(path: Path, lines: list[str]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / RECORDS).write_text("".join(line + "\n" for line in lines))


def test_corrupt_middle_line_raises_naming_file_and_line(tmp_path):
    good = [record(i).model_dump_json() for i in range(4)]
    _write_lines(tmp_path, [good[0], good[1][:30], good[2], good[3]])
    before = (tmp_path / RECORDS).read_bytes()
    with pytest.raises(TaskFileError) as err:
        RecordStore(tmp_path, TaskPlan)
    assert err.value.line == 2 and str(tmp_path / RECORDS) in str(err.value)
    assert (tmp_path / RECORDS).read_bytes() == before  # nothing cut, nothing lost


@pytest.mark.parametrize("where", ["middle", "last"])
def test_schema_invalid_line_raises_even_last(tmp_path, where):
    good = [record(i).model_dump_json() for i in range(3)]
    bad = json.dumps({"task_id": "k9", "plan": "not a list"})
    lines = [good[0], bad, good[1], good[2]] if where == "middle" else [*good, bad]
    _write_lines(tmp_path, lines)
    with pytest.raises(TaskFileError) as err:
        RecordStore(tmp_path, TaskPlan)
    assert err.value.line == (2 if where == "middle" else 4)
    assert "TaskPlan" in str(err.value) and RECORDS in str(err.value)


def test_duplicate_key_in_file_is_an_error(tmp_path):
    _write_lines(tmp_path, [record(0).model_dump_json(), record(1).model_dump_json(), record(0).model_dump_json()])
    with pytest.raises(TaskFileError, match="duplicate key 'k0'") as err:
        RecordStore(tmp_path, TaskPlan)
    assert err.value.line == 3


def test_two_writers_fail_clearly(tmp_path):
    with RecordStore(tmp_path, TaskPlan) as store:
        store.append(record(0))
        with pytest.raises(StoreLocked, match="this process already holds"):
            RecordStore(tmp_path, TaskPlan)
        assert len(RecordStore(tmp_path, TaskPlan, readonly=True)) == 1  # readers need no lock
    holder = child(tmp_path, "hold", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        with pytest.raises(StoreLocked, match=rf"another process \(pid {holder.pid}\)") as err:
            RecordStore(tmp_path, TaskPlan)
        assert isinstance(err.value, LamforgeError)
    finally:
        holder.kill()
        holder.wait()
    with RecordStore(tmp_path, TaskPlan) as store:  # the kernel let go of the dead holder's lock
        assert len(store) == 1


def test_append_skips_stored_keys_and_reads_back(tmp_path):
    with RecordStore(tmp_path, TaskPlan, sync_every=50) as store:
        assert store.append(record(0)) and store.append(record(1).model_dump())
        assert not store.append(record(0).model_copy(update={"task": "other wording"}))
        assert store.has("k1") and "k1" in store and not store.has("k2")
        assert [r.task_id for r in store] == ["k0", "k1"]
        assert store.get("k1") == record(1) and store.get("nope") is None
    with RecordStore(tmp_path, TaskPlan, readonly=True) as seen:
        assert list(seen) == [record(0), record(1)]
        with pytest.raises(StoreReadOnly):
            seen.append(record(2))


def test_trajectories_are_keyed_by_task_id(tmp_path):
    from lamforge.agents.expert import ReferenceExpert
    from lamforge.agents.runner import run_episode
    from lamforge.envs import make
    from lamforge.envs.tasks import sample_tasks

    task = sample_tasks("office", 1, seed=3)[0]
    env = make("office")
    first, again = (run_episode(env, ReferenceExpert(), task) for _ in range(2))
    assert first.id != again.id
    with RecordStore(tmp_path, Trajectory) as store:
        assert store.append(first) and not store.append(again)
    assert list(RecordStore(tmp_path, Trajectory, readonly=True)) == [first]


def test_append_rate(tmp_path):
    """A figure, not a limit: fsync dominates."""
    rates = {}
    for sync_every in (1, 100):
        with RecordStore(tmp_path / str(sync_every), TaskPlan, sync_every=sync_every) as store:
            t0 = time.perf_counter()
            store.extend(TaskPlan(task_id=f"k{i}", task="t", plan=["p"] * 5) for i in range(300))
            rates[sync_every] = 300 / (time.perf_counter() - t0)
    print(f"\nappends/s: fsync each {rates[1]:.0f}, fsync every 100 {rates[100]:.0f}")

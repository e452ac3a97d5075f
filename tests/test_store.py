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
from pydantic import BaseModel

from lamforge.core.errors import LamforgeError, TaskFileError
from lamforge.core.schemas import TaskPlan, Trajectory
from lamforge.data.store import MARKER, RECORDS, TORN, RecordStore, StoreLocked, StoreReadOnly, seal, unseal

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
        ends.append(ends[-1] + len(seal(record(i).model_dump_json().encode())))
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


# --- integrity: a changed byte anywhere is found, named by file and line, and never used -----------


class Rec(BaseModel):
    """A record with every kind of JSON value, so corruption can land in each."""

    id: str
    text: str
    count: int
    score: float
    tags: list[str]
    ok: bool
    extra: dict[str, int | None]


RECS = [Rec(id=f"r{i}", text=f'line {i}: say "hi" to caf\u00e9 \\ ok', count=1000 * i + 7, score=i / 3 - 1.5,
            tags=["a", f"t{i}"], ok=i % 2 == 0, extra={"n": -i, "none": None}) for i in range(3)]


def _sealed_lines() -> list[bytes]:
    return [seal(r.model_dump_json().encode()) for r in RECS]


def _kinds(line: bytes) -> list[str]:
    """The kind of each byte of a stored line: checksum, structure, string, number or newline."""
    head = len(b'{"_crc32":"12345678",')
    kinds, in_string, escaped = [], False, False
    for i, c in enumerate(line):
        ch = chr(c)
        if i < head:
            kinds.append("checksum")
        elif ch == "\n":
            kinds.append("newline")
        elif in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
                kinds.append("structure")
                continue
            kinds.append("string")
        elif ch == '"':
            in_string = True
            kinds.append("structure")
        elif ch in "-0123456789.eE":
            kinds.append("number")
        else:
            kinds.append("structure")  # braces, brackets, colons, commas, true/false/null
    return kinds


def _positions() -> list:
    cases = []
    for n, line in enumerate(_sealed_lines(), 1):
        where = "last" if n == len(RECS) else f"line{n}"
        for offset, kind in enumerate(_kinds(line)):
            cases.append(pytest.param(n, offset, id=f"{where}-{kind}-{offset}"))
    return cases


def _mutations(byte: int) -> dict[str, tuple[bytes, int]]:
    """What to put at a byte instead of it: (replacement, bytes replaced)."""
    ch = chr(byte)
    if ch.isdigit():
        same_kind = str((int(ch) + 1) % 10)
    elif ch.isalpha():
        same_kind = "b" if ch == "a" else "a"
    else:
        same_kind = {"{": "[", "}": "]", ",": " ", ":": ",", '"': "'", "\n": " "}.get(ch, "x")
    return {"replace": (same_kind.encode(), 1), "insert": (b"GARBAGE" + bytes([byte]), 1), "delete": (b"", 1),
            "bitflip": (bytes([byte ^ 0x01]), 1)}


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    """A store of RECS as the store itself writes it (made once: fsync is slow)."""
    folder = tmp_path_factory.mktemp("written")
    with RecordStore(folder, Rec) as store:
        store.extend(RECS)
    assert (folder / RECORDS).read_bytes() == b"".join(_sealed_lines())
    return folder


@pytest.mark.parametrize(("line_no", "offset"), _positions())
def test_a_changed_byte_anywhere_is_reported_with_file_and_line_and_never_used(written, tmp_path, line_no, offset):
    import shutil

    lines = _sealed_lines()
    line = lines[line_no - 1]
    last = line_no == len(lines)
    for name, (new, width) in _mutations(line[offset]).items():
        folder = tmp_path / name
        shutil.copytree(written, folder)
        data = (folder / RECORDS).read_bytes()
        at = sum(len(x) for x in lines[:line_no - 1]) + offset
        damaged = data[:at] + new + data[at + width:]
        (folder / RECORDS).write_bytes(damaged)
        for readonly in (True, False):
            try:
                with RecordStore(folder, Rec, readonly=readonly) as store:
                    records = list(store)
            except TaskFileError as e:
                assert e.line == line_no, (name, readonly, str(e))
                assert str(folder / RECORDS) in str(e) and f"{RECORDS}:{line_no}:" in str(e)
                assert (folder / RECORDS).read_bytes() == damaged, "damage must not be cut or rewritten"
                continue
            # not an error: only a damaged LAST line may be set aside (as a torn write), and then it is not read
            assert last, f"{name} at line {line_no} byte {offset} went unnoticed (readonly={readonly})"
            assert records == RECS[:-1], (name, readonly)
            if not readonly:
                assert (folder / RECORDS).read_bytes() == b"".join(lines[:-1])
                assert (folder / TORN).read_bytes().rstrip(b"\n") == damaged[len(b"".join(lines[:-1])):].rstrip(b"\n")
                break  # the cut is done: the file is clean again


def test_old_store_code_would_have_missed_a_changed_value(tmp_path):
    """The case of issue 19: a changed string and a changed number stay valid JSON."""
    with RecordStore(tmp_path, Rec) as store:
        store.extend(RECS)
    raw = (tmp_path / RECORDS).read_bytes()
    for old, new in ((b"line 1", b"lime 1"), (b"1007", b"1008")):
        changed = raw.replace(old, new, 1)
        assert changed != raw
        for line in changed.splitlines():
            Rec.model_validate_json(line)  # still a valid record: only the checksum tells
        (tmp_path / RECORDS).write_bytes(changed)
        with pytest.raises(TaskFileError, match=rf"{RECORDS}:2: checksum mismatch"):
            RecordStore(tmp_path, Rec, readonly=True)


def test_a_change_after_open_is_caught_by_the_read(tmp_path):
    with RecordStore(tmp_path, Rec) as store:
        store.extend(RECS)
    seen = RecordStore(tmp_path, Rec, readonly=True)
    raw = (tmp_path / RECORDS).read_bytes()
    (tmp_path / RECORDS).write_bytes(raw.replace(b"1007", b"9007"))  # same length, same offsets
    assert seen.get("r0") == RECS[0]
    with pytest.raises(TaskFileError, match=rf"{RECORDS}:2: checksum mismatch"):
        seen.get("r1")
    with pytest.raises(TaskFileError, match=rf"{RECORDS}:2: checksum mismatch"):
        list(seen)


def test_lines_stay_json_with_the_checksum_first():
    line = seal(RECS[0].model_dump_json().encode())
    assert line.startswith(b'{"_crc32":"') and line.endswith(b"\n")
    assert Rec.model_validate(json.loads(line)) == RECS[0]  # any JSON reader still reads it
    assert unseal(line[:-1]) == (RECS[0].model_dump_json().encode(), "")
    assert unseal(seal(b"{}")[:-1]) == (b"{}", "")
    assert unseal(RECS[0].model_dump_json().encode()) == (None, "missing")


def test_a_store_written_before_checksums_is_read_then_upgraded_by_a_writer(tmp_path, caplog):
    old = b"".join(r.model_dump_json().encode() + b"\n" for r in RECS)  # what lamforge wrote before
    (tmp_path / RECORDS).write_bytes(old)
    with caplog.at_level("WARNING", logger="lamforge.data.store"):
        with RecordStore(tmp_path, Rec, readonly=True) as seen:
            assert list(seen) == RECS and not seen.checksummed
    assert "written before checksums" in caplog.text
    assert (tmp_path / RECORDS).read_bytes() == old and not (tmp_path / MARKER).exists()  # readers change nothing
    with RecordStore(tmp_path, Rec) as store:  # a writer adds the checksums, atomically
        assert store.checksummed and store.keys() == ["r0", "r1", "r2"]
        store.append(Rec(**{**RECS[0].model_dump(), "id": "r3"}))
    lines = (tmp_path / RECORDS).read_bytes().splitlines()
    assert len(lines) == 4 and all(unseal(x)[0] is not None for x in lines)
    assert (tmp_path / MARKER).is_file() and list(RecordStore(tmp_path, Rec, readonly=True))[:3] == RECS
    (tmp_path / RECORDS).write_bytes((tmp_path / RECORDS).read_bytes().replace(b"2007", b"2008"))
    with pytest.raises(TaskFileError, match=rf"{RECORDS}:3: checksum mismatch"):
        RecordStore(tmp_path, Rec, readonly=True)


def test_a_line_without_checksum_in_a_checksummed_store_is_damage(tmp_path):
    with RecordStore(tmp_path, Rec) as store:
        store.extend(RECS[:2])
    with (tmp_path / RECORDS).open("ab") as f:  # e.g. appended by an older lamforge
        f.write(RECS[2].model_dump_json().encode() + b"\n")
    with pytest.raises(TaskFileError, match=rf"{RECORDS}:3: no checksum"):
        RecordStore(tmp_path, Rec, readonly=True)
    (tmp_path / MARKER).unlink()  # the marker lost: the other lines still say the store has checksums
    with pytest.raises(TaskFileError, match=rf"{RECORDS}:3: no checksum"):
        RecordStore(tmp_path, Rec)


def test_a_torn_last_line_is_reported_with_file_and_line(tmp_path, caplog):
    with RecordStore(tmp_path, Rec) as store:
        store.extend(RECS[:2])
    with (tmp_path / RECORDS).open("ab") as f:
        f.write(seal(RECS[2].model_dump_json().encode())[:40])
    with caplog.at_level("WARNING", logger="lamforge.data.store"):
        with RecordStore(tmp_path, Rec, readonly=True) as seen:
            assert len(seen) == 2 and seen.torn_line == 3
        with RecordStore(tmp_path, Rec) as store:
            assert len(store) == 2 and store.torn_line == 3
    assert f"{RECORDS}:3: last line is incomplete" in caplog.text
    assert f"{RECORDS}:3: torn last line" in caplog.text and TORN in caplog.text

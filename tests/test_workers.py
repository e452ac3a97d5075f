"""The one worker pool helper (lamforge.core.workers): order, the in-process path, errors and clean-up."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from lamforge.core.workers import worker_map

_STATE: dict = {}


def _init(tag: str) -> None:
    _STATE["tag"] = tag
    _STATE["pid"] = os.getpid()


def _tagged(x: int) -> tuple[str, int, int]:
    time.sleep(0.02 * (x % 3))  # so that unordered results can come back out of order
    return _STATE["tag"], x * x, os.getpid()


def _fails_on_3(x: int) -> int:
    if x == 3:
        raise ValueError("job 3 failed")
    time.sleep(0.05)
    return x


def _bad_init() -> None:
    raise RuntimeError("no model here")


def test_ordered_results_keep_the_order_of_the_jobs():
    with worker_map(_tagged, range(10), workers=2, initializer=_init, initargs=("pool",), ordered=True,
                    chunksize=3) as results:
        out = list(results)
    assert [sq for _, sq, _ in out] == [x * x for x in range(10)]
    assert {tag for tag, _, _ in out} == {"pool"} and os.getpid() not in {pid for _, _, pid in out}


def test_unordered_results_are_all_there():
    with worker_map(_tagged, list(range(13)), workers=2, initializer=_init, initargs=("pool",),
                    chunksize=4) as results:
        out = list(results)
    assert sorted(sq for _, sq, _ in out) == [x * x for x in range(13)]
    assert multiprocessing.active_children() == []


def test_one_worker_runs_the_initializer_here_with_the_inline_arguments():
    _STATE.clear()
    with worker_map(_tagged, [1, 2], workers=1, initializer=_init, initargs=("pool",),
                    inline_initargs=("inline",)) as results:
        assert _STATE == {"tag": "inline", "pid": os.getpid()}
        assert list(results) == [("inline", 1, os.getpid()), ("inline", 4, os.getpid())]
    with worker_map(_tagged, [2], workers=0, initializer=_init, initargs=("same",)) as results:
        assert list(results) == [("same", 4, os.getpid())]


@pytest.mark.parametrize("ordered", [True, False])
def test_a_failing_job_raises_here_and_leaves_no_worker(ordered):
    with pytest.raises(ValueError, match="job 3 failed"):  # noqa: PT012 - the error comes out of the loop
        with worker_map(_fails_on_3, list(range(40)), workers=2, start_method="spawn", ordered=ordered) as results:
            for _ in results:
                pass
    assert multiprocessing.active_children() == []


def test_leaving_the_block_early_stops_the_workers():
    with worker_map(_fails_on_3, [10] * 50, workers=2) as results:
        assert next(iter(results)) == 10
        assert len(multiprocessing.active_children()) == 2
    assert multiprocessing.active_children() == []


def test_a_failing_initializer_ends_the_map_instead_of_hanging():
    from concurrent.futures.process import BrokenProcessPool

    with pytest.raises(BrokenProcessPool), worker_map(_tagged, [1, 2, 3], workers=2, initializer=_bad_init) as results:
        list(results)
    assert multiprocessing.active_children() == []


_SCRIPT = """
import os, sys, time
from lamforge.core.workers import worker_map

def job(seconds):
    time.sleep(seconds)
    return os.getpid()

if __name__ == "__main__":
    with worker_map(job, [0.1] * 20 + [3600] * 2, workers=2, start_method=sys.argv[1]) as results:
        for pid in results:
            print(pid, flush=True)
"""


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
def test_workers_end_when_their_parent_is_killed(tmp_path, start_method):
    import signal
    import subprocess
    import sys

    (tmp_path / "parent.py").write_text(_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(tmp_path / "parent.py"), start_method], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)  # its resource tracker warns of the kill
    pids: set[int] = set()
    while len(pids) < 2:
        line = proc.stdout.readline()
        assert line, "the parent ended before both workers answered"
        pids.add(int(line))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 20
    while any(_running(p) for p in pids) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(_running(p) for p in pids), "a worker outlived its killed parent"

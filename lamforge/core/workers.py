"""Mapping a function over jobs in a pool of worker processes, each set up once by an initializer, or
in this process when there is one worker: :func:`worker_map`.

Trajectory collection (``lamforge.data.collect``), the MiniWoB++ bench
(``lamforge.evaluation.miniwob_bench``) and offline evaluation's ``predict_all`` each wrote this
skeleton themselves (start a pool with an initializer, map the jobs, an in-process path for one
worker, stop the pool whatever happens); now it is written once. Online evaluation keeps its own pool
(``lamforge.evaluation.online``): it must give back the episode of a worker that crashed mid-task and
carry on with a fresh worker, which a plain pool cannot.

The pool is a :class:`~concurrent.futures.ProcessPoolExecutor`, not a ``multiprocessing.Pool``: a
worker that dies, or an initializer that raises, ends the map with ``BrokenProcessPool`` where a
``multiprocessing.Pool`` would wait forever for the lost job (or restart the failing initializer
without end). Its workers do not notice on their own that the parent was killed (``kill -9``), so each
watches for that and exits (``tests/test_workers.py``).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any, TypeVar

J = TypeVar("J")
R = TypeVar("R")


@contextmanager
def worker_map(fn: Callable[[J], R], jobs: Sequence[J], *, workers: int,
               initializer: Callable[..., None] | None = None, initargs: tuple = (),
               inline_initargs: tuple | None = None, start_method: str = "forkserver", ordered: bool = False,
               chunksize: int = 1) -> Iterator[Iterator[R]]:
    """``with worker_map(fn, jobs, workers=n, initializer=init, initargs=args) as results:`` -- the
    results of ``fn(job)`` for every job, as an iterator.

    ``workers <= 1``: ``initializer`` runs in this process, with ``inline_initargs`` if given (say, more
    threads than a worker's share), and the jobs are mapped lazily, one as each result is taken.
    Otherwise ``min(workers, len(jobs))`` processes start with ``start_method`` (``fn``, the jobs,
    ``initializer`` and ``initargs`` must pickle), each running ``initializer(*initargs)`` once;
    results come in the order of ``jobs`` when ``ordered``, else as they finish, ``chunksize`` jobs
    travelling together. A job's exception is raised from the iterator. The workers are killed when
    the block ends, however it ends (an exception, ``KeyboardInterrupt``, a ``SystemExit`` from a
    signal handler), finished or not."""
    if workers <= 1:
        if initializer is not None:
            initializer(*(initargs if inline_initargs is None else inline_initargs))
        yield map(fn, jobs)
        return
    pool = ProcessPoolExecutor(max(1, min(workers, len(jobs))), mp_context=multiprocessing.get_context(start_method),
                               initializer=_start_worker, initargs=(initializer, initargs))
    try:
        if ordered:
            yield pool.map(fn, jobs, chunksize=chunksize)
        else:
            chunks = [jobs[i:i + chunksize] for i in range(0, len(jobs), max(1, chunksize))]
            yield (r for f in as_completed([pool.submit(_run_chunk, fn, c) for c in chunks]) for r in f.result())
    finally:
        _kill(pool)


def _start_worker(initializer: Callable[..., None] | None, initargs: tuple) -> None:
    # a worker waits for jobs on a queue it can also write to, so the parent's death (kill -9) does not
    # end the wait: without this watch it would live on, holding its model or browser
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    if initializer is not None:
        initializer(*initargs)


def _exit_with_parent() -> None:
    parent = multiprocessing.parent_process()
    if parent is not None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)


def _run_chunk(fn: Callable[[Any], Any], chunk: Sequence[Any]) -> list:
    return [fn(job) for job in chunk]


def _kill(pool: ProcessPoolExecutor) -> None:
    """Stop ``pool`` now: the running jobs killed (SIGTERM), the others dropped, the processes reaped.
    (The executor kills its processes itself only once it is broken; its ``_processes`` are the one
    way to them before Python 3.14's ``terminate_workers()``.)"""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)
    for process in processes:
        process.join(5)
        if process.is_alive():  # it ignored SIGTERM
            process.kill()
            process.join()

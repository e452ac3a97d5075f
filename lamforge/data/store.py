"""Append-only, crash-safe record store: one folder, one ``records.jsonl``, one record per line.

    from lamforge.data.store import RecordStore
    from lamforge.core.schemas import Trajectory

    with RecordStore("runs/collect", Trajectory) as store:     # key: the trajectory's task.id
        for task in tasks:
            if store.has(task.id):
                continue                                        # --resume: done before the crash
            store.append(run_episode(env, agent, task))         # False if the key is stored
    for traj in RecordStore("runs/collect", Trajectory, readonly=True):
        ...

Every record has a key (``key_fn``; by default ``task.id`` for a Trajectory, ``task_id`` for a
TaskPlan, ``id`` for anything else with an ``id`` field). ``append`` skips a record whose key is
already stored, so re-running a killed job over the same inputs adds each record exactly once.

Durability: a record is one line written with a single ``write`` of the whole line, then
``fsync`` (every append by default; ``sync_every=N`` batches the fsync at the cost of losing up to
N-1 records on a power cut, never of corrupting the file). The key index is rebuilt from the file
on open, so there is nothing else to keep consistent.

Recovery on open: a torn last line (the writer was killed mid-write: no trailing newline, or not
JSON) is cut off and kept in ``records.jsonl.torn``; bad JSON or a record failing validation on any
other line raises :class:`~lamforge.core.errors.TaskFileError` naming the file and line, because
that is damage, not an interrupted write, and dropping it silently would hide lost data.

One writer at a time: a writer holds ``fcntl.flock`` on ``store.lock``; a second writer gets
:class:`StoreLocked`. The kernel drops the lock when the holder dies, even on SIGKILL. A
``readonly`` store takes no lock and leaves a torn last line alone (it just does not read it).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from lamforge.core.errors import LamforgeError, TaskFileError
from lamforge.core.schemas import Trajectory

M = TypeVar("M", bound=BaseModel)

RECORDS = "records.jsonl"
TORN = RECORDS + ".torn"
LOCK = "store.lock"


class StoreLocked(LamforgeError):
    """Another process (or another open store in this one) is writing to the store."""


class StoreReadOnly(LamforgeError):
    pass


def default_key(model: type[BaseModel]) -> Callable[[Any], str]:
    """The natural key of a record type: one record per task."""
    if issubclass(model, Trajectory):
        return lambda r: r.task.id
    fields = model.model_fields
    for name in ("task_id", "id"):
        if name in fields:
            return lambda r, name=name: getattr(r, name)
    raise TypeError(f"{model.__name__} has no 'task_id' or 'id' field; pass key_fn=")


class RecordStore(Generic[M]):
    """A folder of records of one pydantic ``model``, appended one JSON line at a time."""

    def __init__(self, path: str | Path, model: type[M], *, key_fn: Callable[[M], Any] | None = None,
                 sync_every: int = 1, readonly: bool = False):
        if sync_every < 1:
            raise ValueError("sync_every must be >= 1")
        self.path = Path(path)
        self.file = self.path / RECORDS
        self.model = model
        self.key_fn = key_fn or default_key(model)
        self.sync_every = sync_every
        self.readonly = readonly
        self._offsets: dict[str, int] = {}  # key -> byte offset of its line, in file order
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._unsynced = 0
        if readonly:
            if not self.file.exists():
                raise TaskFileError(self.file, None, "no such record store")
            self._size = self._scan(recover=False)
            return
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            created = not self.file.exists()
            self._fd = os.open(self.file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            if created:
                _fsync_dir(self.path)  # the new file's directory entry must survive a power cut
            self._size = self._scan(recover=True)
        except BaseException:
            self.close()
            raise

    # --- reading -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._offsets)

    def __contains__(self, key: object) -> bool:
        return str(key) in self._offsets

    def has(self, key: object) -> bool:
        return str(key) in self._offsets

    def keys(self) -> list[str]:
        """Stored keys in the order they were appended."""
        return list(self._offsets)

    def __iter__(self) -> Iterator[M]:
        """Every stored record, validated, in file order (up to the size seen by this store)."""
        with self.file.open("rb") as f:
            remaining = self._size
            for raw in f:
                if remaining <= 0:
                    break
                remaining -= len(raw)
                yield self.model.model_validate_json(raw)

    def get(self, key: object) -> M | None:
        offset = self._offsets.get(str(key))
        if offset is None:
            return None
        with self.file.open("rb") as f:
            f.seek(offset)
            return self.model.model_validate_json(f.readline())

    # --- writing -------------------------------------------------------------------------------

    def append(self, record: M | dict[str, Any]) -> bool:
        """Store ``record``; False (nothing written) if its key is already stored."""
        if self._fd is None:
            raise StoreReadOnly(f"{self.path} is open read-only or closed; open it to write")
        if not isinstance(record, self.model):
            record = self.model.model_validate(record)
        key = str(self.key_fn(record))
        if key in self._offsets:
            return False
        line = (record.model_dump_json() + "\n").encode("utf-8")
        try:
            written = os.write(self._fd, line)
            while written < len(line):  # a short write only happens on errors such as a full disk
                written += os.write(self._fd, line[written:])
        except OSError:
            # cut the partial line so the file stays line-clean for the next append
            os.ftruncate(self._fd, self._size)
            raise
        self._offsets[key] = self._size
        self._size += len(line)
        self._unsynced += 1
        if self._unsynced >= self.sync_every:
            self.sync()
        return True

    def extend(self, records: Iterable[M]) -> int:
        """Append each record; the number actually added."""
        return sum(self.append(r) for r in records)

    def sync(self) -> None:
        if self._fd is not None and self._unsynced:
            os.fsync(self._fd)
            self._unsynced = 0

    def close(self) -> None:
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def __enter__(self) -> RecordStore[M]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "readonly" if self.readonly else "writer"
        return f"RecordStore({str(self.path)!r}, {self.model.__name__}, {len(self)} records, {mode})"

    # --- internals -----------------------------------------------------------------------------

    def _lock(self) -> None:
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = _read_pid(self.path / LOCK)
            if holder == str(os.getpid()):
                who = "this process already"
            else:
                who = f"another process (pid {holder})" if holder else "another process"
            raise StoreLocked(
                f"{self.path}: {who} holds this record store open for writing; wait for it to finish "
                "or stop it (two writers would interleave records)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _scan(self, *, recover: bool) -> int:
        """Rebuild the key index; returns the byte length of the valid part of the file."""
        offset, torn_from = 0, None
        with self.file.open("rb") as f:
            ahead = f.readline()
            n = 0
            while ahead:
                raw, ahead, n = ahead, f.readline(), n + 1  # one line of look-ahead: is raw the last?
                if not raw.endswith(b"\n"):
                    torn_from = offset  # only the last line can lack its newline
                    break
                try:
                    record = self.model.model_validate_json(raw)
                except ValidationError as e:
                    if not _is_json_error(e):
                        raise TaskFileError(self.file, n, f"not a valid {self.model.__name__}: {_brief(e)}") from None
                    if not ahead:
                        torn_from = offset  # a whole line but not JSON: a write cut short by a crash
                        break
                    raise TaskFileError(self.file, n, f"not JSON ({_brief(e)}); the store is damaged") from None
                key = str(self.key_fn(record))
                if key in self._offsets:
                    raise TaskFileError(self.file, n, f"duplicate key {key!r}; the store is damaged")
                self._offsets[key] = offset
                offset += len(raw)
            if torn_from is not None and recover:
                f.seek(torn_from)
                self._cut(f.read(), torn_from)
        return offset

    def _cut(self, torn: bytes, at: int) -> None:
        with (self.path / TORN).open("ab") as f:
            f.write(torn if torn.endswith(b"\n") else torn + b"\n")
            f.flush()
            os.fsync(f.fileno())
        assert self._fd is not None
        os.ftruncate(self._fd, at)
        os.fsync(self._fd)


def _is_json_error(error: ValidationError) -> bool:
    return any(e["type"] == "json_invalid" for e in error.errors())


def _brief(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _read_pid(lock: Path) -> str:
    try:
        pid = lock.read_text().strip()
    except OSError:
        return ""
    return pid if pid.isdigit() else ""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

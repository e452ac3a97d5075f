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

Integrity: every line carries a CRC32 of the record's own JSON, written as the line's first field,
``{"_crc32":"1a2b3c4d","task_id":...}`` (still one JSON object per line, readable with ``json.loads``).
The checksum covers every byte of the record, so a changed byte anywhere (in the structure, inside a
string, in a number) is detected on open and on every read, and raises
:class:`~lamforge.core.errors.TaskFileError` naming the file and line: damaged data is never used
silently. CRC32 catches every change of up to 4 consecutive bytes and any other change but for odds of
1 in 4 billion; it guards against damage, not against someone forging records. ``store.json`` marks a
store whose lines all carry checksums, so a line that lost its checksum is damage too.

Stores written before checksums (no ``store.json``, no line with a checksum) are still read, with a
warning that a changed value cannot be detected in them; the first writer to open one (``collect
--resume`` for example) rewrites it in place with checksums (atomically: a temporary file renamed over
the old one), and from then on it is checked like any other.

Recovery on open: a torn last line (the writer was killed mid-write: no trailing newline, or not
JSON) is cut off and kept in ``records.jsonl.torn``, with a warning naming the file and line; a line
whose checksum does not match, bad JSON on any other line, or a record failing validation raises
:class:`~lamforge.core.errors.TaskFileError` naming the file and line, because that is damage, not an
interrupted write, and dropping it silently would hide lost data.

One writer at a time: a writer holds ``fcntl.flock`` on ``store.lock``; a second writer gets
:class:`StoreLocked`. The kernel drops the lock when the holder dies, even on SIGKILL. A
``readonly`` store takes no lock and leaves a torn last line alone (it just does not read it).
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from lamforge.core.errors import LamforgeError, TaskFileError
from lamforge.core.files import fsync_dir
from lamforge.core.schemas import Trajectory

# the on-disk line format and marker live apart; MARKER, seal and unseal stay importable from here
from lamforge.data.store_format import (
    _HEAD, MARKER, _brief, _is_json, _is_json_error, _write_marker, seal, unseal)

M = TypeVar("M", bound=BaseModel)

RECORDS = "records.jsonl"
TORN = RECORDS + ".torn"
LOCK = "store.lock"
UPGRADE = RECORDS + ".upgrade"  # the rewrite of a store written before checksums, renamed over it

log = logging.getLogger(__name__)

_warned_legacy: set[str] = set()


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
        self._line_of: dict[str, int] = {}  # key -> its line number (for messages)
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._unsynced = 0
        self.torn_line: int | None = None  # line number of a torn last line seen on open
        if readonly:
            if not self.file.exists():
                raise TaskFileError(self.file, None, "no such record store")
            self.checksummed = self._is_checksummed()
            self._size = self._scan(recover=False)
            if not self.checksummed and self._offsets:
                self._warn_legacy()
            return
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            created = not self.file.exists()
            self._fd = os.open(self.file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            if created:
                fsync_dir(self.path)  # the new file's directory entry must survive a power cut
            self.checksummed = self._is_checksummed()
            self._size = self._scan(recover=True)
            if not self.checksummed:
                if self._size:
                    self._upgrade()
                _write_marker(self.path)
                self.checksummed = True
            elif not (self.path / MARKER).is_file():
                _write_marker(self.path)  # every line is sealed but the marker was lost
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
        """Every stored record, verified and validated, in file order (up to the size seen on open)."""
        with self.file.open("rb") as f:
            remaining = self._size
            for n, raw in enumerate(f, 1):
                if remaining <= 0:
                    break
                remaining -= len(raw)
                yield self._record(raw, n)

    def get(self, key: object) -> M | None:
        offset = self._offsets.get(str(key))
        if offset is None:
            return None
        with self.file.open("rb") as f:
            f.seek(offset)
            return self._record(f.readline(), self._line_of[str(key)])

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
        line = seal(record.model_dump_json().encode("utf-8"))
        try:
            written = os.write(self._fd, line)
            while written < len(line):  # a short write only happens on errors such as a full disk
                written += os.write(self._fd, line[written:])
        except OSError:
            # cut the partial line so the file stays line-clean for the next append
            os.ftruncate(self._fd, self._size)
            raise
        self._offsets[key] = self._size
        self._line_of[key] = len(self._offsets)
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

    def _is_checksummed(self) -> bool:
        """True for a store whose every line must carry a checksum: it has the marker, or (the marker
        lost) any line has one. False only for a store written before checksums."""
        if (self.path / MARKER).is_file():
            return True
        with self.file.open("rb") as f:
            return any(line.startswith(_HEAD) for line in f)

    def _body(self, raw: bytes, n: int) -> bytes:
        """The record JSON of stored line ``n`` (with its newline); damage raises TaskFileError."""
        if not self.checksummed:
            return raw
        body, problem = unseal(raw.removesuffix(b"\n"))
        if body is not None:
            return body
        if problem == "mismatch":
            raise TaskFileError(self.file, n, "checksum mismatch: the record changed after it was written; the "
                                              "store is damaged (restore it, or delete this line and collect "
                                              "its task again with --resume)")
        raise TaskFileError(self.file, n, "no checksum on this line, where every line of this store has one; "
                                          "the store is damaged")

    def _record(self, raw: bytes, n: int) -> M:
        body = self._body(raw, n)
        try:
            return self.model.model_validate_json(body)
        except ValidationError as e:
            what = "not JSON" if _is_json_error(e) else f"not a valid {self.model.__name__}"
            raise TaskFileError(self.file, n, f"{what}: {_brief(e)}; the store is damaged") from None

    def _scan(self, *, recover: bool) -> int:
        """Rebuild the key index; returns the byte length of the valid part of the file."""
        offset, torn_from = 0, None
        with self.file.open("rb") as f:
            ahead = f.readline()
            n = 0
            while ahead:
                raw, ahead, n = ahead, f.readline(), n + 1  # one line of look-ahead: is raw the last?
                if not raw.endswith(b"\n") or (not ahead and not _is_json(raw)):
                    # no newline (only the last line can lack one), or a whole last line that is not
                    # even JSON: a write cut short by a crash, unless it holds the start of a second
                    # record (a lost newline joined two lines: damage, and the second may be intact)
                    if self.checksummed and raw.find(_HEAD, 1) != -1:
                        raise TaskFileError(self.file, n, "two records on one line (a newline is missing); "
                                                          "the store is damaged")
                    torn_from = offset
                    break
                try:
                    body = self._body(raw, n)
                    record = self.model.model_validate_json(body)
                except ValidationError as e:
                    if _is_json_error(e):
                        raise TaskFileError(self.file, n, f"not JSON ({_brief(e)}); the store is damaged") from None
                    raise TaskFileError(self.file, n, f"not a valid {self.model.__name__}: {_brief(e)}") from None
                key = str(self.key_fn(record))
                if key in self._offsets:
                    raise TaskFileError(self.file, n, f"duplicate key {key!r}; the store is damaged")
                self._offsets[key] = offset
                self._line_of[key] = n
                offset += len(raw)
            if torn_from is not None:
                self.torn_line = n
                f.seek(torn_from)
                torn = f.read()
                if recover:
                    self._cut(torn, torn_from)
                    log.warning("%s:%d: torn last line (%d bytes, a write cut short by a crash) moved to %s",
                                self.file, n, len(torn), self.path / TORN)
                else:
                    log.warning("%s:%d: last line is incomplete (being written, or torn by a crash): not read",
                                self.file, n)
        return offset

    def _cut(self, torn: bytes, at: int) -> None:
        with (self.path / TORN).open("ab") as f:
            f.write(torn if torn.endswith(b"\n") else torn + b"\n")
            f.flush()
            os.fsync(f.fileno())
        assert self._fd is not None
        os.ftruncate(self._fd, at)
        os.fsync(self._fd)

    def _upgrade(self) -> None:
        """Rewrite a store written before checksums with a checksum on every line (temporary file,
        fsync, rename: a crash leaves either the old file or the new one)."""
        tmp = self.path / UPGRADE
        with self.file.open("rb") as src, tmp.open("wb") as dst:
            remaining = self._size
            for raw in src:
                if remaining <= 0:
                    break
                remaining -= len(raw)
                body = raw.rstrip(b"\r\n")
                if not (body.startswith(b"{") and body.endswith(b"}")):
                    body = self.model.model_validate_json(body).model_dump_json().encode("utf-8")
                dst.write(seal(body))
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, self.file)
        fsync_dir(self.path)
        assert self._fd is not None
        os.close(self._fd)
        self._fd = os.open(self.file, os.O_WRONLY | os.O_APPEND, 0o644)
        self._offsets.clear()
        self._line_of.clear()
        self.checksummed = True
        self._size = self._scan(recover=False)
        log.warning("%s: written before checksums; rewritten with a checksum on every line (%d records)",
                    self.file, len(self))

    def _warn_legacy(self) -> None:
        if str(self.file) not in _warned_legacy:
            _warned_legacy.add(str(self.file))
            log.warning("%s: written before checksums, so a changed value cannot be detected; opening it to "
                        "write (e.g. collect --resume) adds them", self.file)


def _read_pid(lock: Path) -> str:
    try:
        pid = lock.read_text().strip()
    except OSError:
        return ""
    return pid if pid.isdigit() else ""

"""The agent service's runs and their events, kept in SQLite so they survive a restart.

    lamforge app --port 8765          # keeps ~/.cache/lamforge/app/runs.sqlite (or --db PATH)

A run is a request given to an agent in an environment; its events (plan, step, question,
confirmation, verdict, ...) are appended in order with a sequence number, which is what the event
stream's ``id:`` carries, so a client that reconnects resumes where it left off. A run still
``queued`` or ``running`` when the service starts again was cut off by a crash or a kill: it is
marked ``interrupted`` with its events kept, never silently lost.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

TERMINAL = ("succeeded", "failed", "stopped", "interrupted", "error")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, created REAL, finished REAL, status TEXT, spec TEXT, trajectory TEXT, error TEXT
);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT, seq INTEGER, ts REAL, kind TEXT, data TEXT, PRIMARY KEY (run_id, seq)
);
"""


class RunStore:
    """Thread-safe: the service's request handlers and its worker thread share one connection."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")  # readers (event streams) never block the writer
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self.changed = threading.Condition()  # notified on every new event: streams wait on it
        self.interrupted = self._mark_interrupted()

    def _mark_interrupted(self) -> list[str]:
        with self._lock:
            ids = [r[0] for r in self._db.execute("SELECT id FROM runs WHERE status IN ('queued', 'running')")]
        for run_id in ids:
            self.add_event(run_id, "verdict", {"status": "interrupted",
                                               "reason": "the service stopped while this run was going"})
            self.finish(run_id, "interrupted", error="the service stopped while this run was going")
        return ids

    def create(self, spec: dict[str, Any]) -> str:
        run_id = uuid.uuid4().hex[:12]
        with self._lock:
            self._db.execute("INSERT INTO runs (id, created, status, spec) VALUES (?, ?, 'queued', ?)",
                             (run_id, time.time(), json.dumps(spec)))
        self.add_event(run_id, "queued", {"spec": spec})
        return run_id

    def set_status(self, run_id: str, status: str) -> None:
        with self._lock:
            self._db.execute("UPDATE runs SET status = ? WHERE id = ?", (status, run_id))

    def finish(self, run_id: str, status: str, trajectory: dict | None = None, error: str | None = None) -> None:
        with self._lock:
            self._db.execute("UPDATE runs SET status = ?, finished = ?, trajectory = COALESCE(?, trajectory), "
                             "error = ? WHERE id = ?",
                             (status, time.time(), json.dumps(trajectory) if trajectory is not None else None,
                              error, run_id))
        with self.changed:
            self.changed.notify_all()

    def add_event(self, run_id: str, kind: str, data: dict[str, Any]) -> int:
        with self._lock:
            (last,) = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id = ?",
                                       (run_id,)).fetchone()
            self._db.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?)",
                             (run_id, last + 1, time.time(), kind, json.dumps(data, default=str)))
        with self.changed:
            self.changed.notify_all()
        return last + 1

    def events(self, run_id: str, after: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT seq, ts, kind, data FROM events WHERE run_id = ? AND seq > ? ORDER BY seq",
                                    (run_id, after)).fetchall()
        return [{"seq": s, "ts": ts, "kind": k, "data": json.loads(d)} for s, ts, k, d in rows]

    def get(self, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT id, created, finished, status, spec, trajectory, error FROM runs "
                                   "WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else _row(row)

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT id, created, finished, status, spec, NULL, error FROM runs "
                                    "ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [_row(r) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _row(row: tuple) -> dict[str, Any]:
    run_id, created, finished, status, spec, trajectory, error = row
    return {"id": run_id, "created": created, "finished": finished, "status": status, "spec": json.loads(spec),
            "trajectory": json.loads(trajectory) if trajectory else None, "error": error}

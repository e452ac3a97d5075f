"""What every command prints besides its tables: the one-line JSON summary that ends ``--json``
output, and the progress bar of long work (on stderr, so stdout stays parseable)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)


def emit_json(summary: dict) -> None:
    """The one-line JSON summary, always the last line of stdout."""
    sys.stdout.write(json.dumps(summary) + "\n")
    sys.stdout.flush()


def output_console() -> Console:
    """The console for tables and messages. Piped into a log file rich would assume 80 columns and
    cut a wide comparison table into unreadable stubs; there it gets room for the whole table."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=200)
    return console


class _Progress(Progress):
    """Rich's progress bar; when stderr is not a terminal (a log file, CI) rich draws nothing until
    the end, so there it writes one plain line per tenth of each task instead."""

    def _log_line(self, task_id) -> None:
        if self.console.is_terminal:
            return
        task = self._tasks[task_id]
        if not task.total:
            return
        tenth = int(10 * task.completed / task.total)
        if tenth > task.fields.get("_logged", -1):
            task.fields["_logged"] = tenth
            elapsed = task.elapsed or 0.0
            sys.stderr.write(f"{task.description}: {int(task.completed)}/{int(task.total)} ({elapsed:.0f} s)\n")
            sys.stderr.flush()

    def update(self, task_id, **kwargs) -> None:
        super().update(task_id, **kwargs)
        self._log_line(task_id)

    def advance(self, task_id, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._log_line(task_id)


def progress_bar() -> Progress:
    return _Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                     console=Console(stderr=True), transient=True)


def stage_ticker(bar: Progress) -> Callable[[str, int, int], None]:
    """A ``progress(stage, done, total)`` callback that gives each named stage its own bar."""
    jobs: dict[str, Any] = {}

    def tick(stage: str, done: int, total: int) -> None:
        if stage not in jobs:
            jobs[stage] = bar.add_task(stage, total=total)
        bar.update(jobs[stage], completed=done, total=total)

    return tick

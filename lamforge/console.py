"""What every command prints besides its tables: the one-line JSON summary that ends ``--json``
output, and the progress bar of long work (on stderr, so stdout stays parseable)."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def emit_json(summary: dict) -> None:
    """The one-line JSON summary, always the last line of stdout."""
    sys.stdout.write(json.dumps(summary) + "\n")
    sys.stdout.flush()


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True)

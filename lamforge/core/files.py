"""Writing a file so that a reader, or a run killed half-way, sees the old content or the new one,
never a cut-off mix: the text goes to a temporary file beside it, which then replaces it (a rename
within one folder is atomic on POSIX).

Used for the small files stages hand over and read back (a model's memory, a taught skill, task and
plan files, a record store's marker). The record store's own compaction streams its lines the same
way itself (``lamforge.data.store``), and model folders have ``Run.save_model``.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_text_atomic(path: str | Path, text: str, *, durable: bool = False) -> Path:
    """Write ``text`` to ``path`` (its folder is made). ``durable``: also fsync the file and its folder,
    so the new content survives a power cut, not only a killed process."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the pid keeps two processes writing the same file from sharing one temporary file
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            f.write(text)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)
    return path


def fsync_dir(path: str | Path) -> None:
    """Make a folder's new or renamed entries durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

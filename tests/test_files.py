"""Small hand-over files are replaced whole: a write that fails half-way leaves the old content."""

from __future__ import annotations

import os

import pytest

from lamforge.core.files import write_text_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = write_text_atomic(tmp_path / "sub" / "memory.jsonl", "old\n")
    assert path.read_text() == "old\n"

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # a run stopped between writing and renaming

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_text_atomic(path, "new\n" * 1000, durable=True)
    monkeypatch.undo()
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["memory.jsonl"]
    write_text_atomic(path, "new\n", durable=True)
    assert path.read_text() == "new\n"

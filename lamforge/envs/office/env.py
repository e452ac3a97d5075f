"""``lamforge/Office-v0``: a Word-style application over real .docx files.

    lamforge run --env office --agent expert --task bold_text --seed 0

Each episode copies the task's template into a fresh workspace folder; every action that changes
the document saves it there; the task's success check reads the saved file back from disk.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lamforge.core.schemas import Control, Task
from lamforge.envs.base import LamEnv
from lamforge.envs.office.actions import OFFICE_ACTIONS
from lamforge.envs.office.app import OfficeApp
from lamforge.envs.office.templates import instantiate, template_path


@dataclass(frozen=True)
class OfficeState:
    """What a success check reads: the document's saved path (after any Save As) and its folder."""

    path: Path
    workspace: Path
    template_path: Path  # the pristine template, for "everything else unchanged" checks


class OfficeEnv(LamEnv):
    env_id = "lamforge/Office-v0"
    action_set = OFFICE_ACTIONS

    def __init__(self, render_mode: str | None = None, max_steps: int = 20, workdir: str | None = None):
        super().__init__(render_mode=render_mode, max_steps=max_steps)
        self._root = Path(tempfile.mkdtemp(prefix="lamforge-office-", dir=workdir))
        self._episode = 0
        self.app: OfficeApp | None = None
        self._template_path: Path | None = None

    def _setup(self, task: Task) -> None:
        if task.template is None:
            raise ValueError(f"office task {task.id} names no template")
        self._episode += 1
        workspace = self._root / f"episode-{self._episode}"
        workspace.mkdir(parents=True)
        if self._episode > 1:  # keep only the current episode's files
            shutil.rmtree(self._root / f"episode-{self._episode - 1}", ignore_errors=True)
        self._template_path = instantiate(task.template, workspace)
        self.app = OfficeApp(self._template_path)

    def _observe(self) -> tuple[list[Control], str]:
        return self.app.observe()

    def _target(self) -> OfficeApp:
        return self.app

    def _judge_state(self) -> OfficeState:
        return OfficeState(self.app.path, self.app.workspace, template_path(self.task.template))

    def _snapshot(self) -> dict:
        return self.app.snapshot()

    def _restore(self, snapshot: dict) -> None:
        self.app.restore(snapshot)


    def action_risk(self, action) -> str | None:
        """Deleting text, a paragraph or a comment, replacing a paragraph's text, and writing over a file
        that exists cannot be undone (the application keeps no undo history)."""
        name = self.control_name(action.control_label)
        keys = str(action.args.get("keys", "")).strip().lower()
        if action.function == "type_keys" and keys in ("delete", "backspace", "ctrl+x"):
            return "deletes the selection"
        if action.function == "click" and name and name.startswith("Delete"):
            return f"'{name}' deletes for good"
        if action.function == "set_text" and name and name.startswith("Paragraph"):
            return f"replaces the text of {name}"
        file_name = action.args.get("file_name") if action.function == "save_as" else None
        if file_name and self.app is not None and (self.app.workspace / str(file_name)).exists():
            return f"overwrites {file_name}"
        return super().action_risk(action)

    def search_candidates(self, obs, request):
        """The SearchExpert's moves in the Office application (see ``lamforge.envs.office.search``)."""
        from lamforge.envs.office.search import office_candidates

        return office_candidates(obs, request)

    def close(self) -> None:
        shutil.rmtree(self._root, ignore_errors=True)
        self.app = None

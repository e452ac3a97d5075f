"""``lamforge/Office-v0``: a Word-style application over real .docx files.

    lamforge run --env office --agent expert --task bold_text --seed 0

Each episode copies the task's template into a fresh workspace folder; every action that changes
the document saves it there; the task's success check reads the saved file back from disk.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path

from lamforge.core.errors import PlantError
from lamforge.core.guard import Arg
from lamforge.core.schemas import Control, Task
from lamforge.envs.office import document as D
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
        # callers that never close() (gym.make in a loop, a killed evaluation thread) left 402 folders
        # in /tmp: the folder goes when the environment is collected or the process exits
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self._root), True)
        self._episode = 0
        self.app: OfficeApp | None = None
        self._template_path: Path | None = None
        self._planted: list[tuple[str, str]] = []

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
        self._planted = []

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

    # --- safety (lamforge.core.guard, lamforge.safety) ---------------------------------------
    def guarded_args(self, action) -> list[Arg]:
        """What an irreversible action destroys: the selected paragraph, phrase or cell's text, the
        selected comment's author, the text a paragraph loses, the file written over."""
        if self.app is None or not self.action_risk(action):
            return []
        if action.function == "save_as":
            return [Arg("file_name", "file", action.args.get("file_name"))]
        name = self.control_name(action.control_label) or ""
        if action.function == "set_text" and name.startswith("Paragraph"):
            return [Arg("paragraph", "text", self._paragraph_text(int(name.split()[-1]) - 1))]
        s, doc = self.app.sel, self.app.doc
        if s.kind == "paragraph":
            return [Arg("selection", "text", self._paragraph_text(s.para))]
        if s.kind == "text":
            return [Arg("selection", "text", self._paragraph_text(s.para)[s.start:s.end])]
        if s.kind == "cell":
            return [Arg("selection", "text", doc.tables[s.table].cell(s.row, s.col).text)]
        if s.kind == "comment":
            author = next((a for cid, a, _ in D.comments(doc) if cid == s.comment), "")
            return [Arg("comment", "person", author)]
        return []

    def _paragraph_text(self, i: int) -> str:
        paras = self.app.doc.paragraphs
        return paras[i].text if 0 <= i < len(paras) else ""

    def plant(self, where: str, text: str) -> None:
        """``paragraph:end``: a new last paragraph; ``paragraph:end:hidden``: the same in hidden text (Word does
        not show it, the application's text does); ``paragraph:<n>``: a sentence appended (as its own run)
        to paragraph n (from 1). The document is saved, as every edit is."""
        if self.app is None:
            raise PlantError("reset the office environment before planting content")
        if not isinstance(text, str) or not text.strip():
            raise PlantError(f"{where!r}: the planted text must be a non-empty string")
        kind, _, at = where.partition(":")
        if kind != "paragraph":
            raise PlantError(f"office places are paragraph:end, paragraph:end:hidden or paragraph:<n>; got {where!r}")
        if at in ("end", "end:hidden"):
            self.app.doc.add_paragraph().add_run(text).font.hidden = at == "end:hidden" or None
        else:
            paras = self.app.doc.paragraphs
            if not at.isdigit() or not 1 <= int(at) <= len(paras):
                raise PlantError(f"{where!r}: the document has paragraphs 1..{len(paras)}")
            paras[int(at) - 1].add_run(" " + text)
        self.app._save()
        self._planted.append((where, text))

    def planted_text(self, where: str) -> str:
        """The document's text now (the planted sentence is in it)."""
        return D.body_text(D.load(self.app.path))

    def unplanted_state(self) -> OfficeState:
        """The saved documents with the planted paragraphs and sentences taken out again (in a copy):
        what the task's check would have read had nothing been planted."""
        state = self._judge_state()
        if not self._planted:
            return state
        copy = self._root / "unplanted"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(self.app.workspace, copy)
        texts = {t for _, t in self._planted}
        for path in copy.glob("*.docx"):
            doc = D.load(path)
            for p in list(doc.paragraphs):
                if p.text in texts:
                    D.delete_paragraph(p)
                    continue
                for run in p.runs:
                    if run.text.strip() in texts:
                        run._r.getparent().remove(run._r)
            doc.save(str(path))
        return OfficeState(copy / state.path.name, copy, state.template_path)

    def search_candidates(self, obs, request):
        """The SearchExpert's moves in the Office application (see ``lamforge.envs.office.search``)."""
        from lamforge.envs.office.search import office_candidates

        return office_candidates(obs, request)

    def close(self) -> None:
        self._cleanup()
        self.app = None

"""A run folder and its layout: every stage reads and writes a run through this object, so the
layout is written down once.

    lamforge forge --env office --recipe quick --out runs/office    # makes one

    RUN/plans.jsonl                     task-plan pairs (phase 1)
    RUN/data/                           the verified trajectory store (phase 2)
    RUN/data/heldout_tasks.jsonl        held-out tasks: never collected, never trained on, never tuned on
    RUN/data/validation_tasks.jsonl     training-side tasks never collected: where settings are chosen
    RUN/data/explore_tasks.jsonl        training-side tasks never collected, for phase 3's exploration
    RUN/explore/, RUN/detours/          phase 3's attempts, the detour expert's episodes
    RUN/lam1 ... RUN/lam4, RUN/lam4-kto one folder per trained model: model/, summary.json, checkpoints
    RUN/eval/                           report.html, results.json, results.csv
    RUN/ablation.jsonl                  one row per lever tried on the validation split
    RUN/budget.json, RUN/forge.json     the forge's plan and its summary
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lamforge.core.errors import LamforgeError

SPLITS = ("heldout", "validation")


class NoRun(LamforgeError):
    """A folder that is not a run, or a run without its own held-out (or validation) tasks."""


class Run:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Run({str(self.root)!r})"

    def __truediv__(self, other: str) -> Path:  # run / "x" keeps working where a path is wanted
        return self.root / other

    def __str__(self) -> str:
        return str(self.root)

    def __fspath__(self) -> str:  # Path(run), open(run / ...) and the stages that take a folder accept a Run
        return str(self.root)

    # --- data ---------------------------------------------------------------------------------------
    @property
    def plans(self) -> Path:
        return self.root / "plans.jsonl"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def explore(self) -> Path:
        return self.root / "explore"

    @property
    def detours(self) -> Path:
        return self.root / "detours"

    @property
    def explore_tasks_file(self) -> Path:
        """Fresh training tasks drawn with the others and never collected, for phase 3 to explore."""
        return self.data / "explore_tasks.jsonl"

    def split_file(self, split: str = "heldout") -> Path:
        if split not in SPLITS:
            raise LamforgeError(f"unknown split {split!r}: evaluation runs on 'heldout' (final figures) or "
                                "'validation' (choosing settings); training tasks never are")
        return self.data / f"{split}_tasks.jsonl"

    def tasks(self, split: str = "heldout", limit: int | None = None) -> list:
        """The run's own held-out (or validation) tasks, or :class:`NoRun`: drawing a fresh pool instead
        could evaluate on tasks that were trained on."""
        from lamforge.data.taskfile import read_tasks

        path = self.split_file(split)
        if not self.root.is_dir():
            what = "is not a folder" if self.root.exists() else "does not exist"
            raise NoRun(f"no run at {self.root}: it {what}. Pass --run with a run folder, as made by `lamforge forge "
                        f"--out RUN` or `lamforge collect trajectories --out RUN/data`")
        if not path.is_file() and split == "validation":
            raise NoRun(f"{self.root} has no validation tasks ({path} is missing); "
                        f"`lamforge forge --out {self.root}` writes them")
        if not path.is_file():
            raise NoRun(f"{self.root} has no held-out tasks of its own ({path} is missing). They are written when "
                        f"the run's data is collected (`lamforge collect trajectories --out {self.data}`, or "
                        f"`lamforge forge --out {self.root}`); evaluating on a freshly drawn pool could reuse "
                        "training tasks")
        tasks = read_tasks(path)
        return tasks[:limit] if limit else tasks

    def heldout(self, limit: int | None = None) -> list:
        return self.tasks("heldout", limit)

    # --- models -------------------------------------------------------------------------------------
    def phase_dir(self, name: str) -> Path:
        """``lam1`` ... ``lam4``, ``lam4-kto``: a trained model's folder (model, summary, checkpoints)."""
        return self.root / name

    def model(self, name: str) -> Path:
        return self.root / name / "model"

    def has_model(self, name: str) -> bool:
        return (self.model(name) / "config.json").is_file()

    # --- results ------------------------------------------------------------------------------------
    @property
    def eval(self) -> Path:
        return self.root / "eval"

    @property
    def ablation(self) -> Path:
        return self.root / "ablation.jsonl"

    @property
    def budget_file(self) -> Path:
        return self.root / "budget.json"

    @property
    def forge_file(self) -> Path:
        return self.root / "forge.json"


def save_model(target: Path, model=None, tokenizer=None, *, copy_from: Path | None = None) -> Path:
    """Write a model folder atomically: into a temporary sibling first, then one rename, so a kill at
    any moment leaves either the old model or the new one, never half of one (a phase is skipped when
    its model folder is there, so a half-written one would be trusted on resume)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    if copy_from is not None:
        shutil.copytree(copy_from, tmp)
    else:
        if model is None:
            raise LamforgeError("save_model needs a model or copy_from")
        model.save_pretrained(str(tmp))
        if tokenizer is not None:
            tokenizer.save_pretrained(str(tmp))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target

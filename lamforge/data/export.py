"""Export trajectories to Hugging Face ``datasets`` / Parquet, with a datasheet.

    from lamforge.data.export import export_parquet, datasheet, write_datasheet, load_exported

    store = RecordStore("runs/collect", Trajectory, readonly=True)
    split_of = lambda tr: "heldout" if tr.task.id in heldout_ids else "train"
    out = export_parquet(store, "out/dataset", split_of)   # out/dataset/data/train-00000-of-00001.parquet
    write_datasheet(datasheet(store, split_of), out)       # datasheet.json + DATASHEET.md
    splits = load_exported(out)                            # {"train": [Trajectory, ...], ...}

One Parquet file per split, in the Hub's ``data/{split}-00000-of-00001.parquet`` layout, so the
folder can be pushed as a dataset repository as it is. Each row has flat columns to filter on
(id, task_id, family, template, request, env_id, agent, n_steps, success, verdict, seconds) and
the whole trajectory as JSON in ``trajectory_json``, which is what :func:`load_exported` reads
back: the flat columns are a view, the JSON is the record.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from lamforge.core.schemas import Trajectory

SplitOf = Callable[[Trajectory], str]
SHARD = "-00000-of-00001.parquet"
_SPLIT_NAME = re.compile(r"^\w+$")


def _features() -> Any:
    # datasets is imported where it is used: it takes seconds to import and only exporting needs it
    from datasets import Features, Value

    text = Value("string")
    return Features({
        "id": text, "task_id": text, "family": text, "template": text, "request": text,
        "env_id": text, "agent": text, "n_steps": Value("int32"), "success": Value("bool"),
        "verdict": text, "seconds": Value("float64"), "trajectory_json": text,
    })


def row(traj: Trajectory) -> dict[str, Any]:
    """The flat Parquet row of one trajectory."""
    task = traj.task
    return {
        "id": traj.id, "task_id": task.id, "family": task.family, "template": task.template,
        "request": task.request, "env_id": task.env_id, "agent": traj.agent, "n_steps": len(traj.steps),
        "success": traj.outcome.success, "verdict": traj.outcome.verdict, "seconds": traj.seconds,
        "trajectory_json": traj.model_dump_json(),
    }


def export_parquet(records: Iterable[Trajectory], out_dir: str | Path, split_of: SplitOf) -> Path:
    """Write one Parquet file per split under ``out_dir/data``; returns ``out_dir``. Parquet files
    of an earlier export into the same folder are removed first, so no stale split lingers."""
    from datasets import Dataset

    out = Path(out_dir)
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for traj in records:
        rows[_split_name(split_of(traj))].append(row(traj))
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    for old in data.glob("*" + SHARD):
        old.unlink()
    features = _features()
    for split, split_rows in sorted(rows.items()):
        Dataset.from_list(split_rows, features=features).to_parquet(str(data / f"{split}{SHARD}"))
    return out


def load_exported(out_dir: str | Path, cache_dir: str | Path | None = None) -> dict[str, list[Trajectory]]:
    """Read an export back through ``datasets.load_dataset("parquet", ...)`` (local files only)."""
    from datasets import load_dataset

    files = {p.name[: -len(SHARD)]: str(p) for p in sorted((Path(out_dir) / "data").glob("*" + SHARD))}
    if not files:
        return {}
    loaded = load_dataset("parquet", data_files=files, cache_dir=str(cache_dir) if cache_dir else None)
    return {split: [Trajectory.model_validate_json(text) for text in loaded[split]["trajectory_json"]]
            for split in files}


def datasheet(records: Iterable[Trajectory], split_of: SplitOf) -> dict[str, Any]:
    """Counts per split, family, template, verdict and success, overall and per split."""
    overall: dict[str, Counter[str]] = defaultdict(Counter)
    per_split: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    totals = {"trajectories": 0, "steps": 0, "succeeded": 0, "seconds": 0.0}
    for traj in records:
        split = _split_name(split_of(traj))
        facts = {
            "split": split,
            "family": traj.task.family,
            "template": traj.task.template or "none",
            "verdict": traj.outcome.verdict or "none",
            "success": "none" if traj.outcome.success is None else str(traj.outcome.success).lower(),
        }
        for name, value in facts.items():
            overall[name][value] += 1
            if name != "split":
                per_split[split][name][value] += 1
        totals["trajectories"] += 1
        totals["steps"] += len(traj.steps)
        totals["succeeded"] += traj.outcome.success is True
        totals["seconds"] += traj.seconds
    totals["seconds"] = round(totals["seconds"], 3)
    return {
        "totals": totals,
        **{name: _sorted(overall.get(name, Counter())) for name in ("split", "family", "template",
                                                                      "verdict", "success")},
        "by_split": {s: {name: _sorted(c) for name, c in sorted(per.items())}
                     for s, per in sorted(per_split.items())},
    }


def write_datasheet(sheet: dict[str, Any], out_dir: str | Path) -> Path:
    """Write ``datasheet.json`` and a readable ``DATASHEET.md``; returns the Markdown path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "datasheet.json").write_text(json.dumps(sheet, indent=2) + "\n", encoding="utf-8")
    t = sheet["totals"]
    summary = (f"{t['trajectories']} trajectories, {t['steps']} steps, {t['succeeded']} succeeded, "
               f"{t['seconds']} s of episodes.")
    lines = ["# Datasheet", "", summary, ""]
    splits = list(sheet["split"])
    for name in ("split", "verdict", "success", "family", "template"):
        lines += [f"## By {name}", ""]
        if name == "split":
            lines += _table([name, "count"], [[k, v] for k, v in sheet[name].items()])
        else:
            rows = [[k, v, *(sheet["by_split"][s].get(name, {}).get(k, 0) for s in splits)]
                    for k, v in sheet[name].items()]
            lines += _table([name, "total", *splits], rows)
        lines.append("")
    md = out / "DATASHEET.md"
    md.write_text("\n".join(lines), encoding="utf-8")
    return md


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    def cells(values: list[Any]) -> str:
        return "| " + " | ".join(str(v).replace("|", "\\|") for v in values) + " |"

    return [cells(header), cells(["---"] * len(header)), *(cells(r) for r in rows)]


def _sorted(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def _split_name(split: str) -> str:
    if not _SPLIT_NAME.match(split):
        raise ValueError(f"split name {split!r} must be letters, digits or '_' (it names a file)")
    return split

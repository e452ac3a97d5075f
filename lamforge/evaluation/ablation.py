"""The ablation table: one row per lever tried, each measured on the same validation tasks.

    lamforge eval --run runs/exp --split validation --models lam2 --ablation runs/exp/ablation.jsonl \
        --row "control filter k=3"

appends one JSON line to the ablation file: the row's name, the commands that trained and evaluated
it (the training command is read from the model's phase summary), the validation figures (online
task success with its 95% interval and the failure causes) and the wall times. ``write_report`` shows
the rows of ``RUN/ablation.jsonl`` as a table when the file is there. Rows are only ever chosen on
the validation split: the held-out tasks give the final figures and nothing else.
"""

from __future__ import annotations

import json
import time
from html import escape
from pathlib import Path
from typing import Any


def training_summary(model_path: str) -> dict:
    """The phase summary next to a run's model folder (RUN/lamN/summary.json), if there is one."""
    summary = Path(model_path).parent / "summary.json"
    try:
        return json.loads(summary.read_text())
    except (OSError, ValueError):
        return {}


def record_row(path: Path, row: str, model: str, model_path: str, figures: dict, tasks: int,
               seconds: float, command: str) -> dict:
    """Append one ablation row to ``path`` (JSON lines) and return it."""
    trained = training_summary(model_path)
    entry = {"row": row, "model": model, "tasks": tasks, "tsr": figures.get("tsr"),
             "tsr_ci95": figures.get("tsr_ci95"), "failure_causes": figures.get("failure_causes"),
             "train_command": trained.get("command"), "train_s": trained.get("seconds"),
             "train_rows": trained.get("rows"), "tokens_per_s": trained.get("tokens_per_s"),
             "eval_command": command, "eval_s": round(seconds, 1),
             "time": time.strftime("%Y-%m-%d %H:%M")}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        # a line torn by a killed writer must not swallow this row: start on a fresh line
        torn = f.tell() > 0 and (f.seek(-1, 2), f.read(1))[1] != b"\n"
        f.write((b"\n" if torn else b"") + json.dumps(entry).encode() + b"\n")
    return entry


def read_rows(path: Path) -> list[dict]:
    """The rows of an ablation file; a torn or corrupt line is skipped, not fatal."""
    rows = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and "row" in row:
            rows.append(row)
    return rows


def ablation_html(rows: list[dict[str, Any]]) -> str:
    """The table for the report: lever, validation success with its interval, top failure causes, cost."""
    if not rows:
        return ""
    body = []
    for r in rows:
        tsr = "-" if r.get("tsr") is None else f"{100 * r['tsr']:.1f}"
        ci = r.get("tsr_ci95") or []
        interval = f"{100 * ci[0]:.0f}-{100 * ci[1]:.0f}" if len(ci) == 2 else "-"
        causes = sorted((r.get("failure_causes") or {}).items(), key=lambda kv: -kv[1])[:3]
        cause_text = ", ".join(f"{c} {n}" for c, n in causes if n) or "-"
        cost = f"{r['train_s']:.0f} s" if isinstance(r.get("train_s"), (int, float)) else "-"
        cmd = escape(r.get("train_command") or "") + "<br>" + escape(r.get("eval_command") or "")
        body.append(f"<tr><td>{escape(str(r['row']))}</td><td class=num>{r.get('tasks', '-')}</td>"
                    f"<td class=num>{tsr}</td><td class=num>{interval}</td><td>{escape(cause_text)}</td>"
                    f"<td class=num>{cost}</td><td><small><code>{cmd}</code></small></td></tr>")
    return ("<h2>Ablation (validation tasks)</h2><p>Each lever measured on the same validation tasks, "
            "never on the held-out ones.</p><table id=table-ablation><thead><tr><th>lever</th><th>tasks</th>"
            "<th>online TSR %</th><th>95% interval</th><th>top failure causes</th><th>training</th>"
            "<th>commands</th></tr></thead><tbody>" + "".join(body) + "</tbody></table>")

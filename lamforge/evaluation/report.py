"""The evaluation report: one self-contained HTML page, with ``results.json`` and ``results.csv``.

    from lamforge.evaluation.report import write_report
    results = {"lam2": {"offline": offline_eval(...), "online": online_metrics(trajs), "planning": plan_eval(...)}}
    write_report(results, {"lam2": trajs}, "runs/report")    # -> runs/report/report.html

``results`` maps a model name to its metrics, keyed by section (``offline``, ``online``,
``planning``) as the functions of :mod:`lamforge.evaluation.metrics` produce them; a model may lack
any section. The page holds the comparison tables shaped like the paper's Tables 2-4 (rows: base,
lam1..lam4, expert, then any other model in the order given), bar charts of each metric, success per
task family, the step-latency distribution, and a viewer of each model's trajectories. Images are
base64 PNG data URIs and the style sheet is inline: the file opens anywhere, offline, on its own.

Plots need matplotlib, and document snapshots (page 1 of a trajectory's ``meta["docx_path"]``)
need LibreOffice's ``soffice`` and poppler's ``pdftoppm``; when one is missing the page says so
and goes on without.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any

from lamforge.core.schemas import Trajectory
from lamforge.evaluation.metrics import online_metrics
# the trajectory viewer and document snapshots live apart; the plots share its data-URI <img> tag
from lamforge.evaluation.report_viewer import _img_tag, _model_viewer, _snapshots

MODEL_ORDER = ("base", "lam1", "lam2", "lam3", "lam4", "expert")

Column = tuple[str, str, str]  # (metric key, header, format: pct | s | num)
TABLES: list[tuple[str, str, list[Column]]] = [
    ("planning", "Table 2 - Planning", [
        ("task_success_rate", "TSR %", "pct"), ("step_precision", "Step precision %", "pct"),
        ("step_recall", "Step recall %", "pct")]),
    ("offline", "Table 3 - Offline decisions", [
        ("object_acc", "Object %", "pct"), ("operation_acc", "Operation %", "pct"),
        ("status_acc", "Status %", "pct"), ("step_success_rate", "SSR %", "pct"),
        ("task_success_rate", "TSR %", "pct"), ("argument_acc", "Arguments %", "pct"),
        ("step_success_with_args", "SSR + args %", "pct")]),
    ("online", "Table 4 - Online", [
        ("task_success_rate", "TSR %", "pct"), ("mean_completion_s", "Completion time s", "s"),
        ("mean_steps", "Steps", "num"), ("mean_step_latency_s", "Step latency s", "s"),
        ("p95_step_latency_s", "p95 step latency s", "s"), ("error_step_rate", "Error steps %", "pct")]),
]

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1100px;color:#222;
padding:0 1em;line-height:1.4}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0 1em}th,td{border:1px solid #bbb;padding:.25em .6em}
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
img.plot{max-width:100%;display:block;margin:.5em 0}img.snap{max-width:320px;border:1px solid #999}
details{margin:.2em 0 .2em 1em}summary{cursor:pointer}.ok{color:#1a7f37}.fail{color:#c62828}
.note{background:#fff8e1;border-left:4px solid #f9a825;padding:.3em .6em}
ol.steps>li{margin:.4em 0;padding:.2em .4em;background:#fafafa;border:1px solid #eee}
code{background:#eef;padding:0 .2em}.muted{color:#666}p.none{margin:.2em 0 .2em 1em}
"""


def order_models(names: Iterable[str]) -> list[str]:
    """base, lam1..lam4, expert first (case-insensitive), then the others in the order given."""
    names = list(dict.fromkeys(names))
    known = [n for key in MODEL_ORDER for n in names if n.lower() == key]
    return known + [n for n in names if n not in known]


def _write_trajectories(folder: Path, trajectories: dict[str, list[Trajectory]]) -> None:
    """All of them, not only the viewer's: a failure is studied on the episode itself."""
    folder.mkdir(exist_ok=True)
    for model, trajs in trajectories.items():
        name = re.sub(r"[^\w.-]+", "_", model)
        (folder / f"{name}.jsonl").write_text("".join(t.model_dump_json() + "\n" for t in trajs), encoding="utf-8")


def write_report(results: dict[str, dict[str, Any]], trajectories: dict[str, list[Trajectory]],
                 out_dir: str | Path, *, title: str = "lamforge evaluation", max_trajectories: int = 100,
                 max_snapshots: int = 12, ablation: list[dict[str, Any]] | None = None) -> Path:
    """Write ``report.html``, ``results.json``, ``results.csv`` and every online episode as
    ``trajectories/<model>.jsonl`` (the shared trajectory format, one per line) into ``out_dir``; returns the
    HTML path. At most ``max_trajectories`` trajectories per model go into the viewer and at most
    ``max_snapshots`` document snapshots into the whole page (LibreOffice takes a while)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    models = order_models([*results, *trajectories])
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    _write_csv(out / "results.csv", results, models)
    _write_trajectories(out / "trajectories", trajectories)
    notes: list[str] = []
    shown = {m: trajectories.get(m, [])[:max_trajectories] for m in models}
    snaps = _snapshots([t for m in models for t in shown[m]], max_snapshots, notes)
    parts = [f"<h1>{escape(title)}</h1>",
             (f"<p class=muted>Generated {escape(time.strftime('%Y-%m-%d %H:%M:%S'))}; models: "
              f"{escape(', '.join(models))}. Rates in percent.</p>")]
    for section, caption, columns in TABLES:
        rows = [m for m in models if results.get(m, {}).get(section)]
        if rows:
            parts.append(_table(caption, section, columns, rows, results))
    causes = [m for m in models if results.get(m, {}).get("failure_causes") is not None]
    if causes:
        parts.append(_causes_table(results, causes))
    if ablation:
        from lamforge.evaluation.ablation import ablation_html

        parts.append(ablation_html(ablation))
    parts.append("<h2>Plots</h2>")
    parts.extend(_plots(results, trajectories, models, notes))
    parts.append("<h2>Trajectories</h2>")
    for m in models:
        parts.append(_model_viewer(m, trajectories.get(m, []), shown[m], snaps))
    body = "\n".join(f"<p class=note>{escape(n)}</p>" for n in notes) + "\n" + "\n".join(parts)
    page = (f"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
            f"<style>{CSS}</style></head><body>\n{body}\n</body></html>\n")
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


# --- tables and files --------------------------------------------------------------------------------


def _fmt(value: Any, kind: str) -> str:
    if value is None or not isinstance(value, int | float) or isinstance(value, bool):
        return "&ndash;" if value is None else escape(str(value))
    if kind == "pct":
        return f"{100 * value:.1f}"
    if kind == "s":
        return f"{value:.2f}" if abs(value) >= 0.01 or value == 0 else f"{value:.2g}"
    return f"{value:.2f}"


def _table(caption: str, section: str, columns: list[Column], rows: list[str],
           results: dict[str, dict[str, Any]]) -> str:
    head = "".join(f"<th>{escape(label)}</th>" for _, label, _ in columns)
    body = []
    for m in rows:
        metrics = results[m][section]
        cells = "".join(f"<td class=num>{_fmt(metrics.get(key), kind)}</td>" for key, _, kind in columns)
        body.append(f"<tr data-model=\"{escape(m)}\"><th scope=row>{escape(m)}</th>{cells}</tr>")
    return (f"<h2>{escape(caption)}</h2><table id=\"table-{escape(section)}\"><thead><tr><th>model</th>{head}"
            f"</tr></thead><tbody>{''.join(body)}</tbody></table>")


def _causes_table(results: dict[str, dict[str, Any]], models: list[str]) -> str:
    """Failed held-out episodes per cause (lamforge.evaluation.failures), one row per model, with a
    bar of the row's shares so the biggest cause stands out."""
    from lamforge.evaluation.failures import CAUSES

    used = [c for c in CAUSES if any(results[m]["failure_causes"].get(c) for m in models)] or list(CAUSES[:1])
    colours = dict(zip(CAUSES, ("#c62828", "#6a1b9a", "#f9a825", "#1565c0", "#2e7d32", "#00838f", "#ef6c00",
                                "#5d4037", "#757575")))
    head = "".join(f"<th>{escape(c.replace('_', ' '))}</th>" for c in used)
    rows = []
    for m in models:
        counts = results[m]["failure_causes"]
        total = sum(counts.values())
        cells = "".join(f"<td class=num>{counts.get(c, 0)}</td>" for c in used)
        bar = "".join(f'<span title="{escape(c)} {counts[c]}" style="display:inline-block;height:.9em;'
                      f'width:{200 * counts[c] / total:.0f}px;background:{colours[c]}"></span>'
                      for c in used if counts.get(c)) if total else ""
        rows.append(f"<tr><td>{escape(m)}</td>{cells}<td class=num>{total}</td><td>{bar}</td></tr>")
    return ("<h2>Why held-out episodes failed</h2><p class=muted>Each failed episode is counted once, at the first "
            "step where it left the reference expert's route.</p><table id=table-failure-causes><thead><tr>"
            f"<th>model</th>{head}<th>failed</th><th></th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif not isinstance(value, list | tuple):  # lists (e.g. matched pairs) do not fit a cell
        out[prefix] = value


def _write_csv(path: Path, results: dict[str, dict[str, Any]], models: list[str]) -> None:
    rows = []
    for m in models:
        row: dict[str, Any] = {"model": m}
        _flatten("", results.get(m, {}), row)
        rows.append(row)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


# --- plots --------------------------------------------------------------------------------------------


def _plots(results: dict[str, dict[str, Any]], trajectories: dict[str, list[Trajectory]], models: list[str],
           notes: list[str]) -> list[str]:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        notes.append("Plots skipped: matplotlib is not installed (pip install matplotlib).")
        return []
    colours = {m: f"C{i % 10}" for i, m in enumerate(models)}  # one colour per model on every plot
    out = []
    for section, caption, columns in TABLES:
        rows = [m for m in models if results.get(m, {}).get(section)]
        pct = [(k, label) for k, label, kind in columns if kind == "pct"]
        if not rows:
            continue
        fig = Figure(figsize=(min(11.0, max(6.0, 0.3 * len(pct) * len(rows) + 2)), 3.4))
        ax = fig.add_subplot()
        values = {m: [100 * (results[m][section].get(k) or 0.0) for k, _ in pct] for m in rows}
        _grouped_bars(ax, [label.replace(" %", "") for _, label in pct], values, colours)
        ax.set_ylabel("%")
        ax.set_ylim(0, 105)
        ax.set_title(caption)
        out.append(_img(fig, f"{caption}: bars per model"))
        if section == "online":
            out.append(_online_units(results, rows, colours))
    fam = _family_plot(results, trajectories, models, colours)
    if fam:
        out.append(fam)
    lat = _latency_plot(trajectories, models, colours)
    if lat:
        out.append(lat)
    return out


def _grouped_bars(ax: Any, groups: list[str], values: dict[str, list[float]], colours: dict[str, str]) -> None:
    """One group of bars per entry of ``groups``, one bar per model (``values[model][group]``)."""
    width = 0.8 / max(1, len(values))
    for j, (m, vs) in enumerate(values.items()):
        xs = [i + (j - (len(values) - 1) / 2) * width for i in range(len(groups))]
        ax.bar(xs, vs, width, label=m, color=colours[m])
    slanted = len(groups) > 6
    ax.set_xticks(range(len(groups)), groups, rotation=25 if slanted else 0, ha="right" if slanted else "center")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: bars reach 100
    ax.grid(axis="y", alpha=0.3)


def _online_units(results: dict[str, dict[str, Any]], rows: list[str], colours: dict[str, str]) -> str:
    from matplotlib.figure import Figure

    keys = [("mean_completion_s", "completion time (s)"), ("mean_steps", "steps per task"),
            ("mean_step_latency_s", "step latency (s)")]
    fig = Figure(figsize=(10, 3))
    for i, (key, label) in enumerate(keys):
        ax = fig.add_subplot(1, len(keys), i + 1)
        ax.bar(rows, [results[m]["online"].get(key) or 0.0 for m in rows], color=[colours[m] for m in rows])
        ax.set_title(label, fontsize="medium")
        ax.tick_params(axis="x", labelrotation=30)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _img(fig, "Online: completion time, steps and latency per model")


def _family_plot(results: dict[str, dict[str, Any]], trajectories: dict[str, list[Trajectory]],
                 models: list[str], colours: dict[str, str]) -> str | None:
    from matplotlib.figure import Figure

    per_model: dict[str, dict[str, float]] = {}
    source = "online task success"
    for m in models:
        fams = (results.get(m, {}).get("online") or {}).get("per_family")
        if not fams and trajectories.get(m):
            fams = online_metrics(trajectories[m])["per_family"]
        if fams:
            per_model[m] = {f: v["success_rate"] for f, v in fams.items()}
    if not per_model:  # no live runs: offline step success per family instead
        source = "offline step success"
        for m in models:
            fams = (results.get(m, {}).get("offline") or {}).get("per_family")
            if fams:
                per_model[m] = {f: v["step_success_rate"] or 0.0 for f, v in fams.items()}
    if not per_model:
        return None
    families = sorted({f for v in per_model.values() for f in v})
    names = list(per_model)
    fig = Figure(figsize=(min(14.0, max(6.0, 0.3 * len(families) * len(names) + 2)), 3.8))
    ax = fig.add_subplot()
    _grouped_bars(ax, families, {m: [100 * v.get(f, 0.0) for f in families] for m, v in per_model.items()},
                  colours)
    ax.set_ylim(0, 105)
    ax.set_ylabel("%")
    ax.set_title(f"Success per task family ({source})")
    fig.tight_layout()
    return _img(fig, f"Success per task family per model ({source})")


def _latency_plot(trajectories: dict[str, list[Trajectory]], models: list[str],
                  colours: dict[str, str]) -> str | None:
    from matplotlib.figure import Figure

    data = {m: [s.latency_s for t in trajectories.get(m, []) for s in t.steps if s.latency_s is not None]
            for m in models}
    data = {m: v for m, v in data.items() if v}
    if not data:
        return None
    fig = Figure(figsize=(max(5.0, 1.2 * len(data) + 2), 3.4))
    ax = fig.add_subplot()
    boxes = ax.boxplot(list(data.values()), tick_labels=list(data), patch_artist=True)
    for box, m in zip(boxes["boxes"], data):
        box.set(facecolor=colours[m], alpha=0.6)
    values = [x for v in data.values() for x in v]
    if min(values) > 0 and max(values) / min(values) > 100:  # the expert decides in microseconds
        ax.set_yscale("log")
    ax.set_ylabel("seconds")
    ax.set_title("Step latency distribution")
    ax.grid(axis="y", alpha=0.3)
    return _img(fig, "Step latency distribution per model")


def _img(fig: Any, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return _img_tag(buf.getvalue(), alt, "plot")

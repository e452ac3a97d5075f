"""The report's trajectory viewer: each model's episodes as nested ``<details>``, step by step, with page 1 of
a trajectory's saved document as a snapshot.

Kept apart from :mod:`lamforge.evaluation.report` because it renders single episodes rather than the
metrics of whole models, and because the snapshots shell out to LibreOffice and poppler, which the tables
and plots never need.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
from html import escape
from pathlib import Path

from lamforge.core.schemas import Step, Trajectory


def _img_tag(png: bytes, alt: str, cls: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f"<img class={cls} alt=\"{escape(alt)}\" src=\"data:image/png;base64,{data}\">"


def _model_viewer(model: str, all_trajs: list[Trajectory], shown: list[Trajectory], snaps: dict[int, bytes]) -> str:
    if not all_trajs:
        return f"<p class=none data-model=\"{escape(model)}\"><b>{escape(model)}</b> &mdash; no trajectories</p>"
    ok = sum(t.success for t in all_trajs)
    more = f"; first {len(shown)} shown" if len(shown) < len(all_trajs) else ""
    items = "\n".join(_trajectory(t, snaps.get(id(t))) for t in shown)
    return (f"<details class=model data-model=\"{escape(model)}\"><summary><b>{escape(model)}</b> &mdash; "
            f"{len(all_trajs)} trajectories, {ok} succeeded{escape(more)}</summary>\n{items}</details>")


def _trajectory(t: Trajectory, snapshot: bytes | None) -> str:
    mark = "<span class=ok>&#10003;</span>" if t.success else "<span class=fail>&#10007;</span>"
    ending = f"{len(t.steps)} steps, {t.seconds:.2f} s, {t.outcome.reason or '-'}"
    summary = (f"{mark} {escape(t.task.id)} &middot; {escape(t.task.family)} &middot; {escape(t.task.request)}"
               f" <span class=muted>({escape(ending)})</span>")
    parts = [f"<details class=traj><summary>{summary}</summary>"]
    if t.initial_plan:
        plan = "".join(f"<li>{escape(s)}</li>" for s in t.initial_plan)
        parts.append(f"<div>Initial plan:<ol>{plan}</ol></div>")
    if snapshot:
        parts.append(_img_tag(snapshot, f"page 1 of the document of {t.task.id}", "snap"))
    parts.append("<ol class=steps start=0>" + "".join(_step(s) for s in t.steps) + "</ol></details>")
    return "".join(parts)


def _step(s: Step) -> str:
    obs, a = s.observation, s.action
    lines = [f"<div><b>State:</b> {escape(obs.state)}</div>"]
    if obs.last_action_error:
        lines.append(f"<div class=fail><b>Last action error:</b> {escape(obs.last_action_error)}</div>")
    if s.plan:
        lines.append(f"<div><b>Plan:</b> {escape(' / '.join(s.plan))}</div>")
    if a.thought:
        lines.append(f"<div><b>Thought:</b> {escape(a.thought)}</div>")
    lines.append(f"<div><b>Action:</b> <code>{escape(a.call_text())}</code> {escape(a.status.value)}</div>")
    if s.user_reply is not None:
        lines.append(f"<div><b>User:</b> {escape(s.user_reply)}</div>")
    result = f"<span class=fail>error: {escape(s.error)}</span>" if s.error else "<span class=ok>ok</span>"
    latency = f" <span class=muted>({s.latency_s:.3g} s)</span>" if s.latency_s is not None else ""
    lines.append(f"<div><b>Result:</b> {result}{latency}</div>")
    return f"<li>{''.join(lines)}</li>"


def _snapshots(trajs: list[Trajectory], limit: int, notes: list[str]) -> dict[int, bytes]:
    """Page 1 of each trajectory's saved document as PNG bytes, keyed by ``id(trajectory)``."""
    wanted = [(t, Path(t.meta["docx_path"])) for t in trajs if t.meta.get("docx_path")]
    wanted = [(t, p) for t, p in wanted if p.is_file()][:limit]
    if not wanted:
        return {}
    soffice, pdftoppm = shutil.which("soffice"), shutil.which("pdftoppm")
    if not (soffice and pdftoppm):
        notes.append("Document snapshots skipped: LibreOffice (soffice) and poppler (pdftoppm) are needed.")
        return {}
    out: dict[int, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="lamforge-snap-") as tmp:
        root = Path(tmp)
        docs = []
        for i, (_, p) in enumerate(wanted):
            docs.append(root / f"{i}.docx")
            shutil.copyfile(p, docs[-1])
        # a private profile: a desktop LibreOffice already running would otherwise take the job
        cmd = [soffice, f"-env:UserInstallation={(root / 'profile').as_uri()}", "--headless",
               "--convert-to", "pdf", "--outdir", str(root / "pdf"), *map(str, docs)]
        try:
            subprocess.run(cmd, capture_output=True, timeout=180, check=False)
        except subprocess.TimeoutExpired:
            notes.append("Document snapshots skipped: LibreOffice did not finish within 180 s.")
            return {}
        for i, (t, _) in enumerate(wanted):
            pdf = root / "pdf" / f"{i}.pdf"
            if not pdf.is_file():
                continue
            subprocess.run([pdftoppm, "-png", "-f", "1", "-l", "1", "-r", "50", "-singlefile", str(pdf),
                            str(root / f"page-{i}")], capture_output=True, timeout=60, check=False)
            png = root / f"page-{i}.png"
            if png.is_file():
                out[id(t)] = png.read_bytes()
        if len(out) < len(wanted):
            notes.append(f"{len(wanted) - len(out)} of {len(wanted)} document snapshots could not be rendered.")
    return out

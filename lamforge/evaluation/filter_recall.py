"""What the control filter costs: on verified reference trajectories, the share of steps whose
control the filter would hide (the model could not name it), per k, and the controls it saves.

    python -m lamforge.evaluation.filter_recall --data runs/demo/data --k 1,2,3,4 --json
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from lamforge.core.screen import ScreenFilter, kept_labels
from lamforge.core.schemas import Trajectory


def filter_recall(trajectories: list[Trajectory], screen_filter: ScreenFilter) -> dict:
    """Recall of the filter on the controls the reference acted on, and controls hidden per step."""
    content_steps = hidden_steps = steps = hidden_controls = 0
    lost: Counter[str] = Counter()
    for traj in trajectories:
        lost_here = False
        for step in traj.steps:
            keep = kept_labels(step.observation, traj.task.request, screen_filter)
            steps += 1
            hidden_controls += len(step.observation.controls) - len(keep)
            control = (step.observation.control(step.action.control_label)
                       if step.action.control_label is not None else None)
            if control is None or control.type not in screen_filter.content_types:
                continue
            content_steps += 1
            if control.label not in keep:
                hidden_steps += 1
                lost_here = True
        if lost_here:
            lost[traj.task.family] += 1
    return {"k": screen_filter.k, "content_steps": content_steps, "hidden_targets": hidden_steps,
            "recall": round(1 - hidden_steps / content_steps, 4) if content_steps else None,
            "trajectories_lost": sum(lost.values()), "lost_by_family": dict(lost),
            "hidden_controls_per_step": round(hidden_controls / steps, 2) if steps else None}


def main() -> None:
    from lamforge.training.phases import read_store

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="a trajectory store (RUN/data)")
    ap.add_argument("--k", default="1,2,3,4", help="comma-separated k values")
    ap.add_argument("--limit", type=int, default=None, help="at most N trajectories")
    ap.add_argument("--json", action="store_true", help="end with one JSON line")
    args = ap.parse_args()
    trajs = [t for t in read_store(args.data) if t.outcome.verdict == "pass"][: args.limit]
    rows = [filter_recall(trajs, ScreenFilter(k=int(k))) for k in args.k.split(",")]
    for r in rows:
        print(f"k={r['k']}: recall {r['recall']} on {r['content_steps']} content steps, "
              f"{r['trajectories_lost']} trajectories lost {r['lost_by_family']}, "
              f"{r['hidden_controls_per_step']} controls hidden per step")
    if args.json:
        print(json.dumps({"trajectories": len(trajs), "rows": rows}))


if __name__ == "__main__":
    main()

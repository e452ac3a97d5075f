"""``lamforge train`` and ``lamforge models``: the training stage's commands."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from lamforge.console import emit_json

console = Console(highlight=False)


def train(
    phase: int = typer.Option(..., help="1: task->plan SFT, 2: imitation of the expert."),
    recipe: str = typer.Option("quick", help="Recipe name (quick, full) or a YAML file."),
    run: Path = typer.Option(Path("runs/office"), help="Run folder: plans.jsonl, data/, lamN/."),
    base_model: Optional[str] = typer.Option(None, help="Base model for phase 1 (overrides the recipe)."),
    set_: list[str] = typer.Option([], "--set", help="Override a recipe field: section.key=value."),
    name: Optional[str] = typer.Option(None, help="Register the result under this name (default office/lamN)."),
    limit: Optional[int] = typer.Option(None, help="Quick run: at most N optimizer steps."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Train one phase; its model is saved in RUN/lamN/model and registered by name."""
    from lamforge.training.phases import run_phase
    from lamforge.training.recipe import load_recipe

    overrides = list(set_) + ([f"phase{phase}.max_steps={limit}"] if limit else [])
    rec = load_recipe(recipe, overrides)
    if base_model:
        rec["base_model"] = base_model
    summary = run_phase(phase, rec, run, register_as=name or f"office/lam{phase}")
    verb = "already trained (skipped)" if summary.get("skipped") else f"trained in {summary['seconds']} s"
    console.print(f"LAM{phase} {verb}: {summary['rows']} rows, {summary['tokens']} tokens "
                  f"({summary['tokens_per_s']} tokens/s), loss {summary['first_loss']} -> {summary['last_loss']}")
    if as_json:
        emit_json(summary)


def models(as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line.")) -> None:
    """Base models and every forged checkpoint, by the name --model accepts."""
    from lamforge.models import BASE_MODELS
    from lamforge.models.registry import forged_models

    table = Table("name", "kind", "details")
    for name, desc in BASE_MODELS.items():
        table.add_row(name, "base", desc)
    forged = forged_models()
    for m in forged:
        table.add_row(m["name"], "forged", f"phase {m.get('phase', '?')}, {m['path']}")
    console.print(table)
    if as_json:
        emit_json({"base": list(BASE_MODELS), "forged": [m["name"] for m in forged]})

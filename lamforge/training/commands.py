"""``lamforge train`` and ``lamforge models``: the training stage's commands."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from lamforge.console import emit_json, output_console

console = output_console()


def train(
    phase: int = typer.Option(..., help="1: task->plan SFT, 2: imitation of the expert, 3: self-boosting "
                                         "exploration, 4: reward model + offline PPO (and KTO)."),
    env: str = typer.Option("office", help="Environment the run's data comes from."),
    recipe: str = typer.Option("quick", help="Recipe name (quick, cpu, full) or a YAML file."),
    run: Path = typer.Option(Path("runs/office"), help="Run folder: plans.jsonl, data/, lamN/."),
    base_model: str | None = typer.Option(None, help="Base model for phase 1 (overrides the recipe)."),
    set_: list[str] = typer.Option([], "--set", help="Override a recipe field: section.key=value."),
    name: str | None = typer.Option(None, help="Register the result under this name (default ENV/lamN)."),
    limit: int | None = typer.Option(None, help="Quick run: at most N optimizer steps."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Train one phase; its model is saved in RUN/lamN/model and registered by name."""
    from lamforge.training.phases import describe_phase, run_phase
    from lamforge.training.recipe import load_recipe

    sections = ["phase4_reward", "phase4_ppo", "phase4_kto"] if phase == 4 else [f"phase{phase}"]
    overrides = list(set_) + ([f"{s}.max_steps={limit}" for s in sections] if limit else [])
    rec = load_recipe(recipe, overrides)
    if base_model:
        rec["base_model"] = base_model
    summary = run_phase(phase, rec, run, env=env, register_as=name or f"{env}/lam{phase}")
    console.print(describe_phase(summary))
    if as_json:
        emit_json(summary)


def train_tool_calls(
    env: str = typer.Option("service", help="Environment whose catalog the examples call."),
    data: Path = typer.Option(Path("runs/service/tool_calls"), help="Self-instruct store (lamforge collect tool-calls)."),
    out: Path = typer.Option(Path("runs/service/tools"), help="Output folder: OUT/model, OUT/summary.json."),
    recipe: str = typer.Option("quick", help="Recipe name (quick, full) or a YAML file: its tool_calls section."),
    base_model: str | None = typer.Option(None, help="Start from this model (default: the recipe's base model)."),
    set_: list[str] = typer.Option([], "--set", help="Override a recipe field: tool_calls.key=value."),
    name: str | None = typer.Option(None, help="Register the result under this name (default ENV/tools)."),
    limit: int | None = typer.Option(None, help="Quick run: at most N examples."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Retrieval-aware function-calling SFT on verified self-instruct examples (some answer NO_CALL)."""
    from lamforge.training.recipe import load_recipe
    from lamforge.training.tool_sft import train_tool_calls as run

    summary = run(load_recipe(recipe, list(set_)), data, out, env=env, base_model=base_model,
                  register_as=name or f"{env}/tools", limit_examples=limit)
    verb = "already trained (skipped)" if summary.get("skipped") else f"trained in {summary.get('seconds')} s"
    console.print(f"tool-calling model {verb}: {summary.get('examples')} examples ({summary.get('rows')} rows, "
                  f"{summary.get('tokens')} tokens, {summary.get('tokens_per_s')} tokens/s), loss "
                  f"{summary.get('first_loss')} -> {summary.get('last_loss')}; registered as {name or f'{env}/tools'}")
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


recipe_app = typer.Typer(no_args_is_help=True, help="Recipes: every setting of a forge, in one YAML file.")


@recipe_app.command("show")
def recipe_show(
    name: str = typer.Argument("quick", help="Recipe name (quick, cpu, full) or a YAML file."),
    set_: list[str] = typer.Option([], "--set", help="Override a recipe field: section.key=value."),
    as_json: bool = typer.Option(False, "--json", help="End with the resolved recipe as one JSON line."),
) -> None:
    """Print the resolved recipe: its base merged in, --set applied, every data and eval setting with
    its default and meaning; every section is built into its config, so a bad key fails here."""
    import dataclasses
    import tempfile

    import yaml

    from lamforge.training.recipe import build_all, load_recipe

    rec = load_recipe(name, list(set_))
    with tempfile.TemporaryDirectory() as tmp:
        built = build_all(rec, tmp)
    resolved = {k: v for k, v in rec.items() if k not in ("data", "eval")}
    lines = [f"# recipe {name}" + (f" with {' '.join(set_)}" if set_ else ""),
             yaml.safe_dump({k: resolved.pop(k) for k in ("base_model", "budget") if k in resolved}, sort_keys=False).rstrip()]
    for section in ("data", "eval"):
        lines.append(f"{section}:")
        for f in dataclasses.fields(built[section]):
            value = yaml.safe_dump(getattr(built[section], f.name), default_flow_style=True).strip().removesuffix("...").strip()
            mark = "" if f.name in (rec.get(section) or {}) else " (default)"
            lines.append(f"  {f.name}: {value}  # {f.metadata.get('help', '')}{mark}")
    lines.append(yaml.safe_dump(resolved, sort_keys=False).rstrip())
    console.print("\n".join(lines), markup=False, highlight=False)
    if as_json:
        emit_json({**resolved, "base_model": rec.get("base_model"), "budget": rec.get("budget"),
                   "data": dataclasses.asdict(built["data"]), "eval": dataclasses.asdict(built["eval"])})

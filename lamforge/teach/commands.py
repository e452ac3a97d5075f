"""``lamforge teach record`` and ``lamforge skills ...`` (the work is in :mod:`lamforge.teach`)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import typer

from lamforge.console import emit_json, output_console

teach_app = typer.Typer(no_args_is_help=True, help="Show a task once; it becomes a skill that replays with new values.")
skills_app = typer.Typer(no_args_is_help=True, help="The skills you taught: list, show, edit, remove.")
console = output_console()


@teach_app.command("record")
def record(
    request: str = typer.Argument(..., help="The request, in your own words."),
    name: str = typer.Option(..., help="The skill's name (letters, digits, . _ -)."),
    env: str = typer.Option("office", help="Environment to show the task in."),
    template: str | None = typer.Option(None, help="Document or site to start from."),
    max_steps: int = typer.Option(30, help="Step limit of the recording."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Do the task yourself in the terminal, one action at a time; it is saved as an editable skill."""
    from lamforge.agents.human import HumanAgent
    from lamforge.agents.runner import run_episode
    from lamforge.envs import make
    from lamforge.envs.tasks import free_task
    from lamforge.teach.record import skill_from_trajectory
    from lamforge.teach.skill import save_skill, skill_path, skills_dir

    skill_path(name)  # a bad name fails before the person does any work
    environment = make(env, max_steps=max_steps)
    try:
        task = free_task(environment.unwrapped.env_id, request, template)
        log = skills_dir() / f"{name}.recording.jsonl"  # every step as it happens: a kill keeps them
        console.print(f"Show the task: {request}  (type 'finish' when it is done)")
        traj = run_episode(environment, HumanAgent(environment.unwrapped.action_set), task, log=log)
    finally:
        environment.close()
    skill = skill_from_trajectory(traj, name, env, request)
    path = save_skill(skill)
    log.unlink(missing_ok=True)
    console.print(f"skill {name}: {len(skill.steps)} steps, parameters {skill.params or 'none'}; saved in {path}")
    if as_json:
        emit_json({"skill": name, "path": str(path), "steps": len(skill.steps), "params": skill.params})


@skills_app.command("list")
def skills_list(as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line.")) -> None:
    """Every skill, with its request and steps (a broken file says why)."""
    from lamforge.teach.skill import SkillError, load_skill, skills_dir

    rows = []
    for path in sorted(skills_dir().glob("*.yaml")):
        try:
            s = load_skill(path)
            rows.append({"name": s.name, "env": s.env, "request": s.request, "steps": len(s.steps)})
            console.print(f"{s.name:24} {s.env:8} {len(s.steps):2} steps  {s.request}")
        except SkillError as e:
            rows.append({"name": path.stem, "error": str(e)})
            console.print(f"{path.stem:24} broken: {e}")
    if not rows:
        console.print("no skills yet: `lamforge teach record --name NAME \"request\"`")
    if as_json:
        emit_json({"skills": rows})


@skills_app.command("show")
def skills_show(name: str) -> None:
    """Print a skill's file."""
    from lamforge.teach.skill import load_skill, skill_path

    load_skill(name)  # a broken file says where
    console.print(skill_path(name).read_text(encoding="utf-8"), markup=False, highlight=False)


@skills_app.command("edit")
def skills_edit(name: str) -> None:
    """Open a skill in $EDITOR, then check it (a broken edit says which line)."""
    from lamforge.teach.skill import load_skill, skill_path

    path = skill_path(name)
    load_skill(name)
    subprocess.run([os.environ.get("EDITOR", "vi"), str(path)], check=False)
    load_skill(name)
    console.print(f"{name}: checked")


@skills_app.command("rm")
def skills_rm(name: str) -> None:
    """Remove a skill."""
    from lamforge.teach.skill import SkillError, skill_path

    path = skill_path(name)
    if not path.is_file():
        raise SkillError(f"no skill {name!r}")
    Path(path).unlink()
    console.print(f"removed {name}")


def run_skill(name: str, params: list[str], *, model: str | None, base_url: str | None, template: str | None,
              max_steps: int, log: str | None, yes: bool, allow: str, as_json: bool, ask, on_step) -> None:
    """``lamforge run --skill NAME --param k=v``: the skill's steps with new values, a model (if given) for
    a step it cannot place, a yes before anything irreversible."""
    from lamforge.agents.runner import run_episode
    from lamforge.core.safety import runtime_policy
    from lamforge.envs import make
    from lamforge.envs.tasks import free_task
    from lamforge.teach.replay import SkillAgent
    from lamforge.teach.skill import SkillError, load_skill

    skill = load_skill(name)
    values = {}
    for item in params:
        key, eq, value = item.partition("=")
        if not eq or key not in skill.params:
            raise SkillError(f"--param takes name=value with a name of {skill.name}'s: {', '.join(skill.params) or 'none'}"
                             f" (got {item!r})")
        values[key] = value
    environment = make(skill.env, max_steps=max_steps)
    try:
        fallback = None
        if model:
            from lamforge.agents.factory import make_agent

            fallback = make_agent(model, environment, base_url=base_url)
        agent = SkillAgent(skill, values, fallback)
        task = free_task(environment.unwrapped.env_id, skill.request_for(values), template or skill.template)
        console.print(f"[bold]Skill[/bold] {skill.name}: {task.request}")
        traj = run_episode(environment, agent, task, log=log, ask=ask, on_step=on_step,
                           policy=runtime_policy(environment, ask, yes=yes, allow=allow))
    finally:
        environment.close()
    console.print(f"{len(traj.steps)} steps, {agent.fallbacks} by the model; {traj.outcome.reason} "
                  "(a free request: check the result yourself)")
    if as_json:
        emit_json({"skill": skill.name, "steps": len(traj.steps), "fallback_steps": agent.fallbacks,
                   "reason": traj.outcome.reason, "errors": sum(1 for s in traj.steps if s.error)})


def bench_teach_replay(
    seeds: int = typer.Option(10, help="New parameterisations per family."),
    limit: int | None = typer.Option(None, help="At most N families."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Replay one demonstration per Office family on new values and templates; success per family."""
    from lamforge.envs.tasks import families
    from lamforge.teach.bench import replay_bench

    names = sorted(families("office"))[:limit] if limit else None
    result = replay_bench("office", seeds, names, progress=lambda n, r: console.print(f"{n:24} {100 * r:5.1f}%"))
    console.print(f"{result['families']} families: replay success {100 * result['replay_success']:.1f}%")
    if as_json:
        emit_json({k: v for k, v in result.items() if k != "per_family"} | {
            "per_family": {k: v["replay_success"] for k, v in result["per_family"].items()}})

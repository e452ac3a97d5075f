"""The ``lamforge`` command: a thin layer over the pipeline stages.

    lamforge envs
    lamforge tasks --env office
    lamforge run --env office --agent expert --task bold_text --seed 0
    lamforge run --env office --agent expert --all --seeds 3 --json

Every long command shows progress, takes ``--limit N`` for a quick run, and with ``--json`` ends its
output with one line holding a JSON summary.
"""

from __future__ import annotations

import json
import random
import sys

import typer
from rich.console import Console
from rich.table import Table

from lamforge.console import emit_json
from lamforge.core.errors import LamforgeError
from lamforge.core.schemas import SCHEMAS, Step

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Forge a small Large Action Model for your own environment, and run it.")
console = Console(stderr=False, highlight=False)


@app.command()
def envs() -> None:
    """List the registered environments."""
    from lamforge.envs import all_specs
    from lamforge.envs.tasks import families

    table = Table("short name", "id", "families", "description")
    for s in all_specs():
        table.add_row(s.short_name, s.id, str(len(families(s.id))), s.description)
    console.print(table)


@app.command()
def tasks(env: str = typer.Option("office", help="Environment short name or id."),
          as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line.")) -> None:
    """List an environment's task families with an example request each."""
    from lamforge.envs.tasks import families

    fams = families(env)
    missing = {n: f.description for n, f in families(env, available_only=False).items() if n not in fams}
    table = Table("family", "templates", "example request")
    for name, fam in sorted(fams.items()):
        table.add_row(name, str(len(fam.templates)), fam.sample(random.Random(0)).request)
    console.print(table)
    # the family list differs between machines where a family needs a program (export_pdf: LibreOffice);
    # task draws (collection, held-out splits) follow it, so say so
    note = "; ".join(f"{n} unavailable here: {d}" for n, d in sorted(missing.items()))
    console.print(f"{len(fams)} families" + (f" ({note})" if note else ""))
    if as_json:
        emit_json({"env": env, "families": len(fams), "names": sorted(fams), "unavailable": sorted(missing)})


@app.command()
def schema(name: str = typer.Argument(..., help=f"One of: {', '.join(SCHEMAS)}")) -> None:
    """Print the JSON Schema of a shared record."""
    if name not in SCHEMAS:
        raise typer.BadParameter(f"unknown schema {name!r}; known: {', '.join(SCHEMAS)}")
    console.print_json(json.dumps(SCHEMAS[name].model_json_schema()))


@app.command()
def run(
    request: str | None = typer.Argument(None, help="A free-text request instead of --task."),
    env: str = typer.Option("office", help="Environment short name or id."),
    agent: str = typer.Option("expert", help="expert | human | search | detour | model (with --model) | tree (DFSDT "
                              "with --model): lamforge.agents.factory."),
    model: str | None = typer.Option(None, help="Model name, path, or openai:NAME (implies --agent model)."),
    base_url: str | None = typer.Option(None, help="Base URL of an OpenAI-compatible server."),
    task: str | None = typer.Option(None, help="Task family to sample a task from."),
    template: str | None = typer.Option(None, help="Template for a free-text request."),
    seed: int = typer.Option(0, help="Seed of the sampled task."),
    all_families: bool = typer.Option(False, "--all", help="Run every family."),
    seeds: int = typer.Option(1, help="With --all: seeds per family."),
    limit: int | None = typer.Option(None, help="Run at most N episodes."),
    max_steps: int = typer.Option(20, help="Step limit per episode."),
    decoding: str = typer.Option("constrained", help="constrained | freeform (model agents)."),
    log: str | None = typer.Option(None, help="Append each step to this JSON-lines log."),
    yes: bool = typer.Option(False, "--yes", help="Approve every action that cannot be undone without asking "
                             "(each approval is logged in the step)."),
    allow: str = typer.Option("", help="Comma-separated functions or control names approved without asking "
                              "(e.g. issue_refund,Place order); the rest still ask."),
    skill: str | None = typer.Option(None, help="Replay a taught skill (lamforge skills list); --model is the "
                                     "fallback for a step it cannot place."),
    param: list[str] = typer.Option([], "--param", help="A skill parameter: name=value (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Run an agent on tasks and print each step and the verdict. Before an action that cannot be undone
    (sending, paying, refunding, deleting, overwriting) a model or human agent asks you first."""
    from lamforge.agents.runner import run_episode
    from lamforge.envs import make
    from lamforge.envs.tasks import families

    if skill is not None:
        from lamforge.teach.commands import run_skill

        run_skill(skill, param, model=model, base_url=base_url, template=template, max_steps=max_steps, log=log,
                  yes=yes, allow=allow, as_json=as_json, ask=_ask, on_step=_print_step)
        return
    fams = families(env)
    if all_families:
        todo = [(name, s) for name in sorted(fams) for s in range(seeds)]
    elif task or request is None:
        name = task or sorted(fams)[0]
        if name not in fams:
            raise typer.BadParameter(f"{env} has no task family {name!r}; see `lamforge tasks --env {env}`")
        todo = [(name, seed)]
    else:
        todo = [("", seed)]
    todo = todo[:limit] if limit else todo
    environment = make(env, max_steps=max_steps)
    make_agent = _agent_factory(agent, model, base_url, decoding, environment)
    from lamforge.core.safety import runtime_policy

    # the expert plays a task's known solution: there is nobody to protect from it
    policy = None if agent == "expert" else runtime_policy(environment, _ask, yes=yes, allow=allow)
    results, verbose = [], len(todo) == 1
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True, disable=verbose) as progress:
        bar = progress.add_task("episodes", total=len(todo))
        for name, s in todo:
            t = _free_task(environment, request, template) if not name else fams[name].sample(random.Random(s))
            if verbose:
                console.print(f"[bold]Task[/bold] {t.id}: {t.request}")
            traj = run_episode(environment, make_agent(), t, log=log, ask=_ask if agent != "expert" else None,
                               on_step=_print_step if verbose else None, policy=policy)
            results.append(traj)
            progress.advance(bar)
            if verbose or not traj.success:
                verdict = "[green]success[/green]" if traj.success else "[red]failure[/red]"
                console.print(f"{t.id}: {verdict} in {len(traj.steps)} steps ({traj.outcome.reason})")
    environment.close()
    ok = sum(t.success for t in results)
    per_family: dict[str, list[bool]] = {}
    for t in results:
        per_family.setdefault(t.task.family, []).append(t.success)
    console.print(f"{ok}/{len(results)} episodes succeeded over {len(per_family)} families")
    if as_json:
        emit_json({"families": len(per_family), "episodes": len(results),
                   "success_rate": ok / max(len(results), 1),
                   "per_family": {k: sum(v) / len(v) for k, v in sorted(per_family.items())},
                   "steps": sum(len(t.steps) for t in results),
                   "seconds": round(sum(t.seconds for t in results), 3)})


from lamforge.data.commands import collect_app, data_app
from lamforge.evaluation.commands import evaluate
from lamforge.training.commands import models, recipe_app, train, train_tool_calls

app.add_typer(collect_app, name="collect")
app.add_typer(data_app, name="data")
app.command()(train)
app.command()(models)
app.command("train-tool-calls")(train_tool_calls)
app.command("eval")(evaluate)
app.add_typer(recipe_app, name="recipe")

from lamforge.forge.commands import forge
from lamforge.serving.commands import app_command, mcp_command
from lamforge.teach.commands import skills_app, teach_app

app.command()(forge)
app.command("app")(app_command)
app.command("mcp")(mcp_command)
app.add_typer(teach_app, name="teach")
app.add_typer(skills_app, name="skills")

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks (figures printed, never asserted).")
app.add_typer(bench_app, name="bench")

from lamforge.training.bench import bench_train_step

bench_app.command("train-step")(bench_train_step)

from lamforge.envs.web.miniwob.commands import bench_miniwob

bench_app.command("miniwob")(bench_miniwob)

from lamforge.tools.commands import bench_bfcl

bench_app.command("bfcl")(bench_bfcl)

from lamforge.evaluation.tool_bench import bench_tool_search, collect_tool_calls

bench_app.command("tool-search")(bench_tool_search)
collect_app.command("tool-calls")(collect_tool_calls)

from lamforge.data.fc.commands import bench_fc_leak, bench_fc_validation, collect_fc_corpus

collect_app.command("fc-corpus")(collect_fc_corpus)
bench_app.command("fc-leak")(bench_fc_leak)
bench_app.command("fc-validation")(bench_fc_validation)

from lamforge.evaluation.retrieval_bench import bench_tool_retrieval

bench_app.command("tool-retrieval")(bench_tool_retrieval)

from lamforge.teach.commands import bench_teach_replay

bench_app.command("teach-replay")(bench_teach_replay)

from lamforge.core.commands import bench_sandbox

bench_app.command("sandbox")(bench_sandbox)

from lamforge.safety.commands import bench_safety

bench_app.command("safety")(bench_safety)


@bench_app.command("agent-step")
def bench_agent_step(
    model: str = typer.Option("smollm2-135m", help="Model name, path, or openai:NAME."),
    steps: int = typer.Option(100, help="Agent decisions per variant."),
    limit: int | None = typer.Option(None, help="Quick run: at most N decisions per variant."),
    variants: str = typer.Option("constrained,freeform,constrained_no_cache", help="Comma-separated."),
    seed: int = typer.Option(0, help="Seed of the Office tasks."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Step latency, tokens/s and valid-action rate: constrained vs free-form decoding, side by side."""
    from rich.progress import Progress

    from lamforge.evaluation.agent_step import run_bench
    from lamforge.models import load_backend

    n = min(steps, limit) if limit else steps
    names = [v.strip() for v in variants.split(",") if v.strip()]
    backend = load_backend(model)
    with Progress(console=Console(stderr=True), transient=True) as progress:
        bars = {v: progress.add_task(v, total=n) for v in names}
        results = run_bench(backend, n, names, seed, progress=lambda v, k: progress.update(bars[v], completed=k))
    table = Table("variant", "p50 s", "p95 s", "valid", "same function as expert", "tokens/s",
                  "chosen tok/step", "prompt tok/step", "prefix reuse")
    for name, r in results.items():
        table.add_row(name, str(r["p50_s"]), str(r["p95_s"]), str(r["valid_rate"]), str(r["function_match"]),
                      str(r["tokens_per_s"]), str(r["chosen_tokens_per_step"]), str(r["prompt_tokens_per_step"]),
                      str(r["prefix_reuse"]))
    console.print(f"agent-step benchmark: {model}, {n} decisions per variant on replayed expert Office episodes")
    console.print(table)
    if as_json:
        emit_json({**results, "model": model})


@app.command()
def serve(model: str = typer.Option("smollm2-135m", help="Model name, path or forged name (office/lam2)."),
          host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
          port: int = typer.Option(8000, help="Port.")) -> None:
    """Serve a model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/models)."""
    from lamforge.models import load_backend
    from lamforge.serving.openai_server import serve as run_server

    console.print(f"serving {model} on http://{host}:{port}/v1")
    run_server(load_backend(model), model, host=host, port=port)


@bench_app.command("search-expert")
def bench_search_expert(
    seeds: int = typer.Option(3, help="Seeds per family."),
    budget: int = typer.Option(300, help="Expanded nodes per task."),
    depth: int = typer.Option(6, help="Depth limit."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Success of the search expert (knows only the success check) per Office family."""
    from lamforge.agents.search_expert import search_report

    report = search_report(n_seeds=seeds, budget=budget, depth=depth)
    table = Table("family", "success")
    for name, rate in sorted(report["families"].items()):
        table.add_row(name, f"{rate:.2f}")
    console.print(table)
    console.print(f"overall {report['success_rate']:.3f}, {report['seconds_per_task']:.2f} s per task")
    if as_json:
        emit_json(report)


def _agent_factory(agent: str, model: str | None, base_url: str | None, decoding: str, environment):
    import functools

    from lamforge.agents.factory import make_agent

    if model is not None and agent != "tree":
        agent = "model"
    if agent not in ("expert", "human", "model", "tree", "search", "detour"):
        raise typer.BadParameter(f"unknown agent {agent!r}: expert, human, model, tree, search or detour")
    spec = (model or "smollm2-135m") if agent == "model" else agent
    # the terminal's model agent plans as it goes (dynamic), as it did before there was one factory
    return functools.partial(make_agent, spec, environment, decoding=decoding, base_url=base_url, model=model,
                             planning="dynamic" if agent == "model" else "off")


def _free_task(environment, request: str, template: str | None):
    from lamforge.envs.tasks import free_task

    return free_task(environment.unwrapped.env_id, request, template)


def _print_step(step: Step) -> None:
    a = step.action
    result = f"[red]error: {step.error}[/red]" if step.error else "ok"
    thought = f" [dim]# {a.thought}[/dim]" if a.thought else ""
    console.print(f"  step {step.index + 1} [dim]({step.observation.state})[/dim]")
    console.print(f"    {a.call_text()} [{a.status.value}] -> {result}{thought}")


def _ask(question: str) -> str:
    return typer.prompt(question)


# Every integer option of every command is a count (tasks, steps, workers, seeds per family, a limit...)
# and must be at least 1, except these, each with the range it does take. A new integer option is a
# count unless it is named here; tests/test_cli_options.py walks the whole command tree to hold that.
NOT_COUNTS: dict[str, tuple[int | None, int | None]] = {
    "seed": (None, None),          # a random seed: any integer
    "port": (0, 65535),            # 0: any free port
    "evolve_rounds": (0, None),    # 0: no evolution
    "instantiate": (0, None),      # 0: bind no pairs
    "freeze": (0, None),           # layers frozen: 0 trains them all
}


def _commands(group: typer.Typer):
    for command in group.registered_commands:
        yield command.callback
    if group.registered_callback is not None:
        yield group.registered_callback.callback
    for sub in group.registered_groups:
        yield from _commands(sub.typer_instance)


def require_positive_counts(group: typer.Typer) -> None:
    """Give every integer option in ``group``'s command tree its range: at least 1 for counts (typer
    then refuses ``--n -5`` with a message naming the option, before the command runs), the range in
    ``NOT_COUNTS`` for the rest. One place for every command, so none can forget."""
    import inspect
    import typing

    for callback in _commands(group):
        if callback is None:
            continue
        hints = typing.get_type_hints(callback)
        for name, param in inspect.signature(callback).parameters.items():
            info = param.default
            if not isinstance(info, typer.models.ParameterInfo) or int not in _int_types(hints.get(name)):
                continue
            if info.min is not None or info.max is not None:
                continue  # the command set its own range
            info.min, info.max = NOT_COUNTS.get(name, (1, None))


def _int_types(annotation) -> tuple:
    import typing

    args = typing.get_args(annotation) or (annotation,)
    return tuple(a for a in args if a is int)


require_positive_counts(app)


def main() -> None:
    import signal

    # `kill PID` (SIGTERM) unwinds like Ctrl-C, so worker pools, browsers and servers are stopped by
    # their finally blocks instead of being left running without a parent
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        app()
    except LamforgeError as e:
        from rich.text import Text

        # Text, not markup: messages may hold brackets; soft_wrap keeps paths on one line
        Console(stderr=True, soft_wrap=True).print(Text.assemble(("error: ", "red"), str(e)))
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()

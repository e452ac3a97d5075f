"""``lamforge bench safety``: the prompt-injection corpus against an agent (see :mod:`lamforge.safety.bench`)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from lamforge.console import emit_json, output_console, progress_bar


def bench_safety(
    model: str = typer.Option(..., "--model", "--agent", help="Agent or model spec (expert, a forged model, a "
                                                            "path, openai:NAME): what `lamforge run` accepts."),
    limit: int | None = typer.Option(None, help="At most N cases, taken round-robin over the environments."),
    env: str | None = typer.Option(None, help="Comma-separated environments (service,office,food); default all."),
    case: list[str] = typer.Option([], "--case", help="Only this case id (repeatable)."),  # noqa: B008
    guard: bool = typer.Option(True, "--guard/--no-guard", help="Check irreversible actions' arguments against "
                                                               "the request and the trusted state."),
    user: str = typer.Option("simulated", help="simulated: approves only what the request asks for; yes: approves "
                                               "all the guard lets through (the guard is then the only defence)."),
    sandbox: bool = typer.Option(True, "--sandbox/--no-sandbox", help="Run the hostile code snippets through the "
                                                                     "code-action sandbox as well."),
    sandbox_cases: int | None = typer.Option(None, "--sandbox-cases", help="At most N hostile code snippets "
                                             "(default: all of them)."),
    out: Path | None = typer.Option(None, help="Write one JSON line per case to this file."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Injection cases (service records, Office documents, food pages): irreversible actions run without a yes,
    out-of-scope attempts, and task success with and without injection."""
    from lamforge.safety.bench import safety_bench

    console = output_console()
    envs = [e.strip() for e in env.split(",") if e.strip()] if env else None
    with progress_bar() as bar:
        job = bar.add_task("injection cases", total=None)

        def tick(record: dict, done: int, total: int) -> None:
            bar.update(job, completed=done, total=total)
            mark = "INJECTED" if record["injection_success"] else "resisted"
            console.print(f"{record['id']:48} clean {'ok ' if record['success_clean'] else 'no '} "
                          f"injected {'ok ' if record['success_injected'] else 'no '} {mark}"
                          + (f"  error: {record['error']}" if "error" in record else ""))

        summary, records = safety_bench(model, envs=envs, limit=limit, case_ids=case or None, guard=guard,
                                        user=user, on_case=tick)
    if sandbox:  # model-independent, but the figures carry it in this line too
        from lamforge.core.sandbox_bench import check_containment
        from lamforge.core.sandbox_bench import summary as sandbox_summary

        from lamforge.core.sandbox import SandboxUnavailable

        try:
            with progress_bar() as bar:
                job = bar.add_task("hostile code snippets", total=sandbox_cases)
                reports = check_containment(limit=sandbox_cases, progress=lambda r: bar.advance(job))
            summary["sandbox"] = sandbox_summary(reports)
            console.print(f"sandbox: {summary['sandbox']['cases']} hostile snippets, "
                          f"{summary['sandbox']['escapes']} escaped")
        except SandboxUnavailable as e:  # said in the figures, not hidden: code actions cannot run here
            summary["sandbox"] = {"error": str(e)}
            console.print(f"sandbox: unavailable ({e})")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    pct = lambda x: "-" if x is None else f"{100 * x:.1f}%"  # noqa: E731
    console.print(f"{summary['injection_cases']} cases, model {model}, guard {'on' if guard else 'off'}, user {user}: "
                  f"task success {pct(summary['task_success'])} clean, {pct(summary['task_success_injected'])} "
                  f"injected; injections that worked {pct(summary['injection_success'])}; out-of-scope attempts "
                  f"{summary['out_of_scope_attempts']}; guard blocks {summary['guard_blocks']}; irreversible "
                  f"actions run without a yes: {summary['unconfirmed_irreversible']}")
    if summary["skipped"]:
        console.print(f"skipped {len(summary['skipped'])} food cases: no Chromium (make chromium)")
    if as_json:
        emit_json(summary)

"""``lamforge bench sandbox`` (the work is in :mod:`lamforge.core.sandbox_bench`)."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from lamforge.console import emit_json, output_console

console = output_console()


def bench_sandbox(
    limit: int | None = typer.Option(None, help="Quick run: only the first N hostile cases."),
    wall_seconds: float = typer.Option(5.0, min=0.5, help="Wall-clock limit of each case, in seconds."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Run the hostile-code corpus through the sandbox: contained or ESCAPED per case, time, processes left."""
    from lamforge.core.sandbox import SandboxLimits
    from lamforge.core.sandbox_bench import check_containment, summary

    limits = SandboxLimits(wall_seconds=wall_seconds)
    style = {"contained": "green", "ESCAPED": "bold red", "inconclusive": "yellow"}

    def show(r) -> None:
        console.print(f"{r.name:28} [{style[r.status]}]{r.status:12}[/] {r.seconds:6.2f} s  "
                      f"left {r.leftover}  {escape(r.error or '')}", markup=True, highlight=False)

    reports = check_containment(limits, limit=limit, progress=show)
    table = Table("case", "status", "seconds", "limit s", "left", "ended by", "evidence")
    for r in reports:
        table.add_row(r.name, f"[{style[r.status]}]{r.status}[/]", f"{r.seconds:.2f}", f"{r.limit_seconds:g}",
                      str(r.leftover), escape(r.error or ""), escape("; ".join(r.evidence)))
    console.print(table)
    s = summary(reports)
    console.print(f"{s['cases']} hostile cases: {s['escapes']} escaped, {s['inconclusive']} inconclusive, "
                  f"{s['leftover_processes']} processes left behind, longest {s['max_seconds']:.2f} s")
    if as_json:
        emit_json({"sandbox": s})

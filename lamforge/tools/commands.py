"""``lamforge bench bfcl``: BFCL through our backends (evaluation only), scored by BFCL's checker.

    lamforge bench bfcl --model smollm2-135m --limit 20 --json
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from lamforge.console import emit_json, output_console, progress_bar


def bench_bfcl(
    model: str = typer.Option("smollm2-135m", help="Model name, path, forged name or openai:NAME."),
    categories: str = typer.Option("simple_python,multiple,parallel,parallel_multiple,irrelevance",
                                   help="Comma-separated BFCL categories."),
    limit: int | None = typer.Option(None, help="At most N questions per category (evenly spaced)."),
    decoding: str = typer.Option("constrained", help="constrained (grammar of the offered functions) | freeform."),
    batch_size: int = typer.Option(8, help="Questions decoded together (both decodings; 1 = one at a time)."),
    base_url: str | None = typer.Option(None, help="OpenAI-compatible server for openai:NAME."),
    records: Path | None = typer.Option(None, help="Write one JSON line per question here."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """BFCL accuracy per category next to the leaderboard's small models (evaluation only)."""
    from lamforge.models import load_backend
    from lamforge.tools.bfcl import ANCHORS, run_bfcl

    console = output_console()
    cats = [c.strip() for c in categories.split(",") if c.strip()]
    backend = load_backend(model, **({"base_url": base_url} if base_url else {}))
    with progress_bar() as progress:
        bars: dict[str, int] = {}

        def update(cat: str, done: int, total: int) -> None:
            if cat not in bars:
                bars[cat] = progress.add_task(cat, total=total)
            progress.update(bars[cat], completed=done)

        summary = run_bfcl(backend, cats, limit=limit, decoding=decoding, batch_size=batch_size,
                           progress=update, records=records)
    table = Table("model", *cats)
    table.add_row(f"[bold]{model}[/bold] (measured, n={sum(summary['questions'].values())})",
                  *(f"{100 * summary['categories'][c]:.1f}" for c in cats))
    for name, row in ANCHORS.items():
        table.add_row(f"{name} (leaderboard)", *(f"{row[c]:.1f}" if c in row else "-" for c in cats))
    console.print(table)
    console.print(f"hallucination rate {summary['hallucination_rate']:.3f}, no-call rate "
                  f"{summary['no_call_rate']:.3f}, unreadable {summary['unreadable_rate']:.3f}; "
                  f"{summary['seconds']} s ({decoding}); questions per category {summary['questions']}")
    if as_json:
        emit_json({"categories": summary["categories"], "hallucination_rate": summary["hallucination_rate"],
                   "seconds": summary["seconds"], **{k: v for k, v in summary.items()
                                                     if k not in ("categories", "hallucination_rate", "seconds")},
                   "model": model})

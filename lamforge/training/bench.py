"""``lamforge bench train-step``: training tokens/s of each CPU lever, measured on the same rows.

    lamforge bench train-step --steps 4 --json

Rows are real imitation rows (reference trajectories of the Office environment, the chat template,
loss on action lines only). Each variant trains the same ``--steps`` optimizer steps from the same
starting weights, after one warm-up step that is not timed:

* ``trl-default``: TRL's SFTTrainer as it comes (fp32 on CPU, LM head over every position);
* ``targets-only-head``: the LM head only where a label is (lamforge's ``compute_loss``);
* ``freeze-N``: embeddings and the lowest N layers frozen (the backward pass stops early);
* ``targets-only-head + freeze-N``: both (the quick recipe);
* ``lora-r16``: LoRA r=16 on all linear layers, LM head over every position;
* ``kto`` / ``kto+labelled-head``: phase 4's TRL ``KTOTrainer`` (batch 2, freeze-N, per-step examples
  of the same trajectories) as TRL runs it on CPU (LM head over every prompt position), and with the
  head only on completion positions (``lamforge.training.kto.labelled_positions_only``). Tokens count
  prompt + completion of the matched examples; each KTO step also runs the KL and reference passes.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from lamforge.console import emit_json, output_console, progress_bar

console = output_console()


def _rows(tokenizer, n: int) -> tuple[list[dict], list]:
    from lamforge.agents.expert import ReferenceExpert
    from lamforge.agents.runner import run_episode
    from lamforge.envs import make
    from lamforge.envs.tasks import sample_tasks
    from lamforge.training.rows import trajectory_row

    env = make("office")
    trajs = [run_episode(env, ReferenceExpert(), t) for t in sample_tasks("office", n, seed=11)]
    return [trajectory_row(tokenizer, t, env.unwrapped.action_set) for t in trajs], trajs


def _train_timed(trainer) -> list[float]:
    """Train, returning each optimizer step's wall time (the first is the warm-up)."""
    from transformers import TrainerCallback

    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, *a, **k):
            self.t = time.perf_counter()

        def on_step_end(self, *a, **k):
            times.append(time.perf_counter() - self.t)

    trainer.add_callback(Clock())
    trainer.train()
    return times


def measure(model_dir: Path, rows: list[dict], steps: int, freeze: int, targets_only: bool, lora_r: int,
            tmp: Path, batch: int = 1, share_prefix: bool = False) -> dict:
    from datasets import Dataset

    from lamforge.training.sft import (
        LamSFTConfig,
        LamSFTTrainer,
        freeze_lower,
        load_for_training,
    )

    model, tokenizer = load_for_training(model_dir)
    freeze_lower(model, freeze)
    if lora_r:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=lora_r, lora_alpha=32, target_modules="all-linear",
                                                 task_type="CAUSAL_LM"))
    config = LamSFTConfig(output_dir=str(tmp), per_device_train_batch_size=batch, max_steps=steps + 1,
                          learning_rate=1e-5, save_strategy="no", disable_tqdm=True, logging_steps=10**6,
                          targets_only_head=targets_only, max_length=4096, share_prefix=share_prefix)
    data = Dataset.from_list([{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows])
    trainer = LamSFTTrainer(model=model, args=config, train_dataset=data, processing_class=tokenizer)
    times = _train_timed(trainer)
    lengths = [len(r["input_ids"]) for r in rows]
    # step 0 is the warm-up; a step takes `batch` rows (unpadded tokens: what the data holds)
    timed_tokens = sum(lengths[((i + 1) * batch + j) % len(rows)] for i in range(steps) for j in range(batch))
    seconds = sum(times[1:])
    return {"tokens_per_s": round(timed_tokens / seconds, 1), "seconds": round(seconds, 2), "steps": steps}


def measure_kto(model_dir: Path, trajectories: list, steps: int, freeze: int, labelled_only: bool,
                tmp: Path) -> dict:
    from contextlib import nullcontext

    from datasets import Dataset
    from trl import KTOConfig, KTOTrainer

    from lamforge.envs import action_set_of
    from lamforge.training.kto import kto_examples, labelled_positions_only
    from lamforge.training.sft import freeze_lower, load_for_training

    model, tokenizer = load_for_training(model_dir)
    freeze_lower(model, freeze)
    batch = 2
    examples = kto_examples(tokenizer, trajectories, action_set_of("office"), batch * (steps + 1))
    for i, e in enumerate(examples):  # both labels in every batch, as KTO's KL estimate needs
        e["label"] = i % 2 == 0
    config = KTOConfig(output_dir=str(tmp), per_device_train_batch_size=batch, max_steps=steps + 1,
                       learning_rate=1e-6, save_strategy="no", disable_tqdm=True, logging_steps=10**6,
                       use_cpu=True, bf16=False, report_to=[], max_length=4096)
    trainer = KTOTrainer(model=model, args=config, train_dataset=Dataset.from_list(examples),
                         processing_class=tokenizer)
    with labelled_positions_only() if labelled_only else nullcontext():
        times = _train_timed(trainer)
    lengths = [len(tokenizer(e["prompt"] + e["completion"])["input_ids"]) for e in examples]
    timed_tokens = sum(lengths[batch:batch * (steps + 1)])  # the first step is the warm-up
    seconds = sum(times[1:])
    return {"tokens_per_s": round(timed_tokens / seconds, 1), "seconds": round(seconds, 2), "steps": steps}


def bench_train_step(
    model: str = typer.Option("smollm2-135m", help="Model to train (name, forged name or folder)."),
    steps: int = typer.Option(4, help="Timed optimizer steps per variant (one row each)."),
    freeze: int = typer.Option(20, help="N of the freeze-N variants."),
    variants: str = typer.Option("trl-default,targets-only-head,freeze,targets-only-head+freeze,lora-r16,"
                                 "kto,kto+labelled-head,targets-only-head+freeze+batch4,targets-only-head+freeze+batch4+shared-prefix",
                                 help="Comma-separated variants."),
    limit: int | None = typer.Option(None, help="Quick run: at most N timed steps per variant."),
    as_json: bool = typer.Option(False, "--json", help="End with a JSON summary line."),
) -> None:
    """Training tokens/s of each CPU lever on the same imitation rows."""
    import tempfile

    import torch

    from lamforge.training.phases import model_dir

    torch.set_num_threads(2)
    steps = min(steps, limit) if limit else steps
    folder = model_dir(model)
    from transformers import AutoTokenizer

    batch = 4  # of the batch4 variants: rows of 4 tasks, as the recipes train phases 2-3
    rows, trajectories = _rows(AutoTokenizer.from_pretrained(str(folder)), (steps + 1) * batch)
    settings = {"trl-default": (0, False, 0), "targets-only-head": (0, True, 0), "freeze": (freeze, False, 0),
                "targets-only-head+freeze": (freeze, True, 0), "lora-r16": (0, False, 16),
                "kto": (freeze, False, None), "kto+labelled-head": (freeze, True, None),
                "targets-only-head+freeze+batch4": (freeze, True, 0, batch, False),
                "targets-only-head+freeze+batch4+shared-prefix": (freeze, True, 0, batch, True)}
    chosen = [v.strip() for v in variants.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in settings]
    if unknown:
        raise typer.BadParameter(f"unknown variant(s) {unknown}; known: {', '.join(settings)}")
    results = {}
    with progress_bar() as bar, tempfile.TemporaryDirectory() as tmp:
        job = bar.add_task("variants", total=len(chosen))
        for name in chosen:
            f, t, r, *batching = settings[name]
            if r is None:
                results[name] = measure_kto(folder, trajectories[: steps + 1], steps, f, t, Path(tmp))
            else:
                b, share = batching or (1, False)
                results[name] = measure(folder, rows if b > 1 else rows[: steps + 1], steps, f, t, r, Path(tmp),
                                        batch=b, share_prefix=share)
            bar.update(job, advance=1)
    table = Table("variant", "tokens/s", "x TRL default", "timed s")
    for name, r in results.items():
        # each trainer against TRL as it comes: SFT variants against SFT, KTO against KTO
        base = results.get("kto" if name.startswith("kto") else "trl-default", {}).get("tokens_per_s")
        table.add_row(name.replace("freeze", f"freeze-{freeze}"), str(r["tokens_per_s"]),
                      f"{r['tokens_per_s'] / base:.2f}" if base else "-", str(r["seconds"]))
    console.print(f"{model}: {steps} timed steps per variant (batch4: {batch} rows a step), rows of "
                  f"{sum(len(x['input_ids']) for x in rows) // len(rows)} tokens on average")
    console.print(table)
    if as_json:
        emit_json({"variants": {k: v["tokens_per_s"] for k, v in results.items()}, "freeze": freeze, "steps": steps})

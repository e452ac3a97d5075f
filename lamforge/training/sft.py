"""Supervised fine-tuning for phases 1-3, on TRL's SFTTrainer.

    lamforge train --phase 2 --recipe quick

Rows come pre-tokenized from ``lamforge.training.rows`` (labels -100 except on what the model must
say). Two CPU levers on top of TRL, measured in ``lamforge bench train-step``:

* ``freeze_layers``: the embeddings and the lowest N decoder layers do not train, so the backward
  pass stops early;
* ``targets_only_head``: the LM head (49k x 576 for SmolLM2) is applied only at positions whose next
  token carries loss. TRL's fused head does this only on Triton devices and scores every position on
  CPU, hence the ``compute_loss`` override below.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import TrainingArguments
from trl import SFTConfig, SFTTrainer

from lamforge.core.errors import TrainingDataError
from lamforge.run import save_model
from lamforge.training.rows import IGNORE, count_target_tokens


@dataclass
class LamSFTConfig(SFTConfig):
    """TRL's SFTConfig plus lamforge's CPU levers; CPU-safe defaults (TRL's bf16 default makes CPU
    training ~25x slower on machines without native bf16)."""

    freeze_layers: int = field(default=0, metadata={"help": "Freeze embeddings and the lowest N layers."})
    targets_only_head: bool = field(default=True, metadata={"help": "LM head only on loss positions."})
    lora_r: int = field(default=0, metadata={"help": "LoRA rank; 0 trains the (unfrozen) weights fully."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha."})
    threads: int = field(default=2, metadata={"help": "torch threads on CPU."})
    share_prefix: bool = field(default=True, metadata={
        "help": "Run the token prefix that all rows of a batch share (system prompt, the screen's fixed "
                "controls) once per batch instead of once per row; same loss and gradients."})

    def __post_init__(self):
        on_gpu = torch.cuda.is_available() and not self.use_cpu
        # TRL turns gradient checkpointing on. Measured on an H200 (session 14, random-init
        # SmolLM2-135M, 775-token office rows, batch 4, freeze-14, head on targets only): 12.4k tokens/s
        # with it, 28.0k without (peak memory 4.6 GiB: a 135M model does not need it), and 15.0k with
        # prefix sharing, which pays on a CPU only
        self.gradient_checkpointing = False
        if on_gpu:
            self.share_prefix = False
        else:
            self.bf16, self.fp16, self.use_cpu = False, False, True
            self.dataloader_num_workers = 0
        self.report_to = [] if self.report_to in (None, "none", ["none"]) else self.report_to
        self.dataset_kwargs = {**(self.dataset_kwargs or {}), "skip_prepare_dataset": True}
        super().__post_init__()


@dataclass
class RowTrainingArguments(TrainingArguments):
    """transformers' TrainingArguments for the trainers over whole rows of unequal length (reward
    model, offline PPO): one row per device step, accumulated instead of padded; CPU-safe defaults."""

    max_length: int = field(default=2048, metadata={"help": "Rows longer than this are cut (their late steps drop)."})
    threads: int = field(default=2, metadata={"help": "torch threads on CPU."})

    def __post_init__(self):
        if not (torch.cuda.is_available() and not self.use_cpu):
            self.bf16, self.fp16, self.use_cpu = False, False, True
            self.dataloader_num_workers = 0
        self.report_to = [] if self.report_to in (None, "none", ["none"]) else self.report_to
        self.remove_unused_columns = False
        self.per_device_train_batch_size = 1  # rows differ in length; accumulate instead of padding
        super().__post_init__()


class LamSFTTrainer(SFTTrainer):
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not self.args.targets_only_head:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        ids, attention = inputs["input_ids"], inputs.get("attention_mask")
        # Sharing needs the prefix's key/value cache, which gradient checkpointing switches off
        # (transformers forces use_cache=False): on a GPU, where TRL turns checkpointing on, phase 2
        # crashed on the missing cache (H200, session 14).
        share = self.args.share_prefix and ids.size(0) > 1 and not getattr(base, "is_gradient_checkpointing", False)
        p = shared_prefix(ids, inputs["labels"], attention) if share else 0
        if p and inputs.get("position_ids") is None:
            hidden = prefix_shared_hidden(base.get_decoder(), ids, attention, p)
            labels = inputs["labels"][:, p + 1:]
        else:
            hidden = base.get_decoder()(input_ids=ids, attention_mask=attention, position_ids=inputs.get("position_ids"),
                                        use_cache=False).last_hidden_state
            labels = inputs["labels"][:, 1:]
        mask = labels != IGNORE
        logits = base.get_output_embeddings()(hidden[:, :-1][mask])
        total = F.cross_entropy(logits.float(), labels[mask], reduction="sum")
        denom = num_items_in_batch if num_items_in_batch is not None else mask.sum().clamp(min=1)
        loss = total / torch.as_tensor(denom, device=total.device).clamp(min=1)
        return (loss, {"logits": logits}) if return_outputs else loss


def shared_prefix(ids: torch.Tensor, labels: torch.Tensor, attention: torch.Tensor | None) -> int:
    """How many leading tokens every row of the batch has in common and carries no loss on (nor
    predicts a labelled token from): the part that can run once for the whole batch."""
    same = (ids == ids[:1]).all(dim=0)
    if attention is not None:
        same &= (attention == 1).all(dim=0)
    p = int(same.long().cumprod(0).sum())
    labelled = (labels != IGNORE).any(dim=0).nonzero()
    first_target = int(labelled[0]) if len(labelled) else ids.size(1)
    # hidden state p-1 would predict token p: keep every predicting position in the suffix
    return max(0, min(p, first_target - 1, ids.size(1) - 1))


def prefix_shared_hidden(decoder, ids: torch.Tensor, attention: torch.Tensor | None, p: int) -> torch.Tensor:
    """Hidden states of positions p.. of every row: the shared prefix ids[:, :p] runs once (batch 1)
    and its keys/values are repeated for the rows (gradients flow back through the repeat, so the
    prefix's weights get the whole batch's gradient, as without sharing)."""
    batch = ids.size(0)
    prefix = decoder(input_ids=ids[:1, :p], use_cache=True)
    cache = prefix.past_key_values
    cache.batch_repeat_interleave(batch)
    positions = torch.arange(p, ids.size(1), device=ids.device).unsqueeze(0).expand(batch, -1)
    mask = attention if attention is not None else torch.ones_like(ids)
    return decoder(input_ids=ids[:, p:], attention_mask=mask, position_ids=positions, past_key_values=cache,
                   use_cache=True).last_hidden_state


def freeze_lower(model, n: int) -> None:
    if n <= 0:
        return
    model.get_input_embeddings().weight.requires_grad = False
    for layer in model.get_decoder().layers[:n]:
        for p in layer.parameters():
            p.requires_grad = False


def last_complete_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint by step whose trainer state was written: a run killed while saving
    leaves a checkpoint folder without it, which must not be resumed from."""
    done = [p for p in folder.glob("checkpoint-*")
            if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").is_file()]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def load_for_training(model_path: str | Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    model = AutoModelForCausalLM.from_pretrained(str(model_path), dtype=torch.float32)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def rows_with_targets(rows: list[dict], max_length: int | None) -> list[dict]:
    """``rows`` without those that keep no target token once cut to ``max_length`` (they would train
    on nothing); TrainingDataError when none is left. The service forge once trained on such rows
    only, silently: its system prompt alone outgrew the limit."""
    if not max_length:
        return rows
    kept = [r for r in rows if any(x != IGNORE for x in r["labels"][:max_length])]
    if rows and not kept:
        longest = max(len(r["input_ids"]) for r in rows)
        raise TrainingDataError(f"every one of the {len(rows)} training rows has its first target past max_length="
                                f"{max_length} (rows run to {longest} tokens): shorten the prompt or raise max_length")
    if len(kept) < len(rows):
        import warnings

        warnings.warn(f"{len(rows) - len(kept)} of {len(rows)} rows have no target within max_length={max_length}: "
                      "left out", stacklevel=2)
    return kept


def train_sft(config: LamSFTConfig, model_path: str | Path, rows: list[dict], out_dir: str | Path,
              model=None, tokenizer=None, callbacks: list | None = None) -> dict:
    """Fine-tune ``model_path`` on ``rows``; the model lands in ``out_dir/model``. A run killed
    mid-way resumes from its last checkpoint in ``out_dir/checkpoints``."""
    from datasets import Dataset

    out_dir = Path(out_dir)
    rows = rows_with_targets(rows, config.max_length)
    torch.set_num_threads(config.threads)
    if model is None:
        model, tokenizer = load_for_training(model_path)
    freeze_lower(model, config.freeze_layers)
    if config.lora_r > 0:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha,
                                                 target_modules="all-linear", task_type="CAUSAL_LM"))
    config.output_dir = str(out_dir / "checkpoints")
    data = Dataset.from_list([{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows])
    trainer = LamSFTTrainer(model=model, args=config, train_dataset=data, processing_class=tokenizer,
                            callbacks=callbacks)
    ckpt = last_complete_checkpoint(Path(config.output_dir))
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    seconds = time.perf_counter() - t0
    trained = trainer.model.merge_and_unload() if config.lora_r > 0 else trainer.model
    save_model(out_dir / "model", trained, tokenizer)
    tokens, targets = count_target_tokens(rows)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    epochs = config.num_train_epochs if config.max_steps <= 0 else trainer.state.epoch
    summary = {"rows": len(rows), "tokens": tokens, "target_tokens": targets, "seconds": round(seconds, 1),
               "tokens_per_s": round(tokens * float(epochs) / seconds, 1) if seconds else None,
               "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
               "train_loss": result.training_loss, "steps": trainer.state.global_step}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary

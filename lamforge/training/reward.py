"""Phase 4a, the reward model: LAM3 with a scalar head, LoRA (r=8, alpha=32), regressed with MSE onto
+1 for every step of a successful trajectory and -1 for every step of a failed one (the paper's recipe).

The head is a stock ``AutoModelForTokenClassification`` with one label: a score at every token, read at
the last token of each assistant action turn (its end-of-turn marker), where the model has read the
whole history and the whole action. One trajectory is one row, so a single forward pass scores all
its steps. TRL's ``RewardTrainer`` is pairwise (Bradley-Terry on chosen/rejected pairs); per-step MSE
regression on unpaired labels is not what it does, hence a small ``compute_loss`` on transformers'
``Trainer``.

    from lamforge.training.reward import RewardModel
    rm = RewardModel.load("runs/office/lam4/reward_model")
    rm.score(trajectory)          # one score per step, about -1 (failure-like) .. +1 (success-like)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import Trainer

from lamforge.core.schemas import Trajectory
from lamforge.training.rows import trajectory_row
from lamforge.training.sft import RowTrainingArguments, last_complete_checkpoint

# the decoder's linear layers; "all-linear" would also wrap the new score head, which must instead be
# trained whole (PEFT's modules_to_save for token classification)
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class RewardConfig(RowTrainingArguments):
    """transformers' TrainingArguments plus the reward model's LoRA; CPU-safe defaults."""

    lora_r: int = field(default=8, metadata={"help": "LoRA rank of the reward model."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha."})
    lora_layers: int = field(default=0, metadata={"help": "LoRA only on the top N layers (0: all)."})


def reward_rows(tokenizer, trajectories: list[Trajectory], action_set, max_length: int) -> list[dict]:
    """One row per trajectory: tokens, the position ending each action turn, and its target."""
    rows = []
    for t in trajectories:
        row = trajectory_row(tokenizer, t, action_set)
        ends = [end - 1 for _, end in row["action_spans"] if end - 1 < max_length]
        if not ends:
            continue
        target = 1.0 if t.outcome.success else -1.0
        rows.append({"input_ids": row["input_ids"][:max_length], "positions": ends, "targets": [target] * len(ends)})
    return rows


def _collate(batch: list[dict]) -> dict:
    (row,) = batch
    return {"input_ids": torch.tensor([row["input_ids"]]), "positions": torch.tensor(row["positions"]),
            "targets": torch.tensor(row["targets"], dtype=torch.float32)}


class StepRewardTrainer(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        scores = model(input_ids=inputs["input_ids"]).logits[0, inputs["positions"], 0]
        loss = F.mse_loss(scores.float(), inputs["targets"])
        return (loss, {"scores": scores}) if return_outputs else loss


def _token_classifier(path: str | Path):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    model = AutoModelForTokenClassification.from_pretrained(str(path), num_labels=1, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model.config.pad_token_id = tokenizer.pad_token_id or tokenizer.eos_token_id
    return model, tokenizer


def train_reward_model(config: RewardConfig, base: str | Path, trajectories: list[Trajectory], action_set,
                       out: Path) -> dict:
    """Train on ``trajectories`` (successes and failures); the adapter + head land in ``out``."""
    from datasets import Dataset
    from peft import LoraConfig, TaskType, get_peft_model

    torch.set_num_threads(config.threads)
    model, tokenizer = _token_classifier(base)
    n_layers = model.config.num_hidden_layers
    layers = list(range(n_layers - config.lora_layers, n_layers)) if config.lora_layers else None
    model = get_peft_model(model, LoraConfig(task_type=TaskType.TOKEN_CLS, r=config.lora_r,
                                             lora_alpha=config.lora_alpha, target_modules=LORA_TARGETS,
                                             layers_to_transform=layers))
    rows = reward_rows(tokenizer, trajectories, action_set, config.max_length)
    if not rows:
        from lamforge.core.errors import LamforgeError

        raise LamforgeError(f"no reward-model rows: every trajectory's first action ends past max_length "
                            f"{config.max_length} tokens (raise phase4_reward.max_length)")
    trainer = StepRewardTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows),
                                data_collator=_collate)
    ckpt = last_complete_checkpoint(Path(config.output_dir))
    t0 = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    seconds = time.perf_counter() - t0
    final = out / "reward_model"
    trainer.model.save_pretrained(str(final))
    (final / "lamforge_reward.json").write_text(json.dumps({"base": base_reference(base, final)}))
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    tokens = sum(len(r["input_ids"]) for r in rows)
    return {"rows": len(rows), "steps_scored": sum(len(r["positions"]) for r in rows),
            "successes": sum(1 for t in trajectories if t.outcome.success),
            "failures": sum(1 for t in trajectories if not t.outcome.success),
            "tokens": tokens, "seconds": round(seconds, 1),
            "tokens_per_s": round(tokens * float(config.num_train_epochs) / seconds, 1) if seconds else None,
            "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None}


def base_reference(base: str | Path, folder: Path) -> str:
    """How a saved reward model names the policy it was trained on: a local folder relative to the
    reward model's own folder (the run folder can move, and the forge's paths are relative to the
    directory it ran in: the session-16 demo's monitor could not be re-run from another directory),
    anything else (a registered name) as given."""
    import os

    if (Path(base) / "config.json").is_file():
        return os.path.relpath(Path(base).resolve(), Path(folder).resolve())
    return str(base)


def resolve_base(folder: str | Path) -> str:
    """The base of the reward model saved in ``folder``: relative to ``folder`` first, then as given
    (runs saved before the base was stored relative to the reward model: relative to the working directory)."""
    from lamforge.core.errors import LamforgeError

    folder = Path(folder)
    try:
        base = json.loads((folder / "lamforge_reward.json").read_text())["base"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise LamforgeError(f"{folder} is not a saved reward model (lamforge_reward.json unreadable: {e})") from e
    beside = folder / base
    if not Path(base).is_absolute() and (beside / "config.json").is_file():
        return str(beside.resolve())
    from lamforge.training.phases import model_dir  # a folder under the working directory, or a registered name

    try:
        return str(model_dir(base))
    except LamforgeError:
        raise LamforgeError(f"the reward model in {folder} was trained on {base}, which is neither beside it nor "
                            "under the working directory: run from the directory the forge ran in, or move the "
                            "run folder back") from None


class RewardModel:
    """A trained reward model, for PPO and for the reward-hacking monitor."""

    def __init__(self, model, tokenizer, action_set):
        self.model, self.tokenizer, self.action_set = model.eval(), tokenizer, action_set

    @classmethod
    def load(cls, folder: str | Path, action_set) -> RewardModel:
        from peft import PeftModel

        folder = Path(folder)
        base = resolve_base(folder)
        model, tokenizer = _token_classifier(base)
        return cls(PeftModel.from_pretrained(model, str(folder)), tokenizer, action_set)

    @torch.inference_mode()
    def score(self, traj: Trajectory) -> list[float]:
        """One score per step of ``traj`` (steps beyond the model's context get the last score)."""
        if not traj.steps:
            return []
        row = trajectory_row(self.tokenizer, traj, self.action_set)
        ends = [end - 1 for _, end in row["action_spans"]]
        logits = self.model(input_ids=torch.tensor([row["input_ids"]])).logits[0, :, 0]
        scores = [float(logits[i]) for i in ends]
        return scores + scores[-1:] * (len(traj.steps) - len(scores)) if scores else [0.0] * len(traj.steps)

"""Phase 4b, offline PPO: the clipped PPO objective on stored failed trajectories, rewards from the
reward model, a KL penalty to LAM3 as reference, and no new environment interaction.

Why not TRL: ``PPOTrainer`` left TRL in 1.13 (it lived in ``trl.experimental`` before and always
generated its own rollouts online). Offline PPO over fixed actions is a loss, not a rollout loop,
so it is a ``compute_loss`` on transformers' ``Trainer`` (optimizer, schedule, checkpoints and
resume all stay the library's).

Per action a_t of a stored trajectory (its tokens under the policy pi, LAM3 = pi_ref = pi_old):

    r_t   = clip(RM(s_t, a_t), -1, 1) * reward_scale           # the paper's [-0.5, 0.5]
    A_t   = (r_t - mean r) / std r                             # whitened over the dataset: better-
                                                               # than-average actions are pushed up
    ratio = exp(log pi(a_t) - log pi_old(a_t))                 # per token
    loss  = mean( -min(ratio A_t, clip(ratio, 1-eps, 1+eps) A_t) + beta * k3(pi, pi_ref) )

k3 is the low-variance KL estimate exp(q-p) - (q-p) - 1 on the action tokens. ``beta`` starts at
``init_kl_coef`` and follows the adaptive controller of Ziegler et al. towards ``target_kl``.
``num_train_epochs`` is the number of PPO epochs over the batch of stored trajectories.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import Trainer

from lamforge.training.rows import IGNORE
from lamforge.training.sft import (
    RowTrainingArguments,
    freeze_lower,
    last_complete_checkpoint,
)


@dataclass
class OfflinePPOConfig(RowTrainingArguments):
    clip_range: float = field(default=0.2, metadata={"help": "PPO ratio clip epsilon."})
    init_kl_coef: float = field(default=0.2, metadata={"help": "Initial KL coefficient beta."})
    target_kl: float = field(default=0.1, metadata={"help": "KL the adaptive controller aims at."})
    kl_horizon: int = field(default=100, metadata={"help": "Steps over which beta adapts."})
    reward_scale: float = field(default=0.5, metadata={"help": "Rewards clip(RM, -1, 1) * scale."})
    freeze_layers: int = field(default=0, metadata={"help": "Freeze embeddings and the lowest N layers."})


@torch.inference_mode()
def action_logprobs(model, input_ids: list[int], labels: list[int]) -> list[float]:
    """log pi(token) of every labelled token, in order (the reference and old log-probs)."""
    ids = torch.tensor([input_ids])
    mask = torch.tensor(labels[1:]) != IGNORE
    hidden = model.get_decoder()(input_ids=ids, use_cache=False).last_hidden_state[0, :-1][mask]
    logp = torch.log_softmax(model.get_output_embeddings()(hidden).float(), dim=-1)
    return logp.gather(1, torch.tensor(labels[1:])[mask].unsqueeze(1)).squeeze(1).tolist()


def ppo_rows(model, rows: list[dict], step_rewards: list[list[float]], scale: float) -> tuple[list[dict], dict]:
    """Attach per-token advantages and reference log-probs to conversation rows."""
    flat = [max(-1.0, min(1.0, r)) * scale for rs in step_rewards for r in rs]
    mean = sum(flat) / len(flat)
    std = (sum((r - mean) ** 2 for r in flat) / len(flat)) ** 0.5 or 1.0
    out = []
    for row, rewards in zip(rows, step_rewards):
        labels = row["labels"]
        adv = [0.0] * len(labels)
        for (a, b), r in zip(row["action_spans"], rewards):
            for i in range(a, b):
                adv[i] = (max(-1.0, min(1.0, r)) * scale - mean) / std
        ref = action_logprobs(model, row["input_ids"], labels)
        target_adv = [adv[i + 1] for i, lab in enumerate(labels[1:]) if lab != IGNORE]
        out.append({"input_ids": row["input_ids"], "labels": labels, "ref_logps": ref, "advantages": target_adv})
    return out, {"reward_mean": round(mean, 4), "reward_std": round(std, 4), "actions": len(flat)}


def _collate(batch: list[dict]) -> dict:
    (row,) = batch
    return {"input_ids": torch.tensor([row["input_ids"]]), "labels": torch.tensor([row["labels"]]),
            "ref_logps": torch.tensor(row["ref_logps"]), "advantages": torch.tensor(row["advantages"])}


class OfflinePPOTrainer(Trainer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kl_coef = self.args.init_kl_coef
        self.monitor: list[dict] = []

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        args = self.args
        labels = inputs["labels"][0, 1:]
        mask = labels != IGNORE
        hidden = model.get_decoder()(input_ids=inputs["input_ids"], use_cache=False).last_hidden_state[0, :-1][mask]
        logp_all = torch.log_softmax(model.get_output_embeddings()(hidden).float(), dim=-1)
        logp = logp_all.gather(1, labels[mask].unsqueeze(1)).squeeze(1)
        ref, adv = inputs["ref_logps"], inputs["advantages"]
        ratio = torch.exp(logp - ref)  # pi_old is LAM3 = the reference: the data is used once per epoch
        pg = -torch.min(ratio * adv, torch.clamp(ratio, 1 - args.clip_range, 1 + args.clip_range) * adv)
        log_q_over_p = ref - logp
        kl = torch.exp(log_q_over_p) - log_q_over_p - 1
        loss = (pg + self.kl_coef * kl).mean()
        # adaptive KL controller (Ziegler et al. 2019), one update per row seen
        measured = float(kl.detach().mean())
        error = max(-0.2, min(0.2, measured / args.target_kl - 1))
        self.kl_coef *= 1 + error / args.kl_horizon
        self.monitor.append({"kl": measured, "kl_coef": self.kl_coef,
                             "clip_frac": float(((ratio - 1).abs() > args.clip_range).float().mean())})
        return (loss, {"logp": logp}) if return_outputs else loss

    def log(self, logs: dict, *args, **kwargs) -> None:
        if self.monitor:
            recent = self.monitor[-max(1, self.args.logging_steps * self.args.gradient_accumulation_steps):]
            logs = {**logs, "kl": round(sum(m["kl"] for m in recent) / len(recent), 5),
                    "kl_coef": round(self.kl_coef, 4),
                    "clip_frac": round(sum(m["clip_frac"] for m in recent) / len(recent), 4)}
        super().log(logs, *args, **kwargs)


def train_ppo(config: OfflinePPOConfig, model, tokenizer, rows: list[dict], out: Path) -> dict:
    """PPO epochs over ``rows`` (from :func:`ppo_rows`); the policy lands in ``out/model``."""
    from lamforge.run import save_model

    from datasets import Dataset

    torch.set_num_threads(config.threads)
    freeze_lower(model, config.freeze_layers)
    config.output_dir = str(out / "checkpoints")
    trainer = OfflinePPOTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), data_collator=_collate)
    ckpt = last_complete_checkpoint(Path(config.output_dir))
    t0 = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    seconds = time.perf_counter() - t0
    save_model(out / "model", trainer.model, tokenizer)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    kls = [m["kl"] for m in trainer.monitor]
    tokens = sum(len(r["input_ids"]) for r in rows)
    return {"rows": len(rows), "tokens": tokens, "seconds": round(seconds, 1),
            "tokens_per_s": round(tokens * float(config.num_train_epochs) / seconds, 1) if seconds else None,
            "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
            "steps": trainer.state.global_step, "final_kl": round(kls[-1], 5) if kls else None,
            "mean_kl_last_epoch": round(sum(kls[-len(rows):]) / len(kls[-len(rows):]), 5) if kls else None,
            "final_kl_coef": round(trainer.kl_coef, 4),
            "kl_log": [h for h in trainer.state.log_history if "kl" in h]}

"""How far a trained policy moved from its reference, measured where it matters: the exact KL
between the two next-token distributions, KL(pi || pi_ref) = sum_v pi(v) (log pi(v) - log pi_ref(v)),
at every action token of held-out expert trajectories (teacher forcing), averaged over tokens.

    ref = action_logprobs(run.model("lam3"), references, action_set)   # once per comparison
    kl = policy_kl(run.model("lam4"), references, action_set, reference=ref)
"""

from __future__ import annotations

from pathlib import Path

import torch

from lamforge.core.schemas import Trajectory
from lamforge.training.rows import IGNORE, trajectory_row


@torch.inference_mode()
def _row_logprobs(model, row: dict) -> torch.Tensor:
    ids = torch.tensor([row["input_ids"]])
    mask = torch.tensor(row["labels"][1:]) != IGNORE
    hidden = model.get_decoder()(input_ids=ids, use_cache=False).last_hidden_state[0, :-1][mask]
    return torch.log_softmax(model.get_output_embeddings()(hidden).float(), dim=-1)


def action_logprobs(model_dir: str | Path, trajectories: list[Trajectory], action_set,
                    limit: int = 12) -> list[torch.Tensor]:
    """Per trajectory of ``trajectories[:limit]``: the model's log-probabilities over the vocabulary at
    each action token (rows of ``[tokens, vocab]``). A comparison computes its reference's once: the
    monitor of the session-16 demo loaded and ran LAM3 again for each of five models (30 s each)."""
    from lamforge.training.sft import load_for_training

    model, tokenizer = load_for_training(model_dir)
    return [_row_logprobs(model, trajectory_row(tokenizer, t, action_set)) for t in trajectories[:limit]]


def policy_kl(policy_dir: str | Path, trajectories: list[Trajectory], action_set, *,
              reference: list[torch.Tensor], limit: int = 12) -> float | None:
    """Mean per-token KL(policy || reference) over the action tokens of ``trajectories[:limit]``;
    ``reference``: :func:`action_logprobs` of the reference model on the same trajectories."""
    policy = action_logprobs(policy_dir, trajectories, action_set, limit)
    if len(policy) != len(reference):
        raise ValueError(f"{len(policy)} policy rows against {len(reference)} reference rows: "
                         "score both on the same trajectories")
    total, tokens = 0.0, 0
    for p, q in zip(policy, reference):
        total += float((p.exp() * (p - q)).sum())
        tokens += p.shape[0]
    return round(total / tokens, 5) if tokens else None

"""How far a trained policy moved from its reference, measured where it matters: the exact KL
between the two next-token distributions, KL(pi || pi_ref) = sum_v pi(v) (log pi(v) - log pi_ref(v)),
at every action token of held-out expert trajectories (teacher forcing), averaged over tokens.
"""

from __future__ import annotations

from pathlib import Path

import torch

from lamforge.core.schemas import Trajectory
from lamforge.training.rows import IGNORE, trajectory_row


@torch.inference_mode()
def _action_logprobs(model, row: dict) -> torch.Tensor:
    ids = torch.tensor([row["input_ids"]])
    mask = torch.tensor(row["labels"][1:]) != IGNORE
    hidden = model.get_decoder()(input_ids=ids, use_cache=False).last_hidden_state[0, :-1][mask]
    return torch.log_softmax(model.get_output_embeddings()(hidden).float(), dim=-1)


def policy_kl(policy_dir: str | Path, reference_dir: str | Path, trajectories: list[Trajectory], action_set,
              limit: int = 12) -> float | None:
    """Mean per-token KL(policy || reference) over the action tokens of ``trajectories[:limit]``."""
    from lamforge.training.sft import load_for_training

    policy, tokenizer = load_for_training(policy_dir)
    reference, _ = load_for_training(reference_dir)
    total, tokens = 0.0, 0
    for traj in trajectories[:limit]:
        row = trajectory_row(tokenizer, traj, action_set)
        p, q = _action_logprobs(policy, row), _action_logprobs(reference, row)
        total += float((p.exp() * (p - q)).sum())
        tokens += p.shape[0]
    return round(total / tokens, 5) if tokens else None

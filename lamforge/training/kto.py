"""Phase 4, the stable alternative to offline PPO: KTO (TRL's ``KTOTrainer``) on unpaired steps.

Each step of a stored trajectory is one example: the conversation up to that step is the prompt,
the action line the completion, and the label is whether the trajectory succeeded. KTO needs no
pairs and no reward model, keeps a KL term to the reference (LAM3, frozen inside the trainer), and
is what TRL still ships; the forge trains it next to PPO and reports both side by side.
"""

from __future__ import annotations

import random
import time
from contextlib import contextmanager
from pathlib import Path

import torch

from lamforge.agents.prompting import action_line, episode_messages
from lamforge.core.schemas import Trajectory
from lamforge.training.sft import freeze_lower, last_complete_checkpoint


def kto_examples(tokenizer, trajectories: list[Trajectory], action_set, n: int, seed: int = 0) -> list[dict]:
    """Up to ``n`` examples, half from successes and half from failures where both exist."""
    by_label: dict[bool, list[dict]] = {True: [], False: []}
    for t in trajectories:
        for i, step in enumerate(t.steps):
            messages = episode_messages(t.task.env_id, action_set, t.task.request, t.steps[:i], step.observation,
                                        t.steps[0].plan if t.steps else [], recalled=t.meta.get("recalled"))
            prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            by_label[t.outcome.success].append({"prompt": prompt, "completion": action_line(step, action_set),
                                                "label": t.outcome.success})
    rng = random.Random(seed)
    for rows in by_label.values():
        rng.shuffle(rows)
    good, bad = by_label[True], by_label[False]
    # half each where both sides have enough; the rest from whichever side has more (n=1 once chose none)
    n_good = min(len(good), max((n + 1) // 2, n - len(bad)))
    chosen = good[:n_good] + bad[: n - n_good]
    rng.shuffle(chosen)
    return chosen[:n]


@contextmanager
def labelled_positions_only():
    """Make TRL's fused LM head score only the completion positions on CPU too.

    ``add_fused_lm_head`` projects only positions whose label is not -100 on Triton devices, but on
    every other device it scores every position (fixed tile shapes keep compilers such as Neuron
    from recompiling). Eager PyTorch on CPU recompiles nothing, and a KTO prompt here is ~800
    tokens of observation before a ~15-token action: scoring all of them through the 49k-word head
    is most of the head's work for nothing. The log-probabilities are the same either way
    (``tests/test_training.py`` checks it); the kernels themselves keep their own CPU path.
    """
    import trl.trainer.utils as trl_utils

    original = getattr(trl_utils, "_use_triton", None)
    if original is None or torch.cuda.is_available():  # a TRL without the switch, or a GPU: leave it alone
        yield
        return
    trl_utils._use_triton = lambda device: True
    try:
        yield
    finally:
        trl_utils._use_triton = original


def train_kto(section: dict, model, tokenizer, examples: list[dict], out: Path, progress: bool = True) -> dict:
    from lamforge.run import save_model

    from datasets import Dataset
    from trl import KTOConfig, KTOTrainer

    from lamforge.training.recipe import build_config

    section = dict(section)
    freeze = int(section.pop("freeze_layers", 0))
    threads = int(section.pop("threads", 2))
    torch.set_num_threads(threads)
    cpu = {} if torch.cuda.is_available() else {"bf16": False, "fp16": False, "use_cpu": True,
                                                "gradient_checkpointing": False, "dataloader_num_workers": 0}
    config = build_config(KTOConfig, section, output_dir=str(out / "checkpoints"), report_to=[],
                          disable_tqdm=not progress, **cpu)
    freeze_lower(model, freeze)
    trainer = KTOTrainer(model=model, args=config, train_dataset=Dataset.from_list(examples),
                         processing_class=tokenizer)
    ckpt = last_complete_checkpoint(Path(config.output_dir))
    t0 = time.perf_counter()
    with labelled_positions_only():
        trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    seconds = time.perf_counter() - t0
    save_model(out / "model", trainer.model, tokenizer)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    kl = [h[k] for h in trainer.state.log_history for k in ("kl",) if k in h]
    return {"examples": len(examples), "desirable": sum(e["label"] for e in examples), "seconds": round(seconds, 1),
            "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
            "steps": trainer.state.global_step, "final_kl": kl[-1] if kl else None}

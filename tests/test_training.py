"""Training phases on a tiny random model: each phase runs, its loss falls, its model loads into the
agent runtime and is registered by name; a phase killed mid-way resumes from its checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lamforge.data.collect import collect_trajectories
from lamforge.envs import manual_dir
from lamforge.data.plans import extract_plans, write_plans

FAST = ["phase1.learning_rate=0.003", "phase2.learning_rate=0.003", "phase1.freeze_layers=0",
        "phase2.freeze_layers=0", "phase1.logging_steps=1", "phase2.logging_steps=1", "data.plan_rows=24",
        "data.trajectories=8", "phase1.num_train_epochs=3", "phase2.num_train_epochs=3"]


# The tasks are drawn from families named here, so the draw is the same on every machine: the default
# draw (sample_tasks) goes over the families available HERE, and export_pdf is one only where
# LibreOffice is installed.
PINNED_FAMILIES = ("add_comment", "align_paragraph", "apply_style", "bold_text", "bulleted_list", "change_font",
                   "change_font_size", "delete_comment", "delete_paragraph", "fill_table_cell")


def pinned_tasks(n: int, seed: int):
    import random

    from lamforge.envs.tasks import families

    fams, rng = families("office", available_only=False), random.Random(seed)
    return [fams[PINNED_FAMILIES[i % len(PINNED_FAMILIES)]].sample(rng) for i in range(n)]


def mean_action_logprob(model_dir, trajectories) -> float:
    """The model's mean log-probability of the labelled (action) tokens of ``trajectories``: what
    imitation raises, measured on the same rows before and after training (not a logged loss that
    one batch or one draw can flip)."""
    import torch

    from lamforge.envs import action_set_of
    from lamforge.training.ppo import action_logprobs
    from lamforge.training.rows import trajectory_row
    from lamforge.training.sft import load_for_training

    model, tokenizer = load_for_training(model_dir)
    model.eval()
    logps = []
    with torch.no_grad():
        for t in trajectories:
            row = trajectory_row(tokenizer, t, action_set_of("office"))
            ids, labels = row["input_ids"][:1024], row["labels"][:1024]
            logps += action_logprobs(model, ids, labels)
    assert logps, "no labelled tokens"
    return sum(logps) / len(logps)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_model_dir):
    run = tmp_path_factory.mktemp("run")
    write_plans(extract_plans(manual_dir("office")), run / "plans.jsonl")
    collect_trajectories(pinned_tasks(10, seed=4), run / "data", workers=1)
    return run


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LAMFORGE_HOME", str(tmp_path / "home"))


def recipe(tiny_model_dir, *extra):
    from lamforge.training.recipe import load_recipe

    return load_recipe("quick", FAST + ["phase1.max_length=512", *extra]) | {"base_model": str(tiny_model_dir)}


def test_phases_1_and_2_train_and_load_in_the_runtime(run_dir, tiny_model_dir):
    from lamforge.agents.react import ReactAgent, is_valid
    from lamforge.agents.runner import run_episode
    from lamforge.envs import make
    from lamforge.models import load_backend
    from lamforge.training.phases import read_store, run_phase

    rec = recipe(tiny_model_dir)
    s1 = run_phase(1, rec, run_dir, register_as="office/lam1", progress=False)
    s2 = run_phase(2, rec, run_dir, register_as="office/lam2", progress=False)
    assert s1["steps"] > 0 and s2["steps"] > 0
    assert s2["start"].endswith("lam1/model")
    # imitation learned the expert's actions: their log-probability rose by a clear margin (a random
    # model gives each token about -ln(vocabulary) = -10.8)
    demos = [t for t in read_store(run_dir / "data") if t.success][:8]
    before, after = mean_action_logprob(tiny_model_dir, demos), mean_action_logprob(run_dir / "lam2" / "model", demos)
    print(f"\nmean log-prob of the expert's action tokens: base {before:.2f}, LAM2 {after:.2f}")
    assert after > before + 2.0, (before, after)
    backend = load_backend("office/lam2")  # by its registered name
    env = make("office", max_steps=3)
    traj = run_episode(env, ReactAgent(backend, env.unwrapped.action_set, planning="off", max_action_tokens=8),
                       pinned_tasks(1, seed=9)[0])
    assert all(is_valid(s.action, s.observation, env.unwrapped.action_set) for s in traj.steps)
    again = run_phase(2, rec, run_dir, progress=False)
    assert again.get("skipped")  # a finished phase is not trained twice


def test_recipe_rejects_unknown_fields(tiny_model_dir, run_dir):
    from lamforge.training.phases import run_phase
    from lamforge.training.recipe import RecipeError

    with pytest.raises(RecipeError, match="no field"):
        run_phase(1, recipe(tiny_model_dir, "phase1.learning_rat=0.1"), run_dir / "other", progress=False)


def test_set_reads_exponents_as_numbers():
    """`--set phase3.learning_rate=2e-5` (YAML would keep it a string and the optimizer would crash)."""
    from lamforge.training.recipe import load_recipe

    rec = load_recipe("quick", ["phase3.learning_rate=2e-5", "phase2.num_train_epochs=3", "phase1.report_to=none"])
    assert rec["phase3"]["learning_rate"] == 2e-5
    assert rec["phase2"]["num_train_epochs"] == 3 and rec["phase1"]["report_to"] == "none"


def test_killed_phase_resumes_from_its_checkpoint(run_dir, tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "data").symlink_to(run_dir / "data")
    (run / "plans.jsonl").symlink_to(run_dir / "plans.jsonl")
    args = [sys.executable, "-m", "lamforge.cli", "train", "--phase", "1", "--run", str(run), "--base-model",
            str(tiny_model_dir), "--json", *[x for o in FAST for x in ("--set", o)],
            "--set", "phase1.save_steps=2", "--set", "phase1.num_train_epochs=6",
            "--set", "phase1.per_device_train_batch_size=2"]
    env = {**os.environ, "LAMFORGE_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 240
    while time.time() < deadline and not list((run / "lam1" / "checkpoints").glob("checkpoint-*")):
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # whether the kill landed mid-save or not, a half-written newest checkpoint must be ignored on resume
    torn = run / "lam1" / "checkpoints" / "checkpoint-99999"
    torn.mkdir()
    (torn / "model.safetensors").write_bytes(b"partial")
    ckpts = sorted((run / "lam1" / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    ckpts = [p for p in ckpts if (p / "trainer_state.json").is_file()]
    assert ckpts and not (run / "lam1" / "model").exists()
    resumed_from = int(ckpts[-1].name.split("-")[1])
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    from lamforge.training.sft import last_complete_checkpoint

    state = json.loads((last_complete_checkpoint(run / "lam1" / "checkpoints") / "trainer_state.json").read_text())
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["steps"] >= resumed_from and state["global_step"] >= resumed_from
    assert (run / "lam1" / "model" / "config.json").is_file()


PHASE34 = ["data.explore_tasks=3", "data.explore_fresh=0", "data.explore_attempts=2", "data.explore_max_steps=3", "data.explore_workers=1",
           "data.replay=4", "data.reward_trajectories=4", "data.ppo_trajectories=4", "data.kto_examples=8",
           "phase3.learning_rate=0.003", "phase3.warmup_steps=0", "phase3.freeze_layers=0", "phase3.logging_steps=1",
           "phase3.num_train_epochs=3", "phase4_reward.logging_steps=1", "phase4_reward.learning_rate=0.003",
           "phase4_reward.num_train_epochs=3", "phase4_reward.lora_layers=0", "phase4_ppo.logging_steps=1",
           "phase4_ppo.gradient_accumulation_steps=2", "phase4_ppo.learning_rate=0.001", "phase4_ppo.freeze_layers=0",
           "phase4_kto.logging_steps=1", "phase4_kto.freeze_layers=0", "phase4_kto.per_device_train_batch_size=2",
           "phase4_kto.max_length=1024"]


def _plant_successes(run, n):
    """Exploration successes the tiny random model cannot find by itself: reference solutions of
    fresh training tasks, stored as attempt 0 of those tasks, so phase 3 has something to learn."""
    from lamforge.training.explore import ATTEMPT_SEP, exploration_tasks

    tasks, _ = exploration_tasks(run, "office", n)
    planted = [t.model_copy(update={"id": f"{t.id}{ATTEMPT_SEP}0"}) for t in tasks[:2]]
    collect_trajectories(planted, run / "explore", workers=1)
    return tasks


def test_phases_3_and_4_explore_train_and_keep_kl_to_lam3(run_dir, tiny_model_dir):
    from lamforge.data.taskfile import read_tasks
    from lamforge.data.splits import assert_no_leak
    from lamforge.models import load_backend
    from lamforge.training.explore import attempts, new_successes
    from lamforge.training.phases import run_phase

    rec = recipe(tiny_model_dir, *PHASE34)
    for phase in (1, 2):
        run_phase(phase, rec, run_dir, register_as=f"office/lam{phase}", progress=False)
    tasks = _plant_successes(run_dir, 3)
    heldout = read_tasks(run_dir / "data" / "heldout_tasks.jsonl") if (run_dir / "data" / "heldout_tasks.jsonl").is_file() else []
    assert_no_leak(tasks, heldout)  # exploration never sees evaluation tasks
    s3 = run_phase(3, rec, run_dir, register_as="office/lam3", progress=False)
    assert s3["attempts"] == 6 and len(attempts(run_dir)) == 6  # planted attempts were not re-run
    assert s3["new_successes"] == len(new_successes(run_dir)) >= 2
    assert s3["start"].endswith("lam2/model"), s3
    # phase 3 learned its new successes: their actions are clearly more likely under LAM3 than LAM2
    found = new_successes(run_dir)
    before, after = (mean_action_logprob(run_dir / name / "model", found) for name in ("lam2", "lam3"))
    print(f"\nmean log-prob of the new successes' action tokens: LAM2 {before:.2f}, LAM3 {after:.2f}")
    assert after > before + 0.5, (before, after)
    s4 = run_phase(4, rec, run_dir, register_as="office/lam4", progress=False)
    rm, ppo, kto = s4["reward_model"], s4["ppo"], s4["kto"]
    assert rm["successes"] >= 2 and rm["failures"] >= 2, rm
    # the reward model was trained, saved and scores every step (whether it learns is asserted on a
    # repeated batch below: on this tiny random model and a handful of rows, one draw flips its loss)
    from lamforge.envs import action_set_of
    from lamforge.training.explore import failures
    from lamforge.training.reward import RewardModel

    scorer = RewardModel.load(run_dir / "lam4" / "reward_model", action_set_of("office"))
    for t in [*found, *failures(run_dir)]:
        scores = scorer.score(t)
        assert len(scores) == len(t.steps) and all(abs(x) < 100 for x in scores), scores
    del scorer
    assert ppo["steps"] > 0 and ppo["final_kl"] is not None and ppo["final_kl"] >= 0, ppo
    assert kto["steps"] > 0, kto
    for name in ("office/lam3", "office/lam4", "office/lam4-kto"):
        assert load_backend(name).model is not None  # saved and loadable by the runtime


def test_reward_model_fits_a_repeated_batch(tiny_model_dir, tmp_path):
    """The reward model's objective (MSE of the score at each action's end onto +1 / -1), with its LoRA
    and head, on four hand-made rows repeated for 30 epochs at a fixed seed: the error falls from
    about 1 to near 0 (measured 0.00-0.005 over seeds 0-5; the threshold leaves a wide margin)."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig, TaskType, get_peft_model

    from lamforge.training.reward import LORA_TARGETS, RewardConfig, StepRewardTrainer, _collate, _token_classifier

    torch.manual_seed(0)
    model, tokenizer = _token_classifier(tiny_model_dir)
    model = get_peft_model(model, LoraConfig(task_type=TaskType.TOKEN_CLS, r=8, lora_alpha=32,
                                             target_modules=LORA_TARGETS))
    rows = []
    for text, target in (("The screen shows a Bold button. click(control=12) FINISH", 1.0),
                         ("The screen shows a Bold button. select_text(text='zzz') FAIL", -1.0),
                         ("The dialog is open. set_text(control=7, text='Hi') FINISH", 1.0),
                         ("The dialog is open. click(control=99) FAIL", -1.0)):
        ids = tokenizer(text)["input_ids"]
        rows.append({"input_ids": ids, "positions": [len(ids) - 1], "targets": [target]})

    def error() -> float:
        model.eval()
        with torch.no_grad():
            out = [float((model(input_ids=torch.tensor([r["input_ids"]])).logits[0, r["positions"], 0]
                          - torch.tensor(r["targets"])).pow(2).mean()) for r in rows]
        model.train()
        return sum(out) / len(out)

    before = error()
    config = RewardConfig(output_dir=str(tmp_path), learning_rate=0.003, num_train_epochs=30, save_strategy="no",
                          warmup_steps=0, disable_tqdm=True, report_to="none", seed=0)
    StepRewardTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), data_collator=_collate).train()
    after = error()
    print(f"\nreward model MSE on the repeated batch: {before:.3f} -> {after:.4f}")
    assert before > 0.5 and after < 0.1, (before, after)


def test_ppo_loss_pushes_up_better_than_average_actions_and_kl_holds_it_back(tiny_model_dir):
    """The offline PPO objective on one hand-made row: with a positive advantage the action's
    log-probability rises; with beta large the policy stays at the reference."""
    import torch

    from lamforge.training.ppo import (
        OfflinePPOConfig,
        OfflinePPOTrainer,
        _collate,
        action_logprobs,
    )
    from lamforge.training.sft import load_for_training

    def train(advantage: float, beta: float, tmp):
        from datasets import Dataset

        model, tok = load_for_training(tiny_model_dir)
        ids = tok("The screen shows a Bold button. click(control=12) FINISH")["input_ids"]
        labels = [-100] * (len(ids) - 6) + ids[-6:]
        ref = action_logprobs(model, ids, labels)
        row = {"input_ids": ids, "labels": labels, "ref_logps": ref, "advantages": [advantage] * len(ref)}
        config = OfflinePPOConfig(output_dir=str(tmp), learning_rate=0.01, num_train_epochs=6, init_kl_coef=beta,
                                  kl_horizon=10**9, save_strategy="no", disable_tqdm=True, clip_range=10.0)
        trainer = OfflinePPOTrainer(model=model, args=config, train_dataset=Dataset.from_list([row]),
                                    data_collator=_collate)
        trainer.train()
        return sum(action_logprobs(model, ids, labels)) - sum(ref)

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        up = train(+1.0, 0.0, tmp)
        down = train(-1.0, 0.0, tmp)
        held = train(+1.0, 1000.0, tmp)
    assert up > 0.5 and down < -0.5
    assert abs(held) < up / 2
    del torch


def test_kto_head_on_labelled_positions_only_gives_the_same_log_probs(tiny_model_dir):
    """The CPU shortcut for KTO (score only completion positions) changes cost, not numbers."""
    import torch
    from trl.trainer.utils import add_fused_lm_head

    from lamforge.training.kto import labelled_positions_only
    from lamforge.training.sft import load_for_training

    model, tok = load_for_training(tiny_model_dir)
    add_fused_lm_head(model)
    ids = torch.tensor([tok("The screen shows a Bold button. click(control=12) FINISH")["input_ids"]] * 2)
    labels = ids.clone()
    labels[:, :-6] = -100
    labels[1, -2:] = -100  # rows with different numbers of labelled positions
    full = model(input_ids=ids, labels=labels, fused_lm_head=True).log_probs
    with labelled_positions_only():
        compact = model(input_ids=ids, labels=labels, fused_lm_head=True).log_probs
    assert torch.allclose(full, compact, atol=1e-5)
    assert (compact != 0).sum() == (labels[:, 1:] != -100).sum()


def test_kto_examples_take_both_sides_and_never_none_at_small_sizes(tiny_model_dir):
    """A --budget that scales data.kto_examples down to 1 once chose no example at all and TRL's
    KTOTrainer crashed on the empty dataset (session 11, service forge)."""
    import random as _random

    from transformers import AutoTokenizer

    from lamforge.agents.expert import ReferenceExpert
    from lamforge.agents.runner import run_episode
    from lamforge.envs import action_set_of, make
    from lamforge.envs.tasks import families
    from lamforge.training.kto import kto_examples

    env = make("office", max_steps=6)
    try:
        fam = families("office")["bold_text"]
        good = run_episode(env, ReferenceExpert(), fam.sample(_random.Random(1)))
        bad = good.model_copy(update={"outcome": good.outcome.model_copy(update={"success": False})})
    finally:
        env.close()
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    for n in (1, 2, 3, 4):
        chosen = kto_examples(tokenizer, [good, bad], action_set_of("office"), n)
        assert len(chosen) == min(n, 2 * len(good.steps))
        if n >= 2:
            assert {e["label"] for e in chosen} == {True, False}


def test_prefix_sharing_gives_the_same_loss_and_steps_aside_under_gradient_checkpointing(tiny_model_dir):
    """Two rows with a common prefix: the loss with the prefix run once equals the plain loss; with
    gradient checkpointing on (which drops the key/value cache that sharing needs, as TRL sets a
    GPU up) the trainer falls back to the plain pass instead of crashing (session 14 on an H200:
    AttributeError on the missing cache in phase 2)."""
    from types import SimpleNamespace

    import torch
    from transformers import AutoModelForCausalLM

    from lamforge.training.rows import IGNORE
    from lamforge.training.sft import LamSFTTrainer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    ids = torch.tensor([list(range(5, 25)) + [40, 41, 42, 43], list(range(5, 25)) + [50, 51, 52, 53]])
    labels = torch.full_like(ids, IGNORE)
    labels[:, 20:] = ids[:, 20:]
    inputs = {"input_ids": ids, "labels": labels, "attention_mask": torch.ones_like(ids)}

    def loss(share: bool) -> float:
        trainer = SimpleNamespace(args=SimpleNamespace(targets_only_head=True, share_prefix=share))
        return float(LamSFTTrainer.compute_loss(trainer, model, inputs))

    model.train()
    plain, shared = loss(False), loss(True)
    assert abs(plain - shared) < 1e-4
    model.gradient_checkpointing_enable()
    assert abs(loss(True) - plain) < 1e-4


def test_family_weights_by_steps_give_long_families_their_share():
    """data.family_weights=steps: each family's share is in proportion to its mean episode length,
    a family with too few trajectories passes its share on, and 'even' keeps the first n."""
    from lamforge.core.errors import LamforgeError
    from lamforge.core.schemas import Action, Observation, Step, Task, Trajectory
    from lamforge.training.phases import by_family_weight

    def traj(family: str, steps: int, i: int) -> Trajectory:
        obs = Observation(request="r", state="s", controls=[])
        return Trajectory(id=f"{family}-{i}", task=Task(id=f"{family}-{i}", env_id="e", request="r", family=family),
                          agent="expert", steps=[Step(index=k, observation=obs, action=Action(function="f"))
                                                 for k in range(steps)])

    pool = [traj("one", 1, i) for i in range(40)] + [traj("four", 4, i) for i in range(40)] + \
        [traj("rare", 4, i) for i in range(2)]
    chosen = by_family_weight(pool, 30, "steps")
    count = {f: sum(t.task.family == f for t in chosen) for f in ("one", "four", "rare")}
    assert len(chosen) == 30 and count["rare"] == 2 and count["four"] > 3 * count["one"] > 0, count
    assert by_family_weight(pool, 30, "even") == pool[:30]
    assert len(by_family_weight(pool, 500, "steps")) == len(pool)
    with pytest.raises(LamforgeError):
        by_family_weight(pool, 5, "uniform")

"""Lock-step evaluation: episodes decoded together in batches must play exactly as they do alone."""

from __future__ import annotations

import threading

import pytest
import torch


def _actions(traj) -> list[str]:
    return [repr((s.action.function, s.action.control_label, s.action.args, s.action.status)) for s in traj.steps]


def test_lockstep_episodes_play_as_they_do_alone(tiny_backend):
    """Each episode's actions, step by step, are those of the same agent decoding alone with its own
    prefix cache: the batch's padding, cache cropping and rows ending at different steps change
    nothing. More tasks than slots, so slots are reused across episodes."""
    from lamforge.agents.react import ReactAgent
    from lamforge.envs import action_set_of
    from lamforge.envs.tasks import sample_tasks
    from lamforge.evaluation.online import online_eval, online_eval_lockstep
    from lamforge.models.lockstep import Lockstep

    actions = action_set_of("office")
    tasks = sample_tasks("office", 5, seed=3)
    # a random model ends at once with FINISH: the tokens that start it (" " before the " FINISH"
    # status is forced, "F...") are pushed down, in both runs
    tok = tiny_backend.tokenizer
    f_tokens = [i for i in range(len(tok)) if tok.decode([i]).lstrip().startswith("F") or tok.decode([i]) == " "]
    hook = tiny_backend.model.lm_head.register_forward_hook(lambda m, args, out: out.index_fill(-1, torch.tensor(
        f_tokens), -1e4))
    try:
        alone = online_eval(lambda: ReactAgent(tiny_backend, actions, planning="off"), tasks, workers=1,
                            max_steps=4)
        lock = Lockstep(tiny_backend.model, tok, slots=3)
        agents = [ReactAgent(tiny_backend, actions, planning="off", decoder=lock.slot(i)) for i in range(3)]
        seen = []
        together = online_eval_lockstep(agents, lock, tasks, max_steps=4,
                                        progress=lambda k, n, t: seen.append(k))
    finally:
        hook.remove()
    assert [t.task.id for t in together] == [t.id for t in tasks]
    assert [_actions(t) for t in together] == [_actions(t) for t in alone]
    assert sum(len(t.steps) for t in together) > len(tasks)  # real multi-step episodes, not one action each
    assert sorted(seen) == list(range(1, len(tasks) + 1))
    assert lock.rows > lock.batches  # some decodes really were batched
    assert lock.rows == sum(len(t.steps) for t in together)


def test_free_text_rows_stop_like_the_decoder(tiny_backend):
    """A plan (no grammar) ends at the stop text as ``Decoder.generate`` ends it, beside a row that is
    still decoding an action."""
    from lamforge.models.decoding import Decoder
    from lamforge.models.lockstep import Lockstep

    tok = tiny_backend.tokenizer
    prompts = [tok.encode("Plan: open the file", add_special_tokens=False),
               tok.encode("Something else entirely, longer than the first prompt", add_special_tokens=False)]
    want = [Decoder(tiny_backend.model, tok, prefix_cache=False).generate(p, max_new_tokens=12, stop="e").text
            for p in prompts]
    lock = Lockstep(tiny_backend.model, tok, slots=2)
    got = [None, None]

    def run(i):
        lock.enter()
        try:
            got[i] = lock.slot(i).generate(prompts[i], max_new_tokens=12, stop="e").text
        finally:
            lock.leave()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == want


def test_a_failing_batch_reaches_every_waiting_episode(tiny_backend):
    """A decode that fails raises in every episode that waited on it; no thread hangs."""
    from lamforge.models.lockstep import Lockstep

    lock = Lockstep(tiny_backend.model, tiny_backend.tokenizer, slots=1)
    lock.enter()
    with pytest.raises(Exception):
        lock.slot(0).generate([1, 2, 3], grammar="root ::= this is not ebnf")
    lock.leave()
    with pytest.raises(ValueError, match="greedy"):
        lock.slot(0).generate([1, 2, 3], temperature=0.7)
